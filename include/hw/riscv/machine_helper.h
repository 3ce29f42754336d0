/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Building blocks shared by the RISC-V "virt" and "virt-pcie" boards
 *
 * Copyright (c) 2025 virt-pcie developers
 *
 * Creation helpers instantiate devices; riscv_mh_fdt_* helpers write
 * device tree nodes with the qemu_fdt_* calls, as boards do.  Per-socket
 * windows are laid out as base + socket * stride.
 *
 * Upstream QEMU 11.1 grew shared RISC-V board helpers of its own
 * (hw/riscv/aia.c, hw/riscv/fdt-common.c).  Where a helper here does the
 * same job, it has the same parameters in the same order, so that a
 * board's call becomes a call to upstream's by renaming it:
 *
 *   machine_helper (here)          upstream 11.1
 *   -----------------------------  -------------------------------------
 *   riscv_mh_create_aia()          riscv_create_aia()        aia.c
 *   riscv_mh_index_bits()          imsic_num_bits()          aia.c
 *   riscv_mh_fdt_board()           create_board_device_tree() fdt-common.c
 *   riscv_mh_fdt_socket_memory()   create_fdt_socket_memory() fdt-common.c
 *   riscv_mh_fdt_socket_clint()    create_fdt_socket_clint() fdt-common.c
 *
 * Everything else has no upstream counterpart (yet): the per-hart and
 * per-socket building blocks the two helpers above are made of, the
 * IMSIC and APLIC nodes, MSI-mode APLIC domains with wide IMSIC groups,
 * the GPEX host, flash, syscon, RTC and the boot flow.
 */

#ifndef HW_RISCV_MACHINE_HELPER_H
#define HW_RISCV_MACHINE_HELPER_H

#include "exec/hwaddr.h"
#include "hw/boards.h"
#include "hw/block/flash.h"
#include "hw/riscv/riscv_hart.h"
#include "hw/acpi/aml-build.h"

/* Privilege level served by an interrupt controller */
typedef enum RiscvMhMode {
    RISCV_MH_MODE_M,
    RISCV_MH_MODE_S,
} RiscvMhMode;

/* How an APLIC domain delivers its interrupts */
typedef enum RiscvMhAplicDelivery {
    RISCV_MH_APLIC_DIRECT,      /* wired to the harts' external irq */
    RISCV_MH_APLIC_MSI,         /* forwarded as MSIs to the IMSICs */
} RiscvMhAplicDelivery;

/* Second cell of a two-cell interrupt specifier: level triggered, high */
#define RISCV_MH_IRQ_LEVEL_HIGH 4

/* An interrupt controller as seen by the devices wired to it */
typedef struct RiscvMhIrqParent {
    uint32_t phandle;
    uint32_t cells;             /* its #interrupt-cells: 1 or 2 */
} RiscvMhIrqParent;

/* The harts one interrupt node serves */
typedef struct RiscvMhHarts {
    int socket;                 /* socket, also its NUMA node */
    int count;                  /* number of harts */
    const uint32_t *intc;       /* phandles of their riscv,cpu-intc nodes */
} RiscvMhHarts;

/* One level of IMSIC files, one group of harts per socket */
typedef struct RiscvMhImsic {
    hwaddr base;                /* group of socket 0 */
    unsigned group_shift;       /* log2 of the distance between groups */
    uint32_t num_ids;           /* interrupt identities per file */
    uint32_t guests;            /* guest files per hart, 0 at M level */
    RiscvMhMode mode;
} RiscvMhImsic;

/* APLIC domains of every socket */
typedef struct RiscvMhAplic {
    MemMapEntry m;              /* socket 0 M domain, size is the stride */
    MemMapEntry s;              /* socket 0 S domain; m.size 0: S only */
    uint32_t num_sources;
    uint32_t prio_bits;
    RiscvMhAplicDelivery delivery;
} RiscvMhAplic;

/* A GPEX host bridge; both MMIO windows are identity mapped */
typedef struct RiscvMhPcie {
    MemMapEntry ecam;
    MemMapEntry mmio;           /* below 4 GiB */
    MemMapEntry mmio_high;      /* 64-bit window, size 0: none */
    MemMapEntry pio;
    hwaddr pio_bus_min;         /* the DT's I/O window starts here */
    uint32_t intx_irq;          /* irqchip input of INTA, INTB..D follow */
    bool root_multifunction;    /* 00:00.0 says functions 00:00.1-7 exist */
} RiscvMhPcie;

/* What the shared boot flow needs to know about the board */
typedef struct RiscvMhBoot {
    hwaddr dram_base;
    hwaddr dram_size;           /* 0: all of the machine's RAM */
    MemMapEntry mrom;           /* holds the reset vector */
    hwaddr flash_base;          /* where flash0 is mapped */
    PFlashCFI01 *flash0;        /* firmware or S-mode payload, may be NULL */
} RiscvMhBoot;

