#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Benchmarks of -M virt-pcie against upstream-base -M virt,aia=aplic-imsic,
# in one run, with the same binary ("make bench"; not part of "make check"):
#
#  1. Boot to userspace of the stock guest kit (OpenSBI 1.6, Debian kernel,
#     busybox initramfs) with an NVMe disk and a virtio-net NIC: the wall time
#     from QEMU's start to the guest's VP-REPORT-BEGIN line, and the guest's
#     own uptime when it printed its report. ROUNDS rounds, the two machines
#     interleaved so that load on the host hits both alike. Also the wall
#     time to the kernel's first line ("Linux version"): what is spent
#     before the kernel runs.
#  1b. The same boot with more harts (SMP_BOOTS, default "8 32 64"),
#     SMP_ROUNDS rounds (default 1), with SMP_TIMEOUT seconds each (default
#     900: 64 harts under TCG on 2 host CPUs take about 5 minutes).
#  2. UEFI boot of the Debian disk image (make image) to systemd's login
#     prompt, from NVMe, with no -kernel: virt-pcie with its firmware
#     (build/firmware) against virt with Debian's stock qemu-efi-riscv64
#     (build/firmware/stock), each from a fresh copy of the image and of
#     the variable store. UEFI_ROUNDS rounds (default 2), interleaved.
#  3. Machine creation: QEMU started paused (-S), until it has answered a
#     QMP "quit" (the monitor runs only once the machine is built), with its
#     peak RSS; virt-pcie at 1, 512, 1024, 2048, 4096, 8192 and 16384
#     harts, virt at 1 and 512 (its maximum). CREATE_ROUNDS rounds,
#     interleaved. 16384 harts need vm.max_map_count above 66560 (a thread
#     per hart): with a smaller one, that size is left out and the reason
#     printed.
#  4. Size: the build with only virt-pcie (build/minimal, make minimal)
#     against the full build (build/fork), the binaries as built and
#     stripped, when build/minimal exists.
#
# Medians are printed, and the ratio virt-pcie / virt.
#
# Environment: QEMU (default build/qemu-system-riscv64), VP_GUEST (default
# build/guest), ROUNDS (default 5), UEFI_ROUNDS (default 2), CREATE_ROUNDS
# (default 3), SMP_BOOTS (may be empty), SMP_ROUNDS, SMP_TIMEOUT (above),
# BOOT_TIMEOUT (seconds per 2-hart boot, default 300), OPENSBI (kit
# firmware, default 1.6). A count of 0 rounds leaves that part out.

set -euo pipefail

cd "$(dirname "$0")/.."
QEMU=${QEMU:-build/qemu-system-riscv64}
GUEST=${VP_GUEST:-build/guest}
ROUNDS=${ROUNDS:-5}
CREATE_ROUNDS=${CREATE_ROUNDS:-3}
UEFI_ROUNDS=${UEFI_ROUNDS:-2}
UPSTREAM=${UPSTREAM:-build/upstream/qemu-system-riscv64}
FW=build/firmware
DISK=build/disk/debian.img
BOOT_TIMEOUT=${BOOT_TIMEOUT:-300}
SMP_BOOTS=${SMP_BOOTS-8 32 64}
SMP_ROUNDS=${SMP_ROUNDS:-1}
SMP_TIMEOUT=${SMP_TIMEOUT:-900}
OPENSBI=${OPENSBI:-1.6}

die()
{
    echo "bench: error: $*" >&2
    exit 1
}

[ -x "$QEMU" ] || die "$QEMU is not an executable (set QEMU=...)"
for f in Image initrd.cpio.gz "opensbi-$OPENSBI/fw_dynamic.bin"; do
    [ -e "$GUEST/$f" ] || die "$GUEST/$f is missing (run 'make kit')"
done
command -v /usr/bin/time > /dev/null ||
    die "/usr/bin/time is needed (apt-get install time)"
