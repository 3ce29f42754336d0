#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Add the Debian suites virt-pcie needs to apt, derived from the mirror the
# machine already uses (no host name is written into the repository):
#   - sid deb-src: the QEMU base (QEMU_BASE: Debian's 10.2, served by sid);
#   - trixie deb-src: the firmware sources, and the QEMU 10.0 base of the
#     10.0 release that tools/build-release.sh rebuilds from this
#     repository's history, so it stays when the base moves on;
#   - trixie riscv64: the stock guest kernel, busybox and OpenSBI 1.6;
#   - bookworm-backports: meson >= 1.5, pycotap and OpenSBI 1.5.1.
# sid, forky and trixie-backports (the newer guest kernel and OpenSBI 1.9)
# are not added here: tools/guest-kit.sh reads them through a private apt
# configuration in the cache (vp_apt_setup in tools/lib.sh).
# trixie is pinned low so that it never replaces a host package.
# Must run as root. Idempotent; prints what it changed.

set -euo pipefail
VP_TOOL=apt-sources
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

list=/etc/apt/sources.list.d/virt-pcie.sources
pref=/etc/apt/preferences.d/virt-pcie

mirror=$(vp_debian_mirror "$list")
if [ -z "$mirror" ]; then
    echo "apt-sources: no Debian archive entry found in /etc/apt;" \
        "cannot derive a mirror" >&2
    exit 1
fi
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

want=$(cat <<EOT
# Written by virt-pcie tools/apt-sources.sh from this machine's own entries.
Types: deb-src
URIs: $mirror
Suites: trixie sid
Components: main
Signed-By: $keyring

Types: deb
URIs: $mirror
Suites: trixie
Components: main
Architectures: riscv64
Signed-By: $keyring

Types: deb deb-src
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: $keyring
EOT
)

changed=0
if [ "$(cat "$list" 2>/dev/null)" != "$want" ]; then
    printf '%s\n' "$want" > "$list"
    echo "apt-sources: wrote $list" \
        "(mirror taken from this machine's apt entries)"
    changed=1
fi

want_pref=$(cat <<EOT
# virt-pcie: trixie only provides riscv64 guest packages and sources here.
Package: *
Pin: release n=trixie
Pin-Priority: 50
EOT
)
if [ "$(cat "$pref" 2>/dev/null)" != "$want_pref" ]; then
    printf '%s\n' "$want_pref" > "$pref"
    changed=1
fi

if ! dpkg --print-foreign-architectures | grep -qx riscv64; then
    dpkg --add-architecture riscv64
    echo "apt-sources: added dpkg architecture riscv64" \
        "(for apt-get download only)"
    changed=1
fi

stamp=/var/lib/apt/lists/virt-pcie.stamp
if [ "$changed" = 1 ] || [ ! -e "$stamp" ] || [ -n "${VP_APT_UPDATE:-}" ]; then
    echo "apt-sources: apt-get update"
    if ! apt-get update -q 2>&1 | grep -v '^N: Skipping acquire'; then
        :
    fi
    versions=$(apt-cache showsrc qemu 2>/dev/null || true)
    # 10.0: the base of the virt-pcie-10.0 release (tools/build-release.sh);
    # 10.2: QEMU_BASE.
    if ! grep -q '^Version: 1:10\.0\.' <<<"$versions" ||
       ! grep -q '^Version: 1:10\.2\.' <<<"$versions"; then
        echo "apt-sources: apt-get update did not bring the qemu" \
            "source indexes" >&2
        echo "             of trixie and sid;" \
            "is the Debian archive reachable?" >&2
        exit 1
    fi
    touch "$stamp"
fi
