#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Bad build setups get a clear message and leave nothing half-built behind:
# a missing QEMU_SRC, a tree of the wrong series, a patch that does not
# apply, and no network to the archive. Runs the build scripts against
# throw-away trees in a temporary directory; the real build/ is not touched.
# Prints "ok NAME" or "FAIL NAME" per check.

set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
# Run from build/fork-src: the scripts are those of the checkout.
[ -x "$top/tools/fetch-qemu.sh" ] || top=$(cd "$top/../.." && pwd)
tools=$top/tools
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export VP_BUILD=$tmp/build
mkdir -p "$VP_BUILD"
status=0

# expect NAME REGEX CMD...: CMD must fail, and its stderr match REGEX.
expect()
{
    local name=$1 re=$2 out
    shift 2
    if out=$("$@" 2>&1 >/dev/null); then
        echo "FAIL $name (succeeded)"
        status=1
    elif grep -Eq "$re" <<<"$out"; then
        echo "ok $name"
    else
        echo "FAIL $name (message: $out)"
        status=1
    fi
    echo "    $name: $out" | head -n 3 >&2
}

fake_tree()
{
    mkdir -p "$1/hw/riscv"
    echo "$2" > "$1/VERSION"
    printf '#!/bin/sh\n' > "$1/configure"
    chmod +x "$1/configure"
    printf 'line one\nline two\nline three\n' > "$1/hw/riscv/virt.c"
}

expect missing-qemu-src "QEMU_SRC=$tmp/nope: no such directory" \
    env QEMU_SRC="$tmp/nope" "$tools/fetch-qemu.sh"

fake_tree "$tmp/old" 9.2.0
expect wrong-series "is QEMU 9\.2\.0; virt-pcie is built on the 10\.2 series" \
    env QEMU_SRC="$tmp/old" "$tools/fetch-qemu.sh"
[ ! -e "$VP_BUILD/base" ] && echo "ok wrong-series-no-base-link" ||
    { echo "FAIL wrong-series-no-base-link"; status=1; }

mkdir -p "$tmp/notqemu"
expect not-a-qemu-tree "not a QEMU source tree" \
    env QEMU_SRC="$tmp/notqemu" "$tools/fetch-qemu.sh"

fake_tree "$tmp/newer" 10.2.99
if out=$(QEMU_SRC="$tmp/newer" "$tools/fetch-qemu.sh" 2>&1) &&
   grep -q "newer than the recorded base" <<<"$out" &&
   [ "$(readlink "$VP_BUILD/base")" = "$tmp/newer" ]; then
    echo "ok newer-point-release-warns"
else
    echo "FAIL newer-point-release-warns ($out)"
    status=1
fi

mkdir -p "$tmp/patches"
cat > "$tmp/patches/0001-bad.patch" <<'EOT'
--- a/hw/riscv/virt.c
+++ b/hw/riscv/virt.c
@@ -1,3 +1,3 @@
 line one
-line 2
+line deux
 line three
EOT
echo 0001-bad.patch > "$tmp/patches/series"
mkdir -p "$tmp/out"
echo keep > "$tmp/out/marker"
expect patch-does-not-apply \
    "patch .*0001-bad.patch does not apply to hw/riscv/virt.c" \
    env VP_BASE="$tmp/newer" VP_PATCHES="$tmp/patches" \
        "$tools/prepare-tree.sh" "$tmp/out"
[ "$(cat "$tmp/out/marker")" = keep ] && [ ! -e "$tmp/out/VERSION" ] &&
    echo "ok patch-failure-leaves-tree" ||
    { echo "FAIL patch-failure-leaves-tree"; status=1; }

echo 0002-missing.patch > "$tmp/patches/series"
expect series-names-missing-patch \
    "names 0002-missing.patch, but .* does not exist" \
    env VP_BASE="$tmp/newer" VP_PATCHES="$tmp/patches" \
        "$tools/prepare-tree.sh" "$tmp/out"

# No network: apt is sent to a closed local port, and the cache is empty.
printf '%s\n' 'Acquire::http::Proxy "http://127.0.0.1:9/";' \
    'Acquire::Retries "0";' > "$tmp/apt.conf"
expect no-network-qemu \
    "could not fetch qemu 1:10\.2\.[0-9]+\+ds-[0-9]+ from the Debian archive" \
    env APT_CONFIG="$tmp/apt.conf" VP_CACHE="$tmp/cache" "$tools/fetch-qemu.sh"
[ -z "$(ls "$tmp/cache/src" 2>/dev/null)" ] &&
    echo "ok no-network-leaves-no-tree" ||
    { echo "FAIL no-network-leaves-no-tree ($(ls "$tmp/cache/src"))"
      status=1; }
expect no-network-kit "cannot download opensbi" \
    env APT_CONFIG="$tmp/apt.conf" VP_CACHE="$tmp/cache" \
        "$tools/blobs.sh" "$tmp/nobuild"

# A fresh HOME has no ~/.cache: the setup step must create the cache.
mkdir -p "$tmp/home"
if out=$(env -u XDG_CACHE_HOME -u VP_CACHE HOME="$tmp/home" \
             "$tools/deps.sh" 2>&1) &&
   [ -d "$tmp/home/.cache/virt-pcie" ]; then
    echo "ok home-without-cache"
else
    echo "FAIL home-without-cache ($out)"
    status=1
fi

exit $status
