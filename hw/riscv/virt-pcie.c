/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * RISC-V "virt-pcie" board: every I/O device behind PCIe, every
 * interrupt an MSI to an AIA IMSIC
 *
 * Copyright (c) 2025 virt-pcie developers
 *
 * The platform is specified in docs/specs/riscv-virt-pcie.rst; the board
 * is its memory map and an init built from the machine_helper library.
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "hw/boards.h"
#include "hw/hotplug.h"
#include "hw/sysbus.h"
#include "hw/qdev-properties.h"
#include "hw/qdev-properties-system.h"
#include "hw/char/serial.h"
#include "hw/pci/pci.h"
#include "hw/pci/pci_device.h"
#include "hw/pci/pci_bus.h"
#include "hw/pci/pci_host.h"
#include "hw/intc/riscv_aclint.h"
#include "hw/intc/riscv_aplic.h"
#include "hw/intc/riscv_imsic.h"
#include "hw/misc/sifive_test.h"
#include "hw/riscv/boot.h"
#include "hw/riscv/iommu.h"
#include "hw/riscv/numa.h"
#include "hw/riscv/machine_helper.h"
#include "hw/riscv/virt-pcie.h"
#include "system/block-backend.h"
#include "hw/virtio/virtio-power-button.h"
#include "hw/nvram/fw_cfg.h"
#include "hw/nvram/fw_cfg-pci.h"
#include "hw/loader.h"
#include "system/device_tree.h"
#include "system/kvm.h"
#include "system/system.h"
#include "system/address-spaces.h"
#include "target/riscv/cpu.h"

/* The map of docs/specs/riscv-virt-pcie.rst; per-socket sizes are strides */
const MemMapEntry virt_pcie_memmap[] = {
    [VIRT_PCIE_MROM] = { .base = 0x1000, .size = 0xf000 },
    [VIRT_PCIE_TEST] = { .base = 0x100000, .size = 0x1000 },
    [VIRT_PCIE_RTC] = { .base = 0x101000, .size = 0x1000 },
    [VIRT_PCIE_MTIMER] = { .base = 0x2000000, .size = 0x8000 },
    [VIRT_PCIE_PIO] = { .base = 0x3000000, .size = 0x10000 },
    [VIRT_PCIE_APLIC_M] = { .base = 0xc000000, .size = 0x4000 },
    [VIRT_PCIE_APLIC_S] = { .base = 0xd000000, .size = 0x4000 },
    [VIRT_PCIE_FLASH] = { .base = 0x20000000, .size = 0x4000000 },
    [VIRT_PCIE_ECAM] = { .base = 0x30000000, .size = 0x10000000 },
    [VIRT_PCIE_MMIO] = { .base = 0x40000000, .size = 0x40000000 },
    [VIRT_PCIE_DRAM] = { .base = 0x80000000, .size = 1022 * GiB },
    [VIRT_PCIE_IMSIC_M] = { .base = 0x10000000000, .size = 0x1000000 },
    [VIRT_PCIE_IMSIC_S] = { .base = 0x10080000000, .size = 0x8000000 },
    [VIRT_PCIE_MMIO64] = { .base = 0x20000000000, .size = 0x10000000000 },
};

#define VIRT_PCIE_IMSIC_M_SHIFT     24
#define VIRT_PCIE_IMSIC_S_SHIFT     27
#define VIRT_PCIE_IMSIC_IDS         255
#define VIRT_PCIE_APLIC_PRIO_BITS   3
#define VIRT_PCIE_RAM_MIN           (128 * MiB)
#define VIRT_PCIE_FDT_HART          (1 * KiB)   /* device tree per hart */

/* -bios default: OpenSBI, in QEMU's firmware path */
#define VIRT_PCIE_FIRMWARE "opensbi-riscv64-generic-fw_dynamic.bin"

RiscvMhImsic virt_pcie_imsic(RISCVVirtPcieState *s, RiscvMhMode mode)
{
    bool m = mode == RISCV_MH_MODE_M;
    int region = m ? VIRT_PCIE_IMSIC_M : VIRT_PCIE_IMSIC_S;

    return (RiscvMhImsic) {
        .base = virt_pcie_memmap[region].base,
        .group_shift = m ? VIRT_PCIE_IMSIC_M_SHIFT : VIRT_PCIE_IMSIC_S_SHIFT,
        .num_ids = VIRT_PCIE_IMSIC_IDS,
        .guests = m ? 0 : s->aia_guests,
        .mode = mode,
    };
}

RiscvMhAplic virt_pcie_aplic(void)
{
    return (RiscvMhAplic) {
        .m = virt_pcie_memmap[VIRT_PCIE_APLIC_M],
        .s = virt_pcie_memmap[VIRT_PCIE_APLIC_S],
        .num_sources = VIRT_PCIE_IRQ_SOURCES,
        .prio_bits = VIRT_PCIE_APLIC_PRIO_BITS,
        .delivery = RISCV_MH_APLIC_MSI,
    };
}

RiscvMhPcie virt_pcie_host(void)
{
    return (RiscvMhPcie) {
        .ecam = virt_pcie_memmap[VIRT_PCIE_ECAM],
        .mmio = virt_pcie_memmap[VIRT_PCIE_MMIO],
        .mmio_high = virt_pcie_memmap[VIRT_PCIE_MMIO64],
        .pio = virt_pcie_memmap[VIRT_PCIE_PIO],
        .intx_irq = VIRT_PCIE_IRQ_PCIE_INTA,
        .root_multifunction = true,     /* the console is 00:00.1 */
    };
}

/* Sizing checks: a clear message and exit, never an abort */

static bool virt_pcie_check_ram(uint64_t size, Error **errp)
{
    uint64_t max = virt_pcie_memmap[VIRT_PCIE_DRAM].size;

    if (size < VIRT_PCIE_RAM_MIN || size > max) {
        error_setg(errp, "virt-pcie: RAM size 0x%" PRIx64 " (%" PRIu64
                   " MiB) is out of range: 128 MiB to 1022 GiB",
                   size, size / MiB);
        return false;
    }
    return true;
}

