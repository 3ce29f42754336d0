#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The conformance table of docs/specs/riscv-virt-pcie.rst (RISC-V Server SoC
# and Server Platform specifications) against the running machine.
#
# The table is read from the spec itself: every list-table whose ":name:"
# starts with "conformance-" after the label ".. _virt-pcie-conformance:"
# in riscv-virt-pcie.rst. The tables named conformance-soc-* hold
# Server SoC rules, conformance-platform-* Server Platform rules; each row is
# ID, Requirement, Status, Check, Note.
#
# test_table_well_formed: every Status is "met", "not met" or "not
# applicable"; a "met" row has a check; a "none:" check gives a reason; a
# row that is not met or not applicable says why in its Note; a "test:"
# check names a test that exists in this tree (a "def" of a Python test, a
# generated test of a CASES table, or a qtest path); a "conformance:" check
# names a check of this file; no ID appears twice.
#
# test_conformance_checks: runs every "conformance:NAME" check (the method
# check_NAME below) against -M virt-pcie, the newest machine version. A
# check observes the machine and returns the status the row should have:
# "met", "not met", or "not applicable" (the rule's condition does not
# arise). The test fails, naming the rows, wherever the observed status
# differs from the table's, so the table stays true in both directions: a
# rule that starts to hold on a row marked "not met" fails as well.
#
# The checks read the device tree (-machine dumpdtb, parsed here without
# dtc), QMP (query-pci, qom-get, info mtree), configuration space and
# registers through the qtest accelerator, command-line errors, and the
# results a small S-mode payload stores in RAM after probing the SBI of the
# default firmware.

import os
import re
import struct
import subprocess
import time

from qemu.machine import QEMUMachine
from qemu.machine.qtest import QEMUQtestMachine
from qemu_test import QemuSystemTest

SPEC_DIR = os.path.join('docs', 'specs')
SPEC_FILES = ('riscv-virt-pcie.rst',)
LABEL = '.. _virt-pcie-conformance:'
HEADER = ['ID', 'Requirement', 'Status', 'Check', 'Note']
SPECS = {'soc': 'Server SoC', 'platform': 'Server Platform'}

MET = 'met'
NOT_MET = 'not met'
NA = 'not applicable'
STATUSES = (MET, NOT_MET, NA)

MACHINE = 'virt-pcie'
BASE_ARGS = ['-display', 'none', '-serial', 'null', '-nic', 'none']

# PCI configuration space
CAP_PM, CAP_MSI, CAP_EXP, CAP_MSIX, CAP_EA = 0x01, 0x05, 0x10, 0x11, 0x14
EXT_AER, EXT_ACS, EXT_RCEC_EA, EXT_ATS = 0x01, 0x0d, 0x07, 0x0f
EXT_SRIOV, EXT_PASID, EXT_DPC, EXT_PTM, EXT_IDE = 0x10, 0x1b, 0x1d, 0x1f, 0x30
CLASS_IOMMU, CLASS_RCEC = 0x0806, 0x0807
CLASS_USB_XHCI, CLASS_SATA = 0x0c03, 0x0106
# An address of the 32-bit window the checks give to BARs they program
BAR_SCRATCH = 0x7000_0000

# RISC-V IOMMU registers and capabilities bits
IOMMU_CAP, IOMMU_FCTL, IOMMU_DDTP = 0x00, 0x08, 0x10
IOMMU_IOCOUNTINH, IOMMU_IOHPMCYCLES, IOMMU_IOHPMCTR0 = 0x5c, 0x60, 0x68
CAP_BITS = {'sv39': 9, 'sv48': 10, 'sv57': 11, 'svrsw60t59b': 14,
            'svpbmt': 15, 'sv39x4': 17, 'sv48x4': 18, 'sv57x4': 19,
            'amo_mrif': 21, 'msi_flat': 22, 'msi_mrif': 23, 'amo_hwad': 24,
            'ats': 25, 't2gpa': 26, 'end': 27, 'hpm': 30, 'dbg': 31,
            'pd8': 38, 'pd17': 39, 'pd20': 40}
DDTP_OFF, DDTP_BARE, DDTP_3LVL = 0, 1, 4

# RVA23S64 mandatory extensions as device-tree names ("b" may be listed as
# zba, zbb and zbs); Svbare and Sv39 come from mmu-type, Ss1p13 is unnamed.
RVA23S64 = ('i m a f d c b zicsr zicntr zihpm ziccif ziccrse ziccamoa '
            'zicclsm za64rs zihintpause zic64b zicbom zicbop zicboz zfhmin '
            'zkt v zvfhmin zvbb zvkt zihintntl zicond zimop zcmop zcb zfa '
            'zawrs supm zifencei svade ssccptr sstvecd sstvala sscounterenw '
            'svpbmt svinval svnapot sstc sscofpmf ssnpm ssu64xl h ssstateen '
            'shcounterenw shvstvala shtvala shvstvecd shvsatpa '
            'shgatpa').split()
SERVER_EXTS = ('sdtrig', 'sdext', 'zkr', 'ssccfg', 'ssstrict', 'ssaia')
MMU_MODES = {'riscv,sv39': ['sv39'], 'riscv,sv48': ['sv39', 'sv48'],
             'riscv,sv57': ['sv39', 'sv48', 'sv57']}

# The S-mode payload: where QEMU loads a raw -kernel after OpenSBI, and the
# offset of its results from its start.
PAYLOAD_BASE = 0x8020_0000
RESULTS = 0x400
MAGIC = 0x5a5
SBI_DBTR = 0x44425452
# num_triggers filters: any trigger, then tdata1.type 2 (mcontrol), 6
# (mcontrol6), 3 (icount), 4 (itrigger), 5 (etrigger)
TRIGGER_TYPES = (0, 2, 6, 3, 4, 5)


def spec_dirs():
    """Candidate docs/specs directories: this tree, then fork-src."""
    here = os.path.dirname(os.path.abspath(__file__))
    dirs = [os.path.join(here, '..', '..', SPEC_DIR)]
    root = os.environ.get('QEMU_BUILD_ROOT')
    if root:
        dirs.append(os.path.join(root, '..', 'fork-src', SPEC_DIR))
    return [os.path.normpath(d) for d in dirs]


def find_table_file():
    """The spec file that holds the conformance section, and its text."""
    for d in spec_dirs():
        for name in SPEC_FILES:
            path = os.path.join(d, name)
            if os.path.exists(path):
                with open(path, encoding='utf-8') as f:
                    text = f.read()
                if LABEL in text.splitlines():
                    return path, text
    raise AssertionError(f'no {LABEL} in {SPEC_FILES} below {spec_dirs()}')


# -- the table

class Row:
    def __init__(self, spec, cells, line):
        self.spec = spec
        self.id, self.requirement, self.status, self.check, self.note = cells
        self.line = line

    @property
    def key(self):
        return f'{SPECS[self.spec]} {self.id}'

    def __repr__(self):
        return self.key


def strip_literal(text):
    return text.replace('``', '').strip()


def parse_list_table(lines, start):
    """The rows (lists of cell texts) of the list-table whose body follows
    line START, and the line numbers where the rows begin."""
    rows, where = [], []
    indent = None
    for n in range(start, len(lines)):
        line = lines[n]
        if line.strip() and not line[0].isspace():
            break               # the table ends at the next unindented line
        m = re.match(r'^(\s*)\* - (.*)$', line)
        if m:
            indent = len(m.group(1)) + 2
            rows.append([m.group(2)])
            where.append(n + 1)
        elif indent is None:
            continue            # the options of the directive
        elif line[:indent].strip() == '' and \
                (line[indent:] == '-' or line[indent:].startswith('- ')):
            rows[-1].append(line[indent + 2:])     # a cell, maybe empty
        elif line.strip():
            rows[-1][-1] += ' ' + line.strip()
    return [[' '.join(c.split()) for c in r] for r in rows], where


