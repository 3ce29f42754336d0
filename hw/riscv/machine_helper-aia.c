/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * RISC-V board helpers: timers and interrupt controllers (ACLINT,
 * SiFive CLINT, IMSIC, APLIC)
 *
 * Copyright (c) 2025 virt-pcie developers
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/boards.h"
#include "hw/sysbus.h"
#include "system/address-spaces.h"
#include "system/kvm.h"
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

void riscv_mh_mtimer_create(hwaddr base, hwaddr stride,
                            const RISCVHartArrayState *soc, uint32_t freq)
{
    for (int first = 0; first < soc->num_harts;
         first += RISCV_ACLINT_MAX_HARTS) {
        int count = MIN(soc->num_harts - first, RISCV_ACLINT_MAX_HARTS);

        riscv_aclint_mtimer_create(base, RISCV_ACLINT_DEFAULT_MTIMER_SIZE,
                                   soc->hartid_base + first, count,
                                   RISCV_ACLINT_DEFAULT_MTIMECMP,
                                   RISCV_ACLINT_DEFAULT_MTIME, freq, true);
        base += stride;
    }
}

void riscv_mh_fdt_mtimer(MachineState *ms, const RiscvMhHarts *h,
                         hwaddr base, hwaddr size)
{
    static const uint32_t irq = IRQ_M_TIMER;
    size_t len;
    g_autofree uint32_t *ie = riscv_mh_intc_cells(h, &irq, 1, &len);
    g_autofree char *path = g_strdup_printf("/soc/mtimer@%" PRIx64, base);

    qemu_fdt_add_subnode(ms->fdt, path);
    qemu_fdt_setprop_string(ms->fdt, path, "compatible",
                            "riscv,aclint-mtimer");
    qemu_fdt_setprop_sized_cells(ms->fdt, path, "reg",
                                 2, base + RISCV_ACLINT_DEFAULT_MTIME,
                                 2, size - RISCV_ACLINT_DEFAULT_MTIME,
                                 2, base + RISCV_ACLINT_DEFAULT_MTIMECMP,
                                 2, RISCV_ACLINT_DEFAULT_MTIME);
    qemu_fdt_setprop(ms->fdt, path, "interrupts-extended", ie, len);
    riscv_socket_fdt_write_id(ms, path, h->socket);
}

void riscv_mh_fdt_mtimers(MachineState *ms, const RiscvMhHarts *h,
                          hwaddr base, hwaddr stride, hwaddr size)
{
    for (int first = 0; first < h->count; first += RISCV_ACLINT_MAX_HARTS) {
        RiscvMhHarts part = {
            .socket = h->socket,
            .count = MIN(h->count - first, RISCV_ACLINT_MAX_HARTS),
            .intc = h->intc + first,
        };

        riscv_mh_fdt_mtimer(ms, &part, base, size);
        base += stride;
    }
}

void riscv_mh_fdt_socket_clint(void *fdt, hwaddr addr, uint64_t size,
                               int socket_id, uint32_t *intc_phandles,
                               int num_harts, bool numa_enabled)
{
    static const char *const compat[] = { "sifive,clint0", "riscv,clint0" };
    static const uint32_t irqs[] = { IRQ_M_SOFT, IRQ_M_TIMER };
    RiscvMhHarts h = { .count = num_harts, .intc = intc_phandles };
    size_t len;
    g_autofree uint32_t *ie = riscv_mh_intc_cells(&h, irqs, 2, &len);
    g_autofree char *path = g_strdup_printf("/soc/clint@%" HWADDR_PRIx, addr);

    qemu_fdt_add_subnode(fdt, path);
    qemu_fdt_setprop_string_array(fdt, path, "compatible", (char **)compat,
                                  ARRAY_SIZE(compat));
    qemu_fdt_setprop_sized_cells(fdt, path, "reg", 2, addr, 2, size);
    qemu_fdt_setprop(fdt, path, "interrupts-extended", ie, len);
    if (numa_enabled) {
        qemu_fdt_setprop_cell(fdt, path, "numa-node-id", socket_id);
    }
}

/* The files of @count harts from @hartid, @stride apart from @base */
static void mh_imsic_files(hwaddr base, hwaddr stride, int hartid, int count,
                           bool mmode, int files, uint32_t num_ids)
{
    for (int i = 0; i < count; i++) {
        riscv_imsic_create(base + i * stride, hartid + i, mmode, files,
                           num_ids);
    }
}

