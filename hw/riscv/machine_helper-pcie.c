/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * RISC-V board helpers: the GPEX PCIe host bridge
 *
 * Copyright (c) 2025 virt-pcie developers
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/boards.h"
#include "hw/sysbus.h"
#include "hw/pci/pci.h"
#include "hw/pci/pcie_host.h"
#include "hw/pci-host/gpex.h"
#include "hw/riscv/machine_helper.h"
#include "system/device_tree.h"
#include "system/address-spaces.h"

/* Cells of a PCI unit address and of an INTx specifier */
#define MH_PCI_ADDR_CELLS 3
#define MH_PCI_INT_CELLS 1
/* Widest interrupt-map row: address, pin, parent phandle, 2 irq cells */
#define MH_INTX_ROW_MAX (MH_PCI_ADDR_CELLS + MH_PCI_INT_CELLS + 1 + 2)

char *riscv_mh_pcie_path(const RiscvMhPcie *d)
{
    return g_strdup_printf("/soc/pci@%" PRIx64, d->ecam.base);
}

DeviceState *riscv_mh_gpex_create(const RiscvMhPcie *d, DeviceState *intx)
{
    DeviceState *dev = qdev_new(TYPE_GPEX_HOST);
    SysBusDevice *sbd = SYS_BUS_DEVICE(dev);
    const struct {
        const char *prop;
        uint64_t value;
    } config[] = {
        { PCI_HOST_ECAM_BASE, d->ecam.base },
        { PCI_HOST_ECAM_SIZE, d->ecam.size },
        { PCI_HOST_BELOW_4G_MMIO_BASE, d->mmio.base },
        { PCI_HOST_BELOW_4G_MMIO_SIZE, d->mmio.size },
        { PCI_HOST_ABOVE_4G_MMIO_BASE, d->mmio_high.base },
        { PCI_HOST_ABOVE_4G_MMIO_SIZE, d->mmio_high.size },
        { PCI_HOST_PIO_BASE, d->pio.base },
        { PCI_HOST_PIO_SIZE, d->pio.size },
    };
    /* Windows into the host's ECAM (mmio 0) and memory space (mmio 1) */
    const struct {
        const char *name;
        int region;
        hwaddr offset;
        const MemMapEntry *at;
    } windows[] = {
        { "pcie-ecam", 0, 0, &d->ecam },
        { "pcie-mmio", 1, d->mmio.base, &d->mmio },
        { "pcie-mmio-high", 1, d->mmio_high.base, &d->mmio_high },
    };

    for (int i = 0; i < ARRAY_SIZE(config); i++) {
        object_property_set_uint(OBJECT(dev), config[i].prop,
                                 config[i].value, NULL);
    }
    if (d->root_multifunction) {
        Object *root = object_resolve_path_component(OBJECT(dev),
                                                     "gpex_root");

        object_property_set_bool(root, "multifunction", true, &error_abort);
    }
    sysbus_realize_and_unref(sbd, &error_fatal);

    for (int i = 0; i < ARRAY_SIZE(windows); i++) {
        MemoryRegion *alias;

        if (!windows[i].at->size) {
            continue;
        }
        alias = g_new0(MemoryRegion, 1);
        memory_region_init_alias(alias, OBJECT(dev), windows[i].name,
                                 sysbus_mmio_get_region(sbd,
                                                        windows[i].region),
                                 windows[i].offset, windows[i].at->size);
        memory_region_add_subregion(get_system_memory(),
                                    windows[i].at->base, alias);
    }
    sysbus_mmio_map(sbd, 2, d->pio.base);

    for (int pin = 0; intx && pin < PCI_NUM_PINS; pin++) {
        sysbus_connect_irq(sbd, pin,
                           qdev_get_gpio_in(intx, d->intx_irq + pin));
        gpex_set_irq_num(GPEX_HOST(dev), pin, d->intx_irq + pin);
    }

    GPEX_HOST(dev)->gpex_cfg.bus = PCI_HOST_BRIDGE(dev)->bus;
    return dev;
}

/* Store @v as two big-endian cells */
static uint32_t *mh_put64(uint32_t *cell, uint64_t v)
{
    *cell++ = cpu_to_be32(v >> 32);
    *cell++ = cpu_to_be32(v);
    return cell;
}

