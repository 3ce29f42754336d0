#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Boot the stock guest kit on the fork, to a shell on this terminal.
# Ctrl-A X leaves QEMU. Variables:
#   VP_MACHINE   machine and options (default: virt-pcie)
#   VP_OPENSBI   kit firmware version (default: the newest in build/guest)
#   VP_KERNEL    "new": the kit's newer kernel (build/guest/new) instead of
#                its stock one
#   VP_APPEND    extra kernel command line
#   Any arguments are passed on to QEMU.

set -euo pipefail
VP_TOOL=run-guest
. "$(dirname "$0")/lib.sh"

guest=$VP_BUILD/guest
qemu=$VP_BUILD/qemu-system-riscv64
machine=${VP_MACHINE:-virt-pcie}
opensbi=${VP_OPENSBI:-$(ls -d "$guest"/opensbi-* | sort -V | tail -n 1 |
    sed 's/.*opensbi-//')}
fw=$guest/opensbi-$opensbi/fw_dynamic.bin
case ${VP_KERNEL:-} in
'') kdir=$guest ;;
new) kdir=$guest/new ;;
*) vp_die "VP_KERNEL=$VP_KERNEL: only \"new\" (or nothing) is known" ;;
esac
for f in "$qemu" "$kdir/Image" "$kdir/initrd.cpio.gz" "$fw"; do
    [ -e "$f" ] || vp_die "$f is missing; run 'make build' first"
done

disk=$VP_BUILD/run-disk.img
[ -f "$disk" ] || truncate -s 256M "$disk"

exec "$qemu" -M "$machine" -m 1G -smp 2 -nographic \
    -bios "$fw" -kernel "$kdir/Image" -initrd "$kdir/initrd.cpio.gz" \
    -append "console=ttyS0 earlycon=sbi ${VP_APPEND:-}" \
    -device nvme,serial=vp0,drive=disk0 \
    -drive "if=none,id=disk0,file=$disk,format=raw" \
    -device virtio-net-pci,netdev=net0,romfile= -netdev user,id=net0 \
    "$@"
