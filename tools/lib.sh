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

# vp_apt_memo COMMAND ARGS...: the output of an apt-cache command, which
# is slow here (about 2 s: the host keeps no pkgcache.bin). It is kept in
# $VP_CACHE/apt-memo and given again while the indexes and sources apt
# reads are unchanged (their modification times and sizes are the key), so
# that a build with nothing to do asks apt nothing. A failed command is
# not kept.
vp_apt_memo()
{
    local key memo=$VP_CACHE/apt-memo
    key=$({ printf '%s\n' "$@"
            stat -c '%n %Y %s' /var/lib/apt/lists /etc/apt/sources.list \
                /etc/apt/sources.list.d /etc/apt/sources.list.d/* \
                "$VP_APT/lists" "$VP_APT/virt-pcie.sources" 2>/dev/null ||
                true    # (some of them need not exist)
          } | sha256sum | cut -c 1-40)
    if [ -f "$memo/$key" ]; then
        cat "$memo/$key"
        return 0
    fi
    mkdir -p "$memo" || return 1
    "$@" > "$memo/$key.$$" 2>/dev/null </dev/null || {
        rm -f "$memo/$key.$$"
        return 1
    }
    mv -f "$memo/$key.$$" "$memo/$key"
    cat "$memo/$key"
}

# Query apt-cache once for several packages and look versions up in the
# saved output.
VP_MADISON=
vp_apt_query()
{
    VP_MADISON+=$(vp_apt_memo apt-cache madison "$@" || true)$'\n'
}

# The suites that tools/apt-sources.sh does not add to the host's apt
# setup (its trixie and bookworm-backports entries) are read through a
# private apt configuration in $VP_APT: its own sources file, indexes,
# cache and an empty dpkg status, so that the host's sources and preferred
# versions never change.  Only "apt-get download" is done from them.  Its
# package cache is kept (not its source cache): it makes a query 0.05 s.
VP_APT=$VP_CACHE/apt
VP_APT_SUITES="sid forky trixie-backports"
VP_APT_OPTS=(-o "Dir::Etc::SourceList=$VP_APT/virt-pcie.sources"
             -o Dir::Etc::SourceParts=/dev/null
             -o "Dir::State::Lists=$VP_APT/lists"
             -o "Dir::State::status=$VP_APT/status"
             -o "Dir::Cache=$VP_APT/cache"
             -o Dir::Cache::pkgcache=pkgcache.bin
             -o Dir::Cache::srcpkgcache=)

# vp_debian_mirror [SKIP]: the first non-security Debian archive URI
# configured in this machine's apt sources (the file SKIP left out), so that
# no host name is written into the repository.
vp_debian_mirror()
{
    local f re
    {
        for f in /etc/apt/sources.list.d/*.sources; do
            [ -f "$f" ] && [ "$f" != "${1:-}" ] || continue
            awk '
                /^[[:space:]]*$/ { if (uri != "" && kind ~ /deb/) {
                                       print uri; exit
                                   }
                                   uri = ""; kind = "" }
                /^Types:/        { kind = $0 }
                /^URIs:/         { if ($2 !~ /security/) uri = $2 }
                END              { if (uri != "" && kind ~ /deb/) print uri }
            ' "$f"
        done | head -n 1
        # "deb [OPTIONS] URI SUITE ...": the URI
        re='^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+)'
        re+='[[:space:]]+[a-z]+([[:space:]]|$).*'
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
            [ -f "$f" ] || continue
            sed -n -E 's/'"$re"'/\2/p' "$f" |
                grep -v security || true
        done | head -n 1
    } | head -n 1
}

# vp_src_suites PKG DEBVER: the suites whose source index lists version
# DEBVER of source package PKG, e.g. "sid".
vp_src_suites()
{
    vp_apt_memo apt-cache madison "$1" |
        awk -F'|' -v v="$2" '
            { ver = $2; gsub(/[[:space:]]/, "", ver) }
            ver == v && $3 ~ /Sources[[:space:]]*$/ {
                n = split($3, w, " "); split(w[n - 1], s, "/"); print s[1]
            }' | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# vp_src_by_hand PKG DEBVER DIR: fetch the files of a source package one by
# one with apt's own helper, checking each against the sha256 the index
# gives (for when the archive lost the .dsc), and unpack it like
# dpkg-source, Debian's patch series included, into DIR/unpacked.
vp_src_by_hand()
{
    local pkg=$1 ver=$2 dir=$3 uri name size hash orig debtar top p
    apt-get source --print-uris -q "$pkg=$ver" 2>/dev/null | grep "^'" |
    while read -r uri name size hash; do
        uri=${uri//\'/}
        case "$name" in *.dsc) continue ;; esac
        /usr/lib/apt/apt-helper download-file "$uri" "$dir/$name" "$hash" \
            >/dev/null ||
            { echo "cannot download $name" >&2; return 1; }
    done || return 1
    orig=$(ls "$dir/${pkg}_"*.orig.tar.* 2>/dev/null | head -n 1)
    debtar=$(ls "$dir/${pkg}_"*.debian.tar.* 2>/dev/null | head -n 1)
    [ -n "$orig" ] && [ -n "$debtar" ] || return 1
    mkdir -p "$dir/unpack"
    tar -C "$dir/unpack" -xf "$orig"
    top=$(ls -d "$dir"/unpack/*/ | head -n 1)
    tar -C "$top" -xf "$debtar"
    if [ -f "$top/debian/patches/series" ]; then
        while read -r p _; do
            case "$p" in ''|'#'*) continue ;; esac
            patch -d "$top" -p1 -s -f < "$top/debian/patches/$p" \
                >/dev/null ||
                { echo "Debian patch $p does not apply" >&2; return 1; }
        done < "$top/debian/patches/series"
    fi
    mv "$top" "$dir/$pkg-unpacked"
}