"$QEMU" -M help | grep -q '^virt-pcie ' || die "$QEMU has no machine virt-pcie"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
truncate -s 64M "$work/nvme.img"

# Extra arguments of the virt-pcie boots
VP_ARGS=()

# median FILE: the median of the numbers in FILE, one a line
median()
{
    sort -g "$1" | awk '{ v[NR] = $1 }
        END { if (NR == 0) { print "nan"; exit }
              if (NR % 2) print v[(NR + 1) / 2]
              else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio A B: A / B to 2 decimals
ratio()
{
    awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0 || a == "nan" || b == "nan")
        print "n/a"; else printf "%.2f\n", a / b }'
}

# boot NAME MACHINE SMP [ARGS...]: one boot of the kit with SMP harts;
# appends the wall time to $work/NAME.wall, the wall time to the kernel's
# first line to $work/NAME.kernel and the guest uptime to $work/NAME.up
boot()
{
    local name=$1 machine=$2 smp=$3 start now line wall='' up='' log
    local kernel='' limit=$BOOT_TIMEOUT
    shift 3
    [ "$smp" = 2 ] || limit=$SMP_TIMEOUT
    log=$work/$name.console
    start=$EPOCHREALTIME
    while IFS= read -r line; do
        line=${line%$'\r'}
        echo "$line" >> "$log"
        case $line in
            *"Linux version"*)
                [ -n "$kernel" ] || kernel=$(awk -v a="$start" \
                    -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
                ;;
            VP-REPORT-BEGIN)
                now=$EPOCHREALTIME
                wall=$(awk -v a="$start" -v b="$now" \
                    'BEGIN { printf "%.3f", b - a }')
                ;;
            "uptime "*) up=${line#uptime } ;;
        esac
    done < <(timeout "$limit" "$QEMU" -M "$machine" -m 1G -smp "$smp" \
        -display none -nodefaults -serial stdio -no-reboot \
        -bios "$GUEST/opensbi-$OPENSBI/fw_dynamic.bin" "$@" \
        -kernel "$GUEST/Image" -initrd "$GUEST/initrd.cpio.gz" \
        -append 'console=ttyS0 earlycon=sbi panic=-1 -- true' \
        -device nvme,serial=b0,drive=d0 \
        -drive "if=none,id=d0,file=$work/nvme.img,format=raw" \
        -device virtio-net-pci,netdev=n0,romfile= -netdev user,id=n0 2>&1)
    if [ -z "$wall" ] || [ -z "$up" ]; then
        echo "  $name ($machine) did NOT reach userspace" \
            "within $limit s;" \
            "console tail ($(grep -c . "$log" 2>/dev/null || echo 0)" \
            "lines in all):"
        tail -n 5 "$log" 2>/dev/null | sed 's/^/    | /'
        echo x >> "$work/$name.failed"
        return 0
    fi
    echo "$wall" >> "$work/$name.wall"
    echo "$up" >> "$work/$name.up"
    echo "${kernel:-nan}" >> "$work/$name.kernel"
    printf '  %-14s %8.2f s to VP-REPORT-BEGIN (kernel at %s s), guest' \
        "$name" "$wall" "${kernel:-?}"
    printf ' uptime %6.2f s\n' "$up"
}

