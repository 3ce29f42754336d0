/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * RISC-V board helpers: ACPI tables of the harts and of AIA (RHCT, the
 * MADT's RINTC, IMSIC and APLIC structures, their DSDT devices)
 *
 * Copyright (c) 2026 virt-pcie developers
 *
 * Layouts from the ACPI specification 6.6 (RHCT 5.2.37, MADT 5.2.12.26
 * to 5.2.12.28) and the RISC-V BRS (ACPI IDs of the AIA devices).
 */

#include "qemu/osdep.h"
#include "hw/acpi/aml-build.h"
#include "hw/boards.h"
#include "hw/intc/riscv_imsic.h"
#include "hw/riscv/machine_helper.h"
#include "hw/riscv/numa.h"
#include "target/riscv/cpu.h"

/* MADT structure types of RISC-V */
#define MH_MADT_RINTC           0x18
#define MH_MADT_IMSIC           0x19
#define MH_MADT_APLIC           0x1a
#define MH_MADT_RINTC_LEN       36
#define MH_MADT_IMSIC_LEN       16
#define MH_MADT_APLIC_LEN       36
#define MH_MADT_ENABLED         1

/* SRAT: RINTC affinity structure */
#define MH_SRAT_RINTC           7
#define MH_SRAT_RINTC_LEN       20

/* RHCT node types; the hart info node lists the others it uses */
#define MH_RHCT_ISA             0
#define MH_RHCT_CMO             1
#define MH_RHCT_MMU             2
#define MH_RHCT_HART_INFO       0xffff
#define MH_RHCT_NODES_OFFSET    56

/* The S-level files of hart @index of @socket, as the OS sees them */
static hwaddr mh_acpi_imsic_file(const RiscvMhImsic *d, int socket,
                                 int index, uint32_t *size)
{
    *size = IMSIC_HART_SIZE(riscv_mh_index_bits(d->guests + 1));
    return riscv_mh_imsic_group(d, socket) + (hwaddr)index * *size;
}

void riscv_mh_acpi_rintc(GArray *out, const RISCVHartArrayState *soc,
                         int socket, int index, uint32_t uid,
                         const RiscvMhImsic *imsic)
{
    uint32_t size;
    hwaddr file = mh_acpi_imsic_file(imsic, socket, index, &size);

    build_append_int_noprefix(out, MH_MADT_RINTC, 1);
    build_append_int_noprefix(out, MH_MADT_RINTC_LEN, 1);
    build_append_int_noprefix(out, 1, 1);               /* version */
    build_append_int_noprefix(out, 0, 1);
    build_append_int_noprefix(out, MH_MADT_ENABLED, 4);
    build_append_int_noprefix(out, soc[socket].hartid_base + index, 8);
    build_append_int_noprefix(out, uid, 4);
    /* No APLIC in direct mode: no interrupt delivery controller ID */
    build_append_int_noprefix(out, 0, 4);
    build_append_int_noprefix(out, file, 8);
    build_append_int_noprefix(out, size, 4);
}

/*
 * GSIs below 16 are the legacy ISA interrupts, some of which (0 to 2)
 * Linux never gives a PCI interrupt link: the sources start above them.
 */
#define MH_ACPI_GSI_FIRST       32

uint32_t riscv_mh_acpi_gsi_base(const RiscvMhAplic *aplic, int socket)
{
    return MH_ACPI_GSI_FIRST + socket * aplic->num_sources;
}

void riscv_mh_acpi_madt(GArray *table_data, BIOSLinker *linker,
                        MachineState *ms, const RISCVHartArrayState *soc,
                        const RiscvMhImsic *imsic, const RiscvMhAplic *aplic,
                        const char *oem_id, const char *oem_table_id)
{
    AcpiTable table = { .sig = "APIC", .rev = 7, .oem_id = oem_id,
                        .oem_table_id = oem_table_id };
    int sockets = riscv_socket_count(ms);
    int widest = 0;

    acpi_table_begin(&table, table_data);
    build_append_int_noprefix(table_data, 0, 4);    /* no local APIC */
    build_append_int_noprefix(table_data, 0, 4);    /* flags */

    /* ACPI processor UIDs count the harts socket by socket */
    for (int i = 0, uid = 0; i < sockets; i++) {
        for (int j = 0; j < soc[i].num_harts; j++) {
            riscv_mh_acpi_rintc(table_data, soc, i, j, uid++, imsic);
        }
        widest = MAX(widest, soc[i].num_harts);
    }
    build_append_int_noprefix(table_data, MH_MADT_IMSIC, 1);
    build_append_int_noprefix(table_data, MH_MADT_IMSIC_LEN, 1);
    build_append_int_noprefix(table_data, 1, 1);        /* version */
    build_append_int_noprefix(table_data, 0, 1);
    build_append_int_noprefix(table_data, 0, 4);        /* flags */
    build_append_int_noprefix(table_data, imsic->num_ids, 2);
    build_append_int_noprefix(table_data, imsic->num_ids, 2);  /* guests */
    build_append_int_noprefix(table_data,
                              riscv_mh_index_bits(imsic->guests + 1), 1);
    build_append_int_noprefix(table_data, riscv_mh_index_bits(widest), 1);
    build_append_int_noprefix(table_data, riscv_mh_index_bits(sockets), 1);
    build_append_int_noprefix(table_data, imsic->group_shift, 1);

    /* The S-level domains, in MSI mode: no IDCs */
    for (int i = 0; i < sockets; i++) {
        build_append_int_noprefix(table_data, MH_MADT_APLIC, 1);
        build_append_int_noprefix(table_data, MH_MADT_APLIC_LEN, 1);
        build_append_int_noprefix(table_data, 1, 1);    /* version */
        build_append_int_noprefix(table_data, i, 1);    /* APLIC ID */
        build_append_int_noprefix(table_data, 0, 4);    /* flags */
        build_append_int_noprefix(table_data, 0, 8);    /* hardware ID */
        build_append_int_noprefix(table_data, 0, 2);    /* IDCs */
        build_append_int_noprefix(table_data, aplic->num_sources, 2);
        build_append_int_noprefix(table_data,
                                  riscv_mh_acpi_gsi_base(aplic, i), 4);
        build_append_int_noprefix(table_data,
                                  aplic->s.base + i * aplic->s.size, 8);
        build_append_int_noprefix(table_data, aplic->s.size, 4);
    }
    acpi_table_end(linker, &table);
}

/* The MMU node's type: Sv39, Sv48 or Sv57 */
static int mh_rhct_mmu_type(const RISCVCPU *cpu)
{
    switch (cpu->cfg.max_satp_mode) {
    case VM_1_10_SV57:
        return 2;
    case VM_1_10_SV48:
        return 1;
    case VM_1_10_SV39:
        return 0;
    default:
        return -1;
    }
}

/* A block size of the CMO node: its log2, 0 if there is none */
static int mh_rhct_block(bool present, uint16_t size)
{
    return present && size ? ctz32(size) : 0;
}

void riscv_mh_acpi_rhct(GArray *table_data, BIOSLinker *linker,
                        MachineState *ms, RISCVHartArrayState *soc,
                        uint64_t timebase, const char *oem_id,
                        const char *oem_table_id)
{
    AcpiTable table = { .sig = "RHCT", .rev = 1, .oem_id = oem_id,
                        .oem_table_id = oem_table_id };
    RISCVCPU *cpu = &soc[0].harts[0];
    g_autofree char *isa = riscv_isa_string(cpu);
    bool cmo = cpu->cfg.ext_zicbom || cpu->cfg.ext_zicboz;
    int mmu = mh_rhct_mmu_type(cpu);
    uint32_t isa_node, cmo_node = 0, mmu_node = 0;
    uint32_t isa_len = strlen(isa) + 1;
    int nodes = 1 + cmo + (mmu >= 0) + ms->smp.cpus;
    int refs = 1 + cmo + (mmu >= 0);

    acpi_table_begin(&table, table_data);
    build_append_int_noprefix(table_data, 0, 4);        /* flags */
    build_append_int_noprefix(table_data, timebase, 8);
    build_append_int_noprefix(table_data, nodes, 4);
    build_append_int_noprefix(table_data, MH_RHCT_NODES_OFFSET, 4);

    /* ISA string, NUL included, padded to an even length */
    isa_node = table_data->len - table.table_offset;
    build_append_int_noprefix(table_data, MH_RHCT_ISA, 2);
    build_append_int_noprefix(table_data, ROUND_UP(8 + isa_len, 2), 2);
    build_append_int_noprefix(table_data, 1, 2);        /* revision */
    build_append_int_noprefix(table_data, isa_len, 2);
    g_array_append_vals(table_data, isa, isa_len);
    if (isa_len & 1) {
        build_append_int_noprefix(table_data, 0, 1);
    }

    if (cmo) {
        cmo_node = table_data->len - table.table_offset;
        build_append_int_noprefix(table_data, MH_RHCT_CMO, 2);
        build_append_int_noprefix(table_data, 10, 2);   /* length */
        build_append_int_noprefix(table_data, 1, 2);    /* revision */
        build_append_int_noprefix(table_data, 0, 1);
        build_append_int_noprefix(table_data,
            mh_rhct_block(cpu->cfg.ext_zicbom, cpu->cfg.cbom_blocksize), 1);
        build_append_int_noprefix(table_data, 0, 1);    /* no Zicbop */
        build_append_int_noprefix(table_data,
            mh_rhct_block(cpu->cfg.ext_zicboz, cpu->cfg.cboz_blocksize), 1);
    }

    if (mmu >= 0) {
        mmu_node = table_data->len - table.table_offset;
        build_append_int_noprefix(table_data, MH_RHCT_MMU, 2);
        build_append_int_noprefix(table_data, 8, 2);    /* length */
        build_append_int_noprefix(table_data, 1, 2);    /* revision */
        build_append_int_noprefix(table_data, 0, 1);
        build_append_int_noprefix(table_data, mmu, 1);
    }

    /* Every hart has the same ISA, CMO and MMU */
    for (uint32_t uid = 0; uid < ms->smp.cpus; uid++) {
        build_append_int_noprefix(table_data, MH_RHCT_HART_INFO, 2);
        build_append_int_noprefix(table_data, 12 + 4 * refs, 2);
        build_append_int_noprefix(table_data, 1, 2);    /* revision */
        build_append_int_noprefix(table_data, refs, 2);
        build_append_int_noprefix(table_data, uid, 4);
        build_append_int_noprefix(table_data, isa_node, 4);
        if (cmo_node) {
            build_append_int_noprefix(table_data, cmo_node, 4);
        }
        if (mmu_node) {
            build_append_int_noprefix(table_data, mmu_node, 4);
        }
    }
    acpi_table_end(linker, &table);
}

/*
 * "Cxxx", xxx the UID in base 36: a name segment has four characters,
 * and three base-36 digits number 46656 harts (hexadecimal only 4096).
 */
static void mh_acpi_hart_name(uint32_t uid, char name[5])
{
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

    assert(uid < 36 * 36 * 36);
    name[0] = 'C';
    for (int i = 3; i > 0; i--, uid /= 36) {
        name[i] = digits[uid % 36];
    }
    name[4] = 0;
}

void riscv_mh_acpi_dsdt_harts(Aml *scope, MachineState *ms,
                              const RISCVHartArrayState *soc,
                              const RiscvMhImsic *imsic)
{
    for (int i = 0, uid = 0; i < riscv_socket_count(ms); i++) {
        for (int j = 0; j < soc[i].num_harts; j++, uid++) {
            g_autoptr(GArray) mat = g_array_new(false, true, 1);
            char name[5];
            Aml *dev;

            mh_acpi_hart_name(uid, name);
            dev = aml_device("%s", name);
            riscv_mh_acpi_rintc(mat, soc, i, j, uid, imsic);
            aml_append(dev, aml_name_decl("_HID", aml_string("ACPI0007")));
            aml_append(dev, aml_name_decl("_UID", aml_int(uid)));
            aml_append(dev, aml_name_decl("_MAT",
                                          aml_buffer(mat->len,
                                                     (uint8_t *)mat->data)));
            aml_append(scope, dev);
        }
    }
}

void riscv_mh_acpi_dsdt_aplics(Aml *scope, MachineState *ms,
                               const RiscvMhAplic *aplic)
{
    for (int i = 0; i < riscv_socket_count(ms); i++) {
        Aml *dev = aml_device("IC%.02X", i);
        Aml *crs = aml_resource_template();

        aml_append(dev, aml_name_decl("_HID", aml_string("RSCV0002")));
        aml_append(dev, aml_name_decl("_UID", aml_int(i)));
        aml_append(dev, aml_name_decl("_GSB",
                                      aml_int(riscv_mh_acpi_gsi_base(aplic,
                                                                     i))));
        aml_append(crs, aml_memory32_fixed(aplic->s.base + i * aplic->s.size,
                                           aplic->s.size, AML_READ_WRITE));
        aml_append(dev, aml_name_decl("_CRS", crs));
        aml_append(scope, dev);
    }
}

void riscv_mh_acpi_srat_harts(GArray *out, MachineState *ms,
                              const RISCVHartArrayState *soc)
{
    for (int i = 0, uid = 0; i < riscv_socket_count(ms); i++) {
        for (int j = 0; j < soc[i].num_harts; j++, uid++) {
            build_append_int_noprefix(out, MH_SRAT_RINTC, 1);
            build_append_int_noprefix(out, MH_SRAT_RINTC_LEN, 1);
            build_append_int_noprefix(out, 0, 2);
            build_append_int_noprefix(out, i, 4);   /* proximity domain */
            build_append_int_noprefix(out, uid, 4);
            build_append_int_noprefix(out, MH_MADT_ENABLED, 4);
            build_append_int_noprefix(out, 0, 4);   /* clock domain */
        }
    }
}

/*
 * RIMT (RISC-V IO Mapping Table 1.0): the IOMMU node, then the root
 * complex node whose ID mappings send requester IDs to it
 */
#define MH_RIMT_NODES_OFFSET    48
#define MH_RIMT_IOMMU_LEN       40
#define MH_RIMT_RC_LEN          20
#define MH_RIMT_ID_MAP_LEN      20

/* An ID mapping of requester IDs @first..@last, unchanged, to the IOMMU */
static void mh_rimt_id_map(GArray *out, uint32_t first, uint32_t last,
                           uint32_t iommu_offset)
{
    build_append_int_noprefix(out, first, 4);           /* source base */
    build_append_int_noprefix(out, last - first, 4);    /* IDs, minus 1 */
    build_append_int_noprefix(out, first, 4);           /* device ID base */
    build_append_int_noprefix(out, iommu_offset, 4);
    build_append_int_noprefix(out, 0, 4);               /* flags */
}

void riscv_mh_acpi_rimt(GArray *table_data, BIOSLinker *linker,
                        uint16_t iommu_rid, const char *oem_id,
                        const char *oem_table_id)
{
    AcpiTable table = { .sig = "RIMT", .rev = 1, .oem_id = oem_id,
                        .oem_table_id = oem_table_id };
    int maps = (iommu_rid > 0) + (iommu_rid < 0xffff);
    uint32_t iommu_offset = MH_RIMT_NODES_OFFSET;

    acpi_table_begin(&table, table_data);
    build_append_int_noprefix(table_data, 2, 4);        /* nodes */
    build_append_int_noprefix(table_data, MH_RIMT_NODES_OFFSET, 4);
    build_append_int_noprefix(table_data, 0, 4);        /* reserved */

    /* The IOMMU, a PCIe function: no hardware ID, no base address */
    build_append_int_noprefix(table_data, 0, 1);        /* type: IOMMU */
    build_append_int_noprefix(table_data, 1, 1);        /* revision */
    build_append_int_noprefix(table_data, MH_RIMT_IOMMU_LEN, 2);
    build_append_int_noprefix(table_data, 0, 2);        /* reserved */
    build_append_int_noprefix(table_data, 0, 2);        /* ID */
    g_array_append_vals(table_data, "00000000", 8);     /* hardware ID */
    build_append_int_noprefix(table_data, 0, 8);        /* base address */
    build_append_int_noprefix(table_data, 1, 4);        /* flags: PCIe */
    build_append_int_noprefix(table_data, 0, 4);        /* proximity */
    build_append_int_noprefix(table_data, 0, 2);        /* PCI segment */
    build_append_int_noprefix(table_data, iommu_rid, 2);
    build_append_int_noprefix(table_data, 0, 2);        /* no wires: MSI */
    build_append_int_noprefix(table_data, MH_RIMT_IOMMU_LEN, 2);

    /* The root complex of segment 0: every requester ID but the IOMMU's */
    build_append_int_noprefix(table_data, 1, 1);        /* type: PCIe RC */
    build_append_int_noprefix(table_data, 1, 1);        /* revision */
    build_append_int_noprefix(table_data,
                              MH_RIMT_RC_LEN + maps * MH_RIMT_ID_MAP_LEN, 2);
    build_append_int_noprefix(table_data, 0, 2);        /* reserved */
    build_append_int_noprefix(table_data, 1, 2);        /* ID */
    build_append_int_noprefix(table_data, 0, 4);        /* flags: no ATS */
    build_append_int_noprefix(table_data, 0, 2);        /* reserved */
    build_append_int_noprefix(table_data, 0, 2);        /* PCI segment */
    build_append_int_noprefix(table_data, MH_RIMT_RC_LEN, 2);
    build_append_int_noprefix(table_data, maps, 2);
    if (iommu_rid > 0) {
        mh_rimt_id_map(table_data, 0, iommu_rid - 1, iommu_offset);
    }
    if (iommu_rid < 0xffff) {
        mh_rimt_id_map(table_data, iommu_rid + 1, 0xffff, iommu_offset);
    }
    acpi_table_end(linker, &table);
}
