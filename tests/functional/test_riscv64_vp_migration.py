#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A running stock guest on -M virt-pcie survives live migration (two QEMU
# processes over a unix socket) and savevm/loadvm. After each, the guest's
# shell still answers on the console (pci-serial), the disk contents
# written before read back the same from the device, and neither the RTC
# nor the guest's clock has gone backwards.

import os
import subprocess

from vp_guest import KitTest


class VirtPcieMigration(KitTest):

    def kit_vm(self, name, disk, fmt, *extra):
        return self.kit_machine(
            'virt-pcie', 'console=ttyS0 panic=-1',
            '-device', 'virtio-blk-pci,drive=d0',
            '-drive', f'if=none,id=d0,file={disk},format={fmt}', *extra,
            name=name, mem='512M')

    def test_live_migration(self):
        disk = self.scratch_disk('disk.img', size=1 << 20)
        sock = os.path.join(self.socket_dir().name, 'mig.sock')
        src = self.kit_vm('src', disk, 'raw')
        self.boot_to_shell(src)
        written = self.write_disk(src)
        before = self.state(src)
        self.assertEqual(before[0], written)

        dst = self.kit_vm('dst', disk, 'raw', '-incoming', 'defer')
        dst.launch()
        dst.cmd('migrate-incoming', uri=f'unix:{sock}')
        src.cmd('migrate', uri=f'unix:{sock}')
        self.wait_migration(src)
        self.assertEqual(dst.cmd('query-status')['status'], 'running')
        src.shutdown()

        self.check_echo(dst)
        after = self.state(dst)
        self.assertEqual(after[0], written, 'disk contents changed')
        self.assertGreaterEqual(after[1], before[1], 'guest clock went back')
        self.assertGreaterEqual(after[2], before[2], 'RTC went back')

    def test_savevm_loadvm(self):
        disk = self.scratch_file('disk.qcow2')
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', disk, '1M'],
                       check=True)
        vm = self.kit_vm('snap', disk, 'qcow2')
        self.boot_to_shell(vm)
        written = self.write_disk(vm)
        before = self.state(vm)
        self.assertEqual(vm.cmd('human-monitor-command',
                                command_line='savevm vp1'), '')
        # Change the disk after the snapshot; loadvm must bring it back.
        changed = self.write_disk(vm)
        self.assertNotEqual(changed, written)
        self.assertEqual(vm.cmd('human-monitor-command',
                                command_line='loadvm vp1'), '')
        self.check_echo(vm)
        after = self.state(vm)
        self.assertEqual(after[0], written, 'loadvm did not restore the disk')
        self.assertGreaterEqual(after[1], before[1], 'guest clock went back')
        self.assertGreaterEqual(after[2], before[2], 'RTC went back')


if __name__ == '__main__':
    KitTest.main()