/*
 * What the interrupt controllers can address: an M-level IMSIC group holds
 * VIRT_PCIE_GROUP_HARTS_MAX harts, and an APLIC in MSI mode names the
 * target hart by a hart index of VIRT_PCIE_HART_INDEX_BITS bits, made of
 * the IMSIC group number above the hart's number in its group.
 */
static void virt_pcie_check_groups(MachineState *ms, int sockets, bool nodes)
{
    const char *what = nodes ? "NUMA node" : "socket";
    int widest = 0, at = 0;
    uint32_t bits;

    for (int i = 0; i < sockets; i++) {
        int harts = riscv_socket_hart_count(ms, i);

        if (harts > widest) {
            widest = harts;
            at = i;
        }
    }
    if (widest > VIRT_PCIE_GROUP_HARTS_MAX) {
        error_report("virt-pcie: %s %d has %d harts, at most %d (the harts "
                     "of one IMSIC group)%s", what, at, widest,
                     VIRT_PCIE_GROUP_HARTS_MAX,
                     nodes ? ": split them into -numa nodes (-smp sockets "
                     "are not NUMA nodes)" : "");
        exit(1);
    }
    bits = riscv_mh_index_bits(sockets) + riscv_mh_index_bits(widest);
    if (bits > VIRT_PCIE_HART_INDEX_BITS) {
        error_report("virt-pcie: %d %ss with up to %d harts (%s %d) need a "
                     "%u-bit hart index, but an APLIC in MSI mode has %d "
                     "bits: with %d %ss, each may have at most %d harts",
                     sockets, what, widest, what, at, bits,
                     VIRT_PCIE_HART_INDEX_BITS, sockets, what,
                     1 << (VIRT_PCIE_HART_INDEX_BITS -
                           riscv_mh_index_bits(sockets)));
        exit(1);
    }
}

/*
 * The harts' groups: each has its MTIMER, APLIC domains and IMSIC group.
 * They are the NUMA nodes; up to 10.0, -smp sockets without -numa made
 * one node per socket.
 */
static int virt_pcie_check_harts(MachineState *ms)
{
    RISCVVirtPcieMachineClass *vmc = RISCV_VIRT_PCIE_MACHINE_GET_CLASS(ms);
    const char *what = vmc->smp_topology ? "NUMA nodes" : "sockets";
    int sockets;

    if (ms->smp.max_cpus != ms->smp.cpus) {
        error_report("virt-pcie: maxcpus (%u) must equal cpus (%u): "
                     "harts cannot be hot-plugged",
                     ms->smp.max_cpus, ms->smp.cpus);
        exit(1);
    }
    if (!vmc->smp_topology) {
        riscv_mh_numa_from_sockets(ms);
    }
    sockets = riscv_socket_count(ms);
    if (sockets > VIRT_PCIE_SOCKETS_MAX) {
        error_report("virt-pcie: %d %s requested, at most %d",
                     sockets, what, VIRT_PCIE_SOCKETS_MAX);
        exit(1);
    }
    for (int i = 0; i < sockets; i++) {
        int harts = riscv_socket_hart_count(ms, i);

        if (harts <= VIRT_PCIE_SOCKET_HARTS_MAX) {
            continue;
        }
        if (vmc->smp_topology) {
            /* Its second MTIMER takes the block of socket 1 */
            if (sockets == 1) {
                continue;
            }
            error_report("virt-pcie: NUMA node %d has %d harts: a node of "
                         "more than %d harts (the ACLINT MTIMER limit) must "
                         "be the only node", i, harts,
                         VIRT_PCIE_SOCKET_HARTS_MAX);
        } else {
            error_report("virt-pcie: socket %d has %d harts, at most %d "
                         "per socket (the ACLINT MTIMER limit): use more "
                         "sockets", i, harts, VIRT_PCIE_SOCKET_HARTS_MAX);
        }
        exit(1);
    }
    virt_pcie_check_groups(ms, sockets, vmc->smp_topology);
    riscv_mh_check_host_maps(ms);
    return sockets;
}

/* Device tree */

/*
 * 10.0: the console's fixed I/O range as firmware sees it, a node without
 * a compatible (so that an OS does not probe it as a platform device; it
 * finds the UART by PCI enumeration) that maps PCI I/O bus addresses to
 * the host bridge's I/O window.  It keeps its parent's two address cells,
 * because OpenSBI translates "ranges" with the child's cell count only.
 */
static void virt_pcie_fdt_console_io(MachineState *ms)
{
    const MemMapEntry *pio = &virt_pcie_memmap[VIRT_PCIE_PIO];
    g_autofree char *window = g_strdup_printf("/soc/pci-io@%" HWADDR_PRIx,
                                              pio->base);
    g_autofree char *path = g_strdup_printf("%s/serial@%x", window,
                                            VIRT_PCIE_CONSOLE_IO_BASE);
    void *fdt = ms->fdt;

    qemu_fdt_add_subnode(fdt, window);
    qemu_fdt_setprop_cell(fdt, window, "#address-cells", 2);
    qemu_fdt_setprop_cell(fdt, window, "#size-cells", 2);
    qemu_fdt_setprop_sized_cells(fdt, window, "ranges", 2, 0,
                                 2, pio->base, 2, pio->size);
    qemu_fdt_add_subnode(fdt, path);
    qemu_fdt_setprop_string(fdt, path, "compatible", "ns16550a");
    qemu_fdt_setprop_sized_cells(fdt, path, "reg",
                                 2, VIRT_PCIE_CONSOLE_IO_BASE,
                                 2, VIRT_PCIE_CONSOLE_SIZE);
    qemu_fdt_setprop_cell(fdt, path, "clock-frequency", 1843200);
    qemu_fdt_setprop_string(fdt, "/chosen", "stdout-path", path);
}