# uefi NAME QEMU MACHINE CODE VARS: one UEFI boot of a copy of the Debian
# image to the login prompt; appends the wall time to $work/NAME.login
uefi()
{
    local name=$1 qemu=$2 machine=$3 code=$4 vars=$5 start line='' wall=''
    local log=$work/$name.console
    cp --sparse=always "$(readlink -f "$DISK")" "$work/disk.raw"
    cp "$vars" "$work/vars.fd"
    start=$EPOCHREALTIME
    # The prompt ends no line: a read that times out keeps what it got,
    # which is collected in $pend until the line ends.
    local pend='' rc
    while :; do
        IFS= read -r -t 1 line && rc=0 || rc=$?
        pend+=$line
        [ "$rc" = 1 ] && break
        case $pend in
            *"login: "*)
                wall=$(awk -v a="$start" -v b="$EPOCHREALTIME" \
                    'BEGIN { printf "%.3f", b - a }')
                break
                ;;
        esac
        if [ "$rc" = 0 ]; then
            echo "$pend" >> "$log"
            pend=''
        fi
    done < <(timeout "$BOOT_TIMEOUT" "$qemu" -M "$machine" -m 2G -smp 2 \
        -display none -nodefaults -serial stdio -no-reboot \
        -drive "if=pflash,unit=0,format=raw,readonly=on,file=$code" \
        -drive "if=pflash,unit=1,format=raw,file=$work/vars.fd" \
        -drive "if=none,id=d0,format=raw,file=$work/disk.raw" \
        -device nvme,serial=b0,drive=d0 2>&1)
    # the guest is still running: stop it (timeout passes the signal on)
    kill "$!" 2>/dev/null || true
    wait "$!" 2>/dev/null || true
    rm -f "$work/disk.raw"
    if [ -z "$wall" ]; then
        echo "  $name ($machine) did NOT reach the login prompt within" \
            "${BOOT_TIMEOUT} s"
        echo x >> "$work/$name.failed"
        return 0
    fi
    echo "$wall" >> "$work/$name.login"
    printf '  %-10s %8.2f s to the login prompt\n' "$name" "$wall"
}

# create NAME MACHINE SMP: one paused machine creation; appends seconds to
# $work/NAME.create and peak RSS (MiB) to $work/NAME.rss
create()
{
    local name=$1 machine=$2 smp=$3 extra=${4:-} out start secs rss
    out=$work/$name.time
    start=$EPOCHREALTIME
    if ! printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"quit"}' |
        timeout "$BOOT_TIMEOUT" /usr/bin/time -o "$out" -f '%e %M' \
            "$QEMU" -M "$machine" -smp "$smp" $extra -bios none -S \
            -display none -nodefaults -qmp stdio > "$work/$name.qmp" 2>&1; then
        echo "bench: creating $machine -smp $smp failed:" >&2
        cat "$work/$name.qmp" "$out" >&2
        exit 1
    fi
    grep -q '"return"' "$work/$name.qmp" ||
        die "no QMP answer from $machine -smp $smp"
    secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" \
        'BEGIN { printf "%.3f", b - a }')
    read -r _ rss < <(tail -n 1 "$out")
    echo "$secs" >> "$work/$name.create"
    echo $((rss / 1024)) >> "$work/$name.rss"
    printf '  %-22s %8.3f s, peak RSS %6d MiB\n' "$name" "$secs" $((rss / 1024))
}

VIRT='virt,aia=aplic-imsic'
echo "bench: $QEMU ($("$QEMU" --version | head -n 1)), $(nproc) host CPUs"
echo "bench: guest kit $GUEST" \
    "($(cat "$GUEST/kernel-version" 2>/dev/null || echo '?'))"

echo
echo "== Boot to userspace (nvme + virtio-net, -smp 2, -m 1G," \
    "OpenSBI $OPENSBI), $ROUNDS rounds"
for r in $(seq "$ROUNDS"); do
    echo " round $r"
    # A machine that failed its first boot is not tried again: each failure
    # costs BOOT_TIMEOUT.
    for m in "virt-pcie virt-pcie" "virt $VIRT"; do
        read -r name machine <<< "$m"
        if [ "$r" -gt 1 ] && [ ! -e "$work/$name.wall" ]; then
            echo "  $name: skipped (failed in round 1)"
            continue
        fi
        if [ "$name" = virt-pcie ]; then
            boot "$name" "$machine" 2 ${VP_ARGS[@]+"${VP_ARGS[@]}"}
        else
            boot "$name" "$machine" 2
        fi
    done
done

echo
echo "== Boot to userspace with more harts (-smp $SMP_BOOTS), $SMP_ROUNDS" \
    "round(s)"
