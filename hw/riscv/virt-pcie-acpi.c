/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * RISC-V "virt-pcie" board: ACPI tables (acpi=on, virt-pcie-11.0)
 *
 * Copyright (c) 2026 virt-pcie developers
 *
 * QEMU builds the tables and hands them to the firmware through fw_cfg
 * (the function 00:00.3): etc/acpi/tables, etc/acpi/rsdp and the
 * table-loader's commands that link them.  The tables are built again
 * when the firmware first reads them, after it has enumerated PCI.
 * docs/specs/riscv-virt-pcie.rst ("ACPI") lists them.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/acpi/acpi-defs.h"
#include "hw/acpi/aml-build.h"
#include "hw/acpi/pci.h"
#include "hw/loader.h"
#include "hw/pci-host/gpex.h"
#include "hw/riscv/machine_helper.h"
#include "hw/riscv/numa.h"
#include "hw/riscv/virt-pcie.h"
#include "migration/vmstate.h"
#include "system/numa.h"
#include "system/reset.h"

/* The tables blob grows in steps of this, so its size rarely changes */
#define VIRT_PCIE_ACPI_ALIGN        0x20000

/* The least room of the table files, as acpi_add_rom_blob() gives */
#define VIRT_PCIE_ACPI_TABLES_MAX   0x200000
#define VIRT_PCIE_ACPI_LOADER_MAX   0x10000
#define VIRT_PCIE_ACPI_RSDP_MAX     0x1000

#define VIRT_PCIE_ACPI_OEM          ACPI_BUILD_APPNAME6
#define VIRT_PCIE_ACPI_OEM_TABLE    ACPI_BUILD_APPNAME8

/* SPCR: 16550 interface type, 115200 baud, ANSI terminal */
#define VIRT_PCIE_SPCR_16550        0x12
#define VIRT_PCIE_SPCR_115200       7
#define VIRT_PCIE_SPCR_ANSI         3
#define VIRT_PCIE_SPCR_IRQ_APLIC    (1 << 4)
#define VIRT_PCIE_SPCR_NAMESPACE    "."

typedef struct VirtPcieAcpiState {
    MemoryRegion *tables;
    MemoryRegion *rsdp;
    MemoryRegion *loader;
    bool built;     /* rebuilt since reset, when firmware read them */
} VirtPcieAcpiState;

/* The GSI of wired source @irq of socket 0's S-level domain */
static uint32_t virt_pcie_acpi_gsi(uint32_t irq)
{
    RiscvMhAplic aplic = virt_pcie_aplic();

    return riscv_mh_acpi_gsi_base(&aplic, 0) + irq;
}

/*
 * The Goldfish RTC.  It has no ACPI ID of its own: _HID PRP0001 and a
 * _DSD "compatible" let an OS bind its device-tree driver (Linux's
 * rtc-goldfish).  Its alarm is source 1 of socket 0's S-level APLIC.
 */
static void virt_pcie_acpi_dsdt_rtc(Aml *scope)
{
    const MemMapEntry *rtc = &virt_pcie_memmap[VIRT_PCIE_RTC];
    uint32_t gsi = virt_pcie_acpi_gsi(VIRT_PCIE_IRQ_RTC);
    Aml *dev = aml_device("RTC0");
    Aml *crs = aml_resource_template();
    Aml *dsd = aml_package(2);
    Aml *props = aml_package(1);
    Aml *compat = aml_package(2);

    aml_append(dev, aml_name_decl("_HID", aml_string("PRP0001")));
    aml_append(dev, aml_name_decl("_UID", aml_int(0)));
    aml_append(compat, aml_string("compatible"));
    aml_append(compat, aml_string("google,goldfish-rtc"));
    aml_append(props, compat);
    /* Device Properties UUID (ACPI _DSD Implementation Guide) */
    aml_append(dsd, aml_touuid("DAFFD814-6EBA-4D8C-8A91-BC9BBF4AA301"));
    aml_append(dsd, props);
    aml_append(dev, aml_name_decl("_DSD", dsd));
    aml_append(crs, aml_memory32_fixed(rtc->base, rtc->size, AML_READ_WRITE));
    aml_append(crs, aml_interrupt(AML_CONSUMER, AML_LEVEL, AML_ACTIVE_HIGH,
                                  AML_EXCLUSIVE, &gsi, 1));
    aml_append(dev, aml_name_decl("_CRS", crs));
    aml_append(scope, dev);
}

