#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The project's Debian disk image (make image: GPT, an EFI system partition
# with Debian's GRUB, an ext4 root from debootstrap with Debian's kernel and
# an initramfs made inside it) booted the way servers boot it: virt-pcie's
# UEFI firmware, no -kernel.
#
# test_nvme_ssh_boot_order_power_button, on NVMe, on the default machine
# (virt-pcie-11.0: ACPI):
#  - GRUB's menu, the kernel and systemd's login prompt on the console;
#  - the kernel ran on ACPI with GRUB's command line unchanged: it lists
#    QEMU's tables, has no device tree, took its console from the SPCR,
#    and every device interrupt is an MSI;
#  - ssh through user-net hostfwd with a key made here (the image installs
#    root's authorized_keys from a file system labelled vp-seed);
#  - a boot entry and boot order set from the guest with efibootmgr hold
#    after a reboot (the variable store is written and read back);
#  - QMP system_powerdown (the power button) makes systemd power off, and
#    the root file system is clean afterwards.
# test_virtio_blk and test_virtio_scsi: the firmware boots the same image
# from those controllers, to the kernel; with fw_cfg (virtio-blk, on 10.2
# with fw-cfg=on) the kernel finds QEMU's SMBIOS tables, without it
# (virtio-scsi, 11.0 with acpi=off,fw-cfg=off) none, and it takes the
# device tree.

import os
import re
import shutil
import socket
import subprocess

