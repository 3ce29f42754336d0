#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# build-edk2.sh: the UEFI firmware of virt-pcie, from Debian's edk2 source
# package (the version in EDK2_BASE) plus our patch queue (edk2/patches)
# and overlay (edk2/overlay, files at their EDK2 paths), built with
# Debian's cross compiler and Debian's build options for RISC-V:
#   build/firmware/VIRT_PCIE_CODE.fd   code, for -drive if=pflash,unit=0
#   build/firmware/VIRT_PCIE_VARS.fd   empty variable store, copied by the
#                                      user for -drive if=pflash,unit=1
#   build/firmware/edk2.txt            what it was built from
#   build/firmware/50-virt-pcie-edk2-riscv64.json
#                                      the firmware descriptor (QEMU's
#                                      docs/interop/firmware.json) by which
#                                      libvirt picks these images for
#                                      <os firmware='efi'> on virt-pcie
# The images are kept in $VP_CACHE/firmware/<key>, keyed by everything
# they are built from, so a warm run only copies them.

set -euo pipefail
VP_TOOL=build-edk2
. "$(dirname "$0")/lib.sh"

ver=$(grep -v '^#' "$VP_TOP/EDK2_BASE" | head -n 1 | tr -d '[:space:]')
[ -n "$ver" ] || vp_die "EDK2_BASE names no edk2 version"
src=$VP_CACHE/src/edk2/$ver
out=$VP_BUILD/firmware
work=$VP_BUILD/edk2-src
cross=riscv64-linux-gnu-
command -v "${cross}gcc" >/dev/null ||
    vp_die "no ${cross}gcc: install gcc-riscv64-linux-gnu (tools/deps.sh)"
command -v iasl >/dev/null ||
    vp_die "no iasl: install acpica-tools (tools/deps.sh)"

# Debian's options for qemu-efi-riscv64 (debian/rules, RISCV64_FLAGS),
# plus what the machine differs in from upstream virt: the timebase.
flags=(
    -DCC_MEASUREMENT_ENABLE=TRUE
    -DNETWORK_HTTP_BOOT_ENABLE=TRUE
    -DNETWORK_IP6_ENABLE=TRUE
    -DNETWORK_TLS_ENABLE
    # virt-pcie's mtime counts nanoseconds (spec: Timer)
    --pcd gUefiCpuPkgTokenSpaceGuid.PcdCpuCoreCrystalClockFrequency=1000000000
)

mkdir -p "$VP_CACHE/firmware" "$out"
exec 8>"$VP_CACHE/firmware/.lock"
flock 8

# 1. The source: Debian's package, unpacked once into the cache.
if [ ! -f "$src/tree/edksetup.sh" ]; then
    suites=$(vp_src_suites edk2 "$ver")
    [ -n "$suites" ] ||
        vp_die "no apt source index lists edk2 $ver (EDK2_BASE). Run" \
            "tools/apt-sources.sh as root, and check that the archive" \
            "still serves it."
    vp_say "fetching edk2 $ver (Debian $suites) into $src"
    vp_src_fetch edk2 "$ver" "$src" && [ -f "$src/tree/edksetup.sh" ] ||
        vp_die "could not fetch edk2 $ver from the Debian archive (listed" \
            "by: $suites; tried apt-get source, then the files one by one" \
            "against their sha256): see the messages above"
fi

# 2. Everything the images depend on.
inputs()
{
    echo "edk2 $ver"
    "${cross}gcc" --version | head -n 1
    iasl -v 2>/dev/null | grep -i version | head -n 1
    echo "${flags[*]}"
    # (paths relative to the checkout: a fresh clone has the same key)
    (cd "$VP_TOP" && sha256sum tools/build-edk2.sh tools/prepare-tree.sh &&
     find edk2/patches edk2/overlay -type f -print0 | sort -z |
         xargs -0 sha256sum)
}
key=$(inputs | sha256sum | cut -c1-16)
cached=$VP_CACHE/firmware/edk2-$ver-$key
npatch=$(grep -cv '^[[:space:]]*\(#\|$\)' "$VP_TOP/edk2/patches/series")