static void virt_pcie_acpi_dsdt(GArray *out, BIOSLinker *linker,
                                RISCVVirtPcieState *s)
{
    MachineState *ms = MACHINE(s);
    AcpiTable table = { .sig = "DSDT", .rev = 2,
                        .oem_id = VIRT_PCIE_ACPI_OEM,
                        .oem_table_id = VIRT_PCIE_ACPI_OEM_TABLE };
    RiscvMhImsic imsic = virt_pcie_imsic(s, RISCV_MH_MODE_S);
    RiscvMhAplic aplic = virt_pcie_aplic();
    RiscvMhPcie host = virt_pcie_host();
    struct GPEXConfig gpex = {
        .ecam = host.ecam,
        .mmio32 = host.mmio,
        .mmio64 = host.mmio_high,
        .pio = host.pio,
        .irq = virt_pcie_acpi_gsi(host.intx_irq),
        .bus = s->pci_bus,
        .pci_native_hotplug = true,
        .preserve_config = true,
    };
    Aml *dsdt, *scope;

    acpi_table_begin(&table, out);
    dsdt = init_aml_allocator();
    scope = aml_scope("\\_SB");
    riscv_mh_acpi_dsdt_harts(scope, ms, s->soc, &imsic);
    riscv_mh_acpi_dsdt_aplics(scope, ms, &aplic);
    virt_pcie_acpi_dsdt_rtc(scope);
    acpi_dsdt_add_gpex(scope, &gpex);
    aml_append(dsdt, scope);
    g_array_append_vals(out, dsdt->buf->data, dsdt->buf->len);
    acpi_table_end(linker, &table);
    free_aml_allocator();
}

/*
 * The console's registers as the OS drives them.  Stock Linux binds the
 * function by its I/O BAR 0 and takes an SPCR console only when the
 * SPCR's address is that BAR's, so once firmware has assigned the BAR
 * (the tables are built again when it reads them, after enumeration)
 * the SPCR names it, and the DSDT tells the OS to keep it there.  Before
 * that, and if firmware leaves BAR 0 unassigned, the SPCR names the
 * platform-fixed memory range.
 */
static struct AcpiGas virt_pcie_acpi_console_regs(RISCVVirtPcieState *s)
{
    PCIDevice *console = pci_find_device(s->pci_bus, 0,
                                         VIRT_PCIE_CONSOLE_DEVFN);
    uint32_t bar = 0;
    struct AcpiGas regs = {
        .id = AML_AS_SYSTEM_MEMORY,
        .width = 8,
        .size = 1,              /* byte access */
        .addr = VIRT_PCIE_CONSOLE_MEM_BASE,
    };

    if (console) {
        bar = pci_get_long(console->config + PCI_BASE_ADDRESS_0);
    }
    if ((bar & PCI_BASE_ADDRESS_SPACE_IO) &&
        (bar & PCI_BASE_ADDRESS_IO_MASK)) {
        regs.id = AML_AS_SYSTEM_IO;
        regs.addr = bar & PCI_BASE_ADDRESS_IO_MASK;
    }
    return regs;
}

/*
 * The console, by its PCI location and its registers, interrupting by
 * INTA of slot 0.
 */
static void virt_pcie_acpi_spcr(GArray *out, BIOSLinker *linker,
                                RISCVVirtPcieState *s)
{
    AcpiSpcrData spcr = {
        .interface_type = VIRT_PCIE_SPCR_16550,
        .base_addr = virt_pcie_acpi_console_regs(s),
        .interrupt_type = VIRT_PCIE_SPCR_IRQ_APLIC,
        .interrupt = virt_pcie_acpi_gsi(VIRT_PCIE_IRQ_PCIE_INTA),
        .baud_rate = VIRT_PCIE_SPCR_115200,
        .stop_bits = 1,
        .terminal_type = VIRT_PCIE_SPCR_ANSI,
        .pci_device_id = PCI_DEVICE_ID_REDHAT_SERIAL,
        .pci_vendor_id = PCI_VENDOR_ID_REDHAT,
        .pci_bus = 0,
        .pci_device = PCI_SLOT(VIRT_PCIE_CONSOLE_DEVFN),
        .pci_function = PCI_FUNC(VIRT_PCIE_CONSOLE_DEVFN),
        .uart_clk_freq = 1843200,
        .namespace_string_length = sizeof(VIRT_PCIE_SPCR_NAMESPACE),
        .namespace_string_offset = 88,  /* right after the fixed fields */
    };

    build_spcr(out, linker, &spcr, 4, VIRT_PCIE_ACPI_OEM,
               VIRT_PCIE_ACPI_OEM_TABLE, VIRT_PCIE_SPCR_NAMESPACE);
}

