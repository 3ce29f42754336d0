#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# pq.sh: edit the patch queue (patches/series) as git commits.
#
#   pq.sh import [DIR]  make DIR (default build/pq) a git repository: the
#                       base tree (tag pq-base), one commit per patch of
#                       patches/series, then one commit with the overlay
#                       (our new files); branch pq.
#   pq.sh export [DIR]  write the commits between pq-base and the overlay
#                       commit back to patches/ (git format-patch), and copy
#                       overlay files changed in DIR back to the checkout.
#   pq.sh check         import and export into temporary directories; fail
#                       with a diff unless the result is patches/ exactly.
#
# The base is build/base (or $VP_BASE), the queue $VP_PATCHES (default
# patches/). Git runs without user configuration and with a fixed committer,
# so an import, and an export of it, are reproducible.

set -euo pipefail
VP_TOOL=pq
. "$(dirname "$0")/lib.sh"

base=${VP_BASE:-$VP_BUILD/base}
patchdir=${VP_PATCHES:-$VP_TOP/patches}
tmp=$(mktemp -d)
staging=
trap 'rm -rf "$tmp" ${staging:+"$staging"}' EXIT

usage()
{
    vp_die "usage: $0 import [DIR] | export [DIR] | check (DIR: default build/pq)"
}

# The patch files named by the series, in order.
series_patches()
{
    local p _
    [ -f "$patchdir/series" ] || return 0
    while read -r p _; do
        case "$p" in ''|'#'*) continue ;; esac
        [ -f "$patchdir/$p" ] ||
            vp_die "$patchdir/series names $p, but $patchdir/$p does not exist"
        echo "$p"
    done < "$patchdir/series"
}

# The base's directory name; for a tree in the cache (src/VERSION/tree), the
# Debian version.
base_name()
{
    local b
    b=$(readlink -f "$base")
    [ "$(basename "$b")" != tree ] || b=$(dirname "$b")
    basename "$b"
}

# refuse_dirty DIR: stop if DIR is a repository with work not committed.
refuse_dirty()
{
    local g
    [ -e "$1/.git" ] || return 0
    g=$(git -C "$1" rev-parse --absolute-git-dir)
    [ ! -d "$g/rebase-merge" ] && [ ! -d "$g/rebase-apply" ] ||
        vp_die "$1: a rebase or git am is in progress; finish or abort it first"
    [ -z "$(git -C "$1" status --porcelain)" ] ||
        vp_die "$1 has uncommitted changes; commit or discard them first (nothing was changed)"
}