/*
 * A firmware view of a fixed PCI memory range: a node that maps @size
 * bytes at @page one to one, with no compatible so that no OS probes it as
 * a platform device, for the nodes below it.  Returns its path.
 */
static char *virt_pcie_fdt_mem_view(void *fdt, hwaddr page, hwaddr size)
{
    char *window = g_strdup_printf("/soc/pci-mem@%" HWADDR_PRIx, page);

    qemu_fdt_add_subnode(fdt, window);
    qemu_fdt_setprop_cell(fdt, window, "#address-cells", 2);
    qemu_fdt_setprop_cell(fdt, window, "#size-cells", 2);
    qemu_fdt_setprop_sized_cells(fdt, window, "ranges", 2, page,
                                 2, page, 2, size);
    return window;
}

/*
 * The console in two views.  The OS's: the function's own node under the
 * host bridge, which "stdout-path" names, so that Linux takes the tty it
 * binds to 00:00.1 as its console.  Firmware's: an ns16550a node whose
 * "reg" is the CPU address of the fixed memory range, under a node that
 * maps the console's page one to one and has no compatible (no OS probes
 * it as a platform device).  Firmware that finds no driver for the
 * "stdout-path" node, like OpenSBI, takes the first UART it can drive:
 * this one.
 */
static void virt_pcie_fdt_console_mem(RISCVVirtPcieState *s,
                                      const RiscvMhPcie *host)
{
    MachineState *ms = MACHINE(s);
    static const char compat[] = "pci1b36,2";
    void *fdt = ms->fdt;
    g_autofree char *window = virt_pcie_fdt_mem_view(fdt,
        VIRT_PCIE_CONSOLE_MEM_BASE, VIRT_PCIE_CONSOLE_PAGE);
    g_autofree char *path = g_strdup_printf("%s/serial@%x", window,
                                            VIRT_PCIE_CONSOLE_MEM_BASE);
    g_autofree char *fn = NULL;

    qemu_fdt_add_subnode(fdt, path);
    qemu_fdt_setprop_string(fdt, path, "compatible", "ns16550a");
    qemu_fdt_setprop_sized_cells(fdt, path, "reg",
                                 2, VIRT_PCIE_CONSOLE_MEM_BASE,
                                 2, VIRT_PCIE_CONSOLE_SIZE);
    qemu_fdt_setprop_cell(fdt, path, "clock-frequency", 1843200);

    fn = riscv_mh_fdt_pci_function(ms, host, "serial", compat,
                                   sizeof(compat), VIRT_PCIE_CONSOLE_DEVFN);
    /* stdout=uart: for readers that take "reg" of stdout-path as is */
    qemu_fdt_setprop_string(fdt, "/chosen", "stdout-path",
                            s->stdout_uart ? path : fn);
}

/*
 * fw-cfg=on: the fw_cfg registers as firmware sees them, like the
 * console's firmware view.  No DMA register: "reg" covers the data and
 * selector registers only.
 */
static void virt_pcie_fdt_fw_cfg(MachineState *ms)
{
    hwaddr page = VIRT_PCIE_FW_CFG_MEM_BASE;
    void *fdt = ms->fdt;
    g_autofree char *window = virt_pcie_fdt_mem_view(fdt, page,
                                                     FW_CFG_PCI_BAR_SIZE);
    g_autofree char *path = g_strdup_printf("%s/fw-cfg@%" HWADDR_PRIx,
                                            window, page);

    qemu_fdt_add_subnode(fdt, path);
    qemu_fdt_setprop_string(fdt, path, "compatible", "qemu,fw-cfg-mmio");
    qemu_fdt_setprop_sized_cells(fdt, path, "reg", 2, page,
                                 2, FW_CFG_PCI_REGS_SIZE);
}

/* -device riscv-iommu-pci: its node, and every other function behind it */
static void virt_pcie_fdt_iommu(RISCVVirtPcieState *s,
                                const RiscvMhPcie *host)
{
    MachineState *ms = MACHINE(s);
    uint16_t bdf = pci_get_bdf(s->iommu);
    uint32_t phandle = qemu_fdt_alloc_phandle(ms->fdt);
    /* "pciVVVV,DDDD" of its (configurable) IDs, then the generic name */
    g_autofree char *compat = g_strdup_printf("pci%x,%x%criscv,pci-iommu",
        pci_get_word(s->iommu->config + PCI_VENDOR_ID),
        pci_get_word(s->iommu->config + PCI_DEVICE_ID), 0);
    size_t len = strlen(compat) + 1 + strlen("riscv,pci-iommu") + 1;
    g_autofree char *path = riscv_mh_fdt_pci_function(ms, host, "iommu",
                                                      compat, len, bdf);

    qemu_fdt_setprop_cell(ms->fdt, path, "#iommu-cells", 1);
    qemu_fdt_setprop_cell(ms->fdt, path, "phandle", phandle);
    riscv_mh_fdt_pcie_iommu_map(ms, host, phandle, bdf);
}

