/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * RISC-V board helpers: timers and interrupt controllers (ACLINT,
 * SiFive CLINT, IMSIC, APLIC)
 *
 * Copyright (c) 2025 virt-pcie developers
 */

#include "qemu/osdep.h"
#include "hw/boards.h"
#include "hw/sysbus.h"
#include "exec/address-spaces.h"
#include "hw/intc/riscv_aclint.h"
#include "hw/intc/riscv_aplic.h"
#include "hw/intc/riscv_imsic.h"
#include "hw/riscv/numa.h"
#include "hw/riscv/machine_helper.h"
#include "system/device_tree.h"
#include "target/riscv/cpu.h"

/* Interrupt specifier cells of the AIA nodes */
#define MH_IMSIC_INT_CELLS 0
#define MH_APLIC_ADDR_CELLS 0
#define MH_APLIC_INT_CELLS 2

DeviceState *riscv_mh_mtimer_create(hwaddr base,
                                    const RISCVHartArrayState *soc)
{
    return riscv_aclint_mtimer_create(base, RISCV_ACLINT_DEFAULT_MTIMER_SIZE,
                                      soc->hartid_base, soc->num_harts,
                                      RISCV_ACLINT_DEFAULT_MTIMECMP,
                                      RISCV_ACLINT_DEFAULT_MTIME,
                                      RISCV_ACLINT_DEFAULT_TIMEBASE_FREQ,
                                      true);
}

DeviceState *riscv_mh_swi_create(hwaddr base, const RISCVHartArrayState *soc,
                                 RiscvMhMode mode)
{
    return riscv_aclint_swi_create(base, soc->hartid_base, soc->num_harts,
                                   mode == RISCV_MH_MODE_S);
}

void riscv_mh_clint_create(hwaddr base, const RISCVHartArrayState *soc)
{
    riscv_mh_swi_create(base, soc, RISCV_MH_MODE_M);
    riscv_mh_mtimer_create(base + RISCV_ACLINT_SWI_SIZE, soc);
}

void riscv_mh_fdt_mtimer(MachineState *ms, const RiscvMhHarts *h,
                         hwaddr base, hwaddr size)
{
    static const uint32_t irq = IRQ_M_TIMER;
    size_t len;
    g_autofree uint32_t *ie = riscv_mh_intc_cells(h, &irq, 1, &len);
    g_autofree char *path = g_strdup_printf("/soc/mtimer@%" PRIx64, base);
    const RiscvMhProp props[] = {
        RISCV_MH_STR("compatible", "riscv,aclint-mtimer"),
        RISCV_MH_REG("reg",
                     base + RISCV_ACLINT_DEFAULT_MTIME,
                     size - RISCV_ACLINT_DEFAULT_MTIME,
                     base + RISCV_ACLINT_DEFAULT_MTIMECMP,
                     RISCV_ACLINT_DEFAULT_MTIME),
        RISCV_MH_BLOB("interrupts-extended", ie, len),
        RISCV_MH_NUMA(h->socket),
    };

    riscv_mh_fdt_node(ms, path, props, ARRAY_SIZE(props));
}

void riscv_mh_fdt_swi(MachineState *ms, const RiscvMhHarts *h,
                      hwaddr base, hwaddr size, RiscvMhMode mode)
{
    char level = mode == RISCV_MH_MODE_M ? 'm' : 's';
    uint32_t irq = mode == RISCV_MH_MODE_M ? IRQ_M_SOFT : IRQ_S_SOFT;
    size_t len;
    g_autofree uint32_t *ie = riscv_mh_intc_cells(h, &irq, 1, &len);
    g_autofree char *path = g_strdup_printf("/soc/%cswi@%" PRIx64,
                                            level, base);
    g_autofree char *compat = g_strdup_printf("riscv,aclint-%cswi", level);
    const RiscvMhProp props[] = {
        RISCV_MH_STR("compatible", compat),
        RISCV_MH_REG("reg", base, size),
        RISCV_MH_BLOB("interrupts-extended", ie, len),
        RISCV_MH_EMPTY("interrupt-controller"),
        RISCV_MH_CELLS("#interrupt-cells", 0),
        RISCV_MH_NUMA(h->socket),
    };

    riscv_mh_fdt_node(ms, path, props, ARRAY_SIZE(props));
}

