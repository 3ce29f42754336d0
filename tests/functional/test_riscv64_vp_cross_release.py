#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Machine version virt-pcie-10.0 keeps its migration ABI across releases of
# the fork: a running stock guest on "-M virt-pcie-10.0" migrates live from
# the fork as released for 10.0 (VP_RELEASE_10_0_QEMU, built by
# tools/build-release.sh from the commit in
# tests/data/virt-pcie/10.0/built-from) to the current build, and from the
# current build back to that release.
#
# While it migrates, the guest keeps writing random 4 KiB blocks to a
# virtio-blk disk and prints each block's checksum on the console
# (pci-serial). On the destination, its shell still answers, the writes go
# on, every block reads back from the device (and from the image file on the
# host) as the guest wrote it, the disk written before migration is
# unchanged, and neither the guest's clock nor its RTC has gone backwards.

import hashlib
import os
import re
import threading
import time

from vp_guest import KitTest

MACHINE = 'virt-pcie-10.0'
BLOCK = 4096
BLOCKS = 1024            # the size of the second disk, in blocks
MIG_BANDWIDTH = 32 << 20  # bytes/s; the guest has about 100 MB to send

# A background writer: block i of /dev/vdb gets fresh random data, is
# synced to the device, and its md5 is logged in the guest's RAM
# (/tmp/vp-log, which migrates with it) and printed as "VP-W i md5".
# It stops when /tmp/vp-stop exists, or when the disk is full.
WRITER = (
    'rm -f /tmp/vp-stop /tmp/vp-log; '
    '(i=0; while [ ! -e /tmp/vp-stop ] && [ $i -lt %d ]; do '
    'dd if=/dev/urandom of=/tmp/vp-blk bs=%d count=1 2>/dev/null; '
    'dd if=/tmp/vp-blk of=/dev/vdb bs=%d seek=$i conv=notrunc 2>/dev/null; '
    'sync; s=$(md5sum < /tmp/vp-blk); s=${s%%%% *}; '
    'echo "$i $s" >> /tmp/vp-log; echo VP-W $i $s; '
    'i=$((i+1)); sleep 0.1; done; echo VP-WRITER-END $i) & '
    'echo VP-WRITER-START'
    % (BLOCKS, BLOCK, BLOCK))
STOP = 'touch /tmp/vp-stop; wait; echo VP-LOGGED $(wc -l < /tmp/vp-log)'
# Each logged block as read back from the device: "VP-R i read logged".
READBACK = ('echo 3 > /proc/sys/vm/drop_caches; '
            'while read i s; do '
            'r=$(dd if=/dev/vdb bs=%d skip=$i count=1 2>/dev/null | md5sum); '
            'echo VP-R $i ${r%%%% *} $s; done < /tmp/vp-log' % BLOCK)

# Not anchored at the start: the tty's echo of a command typed while the
# writer runs may precede a line.
W_LINE = re.compile(r'VP-W (\d+) ([0-9a-f]{32})$', re.M)


class ConsoleTail(threading.Thread):
    """Every line a VM prints from now until it exits, with the time it
    arrived, so that the source's output can be placed before, during or
    after its migration."""

    def __init__(self, vm):
        super().__init__(daemon=True)
        self.vm = vm
        self.lines = []

    def run(self):
        self.vm.console_socket.settimeout(None)
        while True:
            try:
                raw = self.vm.console_file.readline()
            except (OSError, ValueError):
                break
            if not raw:
                break
            line = raw.decode('utf-8', errors='replace').rstrip('\r\n')
            self.lines.append((time.monotonic(), line))

    def text(self, start=0.0, end=float('inf')):
        return ''.join(line + '\n' for t, line in self.lines
                       if start <= t < end)