static void virt_pcie_fdt(RISCVVirtPcieState *s)
{
    MachineState *ms = MACHINE(s);
    RISCVVirtPcieMachineClass *vmc = RISCV_VIRT_PCIE_MACHINE_GET_CLASS(s);
    const MemMapEntry *mtimer = &virt_pcie_memmap[VIRT_PCIE_MTIMER];
    RiscvMhImsic imsic_m = virt_pcie_imsic(s, RISCV_MH_MODE_M);
    RiscvMhImsic imsic_s = virt_pcie_imsic(s, RISCV_MH_MODE_S);
    RiscvMhAplic aplic = virt_pcie_aplic();
    RiscvMhPcie host = virt_pcie_host();
    int sockets = riscv_socket_count(ms);
    g_autofree uint32_t *intc = g_new0(uint32_t, ms->smp.cpus);
    uint32_t phandle = 1, harts, msi_m, msi_s, aplic_s = 0;
    hwaddr dram = virt_pcie_memmap[VIRT_PCIE_DRAM].base;
    RiscvMhCpuMap map = vmc->smp_topology ? RISCV_MH_CPU_MAP_SMP :
                        RISCV_MH_CPU_MAP_SOCKETS;
    RiscvMhIrqParent irq;

    g_autofree char *pcie_path = riscv_mh_pcie_path(&host);

    if (vmc->acpi) {
        host.pio_bus_min = VIRT_PCIE_PIO_BUS_MIN;
    }
    if (riscv_mh_fdt_load(ms, &s->fdt_size)) {
        return;     /* -dtb: the user's tree is used as it is */
    }
    ms->fdt = riscv_mh_fdt_board("riscv-virt-pcie,qemu", "qemu,virt-pcie",
                                 &s->fdt_size);
    qemu_fdt_add_subnode(ms->fdt, pcie_path);
    riscv_mh_fdt_chosen(ms);
    riscv_mh_fdt_reserve(ms, &s->fdt_size, ms->smp.cpus * VIRT_PCIE_FDT_HART);
    riscv_mh_fdt_flash(ms, &virt_pcie_memmap[VIRT_PCIE_FLASH],
                       VIRT_PCIE_FLASH_BANKS);
    riscv_mh_fdt_pmu(ms, s->soc);

    riscv_mh_fdt_cpus(ms, s->soc, vmc->timebase_freq);
    harts = riscv_mh_hart_phandles(ms, &phandle, intc);
    for (int i = sockets - 1; i >= 0; i--) {
        RiscvMhHarts h = riscv_mh_socket_harts(s->soc, i, intc);

        riscv_mh_fdt_socket_memory(ms->fdt,
                                   dram + riscv_socket_mem_offset(ms, i),
                                   riscv_socket_mem_size(ms, i), i,
                                   riscv_mh_numa_enabled(ms));
        riscv_mh_fdt_mtimers(ms, &h, mtimer->base + i * mtimer->size,
                             mtimer->size, mtimer->size);
    }

    msi_m = phandle++;
    msi_s = phandle++;
    riscv_mh_fdt_imsic(ms, &imsic_m, s->soc, intc, msi_m);
    riscv_mh_fdt_imsic(ms, &imsic_s, s->soc, intc, msi_s);
    for (int i = sockets - 1; i >= 0; i--) {
        RiscvMhHarts h = riscv_mh_socket_harts(s->soc, i, intc);

        aplic_s = riscv_mh_fdt_aplic(ms, &aplic, &h, msi_m, msi_s, &phandle);
    }
    riscv_socket_fdt_write_distance_matrix(ms);

    /* Wired sources go to socket 0's S-level domain, the last one made */
    irq = (RiscvMhIrqParent) { aplic_s, 2 };
    riscv_mh_fdt_pcie(ms, &host, msi_s);
    riscv_mh_fdt_pcie_intx(ms, &host, &irq);
    if (vmc->console_io) {
        virt_pcie_fdt_console_io(ms);
    } else {
        virt_pcie_fdt_console_mem(s, &host);
    }
    if (s->iommu && vmc->iommu_fdt) {
        virt_pcie_fdt_iommu(s, &host);
    }
    if (s->fw_cfg) {
        virt_pcie_fdt_fw_cfg(ms);
    }
    riscv_mh_fdt_syscon(ms, &virt_pcie_memmap[VIRT_PCIE_TEST], &phandle);
    riscv_mh_fdt_rtc(ms, &virt_pcie_memmap[VIRT_PCIE_RTC], &irq,
                     VIRT_PCIE_IRQ_RTC);
    riscv_mh_fdt_harts(ms, &s->fdt_size, s->soc, sockets, map, harts);
}

/* Devices */

static void virt_pcie_create_socket(RISCVVirtPcieState *s, int socket)
{
    MachineState *ms = MACHINE(s);
    RISCVHartArrayState *soc = &s->soc[socket];
    const MemMapEntry *mtimer = &virt_pcie_memmap[VIRT_PCIE_MTIMER];
    RiscvMhImsic imsic_m = virt_pcie_imsic(s, RISCV_MH_MODE_M);
    RiscvMhImsic imsic_s = virt_pcie_imsic(s, RISCV_MH_MODE_S);
    RiscvMhAplic aplic = virt_pcie_aplic();
    uint32_t timebase = RISCV_VIRT_PCIE_MACHINE_GET_CLASS(s)->timebase_freq;

    riscv_mh_socket_init(ms, soc, socket);
    if (riscv_is_32bit(soc)) {
        error_report("virt-pcie: CPU type '%s' is 32-bit, the platform "
                     "needs 64-bit harts", ms->cpu_type);
        exit(1);
    }
    riscv_mh_mtimer_create(mtimer->base + socket * mtimer->size,
                           mtimer->size, soc, timebase);
    /* Windows: 8192 files would exceed QEMU's 4096 memory sections */
    riscv_mh_imsic_create_window(&imsic_m, soc, socket);
    riscv_mh_imsic_create_window(&imsic_s, soc, socket);
    s->aplic[socket] = riscv_mh_aplic_create(&aplic, soc, socket);
}

/*
 * The console: pci-serial at 00:00.1 on the first -serial chardev.  It is
 * created even without one (-serial none, -nodefaults), so that the PCI
 * topology and the migration stream never depend on the command line.
 * Function 1 of the host bridge's slot leaves every slot free for
 * -device and for management software (libvirt never assigns slot 0).
 */
