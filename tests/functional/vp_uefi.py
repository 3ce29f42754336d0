# SPDX-License-Identifier: GPL-2.0-or-later
#
# Boot virt-pcie's UEFI firmware (make firmware: build/firmware, from
# Debian's edk2 source package) and talk to it on the machine's console,
# the PCI UART 00:00.1.  UefiTest.uefi_machine() gives a VM that starts
# OpenSBI (the default -bios) and then the firmware from flash bank 0, with
# a fresh copy of the empty variable store in bank 1.

import os
import re
import shutil
import socket
import time

from qemu_test import QemuSystemTest

# Terminal control sequences, which the firmware's console is full of
ESCAPES = re.compile(r'\x1b(\[[0-9;?=]*[A-Za-z]|[()][A-Z0-9])')


def plain(text):
    """TEXT without terminal control sequences and carriage returns."""
    return ESCAPES.sub('', text).replace('\r', '')


class UefiTest(QemuSystemTest):
    """A functional test that boots virt-pcie's UEFI firmware."""

    timeout = 300

    def firmware(self, name):
        """A file of build/firmware; the test fails, naming it, if missing."""
        root = os.environ.get('VP_FIRMWARE')
        self.assertIsNotNone(root, 'VP_FIRMWARE (build/firmware) is not set')
        path = os.path.join(root, name)
        self.assertTrue(os.path.exists(path),
                        f'{path} is missing (run make firmware)')
        return path

    def vars_copy(self, name='vars.fd'):
        """A writable copy of the empty variable store, in the scratch dir."""
        path = self.scratch_file(name)
        shutil.copyfile(self.firmware('VIRT_PCIE_VARS.fd'), path)
        return path

    def uefi_machine(self, *args, machine='virt-pcie', vars_path=None,
                     code=None, name='uefi', mem='1G', smp=2):
        """A VM, not launched yet, booting the firmware; ARGS come last."""
        vm = self.get_vm(name=name)
        vm.set_machine(machine)
        vm.set_console()
        vm.add_args('-m', mem, '-smp', str(smp),
                    '-drive', 'if=pflash,unit=0,format=raw,readonly=on,'
                    f'file={code or self.firmware("VIRT_PCIE_CODE.fd")}',
                    '-drive', 'if=pflash,unit=1,format=raw,'
                    f'file={vars_path or self.vars_copy()}')
        vm.add_args(*args)
        return vm

    def expect(self, vm, pattern, timeout=120):
        """Console text up to the first match of PATTERN (a regex).

        Fails, with the tail of the console, if it does not come within
        TIMEOUT seconds.  Text read past the match is kept for the next
        call.
        """
        buf = getattr(vm, 'vp_pending', '')
        seen = []
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            m = regex.search(plain(buf))
            if m:
                text = plain(buf)
                vm.vp_pending = text[m.end():]
                seen.append(text[:m.end()])
                out = ''.join(seen)
                self.log.debug('console: %s', out)
                return out
            left = deadline - time.monotonic()
            if left <= 0:
                self.fail(f'no {pattern!r} on the console within {timeout}'
                          f' s; it ended with:\n{plain(buf)[-2000:]}')
            vm.console_socket.settimeout(min(left, 5))
            try:
                data = vm.console_socket.recv(4096)
            except (socket.timeout, TimeoutError):
                continue
            if not data:
                self.fail(f'the console closed before {pattern!r}; it '
                          f'ended with:\n{plain(buf)[-2000:]}')
            buf += data.decode('utf-8', errors='replace')

    def type(self, vm, text):
        """Type TEXT on the console, slowly enough for the firmware."""
        for ch in text:
            vm.console_socket.sendall(ch.encode())
            time.sleep(0.02)

    def shell(self, vm, command, timeout=60):
        """Run COMMAND in the UEFI shell; its output up to the next prompt."""
        self.type(vm, command)
        # the line editor's echo, which can redraw the prompt, then Enter
        self.expect(vm, re.escape(command), 10)
        self.type(vm, '\r')
        self.expect(vm, r'\n', 10)
        return self.expect(vm, r'Shell> ', timeout)