from vp_uefi import UefiTest


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class DebianImageOnVirtPcie(UefiTest):

    timeout = 900

    def image(self):
        """The image's path and its description (build/disk/debian.txt)."""
        root = os.environ.get('VP_DISK')
        self.assertIsNotNone(root, 'VP_DISK (build/disk) is not set')
        img = os.path.join(root, 'debian.img')
        txt = os.path.join(root, 'debian.txt')
        for path in (img, txt):
            self.assertTrue(os.path.exists(path),
                            f'{path} is missing (run make image)')
        info = {}
        with open(txt, encoding='utf-8') as f:
            for line in f:
                key, _, value = line.strip().partition(' ')
                info[key] = value.strip()
        return img, info

    def disk_copy(self):
        """A sparse copy of the image, that the test may write."""
        img, info = self.image()
        path = self.scratch_file('disk.raw')
        subprocess.run(['cp', '--sparse=always', os.path.realpath(img),
                        path], check=True)
        return path, info

    def seed_disk(self, pubkey):
        """An ext4 image labelled vp-seed holding authorized_keys."""
        top = self.scratch_file('seed')
        os.makedirs(top, exist_ok=True)
        shutil.copyfile(pubkey, os.path.join(top, 'authorized_keys'))
        path = self.scratch_file('seed.img')
        subprocess.run(['mkfs.ext4', '-q', '-F', '-L', 'vp-seed', '-d', top,
                        path, '8M'], check=True)
        return path

    def ssh(self, key, port, command, timeout=120):
        """COMMAND's output on the guest, as root over ssh."""
        res = subprocess.run(
            ['ssh', '-i', key, '-p', str(port), '-o', 'BatchMode=yes',
             '-o', 'StrictHostKeyChecking=no', '-o',
             'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=20',
             '-o', 'LogLevel=ERROR', 'root@127.0.0.1', command],
            capture_output=True, text=True, timeout=timeout, check=False)
        self.assertEqual(res.returncode, 0,
                         f'ssh {command!r} failed: {res.stderr}')
        return res.stdout

    def boot_to_login(self, vm):
        self.expect(vm, r'GNU GRUB', 180)
        self.expect(vm, r'Linux version', 180)
        return self.expect(vm, r'login: ', 400)

    def check_acpi(self, key, port):
        """The running kernel took ACPI: QEMU's tables, no device tree
        from the firmware, the console from the SPCR, MSIs only."""
        tables = self.ssh(key, port, 'ls /sys/firmware/acpi/tables').split()
        for sig in ('APIC', 'DSDT', 'FACP', 'MCFG', 'RHCT', 'SPCR'):
            self.assertIn(sig, tables)
        out = self.ssh(key, port,
                       'cat /proc/cmdline; '
                       'ls /sys/firmware/devicetree/base/ 2>/dev/null; '
                       'cat /proc/consoles; dmesg | grep -i acpi')
        self.assertNotIn('console=', out.splitlines()[0])
        self.assertNotIn('compatible', out, 'the firmware gave a device tree')
        self.assertRegex(out, r'(?m)^ttyS0\s+-W- \(EC',
                         'ttyS0 is not the preferred console')
        self.assertIn('ACPI: Using RINTC for interrupt routing', out)
        self.assertIn('ACPI: PCI Root Bridge [PCI0]', out)
        irqs = self.ssh(key, port, 'cat /proc/interrupts')
        for line in irqs.splitlines():
            if 'RISC-V INTC' in line:       # the hart's timer, not a device
                continue
            m = re.match(r'\s*\d+:(?:\s+\d+)+\s+(\S+)', line)
            if m:
                self.assertRegex(m.group(1), r'MSI',
                                 f'not an MSI: {line.strip()}')
        self.assertRegex(irqs, r'PCI-MSIX?-0000:.*nvme0q')

    def test_nvme_ssh_boot_order_power_button(self):
        disk, info = self.disk_copy()
        key = self.scratch_file('id_ed25519')
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '',
                        '-f', key], check=True)
        port = free_port()
        vars_path = self.vars_copy()
        vm = self.uefi_machine(
            '-drive', f'if=none,id=d0,format=raw,file={disk}',
            '-device', 'nvme,serial=vp-root,drive=d0',
            '-drive', f'if=none,id=s0,format=raw,'
            f'file={self.seed_disk(key + ".pub")}',
            '-device', 'virtio-blk-pci,drive=s0',
            '-netdev', f'user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:22',
            '-device', 'virtio-net-pci,netdev=n0,romfile=',
            vars_path=vars_path, mem='2G')
        vm.launch()
        log = self.boot_to_login(vm)
        self.assertIn('ACPI: SPCR: console: uart,io,0x1000,115200', log)

        out = self.ssh(key, port, 'uname -r; findmnt -no SOURCE /')
        self.assertRegex(out, r'riscv64')
        self.assertIn('nvme', out, 'the root is not on the NVMe disk')
        self.check_acpi(key, port)

        self.ssh(key, port,
                 'efibootmgr -q -c -d /dev/nvme0n1 -p 1 -L vp-test '
                 r"-l '\EFI\BOOT\BOOTRISCV64.EFI'")
        before = self.ssh(key, port, 'efibootmgr')
        m = re.search(r'Boot([0-9A-F]{4})\* vp-test', before)
        self.assertIsNotNone(m, f'no vp-test entry:\n{before}')
        entry = m.group(1)
        self.assertRegex(before, rf'BootOrder: {entry},',
                         'the new entry is not first in the boot order')

        subprocess.run(['ssh', '-i', key, '-p', str(port), '-o',
                        'BatchMode=yes', '-o', 'StrictHostKeyChecking=no',
                        '-o', 'UserKnownHostsFile=/dev/null', '-o',
                        'LogLevel=ERROR', 'root@127.0.0.1',
                        'systemctl reboot'], timeout=60, check=False)
        self.boot_to_login(vm)
        after = self.ssh(key, port, 'efibootmgr')
        self.assertRegex(after, rf'BootCurrent: {entry}',
                         f'the firmware did not boot the new entry:\n{after}')
        self.assertRegex(after, rf'BootOrder: {entry},',
                         f'the boot order did not hold:\n{after}')

        # the guest powers itself off: systemd's shutdown, then the kernel
        vm.cmd('system_powerdown')
        self.expect(vm, r'reboot: Power down', 180)
        vm.wait(timeout=60)

        state = subprocess.run(
            ['dumpe2fs', '-h', f'{disk}?offset={info["root-offset"]}'],
            capture_output=True, text=True, check=True).stdout
        self.assertRegex(state, r'Filesystem state:\s+clean')
        self.assertNotIn('needs_recovery', state)

    def boot_from(self, *device, machine='virt-pcie', kernel_says=()):
        """The firmware reads the disk: GRUB from its EFI system
        partition, which loads the kernel and initramfs from the root
        through the firmware's block I/O; the kernel starts, and its log
        then matches each pattern of KERNEL_SAYS."""
        img, _ = self.image()
        vm = self.uefi_machine(
            '-drive', f'if=none,id=d0,format=raw,readonly=on,'
            f'file={os.path.realpath(img)}', *device, machine=machine,
            mem='2G')
        vm.launch()
        self.expect(vm, r'GNU GRUB', 180)
        self.expect(vm, r'Linux version', 180)
        for pattern in kernel_says:
            self.expect(vm, pattern, 120)
        vm.shutdown()

    def test_virtio_blk(self):
        """With fw-cfg=on on 10.2, the kernel finds the SMBIOS tables that
        QEMU built and the firmware installed, -smbios included."""
        self.boot_from('-device', 'virtio-blk-pci,drive=d0',
                       '-smbios', 'type=1,serial=VP-SMBIOS-7',
                       machine='virt-pcie-10.2,fw-cfg=on',
                       kernel_says=(r'SMBIOS 3\.\d+\.\d+ present',
                                    r'DMI: QEMU QEMU Virtual Machine'))

    def test_virtio_scsi(self):
        """Without fw_cfg there are no SMBIOS tables, and no ACPI: the
        kernel takes the device tree."""
        self.boot_from('-device', 'virtio-scsi-pci,id=scsi0',
                       '-device', 'scsi-hd,bus=scsi0.0,drive=d0',
                       machine='virt-pcie,acpi=off,fw-cfg=off',
                       kernel_says=(r'Machine model: riscv-virt-pcie,qemu',
                                    r'DMI not present or invalid'))


if __name__ == '__main__':
    UefiTest.main()
