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

# The Debian source version recorded in QEMU_BASE, e.g. 1:10.0.13+ds-0+deb13u1.
vp_base_debian_version()
{
    grep -v '^#' "$VP_TOP/QEMU_BASE" | head -n 1 | tr -d '[:space:]'
}

# 1:10.0.13+ds-0+deb13u1 -> 10.0.13
vp_upstream_of()
{
    local v=${1#*:}
    v=${v%%-*}
    echo "${v%%+*}"
}

# 10.0.13 -> 10.0
vp_series_of()
{
    echo "$1" | cut -d. -f1-2
}

# vp_version_gt A B: true if version A sorts after version B.
vp_version_gt()
{
    dpkg --compare-versions "$1" gt "$2"
}

# vp_deb PACKAGE[:ARCH]/SUITE: download one Debian binary package into
# $VP_CACHE/debs (unless it is there already), unpack it into
# $VP_CACHE/extract/<deb name>/ and print that directory.
vp_deb()
{
    local spec=$1 line uri file hash dir
    mkdir -p "$VP_CACHE/debs" "$VP_CACHE/extract"
    line=$(apt-get download --print-uris -q "$spec" 2>/dev/null | grep "^'" | head -n 1) || true
    if [ -z "$line" ]; then
        # Offline or no index: settle for a copy fetched earlier.
        file=$(ls -t "$VP_CACHE/debs/${spec%%[:/]*}"_*.deb 2>/dev/null | head -n 1) || true
        [ -n "$file" ] ||
            vp_die "apt has no package $spec and none is cached (run tools/apt-sources.sh as root?)"
        file=$(basename "$file")
    else
        read -r uri file _ hash <<<"$line"
        uri=${uri//\'/}
        if [ ! -f "$VP_CACHE/debs/$file" ]; then
            /usr/lib/apt/apt-helper download-file "$uri" "$VP_CACHE/debs/$file.part" "$hash" \
                > /dev/null 2>&1 ||
                vp_die "cannot download $spec ($file) from the Debian archive"
            mv "$VP_CACHE/debs/$file.part" "$VP_CACHE/debs/$file"
        fi
    fi
    dir=$VP_CACHE/extract/${file%.deb}
    if [ ! -d "$dir" ]; then
        rm -rf "$dir.tmp"
        dpkg-deb -x "$VP_CACHE/debs/$file" "$dir.tmp" ||
            vp_die "cannot unpack $VP_CACHE/debs/$file"
        mv "$dir.tmp" "$dir"
    fi
    echo "$dir"
}
