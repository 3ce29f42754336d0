#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The virt-pcie memory map of docs/specs/riscv-virt-pcie.rst against the
# running machine. The spec's list-table (Region, Base, Size, Contents) is
# parsed from the document itself, so the test fails when the table and the
# board disagree, whichever of the two changed:
#  - every region QEMU maps at the top level of "system" (info mtree) lies
#    inside one row of the table, and every row's base has something mapped;
#  - per-socket rows hold one block per socket at base + socket * size / N
#    (N = the spec's socket limit), and the largest configuration reaches the
#    last block; the fixed windows are mapped in full;
#  - the device tree (-machine dumpdtb) describes the same addresses: every
#    node with "reg" below /soc, the memory nodes, the flash and the PCIe
#    host bridge's "reg" and "ranges".

import os
import re
import subprocess

from qemu_test import QemuSystemTest

SPEC_NAME = 'riscv-virt-pcie.rst'

# Rows whose whole extent the machine maps (windows, memories); the other
# rows hold a device whose register block may be smaller than the row.
# The device tree's I/O window starts here (spec: pcie-pio, since 11.0)
PIO_BUS_MIN = 0x1000

FULL_ROWS = ('mrom', 'flash', 'pcie-pio', 'pcie-ecam', 'pcie-mmio',
             'pcie-mmio64', 'dram')


def spec_path():
    """The spec, next to this test in the source tree or in fork-src."""
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.path.join(here, '..', '..', 'docs', 'specs', SPEC_NAME)]
    root = os.environ.get('QEMU_BUILD_ROOT')
    if root:
        candidates.append(os.path.join(root, '..', 'fork-src', 'docs',
                                       'specs', SPEC_NAME))
    for c in candidates:
        if os.path.exists(c):
            return os.path.normpath(c)
    raise AssertionError(f'{SPEC_NAME} not found; tried {candidates}')


def parse_number(text):
    text = text.strip()
    if text.startswith('``'):
        return None     # ``-m``: the RAM size of the command line
    return int(text.replace('_', ''),
               16 if text.lower().startswith('0x') else 10)


class Row:
    def __init__(self, name, base, size, contents):
        self.name = name
        self.base = base
        self.size = size
        self.contents = contents
        self.per_socket = 'per socket' in contents

    def end(self, ram):
        return self.base + (ram if self.size is None else self.size)

    def __repr__(self):
        return f'{self.name} [{self.base:#x}, +{self.size or 0:#x})'


def parse_spec(text):
    """The memory-map table's rows and the hart/socket limits."""
    lines = text.splitlines()
    marks = [i for i, l in enumerate(lines)
             if l.strip() == ':name: virt-pcie-memory-map']
    assert len(marks) == 1, \
        'the memory-map list-table (:name: virt-pcie-memory-map) is missing'
    body = []
    for line in lines[marks[0] + 1:]:
        if line and not line[0].isspace():
            break           # the table ends at the next unindented line
        if not line.strip().startswith(':'):
            body.append(line)
    body = '\n'.join(body) + '\n'
    rows = []
    for item in re.split(r'^\s*\* - ', body, flags=re.M)[1:]:
        cells = [c.strip() for c in re.split(r'^\s*- ', item, flags=re.M)]
        cells = [' '.join(c.split()) for c in cells]
        assert len(cells) == 4, \
            f'memory-map row with {len(cells)} cells: {cells}'
        rows.append(cells)
    header = rows.pop(0)
    assert header == ['Region', 'Base', 'Size', 'Contents'], header
    table = [Row(r[0], parse_number(r[1]), parse_number(r[2]), r[3])
             for r in rows]
    lim = re.search(r'Up to \*\*(\d+) harts\*\* in up to \*\*(\d+) sockets\*\*',
                    text)
    assert lim, 'the spec does not state the hart and socket limits'
    return table, int(lim.group(1)), int(lim.group(2))


def parse_mtree(text):
    """Top-level children of "system" in address-space: memory."""
    regions = []
    lines = text.splitlines()
    start = lines.index('address-space: memory')
    assert lines[start + 1].strip().endswith('): system'), lines[start + 1]
    for line in lines[start + 2:]:
        if not line.strip():
            break
        m = re.match(r"^    ([0-9a-f]+)-([0-9a-f]+) "
                     r"\(prio -?\d+, ([^)]+)\): (.*)$",
                     line)
        if m:       # deeper lines have more indentation and do not match
            regions.append((int(m.group(1), 16), int(m.group(2), 16) + 1,
                            m.group(3), m.group(4)))
    return regions


