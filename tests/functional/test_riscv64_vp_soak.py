#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Live migration under I/O on -M virt-pcie: a stock guest is migrated back
# and forth between QEMU processes VP_SOAK_ROUNDS times (5 in make check,
# 100 in make soak) while it
#   - writes random 4 KiB blocks to a virtio-blk disk, each one's checksum
#     kept only once its write is flushed;
#   - pings the user-net gateway twice a second through virtio-net;
#   - prints a numbered tick with its uptime on the console (pci-serial,
#     MSI) twice a second.
# Then the guest stops its writers and reports. Passing means:
#   - every migration completed, and each destination was running;
#   - 0 bytes corrupted: every block reads back, in the guest from the
#     device and on the host from the image, with the checksum it had;
#   - the console lost, repeated or reordered no tick, and the console's
#     MSI count went on growing (a lost interrupt stalls the 8250 driver's
#     output, which the ticks would show);
#   - the guest's uptime never went back;
#   - the pings were answered (at most one lost per migration).
# VP_SOAK_REPORT names a file for the figures (tools/soak.sh).
#
# Bad streams: a saved migration stream that is truncated, or whose
# device state is damaged, is refused by the destination, which exits
# with status 1 and says why; the source guest runs on.

import hashlib
import json
import os
import re
import time

from vp_guest import Console, KitTest

ROUNDS = int(os.environ.get('VP_SOAK_ROUNDS', '5'))
BLOCK = 4096
BLOCKS = 64

# The guest's workload, started from its shell. The writer computes a
# block's checksum before writing it and commits the checksum only after
# the write is flushed, so a migration at any point leaves the checksum
# of the block's content; it stops at a loop boundary when /tmp/stop
# appears.
WORKLOAD = (
    'ip l set eth0 up; ip a a 10.0.2.15/24 dev eth0; mkdir -p /tmp/s; '
    '(i=0; while [ ! -e /tmp/stop ]; do i=$((i+1)); b=$((i%' +
    str(BLOCKS) + ')); '
    'dd if=/dev/urandom of=/tmp/blk bs=' + str(BLOCK) +
    ' count=1 2>/dev/null; md5sum </tmp/blk >/tmp/sum; '
    'dd if=/tmp/blk of=/dev/vda bs=' + str(BLOCK) +
    ' seek=$b conv=notrunc,fsync 2>/dev/null && mv /tmp/sum /tmp/s/$b; '
    'echo $i >/tmp/writes; done; echo done >/tmp/stopped) & '
    'ping -i 0.5 10.0.2.2 >/tmp/ping.log 2>&1 & echo $! >/tmp/ping.pid; '
    '(i=0; while :; do i=$((i+1)); read -r up _ </proc/uptime; '
    'echo "VP-TICK $i $up"; sleep 0.5; done) & echo $! >/tmp/tick.pid; '
    'echo "VP-STA""RTED $(grep ttyS0 /proc/interrupts)"')

VERIFY = (
    'kill $(cat /tmp/tick.pid); touch /tmp/stop; '
    'while [ ! -e /tmp/stopped ]; do sleep 0.1; done; '
    'kill -INT $(cat /tmp/ping.pid); sleep 0.5; sync; '
    'echo 3 >/proc/sys/vm/drop_caches; bad=0; '
    'for f in /tmp/s/*; do b=${f##*/}; '
    'w=$(cat $f); s=$(dd if=/dev/vda bs=' + str(BLOCK) +
    ' skip=$b count=1 2>/dev/null | md5sum); '
    '[ "$s" = "$w" ] || bad=$((bad+1)); echo "VP-BLK $b $w"; done; '
    'echo "VP-BAD $bad"; echo "VP-WRITES $(cat /tmp/writes)"; '
    'grep -E "transmitted|received" /tmp/ping.log | sed "s/^/VP-PING /"; '
    'echo "VP-I""RQ $(grep ttyS0 /proc/interrupts)"')


