# SPDX-License-Identifier: GPL-2.0-or-later
#
# Boot the virt-pcie stock guest kit (build/guest, from Debian packages) and
# read what the guest itself reports: its /init prints a block between
# VP-REPORT-BEGIN and VP-REPORT-END (PCI functions with driver and IRQ mode,
# /proc/interrupts, ttys, the RTC, uptime), then runs the command given after
# "--" on the kernel command line and powers off.
#
# The kit has two kernels, each with its own initramfs: the stock one,
# Debian trixie's (6.12), at the top of the kit, and the newest one the
# archive serves from sid, forky or trixie-backports (7.2 today) in new/.
# kit_machine() and boot_kit() take kernel=None (the stock one), 'new', or
# a series such as '6.12' or '7.2' (whichever of the two that is), and
# opensbi='1.5.1', '1.6' (the default) or '1.9'.

import os
import re
import socket
import threading
import time

from qemu_test import QemuSystemTest

# Shell commands for a kit booted to its shell with a disk at /dev/vda.
# WRITE_DISK fills its first 512 KiB with random data; DISK_STATE reports
# the disk's checksum, read from the device, the guest's uptime and its RTC.
WRITE_DISK = ('dd if=/dev/urandom of=/dev/vda bs=1024 count=512 2>/dev/null; '
              'sync; echo 3 > /proc/sys/vm/drop_caches; '
              'echo VP-SUM $(md5sum /dev/vda)')
DISK_STATE = ('echo 3 > /proc/sys/vm/drop_caches; '
              'echo VP-SUM $(md5sum /dev/vda); '
              'echo VP-UP $(cut -d. -f1 /proc/uptime); echo VP-RTC $(date +%s)')


class Console(threading.Thread):
    """Everything a VM prints on its console, read as it comes, as bytes
    (a line may end in the next VM, after a migration)."""

    def __init__(self, vm):
        super().__init__(daemon=True)
        self.vm = vm
        self.data = bytearray()
        vm.console_socket.settimeout(None)
        self.start()

    def run(self):
        sock = self.vm.console_socket
        while True:
            try:
                chunk = sock.recv(65536)
            except (OSError, ValueError):
                break
            if not chunk:
                break
            self.data += chunk

    @property
    def lines(self):
        return [line.rstrip('\r') for line in
                self.data.decode('utf-8', errors='replace').split('\n')]

    def drain(self, quiet=1.0):
        """Wait until nothing new arrived for QUIET seconds."""
        n = -1
        while n != len(self.data):
            n = len(self.data)
            time.sleep(quiet)

    def wait_for(self, pattern, timeout, start=0):
        """Index of the first line from START with PATTERN, or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.lines
            for i in range(start, len(lines)):
                if pattern in lines[i]:
                    return i
            time.sleep(0.1)
        return None

    def send(self, text):
        self.vm.console_socket.sendall(text.encode() + b'\n')


class GuestReport:
    """What the guest's /init reported about itself."""

    def __init__(self, lines):
        self.pci = {}
        self.interrupts = []
        self.ttys = []
        self.rtc = None
        self.uptime = None
        in_irq = False
        for line in lines:
            if line == 'interrupts-begin':
                in_irq = True
            elif line == 'interrupts-end':
                in_irq = False
            elif in_irq:
                self.interrupts.append(line)
            elif line.startswith('pci '):
                f = line.split()
                fields = dict(kv.split('=', 1) for kv in f[3:])
                fields['id'] = f[2]
                self.pci[f[1]] = fields
            elif line.startswith('tty '):
                self.ttys.append(line.split()[1])
            elif line.startswith('rtc '):
                self.rtc = line[4:]
            elif line.startswith('uptime '):
                self.uptime = float(line.split()[1])

    def functions(self, pci_id):
        """The PCI functions with vendor:device PCI_ID."""
        return [dict(f, bdf=b) for b, f in sorted(self.pci.items())
                if f['id'] == pci_id]

    def irq_lines(self, pattern):
        return [l for l in self.interrupts if re.search(pattern, l)]