DeviceState *riscv_mh_create_aia(bool msimode, int aia_guests,
                                 uint32_t m_imsic_stride,
                                 uint32_t s_imsic_stride,
                                 uint16_t num_sources,
                                 const MemMapEntry *aplic_m,
                                 const MemMapEntry *aplic_s,
                                 const MemMapEntry *imsic_m,
                                 const MemMapEntry *imsic_s,
                                 int socket, int base_hartid, int hart_count,
                                 uint32_t num_msis, uint32_t num_prio_bits)
{
    hwaddr group = (hwaddr)socket << IMSIC_MMIO_GROUP_MIN_SHIFT;
    /* Under KVM, QEMU models only the S level */
    bool m_level = !kvm_enabled();
    RiscvMhAplic d = {
        .m = m_level ? *aplic_m : (MemMapEntry) { 0 },
        .s = *aplic_s,
        .num_sources = num_sources,
        .prio_bits = num_prio_bits,
        .delivery = msimode ? RISCV_MH_APLIC_MSI : RISCV_MH_APLIC_DIRECT,
    };
    RISCVHartArrayState harts = {
        .hartid_base = base_hartid,
        .num_harts = hart_count,
    };
    DeviceState *root;

    if (msimode) {
        if (m_level) {
            mh_imsic_files(imsic_m->base + group, m_imsic_stride, base_hartid,
                           hart_count, true, 1, num_msis);
        }
        mh_imsic_files(imsic_s->base + group, s_imsic_stride, base_hartid,
                       hart_count, false, 1 + aia_guests, num_msis);
    }
    root = riscv_mh_aplic_create(&d, &harts, socket);
    if (kvm_enabled() && msimode) {
        riscv_aplic_set_kvm_msicfgaddr(RISCV_APLIC(root),
                                       imsic_s->base + group);
    }
    return root;
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

    mh_imsic_files(addr, mh_imsic_hart_size(d), soc->hartid_base,
                   soc->num_harts, d->mode == RISCV_MH_MODE_M, d->guests + 1,
                   d->num_ids);
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

/*
 * The IMSIC of hart @idx of @soc, as riscv_imsic_create() makes it, but
 * named: child "hart[@idx]" of @parent (so that adding it does not search
 * "/machine/unattached" for a free name), with its CPU taken from @soc (not
 * looked up by hart ID), and not mapped (a window reaches it). Each is
 * constant time, which keeps the creation of many harts linear.
 */
static SysBusDevice *mh_imsic_new(const RiscvMhImsic *d, Object *parent,
                                  const RISCVHartArrayState *soc, int idx)
{
    DeviceState *dev = qdev_new(TYPE_RISCV_IMSIC);
    DeviceState *cpu = DEVICE(&soc->harts[idx]);
    bool mmode = d->mode == RISCV_MH_MODE_M;
    uint32_t pages = d->guests + 1;
    g_autofree char *name = g_strdup_printf("hart[%d]", idx);

    qdev_prop_set_bit(dev, "mmode", mmode);
    qdev_prop_set_uint32(dev, "hartid", soc->hartid_base + idx);
    qdev_prop_set_uint32(dev, "num-pages", pages);
    qdev_prop_set_uint32(dev, "num-irqs", d->num_ids + 1);
    object_property_add_child(parent, name, OBJECT(dev));
    sysbus_realize_and_unref(SYS_BUS_DEVICE(dev), &error_fatal);
    if (!kvm_irqchip_in_kernel()) {
        /* Page 0 is the hart's own file, then its guest files */
        for (uint32_t i = 0; i < pages; i++) {
            int irq = i ? IRQ_LOCAL_MAX + i - 1 :
                      mmode ? IRQ_M_EXT : IRQ_S_EXT;

            qdev_connect_gpio_out(dev, i, qdev_get_gpio_in(cpu, irq));
        }
    }
    return SYS_BUS_DEVICE(dev);
}

void riscv_mh_imsic_create_window(const RiscvMhImsic *d,
                                  const RISCVHartArrayState *soc, int socket)
{
    MhImsicWindow *w = g_new0(MhImsicWindow, 1);
    hwaddr addr = riscv_mh_imsic_group(d, socket);
    Object *files = object_new(TYPE_CONTAINER);
    g_autofree char *name =
        g_strdup_printf("imsic-%c[%d]", d->mode == RISCV_MH_MODE_M ? 'm' : 's',
                        socket);

    object_property_add_child(qdev_get_machine(), name, files);
    object_unref(files);
    w->stride = mh_imsic_hart_size(d);
    w->files = g_new(MemoryRegion *, soc->num_harts);
    for (int i = 0; i < soc->num_harts; i++) {
        /* Reached through the window only */
        w->files[i] = sysbus_mmio_get_region(mh_imsic_new(d, files, soc, i), 0);
    }
    memory_region_init_io(&w->mr, NULL, &mh_imsic_window_ops, w,
                          "riscv.imsic.window", w->stride * soc->num_harts);
    memory_region_add_subregion(get_system_memory(), addr, &w->mr);
}

void riscv_mh_fdt_imsic(MachineState *ms, const RiscvMhImsic *d,
                        const RISCVHartArrayState *soc,
                        const uint32_t *intc, uint32_t phandle)
{
    static const char *const compat[] = { "qemu,imsics", "riscv,imsics" };
    void *fdt = ms->fdt;
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

    qemu_fdt_add_subnode(fdt, path);
    qemu_fdt_setprop_string_array(fdt, path, "compatible", (char **)compat,
                                  ARRAY_SIZE(compat));
    qemu_fdt_setprop_cell(fdt, path, "#interrupt-cells", MH_IMSIC_INT_CELLS);
    qemu_fdt_setprop(fdt, path, "interrupt-controller", NULL, 0);
    qemu_fdt_setprop(fdt, path, "msi-controller", NULL, 0);
    qemu_fdt_setprop(fdt, path, "interrupts-extended", ie, len);
    riscv_mh_fdt_setprop_reg(fdt, path, "reg", groups, sockets);
    qemu_fdt_setprop_cell(fdt, path, "riscv,num-ids", d->num_ids);
    if (guest_bits) {
        qemu_fdt_setprop_cell(fdt, path, "riscv,guest-index-bits",
                              guest_bits);
    }
    if (sockets > 1) {
        qemu_fdt_setprop_cell(fdt, path, "riscv,hart-index-bits",
                              riscv_mh_index_bits(widest));
        qemu_fdt_setprop_cell(fdt, path, "riscv,group-index-bits",
                              riscv_mh_index_bits(sockets));
        qemu_fdt_setprop_cell(fdt, path, "riscv,group-index-shift",
                              d->group_shift);
    }
    qemu_fdt_setprop_cell(fdt, path, "phandle", phandle);
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

/* One APLIC domain node; @child: phandle of the delegated-to domain */
static void mh_fdt_aplic_domain(MachineState *ms, const RiscvMhAplic *d,
                                const RiscvMhHarts *h, RiscvMhMode mode,
                                uint32_t msi, uint32_t phandle,
                                uint32_t child)
{
    static const char *const compat[] = { "qemu,aplic", "riscv,aplic" };
    void *fdt = ms->fdt;
    bool direct = d->delivery == RISCV_MH_APLIC_DIRECT;
    uint32_t irq = mode == RISCV_MH_MODE_M ? IRQ_M_EXT : IRQ_S_EXT;
    size_t len = 0;
    g_autofree uint32_t *ie =
        direct ? riscv_mh_intc_cells(h, &irq, 1, &len) : NULL;
    hwaddr addr = mh_aplic_addr(d, mode, h->socket);
    g_autofree char *path = g_strdup_printf("/soc/interrupt-controller@%"
                                            PRIx64, addr);

    qemu_fdt_add_subnode(fdt, path);
    qemu_fdt_setprop_string_array(fdt, path, "compatible", (char **)compat,
                                  ARRAY_SIZE(compat));
    qemu_fdt_setprop_cell(fdt, path, "#address-cells", MH_APLIC_ADDR_CELLS);
    qemu_fdt_setprop_cell(fdt, path, "#interrupt-cells", MH_APLIC_INT_CELLS);
    qemu_fdt_setprop(fdt, path, "interrupt-controller", NULL, 0);
    if (direct) {
        qemu_fdt_setprop(fdt, path, "interrupts-extended", ie, len);
    } else {
        qemu_fdt_setprop_cell(fdt, path, "msi-parent", msi);
    }
    qemu_fdt_setprop_sized_cells(fdt, path, "reg", 2, addr,
                                 2, mh_aplic_window(d, mode)->size);
    qemu_fdt_setprop_cell(fdt, path, "riscv,num-sources", d->num_sources);
    if (child) {
        qemu_fdt_setprop_cell(fdt, path, "riscv,children", child);
        qemu_fdt_setprop_cells(fdt, path, "riscv,delegation",
                               child, 1, d->num_sources);
        /*
         * DEPRECATED_9.1: "riscv,delegate" only stays for old firmware,
         * new code must use "riscv,delegation".
         */
        qemu_fdt_setprop_cells(fdt, path, "riscv,delegate",
                               child, 1, d->num_sources);
    }
    riscv_socket_fdt_write_id(ms, path, h->socket);
    qemu_fdt_setprop_cell(fdt, path, "phandle", phandle);
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
