#!/usr/bin/env bash
# Install cuBLAS (headers + libcublas/libcublasLt) into a CUDA toolkit that lacks it.
#
# usage: ops/install-cublas.sh [CACHE_DIR] [CUDA_PATH]
#   CACHE_DIR  where the wheel is kept between runs (default: .deps/ in the repository)
#   CUDA_PATH  the toolkit root (default: $CUDA_PATH, else /usr/local/cuda)
#
# The CUDA toolkit on CI and on our build machines comes from NVIDIA's pip wheels (nvcc, cudart)
# and has no cuBLAS. NVIDIA ships cuBLAS as the wheel nvidia-cublas; we pin one version and its
# SHA-256, and copy its headers into CUDA_PATH/include and its libraries into CUDA_PATH/lib64 with
# the unversioned .so links that the linker looks for.
#
# Sources, in order: the toolkit already has cuBLAS (nothing to do); an nvidia-cublas already
# installed in a Python environment (the GPU machine, which cannot download: we link to it); the
# pinned wheel in CACHE_DIR; the pinned wheel downloaded with pip into CACHE_DIR.
#
# Idempotent: a second run finds cuBLAS and exits 0. Needs write access to CUDA_PATH (root on CI).
set -euo pipefail

# The only nvidia-cublas 13.x on PyPI when this was written; it works with the 13.0 runtime
# (CUDA minor-version compatibility). Change both lines together.
CUBLAS_VERSION=13.1.1.3
CUBLAS_WHEEL_SHA256=37936a16db8fe4ac1f065c2139360608a543a09275cb1a1af612e08cfa065436
CUBLAS_WHEEL=nvidia_cublas-${CUBLAS_VERSION}-py3-none-manylinux_2_27_x86_64.whl

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${1:-$here/.deps}
cuda=${2:-${CUDA_PATH:-/usr/local/cuda}}
# The toolkit may keep its libraries in lib64, lib or a link between the two.
libdir=$cuda/lib64
[ -d "$libdir" ] || libdir=$cuda/lib

say() { echo "install-cublas: $*" >&2; }
die() {
    say "error: $*"
    exit 1
}

have_cublas() {
    [ -f "$cuda/include/cublas_v2.h" ] && [ -f "$cuda/include/cublasLt.h" ] &&
        [ -e "$libdir/libcublas.so" ] && [ -e "$libdir/libcublasLt.so" ]
}

[ -d "$cuda" ] || die "no CUDA toolkit at $cuda (set CUDA_PATH or pass it as the second argument)"
if have_cublas; then
    say "cuBLAS already present in $cuda"
    exit 0
fi
[ -d "$libdir" ] || die "no lib64/ or lib/ in $cuda"

# Put SRC/include/cublas*.h and SRC/lib/libcublas{,Lt}.so.* into the toolkit; MODE is cp or ln.
install_from() {
    local src=$1 mode=$2 f base
    for f in "$src"/include/cublas*.h; do
        [ -e "$f" ] || die "no cuBLAS headers in $src/include"
        if [ "$mode" = ln ]; then ln -sfn "$f" "$cuda/include/"; else install -m 0644 "$f" "$cuda/include/"; fi
    done
    for f in "$src"/lib/libcublas.so.* "$src"/lib/libcublasLt.so.*; do
        [ -e "$f" ] || die "no cuBLAS libraries in $src/lib"
        base=$(basename "$f")
        if [ "$mode" = ln ]; then ln -sfn "$f" "$libdir/$base"; else install -m 0755 "$f" "$libdir/$base"; fi
    done
    # libcublas.so.13 -> libcublas.so, the name -lcublas looks for.
    for base in libcublas libcublasLt; do
        f=$(cd "$libdir" && ls -1 "$base".so.[0-9]* 2>/dev/null | sort -V | head -n1)
        [ -n "$f" ] || die "$base.so.* did not land in $libdir"
        ln -sfn "$f" "$libdir/$base.so"
    done
}

# 1. An nvidia-cublas already installed for some Python (e.g. beside PyTorch): link to it.
for py in python3 /opt/torch/.venv/bin/python3; do
    command -v "$py" >/dev/null 2>&1 || continue
    site=$("$py" - <<'EOF' 2>/dev/null || true
import os, sys
for p in sys.path:
    d = os.path.join(p, "nvidia", "cu13")
    if os.path.isfile(os.path.join(d, "include", "cublas_v2.h")) and os.path.isdir(os.path.join(d, "lib")):
        print(d)
        break
EOF
)
    if [ -n "$site" ]; then
        say "linking the cuBLAS installed at $site into $cuda"
        install_from "$site" ln
        have_cublas || die "cuBLAS still incomplete in $cuda after linking from $site"
        exit 0
    fi
done

# 2. The pinned wheel, from the cache or from the package index.
mkdir -p "$cache"
wheel=$cache/$CUBLAS_WHEEL
check_sha() { echo "$CUBLAS_WHEEL_SHA256  $1" | sha256sum --check --status; }
if [ -f "$wheel" ] && ! check_sha "$wheel"; then
    say "removing $wheel: wrong SHA-256"
    rm -f "$wheel"
fi
if [ ! -f "$wheel" ]; then
    say "downloading nvidia-cublas==$CUBLAS_VERSION (about 420 MB) into $cache"
    python3 -m pip download --quiet --no-deps --only-binary=:all: \
        --platform manylinux_2_27_x86_64 --dest "$cache" "nvidia-cublas==$CUBLAS_VERSION" ||
        die "pip download nvidia-cublas==$CUBLAS_VERSION failed"
    [ -f "$wheel" ] || die "pip did not produce $wheel"
    check_sha "$wheel" || die "$wheel: SHA-256 mismatch (expected $CUBLAS_WHEEL_SHA256)"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
say "extracting $CUBLAS_WHEEL"
python3 - "$wheel" "$tmp" <<'EOF'
import sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for n in z.namelist():
        base = n.rsplit("/", 1)[-1]
        if n.startswith("nvidia/cu13/include/cublas") or base.startswith(("libcublas.so", "libcublasLt.so")):
            z.extract(n, dest)
EOF
install_from "$tmp/nvidia/cu13" cp
have_cublas || die "cuBLAS still incomplete in $cuda"
say "installed cuBLAS $CUBLAS_VERSION into $cuda"
