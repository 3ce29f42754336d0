#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# minimal_build.sh FORK: the build with only virt-pcie
# (build/minimal/qemu-system-riscv64, from
# configs/devices/riscv64-softmmu/virt-pcie.mak; make minimal, part of make
# check):
#   - its machines are virt-pcie and its versions, and -M virt is refused
#     as an unsupported machine type, named, with exit status 1;
#   - it has the devices of the .mak and not those of the full build that
#     a server guest on virt-pcie does not use;
#   - the stock guest boots on it with NVMe and virtio-net, and both work:
#     data written to the NVMe disk reads back, and the user-net gateway
#     answers pings.
# Prints "ok NAME" or "FAIL NAME" per check; exits non-zero on a failure.

set -u

fork=${1:?usage: $0 FORK}
top=$(cd "$(dirname "$fork")/.." && pwd)
min=$top/build/minimal/qemu-system-riscv64
kit=$top/build/guest
failed=0

ok() { echo "ok $1"; }
fail() { local n=$1; shift; echo "FAIL $n${1:+ ($*)}"; failed=1; }

if [ ! -x "$min" ]; then
    fail minimal-build "$min is missing (make minimal)"
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. Machines.
machines=$("$min" -machine help | awk 'NR > 1 { print $1 }' | sort)
others=$(grep -v -E '^(none|virt-pcie(-[0-9]+\.[0-9]+)?)$' <<<"$machines")
if grep -qx virt-pcie <<<"$machines" && [ -z "$others" ]; then
    ok minimal-machines
else
    fail minimal-machines "machines: $(tr '\n' ' ' <<<"$machines")"
fi
out=$("$min" -M virt -display none 2>&1)
rc=$?
if [ $rc = 1 ] && grep -q 'unsupported machine type: "virt"' <<<"$out"; then
    ok minimal-virt-refused
else
    fail minimal-virt-refused "exit $rc: $out"
fi

# 2. Devices.
devices=$("$min" -device help | sed -n 's/^name "\([^"]*\)".*/\1/p')
missing=
for d in nvme virtio-net-pci virtio-blk-pci virtio-scsi-pci scsi-hd \
         virtio-rng-pci virtio-balloon-pci virtio-serial-pci e1000e \
         pcie-root-port riscv-iommu-pci pci-serial virtio-power-button-pci; do
    grep -qx -- "$d" <<<"$devices" || missing+=" $d"
done
extra=
for d in virtio-mmio e1000 pci-ohci usb-ehci virtio-gpu-pci ich9-ahci \
         sdhci-pci ivshmem-plain; do
    grep -qx -- "$d" <<<"$devices" && extra+=" $d"
done
if [ -z "$missing$extra" ]; then
    ok minimal-devices
else
    fail minimal-devices "missing:${missing:- none}; not wanted:${extra:- none}"
fi

# 3. The stock guest, with NVMe and virtio-net.
sh='dd if=/dev/urandom of=/tmp/d bs=64k count=16 2>/dev/null;'
sh+='dd if=/tmp/d of=/dev/nvme0n1 oflag=direct bs=64k 2>/dev/null;'
sh+='echo VP-W $(md5sum </tmp/d);'
sh+='echo VP-R $(dd if=/dev/nvme0n1 iflag=direct bs=64k count=16'
sh+=' 2>/dev/null|md5sum);'
sh+='ip l set eth0 up;ip a a 10.0.2.15/24 dev eth0;'
sh+='ping -c 3 10.0.2.2|grep -c ttl=|sed "s/^/VP-PONG /"'
cmd="echo $(printf '%s' "$sh" | base64 -w0)|base64 -d|sh"
truncate -s 16M "$tmp/nvme.img"
timeout 300 "$min" -M virt-pcie -m 1G -smp 2 -display none -no-reboot \
    -bios "$kit/opensbi-1.6/fw_dynamic.bin" -kernel "$kit/Image" \
    -initrd "$kit/initrd.cpio.gz" \
    -append "console=ttyS0 panic=-1 -- $cmd" \
    -serial "file:$tmp/console.log" -monitor none \
    -device nvme,serial=vp0,drive=d0 \
    -drive "if=none,id=d0,file=$tmp/nvme.img,format=raw" \
    -netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile= \
    > "$tmp/qemu.log" 2>&1
rc=$?
con=$(tr -d '\r' < "$tmp/console.log")
w=$(sed -n 's/^VP-W \([0-9a-f]*\).*/\1/p' <<<"$con")
r=$(sed -n 's/^VP-R \([0-9a-f]*\).*/\1/p' <<<"$con")
pongs=$(sed -n 's/^VP-PONG \([0-9]*\).*/\1/p' <<<"$con")
missing=
for want in 'driver=nvme irq=msix' 'driver=virtio-pci irq=msix' \
            'tty ttyS0' 'VP-CMD-RC=0'; do
    grep -q -- "$want" <<<"$con" || missing+="'$want' "
done
if [ "$rc" != 0 ] || [ -n "$missing" ]; then
    fail minimal-boot "exit $rc; missing on the console: ${missing:-none};" \
        "it ended: $(tail -c 300 <<<"$con" | tr '\n' ' ')"
else
    ok minimal-boot
fi
if [ -n "$w" ] && [ "$w" = "$r" ]; then
    ok minimal-nvme-data
else
    fail minimal-nvme-data "written ${w:-?}, read back ${r:-?}"
fi
if [ "${pongs:-0}" -ge 2 ]; then
    ok minimal-virtio-net-ping
else
    fail minimal-virtio-net-ping "${pongs:-no} ping replies of 3"
fi
exit $failed
