#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# fuzz.sh build: build/fuzz/qemu-fuzz-riscv64, the fork built with clang's
#     libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer (Debian's
#     clang-14), with ccache.
# fuzz.sh run: fuzz the generic-fuzz-virt-pcie target (patch 0023: every
#     region a virt-pcie guest reaches, and the functions of a server) for
#     FUZZ_SECONDS (default 3600) in FUZZ_JOBS parallel jobs (default: one a
#     core). The corpus grows across runs in $VP_CACHE/fuzz/corpus-virt-pcie;
#     inputs that crash QEMU land in build/fuzz-out/ (replay one with
#     tools/fuzz.sh replay FILE). The figures of the run (executions per
#     second, edges covered, crashes) go to build/fuzz.json and are added to
#     $VP_CACHE/fuzz/runs.log, so the CPU time of all runs adds up there.
# fuzz.sh replay FILE: run one input again, with its qtest trace on stderr.
# fuzz.sh coverage: run the corpus once and print, for the files of the
#     devices under test, how many of their functions and edges it covers.

set -uo pipefail
VP_TOOL=fuzz
. "$(dirname "$0")/lib.sh"

bin=$VP_BUILD/fuzz/qemu-fuzz-riscv64
target=generic-fuzz-virt-pcie
corpus=$VP_CACHE/fuzz/corpus-virt-pcie
out=$VP_BUILD/fuzz-out
export PATH=/usr/lib/llvm-14/bin:$PATH          # llvm-symbolizer
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

need_bin()
{
    [ -x "$bin" ] || vp_die "$bin is missing: run make fuzz-build"
}

# number NAME VALUE: VALUE must be a positive whole number
number()
{
    case "$2" in
        '' | *[!0-9]* | 0) vp_die "$1 must be a positive number, not '$2'" ;;
    esac
}

do_build()
{
    VP_NINJA_TARGET=qemu-fuzz-riscv64 \
        "$VP_TOP/tools/build-qemu.sh" "$VP_BUILD/fork-src" "$VP_BUILD/fuzz" \
        "--cc=ccache clang-14" "--cxx=ccache clang++-14" --enable-fuzzing \
        --enable-asan --enable-ubsan --disable-werror
}

do_run()
{
    local secs=${FUZZ_SECONDS:-3600} jobs=${FUZZ_JOBS:-$(nproc)}
    local logs=$VP_BUILD/fuzz-logs start end inputs crashes
    number FUZZ_SECONDS "$secs"
    number FUZZ_JOBS "$jobs"
    need_bin
    mkdir -p "$corpus" "$out"
    rm -rf "$logs"
    mkdir -p "$logs"
    inputs=$(find "$corpus" -type f | wc -l)
    vp_say "fuzzing $target: $jobs job(s) for $secs s, corpus $corpus" \
           "($inputs inputs)"
    start=$(date +%s)
    # (one job a worker; each job fuzzes for the whole time, and all of
    # them share, and reload, the corpus)
    # Inputs are a series of operations, each ended by generic-fuzz's
    # separator "FUZZ" (in the dictionary); libFuzzer's default lets inputs
    # grow by a few bytes at a time, which takes hours to reach a few
    # operations: let them grow faster, to 2 KiB.
    printf '"FUZZ"\n' > "$logs/dict"
    (cd "$logs" &&
     /usr/bin/time -f '%U %S' -o "$logs/cpu" \
     "$bin" --fuzz-target="$target" -jobs="$jobs" -workers="$jobs" \
         -max_total_time="$secs" -reload=60 -rss_limit_mb=4096 \
         -max_len=2048 -len_control=10 -dict="$logs/dict" \
         -print_final_stats=1 -artifact_prefix="$out/" "$corpus" \
         > "$logs/main.log" 2>&1)
    end=$(date +%s)
    crashes=$(find "$out" -newermt "@$start" -type f | wc -l)
    python3 - "$logs" "$secs" "$jobs" "$((end - start))" "$crashes" \
        "$(find "$corpus" -type f | wc -l)" "$VP_BUILD/fuzz.json" \
        "$VP_CACHE/fuzz/runs.log" <<'EOF'
import glob, json, re, sys, time
logs, secs, jobs, wall, crashes, corpus, report, runs = sys.argv[1:]
execs = cov = ft = rss = 0
for log in sorted(glob.glob(logs + '/fuzz-*.log')):
    text = open(log, errors='replace').read()
    m = re.findall(r'stat::number_of_executed_units:\s+(\d+)', text)
    execs += int(m[-1]) if m else 0
    m = re.findall(r'stat::peak_rss_mb:\s+(\d+)', text)
    rss = max(rss, int(m[-1]) if m else 0)
    # the status lines: "#N ... cov: E ft: F corp: ..."
    for e, f in re.findall(r'cov: (\d+) ft: (\d+)', text):
        cov, ft = max(cov, int(e)), max(ft, int(f))
fig = {
    'date': time.strftime('%Y-%m-%d %H:%M'),
    'jobs': int(jobs), 'seconds': int(secs), 'wall_seconds': int(wall),
    # (user and system time of the fuzzing processes)
    'cpu_seconds': round(sum(float(t) for t in open(logs + '/cpu').read()
                             .split()[-2:])),
    'executions': execs,
    'executions_per_second': round(execs / max(int(wall), 1), 1),
    'edges_covered': cov, 'features': ft, 'corpus_inputs': int(corpus),
    'peak_rss_mb': rss, 'crashes': int(crashes),
}
json.dump(fig, open(report, 'w'), indent=1)
open(runs, 'a').write(json.dumps(fig) + '\n')
total = sum(json.loads(line)['cpu_seconds'] for line in open(runs))
for k, v in fig.items():
    print(f'  {k}: {v}')
print(f'  CPU time of all runs so far ({runs}): {total / 3600:.2f} h')
EOF
    if [ "$crashes" != 0 ]; then
        vp_say "$crashes crashing input(s) in $out:"
        find "$out" -newermt "@$start" -type f >&2
        return 1
    fi
}

