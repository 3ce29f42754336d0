#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# prepare-tree.sh OUT: make OUT the fork's source tree, i.e. the base tree
# (build/base) plus our patch queue (patches/series, in order) plus our
# overlay (the new files at their QEMU paths).  The same for another
# upstream tree (EDK2, see build-edk2.sh) with VP_BASE (the base tree),
# VP_BASE_MARK (a file every such tree has), VP_PATCHES (the queue),
# VP_TREE_OVERLAY (the overlay's top), VP_TREE_OVERLAY_DIRS (its dirs).
#
# The tree is assembled in OUT.stage and synchronised into OUT by content,
# so files that did not change keep their timestamps and ninja rebuilds only
# what an edit touched. A patch that does not apply stops here, naming the
# patch and the file, and OUT is left as it was.

set -euo pipefail
VP_TOOL=prepare-tree
. "$(dirname "$0")/lib.sh"

[ $# -eq 1 ] ||
    vp_die "usage: $0 OUT (the fork's source tree, e.g. build/fork-src)"
out=$1
stage=$out.stage
base=${VP_BASE:-$VP_BUILD/base}
mark=${VP_BASE_MARK:-VERSION}
[ -f "$base/$mark" ] ||
    vp_die "no base tree at $base; run tools/fetch-qemu.sh first"

# The overlay: every tracked or new file below these QEMU directories.
overlay_top=${VP_TREE_OVERLAY:-$VP_TOP}
overlay_dirs=${VP_TREE_OVERLAY_DIRS:-$VP_OVERLAY_DIRS}
patchdir=${VP_PATCHES:-$VP_TOP/patches}
series=$patchdir/series

# Everything the tree is made of: the base (its path and version), this
# script, the series with its patches and the overlay files. When none of
# it changed since OUT was made, OUT is up to date. (The key is kept next
# to OUT, not in it: OUT is exactly the patched tree.)
inputs()
{
    echo "base $(readlink -f "$base") $(cat "$base/VERSION" 2>/dev/null)"
    sha256sum "$VP_TOP/tools/prepare-tree.sh"
    (cd "$overlay_top" &&
     find $overlay_dirs -type f -print0 2>/dev/null |
         sort -z | xargs -0 sha256sum)
    if [ -f "$series" ]; then
        sha256sum "$series"
        while read -r p _; do
            case "$p" in ''|'#'*) continue ;; esac
            sha256sum "$patchdir/$p" 2>/dev/null || echo "missing $p"
        done < "$series"
    fi
}
key=$(inputs | sha256sum | cut -d' ' -f1)
stamp=$out.inputs
if [ -d "$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$key" ]; then
    exit 0
fi

mkdir -p "$stage"
rsync -a --delete "$base/" "$stage/"

if [ -f "$series" ]; then
    while read -r p _; do
        case "$p" in ''|'#'*) continue ;; esac
        pf=$patchdir/$p
        [ -f "$pf" ] || vp_die "$series names $p, but $pf does not exist"
        if ! log=$(patch -d "$stage" -p1 -N -f --dry-run < "$pf" 2>&1); then
            file=$(awk '
                /^(patching|checking) file /{f=$3}
                /FAILED|can.t find file|Reversed|malformed/{print f; exit}
                ' <<<"$log")
            echo "$log" | grep -E 'FAILED|can.t find|Reversed|malformed' |
                head -n 5 >&2
            vp_die "patch $pf does not apply to ${file:-the base tree}" \
                "(base: $(readlink -f "$base"))"
        fi
        patch -d "$stage" -p1 -N -f -s --no-backup-if-mismatch < "$pf" \
            > /dev/null
    done < "$series"
fi

for d in $overlay_dirs; do
    [ -d "$overlay_top/$d" ] && rsync -a "$overlay_top/$d/" "$stage/$d/"
done

mkdir -p "$out"
# No -t: a file whose content did not change keeps its old timestamp.
rsync -rlp --checksum --delete "$stage/" "$out/"
echo "$key" > "$stamp"