class CrossReleaseMigration(KitTest):

    timeout = 600

    def setUp(self):
        super().setUp()
        self.release = os.environ.get('VP_RELEASE_10_0_QEMU')
        self.assertIsNotNone(
            self.release, 'VP_RELEASE_10_0_QEMU (the fork as released for '
            'virt-pcie-10.0, from tools/build-release.sh) is not set')
        self.assertTrue(os.access(self.release, os.X_OK),
                        f'the 10.0 release build {self.release} is missing; '
                        'run make build')

    def kit_vm(self, name, binary, fixed, busy, *extra):
        # The 10.0 release's TCG (QEMU 10.0.13) can abort in a race between
        # a vCPU thread and a memory map change ("iotlb_to_section: Assertion
        # `section_index < d->map.sections_nb' failed", seen once in a CI
        # run while Linux enabled the PCI BARs). A frozen release cannot be
        # fixed, so it runs one TCG thread; the migration stream is the
        # same either way.
        accel = (['-accel', 'tcg,thread=single'] if binary == self.release
                 else [])
        return self.kit_machine(
            MACHINE, 'console=ttyS0 panic=-1',
            '-device', 'virtio-blk-pci,drive=d0',
            '-drive', f'if=none,id=d0,file={fixed},format=raw',
            '-device', 'virtio-blk-pci,drive=d1',
            '-drive', f'if=none,id=d1,file={busy},format=raw', *accel,
            *extra, name=name, mem='512M', qemu_bin=binary)

    def console_writes(self, text):
        return {int(i): s for i, s in W_LINE.findall(text)}

    def migrate(self, src_bin, dst_bin):
        self.log.info('-M %s from %s to %s', MACHINE, src_bin, dst_bin)
        fixed = self.scratch_disk('fixed.img', size=1 << 20)
        busy = self.scratch_disk('busy.img', size=BLOCKS * BLOCK)
        sock = os.path.join(self.socket_dir().name, 'mig.sock')

        src = self.kit_vm('src', src_bin, fixed, busy)
        self.boot_to_shell(src)
        sizes = self.shell(src, 'echo VP-SIZES $(cat /sys/block/vda/size '
                                '/sys/block/vdb/size)')
        self.assertRegex(sizes, r'(?m)^VP-SIZES 2048 8192',
                         'the disks are not /dev/vda (1 MiB), /dev/vdb (4 MiB)')
        written = self.write_disk(src)
        before = self.state(src)
        self.assertEqual(before[0], written)

        src_text = self.shell(src, WRITER)
        src_text += self.read_console(src, 'VP-W 10 ', 60)
        self.assertIn('VP-W 10 ', src_text, 'the writer did not run')

        dst = self.kit_vm('dst', dst_bin, fixed, busy, '-incoming', 'defer')
        dst.launch()
        dst.cmd('migrate-incoming', uri=f'unix:{sock}')
        # A bandwidth cap keeps the migration going for a few seconds even
        # on a fast host, so that the guest writes while it runs.
        src.cmd('migrate-set-parameters', max_bandwidth=MIG_BANDWIDTH)
        tail = ConsoleTail(src)
        tail.start()
        t0 = time.monotonic()
        src.cmd('migrate', uri=f'unix:{sock}')
        self.wait_migration(src)
        t1 = time.monotonic()
        self.assertEqual(dst.cmd('query-status')['status'], 'running')
        self.log.info('migration: %s', src.cmd('query-migrate'))
        src.shutdown()
        tail.join(10)
        self.assertFalse(tail.is_alive(), 'the source console did not close')

        before_w = self.console_writes(src_text + tail.text(end=t0))
        during_w = self.console_writes(tail.text(start=t0, end=t1))
        src_w = self.console_writes(src_text + tail.text())
        last = max(src_w)
        self.assertTrue(during_w, 'the guest wrote nothing while it migrated')
        dst_text = self.read_console(dst, f'VP-W {last + 10} ', 60)
        self.assertIn(f'VP-W {last + 10} ', dst_text,
                      'the writer did not go on after migration')
        dst_text += self.shell(dst, STOP)
        self.assertIn('VP-WRITER-END', dst_text)
        n = int(re.findall(r'^VP-LOGGED (\d+)', dst_text, re.M)[-1])
        self.check_echo(dst)

        # The guest's own log of what it wrote, kept in its RAM.
        out = self.shell(dst, 'cat /tmp/vp-log')
        log = {int(i): s for i, s in
               re.findall(r'^(\d+) ([0-9a-f]{32})$', out, re.M)}
        self.assertEqual(sorted(log), list(range(n)), 'the write log is broken')

        # The console lines agree with it. Up to the tenth block written on
        # the destination, before anything was typed there, none is missing
        # but perhaps the one being printed when the source stopped (split
        # between the two consoles).
        seen = {**src_w, **self.console_writes(dst_text)}
        for i, s in seen.items():
            self.assertEqual(s, log.get(i),
                             f'console and log differ at block {i}')
        missing = sorted(set(range(last + 11)) - set(seen))
        self.assertIn(missing, ([], [last + 1]),
                      f'console lines lost: blocks {missing}')

        # The device holds what was written, before and during migration.
        out = self.shell(dst, READBACK, timeout=180)
        back = re.findall(r'^VP-R (\d+) ([0-9a-f]{32}) ([0-9a-f]{32})$',
                          out, re.M)
        self.assertEqual(len(back), n, 'the read-back is incomplete')
        bad = [int(i) for i, r, s in back if r != s]
        self.assertEqual(bad, [], 'blocks that read back differently')
        after = self.state(dst)
        self.assertEqual(after[0], written, 'the disk written before changed')
        self.assertGreaterEqual(after[1], before[1], 'guest clock went back')
        self.assertGreaterEqual(after[2], before[2], 'RTC went back')
        dst.shutdown()

        # And so does the image file on the host.
        with open(busy, 'rb') as f:
            for i in range(n):
                self.assertEqual(hashlib.md5(f.read(BLOCK)).hexdigest(),
                                 log[i], f'block {i} of the image file')
        self.log.info('%d blocks written: %d before the migration, %d during '
                      'it (%.1f s), %d after', n, len(before_w),
                      len(during_w), t1 - t0, n - last - 1)

    def test_release_to_current(self):
        self.migrate(self.release, self.qemu_bin)

    def test_current_to_release(self):
        self.migrate(self.qemu_bin, self.release)


if __name__ == '__main__':
    KitTest.main()
