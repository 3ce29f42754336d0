# SPDX-License-Identifier: GPL-2.0-or-later
#
# Shared shell helpers for the virt-pcie build scripts (sourced, not run).

VP_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VP_CACHE=${VP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/virt-pcie}
VP_BUILD=${VP_BUILD:-$VP_TOP/build}

vp_die()
{
    echo "$VP_TOOL: error: $*" >&2
    exit 1
}

vp_warn()
{
    echo "$VP_TOOL: warning: $*" >&2
}

vp_say()
{
    echo "$VP_TOOL: $*"
}

# The Debian source version recorded in QEMU_BASE, e.g. 1:10.2.2+ds-1.
vp_base_debian_version()
{
    grep -v '^#' "$VP_TOP/QEMU_BASE" | head -n 1 | tr -d '[:space:]'
}

# 1:10.2.2+ds-1 -> 10.2.2
vp_upstream_of()
{
    local v=${1#*:}
    v=${v%%-*}
    echo "${v%%+*}"
}

# 10.2.2 -> 10.2
vp_series_of()
{
    echo "$1" | cut -d. -f1-2
}

# vp_version_gt A B: true if version A sorts after version B.
vp_version_gt()
{
    dpkg --compare-versions "$1" gt "$2"
}

# vp_note MESSAGE: progress on stderr, so it never mixes with output.
vp_note()
{
    echo "$VP_TOOL: $*" >&2
}

# The cache of Debian binary packages: .debs in $VP_DEBS, unpacked trees
# in $VP_EXTRACT/<name>_<version>. Packages are only downloaded (apt-get
# download) and unpacked (dpkg-deb -x), never installed. The version used
# for a package and release is recorded, so that an unreachable archive
# falls back to what was fetched before.
VP_DEBS=$VP_CACHE/debs
VP_EXTRACT=$VP_CACHE/extract

# apt-cache is slow here (no pkgcache.bin is kept), so query it once for
# several packages and look versions up in the saved output.
VP_MADISON=
vp_apt_query()
{
    VP_MADISON+=$(apt-cache madison "$@" 2>/dev/null || true)$'\n'
}

# Version of package $1 in apt release $2 (e.g. trixie, bookworm-backports),
# from the apt indexes queried by vp_apt_query; empty when they do not know it.
vp_apt_version()
{
    printf '%s\n' "$VP_MADISON" |
        awk -F'|' -v pkg="$1" -v rel=" $2/" '
            { name = $1; gsub(/[[:space:]]/, "", name) }
            name == pkg && index($3, rel) && $3 ~ /Packages[[:space:]]*$/ {
                gsub(/[[:space:]]/, "", $2); print $2; exit
            }'
}

# A file name friendly spelling of a Debian version (epoch colon).
vp_fsver()
{
    printf '%s' "${1//:/%3a}"
}

# vp_resolve NAME ARCH RELEASE: set VER to the version to use, from the apt
# indexes, else from the record left by an earlier run.
vp_resolve()
{
    local name=$1 arch=$2 rel=$3 spec rec
    spec=$name
    [ "$arch" = all ] || spec=$name:$arch
    rec=$VP_DEBS/$name@$rel.version
    VER=$(vp_apt_version "$spec" "$rel")
    if [ -z "$VER" ]; then
        [ -s "$rec" ] ||
            vp_die "cannot resolve $spec/$rel: not in the apt indexes" \
                "and never cached in $VP_DEBS"
        VER=$(cat "$rec")
        vp_note "apt indexes do not list $spec/$rel; using cached version $VER"
    fi
}

# vp_fetch NAME ARCH RELEASE: set VER and DEB (path of the cached .deb),
# downloading only when the .deb for that version is not cached yet.
vp_fetch()
{
    local name=$1 arch=$2 rel=$3 spec rec tmp log old
    spec=$name
    [ "$arch" = all ] || spec=$name:$arch
    rec=$VP_DEBS/$name@$rel.version
    vp_resolve "$name" "$arch" "$rel"
    DEB=$VP_DEBS/${name}_$(vp_fsver "$VER")_$arch.deb
    if [ ! -s "$DEB" ]; then
        vp_note "downloading $spec=$VER"
        tmp=$(mktemp -d "$VP_DEBS/.dl.XXXXXX")
        if ! log=$(cd "$tmp" && apt-get download -q "$spec=$VER" 2>&1); then
            rm -rf "$tmp"
            old=
            [ -s "$rec" ] && old=$(cat "$rec")
            if [ -n "$old" ] && [ "$old" != "$VER" ] &&
               [ -s "$VP_DEBS/${name}_$(vp_fsver "$old")_$arch.deb" ]; then
                vp_note "cannot download $spec/$rel $VER; using cached $old"
                VER=$old
                DEB=$VP_DEBS/${name}_$(vp_fsver "$VER")_$arch.deb
                return 0
            fi
            vp_die "cannot download $spec/$rel ($VER) and no cached .deb" \
                "in $VP_DEBS: $(printf '%s\n' "$log" | grep -v '^$' |
                    tail -n 3 | tr '\n' ' ')"
        fi
        set -- "$tmp"/*.deb
        [ $# -eq 1 ] && [ -s "$1" ] ||
            { rm -rf "$tmp"
              vp_die "apt-get download $spec=$VER produced no .deb"; }
        mv "$1" "$DEB"
        rm -rf "$tmp"
    fi
    printf '%s\n' "$VER" >"$rec.tmp" && mv "$rec.tmp" "$rec"
}

# vp_unpack NAME VERSION DEB: set TREE to the extracted package tree.
vp_unpack()
{
    local tmp
    TREE=$VP_EXTRACT/$1_$(vp_fsver "$2")
    [ -d "$TREE" ] && return 0
    tmp=$(mktemp -d "$VP_EXTRACT/.x.XXXXXX")
    dpkg-deb -x "$3" "$tmp" || { rm -rf "$tmp"; vp_die "cannot extract $3"; }
    mv "$tmp" "$TREE"
}

# The patch queue as a git repository (tools/pq.sh, tools/upstream-export.sh).
# The overlay: our new files, at their QEMU paths below these directories.
VP_OVERLAY_DIRS="hw include configs docs tests"
VP_PQ_OVERLAY_SUBJECT="overlay: virt-pcie's new files"
VP_PQ_DATE="Sat, 1 Jan 2000 00:00:00 +0000"

# vp_git ARGS: git with no user or system configuration, so that what it
# writes depends only on the repository, and with a fixed committer, so
# that the commits it makes are reproducible; no automatic gc, which would
# pack the whole base in the background.
vp_git()
{
    GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null \
    GIT_COMMITTER_NAME="virt-pcie pq" GIT_COMMITTER_EMAIL=pq@virt-pcie.invalid \
    GIT_COMMITTER_DATE="$VP_PQ_DATE" \
    git -c gc.auto=0 -c maintenance.auto=false "$@"
}

# vp_pq_overlay DIR [REF]: the overlay commit of the queue in DIR, i.e. the
# first commit after pq-base with the overlay subject; the commits before
# it are the patches.
vp_pq_overlay()
{
    local c
    c=$(vp_git -C "$1" log --reverse --format='%H %s' "pq-base..${2:-HEAD}" |
        awk -v s="$VP_PQ_OVERLAY_SUBJECT" \
            'substr($0, 42) == s { print $1; exit }')
    [ -n "$c" ] ||
        vp_die "$1: no commit \"$VP_PQ_OVERLAY_SUBJECT\" after pq-base;" \
            "make it with tools/pq.sh import"
    echo "$c"
}

# vp_pq_lint DIR RANGE: every commit of RANGE is a patch fit to be mailed:
# not a merge, and with a subject, a body and a Signed-off-by: trailer.
vp_pq_lint()
{
    local c subj body trailers
    for c in $(vp_git -C "$1" rev-list --reverse "$2"); do
        subj=$(vp_git -C "$1" show -s --format=%s "$c")
        [ -z "$(vp_git -C "$1" rev-list --no-walk --merges "$c")" ] ||
            vp_die "commit ${c:0:12} \"$subj\" is a merge;" \
                "the queue must be linear"
        [ -n "$subj" ] || vp_die "commit ${c:0:12} has no subject"
        body=$(vp_git -C "$1" show -s --format=%b "$c" |
            grep -c '[^[:space:]]' || true)
        trailers=$(vp_git -C "$1" show -s \
            --format='%(trailers:only,unfold)' "$c" |
            grep -c '[^[:space:]]' || true)
        [ "$body" -gt "$trailers" ] ||
            vp_die "commit ${c:0:12} \"$subj\" has no body:" \
                "say why the change is made"
        vp_git -C "$1" show -s \
            --format='%(trailers:key=Signed-off-by,valueonly)' "$c" |
            grep -q '[^[:space:]]' ||
            vp_die "commit ${c:0:12} \"$subj\" has no Signed-off-by: trailer"
    done
}

# Earlier releases of the fork, rebuilt from this repository's history:
# tests/data/virt-pcie/<machine version>/built-from names the commit (its
# first line that is neither empty nor a comment), and tools/build-release.sh
# builds that commit into $VP_RELEASES/<commit>/qemu-system-riscv64.
VP_RELEASES=$VP_CACHE/releases

# The machine versions that have a recorded release, e.g. "10.0".
vp_release_versions()
{
    local f
    for f in "$VP_TOP"/tests/data/virt-pcie/*/built-from; do
        if [ -f "$f" ]; then basename "$(dirname "$f")"; fi
    done
}

# vp_release_commit VERSION: the full hash recorded for VERSION.
vp_release_commit()
{
    local f=$VP_TOP/tests/data/virt-pcie/$1/built-from c
    [ -f "$f" ] ||
        vp_die "no release recorded for virt-pcie-$1 ($f does not exist)"
    c=$(grep -v -E '^[[:space:]]*(#|$)' "$f" | head -n 1 | tr -d '[:space:]')
    [[ "$c" =~ ^[0-9a-f]{40}$ ]] ||
        vp_die "$f: '$c' is not a full commit hash (40 hex digits)"
    echo "$c"
}

# vp_release_qemu VERSION: where the binary of release VERSION is cached.
vp_release_qemu()
{
    local c
    c=$(vp_release_commit "$1") || exit 1
    echo "$VP_RELEASES/$c/qemu-system-riscv64"
}

# VP_RELEASE_10_0_QEMU for 10.0: the environment variable naming that binary.
vp_release_var()
{
    echo "VP_RELEASE_${1//[^0-9A-Za-z]/_}_QEMU"
}
