#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Bad input for -M virt-pcie.
#
# Bad command lines (VirtPcieBadInput). Each one must be refused at startup:
# QEMU exits with status 1 (not a signal, not an abort, not 0), within 30 s,
# and prints an error that names what is wrong. The expected messages are
# the ones QEMU really prints (taken from runs by hand), not invented ones.
#
# Every case runs with -machine dumpdtb=FILE, so that a command line QEMU
# wrongly accepts ends at once with exit status 0 (and fails the test)
# instead of running a guest until the timeout.
#
# QMP misuse on a machine that is up (VirtPcieBadQmp): each command gets an
# error reply that says what is wrong, and the machine stays as it was.

import os
import re
import subprocess
import time

from qemu_test import QemuSystemTest

TIMEOUT = 30

# name: (arguments, regex the error output must match). "{kernel}",
# "{notdtb}" and "{small}" are scratch files the test creates: a raw kernel
# image (4 KiB of zeros), a file that is not a device tree and a 64 KiB
# file (too small for a 32 MiB flash bank).
CASES = {
    'unknown_machine_option': (
        ['-M', 'virt-pcie,foo=bar'],
        r"Property 'virt-pcie-[\d.]+-machine\.foo' not found"),
    'too_many_harts': (
        ['-smp', '16385'],
        r"Invalid SMP CPUs 16385\. The max CPUs supported by machine "
        r"'virt-pcie-[\d.]+' is 16384"),
    'too_many_harts_10_0': (
        ['-M', 'virt-pcie-10.0', '-smp', '4097'],
        r"Invalid SMP CPUs 4097\. The max CPUs supported by machine "
        r"'virt-pcie-10\.0' is 4096"),
    'node_too_large_for_imsic_group': (
        ['-smp', '4097'],
        r'virt-pcie: NUMA node 0 has 4097 harts, at most 4096 \(the harts '
        r'of one IMSIC group\): split them into -numa nodes'),
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
    # -smp and -numa
    'smp_topology_product': (
        ['-smp', '4,sockets=2,cores=3'],
        r'Invalid CPU topology: product of the hierarchy must match '
        r'maxcpus: sockets \(2\) \* clusters \(1\) \* cores \(3\) \* '
        r'threads \(0\) != maxcpus \(4\)'),
    'numa_cpu_out_of_range': (
        ['-smp', '2', '-numa', 'node,cpus=0-3'],
        r'-numa node,cpus=0-3: CPU index \(2\) should be smaller than '
        r'maxcpus \(2\)'),
    'numa_cpu_twice': (
        ['-smp', '2', '-numa', 'node,cpus=0', '-numa', 'node,cpus=0'],
        r'-numa node,cpus=0: CPU is already assigned to node-id: 0'),
    'numa_node_twice': (
        ['-numa', 'node,nodeid=0', '-numa', 'node,nodeid=0'],
        r'-numa node,nodeid=0: Duplicate NUMA nodeid: 0'),
    'numa_distance_below_10': (
        ['-numa', 'node', '-numa', 'node',
         '-numa', 'dist,src=0,dst=1,val=5'],
        r'NUMA distance \(5\) is invalid, it shouldn\'t be less than 10'),
    'numa_memory_not_ram_size': (
        ['-m', '1G', '-numa', 'node,mem=512M'],
        r'total memory for NUMA nodes \(0x20000000\) should equal RAM '
        r'size \(0x40000000\)'),
    # machine options of virt that virt-pcie does not have
    'virt_option_aia': (
        ['-M', 'virt-pcie,aia=aplic'],
        r"Property 'virt-pcie-[\d.]+-machine\.aia' not found"),
    # flash images of the wrong size, and a third bank
    'pflash_code_too_small': (
        ['-drive', 'if=pflash,unit=0,format=raw,readonly=on,file={small}'],
        r"cfi\.pflash01 device '/machine/virt-pcie\.flash0' requires "
        r"33554432 bytes, pflash0 block backend provides 65536 bytes"),
    'pflash_vars_too_small': (
        ['-drive', 'if=pflash,unit=1,format=raw,file={small}'],
        r"cfi\.pflash01 device '/machine/virt-pcie\.flash1' requires "
        r"33554432 bytes, pflash1 block backend provides 65536 bytes"),
    'pflash_third_bank': (
        ['-drive', 'if=pflash,unit=2,format=raw,file={small}'],
        r'machine type does not support if=pflash,bus=0,unit=2'),
    # the built-in functions' properties (-global reaches them)
    'console_global_msi': (
        ['-global', 'pci-serial.msi=maybe'],
        r"can't apply global pci-serial\.msi=maybe: Parameter 'msi' "
        r"expects 'on' or 'off'"),
    'console_global_second_fixed_range': (
        ['-global', 'pci-serial.ea-io-base=0x1000'],
        r'pci-serial: ea-io-base \(0x1000\) and ea-mem-base '
        r'\(0x7ffff000\) are exclusive'),
    'power_button_global_vectors': (
        ['-global', 'virtio-power-button-pci.vectors=-5'],
        r"can't apply global virtio-power-button-pci\.vectors=-5: "
        r"Parameter 'vectors' expects uint32_t"),
    'rtc_global_unknown': (
        ['-global', 'goldfish_rtc.alarm=on'],
        r"can't apply global goldfish_rtc\.alarm=on: Property "
        r"'goldfish_rtc\.alarm' not found"),
    'pci_serial_no_such_chardev': (
        ['-device', 'pci-serial,chardev=nope'],
        r"-device pci-serial,chardev=nope: Property 'serial\.chardev' "
        r"can't find value 'nope'"),
    'ea_mem_base_above_4g': (
        ['-device', 'pci-serial,ea-mem-base=0x100000000'],
        r"-device pci-serial,ea-mem-base=0x100000000: Parameter "
        r"'ea-mem-base' expects uint32_t"),
    # a fixed range behind a bridge would be unreachable (and could overlap
    # a fixed range of another bus unseen): found by this corpus
    'ea_behind_root_port': (
        ['-device', 'pcie-root-port,id=rp0,chassis=1',
         '-device', 'pci-serial,bus=rp0,ea-io-base=0x2000'],
        r"-device pci-serial,bus=rp0,ea-io-base=0x2000: pci-serial: a fixed "
        r"BAR needs a function on a root bus, not on bus 'rp0'"),
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
        small = self.scratch_file('small.fd')
        with open(small, 'wb') as f:
            f.write(bytes(64 << 10))
        args = [a.format(kernel=kernel, notdtb=notdtb, small=small)
                for a in args]
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


class VirtPcieBadQmp(QemuSystemTest):
    """QMP misuse on a machine that is up (not started: -S). Each command
    gets an error reply naming what is wrong; QEMU stays up, the machine
    keeps its state, and its devices are the same afterwards."""

    timeout = 120

    def error_of(self, vm, cmd, **args):
        r = vm.qmp(cmd, **args)
        self.assertIn('error', r, f'{cmd} {args} was accepted: {r}')
        return r['error']['desc']

    def test_qmp_misuse(self):
        self.set_machine('virt-pcie')
        self.vm.add_args('-bios', 'none', '-display', 'none', '-S',
                         '-device', 'pcie-root-port,id=rp0,chassis=1')
        self.vm.launch()
        pci = self.vm.cmd('query-pci')
        console = self.vm.cmd('qom-list', path='/machine/unattached')
        console = [p['name'] for p in console
                   if p['type'] == 'child<pci-serial>']
        self.assertEqual(len(console), 1, 'no single built-in console')
        console = '/machine/unattached/' + console[0]

        cases = [
            # a sysbus device: the machine's MMIO set is fixed
            (('device_add', {'driver': 'goldfish_rtc'}),
             r"Parameter 'driver' expects a pluggable device type"),
            (('device_add', {'driver': 'virtio-mmio'}),
             r"Parameter 'driver' expects a pluggable device type"),
            # the root bus takes no hot-plug; the IOMMU never hot-plugs
            (('device_add', {'driver': 'pci-serial', 'addr': '0.1'}),
             r"Bus 'pcie\.0' does not support hotplugging"),
            (('device_add', {'driver': 'riscv-iommu-pci'}),
             r"Device 'riscv-iommu-pci' does not support hotplugging"),
            # the console's fixed range, again, behind the root port
            (('device_add', {'driver': 'pci-serial', 'bus': 'rp0',
                             'ea-mem-base': 0x7ffff000}),
             r"pci-serial: a fixed BAR needs a function on a root bus, not "
             r"on bus 'rp0'"),
            # hot-unplug of the built-in console (by its QOM path)
            (('device_del', {'id': console}),
             r"Bus 'pcie\.0' does not support hotplugging"),
            (('device_del', {'id': 'no-such-device'}),
             r"Device 'no-such-device' not found"),
            # migration to nowhere
            (('migrate', {'uri': 'nope:x'}),
             r'unknown migration protocol: nope:x'),
            (('migrate-incoming', {'uri': 'tcp:127.0.0.1:0'}),
             r"'-incoming' was not specified on the command line"),
        ]
        for (cmd, args), expect in cases:
            with self.subTest(cmd=cmd, args=args):
                self.assertRegex(self.error_of(self.vm, cmd, **args), expect)

        # A migration to a socket that is not there fails, and says why;
        # the machine is left as it was.
        self.vm.cmd('migrate', uri='unix:/nonexistent/dir/mig.sock')
        for _ in range(100):
            mig = self.vm.cmd('query-migrate')
            if mig.get('status') in ('failed', 'completed'):
                break
            time.sleep(0.1)
        self.assertEqual(mig.get('status'), 'failed')
        self.assertRegex(mig.get('error-desc', ''),
                         r"/nonexistent/dir/mig\.sock.*No such file")

        self.assertEqual(self.vm.cmd('query-status')['status'], 'prelaunch')
        self.assertEqual(self.vm.cmd('query-pci'), pci,
                         'the PCI functions changed')
        self.vm.cmd('cont')
        self.assertEqual(self.vm.cmd('query-status')['status'], 'running')
        self.vm.shutdown()
        self.assertEqual(self.vm.exitcode(), 0)


for _name, (_args, _expect) in CASES.items():
    setattr(VirtPcieBadInput, 'test_' + _name, make_test(_args, _expect))


if __name__ == '__main__':
    QemuSystemTest.main()