static void virt_pcie_create_console(RISCVVirtPcieState *s, PCIBus *bus)
{
    RISCVVirtPcieMachineClass *vmc = RISCV_VIRT_PCIE_MACHINE_GET_CLASS(s);
    PCIDevice *dev = pci_new(VIRT_PCIE_CONSOLE_DEVFN, "pci-serial");

    if (serial_hd(0)) {
        qdev_prop_set_chr(DEVICE(dev), "chardev", serial_hd(0));
    }
    if (vmc->console_io) {
        /* BAR 0 fixed in I/O space by Enhanced Allocation */
        qdev_prop_set_uint32(DEVICE(dev), "ea-io-base",
                             VIRT_PCIE_CONSOLE_IO_BASE);
    } else {
        /*
         * The registers fixed in memory space by Enhanced Allocation, for
         * firmware; BAR 0 is an ordinary I/O BAR for OS drivers.  No
         * MSI-X: a second memory BAR would keep Linux's 8250_pci from
         * recognising the card (MSI stays).
         */
        qdev_prop_set_uint32(DEVICE(dev), "ea-mem-base",
                             VIRT_PCIE_CONSOLE_MEM_BASE);
        qdev_prop_set_bit(DEVICE(dev), "msix", false);
    }
    pci_realize_and_unref(dev, bus, &error_fatal);
}

/*
 * The power button: a virtio input function whose one key, KEY_POWER, a
 * power-down request (QMP system_powerdown, "virsh shutdown") presses.
 * An MMIO device would break the MMIO policy, and an ACPI GED would serve
 * only ACPI guests; a PCI function serves device-tree and ACPI boots alike.
 */
static void virt_pcie_create_power_button(PCIBus *bus)
{
    PCIDevice *dev = pci_new(VIRT_PCIE_POWER_BUTTON_DEVFN,
                             TYPE_VIRTIO_POWER_BUTTON_PCI);

    pci_realize_and_unref(dev, bus, &error_fatal);
}

/*
 * What fw-cfg= and acpi= ask for must exist on the version, and the ACPI
 * tables reach the firmware only through fw_cfg.
 */
static void virt_pcie_check_firmware_config(RISCVVirtPcieState *s)
{
    RISCVVirtPcieMachineClass *vmc = RISCV_VIRT_PCIE_MACHINE_GET_CLASS(s);
    const char *name = MACHINE_GET_CLASS(s)->name;

    if (s->acpi && !vmc->acpi) {
        error_report("virt-pcie: acpi=on needs virt-pcie-11.0 or later, "
                     "%s has no ACPI tables", name);
        exit(1);
    }
    if (s->fw_cfg_on && !vmc->fw_cfg) {
        error_report("virt-pcie: fw-cfg=on needs virt-pcie-10.2 or later, "
                     "%s has no fw_cfg", name);
        exit(1);
    }
    if (s->acpi && !s->fw_cfg_on) {
        error_report("virt-pcie: acpi=on needs fw-cfg=on: the ACPI tables "
                     "reach the firmware through fw_cfg (use acpi=off too)");
        exit(1);
    }
}

/*
 * fw-cfg=on: fw_cfg as the function 00:00.3, its registers at a fixed
 * memory range for firmware (EDK2 finds them by their device-tree node).
 * It carries what QEMU builds for firmware: the boot order, SMBIOS, the
 * files of -fw_cfg and of option ROMs, and the ACPI tables.
 */
static void virt_pcie_create_fw_cfg(RISCVVirtPcieState *s, PCIBus *bus)
{
    MachineState *ms = MACHINE(s);
    PCIDevice *dev;

    dev = pci_new(VIRT_PCIE_FW_CFG_DEVFN, TYPE_FW_CFG_PCI);
    qdev_prop_set_uint32(DEVICE(dev), "ea-mem-base",
                         VIRT_PCIE_FW_CFG_MEM_BASE);
    pci_realize_and_unref(dev, bus, &error_fatal);
    s->fw_cfg = fw_cfg_find();
    fw_cfg_add_i16(s->fw_cfg, FW_CFG_NB_CPUS, ms->smp.cpus);
    rom_set_fw(s->fw_cfg);
}

/*
 * Flash bank 1 holds the UEFI variables.  Read-only, every variable write
 * (a boot order, "efibootmgr") would fail in the guest, or worse, seem to
 * work until the next boot: refuse it where it is given.  (10.0 started
 * with it, so it still does.)
 */
static void virt_pcie_check_vars(RISCVVirtPcieState *s)
{
    BlockBackend *vars = pflash_cfi01_get_blk(s->flash[1]);

    if (RISCV_VIRT_PCIE_MACHINE_GET_CLASS(s)->writable_vars &&
        vars && !blk_is_writable(vars)) {
        error_report("flash bank 1 (-drive if=pflash,unit=1) holds the "
                     "UEFI variables and must be writable: drop readonly=on "
                     "from that -drive");
        exit(1);
    }
}

static RiscvMhBoot virt_pcie_boot(RISCVVirtPcieState *s)
{
    return (RiscvMhBoot) {
        .dram_base = virt_pcie_memmap[VIRT_PCIE_DRAM].base,
        .mrom = virt_pcie_memmap[VIRT_PCIE_MROM],
        .flash_base = virt_pcie_memmap[VIRT_PCIE_FLASH].base,
        .flash0 = s->flash[0],
    };
}

/* Once every device exists: the device tree, the firmware, the boot */
static void virt_pcie_machine_done(Notifier *notifier, void *data)
{
    RISCVVirtPcieState *s = container_of(notifier, RISCVVirtPcieState,
                                         machine_done);
    RiscvMhBoot boot = virt_pcie_boot(s);

    virt_pcie_fdt(s);
    riscv_mh_firmware_default(MACHINE(s), VIRT_PCIE_FIRMWARE);
    riscv_mh_boot(MACHINE(s), &s->soc[0], &boot);
    if (s->fw_cfg) {
        riscv_mh_smbios(MACHINE(s), s->fw_cfg, "QEMU Virtual Machine",
                        virt_pcie_memmap[VIRT_PCIE_DRAM].base, &s->soc[0]);
    }
    if (s->acpi) {
        virt_pcie_acpi_setup(s);
    }
}

