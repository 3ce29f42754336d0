#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run every test of virt-pcie against the built fork and print one closing
# line, "N passed, N failed". A skipped test counts as failed: nothing may be
# skipped in CI. Groups:
#   qtest       upstream riscv64 qtests and ours (meson suite qtest-riscv64)
#   functional  our tests/functional/test_*.py (QEMU's framework, TAP output)
#   scripts     our tests/functional/*.sh (lines "ok NAME" / "FAIL NAME")
# VP_TESTS="qtest functional scripts" (a subset) picks groups; VP_ONLY=GLOB
# picks functional tests and scripts by file name. Each test file gets
# VP_TEST_TIMEOUT seconds (900 by default).

set -uo pipefail
VP_TOOL=run-tests
. "$(dirname "$0")/lib.sh"

fork=$VP_BUILD/fork
src=$VP_BUILD/fork-src
groups=${VP_TESTS:-qtest functional scripts}
only=${VP_ONLY:-*}
limit=${VP_TEST_TIMEOUT:-900}
# A file name with its .py or .sh picks the same test as without.
only=${only%.py}
only=${only%.sh}
matched=0
logdir=$VP_BUILD/test-logs
mkdir -p "$logdir"

passed=0
failed=0
failures=()

record()
{
    # record ok|fail NAME [detail]
    if [ "$1" = ok ]; then
        passed=$((passed + 1))
        echo "  ok    $2"
    else
        failed=$((failed + 1))
        failures+=("$2${3:+ ($3)}")
        echo "  FAIL  $2${3:+ ($3)}"
    fi
}

export QEMU_TEST_QEMU_BINARY=$VP_BUILD/qemu-system-riscv64
export QEMU_BUILD_ROOT=$fork
export VP_GUEST=$VP_BUILD/guest
export VP_UPSTREAM_QEMU=$VP_BUILD/upstream/qemu-system-riscv64
export VP_FIRMWARE=$VP_BUILD/firmware
export VP_DISK=$VP_BUILD/disk
export PYTHONPATH=$src/python:$src/tests/functional

for f in "$QEMU_TEST_QEMU_BINARY" "$VP_UPSTREAM_QEMU" "$VP_GUEST/Image"; do
    [ -e "$f" ] || vp_die "$f is missing; run 'make build' first"
done

# The earlier releases (tools/build-release.sh), e.g. VP_RELEASE_10_0_QEMU.
for v in $(vp_release_versions); do
    rel=$(vp_release_qemu "$v") || exit 1
    [ -x "$rel" ] ||
        vp_die "$rel (virt-pcie-$v, commit $(vp_release_commit "$v"))" \
            "is missing; run 'make build' first"
    export "$(vp_release_var "$v")=$rel"
done

run_qtests()
{
    echo "== qtest (meson suite qtest-riscv64)"
    local json=$fork/meson-logs/testlog-vp-qtest.json
    rm -f "$json"
    # Build only what the suite needs, not every target of the tree.
    local goals
    goals=$(cd "$fork" &&
        pyvenv/bin/meson introspect --tests --targets 2>/dev/null |
        /usr/bin/python3 -c '
import json, os, sys
info = json.load(sys.stdin)
files = {t["id"]: t["filename"] for t in info["targets"]}
goals = set()
for t in info["tests"]:
    if "qemu:qtest-riscv64" in t["suite"]:
        goals.add(t["cmd"][0])
        for d in t["depends"]:
            goals.update(files.get(d, []))
print(" ".join(sorted(os.path.relpath(g) for g in goals)))
')
    if ! ninja -C "$fork" $goals > "$logdir/qtest-build.log" 2>&1; then
        tail -n 30 "$logdir/qtest-build.log"
        record fail "qtest-riscv64" \
            "building the qtests failed; see $logdir/qtest-build.log"
        return
    fi
    (cd "$fork" && pyvenv/bin/meson test --no-rebuild --suite qtest-riscv64 \
        --num-processes 2 --logbase testlog-vp-qtest --print-errorlogs) \
        > "$logdir/qtest.log" 2>&1
    if [ ! -s "$json" ]; then
        tail -n 30 "$logdir/qtest.log"
        record fail "qtest-riscv64" \
            "meson test did not run; see $logdir/qtest.log"
        return
    fi
    local name result
    while IFS=$'\t' read -r name result; do
        case "$result" in
            OK|EXPECTEDFAIL) record ok "qtest/$name" ;;
            *) record fail "qtest/$name" "$result, see $logdir/qtest.log" ;;
        esac
    done < <(/usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    t = json.loads(line)
    print(t["name"].split(" ")[-1] + "\t" + t["result"])
' "$json")
}

