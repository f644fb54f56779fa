#!/usr/bin/env bash
# Builds native/bpf/kcap.bpf.o, the BPF object that ships in the package (the recording host needs
# no clang). The command line is pinned (clang-14, no debug info, fixed paths) so the output is the
# same byte for byte on every machine with Debian's clang-14 and kernel UAPI headers.
#
#   scripts/build-bpf.sh          rebuild native/bpf/kcap.bpf.o
#   scripts/build-bpf.sh --check  rebuild into a temp dir and fail if it differs from the committed one
#   scripts/build-bpf.sh --source SRC OUT
#                                 build another program source against kcap's headers, with the same
#                                 command line (bench/lib/floor-object.ts builds its floor object so)
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG=${CLANG:-clang-14}
STRIP=${STRIP:-llvm-strip-14}
ARCH_INC=/usr/include/$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)

build() {
  local src=$1 out=$2
  # Relative paths, no debug info and no ident string keep the machine out of the object.
  "$CLANG" -target bpf -O2 -Wall -Werror -fno-ident -I"$ARCH_INC" -Inative/bpf \
    -c "$src" -o "$out"
  "$STRIP" --strip-debug "$out"
}

if [ "${1:-}" = "--check" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  build native/bpf/kcap.bpf.c "$tmp/kcap.bpf.o"
  if ! cmp -s "$tmp/kcap.bpf.o" native/bpf/kcap.bpf.o; then
    echo "native/bpf/kcap.bpf.o does not match its source: run scripts/build-bpf.sh and commit the result" >&2
    exit 1
  fi
  echo "native/bpf/kcap.bpf.o matches its source"
elif [ "${1:-}" = "--source" ]; then
  build "$2" "$3"
else
  build native/bpf/kcap.bpf.c native/bpf/kcap.bpf.o
  echo "built native/bpf/kcap.bpf.o ($(wc -c < native/bpf/kcap.bpf.o) bytes)"
fi
