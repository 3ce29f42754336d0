/*
 * virtio-power-button: a virtio input device whose only key is KEY_POWER
 *
 * A power button for machines that have no platform device for one (no
 * ACPI GED, no GPIO controller): a request to power down the machine
 * (QMP system_powerdown, which is what libvirt's "virsh shutdown" sends)
 * presses and releases the key.  A guest's input layer reports it like any
 * keyboard's power key; systemd-logind powers the system off.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/virtio/virtio-power-button.h"
#include "standard-headers/linux/input.h"
#include "system/runstate.h"

#define POWER_BUTTON_NAME "QEMU Virtio Power Button"

static virtio_input_config virtio_power_button_ids[] = {
    {
        .select = VIRTIO_INPUT_CFG_ID_NAME,
        .size = sizeof(POWER_BUTTON_NAME) - 1,
        .u.string = POWER_BUTTON_NAME,
    }, {
        .select = VIRTIO_INPUT_CFG_ID_DEVIDS,
        .size = sizeof(struct virtio_input_devids),
        .u.ids = {
            .bustype = const_le16(BUS_VIRTUAL),
            .vendor = const_le16(0x0627),     /* QEMU's virtio input IDs */
            .product = const_le16(0x0005),
            .version = const_le16(0x0001),
        },
    },
    { /* end of list */ },
};

static void virtio_power_button_event(VirtIOInput *vinput, uint16_t type,
                                      uint16_t code, int32_t value)
{
    virtio_input_event event = {
        .type = cpu_to_le16(type),
        .code = cpu_to_le16(code),
        .value = cpu_to_le32(value),
    };

    virtio_input_send(vinput, &event);
}

/*
 * One press and release.  Until the guest's driver is ready there is no
 * one to tell, and virtio_input_send() drops the events, as a real button
 * pressed before the OS runs does nothing.
 */
static void virtio_power_button_powerdown(Notifier *n, void *opaque)
{
    VirtIOPowerButton *pb = container_of(n, VirtIOPowerButton, powerdown);
    VirtIOInput *vinput = VIRTIO_INPUT(pb);

    virtio_power_button_event(vinput, EV_KEY, KEY_POWER, 1);
    virtio_power_button_event(vinput, EV_SYN, SYN_REPORT, 0);
    virtio_power_button_event(vinput, EV_KEY, KEY_POWER, 0);
    virtio_power_button_event(vinput, EV_SYN, SYN_REPORT, 0);
}

static void virtio_power_button_realize(DeviceState *dev, Error **errp)
{
    VirtIOPowerButton *pb = VIRTIO_POWER_BUTTON(dev);

    pb->powerdown.notify = virtio_power_button_powerdown;
    qemu_register_powerdown_notifier(&pb->powerdown);
}

static void virtio_power_button_unrealize(DeviceState *dev)
{
    notifier_remove(&VIRTIO_POWER_BUTTON(dev)->powerdown);
}

static void virtio_power_button_init(Object *obj)
{
    VirtIOInput *vinput = VIRTIO_INPUT(obj);
    virtio_input_config keys = {
        .select = VIRTIO_INPUT_CFG_EV_BITS,
        .subsel = EV_KEY,
        .size = KEY_POWER / 8 + 1,
    };

    virtio_input_init_config(vinput, virtio_power_button_ids);
    keys.u.bitmap[KEY_POWER / 8] = 1 << (KEY_POWER % 8);
    virtio_input_add_config(vinput, &keys);
}

static void virtio_power_button_class_init(ObjectClass *klass,
                                           const void *data)
{
    VirtIOInputClass *vic = VIRTIO_INPUT_CLASS(klass);
    DeviceClass *dc = DEVICE_CLASS(klass);

    vic->realize = virtio_power_button_realize;
    vic->unrealize = virtio_power_button_unrealize;
    dc->desc = "virtio power button";
}

static const TypeInfo virtio_power_button_info = {
    .name = TYPE_VIRTIO_POWER_BUTTON,
    .parent = TYPE_VIRTIO_INPUT,
    .instance_size = sizeof(VirtIOPowerButton),
    .instance_init = virtio_power_button_init,
    .class_init = virtio_power_button_class_init,
};

static void virtio_power_button_register_types(void)
{
    type_register_static(&virtio_power_button_info);
}

type_init(virtio_power_button_register_types)