class DtNode:
    def __init__(self, path):
        self.path = path
        self.props = {}
        self.children = []

    def cells(self, name):
        v = self.props.get(name)
        if v is None:
            return None
        return [int(x, 0) for x in re.findall(r'0x[0-9a-f]+|\d+', v)]

    def strings(self, name):
        v = self.props.get(name, '')
        return re.findall(r'"([^"]*)"', v.replace('\\0', '" "'))

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()


def parse_dts(text):
    root = None
    stack = []
    for line in text.splitlines():
        line = line.strip()
        if line.endswith('{'):
            name = line[:-1].strip()
            if stack:
                parent = stack[-1]
                path = (parent.path.rstrip('/') + '/' + name)
                node = DtNode(path)
                parent.children.append(node)
            else:
                node = root = DtNode('/')
            stack.append(node)
        elif line.startswith('};'):
            stack.pop()
        elif line.endswith(';') and stack:
            if '=' in line:
                k, v = line[:-1].split('=', 1)
                stack[-1].props[k.strip()] = v.strip()
            else:
                stack[-1].props[line[:-1]] = ''
    return root


def split_cells(cells, sizes):
    """CELLS as tuples of integers, each made of SIZES cells (big-endian)."""
    out = []
    step = sum(sizes)
    assert len(cells) % step == 0, (cells, sizes)
    for i in range(0, len(cells), step):
        entry, j = [], i
        for n in sizes:
            v = 0
            for c in cells[j:j + n]:
                v = (v << 32) | c
            entry.append(v)
            j += n
        out.append(tuple(entry))
    return out


