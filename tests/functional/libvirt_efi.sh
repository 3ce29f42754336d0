#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# libvirt_efi.sh FORK: a libvirt domain of machine virt-pcie that boots the
# project's Debian disk image (make image) through libvirt's EFI support,
# with <os firmware='efi'> and nothing else: libvirt picks the firmware by
# the descriptor that make firmware writes (build/firmware/50-virt-pcie-
# edk2-riscv64.json), installed where libvirt looks for descriptors.
# The checks:
#  - libvirt chose virt-pcie's firmware (the <loader> and <nvram> of the
#    running domain), and copied the variable store for the domain;
#  - the console shows GRUB, the kernel and systemd's login prompt;
#  - "virsh shutdown" (QMP system_powerdown: the power button) makes the
#    guest shut down, and the domain stops (shut off);
#  - the root file system was cleanly unmounted (dumpe2fs: clean, no
#    journal recovery needed).
# Prints "ok NAME" or "FAIL NAME" per check; exits non-zero on a failure.
#
# Run by tools/libvirt-root.sh (libvirt_efi_backports.sh), it uses the
# libvirt that VP_VIRSH names, whose daemons already run with the
# descriptor installed (VP_LIBVIRT_STARTED), and whose paths are below
# VP_LIBVIRT_ROOTFS, and checks that the daemon is version VP_LIBVIRT_EXPECT.

set -u

