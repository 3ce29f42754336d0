#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Check that "-M virt" of a fork build is the same machine as upstream's:
# for every configuration of the matrix below it compares the dumped
# device tree (byte for byte, random seeds dropped), "info qtree",
# "info mtree" and "info mtree -f" of both binaries.
#
# Usage: virt_identity.sh FORK_BINARY UPSTREAM_BINARY
#
# Prints "ok NAME" or "FAIL NAME" per check, exits 1 if any check failed.
# Set GUEST_KIT to a directory with Image, initrd.cpio.gz and
# opensbi-1.6/fw_dynamic.bin to add firmware and kernel configurations
# (default: build/guest next to this script's repository, when present).
# Set KEEP=1 to keep the work directory with both sides' outputs.

set -u

if [ $# -ne 2 ]; then
    echo "usage: $0 FORK_BINARY UPSTREAM_BINARY" >&2
    exit 2
fi
fork=$1
upstream=$2
for tool in fdtput dtc cmp timeout python3; do
    if ! command -v "$tool" >/dev/null; then
        echo "$0: $tool is missing (apt-get install device-tree-compiler)" >&2
        exit 2
    fi
done

here=$(cd "$(dirname "$0")" && pwd)
kit=${GUEST_KIT:-$here/../../build/guest}
work=$(mktemp -d)
if [ -z "${KEEP:-}" ]; then
    trap 'rm -rf "$work"' EXIT
else
    echo "work directory: $work"
fi

truncate -s 32M "$work/flash0.img" "$work/flash1.img"

numa4_mem="-m 2G"
numa4_dist=""
for n in 0 1 2 3; do
    numa4_mem="$numa4_mem -object memory-backend-ram,id=ram$n,size=512M"
    numa4_mem="$numa4_mem -numa node,nodeid=$n"
    numa4_mem="$numa4_mem,cpus=$((n * 4))-$((n * 4 + 3)),memdev=ram$n"
done
numa4_plain="-m 1G"
for n in 0 1 2 3; do
    numa4_plain="$numa4_plain -numa node,nodeid=$n"
    numa4_plain="$numa4_plain,cpus=$((n * 4))-$((n * 4 + 3)),mem=256M"
done
for pair in 0,1 0,2 0,3 1,2 1,3 2,3; do
    numa4_dist="$numa4_dist -numa dist,src=${pair%,*},dst=${pair#*,}"
    numa4_dist="$numa4_dist,val=$((20 + ${pair#*,}))"
done
pflash="-drive if=pflash,unit=0,format=raw,file=$work/flash0.img"
pflash="$pflash -drive if=pflash,unit=1,format=raw,file=$work/flash1.img"
# 16 harts in 4 sockets, 512M of RAM each
numa4="-smp 16,sockets=4 $numa4_mem"
pci_devices="-device virtio-iommu-pci -device virtio-rng-pci"
pci_devices="$pci_devices -device virtio-rng-device"

# name|machine options|other options (-bios none unless they name a -bios)
configs=(
    "default|virt|"
    "aia-none-smp8|virt,aia=none|-smp 8"
    "aia-aplic|virt,aia=aplic|-smp 2"
    "aia-aplic-imsic|virt,aia=aplic-imsic|-smp 2"
    "imsic-guests0|virt,aia=aplic-imsic,aia-guests=0|-smp 8"
    "imsic-guests7|virt,aia=aplic-imsic,aia-guests=7|-smp 8"
    "smp1|virt|-smp 1"
    "smp8|virt|-smp 8"
    "numa4|virt|$numa4"
    "numa4-plain|virt|-smp 16,sockets=4 $numa4_plain"
    "numa4-aplic|virt,aia=aplic|$numa4"
    "numa4-imsic-g7-dist|virt,aia=aplic-imsic,aia-guests=7|$numa4 $numa4_dist"
    "numa4-aclint|virt,aclint=on|$numa4"
    "numa4-aclint-imsic|virt,aclint=on,aia=aplic-imsic|$numa4"
    "aclint|virt,aclint=on|-smp 4"
    "aclint-aplic|virt,aclint=on,aia=aplic|-smp 4"
    "acpi-off|virt,acpi=off|"
    "acpi-off-imsic|virt,acpi=off,aia=aplic-imsic|-smp 4"
    "iommu-sys|virt,iommu-sys=on|"
    "iommu-sys-imsic|virt,iommu-sys=on,aia=aplic-imsic|-smp 4"
    "mem-256M|virt|-m 256M"
    "mem-16G|virt|-m 16G"
    "mem-16G-imsic|virt,aia=aplic-imsic|-m 16G -smp 4"
    "pflash|virt|$pflash"
    "pflash-imsic|virt,aia=aplic-imsic|$pflash -smp 4"
    "pci-devices|virt,aia=aplic-imsic|$pci_devices"
    "riscv-iommu-pci|virt|-device riscv-iommu-pci -device virtio-rng-pci"
)
fw=$kit/opensbi-1.6/fw_dynamic.bin
if [ -r "$fw" ] && [ -r "$kit/Image" ] && [ -r "$kit/initrd.cpio.gz" ]; then
    kernel="-kernel $kit/Image -initrd $kit/initrd.cpio.gz"
    configs+=(
        "fw-pflash|virt|-bios $fw $pflash"
        "fw-kernel|virt|-bios $fw $kernel -append console=ttyS0"
        "fw-kernel-numa4-imsic|virt,aia=aplic-imsic|-bios $fw $numa4 $kernel"
    )
else
    echo "note: no guest kit in $kit," \
        "firmware and kernel configurations skipped"
fi

# run SIDE NAME MACHINE OPTIONS: dtb and monitor output of one binary
run() {
    local side=$1 name=$2 machine=$3 opts=$4 bin out
    bin=$fork
    [ "$side" = upstream ] && bin=$upstream
    out=$work/$side.$name
    case " $opts " in
        *" -bios "*) ;;
        *) opts="$opts -bios none" ;;
    esac
    # shellcheck disable=SC2086  # option lists are meant to be split
    timeout 20 "$bin" -M "$machine,dumpdtb=$out.dtb" -nodefaults -seed 1 \
        -serial null -display none -S $opts >"$out.dtb.log" 2>&1
    if [ -s "$out.dtb" ]; then
        fdtput -d "$out.dtb" /chosen rng-seed 2>/dev/null
        fdtput -d "$out.dtb" /chosen kaslr-seed 2>/dev/null
        dtc -q -I dtb -O dts "$out.dtb" >"$out.dts" 2>/dev/null
    fi
    # shellcheck disable=SC2086
    printf 'info qtree\ninfo mtree\ninfo mtree -f\nquit\n' |
        timeout 20 "$bin" -M "$machine" -nodefaults -serial null \
            -display none -S -monitor stdio $opts >"$out.hmp" 2>&1
    # Split the monitor session at each prompt: 1 qtree, 2 mtree, 3 -f
    awk -v base="$out" '/\(qemu\)/ { n++; next } n { print > (base "." n) }' \
        "$out.hmp"
}

