#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The guest ABI of the virt-pcie machine versions against their golden files
# (tests/data/virt-pcie/<X.Y>/<config>/, see the README there): every
# directory there is dumped from the running build by vp_abi.py at
# -M virt-pcie-<X.Y> and must match file for file. A version the build has
# that is not the newest must have golden files: it is released, and nothing
# else would notice when it changes.

import os
import re

from qemu_test import QemuSystemTest

import vp_abi

FROZEN = ('virt-pcie-{ver} is a released machine version: what a guest sees '
          'must not change. Put the change into the newest machine version '
          'only and give older versions a compat property (see '
          'docs/specs/riscv-virt-pcie.rst, Versioning)')


def data_root():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, '..', 'data', 'virt-pcie'))


def goldens():
    """{(X, Y): [config names]} of the golden directories."""
    root = data_root()
    found = {}
    for ver in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        m = re.fullmatch(r'(\d+)\.(\d+)', ver)
        vdir = os.path.join(root, ver)
        if m and os.path.isdir(vdir):
            found[(int(m[1]), int(m[2]))] = sorted(
                c for c in os.listdir(vdir)
                if os.path.isdir(os.path.join(vdir, c)))
    return found


def vname(ver):
    return f'{ver[0]}.{ver[1]}'


class VirtPcieAbi(QemuSystemTest):

    timeout = 300

    def setUp(self):
        super().setUp()
        self.src = vp_abi.default_src()
        self.assertIsNotNone(self.src, "QEMU's source tree (scripts/"
                             "analyze-migration.py) not found; set VP_FORK_SRC")
        self.versions = vp_abi.machine_versions(self.qemu_bin)
        self.goldens = goldens()
        extra = vp_abi.extra_args()
        if extra:
            self.log.warning('VP_ABI_EXTRA_ARGS adds %s', extra)

    def check_config(self, ver, config):
        """The problems of one golden directory, as messages."""
        name = f'virt-pcie-{vname(ver)}'
        rel = f'tests/data/virt-pcie/{vname(ver)}/{config}'
        golden = os.path.join(data_root(), vname(ver), config)
        if config not in vp_abi.CONFIGS:
            return [f'{rel}: vp_abi.py has no configuration "{config}"']
        missing = [f for f in vp_abi.FILES
                   if not os.path.exists(os.path.join(golden, f))]
        if missing:
            return [f'{rel}: golden files missing: {", ".join(missing)}']
        out = self.scratch_file(name, config)
        vp_abi.dump(self.qemu_bin, self.src, name, config, out,
                    new_vm=lambda: self.get_vm(name=f'{name}-{config}'))
        return [f'{name}, configuration "{config}": {f} differs from '
                f'{rel}/{f}:\n{diff}\n{FROZEN.format(ver=vname(ver))}'
                for f, diff in vp_abi.compare(golden, out)]

    def test_golden_abi(self):
        self.assertTrue(self.goldens, f'no golden ABI files in {data_root()}')
        problems = []
        for ver, configs in sorted(self.goldens.items()):
            if ver not in self.versions:
                problems.append(f'golden ABI files for virt-pcie-{vname(ver)}'
                                f', but the build has no such machine')
                continue
            if not configs:
                problems.append(f'tests/data/virt-pcie/{vname(ver)} has no '
                                f'configuration directory')
            for config in configs:
                self.log.info('virt-pcie-%s %s', vname(ver), config)
                problems += self.check_config(ver, config)
        if problems:
            self.fail('\n\n'.join(problems))

    def test_released_versions_have_goldens(self):
        self.assertTrue(self.versions, 'the build lists no virt-pcie-X.Y '
                        'in -machine help')
        missing = [f'virt-pcie-{vname(v)}' for v in self.versions[:-1]
                   if v not in self.goldens]
        if missing:
            self.fail(f'released version without golden ABI files: '
                      f'{", ".join(missing)} (newest: virt-pcie-'
                      f'{vname(self.versions[-1])}); generate them with the '
                      f'build that released it, see '
                      f'tests/data/virt-pcie/README')


if __name__ == '__main__':
    QemuSystemTest.main()