class GuestRun:
    """One boot of the kit: the console text and the parsed report."""

    def __init__(self, console, exitcode):
        self.console = console
        self.exitcode = exitcode
        self.report = None
        lines = [l.strip() for l in console.splitlines()]
        if 'VP-REPORT-BEGIN' in lines and 'VP-REPORT-END' in lines:
            a = lines.index('VP-REPORT-BEGIN')
            b = lines.index('VP-REPORT-END')
            self.report = GuestReport(lines[a + 1:b])
        m = re.search(r'VP-CMD-RC=(\d+)', console)
        self.cmd_rc = int(m.group(1)) if m else None


class KitTest(QemuSystemTest):
    """A functional test that boots the stock guest kit."""

    timeout = 300

    def kit(self, *parts):
        """A file of the guest kit; the test fails, naming it, if missing."""
        root = os.environ.get('VP_GUEST')
        self.assertIsNotNone(root,
                             'VP_GUEST (the guest kit directory) is not set')
        path = os.path.join(root, *parts)
        self.assertTrue(os.path.exists(path),
                        f'guest kit asset {path} is missing (run make kit)')
        return path

    def kit_kernel(self, kernel=None):
        """The kit's directory of KERNEL: a list of path parts of the kit.

        KERNEL is None (the stock kernel), 'new' (the newest one, new/), or
        a series such as '6.12' or '7.2': whichever of the two has it.
        The test fails, naming what the kit has, if there is no such one.
        """
        if kernel is None:
            return []
        if kernel == 'new':
            self.kit('new', 'Image')
            return ['new']
        root = self.kit()
        have = []
        for parts in ([], ['new']):
            path = os.path.join(root, *parts, 'kernel-version')
            if not os.path.exists(path):
                continue
            with open(path, encoding='utf-8') as f:
                version = f.read().strip()
            if version.startswith(kernel + '.'):
                return parts
            have.append(version)
        self.fail(f'the guest kit has no kernel {kernel} (it has '
                  f'{", ".join(have) or "none"}; run make kit)')

    def kernel_version(self, kernel=None):
        """The uname -r of the kit's kernel KERNEL (see kit_kernel)."""
        path = self.kit(*self.kit_kernel(kernel), 'kernel-version')
        with open(path, encoding='utf-8') as f:
            return f.read().strip()

    def scratch_disk(self, name, size=64 << 20, data=None):
        path = self.scratch_file(name)
        with open(path, 'wb') as f:
            if data:
                f.write(data)
            f.truncate(size)
        return path

    def kit_machine(self, machine, cmdline, *args, name='kit', mem='1G',
                    smp=2, opensbi='1.6', qemu_bin=None, reboot=False,
                    kernel=None):
        """A VM, not launched yet, that boots the kit with CMDLINE.

        CMDLINE None gives no -append at all (the kernel's command line is
        then empty).
        Its console is the VM's console socket; ARGS are added last.  A
        guest reboot ends QEMU unless REBOOT.  KERNEL picks the kit's
        kernel and its initramfs (see kit_kernel), OPENSBI its firmware.
        """
        kdir = self.kit_kernel(kernel)
        vm = self.get_vm(name=name)
        if qemu_bin:
            vm._binary = qemu_bin
        vm.set_machine(machine)
        vm.set_console()
        if not reboot:
            vm.add_args('-no-reboot')
        vm.add_args('-m', mem, '-smp', str(smp),
                    '-bios', self.kit(f'opensbi-{opensbi}', 'fw_dynamic.bin'),
                    '-kernel', self.kit(*kdir, 'Image'),
                    '-initrd', self.kit(*kdir, 'initrd.cpio.gz'))
        if cmdline is not None:
            vm.add_args('-append', cmdline)
        vm.add_args(*args)
        return vm

    def boot_kit(self, machine, args=(), opensbi='1.6', cmd=None,
                 append='', timeout=120, smp=2, mem='1G', until='VP-POWEROFF',
                 qemu_bin=None, name=None, kernel=None):
        """Boot the kit to the end of its run and return a GuestRun.

        The guest powers itself off; the run fails if it does not reach
        UNTIL on the console within TIMEOUT seconds.  KERNEL and OPENSBI
        are those of kit_machine.
        """
        cmdline = 'console=ttyS0 earlycon=sbi panic=-1 ' + append
        if cmd:
            cmdline += ' -- ' + cmd
        vm = self.kit_machine(machine, cmdline.strip(), *args,
                              name=name or 'kit', mem=mem, smp=smp,
                              opensbi=opensbi, qemu_bin=qemu_bin,
                              kernel=kernel)
        vm.launch()
        console = self.read_console(vm, until, timeout)
        if until == 'VP-POWEROFF' and until in console:
            vm.wait(timeout=30)
        else:
            vm.shutdown()
        return GuestRun(console, vm.exitcode())

    def wait_migration(self, src, timeout=120):
        """Fail unless SRC's outgoing migration completes within TIMEOUT s."""
        deadline = time.monotonic() + timeout
        status = None
        while time.monotonic() < deadline:
            status = src.cmd('query-migrate').get('status')
            if status in ('completed', 'failed'):
                break
            time.sleep(0.2)
        self.assertEqual(status, 'completed', 'migration did not complete')

    def shell(self, vm, command, timeout=60):
        """Run COMMAND in the guest's console shell; its output."""
        n = time.monotonic_ns()
        # The quotes keep the echoed command line from matching the marker.
        vm.console_socket.sendall(f'{command}; echo VP-D"ONE"-{n}\n'.encode())
        out = self.read_console(vm, f'VP-DONE-{n}', timeout)
        self.assertIn(f'VP-DONE-{n}', out,
                      f'the guest shell did not answer {command!r}')
        return out

    def boot_to_shell(self, vm):
        """Launch VM, booting the kit without a command, up to its shell."""
        vm.launch()
        out = self.read_console(vm, 'VP-REPORT-END', 180)
        self.assertIn('VP-REPORT-END', out, 'the guest did not boot')
        time.sleep(1)
        self.shell(vm, 'true')

    def check_echo(self, vm):
        """Fail unless the guest's shell computes and prints on the console."""
        out = self.shell(vm, 'echo VP-ECHO-$((6*7))')
        self.assertRegex(out, r'(?m)^VP-ECHO-42', 'no console echo')

    def write_disk(self, vm):
        """Fill /dev/vda's first 512 KiB with random data; the disk's md5."""
        return re.findall(r'^VP-SUM (\w+)', self.shell(vm, WRITE_DISK),
                          re.M)[-1]

    def state(self, vm):
        """(md5 of /dev/vda read from the device, uptime s, RTC s)."""
        out = self.shell(vm, DISK_STATE)
        return (re.findall(r'^VP-SUM (\w+)', out, re.M)[-1],
                int(re.findall(r'^VP-UP (\d+)', out, re.M)[-1]),
                int(re.findall(r'^VP-RTC (\d+)', out, re.M)[-1]))

    def read_console(self, vm, until, timeout):
        """Console text up to and including the first line with UNTIL."""
        deadline = time.monotonic() + timeout
        text = []
        f = vm.console_file
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            vm.console_socket.settimeout(left)
            try:
                raw = f.readline()
            except (socket.timeout, TimeoutError):
                break
            if not raw:
                break
            line = raw.decode('utf-8', errors='replace').rstrip('\r\n')
            self.log.debug('console: %s', line)
            text.append(line)
            if until in line:
                break
        return '\n'.join(text) + '\n'

    def assert_bound_msix(self, report, pci_id, driver):
        funcs = report.functions(pci_id)
        self.assertTrue(funcs, f'no PCI function {pci_id} in the guest report')
        for f in funcs:
            self.assertEqual(f['driver'], driver, f'{pci_id} at {f["bdf"]}')
            self.assertEqual(f['irq'], 'msix', f'{pci_id} at {f["bdf"]}')
