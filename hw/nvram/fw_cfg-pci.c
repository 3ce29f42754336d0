/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fw-cfg-pci: QEMU's firmware configuration interface as a PCI function,
 * for machines whose devices are all behind PCI
 *
 * Copyright (c) 2026 virt-pcie developers
 *
 * BAR 0 is a 4 KiB memory BAR with the registers of the MMIO fw_cfg: the
 * data register (up to 8 bytes wide) at 0, the selector (16-bit, big
 * endian) at 8.  With "ea-mem-base" the BAR is fixed at that bus address
 * by Enhanced Allocation and decoded from reset on, so that firmware that
 * does not enumerate PCI can use it at an address the board describes.
 *
 * There is no DMA interface: DMA by a PCI function needs Bus Master
 * Enable, which enumeration clears and which no driver would set again.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/nvram/fw_cfg.h"
#include "hw/nvram/fw_cfg-pci.h"
#include "hw/pci/pci_device.h"
#include "hw/qdev-properties.h"
#include "hw/sysbus.h"
#include "migration/vmstate.h"
#include "qom/object.h"

OBJECT_DECLARE_SIMPLE_TYPE(FWCfgPciState, FW_CFG_PCI)

/* From the range the PCI ID list leaves for experimental devices */
#define FW_CFG_PCI_DEVICE_ID    0x10f0

struct FWCfgPciState {
    PCIDevice parent_obj;

    MemoryRegion bar;
    uint32_t ea_mem_base;
};

static void fw_cfg_pci_realize(PCIDevice *pdev, Error **errp)
{
    FWCfgPciState *s = FW_CFG_PCI(pdev);
    DeviceState *fw_cfg;
    SysBusDevice *sbd;

    if (fw_cfg_find()) {
        error_setg(errp, "%s: the machine already has a fw_cfg device",
                   TYPE_FW_CFG_PCI);
        return;
    }
    fw_cfg = qdev_new(TYPE_FW_CFG_MEM);
    qdev_prop_set_uint32(fw_cfg, "data_width", 8);
    qdev_prop_set_bit(fw_cfg, "dma_enabled", false);
    object_property_add_child(OBJECT(pdev), "fw_cfg", OBJECT(fw_cfg));
    sbd = SYS_BUS_DEVICE(fw_cfg);
    if (!sysbus_realize_and_unref(sbd, errp)) {
        object_unparent(OBJECT(fw_cfg));
        return;
    }

    /* The MMIO fw_cfg's regions: 0 the selector, 1 the data register */
    memory_region_init(&s->bar, OBJECT(pdev), "fw-cfg-pci",
                       FW_CFG_PCI_BAR_SIZE);
    memory_region_add_subregion(&s->bar, FW_CFG_PCI_DATA,
                                sysbus_mmio_get_region(sbd, 1));
    memory_region_add_subregion(&s->bar, FW_CFG_PCI_SELECTOR,
                                sysbus_mmio_get_region(sbd, 0));

    if (!s->ea_mem_base) {
        pci_register_bar(pdev, 0, PCI_BASE_ADDRESS_SPACE_MEMORY, &s->bar);
    } else if (!pci_register_bar_fixed(pdev, 0,
                                       PCI_BASE_ADDRESS_SPACE_MEMORY,
                                       &s->bar, s->ea_mem_base, errp)) {
        object_unparent(OBJECT(fw_cfg));
    }
}

static const Property fw_cfg_pci_properties[] = {
    DEFINE_PROP_UINT32("ea-mem-base", FWCfgPciState, ea_mem_base, 0),
};

static const VMStateDescription vmstate_fw_cfg_pci = {
    .name = TYPE_FW_CFG_PCI,
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, FWCfgPciState),
        VMSTATE_END_OF_LIST()
    },
};

static void fw_cfg_pci_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);
    PCIDeviceClass *pc = PCI_DEVICE_CLASS(oc);

    pc->realize = fw_cfg_pci_realize;
    pc->vendor_id = PCI_VENDOR_ID_REDHAT_QUMRANET;
    pc->device_id = FW_CFG_PCI_DEVICE_ID;
    pc->class_id = PCI_CLASS_SYSTEM_OTHER;
    dc->desc = "QEMU firmware configuration (fw_cfg) as a PCI function";
    dc->vmsd = &vmstate_fw_cfg_pci;
    device_class_set_props(dc, fw_cfg_pci_properties);
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    /* A board creates it, where its firmware expects it */
    dc->user_creatable = false;
    dc->hotpluggable = false;
}

static const TypeInfo fw_cfg_pci_info = {
    .name = TYPE_FW_CFG_PCI,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(FWCfgPciState),
    .class_init = fw_cfg_pci_class_init,
    .interfaces = (const InterfaceInfo[]) {
        { INTERFACE_CONVENTIONAL_PCI_DEVICE },
        { }
    },
};

static void fw_cfg_pci_register_types(void)
{
    type_register_static(&fw_cfg_pci_info);
}

type_init(fw_cfg_pci_register_types)
