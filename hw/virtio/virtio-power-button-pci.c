/*
 * virtio-power-button-pci: the virtio power button as a PCI function
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/virtio/virtio-pci.h"
#include "hw/virtio/virtio-power-button.h"

/* Laid out like virtio-input-pci's instances, which this type extends */
typedef struct VirtIOPowerButtonPCI {
    VirtIOPCIProxy parent_obj;
    VirtIOPowerButton vdev;
} VirtIOPowerButtonPCI;

DECLARE_INSTANCE_CHECKER(VirtIOPowerButtonPCI, VIRTIO_POWER_BUTTON_PCI,
                         TYPE_VIRTIO_POWER_BUTTON_PCI)

static void virtio_power_button_pci_init(Object *obj)
{
    VirtIOPowerButtonPCI *dev = VIRTIO_POWER_BUTTON_PCI(obj);

    virtio_instance_init_common(obj, &dev->vdev, sizeof(dev->vdev),
                                TYPE_VIRTIO_POWER_BUTTON);
}

static const VirtioPCIDeviceTypeInfo virtio_power_button_pci_info = {
    .generic_name = TYPE_VIRTIO_POWER_BUTTON_PCI,
    .parent = "virtio-input-pci",
    .instance_size = sizeof(VirtIOPowerButtonPCI),
    .instance_init = virtio_power_button_pci_init,
};

static void virtio_power_button_pci_register(void)
{
    virtio_pci_types_register(&virtio_power_button_pci_info);
}

type_init(virtio_power_button_pci_register)
