#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# attack.sh SEED N: run in the virt-pcie stock guest (busybox sh, root,
# kernel with iomem=relaxed so that /dev/mem reaches claimed ranges too).
# Writes seeded pseudo-random values, N per target, with busybox devmem:
#   - to every MMIO region of the memory map (the M-level ones fault in
#     S-mode, by the firmware's PMP: the writes are tried all the same);
#   - to the configuration space of every function, by ECAM;
#   - to every memory BAR;
#   - to the S-level IMSIC interrupt files of harts 0 and 1;
#   - to the MSI and MSI-X capabilities, programmed with wild addresses and
#     data and enabled.
# Prints "VP-HIT NAME" after each target and "VP-ATTACK-END" at the end.
# The guest may die on the way; the host process must not.

seed=${1:-1}
n=${2:-100}

# rnd: next value of a 31-bit linear congruential generator, in $r
rnd()
{
    seed=$(( (seed * 1103515245 + 12345) % 2147483648 ))
    r=$seed
}

# poke ADDR: one write of a random width and value at ADDR (aligned)
poke()
{
    rnd
    w=$(( 8 << (r % 4) ))
    rnd
    v=$r
    rnd
    v=$(( (v << 31 | r) & ((1 << (w - 1)) * 2 - 1) ))
    # Not the syscon's poweroff, reset and fail codes (0x5555, 0x7777,
    # 0x3333): those would end the attack, not test the machine.
    case $(( v & 0xffff )) in
    13107 | 21845 | 30583) v=$(( v ^ 1 )) ;;
    esac
    devmem $(( $1 / (w / 8) * (w / 8) )) $w "$(printf 0x%x $v)" 2>/dev/null
}

# hit NAME BASE SIZE: N writes at random offsets of [BASE, BASE + SIZE)
hit()
{
    i=0
    while [ $i -lt "$n" ]; do
        rnd
        poke $(( $2 + r % $3 ))
        i=$((i + 1))
    done
    echo "VP-HIT $1"
}

# The memory map (docs/specs/riscv-virt-pcie.rst), RAM left out
hit reset 0x100000 0x1000
hit rtc 0x101000 0x1000
hit mtimer 0x2000000 0x8000
hit pcie-pio 0x3000000 0x10000
hit aplic-m 0xc000000 0x4000
hit aplic-s 0xd000000 0x4000
hit flash 0x20000000 0x4000000
hit pcie-mmio 0x40000000 0x40000000
hit imsic-m 0x10000000000 0x2000
hit imsic-s 0x10080000000 0x2000
hit pcie-mmio64 0x20000000000 0x10000000000

# ecam_of BDF: the ECAM address of function BB:DD.F in $e
ecam_of()
{
    bdf=${1#*:}
    b=$(( 0x${bdf%%:*} ))
    df=${bdf#*:}
    d=$(( 0x${df%%.*} ))
    f=${df#*.}
    e=$(( 0x30000000 + (b << 20) + (d << 15) + (f << 12) ))
}

# rd ADDR [WIDTH]: read into $v (0 when the read fails)
rd()
{
    v=$(devmem "$1" "${2:-32}" 2>/dev/null) || v=0
    v=$(( v ))
}

# msi DEV: DEV's MSI and MSI-X, programmed with wild addresses and data,
# and enabled
msi()
{
    ecam_of "${1##*/}"
    rd $(( e + 0x34 )) 8
    ptr=$v
    hops=0
    while [ "$ptr" -ge 64 ] && [ $hops -lt 48 ]; do
        rd $(( e + ptr )) 16
        id=$(( v & 0xff ))
        next=$(( v >> 8 & 0xfc ))
        if [ $id = 5 ]; then
            rnd
            devmem $(( e + ptr + 4 )) 32 $(( r & ~3 ))
            rnd
            devmem $(( e + ptr + 8 )) 32 $r
            rnd
            devmem $(( e + ptr + 12 )) 16 $(( r & 0xffff ))
            devmem $(( e + ptr + 2 )) 16 0x71
        elif [ $id = 17 ]; then
            rd $(( e + ptr + 4 ))
            bir=$(( v & 7 ))
            off=$(( v & ~7 ))
            line=$(sed -n "$((bir + 1))p" "$1/resource")
            base=$(( ${line%% *} ))
            k=0
            while [ "$base" != 0 ] && [ $k -lt 8 ]; do
                rnd
                devmem $(( base + off + k * 16 )) 32 $(( r & ~3 ))
                rnd
                devmem $(( base + off + k * 16 + 4 )) 32 $r
                rnd
                devmem $(( base + off + k * 16 + 8 )) 32 $r
                devmem $(( base + off + k * 16 + 12 )) 32 0
                k=$((k + 1))
            done
            devmem $(( e + ptr + 2 )) 16 0x8000
        fi
        ptr=$next
        hops=$((hops + 1))
    done 2>/dev/null
    echo "VP-HIT msi ${1##*/}"
}

# bars DEV: DEV's memory BARs (resource lines: start end flags;
# IORESOURCE_MEM is 0x200)
bars()
{
    while read -r start end flags; do
        [ $(( flags & 0x200 )) != 0 ] || continue
        [ $(( start )) != 0 ] || continue
        hit "bar ${1##*/} $start" $(( start )) $(( end - start + 1 ))
    done < "$1/resource"
}

# config DEV: DEV's configuration space (this can take it off the bus)
config()
{
    ecam_of "${1##*/}"
    hit "config ${1##*/}" $e 0x1000
}

# The console (00:00.1) comes last, so that the host sees how far the
# attack got
console=/sys/bus/pci/devices/0000:00:00.1
for what in msi bars config; do
    for dev in /sys/bus/pci/devices/*; do
        [ -e "$dev" ] && [ "$dev" != "$console" ] && $what "$dev"
    done
done
# functions that are not there
hit config-absent 0x30000000 0x10000000
for what in bars msi config; do
    $what "$console"
done

echo VP-ATTACK-END
