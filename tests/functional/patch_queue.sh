#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The patch queue and its exports: the import/export round trip of
# tools/pq.sh leaves patches/ byte for byte as it is; the upstream series
# of tools/upstream-export.sh applies with git am to the pristine base and
# gives the fork's tree; every mail of it passes the base's checkpatch.pl;
# and bad queues get a clear message (a patch that does not apply, a commit
# with no Signed-off-by:, uncommitted work, a queue never exported).
# Works in a temporary directory; the checkout and build/ are not touched.
# Prints "ok NAME" or "FAIL NAME" per check.

set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
# Run from build/fork-src: the scripts are those of the checkout.
[ -x "$top/tools/pq.sh" ] || top=$(cd "$top/../.." && pwd)
tools=$top/tools
base=${VP_BASE:-${VP_BUILD:-$top/build}/base}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

ok()
{
    echo "ok $1"
}

fail()
{
    echo "FAIL $1${2:+ ($2)}"
    status=1
}

# expect NAME REGEX CMD...: CMD must fail, and its stderr match REGEX.
expect()
{
    local name=$1 re=$2 out
    shift 2
    if out=$("$@" 2>&1 >/dev/null); then
        fail "$name" "succeeded"
    elif grep -Eq "$re" <<<"$out"; then
        ok "$name"
    else
        fail "$name" "message: $out"
    fi
    echo "    $name: $out" | head -n 3 >&2
}

[ -f "$base/VERSION" ] || { fail base-tree "no base tree at $base"; exit 1; }

# (a) import + export gives patches/ back, byte for byte.
if out=$("$tools/pq.sh" check 2>&1); then
    ok pq-round-trip
else
    fail pq-round-trip "$(tail -n 1 <<<"$out")"
    head -n 60 <<<"$out" >&2
fi

# (b) the upstream series, applied by git am to a copy of the base, is the
# fork's tree as tools/prepare-tree.sh makes it (made afresh here: the
# tests leave __pycache__ in build/fork-src). The copy is the base's commit
# (tools/pq.sh base; the objects are the cached ones) with only the files
# the mails touch checked out; the trees are compared as git trees (paths,
# contents, executable bits, symbolic links): the fork's is hashed into the
# same repository, where only its new files are stored.
mails=$tmp/series
if out=$("$tools/upstream-export.sh" "$mails" 2>&1); then
    ok upstream-export
else
    fail upstream-export "$(tail -n 1 <<<"$out")"
    head -n 40 <<<"$out" >&2
fi
up=$tmp/up
set -- "$mails"/[0-9][0-9][0-9][0-9]-*.patch
shift # the cover letter
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t.invalid
export GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t.invalid
if [ $# -gt 0 ] && out=$("$tools/pq.sh" base "$up" "$@" 2>&1) &&
   out=$(git -C "$up" -c gc.auto=0 am -q "$@" 2>&1); then
    ok upstream-series-applies
else
    fail upstream-series-applies "${out:-no mails}"
fi
"$tools/prepare-tree.sh" "$tmp/fork-src" >/dev/null
am_tree=$(git -C "$up" rev-parse -q --verify 'HEAD^{tree}')
fork_tree=$(export GIT_DIR=$up/.git GIT_WORK_TREE=$tmp/fork-src
            export GIT_INDEX_FILE=$tmp/fork.index
            git -c gc.auto=0 -c core.sparseCheckout=false add -A -f &&
            git write-tree)
if [ -n "$am_tree" ] && [ "$am_tree" = "$fork_tree" ]; then
    ok upstream-series-is-fork-tree
else
    [ -z "$am_tree" ] || [ -z "$fork_tree" ] ||
        git -C "$up" diff --stat=200 "$am_tree" "$fork_tree" >&2
    fail upstream-series-is-fork-tree "differences above"
fi
rm -rf "$up" "$tmp/fork-src" "$tmp/fork-src.stage" "$tmp/fork.index"

# (c) every mail but the cover letter passes checkpatch.pl, with no warning.
for m in "$mails"/[0-9][0-9][0-9][0-9]-*.patch; do
    name=$(basename "$m" .patch)
    case "$name" in 0000-*) continue ;; esac
    out=$(perl "$base/scripts/checkpatch.pl" --no-tree --patch --color=never \
        "$m" 2>&1)
    if grep -q '^total: 0 errors, 0 warnings' <<<"$out"; then
        ok "checkpatch-${name%%-*}"
    else
        fail "checkpatch-${name%%-*}" "$name: $(grep '^total:' <<<"$out")"
        grep -E '^(ERROR|WARNING)|^#' <<<"$out" >&2
    fi
done

# (d) bad queues, on a small fake base.
fake=$tmp/fake
mkdir -p "$fake/hw/riscv" "$tmp/q"
echo 10.0.99 > "$fake/VERSION"
printf 'line one\nline two\nline three\n' > "$fake/hw/riscv/virt.c"
mail()
{
    # mail FILE SUBJECT TRAILER OLD NEW: a one-hunk patch of hw/riscv/virt.c.
    cat > "$tmp/q/$1" <<EOT
From: A U Thor <author@example.com>
Date: Mon, 1 Jun 2026 12:00:00 +0000
Subject: [PATCH] $2

Why the change is made.

$3
---
diff --git a/hw/riscv/virt.c b/hw/riscv/virt.c
--- a/hw/riscv/virt.c
+++ b/hw/riscv/virt.c
@@ -1,3 +1,3 @@
 line one
-$4
+$5
 line three
EOT
    echo "$1" > "$tmp/q/series"
}
# The fake base's repository goes to a cache of its own.
q()
{
    env VP_BASE="$fake" VP_PATCHES="$tmp/q" VP_CACHE="$tmp/cache" \
        "$tools/pq.sh" "$@"
}

sob="Signed-off-by: A U Thor <author@example.com>"
mail 0001-bad.patch "hw/riscv: bad" "$sob" "line 2" "line deux"
expect patch-does-not-apply \
    "patch .*0001-bad\.patch does not apply to hw/riscv/virt\.c" \
    q import "$tmp/pq"
if [ -e "$tmp/pq" ]; then
    fail patch-failure-leaves-no-queue
else
    ok patch-failure-leaves-no-queue
fi

mail 0001-unsigned.patch "hw/riscv: unsigned" "" "line two" "line deux"
if q import "$tmp/pq" > /dev/null 2>&1; then
    expect export-needs-signoff \
        "commit [0-9a-f]+ \"hw/riscv: unsigned\" has no Signed-off-by" \
        q export "$tmp/pq"
    echo dirty >> "$tmp/pq/hw/riscv/virt.c"
    expect import-refuses-dirty "uncommitted changes" q import "$tmp/pq"
else
    fail export-needs-signoff "import failed"
fi
expect check-needs-export "never exported by tools/pq\.sh" q check

exit $status
