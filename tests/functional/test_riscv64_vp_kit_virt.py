#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The stock guest kit on upstream-base "virt" (aia=aplic-imsic): the
# reference the virt-pcie machine is compared with. Checks, from the guest's
# own report, that the PCIe devices are bound and interrupt by MSI-X through
# the IMSIC, that the RTC reads, and that the guest powers off cleanly. Both
# OpenSBI versions of the kit boot.

from vp_guest import KitTest

NVME = '1b36:0010'
VIRTIO_BLK = ('1af4:1001', '1af4:1042')
VIRTIO_NET = ('1af4:1000', '1af4:1041')


class KitOnVirt(KitTest):

    def devices(self):
        d0 = self.scratch_disk('nvme.img')
        d1 = self.scratch_disk('vblk.img')
        return ['-device', 'nvme,serial=vp0,drive=d0',
                '-drive', f'if=none,id=d0,file={d0},format=raw',
                '-device', 'virtio-blk-pci,drive=d1',
                '-drive', f'if=none,id=d1,file={d1},format=raw',
                '-device', 'virtio-net-pci,netdev=n0,romfile=',
                '-netdev', 'user,id=n0']

    def check_virtio(self, report, ids):
        funcs = [f for i in ids for f in report.functions(i)]
        self.assertEqual(len(funcs), 1, f'virtio function {ids}')
        self.assertEqual(funcs[0]['driver'], 'virtio-pci')
        self.assertEqual(funcs[0]['irq'], 'msix')

    def test_devices_msix_opensbi_1_6(self):
        run = self.boot_kit('virt,aia=aplic-imsic', self.devices(),
                            opensbi='1.6', cmd='cat /sys/block/nvme0n1/size')
        self.assertRegex(run.console, r'OpenSBI v1\.6\n')
        self.assertIn('SBI implementation ID=0x1 Version=0x10006', run.console)
        self.assertIsNotNone(run.report, 'the guest printed no report')
        r = run.report
        self.assert_bound_msix(r, NVME, 'nvme')
        self.check_virtio(r, VIRTIO_BLK)
        self.check_virtio(r, VIRTIO_NET)
        self.assertTrue(r.irq_lines(r'PCI-MSIX?-0000:00:0\d\.0.*nvme'),
                        'no nvme PCI-MSI/MSIX line in /proc/interrupts')
        self.assertTrue(r.irq_lines(r'PCI-MSIX?-.*virtio\d+-'),
                        'no virtio PCI-MSI/MSIX line in /proc/interrupts')
        self.assertRegex(r.rtc, r'^\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4}',
                         '/dev/rtc0 did not read')
        # The 64 MiB NVMe namespace is 131072 sectors.
        self.assertIn('131072', run.console)
        self.assertEqual(run.cmd_rc, 0)
        self.assertIn('VP-POWEROFF', run.console)
        self.assertEqual(run.exitcode, 0,
                         'QEMU did not exit cleanly on poweroff')

    def test_boot_opensbi_1_5_1(self):
        run = self.boot_kit('virt,aia=aplic-imsic', self.devices(),
                            opensbi='1.5.1', cmd='true')
        self.assertRegex(run.console, r'OpenSBI v1\.5\n')
        self.assertIn('SBI implementation ID=0x1 Version=0x10005', run.console)
        self.assertIsNotNone(run.report, 'the guest printed no report')
        self.assert_bound_msix(run.report, NVME, 'nvme')
        self.assertIn('ttyS0', run.report.ttys)
        self.assertEqual(run.cmd_rc, 0)
        self.assertEqual(run.exitcode, 0,
                         'QEMU did not exit cleanly on poweroff')


if __name__ == '__main__':
    KitTest.main()
