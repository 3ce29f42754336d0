#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Make sure the host has what virt-pcie needs. As root, set up apt (see
# apt-sources.sh) and install whatever is missing; otherwise print the exact
# commands to run and stop.

set -euo pipefail
VP_TOOL=deps
. "$(dirname "$0")/lib.sh"

# name[/suite][:min-version]   -- why
wanted=(
    gcc make pkg-config ninja-build ccache git rsync patch   # build tools
    meson/bookworm-backports:1.5                             # QEMU 10.0 needs meson >= 1.5
    python3 python3-venv python3-pycotap/bookworm-backports  # configure, functional tests
    libglib2.0-dev libfdt-dev libpixman-1-dev zlib1g-dev libslirp-dev flex bison
    dpkg-dev                                                 # apt-get source (dpkg-source)
    cpio kmod xz-utils gzip                                  # guest kit
    device-tree-compiler socat xorriso                       # tests (xorriso: cdrom-test)
    time                                                     # make bench (/usr/bin/time)
    qemu-utils                                               # qemu-img: qcow2 for the savevm test
)

missing=()
for w in "${wanted[@]}"; do
    [[ "$w" == \#* ]] && continue
    name=${w%%[/:]*}
    min=
    [[ "$w" == *:* ]] && min=${w##*:}
    spec=${w%%:*}
    have=$(dpkg-query -W -f='${Status} ${Version}' "$name" 2>/dev/null || true)
    if [[ "$have" != "install ok installed"* ]]; then
        missing+=("$spec")
    elif [ -n "$min" ] && dpkg --compare-versions "${have##* }" lt "$min"; then
        missing+=("$spec")
    fi
done

apt_ready()
{
    [ -f /etc/apt/sources.list.d/virt-pcie.sources ] &&
        dpkg --print-foreign-architectures | grep -qx riscv64
}

if [ "$(id -u)" = 0 ]; then
    "$VP_TOP/tools/apt-sources.sh"
    if [ "${#missing[@]}" -gt 0 ]; then
        vp_say "installing: ${missing[*]}"
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" > "$VP_CACHE.apt.log" 2>&1; then
            tail -n 15 "$VP_CACHE.apt.log" >&2
            vp_die "apt-get install ${missing[*]} failed (log: $VP_CACHE.apt.log)"
        fi
    fi
    exit 0
fi

if ! apt_ready || [ "${#missing[@]}" -gt 0 ]; then
    echo "$VP_TOOL: this host is not set up for virt-pcie. As root, run:" >&2
    apt_ready || echo "    $VP_TOP/tools/apt-sources.sh" >&2
    [ "${#missing[@]}" -gt 0 ] && echo "    apt-get install ${missing[*]}" >&2
    echo "(or run make as root, which does both)" >&2
    exit 1
fi