void riscv_mh_fdt_pcie(MachineState *ms, const RiscvMhPcie *d, uint32_t msi)
{
    void *fdt = ms->fdt;
    g_autofree char *path = riscv_mh_pcie_path(d);
    /* The I/O window from its first bus address, at the same offset */
    const MemMapEntry pio = {
        .base = d->pio.base + d->pio_bus_min,
        .size = d->pio.size - d->pio_bus_min,
    };
    /* phys.hi space code, PCI address, CPU address, size */
    const struct {
        uint32_t space;
        uint64_t pci;
        const MemMapEntry *cpu;
    } spaces[] = {
        { FDT_PCI_RANGE_IOPORT, d->pio_bus_min, &pio },
        { FDT_PCI_RANGE_MMIO, d->mmio.base, &d->mmio },
        { FDT_PCI_RANGE_MMIO_64BIT, d->mmio_high.base, &d->mmio_high },
    };
    uint32_t ranges[ARRAY_SIZE(spaces) * 7];
    uint32_t *cell = ranges;

    for (int i = 0; i < ARRAY_SIZE(spaces); i++) {
        if (spaces[i].cpu->size) {
            *cell++ = cpu_to_be32(spaces[i].space);
            cell = mh_put64(cell, spaces[i].pci);
            cell = mh_put64(cell, spaces[i].cpu->base);
            cell = mh_put64(cell, spaces[i].cpu->size);
        }
    }

    qemu_fdt_setprop_cell(fdt, path, "#address-cells", MH_PCI_ADDR_CELLS);
    qemu_fdt_setprop_cell(fdt, path, "#interrupt-cells", MH_PCI_INT_CELLS);
    qemu_fdt_setprop_cell(fdt, path, "#size-cells", 2);
    qemu_fdt_setprop_string(fdt, path, "compatible", "pci-host-ecam-generic");
    qemu_fdt_setprop_string(fdt, path, "device_type", "pci");
    qemu_fdt_setprop_cell(fdt, path, "linux,pci-domain", 0);
    qemu_fdt_setprop_cells(fdt, path, "bus-range",
                           0, d->ecam.size / PCIE_MMCFG_SIZE_MIN - 1);
    qemu_fdt_setprop(fdt, path, "dma-coherent", NULL, 0);
    if (msi) {
        qemu_fdt_setprop_cell(fdt, path, "msi-parent", msi);
    }
    qemu_fdt_setprop_sized_cells(fdt, path, "reg", 2, d->ecam.base,
                                 2, d->ecam.size);
    qemu_fdt_setprop(fdt, path, "ranges", ranges,
                     (cell - ranges) * sizeof(uint32_t));
}

void riscv_mh_fdt_pcie_intx(MachineState *ms, const RiscvMhPcie *d,
                            const RiscvMhIrqParent *p)
{
    g_autofree char *path = riscv_mh_pcie_path(d);
    /* One row per slot and pin; the mask makes slots 4 and up wrap */
    uint32_t map[PCI_NUM_PINS * PCI_NUM_PINS * MH_INTX_ROW_MAX] = { 0 };
    size_t row = MH_PCI_ADDR_CELLS + MH_PCI_INT_CELLS + 1 + p->cells;
    uint32_t *cell = map;

    for (int slot = 0; slot < PCI_NUM_PINS; slot++) {
        for (int pin = 0; pin < PCI_NUM_PINS; pin++, cell += row) {
            /* Swizzle as pci_swizzle_map_irq_fn() does */
            uint32_t irq = d->intx_irq + (slot + pin) % PCI_NUM_PINS;

            cell[0] = cpu_to_be32(PCI_DEVFN(slot, 0) << 8);
            cell[MH_PCI_ADDR_CELLS] = cpu_to_be32(pin + 1);
            cell[MH_PCI_ADDR_CELLS + 1] = cpu_to_be32(p->phandle);
            cell[MH_PCI_ADDR_CELLS + 2] = cpu_to_be32(irq);
            if (p->cells > 1) {
                cell[MH_PCI_ADDR_CELLS + 3] =
                    cpu_to_be32(RISCV_MH_IRQ_LEVEL_HIGH);
            }
        }
    }
    qemu_fdt_setprop(ms->fdt, path, "interrupt-map", map,
                     PCI_NUM_PINS * PCI_NUM_PINS * row * sizeof(uint32_t));
    qemu_fdt_setprop_cells(ms->fdt, path, "interrupt-map-mask",
                           PCI_DEVFN(3, 0) << 8, 0, 0, 0x7);
}

char *riscv_mh_fdt_pci_function(MachineState *ms, const RiscvMhPcie *d,
                                const char *name, const char *compat,
                                size_t compat_len, uint16_t bdf)
{
    g_autofree char *host = riscv_mh_pcie_path(d);
    char *path;
    int devfn = bdf & 0xff;

    /* "slot" or "slot,function", as the PCI bus binding spells it */
    if (PCI_FUNC(devfn)) {
        path = g_strdup_printf("%s/%s@%x,%x", host, name, PCI_SLOT(devfn),
                               PCI_FUNC(devfn));
    } else {
        path = g_strdup_printf("%s/%s@%x", host, name, PCI_SLOT(devfn));
    }
    qemu_fdt_add_subnode(ms->fdt, path);
    qemu_fdt_setprop(ms->fdt, path, "compatible", compat, compat_len);
    /* Configuration space address of the function, size 0 */
    qemu_fdt_setprop_cells(ms->fdt, path, "reg", bdf << 8, 0, 0, 0, 0);
    return path;
}

void riscv_mh_fdt_pcie_iommu_map(MachineState *ms, const RiscvMhPcie *d,
                                 uint32_t iommu, uint16_t own_rid)
{
    g_autofree char *host = riscv_mh_pcie_path(d);
    /* <rid-base iommu iommu-base length>: all but the IOMMU's own RID */
    uint32_t map[8];
    int n = 0;

    if (own_rid > 0) {
        map[n++] = 0;
        map[n++] = iommu;
        map[n++] = 0;
        map[n++] = own_rid;
    }
    if (own_rid < 0xffff) {
        map[n++] = own_rid + 1;
        map[n++] = iommu;
        map[n++] = own_rid + 1;
        map[n++] = 0xffff - own_rid;
    }
    for (int i = 0; i < n; i++) {
        map[i] = cpu_to_be32(map[i]);
    }
    qemu_fdt_setprop(ms->fdt, host, "iommu-map", map, n * sizeof(map[0]));
}
