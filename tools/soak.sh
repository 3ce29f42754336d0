#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# soak.sh: live migration under I/O, at length (make soak). Runs
# tests/functional/test_riscv64_vp_soak.py with VP_SOAK_ROUNDS migrations
# (SOAK_ROUNDS, 100 by default; make check runs 5): a stock guest writing
# checksummed blocks to its disk, pinging through user-net and printing
# numbered ticks on its console is migrated back and forth between QEMU
# processes, then checked for corrupted bytes, lost console output and
# interrupts, and a clock that went back. Prints the figures and the
# closing "N passed, N failed" line; the test's log is in
# build/test-logs/test_riscv64_vp_soak.log.

set -uo pipefail
VP_TOOL=soak
. "$(dirname "$0")/lib.sh"

rounds=${SOAK_ROUNDS:-100}
case "$rounds" in
    '' | *[!0-9]* | 0) vp_die "SOAK_ROUNDS must be a positive number," \
                              "not '$rounds'" ;;
esac
report=$VP_BUILD/soak.json
rm -f "$report"
vp_say "$rounds live migrations under I/O (about $((rounds * 4 / 60 + 1))" \
       "min)"
VP_SOAK_ROUNDS=$rounds VP_SOAK_REPORT=$report VP_TESTS=functional \
    VP_ONLY=test_riscv64_vp_soak VP_TEST_TIMEOUT=$((600 + rounds * 60)) \
    "$VP_TOP/tools/run-tests.sh"
rc=$?
if [ -s "$report" ]; then
    echo "figures ($report):"
    sed 's/^/  /' "$report"
fi
exit $rc
