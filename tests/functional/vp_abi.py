#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The guest-visible ABI of a virt-pcie machine version, as three text files
# that are the same on every run and every host:
#   dt.dts        the device tree (-machine dumpdtb), decompiled by dtc, with
#                 the random /chosen seeds removed;
#   pci.txt       query-pci (addresses, IDs, class, interrupt pin, BARs) and
#                 the 4 KiB config space of every function, read through ECAM
#                 from the paused machine;
#   vmstate.txt   the structure of the migration stream (sections, versions,
#                 fields, sizes, subsections) as analyze-migration.py -d desc
#                 describes it; never RAM or register contents.
#
#   vp_abi.py dump --machine virt-pcie-10.0 --config devices OUTDIR
#   vp_abi.py compare --machine virt-pcie-10.0 --config devices GOLDENDIR
#
# The QEMU binary is --qemu or $QEMU_TEST_QEMU_BINARY; QEMU's source tree
# (python/ and scripts/analyze-migration.py) is --src, $VP_FORK_SRC, or the
# tree this file lies in. $VP_ABI_EXTRA_ARGS (shell words) is appended to
# every QEMU command line: it exists only to show that the comparison fails
# when a default changes.

import argparse
import difflib
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time

FILES = ('dt.dts', 'pci.txt', 'vmstate.txt')

# The first line of each file (QEMU's checkpatch wants every new file to
# carry its license); vmstate.txt is JSON after that line.
# (The tag is split here so that checkpatch does not read this line as
# the license of vp_abi.py.)
LICENSE = 'SPDX-License-' 'Identifier: GPL-2.0-or-later'
HEADERS = {
    'dt.dts': f'/* {LICENSE} */',
    'pci.txt': f'# {LICENSE}',
    'vmstate.txt': f'# {LICENSE}',
}

# Every run: no firmware (its presence depends on the host), no display, the
# console's chardev and the monitor going nowhere, and no default network
# (its slirp backend, if built, would add a host-side migration section).
BASE_ARGS = ['-bios', 'none', '-display', 'none', '-serial', 'null',
             '-monitor', 'none', '-nic', 'none']

# The named configurations: the default machine, and the devices whose
# defaults the machine sets. No NIC: option ROMs come from host packages.
# pci-serial-2x has a configuration of its own: migrating it crashed QEMU
# 10.0 (its vmstate saved four SerialStates, of which it realizes two), so
# versions from 10.2 on have "devices-2x" files and 10.0 has none.
CONFIGS = {
    'default': [],
    'devices': ['-device', 'pci-serial', '-device', 'pci-serial-4x',
                '-blockdev', 'driver=null-co,node-name=abi-disk,'
                'size=67108864,read-zeroes=on',
                '-device', 'virtio-blk-pci,drive=abi-disk',
                '-device', 'virtio-rng-pci'],
    'devices-2x': ['-device', 'pci-serial-2x'],
}

CHOSEN_SEEDS = ('rng-seed', 'kaslr-seed')


def extra_args():
    return shlex.split(os.environ.get('VP_ABI_EXTRA_ARGS', ''))


def qemu_args(config):
    return BASE_ARGS + CONFIGS[config] + extra_args()


def default_src():
    here = os.path.dirname(os.path.abspath(__file__))
    for cand in (os.environ.get('VP_FORK_SRC'),
                 os.path.join(here, '..', '..'),
                 os.path.join(os.environ.get('QEMU_BUILD_ROOT', '/nonexistent'),
                              '..', 'fork-src')):
        if cand and os.path.exists(os.path.join(cand, 'scripts',
                                                'analyze-migration.py')):
            return os.path.normpath(cand)
    return None


def machine_versions(qemu):
    """The virt-pcie-X.Y versions the binary has, as (X, Y), sorted."""
    out = subprocess.run([qemu, '-machine', 'help'], check=True,
                         capture_output=True, text=True, timeout=60).stdout
    found = re.findall(r'^virt-pcie-(\d+)\.(\d+)\s', out, re.M)
    return sorted({(int(a), int(b)) for a, b in found})


# -- device tree

def strip_seeds(dts):
    """DTS without the /chosen properties that are random on every run."""
    out, path = [], []
    for line in dts.splitlines():
        s = line.strip()
        if s.endswith('{'):
            path.append(s[:-1].strip())
        elif s.startswith('};'):
            path.pop()
        elif path[1:] == ['chosen'] and \
                s.split('=')[0].strip().rstrip(';') in CHOSEN_SEEDS:
            continue
        out.append(line)
    return '\n'.join(out) + '\n'


def dump_dt(qemu, machine, config, workdir):
    dtb = os.path.join(workdir, 'dt.dtb')
    subprocess.run([qemu, '-machine', f'{machine},dumpdtb={dtb}']
                   + qemu_args(config),
                   check=True, capture_output=True, timeout=120)
    dts = subprocess.run(['dtc', '-q', '-I', 'dtb', '-O', 'dts', dtb],
                         check=True, capture_output=True, text=True).stdout
    return strip_seeds(dts)


