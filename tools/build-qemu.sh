#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# build-qemu.sh SRCDIR BUILDDIR [CONFIGURE-OPTION...]: configure (when
# needed) and build qemu-system-riscv64 with the feature set virt-pcie uses,
# plus the options given (e.g. --enable-asan --enable-ubsan). The
# configuration is recorded in BUILDDIR/.vp-config; a change of it starts a
# fresh build dir. VP_NINJA_TARGET names another binary to build (the fuzz
# build's qemu-fuzz-riscv64).

set -euo pipefail
VP_TOOL=build-qemu
. "$(dirname "$0")/lib.sh"

src=$(cd "$1" && pwd)
mkdir -p "$2"
bld=$(cd "$2" && pwd)
shift 2

# Paths below the checkout are given relative to it, so that ccache
# (CCACHE_BASEDIR is the checkout) hits in a fresh clone too.
conf=(
    --python=/usr/bin/python3
    "--cc=ccache cc"
    "--cxx=ccache c++"
    --target-list=riscv64-softmmu
    --without-default-features
    --enable-tcg
    --enable-fdt=system
    --enable-slirp
    --enable-pixman
    --enable-vnc
    --disable-docs
    --disable-install-blobs
    "$@"
)
want="src=$(readlink -f "$src") ${conf[*]}"

if [ ! -f "$bld/build.ninja" ] ||
   [ "$(cat "$bld/.vp-config" 2>/dev/null)" != "$want" ]; then
    vp_say "configuring $bld"
    rm -rf "$bld"
    mkdir -p "$bld"
    if ! (cd "$bld" && "$src/configure" "${conf[@]}" > configure.log 2>&1); then
        tail -n 20 "$bld/configure.log" >&2
        rm -f "$bld/build.ninja"
        vp_die "configure failed in $bld (full log: $bld/configure.log)"
    fi
    echo "$want" > "$bld/.vp-config"
fi

target=${VP_NINJA_TARGET:-qemu-system-riscv64}
vp_say "building $bld/$target"
if ! ninja -C "$bld" "$target" > "$bld/ninja.log" 2>&1; then
    # (|| true: head closing the pipe early must not hide the message)
    grep -E 'error:|FAILED:' "$bld/ninja.log" | head -n 30 >&2 || true
    vp_die "build failed in $bld (full log: $bld/ninja.log)"
fi
grep -E 'warning:' "$bld/ninja.log" >&2 || true
