#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The stock guest kit (Debian kernel and OpenSBI, busybox initramfs) on
# -M virt-pcie. Everything is checked from what the guest reports about
# itself, or from the console QEMU shows:
#  - the console (-serial, as -nographic gives), with the machine's own
#    device tree, for each OpenSBI (1.5.1, 1.6, 1.9) and each kernel of the
#    kit (Debian's 6.12 and its newest): the OpenSBI banner, then Linux
#    earlycon=sbi, then the kernel log on ttyS0, then the guest's shell
#    output; ttyS0 is the console function 00:00.1 and the only ttyS on it;
#    and with no -append at all, the kernel log and a working shell on
#    ttyS0 (the device tree's stdout-path alone leads Linux there);
#  - a boot with the common PCIe devices (NVMe, virtio-blk/net/scsi, e1000e,
#    a second pci-serial): every function bound to its driver, every device
#    interrupt delivered by the IMSIC (PCI-MSI/MSI-X, or APLIC-MSI for wired
#    sources), the RTC reads, and the guest powers off with exit code 0;
#  - reboot (two boots seen) and poweroff;
#  - 8 harts in 2 NUMA nodes: all online, IPIs taken by harts of both
#    nodes, and NVMe MSI-X completions on harts of both nodes;
#  - a device hot-plugged into a default pcie-root-port is bound, and
#    hot-unplugged again, by the steps the user guide gives for a kernel
#    without pciehp (the stock one), on a machine with 8 harts in 2 NUMA
#    nodes.
#
import base64
import gzip
import re
import time

from qemu.machine.machine import AbnormalShutdown

from vp_guest import GuestRun, KitTest

MACHINE = 'virt-pcie'

NVME = '1b36:0010'
PCI_SERIAL = '1b36:0002'
E1000E = '8086:10d3'
VIRTIO_BLK = ('1af4:1001', '1af4:1042')
VIRTIO_NET = ('1af4:1000', '1af4:1041')
VIRTIO_SCSI = ('1af4:1004', '1af4:1048')
CONSOLE_BDF = '0000:00:00.1'

# Interrupt controllers whose lines are MSIs written to an IMSIC
MSI_CHIPS = ('PCI-MSI', 'PCI-MSIX', 'APLIC-MSI', 'IMSIC')

# Guest commands. Linux passes at most 32 words after "--" to init, so
# they are terse.
# Which device each ttyS is, the active console, the NVMe size.
TTY_CMD = ('for t in /sys/class/tty/ttyS*;do '
           'echo VP-TTY $t $(readlink $t/device);'
           'done;echo VP-ACTIVE $(cat /sys/class/tty/console/active);'
           'echo VP-NVME-SIZE $(cat /sys/block/nvme0n1/size)')

# Hot-plug with a kernel that has no PCI hot-plug driver (Debian's riscv64
# kernels: CONFIG_HOTPLUG_PCI is not set), done by hand as the user guide
# says, on the default pcie-root-port (00:01.0) with its slot power
# controller. The script (compressed and base64-encoded: Linux gives init
# at most 32 words after "--", in a command line of at most 1024 bytes)
# finds the port's PCI Express capability and then:
#  - waits for Presence Detect State (Slot Status bit 6), turns the slot's
#    power on (Slot Control: Power Controller Control 0, power indicator
#    on), rescans the bus and waits until 01:00.0 is bound;
#  - waits for the Attention Button Pressed event (Slot Status bit 0) that
#    device_del raises, removes the function and turns the slot off
#    (Power Controller Control 1, indicator off), which lets QEMU complete
#    the unplug; then waits until the slot is empty.
# Slot Control is written as one 16-bit word, as setpci does.
HP = '/sys/bus/pci/devices/0000:01:00.0'
HOTPLUG_SH = (
    'C=/sys/bus/pci/devices/0000:00:01.0/config;'
    'rb(){ echo $(od -An -tu1 -j$1 -N1 $C);};'
    'rw(){ echo $(od -An -tu2 -j$1 -N2 $C);};'
    'ww(){ printf "\\\\$(printf %o $(($2&255)))\\\\$(printf %o $(($2>>8)))"'
    '|dd of=$C bs=2 seek=$(($1/2)) count=1 conv=notrunc 2>/dev/null;};'
    'x=$(rb 52);while [ $(rb $x) != 16 ];do x=$(rb $((x+1)));done;'
    'st=$((x+26));ct=$((x+24));'
    'echo VP-HP-READY;'
    'until [ $(($(rw $st)&64)) != 0 ];do sleep 0.2;done;'
    'ww $ct $((($(rw $ct)&~0x700)|0x100));'
    f'while [ ! -e {HP}/driver ];do echo 1 >/sys/bus/pci/rescan;'
    'sleep 1;done;ls -l /sys/bus/pci/devices/*/driver;'
    f'echo VP-HP-ID $(cat {HP}/vendor {HP}/device);'
    'cat /proc/interrupts;echo VP-HP-PLUGGED;'
    'until [ $(($(rw $st)&1)) != 0 ];do sleep 0.2;done;'
    f'echo 1 >{HP}/remove;'
    'ww $ct $(($(rw $ct)|0x700));'
    'until [ $(($(rw $st)&64)) = 0 ];do sleep 0.2;done;'
    'echo VP-HP-GONE $(ls /sys/bus/pci/devices|grep -c ^0000:01:)')
