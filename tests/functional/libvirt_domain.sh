#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# libvirt_domain.sh FORK UPSTREAM: a libvirt domain on -M virt-pcie.
#
# libvirt (Debian's, through virt-qemu-run: its QEMU driver embedded in one
# process, with a private root directory, no daemon) starts the stock guest
# kit from a domain XML that gives no PCI address at all, as a user would
# write it:
#  - machine='virt-pcie', OpenSBI as <loader type='rom'>, kernel, initrd;
#  - the default <serial> (libvirt's -serial: the built-in console);
#  - a second <serial> with <target type='pci-serial'/>;
#  - a virtio NIC, a virtio disk, and libvirt's default memory balloon.
# libvirt adds the pcie-root-ports and the pcie-pci-bridge itself, from
# slot 1 of pcie.0 on. The checks, on what the guest reports:
#  - libvirt started QEMU (it resolved virt-pcie to a versioned machine);
#  - ttyS0 is the console function 00:00.1 and carries the console;
#  - the pci-serial target is bound by 8250_pci (ttyS1);
#  - the NIC, the disk and the balloon are bound by virtio-pci, the NIC
#    and the disk on MSI-X;
#  - the guest powers off.
# Prints "ok NAME" or "FAIL NAME" per check; exits non-zero on a failure.

set -u

fork=${1:?usage: $0 FORK UPSTREAM}
kit=${VP_GUEST:?VP_GUEST (the guest kit directory) is not set}
tmp=$(mktemp -d)
runner=
cleanup()
{
    [ -n "$runner" ] && kill "$runner" 2>/dev/null && wait "$runner"
    rm -rf "$tmp"
}
trap cleanup EXIT
failed=0

ok() { echo "ok $1"; }
fail() { echo "FAIL $1${2:+ ($2)}"; failed=1; }

if ! command -v virt-qemu-run > /dev/null; then
    pkg=libvirt-daemon-driver-qemu
    fail libvirt-installed "virt-qemu-run not found: apt-get install $pkg"
    exit 1
fi

# Which device is each ttyS, and which is the console
cmd='for t in /sys/class/tty/ttyS?;do '
cmd+='echo VP-TTY ${t##*/} $(readlink $t/device);done;'
cmd+='echo VP-ACTIVE $(cat /sys/class/tty/console/active)'

truncate -s 16M "$tmp/disk.img"
mkdir -p "$tmp/root/etc"
# No virtlogd (QEMU's output goes straight to a file); QEMU runs as the
# caller, without relabelling the caller's files, so nothing depends on
# the libvirt-qemu user that libvirt-daemon-system creates.
cat > "$tmp/root/etc/qemu.conf" <<EOF
stdio_handler = "file"
user = "$(id -un)"
group = "$(id -gn)"
dynamic_ownership = 0
security_driver = "none"
EOF
cat > "$tmp/domain.xml" <<EOF
<domain type='qemu'>
  <name>vp-libvirt</name>
  <memory unit='MiB'>1024</memory>
  <vcpu>2</vcpu>
  <os>
    <type arch='riscv64' machine='virt-pcie'>hvm</type>
    <loader type='rom'>$kit/opensbi-1.6/fw_dynamic.bin</loader>
    <kernel>$kit/Image</kernel>
    <initrd>$kit/initrd.cpio.gz</initrd>
    <cmdline>console=ttyS0 panic=-1 -- $cmd</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$fork</emulator>
    <serial type='file'>
      <source path='$tmp/console.log'/>
    </serial>
    <serial type='file'>
      <source path='$tmp/second.log'/>
      <target type='pci-serial'/>
    </serial>
    <interface type='user'>
      <model type='virtio'/>
      <rom enabled='no'/>
    </interface>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$tmp/disk.img'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
EOF

# virt-qemu-run returns when the domain stops; libvirt 9.0's embedded
# driver does not act on the guest's poweroff (on_poweroff), so the run is
# ended once the guest has said it powers off.
virt-qemu-run --root "$tmp/root" "$tmp/domain.xml" > "$tmp/run.log" 2>&1 &
runner=$!
for _ in $(seq 300); do
    grep -q VP-POWEROFF "$tmp/console.log" 2>/dev/null && break
    kill -0 "$runner" 2>/dev/null || break
    sleep 0.5
done
qemulog=$(find "$tmp/root" -name vp-libvirt.log | head -n 1)

if grep -q -- '-machine virt-pcie-[0-9.]*,' "${qemulog:-/dev/null}" &&
   ! grep -q 'cannot start VM' "$tmp/run.log" && [ -s "$tmp/console.log" ]; then
    ok started-by-libvirt
else
    fail started-by-libvirt "$(tail -n 3 "$tmp/run.log" | tr '\n' ' ')"
    exit 1
fi

report=$(tr -d '\r' < "$tmp/console.log" 2>/dev/null)
has() { grep -q -- "$1" <<< "$report"; }

if has '^VP-TTY ttyS0 .*/0000:00:00\.1:0\.0$' &&
   has '^VP-ACTIVE ttyS0$'; then
    ok console-ttyS0-is-00:00.1
else
    fail console-ttyS0-is-00:00.1 \
        "$(grep '^VP-TTY\|^VP-ACTIVE' <<< "$report" | tr '\n' ' ')"
fi

# The pci-serial target: bound by 8250_pci, behind libvirt's bridges
line=$(grep '^pci [0-9a-f:.]* 1b36:0002 ' <<< "$report" |
       grep -v ' 0000:00:00\.1 ')
tty=$(grep '^VP-TTY ttyS1 ' <<< "$report")
bdf=$(awk '{print $2}' <<< "$line")
if [ -n "$bdf" ] && grep -q 'driver=serial' <<< "$line" &&
   grep -q "/$bdf:0\.0$" <<< "$tty"; then
    ok pci-serial-target-is-ttyS1
else
    fail pci-serial-target-is-ttyS1 \
        "${line:-no second 1b36:0002}; ${tty:-no ttyS1}"
fi

# virtio NIC (1041) and disk (1042) on MSI-X, balloon (1045) bound
for want in '1af4:1041 .*driver=virtio-pci irq=msix' \
            '1af4:1042 .*driver=virtio-pci irq=msix' \
            '1af4:1045 .*driver=virtio-pci'; do
    name=virtio-${want:5:4}
    if has "^pci [0-9a-f:.]* $want"; then
        ok "$name-bound"
    else
        fail "$name-bound" "$(grep "${want%% *}" <<< "$report")"
    fi
done

if has '^VP-POWEROFF'; then
    ok guest-powered-off
else
    fail guest-powered-off "$(tail -n 3 <<< "$report" | tr '\n' ' ')"
fi
exit $failed