fork=${1:?usage: $0 FORK}
top=$(cd "$(dirname "$fork")/.." && pwd)
name=vp-efi-test
read -r -a virsh <<<"${VP_VIRSH:-virsh}"
virsh+=(-q -c qemu:///system)
fwdir=/etc/qemu/firmware
json=50-virt-pcie-edk2-riscv64.json
image=$top/build/disk/debian.img
info=$top/build/disk/debian.txt
failed=0
installed=
tmp=

ok() { echo "ok $1"; }
fail() { echo "FAIL $1${2:+ ($2)}"; failed=1; }

cleanup()
{
    "${virsh[@]}" destroy "$name" > /dev/null 2>&1
    "${virsh[@]}" undefine --nvram "$name" > /dev/null 2>&1
    [ -n "$installed" ] && rm -f "$fwdir/$json"
    [ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT

if [ "$(id -u)" != 0 ]; then
    fail libvirt-efi "libvirt's system daemon needs root: run as root"
    exit 1
fi
for f in "$image" "$info" "$top/build/firmware/$json"; do
    if [ ! -e "$f" ]; then
        fail libvirt-efi "$f is missing (make build)"
        exit 1
    fi
done

# A copy of the image (the cached one is below root's home, which
# libvirt-qemu cannot enter) and the console log, where libvirt-qemu may
# write
tmp=$(mktemp -d /var/tmp/vp-efi.XXXXXX)
chmod 0755 "$tmp"
disk=$tmp/disk.raw
cp --sparse=always "$(readlink -f "$image")" "$disk"
chmod 0644 "$disk"          # the cached image is read-only
console=$tmp/console.log

# The descriptor, as a distribution's firmware package installs one
if [ -z "${VP_LIBVIRT_STARTED:-}" ]; then
    if ! cmp -s "$top/build/firmware/$json" "$fwdir/$json"; then
        mkdir -p "$fwdir"
        install -m 0644 "$top/build/firmware/$json" "$fwdir/$json"
        installed=1
    fi
    if [ -d /run/systemd/system ]; then
        systemctl restart libvirtd
    else
        service virtlogd start > /dev/null
        service libvirtd restart > /dev/null
    fi
fi
for _ in $(seq 50); do
    "${virsh[@]}" list --all > /dev/null 2>&1 && break
    sleep 0.2
done
daemon=$("${virsh[@]}" version --daemon 2>&1 |
    sed -n 's/^Running against daemon: *//p')
# (a host with no emulator for its own architecture cannot answer that)
[ -n "$daemon" ] || [ -n "${VP_LIBVIRT_STARTED:-}" ] ||
    daemon=$(libvirtd --version 2>/dev/null | awk '{ print $NF }')
echo "libvirt daemon: ${daemon:-unknown}"
if [ -n "${VP_LIBVIRT_EXPECT:-}" ]; then
    if [ "$daemon" = "$VP_LIBVIRT_EXPECT" ]; then
        ok efi-libvirt-version
    else
        fail efi-libvirt-version \
            "daemon '$daemon', expected '$VP_LIBVIRT_EXPECT'"
    fi
fi

cat > "$tmp/domain.xml" <<EOF
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>2048</memory>
  <vcpu>2</vcpu>
  <os firmware='efi'>
    <type arch='riscv64' machine='virt-pcie'>hvm</type>
  </os>
  <devices>
    <emulator>$top/build/qemu-system-riscv64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$disk'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='file'>
      <source path='$console'/>
    </serial>
  </devices>
</domain>
EOF

"${virsh[@]}" undefine --nvram "$name" > /dev/null 2>&1
if ! "${virsh[@]}" define "$tmp/domain.xml" > "$tmp/virsh.log" 2>&1 ||
   ! "${virsh[@]}" start "$name" >> "$tmp/virsh.log" 2>&1; then
    fail efi-domain-started "$(tr '\n' ' ' < "$tmp/virsh.log")"
    exit 1
fi
ok efi-domain-started

xml=$("${virsh[@]}" dumpxml "$name")
loader=$(sed -n 's|.*<loader[^>]*>\(.*\)</loader>.*|\1|p' <<<"$xml")
nvram=$(sed -n 's|.*<nvram[^>]*>\(.*\)</nvram>.*|\1|p' <<<"$xml")
if [ "$(readlink -f "$loader")" = "$top/build/firmware/VIRT_PCIE_CODE.fd" ]
then
    ok efi-firmware-autoselected
else
    fail efi-firmware-autoselected "libvirt chose '$loader'"
fi
if [ -n "$nvram" ] && [ -f "${VP_LIBVIRT_ROOTFS:-}$nvram" ]; then
    ok efi-nvram-copied
else
    fail efi-nvram-copied "no per-domain variable store ('$nvram')"
fi

# wait_for PATTERN SECONDS: wait until the console shows PATTERN
wait_for()
{
    local i
    for i in $(seq $(($2 * 5))); do
        grep -q -- "$1" "$console" 2>/dev/null && return 0
        sleep 0.2
    done
    return 1
}
tail_of() { tail -c 600 "$console" 2>/dev/null | tr -d '\r' | tr '\n' ' '; }

if wait_for 'GNU GRUB' 90; then ok efi-grub-menu
else fail efi-grub-menu "$(tail_of)"; fi
if wait_for 'Linux version' 120; then ok efi-kernel
else fail efi-kernel "$(tail_of)"; fi
if wait_for 'login:' 300; then ok efi-login-prompt
else fail efi-login-prompt "$(tail_of)"; fi

# virsh shutdown: the power button
"${virsh[@]}" shutdown "$name" > /dev/null 2>&1
for _ in $(seq 120); do
    [ "$("${virsh[@]}" domstate "$name" 2>/dev/null | head -n 1)" = \
        "shut off" ] && break
    sleep 1
done
if [ "$("${virsh[@]}" domstate "$name" 2>/dev/null | head -n 1)" = \
     "shut off" ]; then
    ok efi-virsh-shutdown
else
    fail efi-virsh-shutdown "still $("${virsh[@]}" domstate "$name"); $(
        tail_of)"
fi

# The root file system after that shutdown
offset=$(sed -n 's/^root-offset[: ]*\([0-9]*\).*/\1/p' "$info" |
    head -n 1)
if [ -n "$offset" ]; then
    state=$(dumpe2fs -h "$disk?offset=$offset" 2>/dev/null)
    if grep -q '^Filesystem state: *clean$' <<<"$state" &&
       ! grep -q 'needs_recovery' <<<"$state"; then
        ok efi-root-clean
    else
        fail efi-root-clean "$(grep -E 'state|features' <<<"$state" |
            tr '\n' ' ')"
    fi
else
    fail efi-root-clean "no root-offset in $info"
fi

exit $failed