def parse_table(text):
    """Rows of every conformance-* list-table after LABEL, in order."""
    lines = text.splitlines()
    start = lines.index(LABEL)
    rows = []
    for n in range(start, len(lines)):
        m = re.match(r'^\s+:name: conformance-(\w+)-', lines[n])
        if not m:
            continue
        assert m.group(1) in SPECS, f'line {n + 1}: table of unknown spec'
        cells, where = parse_list_table(lines, n + 1)
        assert cells and cells[0] == HEADER, \
            f'line {n + 1}: header {cells[:1]}, expected {HEADER}'
        for c, w in zip(cells[1:], where[1:]):
            assert len(c) == len(HEADER), f'line {w}: {len(c)} cells: {c}'
            rows.append(Row(m.group(1), c, w))
    assert rows, f'no conformance-* list-table after {LABEL}'
    return rows


def source_root():
    """The root of the tree that holds this file (the repository, or
    fork-src)."""
    return os.path.normpath(os.path.join(os.path.dirname(
        os.path.abspath(__file__)), '..', '..'))


def named_test_exists(path, name):
    """Whether NAME is a test of file PATH (relative to the tree root)."""
    full = os.path.join(source_root(), path)
    if not os.path.isfile(full):
        return False
    with open(full, encoding='utf-8') as f:
        text = f.read()
    if path.endswith('.py'):
        if re.search(rf'^\s+def {re.escape(name)}\(self', text, re.M):
            return True
        # tests generated from a CASES table: test_KEY for 'KEY': (...)
        key = name[len('test_'):] if name.startswith('test_') else None
        return bool(key and 'CASES' in text and
                    re.search(rf"^\s+'{re.escape(key)}': \(", text, re.M))
    if path.endswith('.c'):
        return bool(re.search(r'qtest_add_\w+\(\s*"' + re.escape(name) + '"',
                              text))
    return False


# -- the device tree

class FdtNode:
    def __init__(self, name, parent):
        self.name = name
        self.parent = parent
        self.props = {}
        self.children = []
        if parent is None:
            self.path = '/'
        else:
            self.path = parent.path.rstrip('/') + '/' + name

    def cells(self, prop):
        v = self.props.get(prop)
        if v is None:
            return None
        return list(struct.unpack(f'>{len(v) // 4}I', v))

    def u32(self, prop, default=None):
        c = self.cells(prop)
        return default if c is None else c[0]

    def strings(self, prop):
        v = self.props.get(prop)
        return v.rstrip(b'\0').decode().split('\0') if v else []

    def compatible(self, *names):
        return any(c in names for c in self.strings('compatible'))

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()


class Fdt:
    """A flattened device tree, parsed from its blob."""

    def __init__(self, blob):
        (magic, _, off_struct, off_strings, _, _, _, _, size_strings,
         size_struct) = struct.unpack_from('>10I', blob)
        assert magic == 0xd00dfeed, 'not a flattened device tree'
        strings = blob[off_strings:off_strings + size_strings]
        pos, end = off_struct, off_struct + size_struct
        node = self.root = None
        while pos < end:
            token, = struct.unpack_from('>I', blob, pos)
            pos += 4
            if token == 1:          # FDT_BEGIN_NODE
                name_end = blob.index(b'\0', pos)
                new = FdtNode(blob[pos:name_end].decode(), node)
                if node is None:
                    self.root = new
                else:
                    node.children.append(new)
                node = new
                pos = (name_end + 4) & ~3
            elif token == 2:        # FDT_END_NODE
                node = node.parent
            elif token == 3:        # FDT_PROP
                size, name_off = struct.unpack_from('>II', blob, pos)
                pos += 8
                name = strings[name_off:strings.index(b'\0', name_off)]
                node.props[name.decode()] = blob[pos:pos + size]
                pos = (pos + size + 3) & ~3
            elif token == 9:        # FDT_END
                break
        self.phandles = {n.u32('phandle'): n for n in self.walk()
                         if 'phandle' in n.props}

    def walk(self):
        return self.root.walk()

    def node(self, path):
        for n in self.walk():
            if n.path == path:
                return n
        return None

    def compatible(self, *names):
        return [n for n in self.walk() if n.compatible(*names)]

    def cpus(self):
        return [n for n in self.node('/cpus').children
                if n.strings('device_type') == ['cpu']]

    def extensions(self, cpu=None):
        cpu = cpu or self.cpus()[0]
        return set(cpu.strings('riscv,isa-extensions'))

    def imsic(self, irq):
        """The IMSIC node whose interrupts-extended targets IRQ (9 S, 11 M)
        of the harts."""
        for n in self.compatible('riscv,imsics'):
            if n.cells('interrupts-extended')[1::2][0] == irq:
                return n
        return None

    def pci_hosts(self):
        return self.compatible('pci-host-ecam-generic')


def split_cells(cells, sizes):
    """CELLS as tuples of integers, each made of SIZES cells (big-endian)."""
    out, step = [], sum(sizes)
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


# -- a paused machine, read and written through qtest

class Platform:
    """A -M virt-pcie machine under the qtest accelerator."""

    def __init__(self, test, args):
        self.vm = QEMUQtestMachine(test.qemu_bin, base_temp_dir=test.workdir,
                                   args=['-M', MACHINE, '-bios', 'none',
                                         *BASE_ARGS, *args])
        test.machines.append(self.vm)
        self.vm.launch()
        self.pci = self.vm.cmd('query-pci')
        self.ecam = 0x3000_0000
        self._mtree = None

    def qtest(self, cmd):
        out = self.vm.qtest(cmd).split()
        assert out and out[0] == 'OK', f'qtest {cmd}: {out}'
        return out

    def read(self, addr, size=4):
        op = {1: 'b', 2: 'w', 4: 'l', 8: 'q'}[size]
        return int(self.qtest(f'read{op} {addr:#x}')[1], 16)

    def write(self, addr, value, size=4):
        op = {1: 'b', 2: 'w', 4: 'l', 8: 'q'}[size]
        self.qtest(f'write{op} {addr:#x} {value:#x}')

    def cfg_addr(self, bdf, off):
        return self.ecam + (bdf << 12) + off

    def cfg(self, bdf, off, size=4):
        return self.read(self.cfg_addr(bdf, off), size)

    def cfg_write(self, bdf, off, value, size=4):
        self.write(self.cfg_addr(bdf, off), value, size)

    def functions(self):
        """query-pci functions of every bus, each with its "bdf"."""
        out = []
        for bus in self.pci:
            for d in bus['devices']:
                d['bdf'] = (d['bus'] << 8) | (d['slot'] << 3) | d['function']
                out.append(d)
        return out

    def function(self, cls):
        found = [d for d in self.functions()
                 if d['class_info']['class'] == cls]
        return found[0] if found else None

    def caps(self, bdf):
        """{capability ID: offset} of the standard capability list."""
        out = {}
        if not self.cfg(bdf, 0x06, 2) & 0x10:
            return out
        off = self.cfg(bdf, 0x34, 1) & ~3
        while off and off not in out.values() and len(out) < 48:
            out.setdefault(self.cfg(bdf, off, 1), off)
            off = self.cfg(bdf, off + 1, 1) & ~3
        return out

    def ext_caps(self, bdf):
        """{extended capability ID: offset}; none for a function without a
        PCI Express capability (whose space ends at 0x100)."""
        out = {}
        if CAP_EXP not in self.caps(bdf):
            return out
        off = 0x100
        while off and len(out) < 64:
            h = self.cfg(bdf, off)
            if h in (0, 0xffffffff):
                break
            out.setdefault(h & 0xffff, off)
            off = (h >> 20) & ~3
        return out

    def ea_entries(self, bdf):
        """(BEI, primary, secondary, enabled, base, size) of each Enhanced
        Allocation entry of a type 0 function."""
        cap = self.caps(bdf).get(CAP_EA)
        if cap is None:
            return None
        out = []
        off = cap + 4
        for _ in range(self.cfg(bdf, cap + 2, 1) & 0x3f):
            dw0 = self.cfg(bdf, off)
            words = [self.cfg(bdf, off + 4 * i)
                     for i in range(1, 1 + (dw0 & 7))]
            base = words[0] & ~3
            size = (words[1] | 3) + 1 if len(words) > 1 else 0
            out.append(((dw0 >> 4) & 0xf, (dw0 >> 8) & 0xff,
                        (dw0 >> 16) & 0xff, bool(dw0 >> 31), base, size))
            off += 4 + 4 * (dw0 & 7)
        return out

    def map_bar0(self, bdf, addr=BAR_SCRATCH):
        """Place BAR0 (32 or 64-bit memory) at ADDR and enable decoding."""
        self.cfg_write(bdf, 0x10, addr)
        if self.cfg(bdf, 0x10) & 0x6 == 0x4:
            self.cfg_write(bdf, 0x14, 0)
        self.cfg_write(bdf, 0x04, self.cfg(bdf, 0x04, 2) | 0x6, 2)
        return addr

    def mtree(self):
        """(start, end, kind, name) of the flat view of system memory."""
        if self._mtree is None:
            text = self.vm.cmd('human-monitor-command',
                               command_line='info mtree -f')
            view = text[text.index('Root memory region: system'):]
            self._mtree = [(int(a, 16), int(b, 16) + 1, k, n) for a, b, k, n
                           in re.findall(r'^\s+([0-9a-f]+)-([0-9a-f]+) '
                                         r'\(prio -?\d+, ([^)]+)\): (\S+)',
                                         view.split('\n\n')[0], re.M)]
        return self._mtree

    def qom(self, path, prop):
        return self.vm.cmd('qom-get', path=path, property=prop)


