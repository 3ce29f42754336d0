#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The fork keeps upstream virt's migration ABI: a running stock guest on
# "-M virt,aia=aplic-imsic" migrates from the pristine build of the base
# (VP_UPSTREAM_QEMU) to the fork, and keeps running there: the ticks it
# prints go on from where they stopped, with none lost.

import os
import re

from vp_guest import KitTest

TICKS = 'i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.2; done'


class VirtMigration(KitTest):

    def setUp(self):
        super().setUp()
        self.upstream = os.environ.get('VP_UPSTREAM_QEMU')
        self.assertIsNotNone(self.upstream, 'VP_UPSTREAM_QEMU is not set')
        self.assertTrue(os.path.exists(self.upstream),
                        f'pristine build {self.upstream} is missing')

    def kit_vm(self, name, binary, disk, *extra):
        return self.kit_machine(
            'virt,aia=aplic-imsic', 'console=ttyS0 panic=-1 -- ' + TICKS,
            '-device', 'virtio-blk-pci,drive=d0',
            '-drive', f'if=none,id=d0,file={disk},format=raw', *extra,
            name=name, mem='512M', qemu_bin=binary)

    def last_tick(self, text):
        ticks = re.findall(r'^tick (\d+)$', text, re.M)
        return int(ticks[-1]) if ticks else None

    def test_upstream_to_fork(self):
        disk = self.scratch_disk('disk.img', data=b'virt-pcie migration\n')
        sock = os.path.join(self.socket_dir().name, 'mig.sock')
        src = self.kit_vm('src', self.upstream, disk)
        src.launch()
        before = self.read_console(src, 'tick 5', 120)
        self.assertIn('tick 5', before, 'the guest never ran its loop')
        self.assertIn('VP-REPORT-END', before)

        dst = self.kit_vm('dst', self.qemu_bin, disk, '-incoming', 'defer')
        dst.launch()
        dst.cmd('migrate-incoming', uri=f'unix:{sock}')
        src.cmd('migrate', uri=f'unix:{sock}')
        self.wait_migration(src, 60)
        self.assertEqual(dst.cmd('query-status')['status'], 'running')
        src_last = self.last_tick(before + self.drain(src))
        src.shutdown()

        after = self.read_console(dst, f'tick {src_last + 10}', 60)
        dst_ticks = [int(t) for t in re.findall(r'^tick (\d+)$', after, re.M)]
        self.assertTrue(dst_ticks, 'the guest printed nothing after migration')
        self.assertLessEqual(min(dst_ticks), src_last + 1,
                             'ticks were lost across migration')
        self.assertGreaterEqual(max(dst_ticks), src_last + 10,
                                'the guest stopped after migration')

    def drain(self, vm):
        """Whatever the source printed until it stopped, without blocking."""
        return self.read_console(vm, '\0never\0', 1)


if __name__ == '__main__':
    KitTest.main()