/* Device tree basics (machine_helper.c) */

/* "interrupts-extended" of @h: <intc irq> per irq per hart; g_free it. */
uint32_t *riscv_mh_intc_cells(const RiscvMhHarts *h, const uint32_t *irqs,
                              int nirqs, size_t *bytes);
/* "reg" (or any) property of 64-bit address and size pairs */
void riscv_mh_fdt_setprop_reg(void *fdt, const char *path, const char *name,
                              const uint64_t *pairs, int npairs);
/* Number of index bits that can tell @count things apart. */
uint32_t riscv_mh_index_bits(uint32_t count);
/*
 * Refuse a -dtb @path whose contents are not a device tree, naming it; a
 * missing or unreadable one is left to riscv_mh_fdt_load().  NULL is fine.
 */
bool riscv_mh_dtb_check(const char *path, Error **errp);
/* The -dtb of @ms loaded as ms->fdt, or false when there is none. */
bool riscv_mh_fdt_load(MachineState *ms, int *fdt_size);
/* A new tree with the root's model and compatible, and a /soc bus. */
void *riscv_mh_fdt_board(const char *model, const char *compatible,
                         int *fdt_size);
/* /chosen with a fresh rng-seed, and an empty /aliases. */
void riscv_mh_fdt_chosen(MachineState *ms);
/* Give ms->fdt room for @bytes more; its new size goes to @fdt_size. */
void riscv_mh_fdt_reserve(MachineState *ms, int *fdt_size, int bytes);

/* Harts and sockets (machine_helper.c) */

/* Make @mc's sockets NUMA nodes, through the hw/riscv/numa.c hooks. */
void riscv_mh_machine_class_numa(MachineClass *mc);
/* Without -numa, make each -smp socket a NUMA node with a share of RAM. */
void riscv_mh_numa_from_sockets(MachineState *ms);
/* Whether @ms has NUMA nodes (its device tree then has numa-node-id) */
bool riscv_mh_numa_enabled(const MachineState *ms);
/*
 * Refuse @ms when the host cannot create its harts' threads: on Linux,
 * each thread takes two mappings of QEMU's address space (its stack and
 * guard page), four with a thread per hart under TCG (its translation
 * region and guard page too), and vm.max_map_count (65530 by default)
 * bounds their number.  A thread that cannot be created aborts QEMU.
 */
void riscv_mh_check_host_maps(MachineState *ms);
/* Check and realize hart array "soc<socket>" of @ms into @soc. */
void riscv_mh_socket_init(MachineState *ms, RISCVHartArrayState *soc,
                          int socket);
/* Harts of @socket in sockets array @soc; @intc holds all harts' intc. */
RiscvMhHarts riscv_mh_socket_harts(const RISCVHartArrayState *soc,
                                   int socket, const uint32_t *intc);
/* What the cpu-map of the device tree describes */
typedef enum RiscvMhCpuMap {
    RISCV_MH_CPU_MAP_SOCKETS,   /* cluster<socket>/core<i>: the sockets */
    RISCV_MH_CPU_MAP_SMP,       /* socket/cluster/core[/thread] of -smp */
} RiscvMhCpuMap;
/* /cpus (machine_helper-cpus.c), counting at @timebase Hz, with no hart. */
void riscv_mh_fdt_cpus(MachineState *ms, RISCVHartArrayState *soc,
                       uint32_t timebase);
/*
 * Phandles for the harts' nodes: two a hart (its cpu node's, then its
 * intc's) from *@phandle on, counted from the last hart backwards.  Fills
 * @intc with each hart's intc phandle and returns the first phandle, for
 * riscv_mh_fdt_harts().
 */
uint32_t riscv_mh_hart_phandles(MachineState *ms, uint32_t *phandle,
                                uint32_t *intc);
/*
 * The /cpus children: a cpu node and its riscv,cpu-intc for each hart of
 * the @sockets sockets of @soc, with the phandles from @first on, and the
 * cpu-map.  The time taken is linear in the number of harts.  The tree is
 * copied into a new buffer of *@fdt_size bytes (or more if they are too
 * few) with them.  Call it last: before /soc, /cpus makes every later path
 * lookup below /soc walk all its nodes.
 */
void riscv_mh_fdt_harts(MachineState *ms, int *fdt_size,
                        RISCVHartArrayState *soc, int sockets,
                        RiscvMhCpuMap map, uint32_t first);
/* memory node of one socket, numa-node-id when NUMA is on. */
void riscv_mh_fdt_socket_memory(void *fdt, hwaddr addr, uint64_t size,
                                int socket_id, bool numa_enabled);