# vp_src_fetch PKG DEBVER DEST: Debian's source package PKG at exactly
# version DEBVER, unpacked with its patch series into DEST/tree.  apt-get
# source first; when the archive fails it (a .dsc can be a 404 while the
# tarballs are served), the files one by one.  DEST is replaced only once
# the tree is complete.
vp_src_fetch()
{
    local pkg=$1 ver=$2 dest=$3 work top
    work=$dest.tmp
    rm -rf "$work"
    mkdir -p "$work"
    if ! (cd "$work" && apt-get source -q "$pkg=$ver" > apt-source.log 2>&1)
    then
        vp_warn "apt-get source $pkg=$ver failed; fetching its files" \
            "one by one"
        sed 's/^/    /' "$work/apt-source.log" | tail -n 5 >&2
        rm -rf "$work"
        mkdir -p "$work"
        vp_src_by_hand "$pkg" "$ver" "$work" ||
            { rm -rf "$work"; return 1; }
    fi
    top=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name "$pkg-*" |
          head -n 1)
    [ -n "$top" ] || { rm -rf "$work"; return 1; }
    mv "$top" "$work/tree"
    rm -rf "$dest"
    mv "$work" "$dest"
}

# vp_apt_private RELEASE: true if RELEASE is read through $VP_APT.
vp_apt_private()
{
    case " $VP_APT_SUITES " in
    *" $1 "*) return 0 ;;
    esac
    return 1
}

# vp_apt_run RELEASE COMMAND ARGS: apt-get or apt-cache COMMAND, with the
# private configuration when RELEASE is one of $VP_APT_SUITES.
vp_apt_run()
{
    local rel=$1 cmd=$2
    shift 2
    local memo=
    # apt-cache only reads: its answers are kept (vp_apt_memo)
    [ "$cmd" = apt-cache ] && memo=vp_apt_memo
    if vp_apt_private "$rel"; then
        $memo "$cmd" "${VP_APT_OPTS[@]}" "$@"
    else
        $memo "$cmd" "$@"
    fi
}