static void virt_pcie_machine_init(MachineState *ms)
{
    RISCVVirtPcieState *s = RISCV_VIRT_PCIE_MACHINE(ms);
    const MemMapEntry *memmap = virt_pcie_memmap;
    MemoryRegion *sysmem = get_system_memory();
    RiscvMhPcie host = virt_pcie_host();
    DeviceState *gpex;
    int sockets;

    if (kvm_enabled()) {
        error_report("virt-pcie: KVM is not supported yet, use TCG");
        exit(1);
    }
    virt_pcie_check_ram(ms->ram_size, &error_fatal);
    if (machine_usb(ms)) {
        error_report("virt-pcie: usb=on asks for a built-in USB controller, "
                     "which the machine does not have: add one with "
                     "-device qemu-xhci");
        exit(1);
    }
    riscv_mh_dtb_check(ms->dtb, &error_fatal);
    virt_pcie_check_firmware_config(s);
    sockets = virt_pcie_check_harts(ms);

    /* One memory topology update for all harts and interrupt files */
    memory_region_transaction_begin();
    for (int i = 0; i < sockets; i++) {
        virt_pcie_create_socket(s, i);
    }
    memory_region_transaction_commit();

    riscv_mh_map_memory(ms, memmap[VIRT_PCIE_DRAM].base,
                        &memmap[VIRT_PCIE_MROM], "riscv_virt_pcie.mrom");
    sifive_test_create(memmap[VIRT_PCIE_TEST].base);
    sysbus_create_simple("goldfish_rtc", memmap[VIRT_PCIE_RTC].base,
                         qdev_get_gpio_in(s->aplic[0], VIRT_PCIE_IRQ_RTC));
    riscv_mh_flash_map(s->flash, VIRT_PCIE_FLASH_BANKS,
                       &memmap[VIRT_PCIE_FLASH], sysmem);
    virt_pcie_check_vars(s);

    gpex = riscv_mh_gpex_create(&host, s->aplic[0]);
    s->pci_bus = PCI_HOST_BRIDGE(gpex)->bus;
    virt_pcie_create_console(s, PCI_HOST_BRIDGE(gpex)->bus);
    if (RISCV_VIRT_PCIE_MACHINE_GET_CLASS(s)->power_button) {
        virt_pcie_create_power_button(PCI_HOST_BRIDGE(gpex)->bus);
    }
    if (s->fw_cfg_on) {
        virt_pcie_create_fw_cfg(s, PCI_HOST_BRIDGE(gpex)->bus);
    }

    s->machine_done.notify = virt_pcie_machine_done;
    qemu_add_machine_init_done_notifier(&s->machine_done);
}

/*
 * -device riscv-iommu-pci: the device tree describes one IOMMU, on the
 * root bus, and it is built once, when the machine is created.
 */
static HotplugHandler *virt_pcie_get_hotplug_handler(MachineState *ms,
                                                     DeviceState *dev)
{
    if (object_dynamic_cast(OBJECT(dev), TYPE_RISCV_IOMMU_PCI)) {
        return HOTPLUG_HANDLER(ms);
    }
    return NULL;
}

static void virt_pcie_device_pre_plug(HotplugHandler *hotplug_dev,
                                      DeviceState *dev, Error **errp)
{
    RISCVVirtPcieState *s = RISCV_VIRT_PCIE_MACHINE(hotplug_dev);
    PCIDevice *pdev = PCI_DEVICE(dev);
    PCIBus *bus = pci_get_bus(pdev);

    /* (It cannot be hot-plugged: the device itself refuses that) */
    if (s->iommu) {
        error_setg(errp, "virt-pcie: a second %s%s%s%s is not supported; "
                   "the first one translates for the whole PCIe domain",
                   TYPE_RISCV_IOMMU_PCI, dev->id ? " ('" : "",
                   dev->id ?: "", dev->id ? "')" : "");
    } else if (!pci_bus_is_root(bus)) {
        error_setg(errp, "virt-pcie: %s must be on the root bus, not on "
                   "bus '%s'", TYPE_RISCV_IOMMU_PCI, BUS(bus)->name);
    }
}

static void virt_pcie_device_plug(HotplugHandler *hotplug_dev,
                                  DeviceState *dev, Error **errp)
{
    RISCVVirtPcieState *s = RISCV_VIRT_PCIE_MACHINE(hotplug_dev);
    RISCVVirtPcieMachineClass *vmc = RISCV_VIRT_PCIE_MACHINE_GET_CLASS(s);

    s->iommu = PCI_DEVICE(dev);
    if (!vmc->iommu_fdt) {
        warn_report("virt-pcie: %s does not describe %s to the guest; "
                    "use a newer machine version", MACHINE_CLASS(vmc)->name,
                    TYPE_RISCV_IOMMU_PCI);
    }
}

/* Machine properties */

static void virt_pcie_get_aia_guests(Object *obj, Visitor *v,
                                     const char *name, void *opaque,
                                     Error **errp)
{
    RISCVVirtPcieState *s = RISCV_VIRT_PCIE_MACHINE(obj);

    visit_type_uint32(v, name, &s->aia_guests, errp);
}

static void virt_pcie_set_aia_guests(Object *obj, Visitor *v,
                                     const char *name, void *opaque,
                                     Error **errp)
{
    RISCVVirtPcieState *s = RISCV_VIRT_PCIE_MACHINE(obj);
    int64_t value;

    /* Signed, so that a negative value is named in the error too */
    if (!visit_type_int64(v, name, &value, errp)) {
        return;
    }
    if (value < 0 || value > VIRT_PCIE_AIA_GUESTS_MAX) {
        error_setg(errp, "Invalid aia-guests value %" PRId64
                   ": 0 to %d guest interrupt files per hart",
                   value, VIRT_PCIE_AIA_GUESTS_MAX);
        return;
    }
    s->aia_guests = value;
}

static char *virt_pcie_get_stdout(Object *obj, Error **errp)
{
    return g_strdup(RISCV_VIRT_PCIE_MACHINE(obj)->stdout_uart ? "uart"
                                                               : "pci");
}