# The descriptor names the images where they are in this checkout.  Its
# number sorts it before Debian's 60-edk2-riscv64.json, whose "virt*"
# also matches virt-pcie but whose image cannot run there.
descriptor()
{
    cat <<EOF_JSON
{
    "description": "UEFI firmware for QEMU's RISC-V virt-pcie machine",
    "interface-types": ["uefi"],
    "mapping": {
        "device": "flash",
        "mode": "split",
        "executable": {
            "filename": "$out/VIRT_PCIE_CODE.fd",
            "format": "raw"
        },
        "nvram-template": {
            "filename": "$out/VIRT_PCIE_VARS.fd",
            "format": "raw"
        }
    },
    "targets": [
        {
            "architecture": "riscv64",
            "machines": ["virt-pcie", "virt-pcie-*"]
        }
    ],
    "features": [],
    "tags": []
}
EOF_JSON
}

install_images()
{
    local json=$out/50-virt-pcie-edk2-riscv64.json
    install -C -m 0644 "$cached/VIRT_PCIE_CODE.fd" "$out/VIRT_PCIE_CODE.fd"
    install -C -m 0644 "$cached/VIRT_PCIE_VARS.fd" "$out/VIRT_PCIE_VARS.fd"
    install -C -m 0644 "$cached/edk2.txt" "$out/edk2.txt"
    if [ "$(descriptor)" != "$(cat "$json" 2>/dev/null)" ]; then
        descriptor > "$json"
    fi
}

if [ -f "$cached/VIRT_PCIE_CODE.fd" ] && [ -f "$cached/edk2.txt" ]; then
    install_images
    exit 0
fi

# 3. The tree: base + queue + overlay (a patch that does not apply stops
# here, naming it and the file).
VP_BASE=$src/tree VP_BASE_MARK=edksetup.sh VP_PATCHES=$VP_TOP/edk2/patches \
VP_TREE_OVERLAY=$VP_TOP/edk2/overlay \
VP_TREE_OVERLAY_DIRS="$(cd "$VP_TOP/edk2/overlay" && echo *)" \
    "$VP_TOP/tools/prepare-tree.sh" "$work"

# 4. The build, as Debian's rules do it.
log=$work/vp-build.log
vp_say "building EDK2 $ver for virt-pcie in $work (log: $log)"
start=$(date +%s)
if ! (
    cd "$work"
    unset WORKSPACE EDK_TOOLS_PATH CONF_PATH
    export GCC5_RISCV64_PREFIX=$cross PYTHON3_ENABLE=TRUE
    set +u
    . ./edksetup.sh
    set -u
    make -C BaseTools -j"$(nproc)"
    build -a RISCV64 -t GCC5 -b RELEASE -n "$(nproc)" \
        -p OvmfPkg/RiscVVirt/VirtPcie.dsc "${flags[@]}"
) > "$log" 2>&1; then
    grep -E ': error( [0-9A-F]+)?:|^Error|FAILED' "$log" | head -n 20 >&2 ||
        true
    vp_die "the EDK2 build failed (log: $log)"
fi
fv=$work/Build/RiscVVirtQemu/RELEASE_GCC5/FV

rm -rf "$cached.tmp"
mkdir -p "$cached.tmp"
# QEMU's pflash banks of virt-pcie are 32 MiB each.
for f in CODE VARS; do
    cp "$fv/RISCV_VIRT_$f.fd" "$cached.tmp/VIRT_PCIE_$f.fd"
    truncate -s 32M "$cached.tmp/VIRT_PCIE_$f.fd"
done
{
    echo "edk2 $ver (Debian source package) + $npatch patches + overlay"
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $(($(date +%s) - start)) s"
    echo "key $key"
    inputs | sed 's/^/  /'
} > "$cached.tmp/edk2.txt"
rm -rf "$cached"
mv "$cached.tmp" "$cached"
install_images
vp_say "built $out/VIRT_PCIE_CODE.fd in $(($(date +%s) - start)) s"
