#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Bad command lines for -M virt-pcie. Each one must be refused at startup:
# QEMU exits with status 1 (not a signal, not an abort, not 0), within 30 s,
# and prints an error that names what is wrong. The expected messages are
# the ones QEMU really prints (taken from runs by hand), not invented ones.
#
# Every case runs with -machine dumpdtb=FILE, so that a command line QEMU
# wrongly accepts ends at once with exit status 0 (and fails the test)
# instead of running a guest until the timeout.

import os
import re
import subprocess

from qemu_test import QemuSystemTest

TIMEOUT = 30

# name: (arguments, regex the error output must match). "{kernel}" and
# "{notdtb}" are scratch files the test creates: a raw kernel image (4 KiB
# of zeros) and a file that is not a device tree.
CASES = {
    'unknown_machine_option': (
        ['-M', 'virt-pcie,foo=bar'],
        r"Property 'virt-pcie-[\d.]+-machine\.foo' not found"),
    'too_many_harts': (
        ['-smp', '4097'],
        r"Invalid SMP CPUs 4097\. The max CPUs supported by machine "
        r"'virt-pcie-[\d.]+' is 4096"),
    'harts_4096_node_not_alone': (
        ['-smp', '4096', '-m', '1G', '-numa', 'node,cpus=0-4095,mem=512M',
         '-numa', 'node,mem=512M'],
        r'virt-pcie: NUMA node 0 has 4096 harts: a node of more than 4095 '
        r'harts \(the ACLINT MTIMER limit\) must be the only node'),
    'too_many_nodes': (
        ['-smp', '17', '-m', '2176M'] + ['-numa', 'node,mem=128M'] * 17,
        r'virt-pcie: 17 NUMA nodes requested, at most 16'),
    # Up to 10.0, -smp sockets were the NUMA nodes (frozen)
    'harts_4096_one_socket_10_0': (
        ['-M', 'virt-pcie-10.0', '-smp', '4096,sockets=1'],
        r'virt-pcie: socket 0 has 4096 harts, at most 4095 per socket'),
    'too_many_sockets_10_0': (
        ['-M', 'virt-pcie-10.0', '-smp', '17,sockets=17'],
        r'virt-pcie: 17 sockets requested, at most 16'),
    'maxcpus_above_cpus': (
        ['-smp', '8,maxcpus=16'],
        r'virt-pcie: maxcpus \(16\) must equal cpus \(8\)'),
    'cpu_32bit': (
        ['-cpu', 'rv32'],
        r"virt-pcie: CPU type 'rv32-riscv-cpu' is 32-bit"),
    'memory_too_small': (
        ['-m', '64M'],
        r'virt-pcie: RAM size 0x4000000 \(64 MiB\) is out of range: '
        r'128 MiB to 1022 GiB'),
    'memory_just_too_small': (
        ['-m', '127M'],
        r'virt-pcie: RAM size 0x7f00000 \(127 MiB\) is out of range'),
    'memory_too_large': (
        ['-m', '2T'],
        r'virt-pcie: RAM size 0x20000000000 \(2097152 MiB\) is out of range'),
    'sysbus_device_goldfish_rtc': (
        ['-device', 'goldfish_rtc'],
        r"-device goldfish_rtc: Parameter 'driver' expects a pluggable "
        r"device type"),
    'sysbus_device_virtio_mmio': (
        ['-device', 'virtio-mmio'],
        r"-device virtio-mmio: Parameter 'driver' expects a pluggable "
        r"device type"),
    # (the only virtio bus is the built-in power button's, which is taken)
    'virtio_mmio_device_no_bus': (
        ['-device', 'virtio-rng-device'],
        r"-device virtio-rng-device: A 'virtio-bus' bus was found but is "
        r"full"),
    'missing_bios': (
        ['-bios', '/nonexistent/fw_dynamic.bin'],
        r'Unable to find the RISC-V BIOS "/nonexistent/fw_dynamic\.bin"'),
    'missing_dtb': (
        ['-dtb', '/nonexistent/virt-pcie.dtb'],
        r"Unable to get size of device tree file "
        r"'/nonexistent/virt-pcie\.dtb'"),
    'dtb_not_a_dtb': (
        ['-dtb', '{notdtb}'],
        r"-dtb '[^']*/not-a-dtb\.bin' is not a flattened device "
        r"tree \(FDT_ERR_BADMAGIC\)"),
    'missing_kernel': (
        ['-kernel', '/nonexistent/Image'],
        r"could not load kernel '/nonexistent/Image'"),
    'missing_initrd': (
        ['-kernel', '{kernel}', '-initrd', '/nonexistent/initrd.cpio.gz'],
        r"could not load ramdisk '/nonexistent/initrd\.cpio\.gz'"),
    'aia_guests_8': (
        ['-M', 'virt-pcie,aia-guests=8'],
        r'Invalid aia-guests value 8: 0 to 7 guest interrupt files per hart'),
    'aia_guests_negative': (
        ['-M', 'virt-pcie,aia-guests=-1'],
        r'Invalid aia-guests value -1: 0 to 7 guest interrupt files per hart'),
    'aia_guests_not_a_number': (
        ['-M', 'virt-pcie,aia-guests=x'],
        r"Parameter 'aia-guests' expects integer"),
    'ea_io_base_misaligned': (
        ['-device', 'pci-serial,ea-io-base=0x1001'],
        r'-device pci-serial,ea-io-base=0x1001: pci-serial: fixed BAR '
        r'address 0x1001 is not a dword aligned 32-bit address'),
    'ea_mem_base_overlaps_console': (
        ['-device', 'pci-serial,ea-mem-base=0x7ffff004'],
        r'-device pci-serial,ea-mem-base=0x7ffff004: pci-serial: fixed BAR '
        r'0x7ffff004-0x7ffff00b overlaps the fixed BAR 0x7ffff000-0x7ffff007 '
        r'of pci-serial at 00\.1'),
    'ea_io_base_overlaps_console_10_0': (
        ['-M', 'virt-pcie-10.0', '-device', 'pci-serial,ea-io-base=0xffc'],
        r'-device pci-serial,ea-io-base=0xffc: pci-serial: fixed BAR '
        r'0xffc-0x1003 overlaps the fixed BAR 0xff8-0xfff of pci-serial '
        r'at 00\.1'),
    'ea_io_and_mem_base': (
        ['-device', 'pci-serial,ea-io-base=0x1000,ea-mem-base=0x7fffe000'],
        r'pci-serial: ea-io-base \(0x1000\) and ea-mem-base \(0x7fffe000\) '
        r'are exclusive'),
    'usb_on': (
        ['-M', 'virt-pcie,usb=on'],
        r'virt-pcie: usb=on asks for a built-in USB controller, which the '
        r'machine does not have: add one with -device qemu-xhci'),
    'stdout_value': (
        ['-M', 'virt-pcie,stdout=serial0'],
        r"Invalid stdout value 'serial0': 'pci' \(the console function's "
        r"node\) or 'uart'"),
    'stdout_10_0': (
        ['-M', 'virt-pcie-10.0,stdout=pci'],
        r"Invalid stdout value 'pci': virt-pcie-10\.0 has only the "
        r"console's firmware view"),
    'iommu_second': (
        ['-device', 'riscv-iommu-pci',
         '-device', 'riscv-iommu-pci,id=io1'],
        r"-device riscv-iommu-pci,id=io1: virt-pcie: a second "
        r"riscv-iommu-pci \('io1'\) is not supported"),
    'iommu_behind_root_port': (
        ['-device', 'pcie-root-port,id=rp0',
         '-device', 'riscv-iommu-pci,bus=rp0'],
        r"-device riscv-iommu-pci,bus=rp0: virt-pcie: riscv-iommu-pci must "
        r"be on the root bus, not on bus 'rp0'"),
    'ea_io_base_overlap_each_other': (
        ['-device', 'pci-serial,ea-io-base=0x2000',
         '-device', 'pci-serial,ea-io-base=0x2004'],
        r'-device pci-serial,ea-io-base=0x2004: pci-serial: fixed BAR '
        r'0x2004-0x200b overlaps the fixed BAR 0x2000-0x2007 of pci-serial '
        r'at 01\.0'),
    'ea_io_base_outside_io_space': (
        ['-device', 'pci-serial,ea-io-base=0xfffc'],
        r"-device pci-serial,ea-io-base=0xfffc: pci-serial: fixed BAR "
        r"0xfffc-0x10003 is outside the bus's I/O space \(0x0-0xffff\)"),
    'console_slot_taken': (
        ['-device', 'e1000e,addr=0.1,romfile='],
        r'-device e1000e,addr=0\.1,romfile=: PCI: slot 0 function 1 not '
        r'available for e1000e, in use by pci-serial'),
    'no_such_machine_version': (
        ['-M', 'virt-pcie-9.2'],
        r'unsupported machine type: "virt-pcie-9\.2"'),
}