/* Memory of each NUMA node, one after the other, and the nodes' harts */
static void virt_pcie_acpi_srat(GArray *out, BIOSLinker *linker,
                                RISCVVirtPcieState *s)
{
    MachineState *ms = MACHINE(s);
    AcpiTable table = { .sig = "SRAT", .rev = 3,
                        .oem_id = VIRT_PCIE_ACPI_OEM,
                        .oem_table_id = VIRT_PCIE_ACPI_OEM_TABLE };
    hwaddr addr = virt_pcie_memmap[VIRT_PCIE_DRAM].base;

    acpi_table_begin(&table, out);
    build_append_int_noprefix(out, 1, 4);   /* reserved, 1 for compat */
    build_append_int_noprefix(out, 0, 8);
    riscv_mh_acpi_srat_harts(out, ms, s->soc);
    for (int i = 0; i < ms->numa_state->num_nodes; i++) {
        uint64_t size = ms->numa_state->nodes[i].node_mem;

        if (size) {
            build_srat_memory(out, addr, size, i, MEM_AFFINITY_ENABLED);
            addr += size;
        }
    }
    acpi_table_end(linker, &table);
}

static void virt_pcie_acpi_build(RISCVVirtPcieState *s, AcpiBuildTables *t)
{
    MachineState *ms = MACHINE(s);
    RiscvMhImsic imsic = virt_pcie_imsic(s, RISCV_MH_MODE_S);
    RiscvMhAplic aplic = virt_pcie_aplic();
    GArray *blob = t->table_data;
    g_autoptr(GArray) offsets = g_array_new(false, true, sizeof(uint32_t));
    AcpiMcfgInfo mcfg = {
        .base = virt_pcie_memmap[VIRT_PCIE_ECAM].base,
        .size = virt_pcie_memmap[VIRT_PCIE_ECAM].size,
    };
    char oem_id[] = VIRT_PCIE_ACPI_OEM;     /* the RSDP's is not const */
    unsigned dsdt, xsdt;
    AcpiFadtData fadt = {
        .rev = 6,
        .minor_ver = 5,
        .flags = 1 << ACPI_FADT_F_HW_REDUCED_ACPI,
        .xdsdt_tbl_offset = &dsdt,
    };
    AcpiRsdpData rsdp = {
        .revision = 2,
        .oem_id = oem_id,
        .xsdt_tbl_offset = &xsdt,
    };

    bios_linker_loader_alloc(t->linker, ACPI_BUILD_TABLE_FILE, blob, 64,
                             false);
    dsdt = blob->len;
    virt_pcie_acpi_dsdt(blob, t->linker, s);

    acpi_add_table(offsets, blob);
    build_fadt(blob, t->linker, &fadt, VIRT_PCIE_ACPI_OEM,
               VIRT_PCIE_ACPI_OEM_TABLE);
    acpi_add_table(offsets, blob);
    riscv_mh_acpi_madt(blob, t->linker, ms, s->soc, &imsic, &aplic,
                       VIRT_PCIE_ACPI_OEM, VIRT_PCIE_ACPI_OEM_TABLE);
    acpi_add_table(offsets, blob);
    riscv_mh_acpi_rhct(blob, t->linker, ms, s->soc,
                       RISCV_VIRT_PCIE_MACHINE_GET_CLASS(s)->timebase_freq,
                       VIRT_PCIE_ACPI_OEM, VIRT_PCIE_ACPI_OEM_TABLE);
    acpi_add_table(offsets, blob);
    build_mcfg(blob, t->linker, &mcfg, VIRT_PCIE_ACPI_OEM,
               VIRT_PCIE_ACPI_OEM_TABLE);
    acpi_add_table(offsets, blob);
    virt_pcie_acpi_spcr(blob, t->linker, s);
    if (s->iommu) {
        acpi_add_table(offsets, blob);
        riscv_mh_acpi_rimt(blob, t->linker, pci_get_bdf(s->iommu),
                           VIRT_PCIE_ACPI_OEM, VIRT_PCIE_ACPI_OEM_TABLE);
    }
    if (riscv_mh_numa_enabled(ms)) {
        acpi_add_table(offsets, blob);
        virt_pcie_acpi_srat(blob, t->linker, s);
        if (ms->numa_state->have_numa_distance) {
            acpi_add_table(offsets, blob);
            build_slit(blob, t->linker, ms, VIRT_PCIE_ACPI_OEM,
                       VIRT_PCIE_ACPI_OEM_TABLE);
        }
    }

    xsdt = blob->len;
    build_xsdt(blob, t->linker, offsets, VIRT_PCIE_ACPI_OEM,
               VIRT_PCIE_ACPI_OEM_TABLE);
    build_rsdp(t->rsdp, t->linker, &rsdp);

    g_array_set_size(blob, ROUND_UP(acpi_data_len(blob),
                                    VIRT_PCIE_ACPI_ALIGN));
}