void riscv_mh_fdt_clint(MachineState *ms, const RiscvMhHarts *h,
                        hwaddr base, hwaddr size)
{
    static const uint32_t irqs[] = { IRQ_M_SOFT, IRQ_M_TIMER };
    size_t len;
    g_autofree uint32_t *ie = riscv_mh_intc_cells(h, irqs, 2, &len);
    g_autofree char *path = g_strdup_printf("/soc/clint@%" PRIx64, base);
    const RiscvMhProp props[] = {
        RISCV_MH_STRV("compatible", "sifive,clint0", "riscv,clint0"),
        RISCV_MH_REG("reg", base, size),
        RISCV_MH_BLOB("interrupts-extended", ie, len),
        RISCV_MH_NUMA(h->socket),
    };

    riscv_mh_fdt_node(ms, path, props, ARRAY_SIZE(props));
}

hwaddr riscv_mh_imsic_group(const RiscvMhImsic *d, int socket)
{
    return d->base + ((hwaddr)socket << d->group_shift);
}

/* Size of the files of one hart: a supervisor page plus guest pages */
static hwaddr mh_imsic_hart_size(const RiscvMhImsic *d)
{
    return IMSIC_HART_SIZE(riscv_mh_index_bits(d->guests + 1));
}

void riscv_mh_imsic_create(const RiscvMhImsic *d,
                           const RISCVHartArrayState *soc, int socket)
{
    hwaddr addr = riscv_mh_imsic_group(d, socket);

    for (int i = 0; i < soc->num_harts; i++) {
        riscv_imsic_create(addr, soc->hartid_base + i,
                           d->mode == RISCV_MH_MODE_M, d->guests + 1,
                           d->num_ids);
        addr += mh_imsic_hart_size(d);
    }
}

/* The IMSIC files of one socket's harts behind a single MMIO region */
typedef struct MhImsicWindow {
    MemoryRegion mr;
    hwaddr stride;
    MemoryRegion **files;
} MhImsicWindow;

static MemTxResult mh_imsic_window_read(void *opaque, hwaddr addr,
                                        uint64_t *data, unsigned size,
                                        MemTxAttrs attrs)
{
    MhImsicWindow *w = opaque;

    return memory_region_dispatch_read(w->files[addr / w->stride],
                                       addr % w->stride, data,
                                       size_memop(size) | MO_LE, attrs);
}

static MemTxResult mh_imsic_window_write(void *opaque, hwaddr addr,
                                         uint64_t data, unsigned size,
                                         MemTxAttrs attrs)
{
    MhImsicWindow *w = opaque;

    return memory_region_dispatch_write(w->files[addr / w->stride],
                                        addr % w->stride, data,
                                        size_memop(size) | MO_LE, attrs);
}

static const MemoryRegionOps mh_imsic_window_ops = {
    .read_with_attrs = mh_imsic_window_read,
    .write_with_attrs = mh_imsic_window_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid.min_access_size = 4,
    .valid.max_access_size = 4,
    .impl.min_access_size = 4,
    .impl.max_access_size = 4,
};