class VirtPcieSoak(KitTest):

    timeout = 600 + ROUNDS * 60

    def soak_vm(self, name, disk, *extra):
        return self.kit_machine(
            'virt-pcie', 'console=ttyS0 panic=-1',
            '-device', 'virtio-blk-pci,drive=d0',
            '-drive', f'if=none,id=d0,file={disk},format=raw',
            '-netdev', 'user,id=n0',
            '-device', 'virtio-net-pci,netdev=n0,romfile=', *extra,
            name=name, mem='512M')

    def boot(self, vm):
        vm.launch()
        con = Console(vm)
        self.assertIsNotNone(con.wait_for('VP-REPORT-END', 180),
                             'the guest did not boot')
        time.sleep(1)
        con.send('echo VP-R""EADY')
        self.assertIsNotNone(con.wait_for('VP-READY', 60),
                             'the guest shell did not answer')
        return con

    def migrate(self, src, dst, sock):
        dst.cmd('migrate-incoming', uri=f'unix:{sock}')
        t0 = time.monotonic()
        src.cmd('migrate', uri=f'unix:{sock}')
        info = {}
        while time.monotonic() - t0 < 180:
            info = src.cmd('query-migrate')
            if info.get('status') in ('completed', 'failed', 'cancelled'):
                break
            time.sleep(0.1)
        return info, time.monotonic() - t0

    def test_ping_pong(self):
        disk = self.scratch_disk('disk.img', size=BLOCKS * BLOCK)
        sockdir = self.socket_dir().name
        src = self.soak_vm('vm0', disk)
        con = self.boot(src)
        con.send(WORKLOAD)
        i = con.wait_for('VP-STARTED', 60)
        self.assertIsNotNone(i, 'the workload did not start')
        irq0 = self.irq_count(con.lines[i:i + 1])
        time.sleep(3)

        raw = bytearray()
        times = []
        downtimes = []
        for r in range(ROUNDS):
            dst = self.soak_vm(f'vm{r + 1}', disk, '-incoming', 'defer')
            dst.launch()
            dcon = Console(dst)
            info, secs = self.migrate(src, dst,
                                      os.path.join(sockdir, f'm{r}.sock'))
            self.assertEqual(info.get('status'), 'completed',
                             f'migration {r + 1} of {ROUNDS}: {info}')
            self.assertEqual(dst.cmd('query-status')['status'], 'running',
                             f'destination of migration {r + 1} not running')
            times.append(secs)
            downtimes.append(info.get('downtime', 0))
            time.sleep(2)
            con.drain()
            src.shutdown()
            con.join(10)
            raw += con.data
            src, con = dst, dcon
            self.log.info('migration %d: %.1f s, downtime %s ms', r + 1,
                          secs, info.get('downtime'))

        # Output before the report command (whose echo may cut a tick)
        before = len(raw) + len(con.data)
        con.send(VERIFY)
        end = con.wait_for('VP-IRQ', 120)
        self.assertIsNotNone(end, 'the guest did not report')
        con.drain()
        src.shutdown()
        con.join(10)
        raw += con.data

        def lines(data):
            return (data.decode('utf-8', errors='replace')
                    .replace('\r', '').split('\n'))

        self.check_ticks(lines(raw[:before])[:-1])
        report = '\n'.join(lines(raw))
        bad = int(re.findall(r'^VP-BAD (\d+)', report, re.M)[-1])
        self.assertEqual(bad, 0, f'{bad} blocks read back wrong in the guest')
        blocks = re.findall(r'^VP-BLK (\d+) (\w+)', report, re.M)
        self.assertGreater(len(blocks), 0, 'the guest wrote no block')
        with open(disk, 'rb') as f:
            image = f.read()
        wrong = [b for b, s in blocks
                 if hashlib.md5(image[int(b) * BLOCK:(int(b) + 1) * BLOCK])
                 .hexdigest() != s]
        self.assertEqual(wrong, [], 'blocks differ in the image')
        writes = int(re.findall(r'^VP-WRITES (\d+)', report, re.M)[-1])
        ping = re.findall(r'^VP-PING (\d+) packets transmitted, (\d+) '
                          r'packets received', report, re.M)
        self.assertTrue(ping, 'no ping statistics')
        sent, got = map(int, ping[-1])
        self.assertGreater(got, 0, 'no ping answered')
        self.assertLessEqual(sent - got, ROUNDS,
                             f'{sent - got} of {sent} pings lost')
        irq1 = self.irq_count(re.findall(r'^VP-IRQ (.*)', report, re.M))
        self.assertGreater(irq1, irq0, 'the console raised no interrupt')

        figures = {
            'rounds': ROUNDS, 'migrations_completed': len(times),
            'migration_s_mean': round(sum(times) / len(times), 2),
            'migration_s_max': round(max(times), 2),
            'downtime_ms_mean': round(sum(downtimes) / len(downtimes), 1),
            'downtime_ms_max': max(downtimes),
            'blocks_written': writes, 'blocks_checked': len(blocks),
            'bytes_corrupted': 0, 'pings_sent': sent, 'pings_answered': got,
            'console_irqs': irq1 - irq0,
        }
        self.log.info('figures: %s', figures)
        if os.environ.get('VP_SOAK_REPORT'):
            with open(os.environ['VP_SOAK_REPORT'], 'w') as f:
                json.dump(figures, f, indent=1)
                f.write('\n')

    def irq_count(self, lines):
        """The console's interrupt count (all harts) in /proc/interrupts."""
        for line in lines:
            m = re.search(r'\d+:((?:\s+\d+)+).*ttyS0', line)
            if m:
                return sum(int(n) for n in m.group(1).split())
        self.fail(f'no ttyS0 line in /proc/interrupts: {lines}')

    def check_ticks(self, lines):
        ticks = [(int(n), float(up)) for n, up in
                 re.findall(r'VP-TICK (\d+) ([\d.]+)$', '\n'.join(lines),
                            re.M)]
        self.assertGreater(len(ticks), 2 * ROUNDS, 'too few ticks')
        numbers = [n for n, _ in ticks]
        self.assertEqual(numbers, list(range(1, len(numbers) + 1)),
                         'console ticks lost, repeated or reordered')
        ups = [up for _, up in ticks]
        self.assertEqual(ups, sorted(ups), 'the guest clock went back')

    def test_bad_streams(self):
        disk = self.scratch_disk('disk.img', size=1 << 20)
        src = self.soak_vm('src', disk)
        con = self.boot(src)
        saved = self.scratch_file('state.bin')
        src.cmd('migrate', uri=f'file:{saved}')
        for _ in range(600):
            status = src.cmd('query-migrate').get('status')
            if status in ('completed', 'failed'):
                break
            time.sleep(0.1)
        self.assertEqual(status, 'completed')
        src.cmd('cont')
        size = os.path.getsize(saved)

        truncated = self.scratch_file('truncated.bin')
        with open(saved, 'rb') as f, open(truncated, 'wb') as g:
            g.write(f.read(size // 2))
        self.refused(disk, truncated, r'load of migration failed')

        # Damage the device state: the version of the console function's
        # section (its header: 0x04, section id, idstr length, idstr,
        # instance id, version id)
        damaged = self.scratch_file('damaged.bin')
        with open(saved, 'rb') as f:
            data = bytearray(f.read())
        header = None
        for m in re.finditer(rb'\x04.{4}(.)([0-9a-f:.]+/pci-serial)', data,
                             re.S):
            if m.group(1)[0] == len(m.group(2)):
                header = m
                break
        self.assertIsNotNone(header, 'no pci-serial section in the stream')
        at = header.end() + 4
        data[at:at + 4] = (255).to_bytes(4, 'big')
        with open(damaged, 'wb') as f:
            f.write(data)
        self.refused(disk, damaged,
                     r"unsupported version 255 for '[0-9a-f:.]+/pci-serial'")

        # The source guest was never disturbed
        con.send('echo VP-ALIVE-$((6*7))')
        self.assertIsNotNone(con.wait_for('VP-ALIVE-42', 60),
                             'the source guest stopped')
        self.assertEqual(src.cmd('query-status')['status'], 'running')
        src.shutdown()

    def refused(self, disk, stream, expect):
        vm = self.soak_vm(f'dst-{os.path.basename(stream)}', disk,
                          '-incoming', f'file:{stream}')
        vm.set_qmp_monitor(enabled=False)
        vm.launch()
        vm.wait(timeout=60)
        log = vm.get_log() or ''
        self.log.info('destination of %s: exit %s, %s', stream,
                      vm.exitcode(), log.strip())
        self.assertEqual(vm.exitcode(), 1,
                         f'{os.path.basename(stream)} was not refused: '
                         f'exit {vm.exitcode()}: {log.strip()}')
        self.assertRegex(log, expect)
        self.assertNotRegex(log, r'(?i)assert|abort')


if __name__ == '__main__':
    KitTest.main()