/* Replace the contents of @mr, a fw_cfg file, with @data */
static void virt_pcie_acpi_copy(MemoryRegion *mr, GArray *data)
{
    uint32_t size = acpi_data_len(data);

    memory_region_ram_resize(mr, size, &error_abort);
    memcpy(memory_region_get_ram_ptr(mr), data->data, size);
    memory_region_set_dirty(mr, 0, size);
}

/* The firmware reads a table file: build them again, once per reset */
static void virt_pcie_acpi_update(void *opaque)
{
    VirtPcieAcpiState *a = opaque;
    AcpiBuildTables t;

    if (a->built) {
        return;
    }
    a->built = true;
    acpi_build_tables_init(&t);
    virt_pcie_acpi_build(RISCV_VIRT_PCIE_MACHINE(qdev_get_machine()), &t);
    virt_pcie_acpi_copy(a->tables, t.table_data);
    virt_pcie_acpi_copy(a->rsdp, t.rsdp);
    virt_pcie_acpi_copy(a->loader, t.linker->cmd_blob);
    acpi_build_tables_cleanup(&t, true);
}

static void virt_pcie_acpi_reset(void *opaque)
{
    ((VirtPcieAcpiState *)opaque)->built = false;
}

static const VMStateDescription vmstate_virt_pcie_acpi = {
    .name = "virt-pcie-acpi",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_BOOL(built, VirtPcieAcpiState),
        VMSTATE_END_OF_LIST()
    },
};

/*
 * A table file, with room to grow when it is built again.  Upstream's
 * acpi_add_rom_blob() gives the tables 2 MiB, which 16384 harts outgrow
 * (2.5 MiB): here the room is twice the first build, and at least that.
 * It follows from the command line, so both ends of a migration agree.
 */
static MemoryRegion *virt_pcie_acpi_add_blob(VirtPcieAcpiState *a,
                                             GArray *blob, const char *name,
                                             size_t least)
{
    size_t len = acpi_data_len(blob);

    return rom_add_blob(name, blob->data, len, MAX(least, 2 * len), -1,
                        name, virt_pcie_acpi_update, a, NULL, true);
}

void virt_pcie_acpi_setup(RISCVVirtPcieState *s)
{
    VirtPcieAcpiState *a = g_new0(VirtPcieAcpiState, 1);
    AcpiBuildTables t;

    acpi_build_tables_init(&t);
    virt_pcie_acpi_build(s, &t);
    a->tables = virt_pcie_acpi_add_blob(a, t.table_data,
                                        ACPI_BUILD_TABLE_FILE,
                                        VIRT_PCIE_ACPI_TABLES_MAX);
    a->loader = virt_pcie_acpi_add_blob(a, t.linker->cmd_blob,
                                        ACPI_BUILD_LOADER_FILE,
                                        VIRT_PCIE_ACPI_LOADER_MAX);
    a->rsdp = virt_pcie_acpi_add_blob(a, t.rsdp, ACPI_BUILD_RSDP_FILE,
                                      VIRT_PCIE_ACPI_RSDP_MAX);
    qemu_register_reset(virt_pcie_acpi_reset, a);
    vmstate_register(NULL, 0, &vmstate_virt_pcie_acpi, a);
    /* The blobs now belong to the fw_cfg files */
    acpi_build_tables_cleanup(&t, false);
}