def dt_props(dts):
    """{node path: {property: raw value}} of a dtc-decompiled tree."""
    nodes, path = {}, []
    for line in dts.splitlines():
        s = line.strip()
        if s.endswith('{'):
            name = s[:-1].strip()
            path.append('' if name == '/' else name)
            nodes['/'.join(path) or '/'] = {}
        elif s.startswith('};'):
            path.pop()
        elif s.endswith(';') and path:
            k, _, v = s[:-1].partition('=')
            nodes['/'.join(path) or '/'][k.strip()] = v.strip()
    return nodes


def cells(value):
    return [int(c, 0) for c in re.findall(r'0x[0-9a-fA-F]+|\d+', value)]


def ecam_from_dt(dts):
    """(ECAM base, first bus) of the generic ECAM host bridge."""
    nodes = dt_props(dts)
    for path, props in nodes.items():
        if '"pci-host-ecam-generic"' in props.get('compatible', ''):
            parent = nodes[path.rsplit('/', 1)[0] or '/']
            acells = cells(parent.get('#address-cells', '2'))[0]
            base = 0
            for c in cells(props['reg'])[:acells]:
                base = (base << 32) | c
            bus = cells(props.get('bus-range', '0'))[0]
            return base, bus
    raise ValueError('no pci-host-ecam-generic node in the device tree')


# -- PCI

def pci_functions(buses):
    """Every function of query-pci, bridges' buses included."""
    for bus in buses:
        for dev in bus['devices']:
            yield dev
            bridge = dev.get('pci_bridge')
            if bridge and bridge.get('devices'):
                yield from pci_functions([{'bus': bridge['bus']['secondary'],
                                           'devices': bridge['devices']}])


def read_config(vm, addr):
    """4 KiB at ADDR as bytes, read by HMP xp as 32-bit words."""
    text = vm.cmd('human-monitor-command',
                  command_line=f'xp /1024wx {addr:#x}')
    data = bytearray()
    for line in text.splitlines():
        _, _, words = line.partition(':')
        for w in words.split():
            data += int(w, 16).to_bytes(4, 'little')
    if len(data) != 4096:
        raise ValueError(f'xp at {addr:#x} gave {len(data)} bytes')
    return bytes(data)


def hexdump(data):
    """16 bytes a line; a run of lines that all hold one byte value (zeros,
    or the ff of a function without extended config space) is one line."""
    out, off = [], 0
    while off < len(data):
        row = data[off:off + 16]
        end = off + 16
        if row.count(row[0]) == 16:
            while end < len(data) and data[end:end + 16] == row:
                end += 16
        if end - off > 16:
            out.append(f'{off:03x}-{end - 1:03x}: all {row[0]:02x}')
        else:
            out.append(f'{off:03x}: ' + ' '.join(f'{b:02x}' for b in row))
        off = end
    return out


def describe_function(dev):
    ids = dev['id']
    cls = dev['class_info']['class']
    line = (f"{dev['bus']:02x}:{dev['slot']:02x}.{dev['function']} "
            f"{ids['vendor']:04x}:{ids['device']:04x} "
            f"subsys {ids.get('subsystem-vendor', 0):04x}:"
            f"{ids.get('subsystem', 0):04x} class {cls:04x} "
            f"irq-pin {dev.get('irq_pin', 0)} irq {dev.get('irq', 0)}")
    out = [line]
    for r in dev.get('regions', []):
        kind = r['type']
        if kind == 'memory':
            kind += ' 64-bit' if r.get('mem_type_64') else ' 32-bit'
            kind += ' prefetch' if r.get('prefetch') else ''
        addr = r['address']
        where = 'unassigned' if addr < 0 else f'at {addr:#x}'
        out.append(f"  bar {r['bar']}: {kind} size {r['size']:#x} {where}")
    return out


def dump_pci(vm, dts):
    ecam, first_bus = ecam_from_dt(dts)
    out = [f'# query-pci and config space through ECAM at {ecam:#x}']
    funcs = sorted(pci_functions(vm.cmd('query-pci')),
                   key=lambda d: (d['bus'], d['slot'], d['function']))
    for dev in funcs:
        out.append('')
        out += describe_function(dev)
        devfn = dev['slot'] << 3 | dev['function']
        addr = ecam + ((dev['bus'] - first_bus) << 20 | devfn << 12)
        out += ['  ' + l for l in hexdump(read_config(vm, addr))]
    return '\n'.join(out) + '\n'


# -- migration stream description

# Keys that name a JSON object come first, so that a diff's context shows
# which section or field changed; the others follow in sorted order.
KEY_ORDER = ('name', 'vmsd_name', 'instance_id', 'version', 'type', 'size')


def normalise_vmstate(node):
    """Sections and subsections sorted by name, keys in KEY_ORDER; the
    order of fields is kept (it is the order of the stream)."""
    if isinstance(node, list):
        return [normalise_vmstate(n) for n in node]
    if not isinstance(node, dict):
        return node
    keys = [k for k in KEY_ORDER if k in node] + \
        sorted(k for k in node if k not in KEY_ORDER)
    out = {k: normalise_vmstate(node[k]) for k in keys}
    if isinstance(out.get('devices'), list):
        out['devices'].sort(key=lambda d: (d.get('name', ''),
                                           d.get('instance_id', 0)))
    if isinstance(out.get('subsections'), list):
        out['subsections'].sort(key=lambda d: d.get('vmsd_name', ''))
    return out