/* /pmu with the counters of the first hart of @soc. */
void riscv_mh_fdt_pmu(MachineState *ms, RISCVHartArrayState *soc);

/* ACLINT and SiFive CLINT (machine_helper-aia.c) */

/*
 * ACLINT MTIMERs of @soc's harts, counting at @freq Hz: one per
 * RISCV_ACLINT_MAX_HARTS harts (the last mtimecmp sits below mtime), the
 * first at @base and the others @stride apart.
 */
void riscv_mh_mtimer_create(hwaddr base, hwaddr stride,
                            const RISCVHartArrayState *soc, uint32_t freq);
/* The riscv,aclint-mtimer nodes of riscv_mh_mtimer_create()'s MTIMERs. */
void riscv_mh_fdt_mtimers(MachineState *ms, const RiscvMhHarts *h,
                          hwaddr base, hwaddr stride, hwaddr size);
/* riscv,aclint-mtimer node of @h for the MTIMER window @base/@size. */
void riscv_mh_fdt_mtimer(MachineState *ms, const RiscvMhHarts *h,
                         hwaddr base, hwaddr size);
/* sifive,clint0 node of one socket's @num_harts harts at @addr. */
void riscv_mh_fdt_socket_clint(void *fdt, hwaddr addr, uint64_t size,
                               int socket_id, uint32_t *intc_phandles,
                               int num_harts, bool numa_enabled);

/* AIA: IMSIC and APLIC (machine_helper-aia.c) */

/*
 * One socket's AIA: IMSIC files (M level without KVM, S level with
 * @aia_guests guest files) when @msimode, and its APLIC domains.  IMSIC
 * groups are 1 << IMSIC_MMIO_GROUP_MIN_SHIFT apart.  Returns the root
 * domain, where the socket's wired sources go.
 */
DeviceState *riscv_mh_create_aia(bool msimode, int aia_guests,
                                 uint32_t m_imsic_stride,
                                 uint32_t s_imsic_stride,
                                 uint16_t num_sources,
                                 const MemMapEntry *aplic_m,
                                 const MemMapEntry *aplic_s,
                                 const MemMapEntry *imsic_m,
                                 const MemMapEntry *imsic_s,
                                 int socket, int base_hartid, int hart_count,
                                 uint32_t num_msis, uint32_t num_prio_bits);
/* Base of @socket's group of @d's IMSIC files. */
hwaddr riscv_mh_imsic_group(const RiscvMhImsic *d, int socket);
/* IMSIC files of @d for every hart of @soc, socket @socket. */
void riscv_mh_imsic_create(const RiscvMhImsic *d,
                           const RISCVHartArrayState *soc, int socket);
/* As above, behind one MMIO region per socket instead of one per hart. */
void riscv_mh_imsic_create_window(const RiscvMhImsic *d,
                                  const RISCVHartArrayState *soc, int socket);
/* IMSIC node of @d for all sockets in @soc, @intc of all harts. */
void riscv_mh_fdt_imsic(MachineState *ms, const RiscvMhImsic *d,
                        const RISCVHartArrayState *soc,
                        const uint32_t *intc, uint32_t phandle);
/* APLIC M (if any) and S domains of @socket; returns the root one. */
DeviceState *riscv_mh_aplic_create(const RiscvMhAplic *d,
                                   const RISCVHartArrayState *soc,
                                   int socket);
/* APLIC nodes of @h (2 phandles taken); @msi_m/@msi_s: IMSICs; ret S. */
uint32_t riscv_mh_fdt_aplic(MachineState *ms, const RiscvMhAplic *d,
                            const RiscvMhHarts *h, uint32_t msi_m,
                            uint32_t msi_s, uint32_t *phandle);

/* GPEX PCIe host (machine_helper-pcie.c) */

/* Path of the host bridge node of @d. */
char *riscv_mh_pcie_path(const RiscvMhPcie *d);
/* GPEX host of @d with its windows mapped; INTx to @intx (NULL: none). */
DeviceState *riscv_mh_gpex_create(const RiscvMhPcie *d, DeviceState *intx);
/* Host bridge properties up to "ranges"; msi-parent unless @msi is 0. */
void riscv_mh_fdt_pcie(MachineState *ms, const RiscvMhPcie *d, uint32_t msi);
/* INTx interrupt-map (+ mask) of @d's node, to parent @p. */
void riscv_mh_fdt_pcie_intx(MachineState *ms, const RiscvMhPcie *d,
                            const RiscvMhIrqParent *p);
/*
 * Node of root-bus function @bdf under @d's host bridge, named @name,
 * with "compatible" @compat (a NUL-separated list of @compat_len bytes)
 * and its configuration space "reg": an OS that enumerates the bus finds
 * it as the function's node.  Returns the node's path; g_free it.
 */
