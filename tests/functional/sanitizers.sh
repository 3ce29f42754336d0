#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# sanitizers.sh FORK: the fork built with AddressSanitizer and
# UndefinedBehaviorSanitizer (build/sanitize, made by make sanitize, part of
# make check) runs
#   - our qtests, virt-pcie-test and pci-serial-msi-test;
#   - one boot of the stock guest kit on virt-pcie, with NVMe, virtio-blk
#     and virtio-net, to the guest's report and its poweroff.
# Every sanitizer report goes to a log file of its own (log_path); any such
# file fails the check, whatever the exit status of the process was.
# Prints "ok NAME" or "FAIL NAME" per check; exits non-zero on a failure.

set -u

fork=${1:?usage: $0 FORK}
top=$(cd "$(dirname "$fork")/.." && pwd)
san=$top/build/sanitize/qemu-system-riscv64
kit=$top/build/guest
failed=0

ok() { echo "ok $1"; }
fail() { local n=$1; shift; echo "FAIL $n${1:+ ($*)}"; failed=1; }

if [ ! -x "$san" ]; then
    fail sanitize-build "$san is missing (make sanitize)"
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

export ASAN_OPTIONS=log_path=$tmp/asan:halt_on_error=1:detect_leaks=0
export UBSAN_OPTIONS=log_path=$tmp/ubsan:halt_on_error=1:print_stacktrace=1

# reports NAME: fail NAME with the first report if there is any
reports()
{
    local f
    for f in "$tmp"/asan.* "$tmp"/ubsan.*; do
        # (ASan's warning about QEMU's coroutines is not a report)
        grep -q -E 'ERROR: [A-Za-z]+Sanitizer|runtime error' "$f" 2>/dev/null ||
            continue
        echo "--- $f"
        head -n 40 "$f"
        fail "$1" "sanitizer report: $(grep -m1 -E \
            'ERROR: [A-Za-z]+Sanitizer|runtime error' "$f")"
        rm -f "$tmp"/asan.* "$tmp"/ubsan.*
        return 1
    done
    return 0
}

for t in virt-pcie-test pci-serial-msi-test; do
    bin=$top/build/fork/tests/qtest/$t
    if [ ! -x "$bin" ]; then
        fail "qtest-$t" "$bin is missing (make check builds it)"
        continue
    fi
    # (1 MiB through the UART takes 90 s under ASan: 64 KiB is enough)
    QTEST_QEMU_BINARY=$san QTEST_PCI_SERIAL_MSI_BYTES=65536 \
        timeout 900 "$bin" --tap > "$tmp/$t.tap" 2>&1
    rc=$?
    cat "$tmp/$t.tap"
    n=$(grep -c '^ok ' "$tmp/$t.tap")
    if [ "$rc" != 0 ] || grep -q '^not ok' "$tmp/$t.tap" || [ "$n" = 0 ]
    then
        fail "qtest-$t" "exit $rc, $n passed"
    elif reports "qtest-$t"; then
        ok "qtest-$t ($n cases)"
    fi
done

truncate -s 16M "$tmp/nvme.img" "$tmp/vblk.img"
timeout 600 "$san" -M virt-pcie -m 1G -smp 2 -display none -no-reboot \
    -bios "$kit/opensbi-1.6/fw_dynamic.bin" -kernel "$kit/Image" \
    -initrd "$kit/initrd.cpio.gz" \
    -append 'console=ttyS0 panic=-1 -- true' \
    -serial "file:$tmp/console.log" -monitor none \
    -device nvme,serial=vp0,drive=d0 \
    -drive "if=none,id=d0,file=$tmp/nvme.img,format=raw" \
    -device virtio-blk-pci,drive=d1 \
    -drive "if=none,id=d1,file=$tmp/vblk.img,format=raw" \
    -netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile= \
    > "$tmp/qemu.log" 2>&1
rc=$?
con=$(tr -d '\r' < "$tmp/console.log")
want=(
    'driver=nvme irq=msix'
    'driver=virtio-pci irq=msix'
    'driver=serial irq=intx'
    'tty ttyS0'
    'rtc .* 20[0-9][0-9] '
    'VP-CMD-RC=0'
)
missing=
for w in "${want[@]}"; do
    grep -q -E -- "$w" <<<"$con" || missing+="'$w' "
done
if [ "$rc" != 0 ] || [ -n "$missing" ]; then
    end=$(tail -c 300 <<<"$con"; head -c 300 "$tmp/qemu.log")
    fail guest-boot "exit $rc; missing on the console: ${missing:-none};" \
        "it ended: $(tr '\n' ' ' <<<"$end")"
elif reports guest-boot; then
    ok guest-boot
fi
exit $failed
