#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A guest that attacks the machine: the stock guest runs
# tests/data/virt-pcie-guest/attack.sh, which writes seeded pseudo-random
# values with devmem to every MMIO region of the memory map, to the
# configuration space of every function (by ECAM), to every memory BAR, to
# the S-level IMSIC files, and to MSI and MSI-X capabilities programmed
# with wild addresses and data. The machine has NVMe, virtio-blk,
# virtio-net, e1000e and a device behind a pcie-root-port.
#
# The guest may die; QEMU must not: it must not abort, hang or grow
# without bound. After the attack (or the guest's death, or a time limit)
# QEMU answers QMP, its resident memory grew by less than RSS_LIMIT_MIB,
# its error output holds no assertion or abort, and it quits with status 0.
# VP_ATTACK_SEEDS (default "1") and VP_ATTACK_WRITES (writes per target,
# default 20) set the runs. A guest whose console stays silent for QUIET
# seconds is taken for dead (an attack on the console's function or on
# configuration space silences it).

import base64
import os
import time

from vp_guest import Console, KitTest

SEEDS = [int(s) for s in os.environ.get('VP_ATTACK_SEEDS', '1').split()]
WRITES = int(os.environ.get('VP_ATTACK_WRITES', '20'))
RSS_LIMIT_MIB = 256
ATTACK_TIME = 300
# A guest silent this long (s) is taken for dead
QUIET = 30


def rss_mib(pid):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) // 1024
    return 0


class VirtPcieAttack(KitTest):

    timeout = len(SEEDS) * (ATTACK_TIME + 240)

    def script(self):
        here = os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(here, '..', 'data', 'virt-pcie-guest',
                               'attack.sh'), 'rb') as f:
            return base64.b64encode(f.read()).decode()

    def attack(self, seed):
        nvme = self.scratch_disk(f'nvme-{seed}.img', size=16 << 20)
        vblk = self.scratch_disk(f'vblk-{seed}.img', size=16 << 20)
        vm = self.kit_machine(
            'virt-pcie', 'console=ttyS0 iomem=relaxed panic=0',
            '-device', 'nvme,serial=vp0,drive=d0',
            '-drive', f'if=none,id=d0,file={nvme},format=raw',
            '-device', 'virtio-blk-pci,drive=d1',
            '-drive', f'if=none,id=d1,file={vblk},format=raw',
            '-netdev', 'user,id=n0',
            '-device', 'virtio-net-pci,netdev=n0,romfile=',
            '-netdev', 'user,id=n1',
            '-device', 'e1000e,netdev=n1,romfile=',
            '-device', 'pcie-root-port,id=rp0,chassis=1',
            '-device', 'virtio-rng-pci,bus=rp0',
            name=f'attack-{seed}', mem='512M')
        self.boot_to_shell(vm)
        pid = vm.get_pid()
        rss0 = rss_mib(pid)

        b64 = self.script()
        self.shell(vm, 'rm -f /tmp/a.b64')
        for i in range(0, len(b64), 512):
            self.shell(vm, f'echo {b64[i:i + 512]} >>/tmp/a.b64')
        self.shell(vm, 'base64 -d /tmp/a.b64 >/tmp/a.sh')

        con = Console(vm)
        con.send(f'sh /tmp/a.sh {seed} {WRITES}; echo VP-ATTACK-D""ONE')
        deadline = time.monotonic() + ATTACK_TIME
        rss_max = rss0
        ended = False
        seen, quiet = 0, 0
        while time.monotonic() < deadline and quiet < QUIET:
            rss_max = max(rss_max, rss_mib(pid))
            if con.wait_for('VP-ATTACK-DONE', 2) is not None:
                ended = True
                break
            quiet = quiet + 2 if len(con.lines) == seen else 0
            seen = len(con.lines)
        rss_max = max(rss_max, rss_mib(pid))
        hits = [line for line in con.lines if line.startswith('VP-HIT ')]
        self.log.info('seed %d: %d targets hit, the last %s; guest %s; '
                      'RSS %d -> %d MiB', seed, len(hits),
                      hits[-1] if hits else 'none',
                      'finished' if ended else 'silent', rss0, rss_max)
        self.log.info('the console ended with:\n%s',
                      '\n'.join(con.lines[-15:]))

        # QEMU is alive, answers and is not running away with memory
        status = vm.cmd('query-status')
        self.assertIn(status['status'], ('running', 'guest-panicked',
                                         'shutdown'))
        self.assertGreater(len(vm.cmd('query-pci')[0]['devices']), 0)
        self.assertLess(rss_max - rss0, RSS_LIMIT_MIB,
                        f'QEMU grew from {rss0} to {rss_max} MiB')
        vm.shutdown()
        self.assertEqual(vm.exitcode(), 0, f'QEMU exit {vm.exitcode()}')
        log = vm.get_log() or ''
        self.assertNotRegex(log, r'(?i)assertion|aborted|core dumped',
                            f'QEMU reported: {log[-500:]}')
        self.assertGreaterEqual(len(hits), 3,
                                'the attack did not get under way')
        return len(hits), ended

    def test_attack(self):
        for seed in SEEDS:
            self.attack(seed)


if __name__ == '__main__':
    KitTest.main()
