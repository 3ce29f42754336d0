#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# blobs.sh BUILDDIR...: give each build the firmware that Debian strips from
# its QEMU source, taken from Debian's own binary packages:
#   - OpenSBI (opensbi, trixie) as the default -bios of the riscv machines;
#   - NIC option ROMs (ipxe-qemu) for PCI NICs' default romfile;
#   - VGA BIOS ROMs (seabios) for the display devices' default romfile
#     (VGA, bochs-display, ...), which a RISC-V guest never runs but which
#     the devices load, as with Debian's QEMU;
#   - EDK2 RISC-V code and vars (qemu-efi-riscv64, trixie) where
#     bios-tables-test looks for them (pc-bios/ under the build dir).
# The files are copied (install -C: only when they changed), not linked:
# the package cache is below the user's home directory, which the user
# that libvirt runs QEMU as (libvirt-qemu) may not be allowed to enter.

set -euo pipefail
VP_TOOL=blobs
. "$(dirname "$0")/lib.sh"

mkdir -p "$VP_DEBS" "$VP_EXTRACT"
vp_apt_query opensbi ipxe-qemu seabios qemu-efi-riscv64

# package: NAME RELEASE; sets TREE to its unpacked tree
package()
{
    vp_fetch "$1" all "$2"
    vp_unpack "$1" "$VER" "$DEB"
}

package opensbi trixie
opensbi=$TREE/usr/lib/riscv64-linux-gnu/opensbi/generic
package ipxe-qemu bookworm
ipxe=$TREE/usr/lib/ipxe/qemu
package seabios bookworm
seabios=$TREE/usr/share/seabios
package qemu-efi-riscv64 trixie
edk2=$TREE/usr/share/qemu-efi-riscv64

for f in "$opensbi/fw_dynamic.bin" "$ipxe/efi-e1000e.rom" \
         "$seabios/vgabios-bochs-display.bin" \
         "$edk2/RISCV_VIRT_CODE.fd" "$edk2/RISCV_VIRT_VARS.fd"; do
    [ -f "$f" ] ||
        vp_die "expected firmware file $f is not in its Debian package"
done

for bld in "$@"; do
    data=$bld/qemu-bundle/usr/local/share/qemu
    mkdir -p "$data" "$bld/pc-bios"
    # (rm -f: earlier builds linked them, and install would follow a link)
    copy()
    {
        [ -L "$2" ] && rm -f "$2"
        install -C -m 0644 "$1" "$2" || vp_die "cannot copy $1 to $2"
    }
    copy "$opensbi/fw_dynamic.bin" \
        "$data/opensbi-riscv64-generic-fw_dynamic.bin"
    for rom in "$ipxe"/*.rom; do
        copy "$rom" "$data/$(basename "$rom")"
    done
    for rom in "$seabios"/vgabios-*.bin; do
        copy "$rom" "$data/$(basename "$rom")"
    done
    copy "$edk2/RISCV_VIRT_CODE.fd" "$bld/pc-bios/edk2-riscv-code.fd"
    copy "$edk2/RISCV_VIRT_VARS.fd" "$bld/pc-bios/edk2-riscv-vars.fd"
done