do_replay()
{
    local f=${1:?usage: fuzz.sh replay FILE}
    need_bin
    [ -f "$f" ] || vp_die "no such input: $f"
    FUZZ_SERIALIZE_QTEST=1 QTEST_LOG=1 "$bin" --fuzz-target="$target" "$f"
}

# The files of the devices the target is meant to reach, and ours; the
# machine's creation code (hw/riscv/) runs before the fuzzing and is not
# counted.
coverage_files='hw/intc/riscv_(aclint|aplic|imsic)|hw/rtc/goldfish'
coverage_files+='|hw/misc/sifive_test|hw/block/pflash_cfi01|hw/pci/(pci|msi'
coverage_files+='|msix|pcie|pcie_aer|pci_bridge|pci_host|pcie_host)\.c'
coverage_files+='|hw/pci-host/gpex\.c|hw/pci-bridge/(gen_)?pcie_root_port'
coverage_files+='|hw/char/serial(-pci|-pci-msi)?\.c|hw/nvme/|hw/net/e1000e'
coverage_files+='|hw/net/virtio-net\.c|hw/virtio/virtio(-pci|-bus)?\.c'
coverage_files+='|hw/block/virtio-blk\.c'
coverage_files+='|hw/input/virtio-(input|power-button)\.c'

do_coverage()
{
    local log=$VP_BUILD/fuzz-coverage.log
    need_bin
    [ -d "$corpus" ] || vp_die "no corpus yet in $corpus: run make fuzz"
    vp_say "running the corpus ($(find "$corpus" -type f | wc -l) inputs)" \
           "once, for its coverage"
    "$bin" --fuzz-target="$target" -runs=0 -print_coverage=1 "$corpus" \
        > "$log" 2>&1
    python3 - "$log" "$coverage_files" <<'EOF'
import collections, re, sys
log, pattern = sys.argv[1], re.compile(sys.argv[2])
# COVERED_FUNC: hits: 3 edges: 5/9 name /path/file.c:123
#   or UNCOVERED_FUNC: hits: 0 edges: 0/9 name /path/file.c:123
per = collections.defaultdict(lambda: [0, 0, 0, 0])
for line in open(log, errors='replace'):
    m = re.match(r'(UN)?COVERED_FUNC: hits: \d+ edges: (\d+)/(\d+) \S+ (\S+):',
                 line)
    if not m:
        continue
    path = m.group(4).split('/fork-src/')[-1]
    if not pattern.search(path):
        continue
    f = per[path]
    f[0] += m.group(1) is None
    f[1] += 1
    f[2] += int(m.group(2))
    f[3] += int(m.group(3))
if not per:
    sys.exit('no coverage lines for the devices under test in ' + log)
tot = [sum(v[i] for v in per.values()) for i in range(4)]
print(f'{"file":44} {"functions":>11} {"edges":>13}')
for path in sorted(per):
    f = per[path]
    print(f'{path:44} {f[0]:5}/{f[1]:<5} {f[2]:6}/{f[3]:<6}')
print(f'{"all of them":44} {tot[0]:5}/{tot[1]:<5} {tot[2]:6}/{tot[3]:<6}'
      f' ({100 * tot[2] / max(tot[3], 1):.1f}% of edges)')
EOF
}

case "${1:-}" in
    build) do_build ;;
    run) do_run ;;
    replay) shift; do_replay "$@" ;;
    coverage) do_coverage ;;
    *) vp_die "usage: fuzz.sh build|run|replay FILE|coverage" ;;
esac
