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

# The suites whose source index lists qemu version $1, e.g. "sid".
suites_listing()
{
    vp_apt_memo apt-cache madison qemu |
        awk -F'|' -v v="$1" '
            { ver = $2; gsub(/[[:space:]]/, "", ver) }
            ver == v && $3 ~ /Sources[[:space:]]*$/ {
                n = split($3, w, " "); split(w[n - 1], s, "/"); print s[1]
            }' | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# unpack_by_hand DEBVER SUITE DIR: fetch the files one by one with apt's own
# helper, check their sha256 against the index, and unpack like dpkg-source.
unpack_by_hand()
{
    local ver=$1 suite=$2 dir=$3 uri name size hash orig debtar
    apt-get source --print-uris -q "qemu=$ver" 2>/dev/null | grep "^'" |
    while read -r uri name size hash; do
        uri=${uri//\'/}
        case "$name" in *.dsc) continue ;; esac
        /usr/lib/apt/apt-helper download-file "$uri" "$dir/$name" "$hash" \
            >/dev/null ||
            { echo "cannot download $name" >&2; return 1; }
    done || return 1
    orig=$(ls "$dir"/qemu_*.orig.tar.* 2>/dev/null | head -n 1)
    debtar=$(ls "$dir"/qemu_*.debian.tar.* 2>/dev/null | head -n 1)
    [ -n "$orig" ] && [ -n "$debtar" ] || return 1
    mkdir -p "$dir/unpack"
    tar -C "$dir/unpack" -xf "$orig"
    local top
    top=$(ls -d "$dir"/unpack/*/ | head -n 1)
    tar -C "$top" -xf "$debtar"
    local p
    while read -r p _; do
        case "$p" in ''|'#'*) continue ;; esac
        patch -d "$top" -p1 -s -f < "$top/debian/patches/$p" >/dev/null ||
            { echo "Debian patch $p does not apply" >&2; return 1; }
    done < "$top/debian/patches/series"
    mv "$top" "$dir/qemu-unpacked"
}

fetch_one()
{
    local ver=$1 suite=$2 dest work
    dest=$(dirname "$(tree_of "$ver")")
    work=$dest.tmp
    rm -rf "$work"
    mkdir -p "$work"
    vp_say "fetching qemu $ver (Debian $suite) into $dest"
    if (cd "$work" && apt-get source -q "qemu=$ver" > apt-source.log 2>&1); then
        :
    else
        vp_warn "apt-get source qemu=$ver ($suite) failed;" \
            "fetching its files one by one"
        sed 's/^/    /' "$work/apt-source.log" | tail -n 5 >&2
        rm -rf "$work"
        mkdir -p "$work"
        unpack_by_hand "$ver" "$suite" "$work" || { rm -rf "$work"; return 1; }
    fi
    local top
    top=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'qemu-*' |
          head -n 1)
    [ -n "$top" ] && [ -f "$top/VERSION" ] || { rm -rf "$work"; return 1; }
    mv "$top" "$work/tree"
    rm -rf "$dest"
    mv "$work" "$dest"
}

# Exactly the version of QEMU_BASE, from whichever suite lists it.
suites=$(suites_listing "$base_deb")
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