for n in $SMP_BOOTS; do
    for r in $(seq "$SMP_ROUNDS"); do
        boot "virt-pcie-s$n" virt-pcie "$n" ${VP_ARGS[@]+"${VP_ARGS[@]}"}
        boot "virt-s$n" "$VIRT" "$n"
    done
done

echo
echo "== UEFI boot of the Debian image to login (nvme, -smp 2, -m 2G)," \
    "$UEFI_ROUNDS rounds"
[ "$UEFI_ROUNDS" = 0 ] ||
    for f in "$DISK" "$FW/VIRT_PCIE_CODE.fd" "$FW/stock/RISCV_VIRT_CODE.fd"; do
        [ -e "$f" ] || die "$f is missing (run 'make build')"
    done
for r in $(seq "$UEFI_ROUNDS"); do
    echo " round $r"
    uefi uefi-virt-pcie "$QEMU" virt-pcie "$FW/VIRT_PCIE_CODE.fd" \
        "$FW/VIRT_PCIE_VARS.fd"
    uefi uefi-virt "$UPSTREAM" "$VIRT" "$FW/stock/RISCV_VIRT_CODE.fd" \
        "$FW/stock/RISCV_VIRT_VARS.fd"
done

echo
echo "== Machine creation (paused, until QMP quit), $CREATE_ROUNDS rounds"
# numa NODES HARTS: -m and -numa options for NODES nodes of 128 MiB with
# an equal share of HARTS harts (the harts' groups are the NUMA nodes)
numa()
{
    local n per=$(($2 / $1)) args="-m $(($1 * 128))M"
    for n in $(seq 0 $(($1 - 1))); do
        args+=" -object memory-backend-ram,id=m$n,size=128M"
        args+=" -numa node,cpus=$((n * per))-$((n * per + per - 1)),memdev=m$n"
    done
    echo "$args"
}
CREATE=(
    "virt-pcie-1 virt-pcie 1"
    "virt-1 $VIRT 1"
    "virt-pcie-512 virt-pcie 512 $(numa 4 512)"
    "virt-512 $VIRT 512 $(numa 4 512)"
    "virt-pcie-1024 virt-pcie 1024 $(numa 4 1024)"
    "virt-pcie-2048 virt-pcie 2048 $(numa 8 2048)"
    "virt-pcie-4096 virt-pcie 4096 $(numa 16 4096)"
    "virt-pcie-8192 virt-pcie 8192 $(numa 16 8192)"
)
# a thread per hart takes 4 mappings under TCG (the spec, Harts and sockets)
maps=$(cat /proc/sys/vm/max_map_count 2>/dev/null || echo 0)
if [ "$maps" -ge $((16384 * 4 + 1024)) ]; then
    CREATE+=("virt-pcie-16384 virt-pcie 16384 $(numa 16 16384)")
else
    echo "  16384 harts left out: vm.max_map_count is $maps, 16384 TCG" \
        "harts need 66560 (sysctl vm.max_map_count=131072)"
fi
for r in $(seq "$CREATE_ROUNDS"); do
    echo " round $r"
    for c in "${CREATE[@]}"; do
        read -r name machine smp extra <<< "$c"
        create "$name" "$machine" "$smp" "$extra"
    done
done

echo
echo "== Results (medians)"
# med NAME.KIND: median of that file, "nan" if no sample
med()
{
    if [ -s "$work/$1" ]; then median "$work/$1"; else echo nan; fi
}

# secs VALUE: "12.34s", or "FAILED" for no sample ("-" when no round ran)
secs()
{
    if [ "$1" != nan ]; then printf '%.2fs\n' "$1"
    elif [ "$skipped" = 1 ]; then echo -
    else echo FAILED; fi
}
skipped=0

[ "$ROUNDS" != 0 ] || skipped=1
bp=$(med virt-pcie.wall); bv=$(med virt.wall)
up=$(med virt-pcie.up); uv=$(med virt.up)
printf '%-34s %12s %12s %8s\n' '' virt-pcie virt ratio
printf '%-34s %12s %12s %8s\n' 'boot: start to VP-REPORT-BEGIN' \
    "$(secs "$bp")" "$(secs "$bv")" "$(ratio "$bp" "$bv")"