static void virt_pcie_set_stdout(Object *obj, const char *value,
                                 Error **errp)
{
    RISCVVirtPcieState *s = RISCV_VIRT_PCIE_MACHINE(obj);

    if (RISCV_VIRT_PCIE_MACHINE_GET_CLASS(s)->console_io) {
        error_setg(errp, "Invalid stdout value '%s': %s has only the "
                   "console's firmware view", value,
                   MACHINE_GET_CLASS(obj)->name);
    } else if (!strcmp(value, "pci") || !strcmp(value, "uart")) {
        s->stdout_uart = !strcmp(value, "uart");
    } else {
        error_setg(errp, "Invalid stdout value '%s': 'pci' (the console "
                   "function's node) or 'uart' (its firmware view)", value);
    }
}

static bool virt_pcie_get_fw_cfg(Object *obj, Error **errp)
{
    return RISCV_VIRT_PCIE_MACHINE(obj)->fw_cfg_on;
}

static void virt_pcie_set_fw_cfg(Object *obj, bool value, Error **errp)
{
    RISCV_VIRT_PCIE_MACHINE(obj)->fw_cfg_on = value;
}

static bool virt_pcie_get_acpi(Object *obj, Error **errp)
{
    return RISCV_VIRT_PCIE_MACHINE(obj)->acpi;
}

static void virt_pcie_set_acpi(Object *obj, bool value, Error **errp)
{
    RISCV_VIRT_PCIE_MACHINE(obj)->acpi = value;
}

/* Refuse a RAM size out of range before the host memory is allocated */
static bool virt_pcie_create_default_memdev(MachineState *ms,
                                            const char *path, Error **errp)
{
    RISCVVirtPcieMachineClass *vmc = RISCV_VIRT_PCIE_MACHINE_GET_CLASS(ms);

    return virt_pcie_check_ram(ms->ram_size, errp) &&
           vmc->parent_create_default_memdev(ms, path, errp);
}

static void virt_pcie_instance_init(Object *obj)
{
    RISCVVirtPcieState *s = RISCV_VIRT_PCIE_MACHINE(obj);
    RISCVVirtPcieMachineClass *vmc = RISCV_VIRT_PCIE_MACHINE_GET_CLASS(obj);

    riscv_mh_flash_create(obj, "virt-pcie", s->flash, VIRT_PCIE_FLASH_BANKS);
    s->aia_guests = VIRT_PCIE_AIA_GUESTS_MAX;
    s->fw_cfg_on = vmc->acpi;
    s->acpi = vmc->acpi;
}

static void virt_pcie_class_init(ObjectClass *oc, const void *data)
{
    MachineClass *mc = MACHINE_CLASS(oc);
    RISCVVirtPcieMachineClass *vmc = RISCV_VIRT_PCIE_MACHINE_CLASS(oc);

    HotplugHandlerClass *hc = HOTPLUG_HANDLER_CLASS(oc);

    mc->init = virt_pcie_machine_init;
    mc->max_cpus = VIRT_PCIE_CPUS_MAX;
    mc->default_cpu_type = TYPE_RISCV_CPU_BASE;
    mc->default_ram_id = "riscv_virt_pcie.ram";
    mc->block_default_type = IF_VIRTIO;
    mc->no_cdrom = 1;
    mc->no_floppy = 1;
    mc->no_parallel = 1;
    riscv_mh_machine_class_numa(mc);
    vmc->parent_create_default_memdev = mc->create_default_memdev;
    mc->create_default_memdev = virt_pcie_create_default_memdev;
    mc->get_hotplug_handler = virt_pcie_get_hotplug_handler;
    hc->pre_plug = virt_pcie_device_pre_plug;
    hc->plug = virt_pcie_device_plug;
    /* The newest version's platform; older versions change it below */
    vmc->iommu_fdt = true;
    vmc->smp_topology = true;
    vmc->power_button = true;
    vmc->writable_vars = true;
    vmc->fw_cfg = true;
    vmc->acpi = true;
    mc->smp_props.clusters_supported = true;
    vmc->timebase_freq = VIRT_PCIE_TIMEBASE_FREQ;

    object_class_property_add(oc, "aia-guests", "uint32",
                              virt_pcie_get_aia_guests,
                              virt_pcie_set_aia_guests, NULL, NULL);
    object_class_property_set_description(oc, "aia-guests",
        "Guest interrupt files per hart in the S-level IMSIC (0 to 7)");
    object_class_property_add_str(oc, "stdout", virt_pcie_get_stdout,
                                  virt_pcie_set_stdout);
    object_class_property_set_description(oc, "stdout",
        "What the device tree's stdout-path names: 'pci', the console "
        "function (Linux then needs no console=), or 'uart', its firmware "
        "view (for readers without PCI support)");
    object_class_property_add_bool(oc, "fw-cfg", virt_pcie_get_fw_cfg,
                                   virt_pcie_set_fw_cfg);
    object_class_property_set_description(oc, "fw-cfg",
        "QEMU's firmware configuration (boot order, SMBIOS, -fw_cfg, "
        "ACPI) as the PCI function 00:00.3, for UEFI firmware (default on "
        "since virt-pcie-11.0, off on 10.2)");
    object_class_property_add_bool(oc, "acpi", virt_pcie_get_acpi,
                                   virt_pcie_set_acpi);
    object_class_property_set_description(oc, "acpi",
        "ACPI tables for UEFI firmware, which then hands the OS no device "
        "tree (virt-pcie-11.0 or later; default on)");
}

static const TypeInfo virt_pcie_typeinfo = {
    .name = TYPE_RISCV_VIRT_PCIE_MACHINE,
    .parent = TYPE_MACHINE,
    .abstract = true,
    .class_init = virt_pcie_class_init,
    .instance_init = virt_pcie_instance_init,
    .instance_size = sizeof(RISCVVirtPcieState),
    .class_size = sizeof(RISCVVirtPcieMachineClass),
    .interfaces = (const InterfaceInfo[]) {
        { TYPE_HOTPLUG_HANDLER },
        { }
    },
};