void riscv_mh_imsic_create_window(const RiscvMhImsic *d,
                                  const RISCVHartArrayState *soc, int socket)
{
    MhImsicWindow *w = g_new0(MhImsicWindow, 1);
    hwaddr addr = riscv_mh_imsic_group(d, socket);

    w->stride = mh_imsic_hart_size(d);
    w->files = g_new(MemoryRegion *, soc->num_harts);
    for (int i = 0; i < soc->num_harts; i++) {
        SysBusDevice *sbd = SYS_BUS_DEVICE(
            riscv_imsic_create(addr + i * w->stride, soc->hartid_base + i,
                               d->mode == RISCV_MH_MODE_M, d->guests + 1,
                               d->num_ids));

        /* Reached through the window only */
        w->files[i] = sysbus_mmio_get_region(sbd, 0);
        memory_region_del_subregion(get_system_memory(), w->files[i]);
    }
    memory_region_init_io(&w->mr, NULL, &mh_imsic_window_ops, w,
                          "riscv.imsic.window", w->stride * soc->num_harts);
    memory_region_add_subregion(get_system_memory(), addr, &w->mr);
}

void riscv_mh_fdt_imsic(MachineState *ms, const RiscvMhImsic *d,
                        const RISCVHartArrayState *soc,
                        const uint32_t *intc, uint32_t phandle)
{
    int sockets = riscv_socket_count(ms);
    uint32_t guest_bits = riscv_mh_index_bits(d->guests + 1);
    uint32_t irq = d->mode == RISCV_MH_MODE_M ? IRQ_M_EXT : IRQ_S_EXT;
    RiscvMhHarts all = { .count = ms->smp.cpus, .intc = intc };
    uint32_t widest = 0;
    size_t len;
    g_autofree uint32_t *ie = riscv_mh_intc_cells(&all, &irq, 1, &len);
    g_autofree uint64_t *groups = g_new(uint64_t, 2 * sockets);
    g_autofree char *path = NULL;

    for (int i = 0; i < sockets; i++) {
        groups[2 * i] = riscv_mh_imsic_group(d, i);
        groups[2 * i + 1] = mh_imsic_hart_size(d) * soc[i].num_harts;
        widest = MAX(widest, soc[i].num_harts);
    }
    path = g_strdup_printf("/soc/interrupt-controller@%" PRIx64, d->base);

    {
        bool grouped = sockets > 1;
        const RiscvMhProp props[] = {
            RISCV_MH_STRV("compatible", "qemu,imsics", "riscv,imsics"),
            RISCV_MH_CELLS("#interrupt-cells", MH_IMSIC_INT_CELLS),
            RISCV_MH_EMPTY("interrupt-controller"),
            RISCV_MH_EMPTY("msi-controller"),
            RISCV_MH_BLOB("interrupts-extended", ie, len),
            RISCV_MH_REGV("reg", groups, 2 * sockets),
            RISCV_MH_CELLS("riscv,num-ids", d->num_ids),
            RISCV_MH_CELLS(RISCV_MH_IF(guest_bits, "riscv,guest-index-bits"),
                           guest_bits),
            RISCV_MH_CELLS(RISCV_MH_IF(grouped, "riscv,hart-index-bits"),
                           riscv_mh_index_bits(widest)),
            RISCV_MH_CELLS(RISCV_MH_IF(grouped, "riscv,group-index-bits"),
                           riscv_mh_index_bits(sockets)),
            RISCV_MH_CELLS(RISCV_MH_IF(grouped, "riscv,group-index-shift"),
                           d->group_shift),
            RISCV_MH_CELLS("phandle", phandle),
        };

        riscv_mh_fdt_node(ms, path, props, ARRAY_SIZE(props));
    }
}

static const MemMapEntry *mh_aplic_window(const RiscvMhAplic *d,
                                          RiscvMhMode mode)
{
    return mode == RISCV_MH_MODE_M ? &d->m : &d->s;
}

static hwaddr mh_aplic_addr(const RiscvMhAplic *d, RiscvMhMode mode,
                            int socket)
{
    const MemMapEntry *w = mh_aplic_window(d, mode);

    return w->base + socket * w->size;
}