# -- the S-mode payload

REG = {'x0': 0, 't0': 5, 's0': 8, 'a0': 10, 'a1': 11, 'a6': 16, 'a7': 17}


def i_type(opcode, rd, funct3, rs1, imm):
    return ((imm & 0xfff) << 20) | (REG[rs1] << 15) | (funct3 << 12) | \
        (REG[rd] << 7) | opcode


def addi(rd, rs1, imm):
    return i_type(0x13, rd, 0, rs1, imm)


def slli(rd, rs1, shamt):
    return i_type(0x13, rd, 1, rs1, shamt)


def lui(rd, imm20):
    return (imm20 << 12) | (REG[rd] << 7) | 0x37


def sd(rs2, off, rs1):
    return (((off >> 5) & 0x7f) << 25) | (REG[rs2] << 20) | \
        (REG[rs1] << 15) | (3 << 12) | ((off & 0x1f) << 7) | 0x23


def li32(rd, value):
    """VALUE (< 2^31, low 12 bits < 0x800) into RD."""
    assert value < 1 << 31 and value & 0xfff < 0x800
    return [lui(rd, value >> 12), addi(rd, rd, value & 0xfff)]


ECALL, WFI, J_BACK_4 = 0x00000073, 0x10500073, 0xffdff06f


def sbi_payload():
    """S-mode code that probes the SBI DBTR extension and counts triggers
    (in total and per tdata1 type), stores a0/a1 of each call at RESULTS +
    16 * n, stores MAGIC after them, then sleeps in WFI."""
    code = [0x00000417]                             # auipc s0, 0
    calls = [li32('a0', SBI_DBTR) + [addi('a7', 'x0', 0x10),
                                     addi('a6', 'x0', 3)]]
    for t in TRIGGER_TYPES:                         # DBTR num_triggers
        calls.append(li32('a7', SBI_DBTR) +
                     [addi('a6', 'x0', 0), addi('a0', 'x0', t),
                      slli('a0', 'a0', 60)])
    for n, setup in enumerate(calls):
        code += setup + [ECALL, sd('a0', RESULTS + 16 * n, 's0'),
                         sd('a1', RESULTS + 16 * n + 8, 's0')]
    code += [addi('t0', 'x0', MAGIC),
             sd('t0', RESULTS + 16 * len(calls), 's0'), WFI, J_BACK_4]
    assert 4 * len(code) <= RESULTS
    return struct.pack(f'<{len(code)}I', *code), len(calls)


def met_if(cond):
    return MET if cond else NOT_MET