static void virt_pcie_register_types(void)
{
    type_register_static(&virt_pcie_typeinfo);
}

type_init(virt_pcie_register_types)

/* Versions: "virt-pcie-X.Y", the newest also named "virt-pcie" */

#define DEFINE_VIRT_PCIE_MACHINE_IMPL(latest, ...) \
    static void MACHINE_VER_SYM(class_init, virt_pcie, __VA_ARGS__)( \
        ObjectClass *oc, \
        const void *data) \
    { \
        MachineClass *mc = MACHINE_CLASS(oc); \
        MACHINE_VER_SYM(options, virt_pcie, __VA_ARGS__)(mc); \
        mc->desc = "RISC-V PCIe-only MSI-only board (version " \
            MACHINE_VER_STR(__VA_ARGS__) ")"; \
        MACHINE_VER_DEPRECATION(__VA_ARGS__); \
        if (latest) { \
            mc->alias = "virt-pcie"; \
        } \
    } \
    static const TypeInfo MACHINE_VER_SYM(info, virt_pcie, __VA_ARGS__) = \
    { \
        .name = MACHINE_VER_TYPE_NAME("virt-pcie", __VA_ARGS__), \
        .parent = TYPE_RISCV_VIRT_PCIE_MACHINE, \
        .class_init = MACHINE_VER_SYM(class_init, virt_pcie, __VA_ARGS__), \
    }; \
    static void MACHINE_VER_SYM(register, virt_pcie, __VA_ARGS__)(void) \
    { \
        MACHINE_VER_DELETION(__VA_ARGS__); \
        type_register_static(&MACHINE_VER_SYM(info, virt_pcie, __VA_ARGS__)); \
    } \
    type_init(MACHINE_VER_SYM(register, virt_pcie, __VA_ARGS__));

#define DEFINE_VIRT_PCIE_MACHINE_AS_LATEST(major, minor) \
    DEFINE_VIRT_PCIE_MACHINE_IMPL(true, major, minor)
#define DEFINE_VIRT_PCIE_MACHINE(major, minor) \
    DEFINE_VIRT_PCIE_MACHINE_IMPL(false, major, minor)

/*
 * Device defaults of the platform: modern, MSI-capable functions.  The
 * newest version sets them; older versions call the next newer version's
 * options and then add their compat properties, so all versions have them.
 */
static GlobalProperty virt_pcie_defaults[] = {
    { "virtio-pci", "disable-legacy", "on" },
    { "pci-serial", "msi", "on" },
    { "pci-serial", "msix", "on" },
    { "pci-serial-2x", "msi", "on" },
    { "pci-serial-2x", "msix", "on" },
    { "pci-serial-4x", "msi", "on" },
    { "pci-serial-4x", "msix", "on" },
};

static void virt_pcie_machine_11_0_options(MachineClass *mc)
{
    compat_props_add(mc->compat_props, virt_pcie_defaults,
                     G_N_ELEMENTS(virt_pcie_defaults));
}
DEFINE_VIRT_PCIE_MACHINE_AS_LATEST(11, 0)

/*
 * 10.2: no ACPI tables, fw_cfg only with fw-cfg=on, and the device tree's
 * I/O window starts at bus address 0.
 */
static void virt_pcie_machine_10_2_options(MachineClass *mc)
{
    RISCVVirtPcieMachineClass *vmc = RISCV_VIRT_PCIE_MACHINE_CLASS(mc);

    virt_pcie_machine_11_0_options(mc);
    vmc->acpi = false;
}
DEFINE_VIRT_PCIE_MACHINE(10, 2)

/*
 * 10.0: the console's fixed range is in I/O space, the time CSR counts at
 * 10 MHz and the device tree has no IOMMU; the multi-port cards had no
 * MSI or MSI-X by default; the harts' ISA strings, the PMP entries and the
 * interrupt controllers' stream versions are those QEMU 10.0 had.
 */
static GlobalProperty virt_pcie_compat_10_0[] = {
    { "pci-serial-2x", "msi", "off" },
    { "pci-serial-2x", "msix", "off" },
    { "pci-serial-4x", "msi", "off" },
    { "pci-serial-4x", "msix", "off" },
    { TYPE_RISCV_CPU, "x-isa-hidden", "sdtrig,ssstrict" },
    { TYPE_RISCV_CPU, "x-migrate-16-pmp", "on" },
    { TYPE_RISCV_APLIC, "x-migrate-v2", "on" },
    { TYPE_RISCV_IMSIC, "x-migrate-v1", "on" },
    { TYPE_RISCV_ACLINT_MTIMER, "x-migrate-v1", "on" },
};

static void virt_pcie_machine_10_0_options(MachineClass *mc)
{
    RISCVVirtPcieMachineClass *vmc = RISCV_VIRT_PCIE_MACHINE_CLASS(mc);

    virt_pcie_machine_10_2_options(mc);
    vmc->console_io = true;
    vmc->iommu_fdt = false;
    vmc->smp_topology = false;
    vmc->power_button = false;
    vmc->writable_vars = false;
    vmc->fw_cfg = false;
    mc->smp_props.clusters_supported = false;
    vmc->timebase_freq = RISCV_ACLINT_DEFAULT_TIMEBASE_FREQ;
    mc->max_cpus = VIRT_PCIE_CPUS_MAX_10_0;
    compat_props_add(mc->compat_props, hw_compat_10_1, hw_compat_10_1_len);
    compat_props_add(mc->compat_props, hw_compat_10_0, hw_compat_10_0_len);
    compat_props_add(mc->compat_props, virt_pcie_compat_10_0,
                     G_N_ELEMENTS(virt_pcie_compat_10_0));
}
DEFINE_VIRT_PCIE_MACHINE(10, 0)