class VirtPcieBadInput(QemuSystemTest):

    timeout = 60 * len(CASES)

    def run_case(self, args, expect):
        kernel = self.scratch_file('kernel.bin')
        with open(kernel, 'wb') as f:
            f.write(bytes(4096))
        notdtb = self.scratch_file('not-a-dtb.bin')
        with open(notdtb, 'w') as f:
            f.write('this is not a flattened device tree\n')
        args = [a.format(kernel=kernel, notdtb=notdtb) for a in args]
        machine = [] if any(a.startswith('virt-pcie') for a in args) \
            else ['-M', 'virt-pcie']
        bios = [] if '-bios' in args else ['-bios', 'none']
        cmd = [self.qemu_bin, *machine, *bios, *args, '-display', 'none',
               '-serial', 'none', '-monitor', 'none',
               '-machine', 'dumpdtb=' + self.scratch_file('out.dtb')]
        self.log.info('running %s', ' '.join(cmd))
        try:
            p = subprocess.run(cmd, capture_output=True, text=True,
                               timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self.fail(f'QEMU did not exit within {TIMEOUT} s: {" ".join(args)}')
        out = p.stdout + p.stderr
        self.log.info('exit %d, output:\n%s', p.returncode, out)
        self.assertGreaterEqual(p.returncode, 0,
                                f'QEMU was killed by signal {-p.returncode} '
                                f'on {" ".join(args)}: {out.strip()}')
        self.assertNotEqual(p.returncode, 0,
                            f'QEMU accepted {" ".join(args)} (exit status 0)')
        self.assertEqual(p.returncode, 1,
                         f'exit status of {" ".join(args)}: {out.strip()}')
        self.assertNotRegex(out, r'(?i)assert|abort|core dumped',
                            f'QEMU aborted on {" ".join(args)}')
        self.assertRegex(out, expect, f'error message for {" ".join(args)}')


def make_test(args, expect):
    def test(self):
        self.run_case(args, expect)
    return test


for _name, (_args, _expect) in CASES.items():
    setattr(VirtPcieBadInput, 'test_' + _name, make_test(_args, _expect))


if __name__ == '__main__':
    QemuSystemTest.main()
