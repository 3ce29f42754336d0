#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# virt-pcie's UEFI firmware (build/firmware, Debian's edk2 plus edk2/ of
# this repository) on -M virt-pcie:
#  - it reaches the UEFI shell on the PCI console, and the shell's input
#    works there;
#  - GetTime reads the machine's RTC: the shell's date and time are those
#    of -rtc base=;
#  - PCI enumeration leaves the console's fixed range alone (the console
#    keeps working after it) and finds the built-in functions;
#  - the firmware's network stack gets a DHCP lease on virtio-net (it
#    needs an entropy source, EFI_RNG_PROTOCOL: here virtio-rng-pci);
#  - fw_cfg (built in since 11.0): the firmware installs QEMU's SMBIOS
#    tables from it;
#  - ACPI (11.0): it installs QEMU's ACPI tables and no device tree, and
#    Debian's 6.12 and 7.x kernels run on them with no acpi= or console=;
#  - bad input: a read-only variable store, a truncated or missing code
#    image, and a disk with no EFI system partition.

import os
import subprocess
import time

from vp_uefi import UefiTest

RTC_BASE = '2031-05-06T07:08:09'


class UefiOnVirtPcie(UefiTest):

    timeout = 900

    def test_shell_rtc_pci(self):
        vm = self.uefi_machine('-rtc', f'base={RTC_BASE}',
                               '-netdev', 'user,id=n0',
                               '-device', 'virtio-net-pci,netdev=n0,romfile=')
        vm.launch()
        self.expect(vm, r'UEFI Interactive Shell')
        self.expect(vm, r'Shell> ', timeout=60)

        out = self.shell(vm, 'date')
        self.assertIn('05/06/2031', out, 'GetTime does not read the RTC')
        out = self.shell(vm, 'time')
        self.assertRegex(out, r'07:(0[89]|1\d):\d\d',
                         'GetTime does not read the RTC')

        out = self.shell(vm, 'pci')
        for dev, what in (('00    01', 'Serial controller'),
                          ('00    02', 'Other input controller')):
            self.assertRegex(out, dev + r' ==> .*' + what)
        self.assertIn('Vendor 1AF4 Device 1041', out,
                      'the firmware does not see the virtio-net function')
        vm.shutdown()

    def test_fw_cfg(self):
        """fw_cfg: the firmware finds it at its fixed range and installs
        the SMBIOS tables QEMU built (-smbios included); without it
        (10.2's default), there are none."""
        vm = self.uefi_machine('-smbios', 'type=1,serial=VP-FWCFG-42')
        vm.launch()
        self.expect(vm, r'Shell> ', 300)
        out = self.shell(vm, 'smbiosview -t 1')
        self.assertIn('QEMU Virtual Machine', out,
                      'no SMBIOS system information from fw_cfg')
        self.assertIn('VP-FWCFG-42', out, '-smbios did not reach the guest')
        self.assertIn('virt-pcie-11.0', out)
        vm.shutdown()

        vm = self.uefi_machine(name='plain', machine='virt-pcie-10.2')
        vm.launch()
        self.expect(vm, r'Shell> ', 300)
        out = self.shell(vm, 'smbiosview -t 1')
        self.assertNotIn('QEMU Virtual Machine', out)
        vm.shutdown()

    def efi_disk(self, kernel_dir, name):
        """A FAT file system NAME holding the kit kernel and initramfs of
        KERNEL_DIR, for the firmware's shell to start."""
        image = os.path.join(kernel_dir, 'Image')
        initrd = os.path.join(kernel_dir, 'initrd.cpio.gz')
        size = (os.path.getsize(image) + os.path.getsize(initrd)) // 1024
        path = self.scratch_file(name)
        subprocess.run(['mkfs.fat', '-C', path, str(size + 16384)],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run(['mcopy', '-i', path, image, '::Image'], check=True)
        subprocess.run(['mcopy', '-i', path, initrd, '::initrd'],
                       check=True)
        return path

    def test_acpi_boot(self):
        """ACPI (11.0's default): the firmware installs QEMU's tables and
        no device tree, and both kit kernels (Debian's 6.12 and 7.x) run
        on them with no acpi= and no console=: IMSIC and APLIC from the
        MADT, the PCI host bridge and the RTC from the DSDT, the console
        from the SPCR, its INTx through its _PRT link as an APLIC MSI,
        virtio by MSI-X."""
        kit = os.environ.get('VP_GUEST')
        self.assertIsNotNone(kit, 'VP_GUEST (build/guest) is not set')
        for sub in ('.', 'new'):
            with self.subTest(kernel=sub):
                self.acpi_boot(os.path.join(kit, sub), f'acpi-{sub}')

    def acpi_boot(self, kernel_dir, name):
        disk = self.efi_disk(kernel_dir, name + '.img')
        vm = self.uefi_machine('-drive', f'if=none,id=d0,format=raw,'
                               f'file={disk}',
                               '-device', 'virtio-blk-pci,drive=d0',
                               mem='2G',
                               name=name)
        vm.launch()
        self.expect(vm, r'Shell> ', 300)
        self.type(vm, 'fs0:\r')
        self.expect(vm, r'FS0:\\> ', 30)
        self.type(vm, 'Image initrd=initrd\r')
        log = self.expect(vm, r'VP-REPORT-END', 300)
        self.assertRegex(log, r'ACPI: RHCT 0x')
        self.assertRegex(log, r'ACPI: SPCR 0x')
        self.assertIn('ACPI: SPCR: console: uart,io,0x1000,115200', log)
        self.assertIn('ACPI: Using RINTC for interrupt routing', log)
        self.assertRegex(log, r'riscv-imsic: imsic: per-CPU IDs 255 at '
                         r'base address 0x0000010080000000')
        self.assertRegex(log, r'riscv-aplic RSCV0002:00: 32 interrupts '
                         r'forwarded to MSI')
        self.assertIn('ACPI: PCI Root Bridge [PCI0]', log)
        self.assertRegex(log, r'APLIC-MSI-RSCV0002:00\s+2 Level.*ttyS0')
        self.assertRegex(log, r'pci 0000:00:01\.0 1af4:1042 .*irq=msix')
        self.assertIn('tty ttyS0', log)
        # the RTC from the DSDT (PRP0001), its alarm an APLIC MSI
        self.assertIn('goldfish_rtc PRP0001:00: registered as rtc0', log)
        self.assertRegex(log, r'APLIC-MSI-RSCV0002:00\s+1 Level.*PRP0001')
        self.assertRegex(log, r'rtc \w{3} \w{3} ')
        self.assertNotRegex(log, r'No IRQ available|no GSI')
        vm.wait(timeout=120)

    def test_network(self):
        """With an entropy source the network stack starts: the firmware
        first tries to boot from the network (PXE over IPv4 and IPv6, which
        user-net does not serve), then offers its shell."""
        vm = self.uefi_machine('-netdev', 'user,id=n0',
                               '-device', 'virtio-net-pci,netdev=n0,romfile=',
                               '-device', 'virtio-rng-pci')
        vm.launch()
        self.expect(vm, r'Start PXE over IPv4', 300)
        self.expect(vm, r'Shell> ', 600)
        self.shell(vm, 'ifconfig -s eth0 dhcp')
        out = ''
        for _ in range(30):
            out = self.shell(vm, 'ifconfig -l eth0')
            if '10.0.2.15' in out:
                break
            time.sleep(1)
        self.assertIn('10.0.2.15', out,
                      'no DHCP lease on virtio-net from the firmware')
        out = self.shell(vm, 'ping -n 2 10.0.2.2', timeout=60)
        self.assertRegex(out, r'2 packets transmitted, 2 received',
                         'the firmware cannot ping the user-net gateway')
        vm.shutdown()

    def test_disk_without_esp(self):
        """A blank disk: the firmware finds nothing to boot, says so and
        offers its shell; QEMU stays up."""
        disk = self.scratch_file('blank.img')
        with open(disk, 'wb') as f:
            f.truncate(64 << 20)
        vm = self.uefi_machine('-drive', f'if=none,id=d0,format=raw,'
                               f'file={disk}',
                               '-device', 'nvme,serial=blank,drive=d0')
        vm.launch()
        out = self.expect(vm, r'Shell> ', timeout=90)
        self.assertRegex(' '.join(out.split()),
                         r'failed to load Boot\d+ "\s*UEFI QEMU NVMe Ctrl blank'
                         r'.*: Not Found',
                         'the firmware did not say the disk is not bootable')
        out = self.shell(vm, 'map -r')
        self.assertNotIn('FS0', out, 'a file system on a blank disk?')
        self.assertRegex(out, r'BLK\d', 'the firmware does not see the disk')
        self.assertEqual(vm.cmd('query-status')['status'], 'running')
        vm.shutdown()

    def qemu_error(self, *args):
        """QEMU's exit code and stderr for a command line that must fail."""
        res = subprocess.run([self.qemu_bin, '-M', 'virt-pcie',
                              '-display', 'none', '-S', '-nodefaults',
                              *args], capture_output=True, text=True,
                             timeout=60, check=False)
        return res.returncode, res.stderr

    def test_bad_firmware_images(self):
        code = self.firmware('VIRT_PCIE_CODE.fd')

        # read-only variables: refused, naming the drive and the fix
        rc, err = self.qemu_error(
            '-drive', f'if=pflash,unit=0,format=raw,readonly=on,file={code}',
            '-drive', 'if=pflash,unit=1,format=raw,readonly=on,'
            f'file={self.vars_copy()}')
        self.assertEqual(rc, 1, err)
        self.assertIn('-drive if=pflash,unit=1', err)
        self.assertIn('readonly=on', err)

        # a truncated code image: the size it has and the size it needs
        short = self.scratch_file('short.fd')
        with open(code, 'rb') as src, open(short, 'wb') as dst:
            dst.write(src.read(1 << 20))
        rc, err = self.qemu_error(
            '-drive', f'if=pflash,unit=0,format=raw,readonly=on,file={short}')
        self.assertEqual(rc, 1, err)
        self.assertIn('33554432', err)
        self.assertIn('1048576', err)

        # a missing code image: the file is named
        missing = os.path.join(self.scratch_file(), 'no-such-code.fd')
        rc, err = self.qemu_error(
            '-drive', f'if=pflash,unit=0,format=raw,readonly=on,'
            f'file={missing}')
        self.assertEqual(rc, 1, err)
        self.assertIn('no-such-code.fd', err)
        self.assertIn('No such file', err)

        # the images themselves were not touched
        self.assertEqual(os.path.getsize(code), 32 << 20)


if __name__ == '__main__':
    UefiTest.main()