class VirtPcieConformance(QemuSystemTest):

    timeout = 600

    def setUp(self):
        super().setUp()
        self.path, text = find_table_file()
        self.rows = parse_table(text)
        self.machines = []
        self.cache = {}
        self.details = {}

    def tearDown(self):
        for vm in self.machines:
            try:
                vm.shutdown()
            except Exception as ex:     # pylint: disable=broad-except
                self.log.error('shutdown failed: %s', ex)
        super().tearDown()

    # -- the table

    def test_table_well_formed(self):
        errors = []
        seen = set()
        for r in self.rows:
            where = f'{os.path.basename(self.path)}:{r.line} {r.key}'
            if r.key in seen:
                errors.append(f'{where}: listed twice')
            seen.add(r.key)
            if not re.fullmatch(r'[A-Z]+_\d{3}', r.id):
                errors.append(f'{where}: ID is not CAT_NNN')
            if r.status not in STATUSES:
                errors.append(f'{where}: status {r.status!r} is not one of '
                              f'{STATUSES}')
            if r.status != MET and not r.note:
                errors.append(f'{where}: {r.status} without a reason in '
                              f'the Note column')
            check = strip_literal(r.check)
            if not check:
                errors.append(f'{where}: no check')
            elif check.startswith('none:'):
                if not check[len('none:'):].strip():
                    errors.append(f'{where}: "none:" without a reason')
            elif check.startswith('conformance:'):
                name = check[len('conformance:'):]
                if not hasattr(self, 'check_' + name):
                    errors.append(f'{where}: no check_{name} in '
                                  f'{os.path.basename(__file__)}')
            elif check.startswith('test:'):
                path, _, name = check[len('test:'):].partition('::')
                if not name or not named_test_exists(path, name):
                    errors.append(f'{where}: {check}: no such test')
            else:
                errors.append(f'{where}: check {check!r} is not '
                              f'"conformance:", "test:" or "none:"')
        with open(self.path, encoding='utf-8') as f:
            text = f.read()
        for spec, name in SPECS.items():
            counts = [sum(r.spec == spec and r.status == s for r in self.rows)
                      for s in STATUSES]
            told = re.search(rf'^\* {name}: (\d+) met, (\d+) not met, '
                             rf'(\d+) not applicable\.$', text, re.M)
            if not told:
                errors.append(f'no summary line for {name}')
            elif [int(n) for n in told.groups()] != counts:
                errors.append(f'the summary of {name} says '
                              f'{told.group(0)[2:]}; the table has {counts}')
            # every rule is listed: as many rows as the intro says the
            # specification has rules
            total = re.search(rf'{name} Specification\*\*, version '
                              rf'[\d.]+ \(.*?\), (\d+) rules',
                              ' '.join(text.split()))
            if not total or int(total.group(1)) != sum(counts):
                errors.append(f'{name}: {sum(counts)} rows, but the '
                              f'introduction says '
                              f'{total.group(1) if total else "nothing"}')
            print(f'# {name}: {sum(counts)} rules, '
                  + ', '.join(f'{n} {s}' for s, n in zip(STATUSES, counts)),
                  flush=True)
        if errors:
            self.fail(f'{len(errors)} problems in the table:\n'
                      + '\n'.join(errors))

    def test_conformance_checks(self):
        by_check = {}
        for r in self.rows:
            check = strip_literal(r.check)
            if check.startswith('conformance:') and r.status in STATUSES:
                by_check.setdefault(check[len('conformance:'):], []).append(r)
        failures = []
        for name, rows in by_check.items():
            method = getattr(self, 'check_' + name, None)
            if method is None:
                failures.append(f'{rows}: no check_{name}')
                continue
            try:
                got = method()
            except Exception as ex:     # pylint: disable=broad-except
                self.log.exception('check %s', name)
                failures.append(f'{", ".join(map(str, rows))}: check {name} '
                                f'failed: {type(ex).__name__}: {ex}')
                continue
            detail = self.details.get(name)
            self.log.info('check %s: %s%s', name, got,
                          f' ({detail})' if detail else '')
            for r in rows:
                if got != r.status:
                    failures.append(f'{r.key}: the table says {r.status!r}, '
                                    f'check {name} finds {got!r}'
                                    + (f' ({detail})' if detail else ''))
        print(f'# {len(by_check)} checks for '
              f'{sum(len(r) for r in by_check.values())} rows, '
              f'{len(failures)} rows disagree', flush=True)
        if failures:
            self.fail(f'{len(failures)} rows disagree with the machine:\n'
                      + '\n'.join(failures))

    # -- machines, cached for the run

    def cached(self, key, make):
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]

    def note(self, name, text):
        self.details[name] = text

    def dtb(self, *args):
        def make():
            path = self.scratch_file(f'vp-{len(self.cache)}.dtb')
            p = subprocess.run([self.qemu_bin,
                                '-M', f'{MACHINE},dumpdtb={path}',
                                '-bios', 'none', *BASE_ARGS, '-monitor',
                                'none', *args],
                               capture_output=True, text=True, timeout=120,
                               check=False)
            self.assertEqual(p.returncode, 0, f'dumpdtb with {args}: '
                             f'{p.stderr.strip()}')
            with open(path, 'rb') as f:
                return Fdt(f.read())
        return self.cached(('dtb',) + args, make)

    def platform(self, *args):
        return self.cached(('qtest',) + args, lambda: Platform(self, args))

    def refused(self, *args):
        """QEMU's exit status and error output for a command line."""
        dtb = self.scratch_file('refused.dtb')
        p = subprocess.run([self.qemu_bin, '-M', f'{MACHINE},dumpdtb={dtb}',
                            '-bios', 'none', *BASE_ARGS, '-monitor', 'none',
                            *args], capture_output=True, text=True,
                           timeout=60, check=False)
        return p.returncode, p.stdout + p.stderr

    def default(self):
        return self.dtb('-smp', '2')

    def console(self, plat):
        """query-pci entry of the console: the 16550 at 00:00.1."""
        for d in plat.functions():
            if d['bdf'] == 0x01:
                return d
        self.fail('no function at 00:00.1')

    def builtin(self):
        """The default machine's functions, with their capabilities."""
        plat = self.platform()
        return plat, [(d, plat.caps(d['bdf']), plat.ext_caps(d['bdf']))
                      for d in plat.functions()]

    def root_ports(self):
        """A machine with a root port holding an endpoint (00:02.0, bus 1
        once programmed) and an empty one (00:03.0)."""
        def make():
            plat = Platform(self, ('-device', 'pcie-root-port,id=rp0,'
                                   'chassis=1,addr=02.0',
                                   '-device', 'virtio-rng-pci,bus=rp0',
                                   '-device', 'pcie-root-port,id=rp1,'
                                   'chassis=2,addr=03.0'))
            # primary 0, secondary and subordinate 1
            plat.cfg_write(0x10, 0x18, 0x00010100)
            return plat
        return self.cached('root-ports', make)

    def iommu(self):
        """The machine with -device riscv-iommu-pci, the IOMMU's bdf and
        its register block, mapped."""
        def make():
            plat = Platform(self, ('-device', 'riscv-iommu-pci'))
            dev = plat.function(CLASS_IOMMU)
            self.assertIsNotNone(dev, 'riscv-iommu-pci is not on the bus')
            base = plat.map_bar0(dev['bdf'])
            return plat, dev, base
        return self.cached('iommu', make)

    def iommu_caps(self):
        plat, _, base = self.iommu()
        cap = self.cached('iommu-cap', lambda: plat.read(base + IOMMU_CAP, 8))
        return {k: bool(cap >> b & 1) for k, b in CAP_BITS.items()}, cap

    def sbi(self):
        """The SBI calls of the payload under the default firmware:
        [(a0, a1)] for the DBTR probe, then num_triggers per type; and two
        (host seconds, mtime) samples taken while the hart sleeps."""
        def make():
            code, ncalls = sbi_payload()
            path = self.scratch_file('sbi-payload.bin')
            with open(path, 'wb') as f:
                f.write(code)
            vm = QEMUMachine(self.qemu_bin, base_temp_dir=self.workdir,
                             args=['-M', MACHINE, *BASE_ARGS, '-smp', '1',
                                   '-kernel', path])
            self.machines.append(vm)
            vm.launch()

            def xp(addr):
                out = vm.cmd('human-monitor-command',
                             command_line=f'xp /1gx {addr:#x}')
                return int(out.split(':')[1].split()[0], 16)
            self.assertEqual(xp(PAYLOAD_BASE) & 0xffffffff,
                             struct.unpack_from('<I', code)[0],
                             f'the payload is not at {PAYLOAD_BASE:#x}')
            results = PAYLOAD_BASE + RESULTS
            deadline = time.monotonic() + 60
            while xp(results + 16 * ncalls) != MAGIC:
                self.assertLess(time.monotonic(), deadline,
                                   'the SBI payload did not finish in 60 s')
                time.sleep(0.2)
            calls = [(xp(results + 16 * n), xp(results + 16 * n + 8))
                     for n in range(ncalls)]
            # mtime: the 8-byte register of the first MTIMER, which the
            # device tree lists first
            mtimer = self.default().compatible('riscv,aclint-mtimer')[0]
            mtime = split_cells(mtimer.cells('reg'), (2, 2))[0][0]
            samples = []
            for _ in range(2):
                samples.append((time.monotonic(), xp(mtime)))
                time.sleep(0.5)
            vm.shutdown()
            return calls, samples
        return self.cached('sbi', make)

    # -- Server SoC: clocks and timers

    def check_timebase_1ghz(self):
        freq = self.default().node('/cpus').u32('timebase-frequency')
        self.note('timebase_1ghz', f'timebase-frequency {freq}')
        return met_if(freq == 1_000_000_000)

    def check_time_runs_in_wfi(self):
        _, ((t0, m0), (t1, m1)) = self.sbi()
        freq = self.default().node('/cpus').u32('timebase-frequency')
        rate = (m1 - m0) / (t1 - t0)
        self.note('time_runs_in_wfi', f'mtime {rate / 1e6:.0f} MHz with the '
                  f'hart in WFI; timebase-frequency {freq / 1e6:.0f} MHz')
        return met_if(m1 > m0 and 0.5 < rate / freq < 2)

    # -- Server SoC: interrupt controllers

    def check_aia_present(self):
        fdt = self.default()
        return met_if({'smaia', 'ssaia'} <= fdt.extensions() and
                      fdt.compatible('riscv,imsics') and
                      fdt.compatible('riscv,aplic'))

    def check_external_irqs_msi_only(self):
        fdt = self.default()
        bad = [n.path for n in fdt.compatible('riscv,plic0',
                                              'sifive,plic-1.0.0',
                                              'riscv,aclint-mswi',
                                              'riscv,aclint-sswi')]
        intcs = {p for p, n in fdt.phandles.items()
                 if n.compatible('riscv,cpu-intc')}
        for n in fdt.walk():
            ext = n.cells('interrupts-extended') or []
            # every interrupt parent here has one cell: <phandle irq> pairs
            for ph, irq in zip(ext[0::2], ext[1::2]):
                if ph in intcs and irq in (9, 10, 11) and \
                        not n.compatible('riscv,imsics'):
                    bad.append(f'{n.path} (external interrupt {irq})')
            if n.compatible('riscv,aplic') and ('msi-parent' not in n.props
                                                or ext):
                bad.append(f'{n.path} (APLIC not in MSI mode)')
        self.note('external_irqs_msi_only', ', '.join(bad))
        return met_if(not bad)

    def check_imsic_s_files(self):
        fdt = self.default()
        s = fdt.imsic(9)
        harts = {c.u32('phandle') for n in fdt.cpus() for c in n.children
                 if c.compatible('riscv,cpu-intc')}
        return met_if(s is not None and
                      set(s.cells('interrupts-extended')[0::2]) == harts)

    def check_imsic_guest_files(self):
        guests = self.platform().qom('/machine', 'aia-guests')
        bits = self.default().imsic(9).u32('riscv,guest-index-bits', 0)
        self.note('imsic_guest_files', f'aia-guests {guests}, '
                  f'riscv,guest-index-bits {bits}')
        return met_if(guests >= 5 and (1 << bits) - 1 >= guests)

    def check_imsic_s_ids(self):
        return met_if(self.default().imsic(9).u32('riscv,num-ids') >= 255)

    def check_imsic_vs_ids(self):
        s = self.default().imsic(9)
        ids = s.u32('riscv,num-guest-ids', s.u32('riscv,num-ids'))
        return met_if(ids >= 63)

    def check_imsic_io_region(self):
        plat = self.platform()
        imsic = [(k, n) for _, _, k, n in plat.mtree() if 'imsic' in n]
        # 4-byte accesses to seteipnum_le of hart 0's S-level file
        base, _ = split_cells(self.default().imsic(9).cells('reg'),
                              (2, 2))[0]
        plat.write(base, 0)
        plat.read(base)
        self.note('imsic_io_region', str(imsic))
        return met_if(imsic and all(k == 'i/o' for k, _ in imsic))

    def check_aplic_msi_mode(self):
        fdt = self.default()
        aplics = fdt.compatible('riscv,aplic')
        s_imsic = fdt.imsic(9).u32('phandle')
        roots = [n for n in aplics if 'riscv,children' in n.props]
        children = [fdt.phandles[p] for r in roots
                    for p in r.cells('riscv,children')]
        ok = (roots and children and
              all(fdt.phandles.get(n.u32('msi-parent')) is not None and
                  fdt.phandles[n.u32('msi-parent')].compatible('riscv,imsics')
                  for n in aplics) and
              all(c.u32('msi-parent') == s_imsic for c in children))
        # Extempore MSIs: genmsi (offset 0x3000) of the S domain holds
        # the hart index and EIID written to it
        plat = self.platform()
        genmsi = split_cells(children[0].cells('reg'), (2, 2))[0][0] + 0x3000
        plat.write(genmsi, 5)
        got = plat.read(genmsi)
        self.note('aplic_msi_mode', f'genmsi reads {got:#x} after 0x5')
        return met_if(ok and got & 0x7ff == 5)

    # -- Server SoC: IOMMU (with -device riscv-iommu-pci)

    def check_iommu_version(self):
        _, cap = self.iommu_caps()
        return met_if(cap & 0xff == 0x10)

    def check_iommu_by_default(self):
        host = self.default().pci_hosts()[0]
        return met_if('iommu-map' in host.props)

    def check_iommu_ddt_3lvl(self):
        plat, _, base = self.iommu()
        plat.write(base + IOMMU_DDTP, (0x80000 << 10) | DDTP_3LVL, 8)
        mode = plat.read(base + IOMMU_DDTP, 8) & 0xf
        plat.write(base + IOMMU_DDTP, DDTP_OFF, 8)
        return met_if(mode == DDTP_3LVL)

    def check_iommu_vm_modes(self):
        fdt = self.default()
        caps, _ = self.iommu_caps()
        exts = fdt.extensions()
        want = list(MMU_MODES[fdt.cpus()[0].strings('mmu-type')[0]])
        if 'h' in exts:
            want += [m + 'x4' for m in want]
        want += [e for e, c in (('svpbmt', 'svpbmt'), ('svadu', 'amo_hwad'),
                                ('svrsw60t59b', 'svrsw60t59b')) if e in exts]
        names = {'svadu': 'amo_hwad'}
        missing = [w for w in want if not caps[names.get(w, w)]]
        self.note('iommu_vm_modes', f'harts have {want}; the IOMMU lacks '
                  f'{missing}')
        return met_if(not missing)

    def check_iommu_msi_modes(self):
        plat, _, base = self.iommu()
        caps, _ = self.iommu_caps()
        plat.write(base + IOMMU_DDTP, DDTP_BARE, 8)
        bare = plat.read(base + IOMMU_DDTP, 8) & 0xf == DDTP_BARE
        plat.write(base + IOMMU_DDTP, DDTP_OFF, 8)
        return met_if(bare and caps['msi_mrif'])

    def check_iommu_amo_mrif(self):
        caps, _ = self.iommu_caps()
        return met_if(caps['amo_mrif']) if caps['msi_mrif'] else NA

    def check_iommu_ats(self):
        return met_if(self.iommu_caps()[0]['ats'])

    def check_iommu_t2gpa(self):
        caps, _ = self.iommu_caps()
        return met_if(caps['t2gpa']) if caps['ats'] else NA

    def check_iommu_msi_interrupts(self):
        plat, dev, _ = self.iommu()
        _, cap = self.iommu_caps()
        igs = (cap >> 28) & 3           # 0 MSI, 1 wired, 2 both
        caps = plat.caps(dev['bdf'])
        return met_if(igs in (0, 2) and (CAP_MSIX in caps or CAP_MSI in caps))

    def check_iommu_little_endian(self):
        plat, _, base = self.iommu()
        return met_if(plat.read(base + IOMMU_FCTL) & 1 == 0)

    def check_iommu_big_endian(self):
        return MET if self.iommu_caps()[0]['end'] else NA

    def check_iommu_pasid(self):
        caps, _ = self.iommu_caps()
        return MET if caps['pd8'] or caps['pd17'] or caps['pd20'] else NA

    def check_iommu_pd20(self):
        caps, _ = self.iommu_caps()
        if not (caps['pd8'] or caps['pd17'] or caps['pd20']):
            return NA
        return met_if(caps['pd20'])

    def check_iommu_hpm(self):
        return met_if(self.iommu_caps()[0]['hpm'])

    def check_iommu_cycles(self):
        if not self.iommu_caps()[0]['hpm']:
            return NA
        plat, _, base = self.iommu()
        plat.write(base + IOMMU_IOCOUNTINH, 0)
        a = plat.read(base + IOMMU_IOHPMCYCLES, 8)
        plat.qtest('clock_step 1000000')
        b = plat.read(base + IOMMU_IOHPMCYCLES, 8)
        self.note('iommu_cycles', f'iohpmcycles {a} -> {b} over 1 ms')
        return met_if(b > a)

    def check_iommu_event_counters(self):
        if not self.iommu_caps()[0]['hpm']:
            return NA
        plat, _, base = self.iommu()
        plat.write(base + IOMMU_IOCOUNTINH, 0xffffffff)
        n = bin(plat.read(base + IOMMU_IOCOUNTINH) >> 1).count('1')
        self.note('iommu_event_counters', f'{n} event counters')
        return met_if(n >= 4)

    def check_iommu_counter_width(self):
        if not self.iommu_caps()[0]['hpm']:
            return NA
        plat, _, base = self.iommu()
        plat.write(base + IOMMU_IOCOUNTINH, 0xffffffff)   # all stopped
        widths = []
        for reg, ones in ((IOMMU_IOHPMCYCLES, (1 << 63) - 1),
                          (IOMMU_IOHPMCTR0, (1 << 64) - 1)):
            plat.write(base + reg, ones, 8)
            widths.append(plat.read(base + reg, 8).bit_length())
            plat.write(base + reg, 0, 8)
        self.note('iommu_counter_width', f'cycles, hpmctr1 widths {widths}')
        return met_if(min(widths) >= 40)

    def check_iommu_dbg(self):
        return met_if(self.iommu_caps()[0]['dbg'])

    def check_iommu_pas(self):
        _, cap = self.iommu_caps()
        mmu = self.default().cpus()[0].strings('mmu-type')[0]
        hart_pa = 34 if mmu == 'riscv,sv32' else 56
        self.note('iommu_pas', f'IOMMU PAS {(cap >> 32) & 0x3f}, harts '
                  f'{hart_pa}')
        return met_if((cap >> 32) & 0x3f >= hart_pa)

    def check_iommu_reset_off(self):
        plat = Platform(self, ('-device', 'riscv-iommu-pci'))
        dev = plat.function(CLASS_IOMMU)
        base = plat.map_bar0(dev['bdf'])
        return met_if(plat.read(base + IOMMU_DDTP, 8) & 0xf == DDTP_OFF)

    def check_iommu_class(self):
        plat, dev, _ = self.iommu()
        cls = plat.cfg(dev['bdf'], 0x08) >> 16
        return met_if(cls == CLASS_IOMMU)

    def check_iommu_map(self):
        """The host bridge's iommu-map sends every requester ID but the
        IOMMU's own, unchanged, to the IOMMU; the IOMMU is refused behind
        a root port and a second one is refused."""
        plat, dev, _ = self.iommu()
        fdt = self.dtb('-device', 'riscv-iommu-pci')
        host = fdt.pci_hosts()[0]
        own = dev['bdf']
        covered = set()
        problems = []
        for rid, ph, base, length in split_cells(host.cells('iommu-map')
                                                 or [], (1, 1, 1, 1)):
            target = fdt.phandles.get(ph)
            if target is None or not target.compatible('riscv,pci-iommu'):
                problems.append(f'entry {rid:#x} points at {target}')
            elif target.cells('reg')[0] >> 8 != own:
                problems.append(f'{target.path} is not {own:#x}')
            if base != rid:
                problems.append(f'RID {rid:#x} becomes device ID {base:#x}')
            covered.update(range(rid, rid + length))
        if covered != set(range(0x10000)) - {own}:
            problems.append(f'covers {len(covered)} RIDs, '
                            f'{own:#x} {"in" if own in covered else "out"}')
        rc, out = self.refused('-device', 'pcie-root-port,id=rp0,chassis=1',
                               '-device', 'riscv-iommu-pci,bus=rp0')
        if rc != 1:
            problems.append(f'accepted behind a root port (exit {rc})')
        rc, out = self.refused('-device', 'riscv-iommu-pci',
                               '-device', 'riscv-iommu-pci')
        if rc != 1:
            problems.append(f'two IOMMUs accepted (exit {rc}) {out.strip()}')
        self.note('iommu_map', '; '.join(problems))
        return met_if(not problems)

    # -- Server SoC: PCIe

    def check_single_hierarchy(self):
        hosts = self.default().pci_hosts()
        return NA if len(hosts) == 1 else NOT_MET

    def check_ecam_pma(self):
        plat = self.platform()
        kinds = {k for a, _, k, _ in plat.mtree() if a == plat.ecam}
        reads = [plat.read(plat.ecam, n) for n in (1, 2, 4)]
        self.note('ecam_pma', f'{kinds}, reads {[hex(r) for r in reads]}')
        return met_if(kinds == {'i/o'} and reads[0] == reads[2] & 0xff and
                      reads[1] == reads[2] & 0xffff and reads[2] != 0xffffffff)

    def check_ecam_write_completes(self):
        plat = self.platform()
        old = plat.cfg(0x01, 0x3c, 1)
        plat.cfg_write(0x01, 0x3c, 0x5a, 1)
        got = plat.cfg(0x01, 0x3c, 1)
        plat.cfg_write(0x01, 0x3c, old, 1)
        return met_if(got == 0x5a)

    def check_ecam_aligned(self):
        host = self.default().pci_hosts()[0]
        base, size = split_cells(host.cells('reg'), (2, 2))[0]
        first, last = host.cells('bus-range')
        return met_if(size & (size - 1) == 0 and base % size == 0 and
                      (last - first + 1) << 20 == size)

    def check_root_port_on_bus0(self):
        plat = self.root_ports()
        rps = [d for d in plat.functions()
               if d['class_info']['class'] == 0x0604]
        return met_if(len(rps) == 2 and all(d['bus'] == 0 for d in rps))

    def check_root_port_config_without_link(self):
        plat = self.root_ports()
        exp = plat.caps(0x18)[CAP_EXP]
        up = plat.cfg(0x18, exp + 0x12, 2) & 0x2000
        return met_if(not up and plat.cfg(0x18, 0) == 0x000c1b36)

    def check_root_port_crs_sv(self):
        plat = self.root_ports()
        return met_if(plat.cfg(0x10, plat.caps(0x10)[CAP_EXP] + 0x1e, 2) & 1)

    def check_ecam_devnum_below_root_port(self):
        plat = self.root_ports()
        ep = plat.cfg(0x100, 0)
        others = [plat.cfg(0x100 | (dev << 3), 0) for dev in range(1, 32)]
        return met_if(ep & 0xffff == 0x1af4 and
                      all(v == 0xffffffff for v in others))

    def check_ecam_absent_all_ones(self):
        plat = self.platform()
        reads = [plat.cfg(0xff, 0, n) for n in (1, 2, 4)] + \
            [plat.cfg(0x8000, 0), plat.cfg(0xff00, 0x40)]
        return met_if(reads == [0xff, 0xffff] + [0xffffffff] * 3)

    def check_ecam_absent_write_dropped(self):
        plat = self.platform()
        for off in (0x04, 0x10, 0x3c):
            plat.cfg_write(0xf8, off, 0)
        return met_if(plat.cfg(0xf8, 0x04) == 0xffffffff and
                      plat.cfg(0xf8, 0x10) == 0xffffffff and
                      plat.cfg(0x00, 0) == 0x00081b36)

    def windows(self):
        host = self.default().pci_hosts()[0]
        return split_cells(host.cells('ranges'), (1, 2, 2, 2))

    def check_mmio64_window(self):
        return met_if([w for w in self.windows()
                       if (w[0] >> 24) & 3 == 3 and w[2] >= 1 << 32])

    def check_mmio32_window(self):
        return met_if([w for w in self.windows()
                       if (w[0] >> 24) & 3 == 2 and w[1] + w[3] <= 1 << 32])

    def unclaimed(self):
        """An address of each memory window that no BAR claims."""
        out = []
        for hi, _, cpu, size in self.windows():
            if (hi >> 24) & 3 in (2, 3):
                out.append(cpu + size // 2 + 0x1000)
        return out

    def check_pci_windows_io(self):
        plat = self.platform()
        spans = [(cpu, cpu + size) for hi, _, cpu, size in self.windows()
                 if (hi >> 24) & 3 in (2, 3)]
        kinds = {k for a, b, k, _ in plat.mtree()
                 if any(s <= a and b <= e for s, e in spans)}
        eight = [plat.read(a, 8) for a in self.unclaimed()]
        self.note('pci_windows_io', f'{kinds}')
        return met_if(kinds == {'i/o'} and
                      all(v == (1 << 64) - 1 for v in eight))

    def check_mmio_unclaimed_all_ones(self):
        plat = self.platform()
        reads = [plat.read(a, n) for a in self.unclaimed() for n in (1, 4)]
        return met_if(all(v in (0xff, 0xffffffff) for v in reads))

    def check_mmio_unclaimed_write_dropped(self):
        plat = self.platform()
        for a in self.unclaimed():
            plat.write(a, 0x12345678)
        return met_if(all(plat.read(a) == 0xffffffff
                          for a in self.unclaimed()))

    def check_no_ea_below_root_port(self):
        plat = self.root_ports()
        return met_if(CAP_EA not in plat.caps(0x100) and
                      CAP_EA not in plat.caps(0x10))

    def rp_acs(self):
        plat = self.root_ports()
        off = plat.ext_caps(0x10).get(EXT_ACS)
        return 0 if off is None else plat.cfg(0x10, off + 4, 2)

    def check_root_port_acs(self):
        acs = self.rp_acs()
        self.note('root_port_acs', f'ACS capability {acs:#x}')
        # source validation, translation blocking, and the enhanced
        # capability bit that brings I/O request blocking
        return met_if(acs & 0x83 == 0x83)

    def check_root_port_acs_dsp_mem(self):
        plat = self.root_ports()
        plat.cfg_write(0x18, 0x10, 0xffffffff)
        bar = plat.cfg(0x18, 0x10)
        plat.cfg_write(0x18, 0x10, 0)
        if bar == 0 or bar & 1:
            return NA
        return met_if(self.rp_acs() & 0x80)

    def check_pci_dma_coherent(self):
        return met_if('dma-coherent' in self.default().pci_hosts()[0].props)

    def check_no_intx(self):
        host = self.default().pci_hosts()[0]
        _, funcs = self.builtin()
        pins = [d['bdf'] for d, _, _ in funcs if d.get('irq_pin')]
        self.note('no_intx', f'interrupt-map '
                  f'{"present" if "interrupt-map" in host.props else "absent"}'
                  f', INTx pins on {pins}')
        return met_if('interrupt-map' not in host.props and not pins)

    def rp_ext(self, cap):
        return self.root_ports().ext_caps(0x10).get(cap)

    def check_no_ptm(self):
        if self.rp_ext(EXT_PTM) is None:
            return NA
        raise AssertionError('the root port has PTM: evaluate PTM_0x0')

    def check_root_port_aer(self):
        return met_if(self.rp_ext(EXT_AER) is not None)

    def check_root_port_dpc(self):
        return met_if(self.rp_ext(EXT_DPC) is not None)

    def check_root_port_rp_pio(self):
        off = self.rp_ext(EXT_DPC)
        if off is None:
            return NOT_MET
        return met_if(self.root_ports().cfg(0x10, off + 4, 2) & 0x20)

    def check_root_port_not_gen6(self):
        plat = self.root_ports()
        speed = plat.cfg(0x10, plat.caps(0x10)[CAP_EXP] + 0x0c) & 0xf
        if speed < 6:
            return NA
        raise AssertionError('the root port is Gen6: evaluate SPM_060')

    def check_root_port_ide(self):
        return met_if(self.rp_ext(EXT_IDE) is not None)

    def check_builtin_no_acs(self):
        _, funcs = self.builtin()
        acs = [d for d, _, ext in funcs if EXT_ACS in ext]
        if not acs:
            return NA
        return met_if(all(EXT_AER in ext for _, _, ext in funcs
                          if EXT_ACS in ext))

    def rcec_present(self):
        _, funcs = self.builtin()
        return [ext for d, _, ext in funcs
                if d['class_info']['class'] == CLASS_RCEC]

    def check_builtin_rcec_needed(self):
        _, funcs = self.builtin()
        need = [d['bdf'] for d, caps, ext in funcs
                if d['bdf'] & 0xff00 == 0 and d['class_info']['class'] not in
                (0x0600, CLASS_RCEC) and (EXT_AER in ext or CAP_PM in caps)]
        self.note('builtin_rcec_needed', f'AER or PM on {need}')
        if not need:
            return NA
        return met_if(self.rcec_present())

    def check_builtin_aer_rcec(self):
        _, funcs = self.builtin()
        if not [d for d, _, ext in funcs if EXT_AER in ext]:
            return NA
        return met_if(self.rcec_present())

    def check_no_rcec(self):
        rcecs = self.rcec_present()
        if not rcecs:
            return NA
        return met_if(all(EXT_RCEC_EA in ext for ext in rcecs))

    def check_ecam_generic_host(self):
        return met_if(self.default().pci_hosts()[0].compatible(
            'pci-host-ecam-generic'))

    def check_console_pcie_cap(self):
        plat = self.platform()
        exp = plat.caps(0x01).get(CAP_EXP)
        kind = None if exp is None else (plat.cfg(0x01, exp + 2, 2) >> 4) & 0xf
        self.note('console_pcie_cap', 'no PCI Express capability'
                  if exp is None else f'device/port type {kind}')
        return met_if(kind == 0x9)      # RCiEP

    def check_no_io_bars(self):
        """Every built-in function works without I/O space: no fixed I/O
        range, and an I/O BAR only next to a fixed memory range that maps
        the same registers."""
        plat, funcs = self.builtin()
        need_io = []
        for d, _, _ in funcs:
            ea = plat.ea_entries(d['bdf']) or []
            mem = [e for e in ea if e[1] in (0, 1)]
            need_io += [f'{d["bdf"]:#x} BAR{r["bar"]}' for r in d['regions']
                        if r['type'] == 'io' and not mem]
            for bei, pp, sp, _, base, _ in ea:
                if 2 in (pp, sp):
                    need_io.append(f'{d["bdf"]:#x} EA BEI {bei} at {base:#x}')
        self.note('no_io_bars', ', '.join(need_io))
        return met_if(not need_io)

    def builtin_ext(self, cap):
        _, funcs = self.builtin()
        return [d['bdf'] for d, _, ext in funcs if cap in ext]

    def check_builtin_no_ats(self):
        if not self.builtin_ext(EXT_ATS):
            return NA
        raise AssertionError('a built-in function has ATS: evaluate SID_030')

    def check_builtin_no_sriov(self):
        funcs = self.builtin_ext(EXT_SRIOV)
        if not funcs:
            return NA
        plat = self.platform()
        return met_if(all(CAP_MSIX in plat.caps(f) for f in funcs))

    def check_builtin_no_pasid(self):
        if not self.builtin_ext(EXT_PASID):
            return NA
        raise AssertionError('a built-in function has PASID: evaluate '
                             'SID_050')

    def check_builtin_bars_programmable(self):
        plat = Platform(self, ())
        bars = []
        for d in plat.functions():
            if plat.cfg(d['bdf'], 0x0e, 1) & 0x7f:
                continue        # bridges
            for n in range(6):
                off = 0x10 + 4 * n
                old = plat.cfg(d['bdf'], off)
                plat.cfg_write(d['bdf'], off, 0xffffffff)
                got = plat.cfg(d['bdf'], off)
                plat.cfg_write(d['bdf'], off, old)
                if got:
                    bars.append((d['bdf'], n, got))
        self.note('builtin_bars_programmable',
                  ', '.join(f'{b:#x} BAR{n} {v:#x}' for b, n, v in bars))
        return met_if(bars and all(v & 1 == 0 and v & ~0xf for _, _, v in bars))

    def check_console_ea(self):
        plat = self.platform()
        entries = plat.ea_entries(0x01)
        if entries is None:
            return NA
        self.note('console_ea', str(entries))
        ok_props = set(range(5)) | {0xff}
        return met_if(entries and all(
            (bei <= 5 or 9 <= bei <= 14) and pp in ok_props and
            sp in ok_props for bei, pp, sp, _, _, _ in entries))

    # -- Server SoC: RAS, QoS, security

    def check_cbqri(self):
        fdt = self.default()
        return met_if('ssqosid' in fdt.extensions() or
                      [n for n in fdt.walk()
                       if any('cbqri' in c for c in n.strings('compatible'))])

    def check_no_cbqri(self):
        if self.check_cbqri() == NOT_MET:
            return NA
        raise AssertionError('CBQRI is present: evaluate QOS_030 to QOS_100')

    def check_tpm_device(self):
        out = subprocess.run([self.qemu_bin, '-M', MACHINE, '-device', 'help'],
                             capture_output=True, text=True, timeout=60,
                             check=True).stdout
        tpms = re.findall(r'^name "([^"]*tpm[^"]*)"', out, re.M | re.I)
        self.note('tpm_device', f'TPM models: {tpms}')
        for name in tpms:
            rc, err = self.refused('-device', name)
            if rc == 0 or 'tpmdev' in err.lower():
                raise AssertionError(f'{name} plugs into {MACHINE}: '
                                     f'evaluate HPER_090 and SEC_050')
        return NOT_MET

    # -- Server Platform: harts

    def check_rva23s64(self):
        fdt = self.default()
        exts = fdt.extensions()
        if {'zba', 'zbb', 'zbs'} <= exts:
            exts.add('b')
        missing = [e for e in RVA23S64 if e not in exts]
        if fdt.cpus()[0].strings('mmu-type')[0] not in MMU_MODES:
            missing.append('sv39')
        self.note('rva23s64', f'missing {missing}')
        return met_if(not missing)

    def check_server_isa_extensions(self):
        fdt = self.default()
        missing = [e for e in SERVER_EXTS if e not in fdt.extensions()]
        if 'sv48' not in MMU_MODES.get(fdt.cpus()[0].strings('mmu-type')[0],
                                       []):
            missing.append('sv48')
        self.note('server_isa_extensions', f'missing {missing}')
        return met_if(not missing)

    def check_svadu(self):
        return met_if('svadu' in self.default().extensions())

    def check_ssctr(self):
        return met_if('ssctr' in self.default().extensions())

    def check_sdext(self):
        return met_if('sdext' in self.default().extensions())

    def check_harts_homogeneous(self):
        fdt = self.dtb('-smp', '4,sockets=2')
        props = ('riscv,isa-extensions', 'riscv,isa', 'mmu-type',
                 'riscv,cbom-block-size', 'riscv,cboz-block-size',
                 'riscv,cbop-block-size')
        seen = {tuple(c.props.get(p) for p in props) for c in fdt.cpus()}
        return met_if(len(fdt.cpus()) == 4 and len(seen) == 1)

    def check_hpm_counters(self):
        fdt = self.default()
        mask = 0
        for _, _, ctrs in split_cells(fdt.node('/pmu').cells(
                'riscv,event-to-mhpmcounters'), (1, 1, 1)):
            mask |= ctrs
        n = bin(mask & ~7).count('1')
        self.note('hpm_counters', f'{n} programmable counters')
        return met_if('zihpm' in fdt.extensions() and n >= 6)

    def check_hart_triggers(self):
        calls, _ = self.sbi()
        if calls[0][0] != 0 or not calls[0][1]:
            counts = [0] * len(TRIGGER_TYPES)
        else:
            counts = [a1 if a0 == 0 else 0 for a0, a1 in calls[1:]]
        by_type = dict(zip(TRIGGER_TYPES, counts))
        self.note('hart_triggers', f'triggers by tdata1 type: {by_type}')
        if max(by_type[2], by_type[6]) >= 4 and \
                all(by_type[t] for t in (3, 4, 5)):
            raise AssertionError('enough triggers: evaluate the rest of '
                                 'SEE_020')
        return NOT_MET

    def check_sbi_dbtr(self):
        calls, _ = self.sbi()
        self.note('sbi_dbtr', f'sbi_probe_extension(DBTR) = {calls[0]}')
        return met_if(calls[0][0] == 0 and calls[0][1] != 0)

    def check_server_soc_table(self):
        bad = [r.id for r in self.rows if r.spec == 'soc' and
               r.status == NOT_MET]
        self.note('server_soc_table', f'{len(bad)} Server SoC rules not met')
        return met_if(not bad)

    # -- Server Platform: peripherals

    def fw_console(self):
        """The firmware view of the console: an ns16550a node whose parent
        has no compatible, and its CPU address."""
        fdt = self.default()
        for n in fdt.compatible('ns16550a'):
            if n.parent.strings('compatible'):
                continue
            addr, _ = split_cells(n.cells('reg'), (2, 2))[0]
            for child, parent, size in split_cells(
                    n.parent.cells('ranges') or [], (2, 2, 2)):
                if child <= addr < child + size:
                    return n, parent + addr - child
        return None, None

    def check_console_16550(self):
        plat = self.platform()
        fdt = self.default()
        con = self.console(plat)
        problems = []
        if (con['id']['vendor'], con['id']['device']) != (0x1b36, 2) or \
                plat.cfg(0x01, 0x08) >> 8 != 0x070002:
            problems.append('00:00.1 is not a 16550 pci-serial')
        stdout = fdt.node('/chosen').strings('stdout-path')[0].split(':')[0]
        node = fdt.node(stdout)
        if node is None or not node.parent.compatible('pci-host-ecam-generic') \
                or (node.cells('reg')[0] >> 8) & 0xffff != 0x01:
            problems.append(f'stdout-path {stdout} is not the PCI node of '
                            f'00:00.1')
        fw, addr = self.fw_console()
        # the EA entries for memory (primary property 0 or 1)
        ea = [e for e in plat.ea_entries(0x01) or [] if e[1] <= 1]
        if fw is None or not ea or ea[0][4] != addr:
            where = 'none' if fw is None else f'{fw.path} at {addr:#x}'
            problems.append(f'firmware view {where} is not the EA memory '
                            f'range {[(hex(e[4]), e[5]) for e in ea]}')
        elif plat.read(addr + 5, 1) & 0x60 != 0x60:
            problems.append(f'no 16550 LSR at {addr + 5:#x}')
        self.note('console_16550', '; '.join(problems))
        return met_if(not problems)

    def check_console_irq_flow_baud(self):
        plat = self.platform()
        fdt = self.default()
        host = fdt.pci_hosts()[0]
        problems = []
        if self.console(plat).get('irq_pin') != 1:
            problems.append('no INTA pin')
        imap = split_cells(host.cells('interrupt-map') or [],
                           (3, 1, 1, 1, 1))
        if not [e for e in imap if (e[0] >> 75) & 0x1f == 0 and e[1] == 1 and
                fdt.phandles[e[2]].compatible('riscv,aplic')]:
            problems.append('slot 0 INTA is not routed to an APLIC')
        fw, addr = self.fw_console()
        if fw is None:
            problems.append('no firmware view of the console')
        else:
            if fw.u32('clock-frequency', 0) < 16 * 115200:
                problems.append('clock below 16 x 115200 Hz')
            plat.write(addr + 4, 0x03, 1)           # MCR: DTR, RTS
            if plat.read(addr + 4, 1) & 0x03 != 0x03:
                problems.append('no modem control (RTS)')
            plat.write(addr + 4, 0, 1)
        self.note('console_irq_flow_baud', '; '.join(problems))
        return met_if(not problems)

    def check_no_builtin_usb(self):
        if self.platform().function(CLASS_USB_XHCI) is None:
            return NA
        raise AssertionError('a built-in xHCI: evaluate HPER_030/040')

    def check_no_builtin_sata(self):
        if self.platform().function(CLASS_SATA) is None:
            return NA
        raise AssertionError('a built-in AHCI: evaluate HPER_050/060')

    def check_rtc(self):
        fdt = self.default()
        rtc = fdt.compatible('google,goldfish-rtc')
        if not rtc:
            return NOT_MET
        base, _ = split_cells(rtc[0].cells('reg'), (2, 2))[0]
        plat = self.platform()
        low = plat.read(base)                       # latches TIME_HIGH
        ns = plat.read(base + 4) << 32 | low
        self.note('rtc', f'RTC {ns // 10 ** 9}, host {int(time.time())}')
        return met_if(abs(ns / 1e9 - time.time()) < 86400)


if __name__ == '__main__':
    QemuSystemTest.main()
