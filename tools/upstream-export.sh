#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# upstream-export.sh OUT: the whole fork as a mail series for upstream, in
# OUT: a cover letter and one mail [PATCH n/m] per patch of patches/series,
# which git am applies to the pristine base tree. Each new file of the
# overlay travels with the patch that patches/overlay.map places it with;
# the last mail leaves the tree equal to the fork's (tools/prepare-tree.sh).
#
# The queue is imported (tools/pq.sh import) into a scratch repository, and
# the series replayed there with each patch's files added to its commit.

set -euo pipefail
VP_TOOL=upstream-export
. "$(dirname "$0")/lib.sh"

[ $# -eq 1 ] ||
    vp_die "usage: $0 OUT" \
        "(a directory for the mails, e.g. build/upstream-series)"
out=$(realpath -m "$1")
patchdir=${VP_PATCHES:-$VP_TOP/patches}
map=$patchdir/overlay.map
[ -f "$map" ] || vp_die "no $map; it places each overlay file with a patch"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
repo=$tmp/pq

# Only the files the queue touches are checked out: the replay needs none.
VP_PQ_SPARSE=1 "$VP_TOP/tools/pq.sh" import "$repo" > /dev/null
overlay=$(vp_pq_overlay "$repo")
vp_pq_lint "$repo" "pq-base..$overlay^"

# The overlay must only add files.
vp_git -C "$repo" diff --no-renames --name-status "$overlay^" "$overlay" \
    > "$tmp/overlay"
awk '$1 != "A" { print $2 }' "$tmp/overlay" > "$tmp/replaced"
[ ! -s "$tmp/replaced" ] ||
    vp_die "overlay files that replace files of the base or of a patch:" \
        "$(tr '\n' ' ' < "$tmp/replaced")"
cut -f2 "$tmp/overlay" | sort > "$tmp/files"

# The map as "path<TAB>subject", and the patches as "commit<TAB>subject".
awk '/^[[:space:]]*(#|$)/ { next }
     { p = $1; sub(/^[[:space:]]*[^[:space:]]+[[:space:]]+/, "")
       print p "\t" $0 }' \
    "$map" > "$tmp/map"
vp_git -C "$repo" log --reverse --format='%H%x09%s' "pq-base..$overlay^" \
    > "$tmp/patches"

err=
while IFS=$'\t' read -r path subj; do
    grep -qxF "$path" "$tmp/files" ||
        err+="$map: $path is not a new file of the overlay"$'\n'
    cut -f2 "$tmp/patches" | grep -qxF "$subj" ||
        err+="$map: $path: no patch has the subject \"$subj\""$'\n'
done < "$tmp/map"
cut -f1 "$tmp/map" | sort | uniq -d > "$tmp/twice"
while read -r path; do
    err+="$map: $path is placed more than once"$'\n'
done < "$tmp/twice"
cut -f1 "$tmp/map" | sort -u | comm -23 "$tmp/files" - > "$tmp/unplaced"
while read -r path; do
    err+="$map does not place $path"$'\n'
done < "$tmp/unplaced"
[ -z "$err" ] || { printf '%s' "$err" >&2; vp_die "fix $map"; }

# Replay: each patch's tree plus the files placed up to it, with the
# patch's author, date and message. The index goes from one patch's tree
# to the next by their difference (reading the whole tree is slow).
export GIT_INDEX_FILE=$tmp/index
: > "$tmp/placed"
head=$(vp_git -C "$repo" rev-parse pq-base)
prev=$head
vp_git -C "$repo" read-tree "$head"
while IFS=$'\t' read -r commit subj; do
    awk -F'\t' -v s="$subj" '$2 == s { print $1 }' "$tmp/map" |
        while read -r path; do
            vp_git -C "$repo" ls-tree "$overlay" -- "$path"
        done >> "$tmp/placed"
    # ":old-mode new-mode old-id new-id status<TAB>path" to "mode id<TAB>path"
    # (mode 0 removes the path).
    vp_git -C "$repo" diff-tree -r --no-renames "$prev" "$commit" |
        awk '{ p = $0; sub(/^[^\t]*\t/, "", p); print $2, $4 "\t" p }' |
        vp_git -C "$repo" update-index --index-info
    prev=$commit
    vp_git -C "$repo" update-index --index-info < "$tmp/placed"
    tree=$(vp_git -C "$repo" write-tree)
    head=$(vp_git -C "$repo" show -s --format=%B "$commit" |
        GIT_AUTHOR_NAME=$(vp_git -C "$repo" show -s --format=%an "$commit") \
        GIT_AUTHOR_EMAIL=$(vp_git -C "$repo" show -s --format=%ae "$commit") \
        GIT_AUTHOR_DATE=$(vp_git -C "$repo" show -s --format=%ad \
            --date=raw "$commit") \
        vp_git -C "$repo" commit-tree "$tree" -p "$head" -F -)
done < "$tmp/patches"
[ "$(vp_git -C "$repo" rev-parse "$head^{tree}")" = \
  "$(vp_git -C "$repo" rev-parse "$overlay^{tree}")" ] ||
    vp_die "internal error: the replayed series does not end in the fork's tree"

mkdir -p "$out"
rm -f "$out"/*.patch
vp_git -C "$repo" format-patch -q --cover-letter --numbered --zero-commit \
    --no-signature --abbrev=12 --no-renames --stat=72 -o "$out" "pq-base..$head"

# The cover letter: the README's opening paragraph, and the base.
cover=$(ls "$out"/0000-*.patch)
awk 'NR > 1 && /^$/ && n { exit } NR > 1 && !/^$/ { n++; print }' \
    "$VP_TOP/README.md" > "$tmp/blurb"
based=$(vp_git -C "$repo" show -s --format=%s pq-base)
printf '\nBased on %s.\n' "${based#base: }" >> "$tmp/blurb"
awk -v blurb="$tmp/blurb" '
    /\*\*\* SUBJECT HERE \*\*\*/ { sub(/\*\*\* SUBJECT HERE \*\*\*/,
        "hw/riscv: the virt-pcie machine, PCIe-only and MSI-only") }
    /^\*\*\* BLURB HERE \*\*\*$/ {
        while ((getline l < blurb) > 0) print l
        next
    }
    { print }' "$cover" > "$tmp/cover"
mv "$tmp/cover" "$cover"
vp_say "wrote $(ls "$out"/*.patch | wc -l) mails to $out" \
    "(cover letter and $(wc -l < "$tmp/patches") patches)"
