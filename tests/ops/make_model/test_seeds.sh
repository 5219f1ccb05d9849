#!/usr/bin/env bash
# kfleet-make-model: consecutive seeds give different weights (the quickstart
# publishes seeds t and t+1 as v1 and v2), and one seed always the same file.
set -euo pipefail
bin=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for seed in 0 1 2 3 4 5 6 7 1000 1001; do
    "$bin" --input 8 --layers 4 --seed "$seed" -o "$dir/m$seed.safetensors" >/dev/null
done
"$bin" --input 8 --layers 4 --seed 2 -o "$dir/again.safetensors" >/dev/null
cmp -s "$dir/m2.safetensors" "$dir/again.safetensors" || { echo "seed 2 is not reproducible"; exit 1; }
dups=$(sha256sum "$dir"/m*.safetensors | awk '{print $1}' | sort | uniq -d | wc -l)
if [[ $dups -ne 0 ]]; then
    echo "some seeds wrote identical weights:"
    sha256sum "$dir"/m*.safetensors | sort
    exit 1
fi
echo "10 seeds, 10 different files; a seed is reproducible"