# vp_apt_setup: make the private apt configuration ready: its sources file
# (riscv64, with the mirror of this machine's Debian entries) and
# its indexes, updated when they are missing, when the sources changed or
# when VP_APT_UPDATE is set.  A failed update only warns: the callers then
# fall back to the versions they fetched before.
vp_apt_setup()
{
    local mirror want log src=$VP_APT/virt-pcie.sources
    mkdir -p "$VP_APT/lists/partial" "$VP_APT/cache" ||
        vp_die "cannot create $VP_APT"
    [ -e "$VP_APT/status" ] || : >"$VP_APT/status"
    mirror=$(vp_debian_mirror /etc/apt/sources.list.d/virt-pcie.sources ||
             true)
    if [ -z "$mirror" ]; then
        vp_warn "no Debian archive entry in /etc/apt: cannot read" \
            "$VP_APT_SUITES"
        return 0
    fi
    want=$(cat <<EOT
# Written by virt-pcie tools/lib.sh (vp_apt_setup) from this machine's own
# apt entries; read only with the options of VP_APT_OPTS.
Types: deb
URIs: $mirror
Suites: $VP_APT_SUITES
Components: main
Architectures: riscv64
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOT
)
    if [ "$(cat "$src" 2>/dev/null)" != "$want" ]; then
        printf '%s\n' "$want" >"$src.tmp" && mv "$src.tmp" "$src" ||
            vp_die "cannot write $src"
        rm -f "$VP_APT/updated"
    fi
    [ ! -e "$VP_APT/updated" ] || [ -n "${VP_APT_UPDATE:-}" ] || return 0
    vp_note "apt-get update of $VP_APT_SUITES (riscv64) into $VP_APT"
    # Downloads that failed are tried again against the new indexes.
    rm -rf "$VP_APT/failed"
    # apt-get update exits 0 when an index could not be fetched: look.
    if log=$(apt-get "${VP_APT_OPTS[@]}" -q update 2>&1 </dev/null) &&
       ! grep -q -e '^[WE]: Failed to fetch' -e '^[WE]: Some index files' \
           <<<"$log"; then
        touch "$VP_APT/updated"
    else
        vp_warn "apt-get update of $VP_APT_SUITES failed:" \
            "$(printf '%s\n' "$log" | grep '^[EW]:' | grep -v unsandboxed |
                tail -n 3 | tr '\n' ' ')"
    fi
}

