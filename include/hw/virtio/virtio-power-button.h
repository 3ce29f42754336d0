/*
 * virtio-power-button: a virtio input device whose only key is KEY_POWER,
 * pressed when the machine's power button is (QMP system_powerdown)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VIRTIO_POWER_BUTTON_H
#define HW_VIRTIO_POWER_BUTTON_H

#include "hw/virtio/virtio-input.h"
#include "qemu/notify.h"

#define TYPE_VIRTIO_POWER_BUTTON "virtio-power-button-device"
OBJECT_DECLARE_SIMPLE_TYPE(VirtIOPowerButton, VIRTIO_POWER_BUTTON)

struct VirtIOPowerButton {
    VirtIOInput parent_obj;
    Notifier powerdown;
};

#define TYPE_VIRTIO_POWER_BUTTON_PCI "virtio-power-button-pci"

#endif