HOTPLUG_CMD = ('echo ' + base64.b64encode(
    gzip.compress(HOTPLUG_SH.encode(), mtime=0)).decode()
    + '|base64 -d|zcat|sh')


# 8 harts in 2 sockets, which on virt-pcie are the 2 NUMA nodes (harts 0-3
# and 4-7): which harts are online, then NVMe reads from a process pinned
# to hart 1 (socket 0) and to hart 6 (socket 1). With as many I/O queues
# as harts, each queue's completion MSI-X goes to the IMSIC of its own
# hart, so both sockets take device MSIs. Then the interrupt counts.
# (busybox taskset takes a hexadecimal mask.)
NODES_SH = ('echo VP-ONLINE $(cat /sys/devices/system/cpu/online);'
            'for c in 1 6;do taskset $(printf %x $((1<<c))) dd '
            'if=/dev/nvme0n1 of=/dev/null bs=4k count=256 iflag=direct '
            '2>/dev/null;done;'
            'cat /proc/interrupts')
NODES_CMD = ('echo ' + base64.b64encode(NODES_SH.encode()).decode()
             + '|base64 -d|sh')


class KitOnVirtPcie(KitTest):

    timeout = 600

    # -- helpers

    def launch(self, args=(), opensbi='1.6', cmd=None, append='', smp=2,
               mem='1G', reboot=False, name='kit', kernel=None):
        """Start the kit without waiting; the console is -serial."""
        cmdline = 'console=ttyS0 earlycon=sbi panic=-1 ' + append
        if cmd:
            cmdline += ' -- ' + cmd
        vm = self.kit_machine(MACHINE, cmdline.strip(), *args, name=name,
                              mem=mem, smp=smp, opensbi=opensbi, reboot=reboot,
                              kernel=kernel)
        vm.launch()
        return vm

    def read_boot(self, vm, until, timeout, first='OpenSBI v', wait=120):
        """The console up to UNTIL; fails early if FIRST does not come.

        Without a console OpenSBI prints nothing (1.6 stops the hart), so
        a silent start is reported after WAIT s instead of the full TIMEOUT.
        """
        head = self.read_console(vm, first, wait)
        if first not in head:
            try:
                vm.shutdown()
            except AbnormalShutdown:
                pass
            self.fail(f'no "{first}" on the console (-serial) within {wait} s'
                      + (': the firmware found no console it can drive'
                         if first.startswith('OpenSBI') else '')
                      + '; console:\n' + head[-2000:])
        return head + self.read_console(vm, until, timeout)

    def finish(self, vm, console):
        if 'VP-POWEROFF' in console:
            vm.wait(timeout=30)
        else:
            try:
                vm.shutdown()
            except AbnormalShutdown:
                pass    # QEMU had exited already: the checks say why
        return GuestRun(console, vm.exitcode())

    def assert_report(self, run):
        self.assertIsNotNone(run.report, 'the guest printed no VP-REPORT; '
                             'console tail:\n' + run.console[-3000:])
        return run.report

    def function(self, report, ids, driver):
        """The one function with an id in IDS, bound to DRIVER."""
        ids = (ids,) if isinstance(ids, str) else ids
        funcs = [f for i in ids for f in report.functions(i)]
        self.assertEqual(len(funcs), 1, f'functions {ids}: {funcs}')
        self.assertEqual(funcs[0]['driver'], driver,
                         f'{ids} at {funcs[0]["bdf"]} is not bound to {driver}')
        return funcs[0]

    def irq_chips(self, lines):
        """(irq, chip, hwirq, name) of every numbered /proc/interrupts line."""
        header = lines[0].split()
        ncpu = len(header)
        out = []
        for l in lines[1:]:
            f = l.split()
            if not f or not f[0].rstrip(':').isdigit():
                continue        # IPIn:, ERR: and the like
            rest = f[1 + ncpu:]
            # chip names may contain a space ("RISC-V INTC")
            if rest[:2] == ['RISC-V', 'INTC']:
                chip, rest = 'RISC-V INTC', rest[2:]
            else:
                chip, rest = rest[0], rest[1:]
            # hwirq, trigger, [-flow handler], action names
            out.append((f[0].rstrip(':'), chip, rest[0] if rest else '',
                        ' '.join(x for x in rest[2:] if not x.startswith('-'))))
        return out

    def assert_imsic_only(self, lines, ncpu=None):
        self.assertTrue(lines, 'no /proc/interrupts in the report')
        if ncpu is not None:
            self.assertEqual(lines[0].split(),
                             [f'CPU{i}' for i in range(ncpu)],
                             '/proc/interrupts CPU header')
        chips = self.irq_chips(lines)
        self.assertTrue(chips, 'no interrupt lines in /proc/interrupts')
        for irq, chip, hwirq, name in chips:
            if chip == 'RISC-V INTC':
                # only the timer (hwirq 5) may be a local interrupt
                self.assertEqual(hwirq, '5',
                                 f'IRQ {irq} ({name}) is a RISC-V INTC local '
                                 f'interrupt {hwirq}, not the timer')
                continue
            self.assertTrue(chip.startswith(MSI_CHIPS),
                            f'IRQ {irq} ({name}) is on controller {chip}, '
                            'not IMSIC-delivered')
        return chips

    def console_order(self, console, opensbi):
        """Positions of the console milestones, which must be in order."""
        banner = {'1.9': r'OpenSBI v1\.9\n',
                  '1.6': r'OpenSBI v1\.6\n',
                  '1.5.1': r'OpenSBI v1\.5\n'}[opensbi]
        marks = [('OpenSBI banner', banner),
                 ('earlycon=sbi', r'earlycon: sbi0'),
                 ('kernel console on ttyS0', r'console \[ttyS0\] enabled'),
                 ('boot console handed over', r'bootconsole \[sbi0\] disabled'),
                 ('guest report', r'VP-REPORT-BEGIN')]
        pos = []
        for what, regex in marks:
            m = re.search(regex, console)
            self.assertIsNotNone(m, f'no {what} ({regex}) on the console; '
                                 'console head:\n' + console[:3000])
            pos.append((m.start(), what))
        self.assertEqual([w for _, w in sorted(pos)], [w for _, w in pos],
                         'console milestones out of order')

    # -- tests

    def check_ttys(self, run):
        """ttyS0 is the console function and the only ttyS on it."""
        # the tty's device is the serial port device "BDF:ctrl.port" (Linux
        # 6.10 and later) or the PCI function itself
        ttys = {t: re.sub(r':\d+\.\d+$', '', d.rsplit('/', 1)[-1])
                for t, d in re.findall(
            r'^VP-TTY /sys/class/tty/(ttyS\d+) ?(\S*)$', run.console, re.M)}
        on_console = [t for t, dev in ttys.items() if dev == CONSOLE_BDF]
        self.assertEqual(on_console, ['ttyS0'],
                         f'ttyS devices on {CONSOLE_BDF}: {ttys}')
        self.assertIn('ttyS0', self.assert_report(run).ttys)
        self.assertRegex(run.console, r'VP-ACTIVE .*\bttyS0\b',
                         'ttyS0 is not the active console')

    def check_console(self, opensbi, kernel=None):
        """Stock device tree: firmware, earlycon, ttyS0, shell, in order."""
        vm = self.launch(opensbi=opensbi, cmd=TTY_CMD, kernel=kernel,
                         name=f'console-{opensbi}-{kernel}')
        run = self.finish(vm, self.read_boot(vm, 'VP-POWEROFF', 180))
        self.console_order(run.console, opensbi)
        self.check_ttys(run)
        self.assertEqual(run.exitcode, 0,
                         'QEMU did not exit cleanly on poweroff')

    def check_bare_console(self, opensbi, kernel=None):
        """No -append: the kernel log and a shell on ttyS0 all the same."""
        vm = self.kit_machine(MACHINE, None, opensbi=opensbi, kernel=kernel,
                              name=f'bare-{opensbi}-{kernel}')
        vm.launch()
        out = self.read_boot(vm, 'VP-REPORT-END', 180)
        self.assertIn('Linux version', out, 'no kernel log on the console')
        self.assertRegex(out, r'console \[ttyS0\] enabled',
                         'Linux did not take ttyS0 as its console')
        report = GuestRun(out, None).report
        self.assertIsNotNone(report, 'no guest report on the console; '
                             'console tail:\n' + out[-3000:])
        self.assertIn('ttyS0', report.ttys)
        time.sleep(1)
        active = self.shell(vm, 'echo VP-ACTIVE $(cat '
                            '/sys/class/tty/console/active)')
        self.assertRegex(active, r'(?m)^VP-ACTIVE .*\bttyS0\b',
                         'ttyS0 is not an active console')
        self.check_echo(vm)
        vm.console_socket.sendall(b'poweroff\n')
        out = self.read_console(vm, 'VP-POWEROFF', 60)
        self.assertIn('VP-POWEROFF', out, 'the shell did not power off')
        vm.wait(timeout=30)
        self.assertEqual(vm.exitcode(), 0)

    def check_console_matrix(self, opensbi):
        for kernel in (None, 'new'):
            with self.subTest(opensbi=opensbi, kernel=kernel,
                              cmdline='console=ttyS0 earlycon=sbi'):
                self.check_console(opensbi, kernel)
            with self.subTest(opensbi=opensbi, kernel=kernel, cmdline=''):
                self.check_bare_console(opensbi, kernel)

    def test_console_opensbi_1_9(self):
        self.check_console_matrix('1.9')

    def test_console_opensbi_1_6(self):
        self.check_console_matrix('1.6')

    def test_console_opensbi_1_5_1(self):
        self.check_console_matrix('1.5.1')

    def test_devices_poweroff(self):
        d = [self.scratch_disk(n) for n in ('nvme.img', 'vblk.img', 'scsi.img')]
        args = ['-device', 'nvme,serial=vp0,drive=d0',
                '-drive', f'if=none,id=d0,file={d[0]},format=raw',
                '-device', 'virtio-blk-pci,drive=d1',
                '-drive', f'if=none,id=d1,file={d[1]},format=raw',
                '-device', 'virtio-net-pci,netdev=n0,romfile=',
                '-netdev', 'user,id=n0',
                '-device', 'virtio-scsi-pci,id=scsi0',
                '-device', 'scsi-hd,bus=scsi0.0,drive=d2',
                '-drive', f'if=none,id=d2,file={d[2]},format=raw',
                '-device', 'e1000e,netdev=n1,romfile=',
                '-netdev', 'user,id=n1',
                '-device', 'pci-serial,chardev=ps1',
                '-chardev', 'null,id=ps1']
        vm = self.launch(args, cmd=TTY_CMD)
        run = self.finish(vm, self.read_boot(vm, 'VP-POWEROFF', 240,
                                             first='Linux version', wait=240))
        r = self.assert_report(run)

        self.function(r, NVME, 'nvme')
        self.function(r, VIRTIO_BLK, 'virtio-pci')
        self.function(r, VIRTIO_NET, 'virtio-pci')
        self.function(r, VIRTIO_SCSI, 'virtio-pci')
        self.function(r, E1000E, 'e1000e')
        serials = r.functions(PCI_SERIAL)
        self.assertEqual(sorted(f['bdf'] for f in serials)[0], CONSOLE_BDF,
                         'the console function is not at 00:00.1')
        self.assertEqual(len(serials), 2, f'pci-serial functions: {serials}')
        for f in serials:
            self.assertEqual(f['driver'], 'serial', f'pci-serial at {f["bdf"]}')
        # No interrupt: the host bridge (no driver), and fw_cfg (11.0, for
        # firmware only: no pin, no MSI, no driver)
        for bdf, f in r.pci.items():
            if f['id'] not in ('1b36:0008', '1af4:10f0'):
                self.assertNotEqual(f['irq'], 'none', f'{bdf} has no interrupt')

        chips = self.assert_imsic_only(r.interrupts)
        names = ' '.join(f'{c}:{n}' for _, c, _, n in chips)
        # (the NICs request their lines only when the interface goes up)
        for want in (r'PCI-MSIX?-0000:00:\w\w\.0:nvme0q', r'virtio\d+-',
                     r'(APLIC-MSI|PCI-MSI)\S*:ttyS0'):
            self.assertRegex(names, want, 'no such line in /proc/interrupts')

        self.assertRegex(r.rtc, r'^\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4}',
                         '/dev/rtc0 did not read')
        self.check_ttys(run)
        # The 64 MiB NVMe namespace is 131072 sectors.
        self.assertIn('VP-NVME-SIZE 131072', run.console)
        self.assertEqual(run.cmd_rc, 0)
        self.assertIn('VP-POWEROFF', run.console)
        self.assertEqual(run.exitcode, 0,
                         'QEMU did not exit cleanly on poweroff')

    def test_reboot(self):
        vm = self.launch(cmd='true', append='vp.reboot=1', reboot=True)
        first = self.read_boot(vm, 'VP-REPORT-END', 180,
                               first='Linux version', wait=240)
        second = self.read_console(vm, 'VP-REPORT-END', 180)
        vm.shutdown()
        console = first + second
        self.assertIsNotNone(GuestRun(first, None).report,
                             'first boot: no report')
        self.assertIn('VP-REBOOT', second, 'the first boot did not reboot')
        after = second[second.index('VP-REBOOT'):]
        self.assertIn('Linux version', after, 'no kernel after the reboot')
        self.assertIn('VP-REPORT-END', after, 'the second boot did not '
                      'reach userspace; console tail:\n' + console[-3000:])
        self.assertEqual(console.count('VP-REPORT-BEGIN'), 2)
        self.assertIn('ttyS0', self.assert_report(GuestRun(after, None)).ttys)

    def test_two_sockets_ipis_msis(self):
        disk = self.scratch_disk('nvme.img')
        vm = self.launch(['-device', 'nvme,serial=vp0,drive=d0',
                          '-drive', f'if=none,id=d0,file={disk},format=raw',
                          '-numa', 'node,cpus=0-3,mem=512M',
                          '-numa', 'node,cpus=4-7,mem=512M'],
                         cmd=NODES_CMD, smp='8,sockets=2')
        run = self.finish(vm, self.read_boot(vm, 'VP-POWEROFF', 240,
                                             first='Linux version', wait=240))
        self.assert_report(run)
        c = run.console
        self.assertRegex(c, r'(?m)^VP-ONLINE 0-7\r?$', 'not all 8 harts online')
        self.assertIn('smp: Brought up 2 nodes, 8 CPUs', c)
        irq = c[c.rindex('CPU0'):].splitlines()
        self.assert_imsic_only(irq, ncpu=8)
        ncpu = 8

        def counts(line):
            return [int(x) for x in line.split()[1:1 + ncpu]]

        # IPIs (the IMSIC's IPI lines) were taken by harts of both sockets
        ipis = [0] * ncpu
        for line in irq:
            if re.match(r'\s*IPI\d+:', line):
                ipis = [a + b for a, b in zip(ipis, counts(line))]
        self.assertTrue(any(ipis[:4]) and any(ipis[4:]),
                        f'IPIs per hart: {ipis}')
        # NVMe completions arrived as MSI-X at harts of both sockets: the
        # 256 reads of each pinned process on its hart's queue
        nvme = [0] * ncpu
        for line in irq:
            if re.search(r'nvme0q[1-9]', line) and 'PCI-MSIX' in line:
                nvme = [a + b for a, b in zip(nvme, counts(line))]
        self.assertGreaterEqual(nvme[1], 256, f'NVMe MSI-X per hart: {nvme}')
        self.assertGreaterEqual(nvme[6], 256, f'NVMe MSI-X per hart: {nvme}')
        self.assertEqual(run.exitcode, 0)

    def test_hotplug_plug_unplug_two_nodes(self):
        vm = self.launch(['-device', 'pcie-root-port,id=rp0,chassis=1',
                          '-netdev', 'user,id=hn0',
                          '-numa', 'node,cpus=0-3,mem=512M',
                          '-numa', 'node,cpus=4-7,mem=512M'],
                         cmd=HOTPLUG_CMD, smp=8)
        first = self.read_boot(vm, 'VP-HP-READY', 240,
                               first='Linux version', wait=240)
        run0 = GuestRun(first, None)
        r = self.assert_report(run0)
        # 8 harts: the /proc/interrupts header of the report
        self.assert_imsic_only(r.interrupts, ncpu=8)
        self.assertEqual([b for b in r.pci if b.startswith('0000:01:')], [],
                         'bus 01 is not empty before the hot-plug')
        rp = r.functions('1b36:000c')
        self.assertEqual(len(rp), 1, 'no pcie-root-port in the report')
        self.assertEqual(rp[0]['driver'], 'pcieport')
        self.assertIn(rp[0]['irq'], ('msi', 'msix'),
                      'the root port (hot-plug interrupt) is not on MSI')

        vm.cmd('device_add', driver='virtio-net-pci', id='hp0', bus='rp0',
               netdev='hn0', romfile='')
        plugged = self.read_console(vm, 'VP-HP-PLUGGED', 180)
        drivers = dict(re.findall(r'devices/(\S+)/driver -> \S*/drivers/(\S+)',
                                  plugged))
        self.assertTrue(drivers, 'the guest listed no PCI drivers after the '
                        'hot-plug; console tail:\n' + plugged[-3000:])
        self.assertEqual(drivers.get('0000:01:00.0'), 'virtio-pci',
                         f'01:00.0 is not bound after the hot-plug: {drivers}')
        ids = re.search(r'^VP-HP-ID 0x(\w+) 0x(\w+)$', plugged, re.M)
        self.assertIsNotNone(ids, 'no IDs of 01:00.0')
        self.assertIn(f'{ids.group(1)}:{ids.group(2)}', VIRTIO_NET,
                      '01:00.0 is not the hot-plugged virtio-net')
        irq = plugged[plugged.rindex('CPU0'):].splitlines()
        chips = self.assert_imsic_only(irq, ncpu=8)
        self.assertTrue([c for _, c, _, _ in chips
                         if c.startswith('PCI-MSI') and '0000:01:00.0' in c],
                        'no MSI line of the hot-plugged function')

        # The unplug completes once the guest has turned the slot off
        vm.cmd('device_del', id='hp0')
        ev = vm.event_wait('DEVICE_DELETED', timeout=120,
                           match={'data': {'device': 'hp0'}})
        self.assertIsNotNone(ev, 'device_del of hp0 did not complete')
        rest = self.read_console(vm, 'VP-POWEROFF', 120)
        gone = re.search(r'^VP-HP-GONE (\d+)$', rest, re.M)
        self.assertIsNotNone(gone, 'the guest did not see the slot empty; '
                             'console tail:\n' + rest[-3000:])
        self.assertEqual(gone.group(1), '0', 'functions left on bus 01')
        run = self.finish(vm, first + plugged + rest)
        self.assertEqual(run.cmd_rc, 0)
        self.assertEqual(run.exitcode, 0,
                         'QEMU did not exit cleanly on poweroff')


if __name__ == '__main__':
    KitTest.main()