class VirtPcieMemoryMap(QemuSystemTest):

    timeout = 240

    def setUp(self):
        super().setUp()
        with open(spec_path(), encoding='utf-8') as f:
            self.table, self.max_harts, self.max_sockets = parse_spec(f.read())
        self.rows = {r.name: r for r in self.table}
        self.log.info('spec table: %s', self.table)

    # -- helpers

    def row_of(self, start, end, ram):
        for r in self.table:
            if r.base <= start and end <= r.end(ram):
                return r
        return None

    def socket_block(self, row, socket):
        stride = row.size // self.max_sockets
        return row.base + socket * stride, stride

    def configs(self):
        # (hart options, sockets, RAM): the smallest machine and the most
        # sockets (the sockets are the NUMA nodes)
        n = self.max_sockets
        per = 32 // n
        numa = []
        for i in range(n):
            numa += ['-numa', f'node,cpus={i * per}-{i * per + per - 1},'
                     f'mem={1024 // n}M']
        return ((['-smp', '1'], 1, 128 << 20),
                (['-smp', '32', *numa], n, 1 << 30))

    # -- info mtree

    def check_mtree(self, smp, sockets, ram):
        vm = self.get_vm(name=f'mtree-{sockets}')
        vm.set_machine('virt-pcie')
        vm.add_args('-S', '-bios', 'none', *smp, '-m', f'{ram >> 20}M',
                    '-display', 'none')
        vm.launch()
        text = vm.cmd('human-monitor-command', command_line='info mtree')
        vm.shutdown()
        regions = parse_mtree(text)
        self.assertTrue(regions, 'info mtree shows nothing under system')
        what = f'({" ".join(smp)}, -m {ram >> 20}M)'

        inside = {r.name: [] for r in self.table}
        for start, end, kind, name in regions:
            row = self.row_of(start, end, ram)
            self.assertIsNotNone(row, f'{name} at [{start:#x}, {end:#x}) is '
                                 f'outside every row of the spec table {what}')
            inside[row.name].append((start, end, name))

        for row in self.table:
            got = inside[row.name]
            starts = {s for s, _, _ in got}
            self.assertIn(row.base, starts,
                          f'nothing mapped at the base of spec row {row} '
                          f'{what}')
            if row.per_socket:
                stride = row.size // self.max_sockets
                for s in range(self.max_sockets):
                    base, _ = self.socket_block(row, s)
                    mapped = any(base <= a < base + stride for a, _, _ in got)
                    self.assertEqual(mapped, s < sockets,
                                     f'{row.name}: socket {s} block at '
                                     f'{base:#x} '
                                     f'{"not " if s < sockets else ""}'
                                     f'mapped {what}')
                    if s < sockets:
                        self.assertIn(base, starts, f'{row.name}: socket {s} '
                                      f'block does not start at {base:#x} '
                                      f'{what}')
            elif row.name in FULL_ROWS:
                covered = sorted((a, b) for a, b, _ in got)
                pos = row.base
                for a, b in covered:
                    self.assertLessEqual(a, pos,
                                         f'{row.name}: hole at {pos:#x} {what}')
                    pos = max(pos, b)
                self.assertEqual(pos, row.end(ram),
                                 f'{row.name}: mapped up to {pos:#x}, the spec '
                                 f'says up to {row.end(ram):#x} {what}')

    def test_mtree_matches_spec(self):
        for smp, sockets, ram in self.configs():
            self.check_mtree(smp, sockets, ram)

    # -- device tree

    def dumpdtb(self, smp, ram):
        dtb = self.scratch_file(f'virt-pcie-{ram}.dtb')
        subprocess.run([self.qemu_bin, '-M', 'virt-pcie', '-bios', 'none',
                        *smp, '-m', f'{ram >> 20}M', '-display', 'none',
                        '-machine', f'dumpdtb={dtb}'],
                       check=True, timeout=120, capture_output=True)
        dts = subprocess.run(['dtc', '-q', '-I', 'dtb', '-O', 'dts', dtb],
                             check=True, capture_output=True, text=True).stdout
        return parse_dts(dts)

    def assert_in_row(self, name, start, size, node, ram, what):
        row = self.rows[name]
        self.assertTrue(row.base <= start and start + size <= row.end(ram),
                        f'{node.path}: reg [{start:#x}, +{size:#x}) is outside '
                        f'spec row {row} {what}')

    def check_per_socket(self, name, entries, sockets, node, what):
        row = self.rows[name]
        starts = sorted(a for a, _ in entries)
        want = [self.socket_block(row, s)[0] for s in range(sockets)]
        self.assertEqual([hex(a) for a in starts], [hex(a) for a in want],
                         f'{name}: device-tree blocks ({node}) are not one per '
                         f'socket at the spec stride {what}')
        stride = row.size // self.max_sockets
        for a, size in entries:
            self.assertLessEqual(size, stride, f'{name} block at {a:#x} is '
                                 f'larger than the per-socket stride {what}')

    def check_dtb(self, smp, sockets, ram):
        root = self.dumpdtb(smp, ram)
        what = f'({" ".join(smp)}, -m {ram >> 20}M)'
        per_socket = {}

        def add(name, node, start, size):
            self.assert_in_row(name, start, size, node, ram, what)
            per_socket.setdefault(name, []).append((start, size))

        # RAM: the memory nodes tile [dram, dram + -m)
        mem = []
        for node in root.children:
            if node.props.get('device_type') == '"memory"':
                mem += split_cells(node.cells('reg'), (2, 2))
        mem.sort()
        self.assertTrue(mem, 'no memory node')
        self.assertEqual(mem[0][0], self.rows['dram'].base,
                         f'RAM does not start at the spec dram base {what}')
        self.assertEqual(sum(s for _, s in mem), ram, f'RAM size {what}')
        for a, s in mem:
            self.assert_in_row('dram', a, s, root, ram, what)

        soc = [n for n in root.children if n.path == '/soc']
        self.assertEqual(len(soc), 1, 'no /soc node')
        flash = [n for n in root.walk()
                 if 'cfi-flash' in n.strings('compatible')]
        self.assertEqual(len(flash), 1, 'no cfi-flash node')
        banks = split_cells(flash[0].cells('reg'), (2, 2))
        self.assertEqual(banks[0][0], self.rows['flash'].base,
                         f'flash base {what}')
        self.assertEqual(sum(s for _, s in banks), self.rows['flash'].size,
                         f'flash size {what}')
        for a, s in banks:
            self.assert_in_row('flash', a, s, flash[0], ram, what)

        for node in soc[0].children:
            compat = node.strings('compatible')
            if not compat and 'ranges' in node.props:
                # The console's firmware view: of the PCIe I/O window
                # (10.0), or of a page of the 32-bit window, one to one
                rng = split_cells(node.cells('ranges'), (2, 2, 2))
                self.assertEqual(len(rng), 1, node.path)
                child, parent, size = rng[0]
                if node.path.rsplit('/', 1)[-1].startswith('pci-io@'):
                    self.assertEqual(parent, self.rows['pcie-pio'].base,
                                     f'{node.path} ranges {what}')
                    self.assertLessEqual(size, self.rows['pcie-pio'].size,
                                         f'{node.path} ranges {what}')
                else:
                    self.assertEqual(child, parent,
                                     f'{node.path} ranges {what}')
                    self.assert_in_row('pcie-mmio', parent, size, node, ram,
                                       what)
                continue
            reg = split_cells(node.cells('reg') or [], (2, 2))
            self.assertTrue(reg, f'{node.path} has no reg')
            if 'google,goldfish-rtc' in compat:
                name = 'rtc'
            elif 'syscon' in compat:
                name = 'reset'
            elif 'riscv,aclint-mtimer' in compat:
                name = 'mtimer'
            elif 'riscv,aplic' in compat:
                name = ('aplic-m' if 'riscv,children' in node.props
                        else 'aplic-s')
            elif 'riscv,imsics' in compat:
                # M-level external interrupt (11) or S-level (9)
                irq = node.cells('interrupts-extended')[1]
                self.assertIn(irq, (9, 11), node.path)
                name = 'imsic-m' if irq == 11 else 'imsic-s'
            elif 'pci-host-ecam-generic' in compat:
                self.check_pci(node, reg, ram, what)
                continue
            else:
                self.fail(f'{node.path} ({compat}) has no row in the spec '
                          f'table')
            if name == 'mtimer':
                # mtime and mtimecmp of one socket: one block
                lo = min(a for a, _ in reg)
                hi = max(a + s for a, s in reg)
                add(name, node, lo, hi - lo)
            elif name.startswith('imsic'):
                for a, s in reg:
                    add(name, node, a, s)
            else:
                self.assertEqual(len(reg), 1, node.path)
                add(name, node, *reg[0])

        for name in ('rtc', 'reset'):
            self.assertEqual([a for a, _ in per_socket.get(name, [])],
                             [self.rows[name].base], f'{name} node {what}')
        for row in self.table:
            if row.per_socket:
                self.check_per_socket(row.name, per_socket.get(row.name, []),
                                      sockets, row.name, what)

    def check_pci(self, node, reg, ram, what):
        ecam = self.rows['pcie-ecam']
        self.assertEqual(reg, [(ecam.base, ecam.size)],
                         f'{node.path} reg is not the spec pcie-ecam {what}')
        ranges = split_cells(node.cells('ranges'), (1, 2, 2, 2))
        # I/O (space 1) from bus address 0x1000 (11.0: the spec's pcie-pio
        # row), 32-bit memory (2), 64-bit memory (3) where the CPU sees them
        pio, mmio = self.rows['pcie-pio'], self.rows['pcie-mmio']
        mmio64 = self.rows['pcie-mmio64']
        want = [(0x01000000, 'pcie-pio', PIO_BUS_MIN, pio.base + PIO_BUS_MIN,
                 pio.size - PIO_BUS_MIN),
                (0x02000000, 'pcie-mmio', mmio.base, mmio.base, mmio.size),
                (0x03000000, 'pcie-mmio64', mmio64.base, mmio64.base,
                 mmio64.size)]
        self.assertEqual(len(ranges), len(want), f'{node.path} ranges {what}')
        for (hi, bus, cpu, size), (whi, name, *entry) in zip(ranges, want):
            self.assertEqual(hi & 0x03000000, whi, f'{node.path} ranges order')
            self.assertEqual((hex(bus), hex(cpu), hex(size)),
                             tuple(hex(v) for v in entry),
                             f'{node.path} ranges entry for {name} {what}')

    def test_dtb_matches_spec(self):
        for smp, sockets, ram in self.configs():
            self.check_dtb(smp, sockets, ram)

    def test_spec_table_sane(self):
        """The table itself: sorted, no overlaps, strides that divide."""
        ram_max = 1022 << 30
        prev_end = 0
        for r in self.table:
            self.assertGreaterEqual(r.base, prev_end,
                                    f'{r} overlaps its predecessor')
            prev_end = r.end(ram_max)
            if r.per_socket:
                self.assertEqual(r.size % self.max_sockets, 0, str(r))
        for name in FULL_ROWS + ('reset', 'rtc', 'mtimer', 'aplic-m', 'aplic-s',
                                 'imsic-m', 'imsic-s'):
            self.assertIn(name, self.rows, f'spec table has no row {name}')


if __name__ == '__main__':
    QemuSystemTest.main()
