#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Stock Linux drives a second pci-serial on virt-pcie (not the console):
#  - 8250_pci binds it, as ttyS1;
#  - Linux's 8250_pci asks for INTx only, so the card (which has MSI and
#    MSI-X on virt-pcie) interrupts through its INTx pin, which the APLIC
#    forwards to an IMSIC as an MSI: the line is "APLIC-MSI ... Level";
#  - 1 MiB written into the card's chardev arrives intact: the guest's
#    md5sum matches, the driver counted exactly 1 MiB received and no
#    overrun.
# The guest time of the transfer and the interrupts per byte are printed as
# a TAP comment, for the record; they are not asserted.

import hashlib
import os
import re
import socket
import time

from vp_guest import KitTest

SIZE = 1 << 20
BDF = '0000:00:02.0'
# The guest prints VP-READY once ttyS1 is open in raw mode. The marker is
# split on the command line, which Linux echoes to the console, so that the
# echo of the command is not mistaken for it.
RECEIVE = ('(stty raw -echo;echo VP-RE""ADY;cat /proc/uptime;'
           f'head -c {SIZE}|md5sum;cat /proc/uptime;grep ttyS1 /proc/interrupts'
           ')</dev/ttyS1;cat /proc/tty/driver/serial')


def payload():
    """SIZE bytes in which no short run repeats at the same offset."""
    return bytes((i * 7 + (i >> 8)) & 0xff for i in range(SIZE))


class PciSerialTransfer(KitTest):

    def test_1mib_through_pci_serial(self):
        sock = os.path.join(self.socket_dir().name, 'ps.sock')
        data = payload()
        vm = self.kit_machine(
            'virt-pcie', 'console=ttyS0 panic=-1 -- ' + RECEIVE,
            '-chardev', f'socket,id=ps,path={sock},server=on,wait=off',
            '-device', f'pci-serial,chardev=ps,addr={BDF[-4:]}')
        vm.launch()
        before = self.read_console(vm, 'VP-READY', 180)
        self.assertIn('\nVP-READY\n', '\n' + before,
                      'the guest never opened ttyS1')

        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(sock)
            start = time.monotonic()
            s.sendall(data)
            after = self.read_console(vm, 'VP-POWEROFF', 300)
            wall = time.monotonic() - start
        self.assertIn('VP-POWEROFF', after, 'the guest did not finish')
        vm.wait(timeout=30)
        lines = [l.strip() for l in (before + after).splitlines()]

        # Bound by 8250_pci, which chose INTx
        pci = [l for l in lines if l.startswith(f'pci {BDF} ')]
        self.assertEqual(len(pci), 1, f'{BDF} is missing from the report')
        self.assertIn('1b36:0002', pci[0])
        self.assertIn('driver=serial', pci[0])
        self.assertIn('irq=intx', pci[0])

        # Every byte arrived, once and in order
        digest = hashlib.md5(data).hexdigest()
        self.assertIn(f'{digest}  -', lines, 'the 1 MiB did not arrive intact')
        port = [l for l in lines if re.match(r'1: uart:16550A port:', l)]
        self.assertEqual(len(port), 1, 'no serinfo line for ttyS1')
        self.assertRegex(port[0], rf'\brx:{SIZE}\b')
        self.assertNotRegex(port[0], r'\b(oe|fe|pe|brk):', port[0])

        # Its interrupt is the INTx level, forwarded by the APLIC as an MSI
        irq = [l for l in lines if re.match(r'\d+:.* ttyS1$', l)]
        self.assertEqual(len(irq), 1, 'ttyS1 has no interrupt line')
        self.assertRegex(irq[0], r'APLIC-MSI-.* Level ')
        count = sum(int(n) for n in irq[0].split()[1:3])

        up = [float(m) for m in
              re.findall(r'^(\d+\.\d+) \d+\.\d+$', '\n'.join(lines), re.M)]
        self.assertEqual(len(up), 2, 'the guest did not time the transfer')
        guest = up[1] - up[0]
        print(f'# 1 MiB through pci-serial, INTx via APLIC-MSI: '
              f'{guest:.2f} s guest time ({SIZE / guest / 1024:.0f} KiB/s), '
              f'{wall:.1f} s wall, {count} interrupts '
              f'({count / SIZE:.4f} per byte)', flush=True)


if __name__ == '__main__':
    KitTest.main()
