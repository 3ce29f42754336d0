#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A display on -M virt-pcie: a PCI display device that Debian's kernel
# drives (virtio-gpu-pci with virtio_gpu, bochs-display with bochs), shown
# by QEMU's VNC server. For each device the stock kit boots with
# "console=tty0 console=ttyS0" and a VNC server; the checks:
#  - the VNC server answers with the RFB protocol banner;
#  - the guest binds the device to its DRM driver and gets /dev/fb0;
#  - a QMP screendump while the kernel log is on the framebuffer console
#    shows text (some pixels lit, most dark);
#  - after the guest fills /dev/fb0 with 0xff bytes, a screendump is
#    white: what the guest draws is what the display shows.

import base64
import socket

from vp_guest import KitTest

# After the report: the framebuffer and its driver, then (after a pause in
# which the host takes the text screendump) the screen filled with white.
FB = '/sys/class/graphics/fb0'
# (base64-encoded, so that the kernel's echo of its command line does
# not show the markers)
DISPLAY_SH = (f'echo VP-FB $(cat {FB}/name) $(cat {FB}/virtual_size);'
              'echo VP-TEXT;sleep 4;'
              "tr '\\000' '\\377' </dev/zero >/dev/fb0 2>/dev/null;"
              'echo VP-WHITE;sleep 4')
DISPLAY_CMD = ('echo ' + base64.b64encode(DISPLAY_SH.encode()).decode()
               + '|base64 -d|sh')


def read_ppm(path):
    """(width, height, pixels as bytes RGB) of a binary PPM file."""
    with open(path, 'rb') as f:
        data = f.read()
    fields = []
    pos = 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    assert fields[0] == b'P6', f'{path} is not a binary PPM'
    width, height = int(fields[1]), int(fields[2])
    pixels = data[pos + 1:pos + 1 + width * height * 3]
    return width, height, pixels


def lit_fraction(pixels, level):
    """Fraction of the pixels whose three channels are all >= LEVEL."""
    count = 0
    total = len(pixels) // 3
    for i in range(0, total * 3, 3):
        if min(pixels[i], pixels[i + 1], pixels[i + 2]) >= level:
            count += 1
    return count / total


class DisplayOnVirtPcie(KitTest):

    timeout = 300

    def check_display(self, device, driver):
        # the first free display from :0 on, as QEMU's default VNC does
        vm = self.kit_machine(
            'virt-pcie', 'console=tty0 console=ttyS0 panic=-1 -- '
            + DISPLAY_CMD, '-device', device, '-vnc', '127.0.0.1:0,to=99',
            opensbi='1.9')
        vm.launch()

        vnc = vm.cmd('query-vnc')
        self.assertTrue(vnc['enabled'], 'the VNC server is off')
        with socket.create_connection((vnc['host'], int(vnc['service'])),
                                      timeout=10) as s:
            banner = s.recv(12)
        self.assertRegex(banner.decode(errors='replace'),
                         r'^RFB 003\.00\d\n$', 'no VNC server on -vnc')

        text = self.read_console(vm, 'VP-TEXT', 180)
        fb = [ln for ln in text.splitlines() if ln.startswith('VP-FB ')]
        self.assertTrue(fb, 'the guest has no /dev/fb0; console tail:\n'
                        + text[-3000:])
        # the DRM driver's framebuffer, e.g. "virtio_gpudrmfb"
        self.assertIn(driver, fb[0], f'fb0 is not {driver}\'s: {fb[0]}')

        shot = self.scratch_file('text.ppm')
        vm.cmd('screendump', filename=shot)
        width, height, pixels = read_ppm(shot)
        self.log.info('text screendump %dx%d', width, height)
        lit = lit_fraction(pixels, 0x80)
        self.assertGreater(lit, 0.001, 'the display shows no text')
        self.assertLess(lit, 0.5, 'the display is not a text console')

        self.read_console(vm, 'VP-WHITE', 60)
        shot = self.scratch_file('white.ppm')
        vm.cmd('screendump', filename=shot)
        _, _, pixels = read_ppm(shot)
        white = lit_fraction(pixels, 0xf0)
        self.assertGreater(white, 0.9, f'the display is {white:.0%} white '
                           'after the guest filled its framebuffer')
        rest = self.read_console(vm, 'VP-POWEROFF', 60)
        self.assertIn('VP-POWEROFF', rest)
        vm.wait(timeout=30)

    def test_virtio_gpu_pci(self):
        self.check_display('virtio-gpu-pci', 'virtio_gpu')

    def test_bochs_display(self):
        self.check_display('bochs-display', 'bochs')


if __name__ == '__main__':
    KitTest.main()