def dump_vmstate(vm, src, workdir):
    stream = os.path.join(workdir, 'stream.mig')
    vm.cmd('migrate', uri=f'file:{stream}')
    deadline = time.monotonic() + 60
    while True:
        status = vm.cmd('query-migrate').get('status')
        if status in ('completed', 'failed', 'cancelled'):
            break
        if time.monotonic() > deadline:
            raise TimeoutError('migration to a file did not complete')
        time.sleep(0.05)
    if status != 'completed':
        raise RuntimeError(f'migration to a file ended {status}')
    script = os.path.join(src, 'scripts', 'analyze-migration.py')
    desc = subprocess.run([sys.executable, script, '-f', stream, '-d', 'desc'],
                          check=True, capture_output=True, text=True,
                          timeout=120).stdout
    return json.dumps(normalise_vmstate(json.loads(desc)), indent=2) + '\n'


# -- dump and compare

def dump(qemu, src, machine, config, outdir, new_vm=None):
    """Write FILES for MACHINE and CONFIG into OUTDIR.

    NEW_VM() returns a QEMUMachine not launched yet; by default one is made
    from QEMU's python library in SRC.
    """
    os.makedirs(outdir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix='vp-abi-') as work:
        if new_vm is None:
            sys.path.insert(0, os.path.join(src, 'python'))
            from qemu.machine import QEMUMachine  # pylint: disable=C0415

            def new_vm():
                return QEMUMachine(qemu, base_temp_dir=work)
        dts = dump_dt(qemu, machine, config, work)
        vm = new_vm()
        vm.set_machine(machine)
        vm.add_args('-S', *qemu_args(config))
        vm.launch()
        try:
            pci = dump_pci(vm, dts)
            vmstate = dump_vmstate(vm, src, work)
        finally:
            vm.shutdown()
    for name, text in zip(FILES, (dts, pci, vmstate)):
        with open(os.path.join(outdir, name), 'w', encoding='utf-8') as f:
            f.write(HEADERS[name] + '\n' + text)


# The line that names what a diff hunk is in, as diff -F shows it: the
# device-tree node, the PCI function, the migration section.
HUNK_CONTEXT = {
    'dt.dts': re.compile(r'^\t*\S+ \{$'),
    'pci.txt': re.compile(r'^[0-9a-f]{2}:[0-9a-f]{2}\.[0-7] '),
    'vmstate.txt': re.compile(r'^      "name": '),
}


def label_hunks(diff, old, pattern):
    """DIFF's hunk headers followed by the last line of OLD before the
    hunk that matches PATTERN."""
    out = []
    for line in diff:
        m = re.match(r'^@@ -(\d+)', line)
        if m:
            before = old[:int(m.group(1)) + 1]
            ctx = [l for l in before if pattern.match(l)]
            if ctx:
                line += ' ' + ctx[-1].strip()
        out.append(line)
    return out


def compare(golden, dumped, max_lines=60):
    """[(file name, trimmed unified diff)] of the files that differ."""
    diffs = []
    for name in FILES:
        texts = []
        for d in (golden, dumped):
            path = os.path.join(d, name)
            with open(path, encoding='utf-8') as f:
                texts.append(f.read().splitlines())
        diff = list(difflib.unified_diff(texts[0], texts[1],
                                         f'golden/{name}', f'build/{name}',
                                         lineterm='', n=2))
        if diff:
            diff = label_hunks(diff, texts[0], HUNK_CONTEXT[name])
            if len(diff) > max_lines:
                diff = diff[:max_lines] + \
                    [f'... ({len(diff) - max_lines} more diff lines)']
            diffs.append((name, '\n'.join(diff)))
    return diffs


def main():
    p = argparse.ArgumentParser(description='dump or compare the guest '
                                'ABI of a virt-pcie machine version')
    p.add_argument('action', choices=('dump', 'compare'))
    p.add_argument('--machine', required=True, help='e.g. virt-pcie-10.0')
    p.add_argument('--config', required=True, choices=sorted(CONFIGS))
    p.add_argument('--qemu', default=os.environ.get('QEMU_TEST_QEMU_BINARY'))
    p.add_argument('--src', default=default_src(),
                   help="QEMU's source tree (python/, scripts/)")
    p.add_argument('dir', help='dump: output; compare: golden files')
    a = p.parse_args()
    if not a.qemu or not a.src:
        p.error('--qemu and --src are needed')
    if a.action == 'dump':
        dump(a.qemu, a.src, a.machine, a.config, a.dir)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        dump(a.qemu, a.src, a.machine, a.config, tmp)
        diffs = compare(a.dir, tmp)
    for name, diff in diffs:
        print(diff)
    return 1 if diffs else 0


if __name__ == '__main__':
    sys.exit(main())