# Address spaces come out in hash table order: sort them, and the
# paragraphs they head, before comparing.
normalize_mtree() {
    python3 - "$@" <<'PY'
import os
import re
import sys

for name in sys.argv[1:]:
    if not os.path.exists(name):
        continue
    paragraphs = []
    for para in open(name).read().split("\n\n"):
        lines = [re.sub(r"^FlatView #[0-9]+", "FlatView", line)
                 for line in para.strip("\n").split("\n")]
        heads = [line for line in lines
                 if line.startswith(("address-space:", " AS "))]
        rest = [line for line in lines if line not in heads]
        paragraphs.append("\n".join(sorted(heads) + rest))
    open(name, "w").write("\n\n".join(sorted(paragraphs)) + "\n")
PY
}

failed=0
report() {
    if [ "$2" = 0 ]; then
        echo "ok $1"
    else
        echo "FAIL $1"
        failed=1
    fi
}

same_file() {
    [ -s "$1" ] && [ -s "$2" ] && cmp -s "$1" "$2"
}

for entry in "${configs[@]}"; do
    IFS='|' read -r name machine opts <<<"$entry"
    run fork "$name" "$machine" "$opts"
    run upstream "$name" "$machine" "$opts"
    f=$work/fork.$name
    u=$work/upstream.$name
    normalize_mtree "$f.2" "$f.3" "$u.2" "$u.3"
    same_file "$f.dtb" "$u.dtb"
    report "$name/dtb" $?
    # The fork's compat properties (host side, off by default) are
    # listed in its qtree; a guest sees nothing of them.
    sed -i -E '/^ *x-migrate-v[12] = false\r?$/d' "$f.1"
    same_file "$f.1" "$u.1"
    report "$name/qtree" $?
    same_file "$f.2" "$u.2"
    report "$name/mtree" $?
    same_file "$f.3" "$u.3"
    report "$name/mtree-f" $?
done

exit $failed