printf '%-34s %12s %12s %8s\n' 'boot: guest uptime at report' \
    "$(secs "$up")" "$(secs "$uv")" "$(ratio "$up" "$uv")"
kp=$(med virt-pcie.kernel); kv=$(med virt.kernel)
printf '%-34s %12s %12s %8s\n' 'boot: start to "Linux version"' \
    "$(secs "$kp")" "$(secs "$kv")" "$(ratio "$kp" "$kv")"
skipped=0
[ "$SMP_ROUNDS" != 0 ] || skipped=1
for n in $SMP_BOOTS; do
    bp=$(med "virt-pcie-s$n.wall"); bv=$(med "virt-s$n.wall")
    printf '%-34s %12s %12s %8s\n' "boot, $n harts: to VP-REPORT-BEGIN" \
        "$(secs "$bp")" "$(secs "$bv")" "$(ratio "$bp" "$bv")"
done
skipped=0
[ "$UEFI_ROUNDS" != 0 ] || skipped=1
lp=$(med uefi-virt-pcie.login); lv=$(med uefi-virt.login)
printf '%-34s %12s %12s %8s\n' 'UEFI boot of the image to login' \
    "$(secs "$lp")" "$(secs "$lv")" "$(ratio "$lp" "$lv")"
for n in 1 512 1024 2048 4096 8192 16384; do
    [ -e "$work/virt-pcie-$n.create" ] || continue
    cp=$(median "$work/virt-pcie-$n.create")
    rp=$(median "$work/virt-pcie-$n.rss")
    if [ -e "$work/virt-$n.create" ]; then
        cv=$(median "$work/virt-$n.create"); rv=$(median "$work/virt-$n.rss")
        printf '%-34s %11.3fs %11.3fs %8s\n' "create: $n harts" \
            "$cp" "$cv" "$(ratio "$cp" "$cv")"
        printf '%-34s %9.0f MiB %8.0f MiB %8s\n' "create: $n harts, peak RSS" \
            "$rp" "$rv" "$(ratio "$rp" "$rv")"
    else
        printf '%-34s %11.3fs %12s %8s\n' "create: $n harts" "$cp" \
            '(max 512)' '-'
        printf '%-34s %9.0f MiB %12s %8s\n' "create: $n harts, peak RSS" \
            "$rp" '-' '-'
    fi
done
MINIMAL=build/minimal/qemu-system-riscv64
FULL=build/fork/qemu-system-riscv64
if [ -x "$MINIMAL" ]; then
    strip -o "$work/minimal" "$MINIMAL"
    strip -o "$work/full" "$FULL"
    printf '%-34s %12s %12s %8s\n' '' minimal full ratio
    for k in built stripped; do
        if [ $k = built ]; then a=$MINIMAL b=$FULL
        else a=$work/minimal b=$work/full; fi
        sa=$(stat -c %s "$a"); sb=$(stat -c %s "$b")
        printf "%-34s %8.1f MiB %8.1f MiB %8s\n" \
            "size: qemu-system-riscv64, $k" \
            "$(awk -v n="$sa" 'BEGIN { print n / 1048576 }')" \
            "$(awk -v n="$sb" 'BEGIN { print n / 1048576 }')" \
            "$(ratio "$sa" "$sb")"
    done
else
    echo "size: $MINIMAL is missing (make minimal): not compared"
fi
for m in virt-pcie virt uefi-virt-pcie uefi-virt \
    $(for n in $SMP_BOOTS; do echo "virt-pcie-s$n virt-s$n"; done); do
    if [ -e "$work/$m.failed" ]; then
        echo "bench: $m failed $(wc -l < "$work/$m.failed") boot(s)"
    fi
done
if compgen -G "$work/*.failed" > /dev/null; then
    exit 1
fi