# check_ran NAME COUNT RC FAIL_REGEX RESULTS: a test file that reported
# nothing, or exited non-zero without reporting a failure, is a failure.
check_ran()
{
    if [ "$2" = 0 ] || { [ "$3" != 0 ] && ! grep -q "$4" "$5"; }; then
        tail -n 20 "$logdir/$1.log"
        record fail "$1" "exit $3; see $logdir/$1.log"
    fi
}

run_functional()
{
    echo "== functional (tests/functional/test_*.py)"
    local t base out rc n line name
    for t in "$src"/tests/functional/test_riscv64_vp_*.py; do
        [ -e "$t" ] || continue
        base=$(basename "$t" .py)
        [[ "$base" == $only ]] || continue
        matched=$((matched + 1))
        out=$logdir/$base.tap
        timeout "$limit" "$fork/pyvenv/bin/python3" "$t" > "$out" \
            2> "$logdir/$base.log"
        rc=$?
        n=0
        while read -r line; do
            # "ok 3 - module.Class.test_name # SKIP why" -> "test_name"
            name=$(sed -E 's/^(not )?ok [0-9]+ (- )?//; s/ *#.*//; s/.*\.//' \
                <<<"$line")
            case "$line" in
                "ok "*"# SKIP"*|"ok "*"# skip"*)
                    record fail "$base:$name" "skipped"; n=$((n + 1)) ;;
                "ok "*) record ok "$base:$name"; n=$((n + 1)) ;;
                "not ok "*)
                    record fail "$base:$name" "see $logdir/$base.log"
                    n=$((n + 1)) ;;
            esac
        done < "$out"
        check_ran "$base" "$n" "$rc" '^not ok' "$out"
    done
}

run_scripts()
{
    echo "== scripts (tests/functional/*.sh)"
    local t base rc n line
    for t in "$src"/tests/functional/*.sh; do
        [ -e "$t" ] || continue
        base=$(basename "$t" .sh)
        [[ "$base" == $only ]] || continue
        matched=$((matched + 1))
        timeout "$limit" bash "$t" "$QEMU_TEST_QEMU_BINARY" "$VP_UPSTREAM_QEMU" \
            > "$logdir/$base.log" 2>&1
        rc=$?
        n=0
        while read -r line; do
            case "$line" in
                "ok "*) record ok "$base:${line#ok }"; n=$((n + 1)) ;;
                "FAIL "*)
                    record fail "$base:${line#FAIL }" "see $logdir/$base.log"
                    n=$((n + 1)) ;;
            esac
        done < "$logdir/$base.log"
        check_ran "$base" "$n" "$rc" '^FAIL ' "$logdir/$base.log"
    done
}

start=$(date +%s)
for g in $groups; do
    case "$g" in
        qtest) run_qtests ;;
        functional) run_functional ;;
        scripts) run_scripts ;;
        *) vp_die "unknown test group '$g' in VP_TESTS" \
               "(known: qtest functional scripts)" ;;
    esac
done

# VP_ONLY that picks no test file is a mistake: say so, and what there is.
if [ -n "${VP_ONLY:-}" ] && [ "$matched" = 0 ] &&
   [[ " $groups " == *" functional "* || " $groups " == *" scripts "* ]]; then
    echo "VP_ONLY='$VP_ONLY' matches no test file. The test files are:"
    for t in "$src"/tests/functional/test_riscv64_vp_*.py \
             "$src"/tests/functional/*.sh; do
        [ -e "$t" ] && echo "    $(basename "$t")"
    done
    record fail "VP_ONLY" "'$VP_ONLY' matches no test file"
fi

echo
if [ "$failed" -gt 0 ]; then
    echo "Failed:"
    printf '  %s\n' "${failures[@]}"
fi
echo "tests took $(( $(date +%s) - start )) s; logs in $logdir"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
