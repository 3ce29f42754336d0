#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# -device riscv-iommu-pci on -M virt-pcie, with the kit's newest kernel
# (Debian's 7.x has the RISC-V IOMMU driver; 6.12 has none). The guest
# reports what it sees: the IOMMU bound to its driver, every other PCI
# function in an IOMMU group with a translating (DMA) domain, and I/O that
# only works if DMA and MSIs pass through it: data written to an NVMe disk
# and read back from the device, pings through virtio-net, each device's
# MSI-X lines counting, and no IOMMU fault in the kernel log. (Debian's
# kernels have no IOMMU_DMA, so the groups' domains are identity ones: the
# IOMMU looks each request up and passes it through.)

import base64
import re

from vp_guest import KitTest

NVME_BDF = '0000:00:02.0'
NET_BDF = '0000:00:03.0'
IOMMU_BDF = '0000:00:04.0'

# A script, passed base64-encoded: Linux gives at most 32 words after "--"
# to init (and panics on more), and this takes more.
IOMMU_SH = (
    'cd /sys/kernel/iommu_groups;for g in *;do '
    'echo VP-GRP $g $(cat $g/type) $(ls $g/devices);done;'
    'dd if=/dev/urandom of=/tmp/d bs=64k count=16 2>/dev/null;'
    'dd if=/tmp/d of=/dev/nvme0n1 oflag=direct bs=64k 2>/dev/null;'
    'echo VP-W $(md5sum </tmp/d);'
    'echo VP-R $(dd if=/dev/nvme0n1 iflag=direct bs=64k count=16 '
    '2>/dev/null|md5sum);'
    'ip l set eth0 up;ip a a 10.0.2.15/24 dev eth0;'
    'ping -c 3 10.0.2.2|grep -c ttl=|sed s/^/VP-PONG\\ /;'
    'cat /proc/interrupts;'
    'dmesg|grep -c "00:04.0: .*[Ff]ault"|sed s/^/VP-FAULTS\\ /')
IOMMU_CMD = ('echo ' + base64.b64encode(IOMMU_SH.encode()).decode() +
             '|base64 -d|sh')


class IommuOnVirtPcie(KitTest):

    timeout = 300

    def test_iommu_nvme_virtio_net(self):
        disk = self.scratch_disk('nvme.img')
        run = self.boot_kit(
            'virt-pcie', kernel='new', timeout=240, cmd=IOMMU_CMD,
            args=('-device', f'nvme,serial=vp0,drive=d0,addr=2',
                  '-drive', f'if=none,id=d0,file={disk},format=raw',
                  '-device', 'virtio-net-pci,netdev=n0,romfile=,addr=3',
                  '-netdev', 'user,id=n0',
                  '-device', 'riscv-iommu-pci,addr=4'))
        self.assertIsNotNone(run.report, 'no guest report; console tail:\n'
                             + run.console[-3000:])
        c = run.console

        iommu = run.report.pci.get(IOMMU_BDF)
        self.assertIsNotNone(iommu, f'no IOMMU at {IOMMU_BDF}')
        self.assertEqual(iommu['driver'], 'iommu_pci',
                         'the IOMMU is not bound to the RISC-V IOMMU driver')

        groups = {}
        for g, kind, devs in re.findall(r'^VP-GRP (\d+) (\S+) ?(.*)$', c,
                                        re.M):
            for d in devs.split():
                groups[d] = (g, kind)
        self.log.info('IOMMU groups: %s', groups)
        # Debian's riscv64 kernels are built without IOMMU_DMA, so the DMA
        # API gives each group an identity domain: the IOMMU looks every
        # request up in its device directory and passes it on untranslated.
        for bdf in (NVME_BDF, NET_BDF):
            self.assertIn(bdf, groups, f'{bdf} is in no IOMMU group')
            self.assertIn(groups[bdf][1], ('DMA', 'DMA-FQ', 'identity'),
                          f'{bdf} has no domain in the IOMMU')
        self.assertNotIn(IOMMU_BDF, groups, 'the IOMMU translates itself')
        self.assertNotEqual(groups[NVME_BDF][0], groups[NET_BDF][0],
                            'NVMe and virtio-net share a group')

        w = re.search(r'^VP-W (\w+)', c, re.M)
        r = re.search(r'^VP-R (\w+)', c, re.M)
        self.assertTrue(w and r, 'no NVMe checksums')
        self.assertEqual(w.group(1), r.group(1),
                         'NVMe read back other data than was written')
        self.assertRegex(c, r'(?m)^VP-PONG [1-3]$',
                         'no ping reply through virtio-net')
        for bdf in (NVME_BDF, NET_BDF):
            lines = [l for l in c.splitlines()
                     if f'PCI-MSIX-{bdf}' in l]
            self.assertTrue(lines, f'no MSI-X line of {bdf}')
            counts = [sum(int(x) for x in l.split()[1:3] if x.isdigit())
                      for l in lines]
            self.assertTrue(any(counts), f'no MSI-X of {bdf} delivered')
        # (the driver reports a fault as "iommu_pci 0000:00:04.0: Fault")
        self.assertRegex(c, r'(?m)^VP-FAULTS 0$', 'IOMMU faults logged')
        self.assertEqual(run.cmd_rc, 0)


if __name__ == '__main__':
    KitTest.main()