char *riscv_mh_fdt_pci_function(MachineState *ms, const RiscvMhPcie *d,
                                const char *name, const char *compat,
                                size_t compat_len, uint16_t bdf);
/* "iommu-map" of @d: every requester ID except @own_rid to @iommu. */
void riscv_mh_fdt_pcie_iommu_map(MachineState *ms, const RiscvMhPcie *d,
                                 uint32_t iommu, uint16_t own_rid);

/* CFI flash (machine_helper.c) */

/* @count pflash devices "<prefix>.flash<i>", aliased as "pflash<i>". */
void riscv_mh_flash_create(Object *owner, const char *prefix,
                           PFlashCFI01 **flash, int count);
/* Attach -drive if=pflash, realize and map @flash in equal parts of @win. */
void riscv_mh_flash_map(PFlashCFI01 **flash, int count,
                        const MemMapEntry *win, MemoryRegion *sysmem);
/* cfi-flash node with one bank per @count equal parts of @win. */
void riscv_mh_fdt_flash(MachineState *ms, const MemMapEntry *win, int count);

/* Simple devices (machine_helper.c) */

/* syscon node of the test device at @test, /reboot and /poweroff. */
void riscv_mh_fdt_syscon(MachineState *ms, const MemMapEntry *test,
                         uint32_t *phandle);
/* google,goldfish-rtc node at @rtc with @irq of @p. */
void riscv_mh_fdt_rtc(MachineState *ms, const MemMapEntry *rtc,
                      const RiscvMhIrqParent *p, uint32_t irq);

/* ACPI tables of harts and AIA (machine_helper-acpi.c) */

/* First GSI of @socket's APLIC domain; sources number from there. */
uint32_t riscv_mh_acpi_gsi_base(const RiscvMhAplic *aplic, int socket);
/* RINTC structure of hart @index of @socket, ACPI processor @uid. */
void riscv_mh_acpi_rintc(GArray *out, const RISCVHartArrayState *soc,
                         int socket, int index, uint32_t uid,
                         const RiscvMhImsic *imsic);
/* MADT: a RINTC per hart, the S-level @imsic, @aplic's S domains (MSI). */
void riscv_mh_acpi_madt(GArray *table_data, BIOSLinker *linker,
                        MachineState *ms, const RISCVHartArrayState *soc,
                        const RiscvMhImsic *imsic, const RiscvMhAplic *aplic,
                        const char *oem_id, const char *oem_table_id);
/* RHCT of the harts of @soc (all alike), time CSR at @timebase Hz. */
void riscv_mh_acpi_rhct(GArray *table_data, BIOSLinker *linker,
                        MachineState *ms, RISCVHartArrayState *soc,
                        uint64_t timebase, const char *oem_id,
                        const char *oem_table_id);
/* SRAT: a RINTC affinity structure per hart, its socket the domain. */
void riscv_mh_acpi_srat_harts(GArray *out, MachineState *ms,
                              const RISCVHartArrayState *soc);
/* A processor device (ACPI0007) per hart, with its RINTC as _MAT. */
void riscv_mh_acpi_dsdt_harts(Aml *scope, MachineState *ms,
                              const RISCVHartArrayState *soc,
                              const RiscvMhImsic *imsic);
/*
 * RIMT: one IOMMU, the PCIe function @iommu_rid of segment 0, that every
 * other requester ID of the segment goes through.
 */
void riscv_mh_acpi_rimt(GArray *table_data, BIOSLinker *linker,
                        uint16_t iommu_rid, const char *oem_id,
                        const char *oem_table_id);
/* An APLIC device (RSCV0002) per S-level domain of @aplic. */
void riscv_mh_acpi_dsdt_aplics(Aml *scope, MachineState *ms,
                               const RiscvMhAplic *aplic);

/* Firmware configuration (machine_helper.c) */

/*
 * SMBIOS tables for @fw_cfg (the etc/smbios files): QEMU's defaults, the
 * product @product, RAM at @dram_base, the processor family of @harts.
 */
void riscv_mh_smbios(MachineState *ms, FWCfgState *fw_cfg,
                     const char *product, hwaddr dram_base,
                     RISCVHartArrayState *harts);

/* Boot (machine_helper.c) */

/* Map the RAM at @dram_base and a ROM @rom_name over @mrom. */
void riscv_mh_map_memory(MachineState *ms, hwaddr dram_base,
                         const MemMapEntry *mrom, const char *rom_name);
/* Point -bios default at @name in QEMU's firmware path; exit if absent. */
void riscv_mh_firmware_default(MachineState *ms, const char *name);
/* Load firmware, kernel, initrd and FDT, then the reset vector of @harts. */
void riscv_mh_boot(MachineState *ms, RISCVHartArrayState *harts,
                   const RiscvMhBoot *b);

#endif