# vp_apt_query_private PACKAGE...: vp_apt_query for $VP_APT_SUITES.
vp_apt_query_private()
{
    VP_MADISON+=$(vp_apt_memo apt-cache "${VP_APT_OPTS[@]}" madison "$@" ||
                  true)$'\n'
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

# vp_apt_versions SPEC RELEASE...: "VERSION RELEASE" for each RELEASE whose
# indexes (queried by vp_apt_query) list SPEC, newest version first; equal
# versions keep the order of the RELEASEs.
vp_apt_versions()
{
    local spec=$1 rel v l i j
    local -a out=()
    shift
    for rel in "$@"; do
        v=$(vp_apt_version "$spec" "$rel")
        [ -z "$v" ] || out+=("$v $rel")
    done
    for ((i = 1; i < ${#out[@]}; i++)); do
        l=${out[i]}
        j=$i
        while ((j > 0)) && vp_version_gt "${l%% *}" "${out[j - 1]%% *}"; do
            out[j]=${out[j - 1]}
            j=$((j - 1))
        done
        out[j]=$l
    done
    if [ ${#out[@]} -gt 0 ]; then
        printf '%s\n' "${out[@]}"
    fi
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

# vp_download NAME ARCH VERSION RELEASE: set DEB to the cached .deb of
# that version, downloading it from RELEASE when it is not cached yet.
# Return 1, with why in VP_DL_ERROR, when it cannot be had.  A download
# from $VP_APT_SUITES that failed is not tried again until vp_apt_setup
# next updates their indexes, so a warm run does not ask the archive.
vp_download()
{
    local name=$1 arch=$2 ver=$3 rel=$4 spec tmp log mark
    spec=$name
    [ "$arch" = all ] || spec=$name:$arch
    DEB=$VP_DEBS/${name}_$(vp_fsver "$ver")_$arch.deb
    VP_DL_ERROR=
    [ -s "$DEB" ] && return 0
    mark=$VP_APT/failed/${name}_$(vp_fsver "$ver")_$arch
    if vp_apt_private "$rel" && [ -s "$mark" ]; then
        VP_DL_ERROR="failed before: $(cat "$mark")"
        return 1
    fi
    vp_note "downloading $spec=$ver ($rel)"
    tmp=$(mktemp -d "$VP_DEBS/.dl.XXXXXX")
    if ! log=$(cd "$tmp" &&
               vp_apt_run "$rel" apt-get download -q "$spec=$ver" \
                   </dev/null 2>&1); then
        rm -rf "$tmp"
        # "E: Failed to fetch URL  404  Not Found [IP: ...]": the status.
        VP_DL_ERROR=$(printf '%s\n' "$log" |
            sed -n 's/^E: Failed to fetch [^ ]*  *\(.*\)$/\1/p' |
            sed -e 's/ *\[IP:.*//' -e 's/  */ /g' | head -n 1)
        [ -n "$VP_DL_ERROR" ] ||
            VP_DL_ERROR=$(printf '%s\n' "$log" |
                grep -v -e '^$' -e unsandboxed | tail -n 3 | tr '\n' ' ')
        VP_DL_ERROR=${VP_DL_ERROR:-apt-get download failed}
        if vp_apt_private "$rel"; then
            mkdir -p "$VP_APT/failed" &&
                printf '%s\n' "$VP_DL_ERROR" >"$mark"
        fi
        return 1
    fi
    set -- "$tmp"/*.deb
    if ! [ $# -eq 1 ] || ! [ -s "$1" ]; then
        rm -rf "$tmp"
        VP_DL_ERROR="apt-get download $spec=$ver produced no .deb"
        return 1
    fi
    mv "$1" "$DEB"
    rm -rf "$tmp"
}

# vp_fetch NAME ARCH RELEASE: set VER and DEB (path of the cached .deb),
# downloading only when the .deb for that version is not cached yet.
vp_fetch()
{
    local name=$1 arch=$2 rel=$3 spec rec old
    spec=$name
    [ "$arch" = all ] || spec=$name:$arch
    rec=$VP_DEBS/$name@$rel.version
    vp_resolve "$name" "$arch" "$rel"
    if ! vp_download "$name" "$arch" "$VER" "$rel"; then
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
            "in $VP_DEBS: $VP_DL_ERROR"
    fi
    printf '%s\n' "$VER" >"$rec.tmp" && mv "$rec.tmp" "$rec"
}

# Versions listed but not served, one "package version release: why" a line.
VP_SKIPPED=

# vp_fetch_first NAME ARCH RECORD WHAT CANDIDATES: CANDIDATES holds lines
# "VERSION RELEASE", best first (see vp_apt_versions), of the version that
# WHAT describes (e.g. "1.9.x from sid forky").  Set VER, REL and DEB to
# the first candidate the archive serves, and remember it in
# $VP_DEBS/RECORD; the ones skipped are added to VP_SKIPPED.  With none
# served, use the remembered one if its .deb is cached, else stop, naming
# every candidate and why it failed.
vp_fetch_first()
{
    local name=$1 arch=$2 rec=$VP_DEBS/$3 why='' v r
    while read -r v r; do
        [ -n "$v" ] || continue
        if vp_download "$name" "$arch" "$v" "$r"; then
            VER=$v
            REL=$r
            printf '%s %s\n' "$VER" "$REL" >"$rec.tmp" && mv "$rec.tmp" "$rec"
            return 0
        fi
        vp_note "not served: $name $v ($r): $VP_DL_ERROR"
        VP_SKIPPED+="$name $v $r: $VP_DL_ERROR"$'\n'
        why+=" $name $v ($r): $VP_DL_ERROR;"
    done <<<"$5"
    if [ -s "$rec" ]; then
        read -r v r <"$rec"
        if vp_download "$name" "$arch" "$v" "$r"; then
            vp_note "using $name $v ($r), fetched before"
            VER=$v
            REL=$r
            return 0
        fi
    fi
    vp_die "cannot fetch $name $4:${why:- no version listed;}" \
        "none cached in $VP_DEBS"
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
