#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# build-release.sh [VERSION...]: build the fork as it was released for
# machine version VERSION (e.g. 10.0; default: every version recorded under
# tests/data/virt-pcie/), so that tests can migrate between it and the
# current build.
#
# The commit comes from tests/data/virt-pcie/VERSION/built-from and is taken
# from this repository's own history (git archive; a shallow clone that lacks
# it fails, naming it). It is unpacked into $VP_CACHE/releases/<commit>/src
# and built there by that commit's own tools: its Makefile's `fork` target
# (without `deps`: the current tools/deps.sh has set the host up) and its
# tools/blobs.sh for the firmware the binary loads by default. The download
# cache is shared, so the QEMU base in $VP_CACHE/src is reused, and
# CCACHE_BASEDIR is that checkout, so ccache hits what a build of the same
# source elsewhere left. The result is
#     $VP_CACHE/releases/<commit>/qemu-system-riscv64
# a link into the release's build tree (which holds its qemu-bundle); once it
# exists, the release is not built again.

set -euo pipefail
VP_TOOL=build-release
. "$(dirname "$0")/lib.sh"

# build_one VERSION
build_one()
{
    local ver=$1 commit rel src bin log start
    commit=$(vp_release_commit "$ver") || exit 1
    rel=$VP_RELEASES/$commit
    src=$rel/src
    bin=$rel/qemu-system-riscv64
    if [ -x "$bin" ]; then
        vp_say "virt-pcie-$ver: $bin (cached, commit ${commit:0:12})"
        return 0
    fi

    mkdir -p "$rel"
    # One build per release at a time; a second caller waits, then finds it.
    exec 9> "$rel/.lock"
    flock 9
    if [ -x "$bin" ]; then
        vp_say "virt-pcie-$ver: $bin (built meanwhile, commit ${commit:0:12})"
        exec 9>&-
        return 0
    fi

    if [ ! -f "$src/.vp-release" ]; then
        git -C "$VP_TOP" rev-parse -q --verify "$commit^{commit}" \
            > /dev/null 2>&1 ||
            vp_die "cannot build virt-pcie-$ver: commit $commit" \
                "is not in the repository at $VP_TOP" \
                "(a shallow clone? 'git fetch --unshallow' brings it)"
        rm -rf "$src.tmp"
        mkdir -p "$src.tmp"
        if ! git -C "$VP_TOP" archive --format=tar "$commit" |
             tar -x -C "$src.tmp"; then
            rm -rf "$src.tmp"
            vp_die "cannot build virt-pcie-$ver:" \
                "git archive of commit $commit failed"
        fi
        echo "$commit" > "$src.tmp/.vp-release"
        rm -rf "$src"
        mv "$src.tmp" "$src"
    fi

    log=$rel/build.log
    vp_say "virt-pcie-$ver: building commit ${commit:0:12} in $src (log: $log)"
    start=$(date +%s)
    # The commit's own tools, in its checkout; nothing of this checkout's
    # setup may leak in (QEMU_SRC would be another series' tree).
    if ! (cd "$src" &&
          env -u QEMU_SRC -u VP_BUILD -u VP_BASE -u VP_PATCHES \
              -u MAKEFLAGS -u MFLAGS -u MAKELEVEL VP_CACHE="$VP_CACHE" \
              CCACHE_BASEDIR="$src" CCACHE_NOHASHDIR=1 \
              sh -c 'make -o deps fork && tools/blobs.sh build/fork') \
          > "$log" 2>&1; then
        tail -n 20 "$log" >&2
        vp_die "cannot build virt-pcie-$ver from commit $commit" \
            "(full log: $log)"
    fi
    [ -x "$src/build/fork/qemu-system-riscv64" ] ||
        vp_die "building commit $commit left no" \
            "$src/build/fork/qemu-system-riscv64 (log: $log)"
    if ! "$src/build/fork/qemu-system-riscv64" -M help |
         grep -q "^virt-pcie-$ver "; then
        vp_die "the build of commit $commit has no machine virt-pcie-$ver"
    fi
    # The stage copy is only needed to assemble the tree again.
    rm -rf "$src/build/fork-src.stage"
    ln -sfn src/build/fork/qemu-system-riscv64 "$bin.new"
    mv -T "$bin.new" "$bin"
    vp_say "virt-pcie-$ver: $bin (built in $(( $(date +%s) - start )) s)"
    exec 9>&-
}

if [ $# -eq 0 ]; then
    mapfile -t versions < <(vp_release_versions)
    [ "${#versions[@]}" -gt 0 ] ||
        vp_die "no release recorded under $VP_TOP/tests/data/virt-pcie"
    set -- "${versions[@]}"
fi
for v in "$@"; do
    build_one "$v"
done
