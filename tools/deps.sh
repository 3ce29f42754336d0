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
    gcc make pkg-config ninja-build        # build tools
    ccache git rsync patch                 # build tools
    meson/bookworm-backports:1.5           # QEMU 10.x needs meson >= 1.5
    python3 python3-venv                   # configure, functional tests
    python3-pycotap/bookworm-backports     # functional tests (TAP output)
    libglib2.0-dev libfdt-dev libpixman-1-dev zlib1g-dev libslirp-dev flex bison
    dpkg-dev                               # apt-get source (dpkg-source)
    cpio kmod xz-utils gzip                # guest kit
    device-tree-compiler socat xorriso     # tests (xorriso: cdrom-test)
    mtools                                 # tests: the ACPI boot's EFI disk
    time                                   # make bench (/usr/bin/time)
    qemu-utils                             # qemu-img: qcow2 for the savevm test
    gcc-riscv64-linux-gnu acpica-tools     # make firmware: EDK2 (and below)
    g++ uuid-dev                           # make firmware: EDK2's BaseTools
    debootstrap dosfstools fdisk e2fsprogs # make image: the Debian disk image
    openssh-client                         # tests: ssh into the Debian image
    libasan8 libubsan1                     # make sanitize: ASan, UBSan (gcc)
    clang-14 libclang-rt-14-dev llvm-14    # make fuzz: libFuzzer, coverage
)
# Installed without their recommends, which are a desktop's worth of QEMU,
# codecs and graphics: libvirt, for tests/functional/libvirt_domain.sh
# (virt-qemu-run, and the libvirt-qemu user its QEMU driver needs). On a
# host without systemd, its sysv scripts, or apt would bring systemd.
lean=(libvirt-daemon-system)
[ -d /run/systemd/system ] || lean+=(libvirt-daemon-system-sysv)

# missing_of NAME...: the specs of the wanted packages that are not there
# (one dpkg-query for all of them: a build with nothing to do stays fast)
missing_of()
{
    local w name min spec have
    local -A status=()
    while IFS='|' read -r name have; do
        status[$name]=$have
    done < <(for w in "$@"; do echo "${w%%[/:]*}"; done |
             xargs dpkg-query -W -f='${Package}|${Status} ${Version}\n' \
                 2>/dev/null || true)
    for w in "$@"; do
        name=${w%%[/:]*}
        min=
        [[ "$w" == *:* ]] && min=${w##*:}
        spec=${w%%:*}
        have=${status[$name]:-}
        if [[ "$have" != "install ok installed"* ]]; then
            echo "$spec"
        elif [ -n "$min" ] &&
             dpkg --compare-versions "${have##* }" lt "$min"; then
            echo "$spec"
        fi
    done
}
# Every later step writes below the cache; a fresh HOME has no ~/.cache.
mkdir -p "$VP_CACHE" || vp_die "cannot create the download cache $VP_CACHE"

mapfile -t missing < <(missing_of "${wanted[@]}")
mapfile -t missing_lean < <(missing_of "${lean[@]}")

apt_ready()
{
    [ -f /etc/apt/sources.list.d/virt-pcie.sources ] &&
        dpkg --print-foreign-architectures | grep -qx riscv64
}

if [ "$(id -u)" = 0 ]; then
    "$VP_TOP/tools/apt-sources.sh"
    aptlog=$VP_CACHE/apt.log
    install()
    {
        vp_say "installing: $*"
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" \
                > "$aptlog" 2>&1; then
            tail -n 15 "$aptlog" >&2
            vp_die "apt-get install $* failed (log: $aptlog)"
        fi
    }
    [ "${#missing[@]}" -gt 0 ] && install "${missing[@]}"
    [ "${#missing_lean[@]}" -gt 0 ] &&
        install --no-install-recommends "${missing_lean[@]}"
    exit 0
fi

if ! apt_ready || [ "${#missing[@]}" -gt 0 ] ||
   [ "${#missing_lean[@]}" -gt 0 ]; then
    echo "$VP_TOOL: this host is not set up for virt-pcie. As root, run:" >&2
    apt_ready || echo "    $VP_TOP/tools/apt-sources.sh" >&2
    [ "${#missing[@]}" -gt 0 ] && echo "    apt-get install ${missing[*]}" >&2
    [ "${#missing_lean[@]}" -gt 0 ] &&
        echo "    apt-get install --no-install-recommends" \
            "${missing_lean[*]}" >&2
    echo "(or run make as root, which does both)" >&2
    exit 1
fi
