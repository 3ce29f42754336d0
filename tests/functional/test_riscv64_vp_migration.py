#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A running stock guest on -M virt-pcie survives live migration (two QEMU
# processes over a unix socket) and savevm/loadvm. After each, the guest's
# shell still answers on the console (pci-serial), the disk contents
# written before read back the same from the device, and neither the RTC
# nor the guest's clock has gone backwards.

import os
import re
import subprocess
import time

from vp_guest import KitTest

WRITE = ('dd if=/dev/urandom of=/dev/vda bs=1024 count=512 2>/dev/null; '
         'sync; echo 3 > /proc/sys/vm/drop_caches; '
         'echo VP-SUM $(md5sum /dev/vda)')
STATE = ('echo 3 > /proc/sys/vm/drop_caches; echo VP-SUM $(md5sum /dev/vda); '
         'echo VP-UP $(cut -d. -f1 /proc/uptime); echo VP-RTC $(date +%s)')


class VirtPcieMigration(KitTest):

    def kit_vm(self, name, disk, fmt, *extra):
        return self.kit_machine(
            'virt-pcie', 'console=ttyS0 panic=-1',
            '-device', 'virtio-blk-pci,drive=d0',
            '-drive', f'if=none,id=d0,file={disk},format={fmt}', *extra,
            name=name, mem='512M')

    def shell(self, vm, command, timeout=60):
        """Run COMMAND in the guest's console shell; its output."""
        n = time.monotonic_ns()
        # The quotes keep the echoed command line from matching the marker.
        vm.console_socket.sendall(f'{command}; echo VP-D"ONE"-{n}\n'.encode())
        out = self.read_console(vm, f'VP-DONE-{n}', timeout)
        self.assertIn(f'VP-DONE-{n}', out,
                      f'the guest shell did not answer {command!r}')
        return out

    def state(self, vm):
        out = self.shell(vm, STATE)
        return (re.findall(r'^VP-SUM (\w+)', out, re.M)[-1],
                int(re.findall(r'^VP-UP (\d+)', out, re.M)[-1]),
                int(re.findall(r'^VP-RTC (\d+)', out, re.M)[-1]))

    def boot_to_shell(self, vm):
        vm.launch()
        out = self.read_console(vm, 'VP-REPORT-END', 180)
        self.assertIn('VP-REPORT-END', out, 'the guest did not boot')
        time.sleep(1)
        self.shell(vm, 'true')

    def check_echo(self, vm):
        out = self.shell(vm, 'echo VP-ECHO-$((6*7))')
        self.assertRegex(out, r'(?m)^VP-ECHO-42', 'no console echo')

    def test_live_migration(self):
        disk = self.scratch_disk('disk.img', size=1 << 20)
        sock = os.path.join(self.socket_dir().name, 'mig.sock')
        src = self.kit_vm('src', disk, 'raw')
        self.boot_to_shell(src)
        written = re.findall(r'^VP-SUM (\w+)', self.shell(src, WRITE), re.M)[-1]
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
        written = re.findall(r'^VP-SUM (\w+)', self.shell(vm, WRITE), re.M)[-1]
        before = self.state(vm)
        self.assertEqual(vm.cmd('human-monitor-command',
                                command_line='savevm vp1'), '')
        # Change the disk after the snapshot; loadvm must bring it back.
        changed = re.findall(r'^VP-SUM (\w+)', self.shell(vm, WRITE), re.M)[-1]
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
