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
#   pq.sh base DIR [MAIL...]
#                       make DIR a git repository of the base tree alone
#                       (branch pq, tag pq-base); with MAILs, check out only
#                       the files they touch (enough for git am).
#
# The base is build/base (or $VP_BASE), the queue $VP_PATCHES (default
# patches/). Git runs without user configuration and with a fixed committer,
# so an import, and an export of it, are reproducible.
#
# The base tree is stored in git once: $VP_CACHE/pq/base-<name>.git, made on
# first use; after, only the stat data of its index is refreshed. The
# repositories made here borrow its objects (.git/objects/info/alternates),
# so they break if it is removed.
# With VP_PQ_SPARSE=1, import checks out only the files that the patches
# and the overlay touch (a sparse checkout): enough to export, and fast.

set -euo pipefail
VP_TOOL=pq
. "$(dirname "$0")/lib.sh"

base=${VP_BASE:-$VP_BUILD/base}
patchdir=${VP_PATCHES:-$VP_TOP/patches}
tmp=$(mktemp -d)
staging=
cachenew=
trap 'rm -rf "$tmp" ${staging:+"$staging"} ${cachenew:+"$cachenew"}' EXIT

usage()
{
    vp_die "usage: $0 import [DIR] | export [DIR] | check" \
        "| base DIR [MAIL...] (DIR: default build/pq)"
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

# The base's repository in the cache, keyed by the Debian version for a
# tree of the cache (src/VERSION/tree), else by the tree's path.
base_repo_path()
{
    local b key
    b=$(readlink -f "$base")
    case "$b" in
        "$(readlink -m "$VP_CACHE")"/src/*/tree) key=$(base_name) ;;
        *) key=$(basename "$b")-$(printf '%s' "$b" | sha1sum | cut -c1-12) ;;
    esac
    echo "$VP_CACHE/pq/base-$key.git"
}

# base_repo: print the git directory of the base's repository in the cache,
# making it on first use: a bare repository whose tag pq-base is the base
# tree as one commit, and whose index is the one that made it. Its stat
# data tells cheaply that the base has not changed since.
base_repo()
{
    local b repo new tree commit
    b=$(readlink -f "$base")
    repo=$(base_repo_path)
    if [ ! -d "$repo" ]; then
        vp_note "storing the base $b in $repo (once per base)"
        mkdir -p "$(dirname "$repo")"
        new=$(mktemp -d "$repo.new.XXXXXX")
        cachenew=$new
        vp_git init -q --bare "$new"
        GIT_INDEX_FILE=$new/index \
            vp_git --git-dir="$new" --work-tree="$b" add -A -f
        tree=$(GIT_INDEX_FILE=$new/index vp_git --git-dir="$new" write-tree)
        commit=$(GIT_AUTHOR_NAME="virt-pcie pq" \
            GIT_AUTHOR_EMAIL=pq@virt-pcie.invalid \
            GIT_AUTHOR_DATE="$VP_PQ_DATE" vp_git --git-dir="$new" \
            commit-tree "$tree" \
            -m "base: QEMU $(cat "$b/VERSION") ($(base_name))")
        vp_git --git-dir="$new" tag pq-base "$commit"
        # Another run may have stored it meanwhile; then keep that one.
        mv -T "$new" "$repo" 2> /dev/null || rm -rf "$new"
        cachenew=
        echo "$repo"
        return
    fi
    # Unchanged? A stat comparison, then the contents of what it flags.
    if ! vp_git --git-dir="$repo" --work-tree="$b" diff-files --quiet; then
        new=$(mktemp "$repo/index.XXXXXX")
        cachenew=$new
        cp "$repo/index" "$new"
        GIT_INDEX_FILE=$new vp_git --git-dir="$repo" --work-tree="$b" \
            update-index --refresh > "$tmp/changed" 2>&1 ||
            vp_die "$b changed since it was stored in $repo:" \
                "$(head -n 3 "$tmp/changed" | tr '\n' ' ')"
        mv "$new" "$repo/index"
        cachenew=
    fi
    vp_git --git-dir="$repo" --work-tree="$b" ls-files -o > "$tmp/changed"
    [ ! -s "$tmp/changed" ] ||
        vp_die "$b has files it had not when it was stored in $repo:" \
            "$(head -n 3 "$tmp/changed" | tr '\n' ' ')"
    echo "$repo"
}

# touched MAIL...: the paths that the patches of MAILs change, one a line.
# (git apply runs at the top of an empty repository: in a subdirectory of
# one, it would leave out the paths outside that directory.)
touched()
{
    local m
    [ -d "$tmp/empty" ] || vp_git init -q "$tmp/empty"
    for m; do
        vp_git -C "$tmp/empty" apply --numstat -z "$m" 2> /dev/null || true
    done | tr '\0' '\n' | awk -F'\t' 'NF == 1 && $1 != "" { print; next }
                                      NF == 3 && $3 != "" { print $3 }'
}

# clone_base DIR [PATHS]: DIR a new repository of the base (branch pq, tag
# pq-base) borrowing the objects of the cached one; checked out in full or,
# with PATHS (a file, one path a line), only those paths.
clone_base()
{
    local dir=$1 repo commit
    repo=$(base_repo)
    commit=$(vp_git --git-dir="$repo" rev-parse pq-base)
    vp_git init -q -b pq "$dir"
    echo "$repo/objects" > "$dir/.git/objects/info/alternates"
    vp_git -C "$dir" update-ref refs/heads/pq "$commit"
    vp_git -C "$dir" tag pq-base "$commit"
    if [ $# -gt 1 ]; then
        vp_git -C "$dir" config core.sparseCheckout true
        # Patterns (gitignore syntax) matching exactly these paths.
        sed 's/[][*?!#\\]/\\&/g; s/ $/\\ /; s|^|/|' "$2" \
            > "$dir/.git/info/sparse-checkout"
    fi
    vp_git -C "$dir" read-tree -m -u pq
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
        vp_die "$1 has uncommitted changes; commit or discard them first" \
            "(nothing was changed)"
}

# apply_patches REPO PATCH...: git am the patches of the queue, keeping their
# authors, dates and messages. A patch with no Date: header gets the fixed
# date. A patch that does not apply stops, naming the patch and the file.
apply_patches()
{
    local repo=$1 p n=0 log file
    shift
    [ $# -gt 0 ] || return 0
    mkdir -p "$tmp/mails"
    for p; do
        n=$((n + 1))
        awk -v d="$VP_PQ_DATE" '
            !body && /^Date:/ { dated = 1 }
            !body && /^$/ { if (!dated) print "Date: " d; body = 1 }
            { print }' "$p" > "$tmp/mails/$(printf %04d "$n")"
    done
    log=$(vp_git -C "$repo" am --whitespace=nowarn "$tmp/mails"/* 2>&1) &&
        return 0
    # The patch that failed: the one after those applied.
    n=$(vp_git -C "$repo" rev-list --count pq-base..HEAD)
    shift "$n"
    file=$(sed -nE \
        -e 's/^error: patch failed: (.*):[0-9]+$/\1/p' \
        -e 's/^error: ([^:]+): (does not exist|already exists).*/\1/p' \
        -e 's/^error: ([^:]+): patch does not apply.*/\1/p' \
        <<<"$log" | head -n 1)
    grep '^error:' <<<"$log" | head -n 5 >&2
    vp_die "patch $1 does not apply to ${file:-the tree}" \
        "(base: $(readlink -f "$base"))"
}

# The overlay files of the checkout, one a line.
overlay_files()
{
    local d
    for d in $VP_OVERLAY_DIRS; do
        [ -d "$VP_TOP/$d" ] || continue
        (cd "$VP_TOP" && find "$d" \( -type f -o -type l \) -print)
    done
}

do_import()
{
    local dir=$1 p list mails
    [ -f "$base/VERSION" ] ||
        vp_die "no base tree at $base; run tools/fetch-qemu.sh first"
    refuse_dirty "$dir"
    if [ -e "$dir" ] && [ ! -e "$dir/.git" ] && [ -n "$(ls -A "$dir")" ]; then
        vp_die "$dir exists and is not a git repository; not overwriting it"
    fi
    # Built next to DIR and moved over it at the end: a failure leaves DIR.
    new=$dir.import
    staging=$new
    rm -rf "$new"

    list=$(series_patches)
    mails=()
    for p in $list; do
        mails+=("$patchdir/$p")
    done
    if [ "${VP_PQ_SPARSE:-}" = 1 ]; then
        { touched "${mails[@]}"; overlay_files; } | sort -u > "$tmp/paths"
        clone_base "$new" "$tmp/paths"
    else
        clone_base "$new"
    fi
    apply_patches "$new" "${mails[@]}"

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
    vp_say "$dir: $(wc -w <<<"$list") patches on $(readlink -f "$base")," \
        "branch pq"
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
            vp_die "$path is in the base or changed by a patch, yet changed" \
                "in or after \"$VP_PQ_OVERLAY_SUBJECT\"; move that change" \
                "into a patch commit (git rebase -i pq-base)"
        case " $VP_OVERLAY_DIRS " in
            *" ${path%%/*} "*) ;;
            *) vp_die "$path is not below $VP_OVERLAY_DIRS," \
                "so it cannot be an overlay file" ;;
        esac
    done < <(vp_git -C "$dir" diff --no-renames --name-status "$overlay^" HEAD)

    new=$(vp_git -C "$dir" diff --no-renames --name-only --diff-filter=A \
        "$overlay^" HEAD)
    old=$(vp_git -C "$dir" ls-tree -r --name-only pq-synced -- $VP_OVERLAY_DIRS)
    for path in $(printf '%s\n' "$new" \
            $(vp_git -C "$dir" diff --name-only pq-synced HEAD -- \
                $VP_OVERLAY_DIRS) | sort -u); do
        # Upstream files changed by a patch are not the overlay's business.
        if ! grep -qxF "$path" <<<"$new"; then
            grep -qxF "$path" <<<"$old" || continue
            vp_git -C "$dir" cat-file -e "$overlay^:$path" 2>/dev/null &&
                continue
        fi
        was=$(vp_git -C "$dir" rev-parse -q --verify "pq-synced:$path" || true)
        now=$(vp_git -C "$dir" rev-parse -q --verify "HEAD:$path" || true)
        [ "$was" != "$now" ] || continue
        here=
        [ -f "$VP_TOP/$path" ] &&
            here=$(vp_git -C "$dir" hash-object "$VP_TOP/$path")
        [ "$here" != "$now" ] || continue
        if [ "$here" != "$was" ]; then
            conflict+=("$path")
        else
            changed+=("$path")
        fi
    done
    [ ${#conflict[@]} -eq 0 ] ||
        vp_die "changed both in $dir and in the checkout since the import:" \
            "${conflict[*]}"
    for path in "${changed[@]}"; do
        if vp_git -C "$dir" cat-file -e "HEAD:$path" 2>/dev/null; then
            mkdir -p "$(dirname "$VP_TOP/$path")"
            vp_git -C "$dir" show "HEAD:$path" > "$VP_TOP/$path"
            if [ "$(vp_git -C "$dir" ls-tree HEAD -- "$path" | cut -c1-6)" = \
                 100755 ]; then
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
    [ -e "$dir/.git" ] &&
        git -C "$dir" rev-parse -q --verify pq-base > /dev/null ||
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
    local zero="From 0000000000000000000000000000000000000000"
    head -n 1 -q "$patchdir"/*.patch 2>/dev/null |
        grep -qvxF "$zero Mon Sep 17 00:00:00 2001" &&
        vp_die "$patchdir was never exported by tools/pq.sh; convert it" \
            "once with: tools/pq.sh import && tools/pq.sh export"
    VP_PQ_SPARSE=1 do_import "$tmp/pq" > /dev/null
    export_patches "$tmp/pq" "$tmp/patches"
    mkdir -p "$tmp/orig"
    find "$patchdir" -maxdepth 1 \( -name '*.patch' -o -name series \) \
        -exec cp -t "$tmp/orig/" {} +
    diff -ru "$tmp/orig" "$tmp/patches" >&2 ||
        vp_die "the import/export round trip changes $patchdir" \
            "(diff above); run tools/pq.sh import && tools/pq.sh export"
    vp_say "round trip clean: $(wc -l < "$patchdir/series") patches"
}

do_base()
{
    [ $# -ge 1 ] || usage
    local dir=$1
    [ -f "$base/VERSION" ] ||
        vp_die "no base tree at $base; run tools/fetch-qemu.sh first"
    [ ! -e "$dir" ] || vp_die "$dir exists; not overwriting it"
    if [ $# -gt 1 ]; then
        shift
        touched "$@" | sort -u > "$tmp/paths"
        clone_base "$dir" "$tmp/paths"
    else
        clone_base "$dir"
    fi
}

[ $# -ge 1 ] || usage
case "$1" in
    import) [ $# -le 2 ] || usage; do_import "${2:-$VP_BUILD/pq}" ;;
    export) [ $# -le 2 ] || usage; do_export "${2:-$VP_BUILD/pq}" ;;
    check) [ $# -eq 1 ] || usage; do_check ;;
    base) do_base "${@:2}" ;;
    *) usage ;;
esac
