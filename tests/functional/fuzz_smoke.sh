#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# fuzz_smoke.sh FORK: a short fuzzing run, with a fixed seed, of the
# generic-fuzz-virt-pcie target (build/fuzz/qemu-fuzz-riscv64, made by make
# fuzz-build, part of make check), so that the target keeps building and
# running between the long runs of make fuzz. Checks that
#   - the target finds every region a guest reaches, and PCI through ECAM;
#   - its enumeration numbers the bus behind the root port and gives the
#     device there its BARs;
#   - FUZZ_SMOKE_RUNS inputs (default 8000; at most 120 s) run with no
#     crash, no sanitizer report, a flat memory size, and coverage above a
#     floor.
# Prints "ok NAME" or "FAIL NAME" per check; exits non-zero on a failure.

set -u

fork=${1:?usage: $0 FORK}
top=$(cd "$(dirname "$fork")/.." && pwd)
bin=$top/build/fuzz/qemu-fuzz-riscv64
target=generic-fuzz-virt-pcie
runs=${FUZZ_SMOKE_RUNS:-8000}
failed=0

ok() { echo "ok $1"; }
fail() { local n=$1; shift; echo "FAIL $n${1:+ ($*)}"; failed=1; }

if [ ! -x "$bin" ]; then
    fail fuzz-build "$bin is missing (make fuzz-build)"
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export PATH=/usr/lib/llvm-14/bin:$PATH
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

# 1. One input, with its qtest trace: the regions and the enumeration.
printf 'x' > "$tmp/one"
FUZZ_SERIALIZE_QTEST=1 QTEST_LOG=1 "$bin" --fuzz-target="$target" \
    "$tmp/one" > "$tmp/one.log" 2>&1
rc=$?
if [ $rc != 0 ]; then
    tail -n 20 "$tmp/one.log"
    fail fuzz-one-input "exit status $rc"
fi
# (the windows of the spec's memory map, as PCI addresses)
ecam='ECAM at 0x30000000, I/O 0x1000-0x10000, memory 0x40000000-0x80000000'
if grep -q "^PCI configuration space through $ecam" "$tmp/one.log"; then
    ok fuzz-ecam
else
    fail fuzz-ecam "no ECAM host found: $(grep -m1 ECAM "$tmp/one.log")"
fi
missing=
for r in riscv.aclint.mtimer riscv.aplic riscv.imsic.window goldfish_rtc \
         riscv.sifive.test virt-pcie.flash0 pcie-mmcfg-mmio serial \
         msix-table nvme-bar0 e1000e-mmio virtio-pci-common-virtio-blk \
         virtio-pci-common-virtio-net; do
    grep -q "^  \* $r\(\[[0-9]*\]\)\? (size" "$tmp/one.log" || missing+=" $r"
done
if [ -z "$missing" ]; then
    ok fuzz-regions
else
    fail fuzz-regions "not found:$missing"
fi
# The root port gets secondary bus 1 (a write of 1 to register 0x19 of a
# function of bus 0), and the device behind it, 01:00.0, its BARs (ECAM
# writes to registers 0x10-0x24 at bus 1, 0x30100000).
if grep -q 'writeb 0x300[0-9a-f]\{3\}19 0x1$' "$tmp/one.log" &&
   grep -q 'writel 0x301000[12][0-9a-f] 0x4' "$tmp/one.log"; then
    ok fuzz-enumerates-behind-root-port
else
    fail fuzz-enumerates-behind-root-port \
        "no bus number or BAR write for bus 1 in the trace"
fi

# 2. The smoke run.
mkdir "$tmp/corpus"
"$bin" --fuzz-target="$target" -seed=1 -runs="$runs" -max_total_time=120 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$tmp/" \
    "$tmp/corpus" > "$tmp/run.log" 2>&1
rc=$?
execs=$(sed -n "s/^stat::number_of_executed_units: *//p" "$tmp/run.log")
rss=$(sed -n "s/^stat::peak_rss_mb: *//p" "$tmp/run.log")
cov=$(grep -o 'cov: [0-9]*' "$tmp/run.log" | tail -n 1 | cut -d' ' -f2)
echo "# $execs inputs, $cov edges, peak RSS ${rss:-?} MB"
crash=$(find "$tmp" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' \
        -o -name 'oom-*' -o -name 'timeout-*' \) | head -n 1)
if [ $rc != 0 ] || [ -n "$crash" ]; then
    grep -A 30 -m1 -E 'ERROR: |runtime error|==ERROR|deadly signal' \
        "$tmp/run.log" | head -n 40
    fail fuzz-smoke-run "exit status $rc${crash:+, crashing input kept}"
    [ -n "$crash" ] && cp "$crash" "$top/build/" &&
        echo "# input: $top/build/$(basename "$crash")"
else
    ok fuzz-smoke-run
fi
if [ -n "$execs" ] && [ "$execs" -ge 1000 ]; then
    ok fuzz-smoke-inputs
else
    fail fuzz-smoke-inputs "${execs:-no} inputs ran, want 1000 or more"
fi
if [ -n "$cov" ] && [ "$cov" -ge 2000 ]; then
    ok fuzz-smoke-coverage
else
    fail fuzz-smoke-coverage "${cov:-no} edges covered, want 2000 or more"
fi
# (without the RCU drain of patch 0022 this run stops at 2 GB, out of
# memory: measured)
if [ -n "$rss" ] && [ "$rss" -le 1024 ]; then
    ok fuzz-smoke-memory
else
    fail fuzz-smoke-memory "peak RSS ${rss:-?} MB, want 1024 MB or less"
fi
exit $failed