# apply_patch REPO PATCH: git am one patch of the queue, keeping its author,
# date and message. A patch with no Date: header gets the fixed date.
apply_patch()
{
    local mail=$tmp/mail log file
    awk -v d="$VP_PQ_DATE" '
        !body && /^Date:/ { dated = 1 }
        !body && /^$/ { if (!dated) print "Date: " d; body = 1 }
        { print }' "$patchdir/$2" > "$mail"
    if ! log=$(vp_git -C "$1" am --whitespace=nowarn "$mail" 2>&1); then
        file=$(sed -nE 's/^error: patch failed: (.*):[0-9]+$/\1/p
                        s/^error: ([^:]+): (does not exist|already exists|patch does not apply).*/\1/p' \
            <<<"$log" | head -n 1)
        grep '^error:' <<<"$log" | head -n 5 >&2
        vp_die "patch $patchdir/$2 does not apply to ${file:-the tree} (base: $(readlink -f "$base"))"
    fi
}

do_import()
{
    local dir=$1 p list
    [ -f "$base/VERSION" ] || vp_die "no base tree at $base; run tools/fetch-qemu.sh first"
    refuse_dirty "$dir"
    if [ -e "$dir" ] && [ ! -e "$dir/.git" ] && [ -n "$(ls -A "$dir")" ]; then
        vp_die "$dir exists and is not a git repository; not overwriting it"
    fi
    # Built next to DIR and moved over it at the end: a failure leaves DIR.
    new=$dir.import
    staging=$new
    rm -rf "$new"
    mkdir -p "$new"

    rsync -a "$base/" "$new/"
    vp_git -C "$new" init -q -b pq
    vp_git -C "$new" add -A -f
    GIT_AUTHOR_NAME="virt-pcie pq" GIT_AUTHOR_EMAIL=pq@virt-pcie.invalid \
    GIT_AUTHOR_DATE="$VP_PQ_DATE" vp_git -C "$new" commit -q \
        -m "base: QEMU $(cat "$base/VERSION") ($(base_name))"
    vp_git -C "$new" tag pq-base

    list=$(series_patches)
    for p in $list; do
        apply_patch "$new" "$p"
    done

    for p in $VP_OVERLAY_DIRS; do
        [ -d "$VP_TOP/$p" ] && rsync -a "$VP_TOP/$p/" "$new/$p/"
    done
    vp_git -C "$new" add -A -f
    GIT_AUTHOR_NAME="virt-pcie pq" GIT_AUTHOR_EMAIL=pq@virt-pcie.invalid \
    GIT_AUTHOR_DATE="$VP_PQ_DATE" vp_git -C "$new" commit -q --allow-empty \
        -m "$VP_PQ_OVERLAY_SUBJECT" \
        -m "The files below $VP_OVERLAY_DIRS of the checkout. tools/pq.sh export
copies the changes made to them here back to the checkout."
    # pq-synced: the overlay as the checkout last saw it.
    vp_git -C "$new" tag pq-synced

    rm -rf "$dir"
    mv "$new" "$dir"
    vp_say "$dir: $(wc -w <<<"$list") patches on $(readlink -f "$base"), branch pq"
}

# export_patches DIR OUT: the patches of DIR into OUT/*.patch and OUT/series
# (a new directory).
export_patches()
{
    local dir=$1 out=$2 overlay files p
    overlay=$(vp_pq_overlay "$dir")
    vp_pq_lint "$dir" "pq-base..$overlay^"
    mkdir -p "$out"
    files=$(vp_git -C "$dir" format-patch --zero-commit --no-signature \
        --full-index --no-numbered --no-renames --stat=72 -o "$out" \
        "pq-base..$overlay^")
    for p in $files; do
        basename "$p"
    done > "$out/series"
}

# export_overlay DIR: copy the overlay files changed in DIR since pq-synced
# back to the checkout. A file changed both here and there stops the export.
export_overlay()
{
    local dir=$1 overlay new old path was now here changed=() conflict=()
    overlay=$(vp_pq_overlay "$dir")
    # After the overlay commit, only new files may change.
    while read -r st path; do
        [ "$st" = A ] ||
            vp_die "$path is in the base or changed by a patch, yet changed in or after \"$VP_PQ_OVERLAY_SUBJECT\"; move that change into a patch commit (git rebase -i pq-base)"
        case " $VP_OVERLAY_DIRS " in
            *" ${path%%/*} "*) ;;
            *) vp_die "$path is not below $VP_OVERLAY_DIRS, so it cannot be an overlay file" ;;
        esac
    done < <(vp_git -C "$dir" diff --no-renames --name-status "$overlay^" HEAD)

    new=$(vp_git -C "$dir" diff --no-renames --name-only --diff-filter=A "$overlay^" HEAD)
    old=$(vp_git -C "$dir" ls-tree -r --name-only pq-synced -- $VP_OVERLAY_DIRS)
    for path in $(printf '%s\n' "$new" $(vp_git -C "$dir" diff --name-only pq-synced HEAD -- $VP_OVERLAY_DIRS) | sort -u); do
        # Upstream files changed by a patch are not the overlay's business.
        if ! grep -qxF "$path" <<<"$new"; then
            grep -qxF "$path" <<<"$old" || continue
            vp_git -C "$dir" cat-file -e "$overlay^:$path" 2>/dev/null && continue
        fi
        was=$(vp_git -C "$dir" rev-parse -q --verify "pq-synced:$path" || true)
        now=$(vp_git -C "$dir" rev-parse -q --verify "HEAD:$path" || true)
        [ "$was" != "$now" ] || continue
        here=
        [ -f "$VP_TOP/$path" ] && here=$(vp_git -C "$dir" hash-object "$VP_TOP/$path")
        [ "$here" != "$now" ] || continue
        if [ "$here" != "$was" ]; then
            conflict+=("$path")
        else
            changed+=("$path")
        fi
    done
    [ ${#conflict[@]} -eq 0 ] ||
        vp_die "changed both in $dir and in the checkout since the import: ${conflict[*]}"
    for path in "${changed[@]}"; do
        if vp_git -C "$dir" cat-file -e "HEAD:$path" 2>/dev/null; then
            mkdir -p "$(dirname "$VP_TOP/$path")"
            vp_git -C "$dir" show "HEAD:$path" > "$VP_TOP/$path"
            if [ "$(vp_git -C "$dir" ls-tree HEAD -- "$path" | cut -c1-6)" = 100755 ]; then
                chmod +x "$VP_TOP/$path"
            else
                chmod -x "$VP_TOP/$path"
            fi
            vp_say "overlay: wrote $path"
        else
            rm -f "$VP_TOP/$path"
            vp_say "overlay: removed $path"
        fi
    done
    vp_git -C "$dir" tag -f pq-synced HEAD > /dev/null
}

do_export()
{
    local dir=$1
    [ -e "$dir/.git" ] && git -C "$dir" rev-parse -q --verify pq-base > /dev/null ||
        vp_die "$dir is not a queue made by tools/pq.sh import"
    refuse_dirty "$dir"
    export_patches "$dir" "$tmp/patches"
    export_overlay "$dir"
    rm -f "$patchdir"/*.patch
    mv "$tmp/patches"/* "$patchdir/"
    vp_say "wrote $(wc -l < "$patchdir/series") patches to $patchdir"
}

do_check()
{
    head -n 1 -q "$patchdir"/*.patch 2>/dev/null |
        grep -qvxF "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001" &&
        vp_die "$patchdir was never exported by tools/pq.sh; convert it once with: tools/pq.sh import && tools/pq.sh export"
    do_import "$tmp/pq" > /dev/null
    export_patches "$tmp/pq" "$tmp/patches"
    mkdir -p "$tmp/orig"
    find "$patchdir" -maxdepth 1 \( -name '*.patch' -o -name series \) -exec cp -t "$tmp/orig/" {} +
    diff -ru "$tmp/orig" "$tmp/patches" >&2 ||
        vp_die "the import/export round trip changes $patchdir (diff above); run tools/pq.sh import && tools/pq.sh export"
    vp_say "round trip clean: $(wc -l < "$patchdir/series") patches"
}

[ $# -ge 1 ] || usage
case "$1" in
    import) [ $# -le 2 ] || usage; do_import "${2:-$VP_BUILD/pq}" ;;
    export) [ $# -le 2 ] || usage; do_export "${2:-$VP_BUILD/pq}" ;;
    check) [ $# -eq 1 ] || usage; do_check ;;
    *) usage ;;
esac
