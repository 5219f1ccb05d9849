#!/usr/bin/env bash
# The interop suite's kcat client: JSON requests written by hand from docs/schema.md §2a,
# produced with `kcat -P`; the answers read with `kcat -C` (read_committed, as
# docs/clients.md shows it); kcat_check.py then checks each answer's numbers against
# mlp_ref's forward pass and its provenance headers against kcat's own read-back of the
# request (partition, offset).
#
#   kcat.sh PYTHON --brokers B --requests T --responses T --model M --version V --worker W
#           --weights FILE.safetensors --manifest-sha256 HEX
# The model takes 4 inputs (run.sh makes it so).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
py=$1
shift
args=("$@")
declare -A a
while (($#)); do a[${1#--}]=$2 && shift 2; done
work=$(mktemp -d "${TMPDIR:-/tmp}/kfleet-kcat.XXXXXX")
trap 'rm -rf "$work"' EXIT
run=kcat-$$-$(date +%s)
m=${a[model]}

# One request a line, "key<TAB>value" (kcat -K '\t'); the key is the request id.
# r3's data is base64 of the little-endian f32 bytes of 1.5 -2 0.25 4 / -0.5 0 3 -1, which
# makes its answer's data base64 too.
tab=$'\t'
cat >"$work/requests.txt" <<EOF
$run-1$tab{"v":1,"id":"$run-1","model":"$m","inputs":{"dtype":"f32","shape":[1,4],"data":[0.5,-1,2,0.25]}}
$run-2$tab{"v":1,"id":"$run-2","model":"$m","inputs":{"dtype":"f32","shape":[3,4],"data":[1,2,3,4,-1,-2,-3,-4,0.125,0,-0.75,1e-3]}}
$run-3$tab{"v":1,"id":"$run-3","model":"$m","inputs":{"dtype":"f32","shape":[2,4],"data":"AADAPwAAAMAAAIA+AACAQAAAAL8AAAAAAABAQAAAgL8="}}
$run-4$tab  {"v": 1, "id": "$run-4", "model": "$m-none", "inputs": {"dtype": "f32", "shape": [1, 4], "data": [1, 2, 3, 4]}}
EOF
kcat -P -b "${a[brokers]}" -t "${a[requests]}" -K "$tab" -l "$work/requests.txt" ||
    { echo "interop kcat: FAIL: kcat -P exit $?" >&2 && exit 1; }

# Read the answers until all four are there (kcat -e stops at the end of the topic).
for _ in $(seq 1 30); do
    kcat -C -b "${a[brokers]}" -t "${a[responses]}" -X isolation.level=read_committed \
        -o beginning -e -q -J >"$work/answers.jsonl"
    (($(grep -c "\"key\":\"$run-" "$work/answers.jsonl" || true) >= 4)) && break
    sleep 1
done
# where each request landed, as kcat reads it back
kcat -C -b "${a[brokers]}" -t "${a[requests]}" -o beginning -e -q -J >"$work/requests.jsonl"
"$py" "$here/kcat_check.py" "${args[@]}" --sent "$work/requests.txt" \
    --sent-at "$work/requests.jsonl" --answers "$work/answers.jsonl"
