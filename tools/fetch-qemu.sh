#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Find or fetch the QEMU base tree and point build/base at it.
#
#   QEMU_SRC=/path   use an existing QEMU tree of the QEMU_BASE series
#                    (never modified);
#   otherwise        Debian's qemu source package, exactly the version
#                    recorded in QEMU_BASE, from whichever deb-src suite
#                    lists it (sid for 10.2), unpacked with Debian's patch
#                    series into $VP_CACHE/src.
#
# The base must be in the series of QEMU_BASE. A newer point release is built
# with a warning (printed once per version); any other series stops the build.

set -euo pipefail
VP_TOOL=fetch-qemu
. "$(dirname "$0")/lib.sh"

base_deb=$(vp_base_debian_version)
base_up=$(vp_upstream_of "$base_deb")
series=$(vp_series_of "$base_up")
mkdir -p "$VP_BUILD"

# check_tree DIR WHAT: DIR must be a QEMU tree of our series.
check_tree()
{
    local dir=$1 what=$2 ver
    [ -f "$dir/VERSION" ] && [ -f "$dir/hw/riscv/virt.c" ] &&
        [ -x "$dir/configure" ] ||
        vp_die "$what ($dir) is not a QEMU source tree" \
            "(no VERSION, configure or hw/riscv/virt.c)"
    ver=$(tr -d '[:space:]' < "$dir/VERSION")
    if [ "$(vp_series_of "$ver")" != "$series" ]; then
        vp_die "$what ($dir) is QEMU $ver; virt-pcie is built on the" \
            "$series series (QEMU_BASE: $base_up)"
    fi
    if [ "$ver" != "$base_up" ]; then
        local stamp=$VP_BUILD/.warned-base-$ver
        if [ ! -e "$stamp" ]; then
            if vp_version_gt "$ver" "$base_up"; then
                vp_warn "$what is QEMU $ver, newer than the recorded base" \
                    "$base_up; building anyway"
            else
                vp_warn "$what is QEMU $ver, older than the recorded base" \
                    "$base_up; building anyway"
            fi
            touch "$stamp"
        fi
    fi
}

link_base()
{
    ln -sfn "$1" "$VP_BUILD/base.new"
    mv -T "$VP_BUILD/base.new" "$VP_BUILD/base"
}

if [ -n "${QEMU_SRC:-}" ]; then
    [ -d "$QEMU_SRC" ] || vp_die "QEMU_SRC=$QEMU_SRC: no such directory"
    src=$(cd "$QEMU_SRC" && pwd)
    check_tree "$src" "QEMU_SRC"
    link_base "$src"
    vp_say "base: $src (QEMU_SRC)"
    exit 0
fi

# A tree unpacked by an earlier run: $VP_CACHE/src/<debian version>/tree.
tree_of()
{
    echo "$VP_CACHE/src/${1#*:}/tree"
}

if [ -f "$(tree_of "$base_deb")/VERSION" ]; then
    link_base "$(tree_of "$base_deb")"
    exit 0
fi

fetch_one()
{
    local dest
    dest=$(dirname "$(tree_of "$1")")
    vp_say "fetching qemu $1 (Debian $2) into $dest"
    vp_src_fetch qemu "$1" "$dest" && [ -f "$dest/tree/VERSION" ]
}

# Exactly the version of QEMU_BASE, from whichever suite lists it.
suites=$(vp_src_suites qemu "$base_deb")
if [ -z "$suites" ]; then
    have=$(ls "$VP_CACHE/src" 2>/dev/null | tr '\n' ' ')
    vp_die "no apt source index lists qemu $base_deb (QEMU_BASE)." \
        "Run tools/apt-sources.sh as root (it adds the deb-src entries of" \
        "trixie and sid), and check that the Debian archive still serves it." \
        "Cached bases: ${have:-none}"
fi
if fetch_one "$base_deb" "$suites"; then
    check_tree "$(tree_of "$base_deb")" "Debian qemu $base_deb"
    link_base "$(tree_of "$base_deb")"
    exit 0
fi
vp_die "could not fetch qemu $base_deb from the Debian archive (listed by:" \
    "$suites; tried apt-get source, then the files one by one against" \
    "their sha256): see the messages above"