DeviceState *riscv_mh_aplic_create(const RiscvMhAplic *d,
                                   const RISCVHartArrayState *soc,
                                   int socket)
{
    bool msi = d->delivery == RISCV_MH_APLIC_MSI;
    /* In MSI mode the domains address IMSICs, not harts */
    uint32_t first = msi ? 0 : soc->hartid_base;
    uint32_t count = msi ? 0 : soc->num_harts;
    DeviceState *root = NULL;
    DeviceState *sdom;

    if (d->m.size) {
        root = riscv_aplic_create(mh_aplic_addr(d, RISCV_MH_MODE_M, socket),
                                  d->m.size, first, count, d->num_sources,
                                  d->prio_bits, msi, true, NULL);
    }
    sdom = riscv_aplic_create(mh_aplic_addr(d, RISCV_MH_MODE_S, socket),
                              d->s.size, first, count, d->num_sources,
                              d->prio_bits, msi, false, root);
    return root ? root : sdom;
}

char *riscv_mh_aplic_path(const RiscvMhAplic *d, RiscvMhMode mode,
                          int socket)
{
    return g_strdup_printf("/soc/interrupt-controller@%" PRIx64,
                           mh_aplic_addr(d, mode, socket));
}

/* One APLIC domain node; @child: phandle of the delegated-to domain */
static void mh_fdt_aplic_domain(MachineState *ms, const RiscvMhAplic *d,
                                const RiscvMhHarts *h, RiscvMhMode mode,
                                uint32_t msi, uint32_t phandle,
                                uint32_t child)
{
    bool direct = d->delivery == RISCV_MH_APLIC_DIRECT;
    uint32_t irq = mode == RISCV_MH_MODE_M ? IRQ_M_EXT : IRQ_S_EXT;
    size_t len = 0;
    g_autofree uint32_t *ie =
        direct ? riscv_mh_intc_cells(h, &irq, 1, &len) : NULL;
    g_autofree char *path = riscv_mh_aplic_path(d, mode, h->socket);
    const RiscvMhProp props[] = {
        RISCV_MH_STRV("compatible", "qemu,aplic", "riscv,aplic"),
        RISCV_MH_CELLS("#address-cells", MH_APLIC_ADDR_CELLS),
        RISCV_MH_CELLS("#interrupt-cells", MH_APLIC_INT_CELLS),
        RISCV_MH_EMPTY("interrupt-controller"),
        RISCV_MH_BLOB(RISCV_MH_IF(direct, "interrupts-extended"), ie, len),
        RISCV_MH_CELLS(RISCV_MH_IF(!direct, "msi-parent"), msi),
        RISCV_MH_REG("reg", mh_aplic_addr(d, mode, h->socket),
                     mh_aplic_window(d, mode)->size),
        RISCV_MH_CELLS("riscv,num-sources", d->num_sources),
        RISCV_MH_CELLS(RISCV_MH_IF(child, "riscv,children"), child),
        RISCV_MH_CELLS(RISCV_MH_IF(child, "riscv,delegation"),
                       child, 1, d->num_sources),
        /*
         * DEPRECATED_9.1: "riscv,delegate" only stays for old firmware,
         * new code must use "riscv,delegation".
         */
        RISCV_MH_CELLS(RISCV_MH_IF(child, "riscv,delegate"),
                       child, 1, d->num_sources),
        RISCV_MH_NUMA(h->socket),
        RISCV_MH_CELLS("phandle", phandle),
    };

    riscv_mh_fdt_node(ms, path, props, ARRAY_SIZE(props));
}

uint32_t riscv_mh_fdt_aplic(MachineState *ms, const RiscvMhAplic *d,
                            const RiscvMhHarts *h, uint32_t msi_m,
                            uint32_t msi_s, uint32_t *phandle)
{
    /* Both phandles are taken even without an M domain */
    uint32_t m_phandle = (*phandle)++;
    uint32_t s_phandle = (*phandle)++;

    if (d->m.size) {
        mh_fdt_aplic_domain(ms, d, h, RISCV_MH_MODE_M, msi_m, m_phandle,
                            s_phandle);
    }
    mh_fdt_aplic_domain(ms, d, h, RISCV_MH_MODE_S, msi_s, s_phandle, 0);
    return s_phandle;
}
