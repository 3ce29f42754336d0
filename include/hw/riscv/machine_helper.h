/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Building blocks shared by the RISC-V "virt" and "virt-pcie" boards
 *
 * Copyright (c) 2025 virt-pcie developers
 *
 * Every helper does one job from a small description: a MemMapEntry,
 * a count, a phandle or one of the structures below.  Creation helpers
 * instantiate devices, riscv_mh_fdt_* helpers write device tree nodes.
 * Per-socket windows are laid out as base + socket * stride.
 */

#ifndef HW_RISCV_MACHINE_HELPER_H
#define HW_RISCV_MACHINE_HELPER_H

#include "exec/hwaddr.h"
#include "hw/boards.h"
#include "hw/block/flash.h"
#include "hw/riscv/riscv_hart.h"

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

/*
 * Device tree properties described as data.  A table of RiscvMhProp is
 * written in order by riscv_mh_fdt_node(); an entry whose name is NULL
 * is skipped, which RISCV_MH_IF() makes convenient for optional ones.
 */
typedef enum RiscvMhPropType {
    RISCV_MH_PROP_EMPTY,        /* no value */
    RISCV_MH_PROP_STR,          /* data: a string */
    RISCV_MH_PROP_STRV,         /* data: count strings */
    RISCV_MH_PROP_CELLS,        /* data: count uint32_t, host order */
    RISCV_MH_PROP_REG,          /* data: count uint64_t, two cells each */
    RISCV_MH_PROP_BLOB,         /* data: count bytes in FDT order */
    RISCV_MH_PROP_IRQ,          /* interrupt-parent data, interrupts count */
    RISCV_MH_PROP_NUMA,         /* numa-node-id count when NUMA is on */
} RiscvMhPropType;

typedef struct RiscvMhProp {
    const char *name;
    RiscvMhPropType type;
    const void *data;
    size_t count;
} RiscvMhProp;

#define RISCV_MH_NARGS(type, ...) \
    (sizeof((type[]) { __VA_ARGS__ }) / sizeof(type))
#define RISCV_MH_IF(cond, name) ((cond) ? (name) : NULL)
#define RISCV_MH_EMPTY(name) \
    ((RiscvMhProp) { (name), RISCV_MH_PROP_EMPTY, NULL, 0 })
#define RISCV_MH_STR(name, str) \
    ((RiscvMhProp) { (name), RISCV_MH_PROP_STR, (str), 0 })
#define RISCV_MH_STRV(name, ...) \
    ((RiscvMhProp) { (name), RISCV_MH_PROP_STRV, \
                     (const char *const[]) { __VA_ARGS__ }, \
                     RISCV_MH_NARGS(const char *, __VA_ARGS__) })
#define RISCV_MH_CELLS(name, ...) \
    ((RiscvMhProp) { (name), RISCV_MH_PROP_CELLS, \
                     (const uint32_t[]) { __VA_ARGS__ }, \
                     RISCV_MH_NARGS(uint32_t, __VA_ARGS__) })
#define RISCV_MH_REG(name, ...) \
    ((RiscvMhProp) { (name), RISCV_MH_PROP_REG, \
                     (const uint64_t[]) { __VA_ARGS__ }, \
                     RISCV_MH_NARGS(uint64_t, __VA_ARGS__) })
#define RISCV_MH_REGV(name, array, n) \
    ((RiscvMhProp) { (name), RISCV_MH_PROP_REG, (array), (n) })
#define RISCV_MH_BLOB(name, ptr, bytes) \
    ((RiscvMhProp) { (name), RISCV_MH_PROP_BLOB, (ptr), (bytes) })
#define RISCV_MH_IRQ(parent, irq) \
    ((RiscvMhProp) { "interrupts", RISCV_MH_PROP_IRQ, (parent), (irq) })
#define RISCV_MH_NUMA(socket) \
    ((RiscvMhProp) { "numa-node-id", RISCV_MH_PROP_NUMA, NULL, (socket) })

/* Device tree basics */

/* Write props[0..n) in order on the existing node @path of ms->fdt. */
void riscv_mh_fdt_props(MachineState *ms, const char *path,
                        const RiscvMhProp *props, size_t n);
/* Add node @path to ms->fdt and write props[0..n) on it. */
void riscv_mh_fdt_node(MachineState *ms, const char *path,
                       const RiscvMhProp *props, size_t n);
/* "interrupts-extended" of @h: <intc irq> per irq per hart; g_free it. */
uint32_t *riscv_mh_intc_cells(const RiscvMhHarts *h, const uint32_t *irqs,
                              int nirqs, size_t *bytes);
/* Number of index bits that can tell @count things apart. */
uint32_t riscv_mh_index_bits(uint32_t count);
/*
 * Refuse a -dtb @path whose contents are not a device tree, naming it; a
 * missing or unreadable one is left to riscv_mh_fdt_init().  NULL is fine.
 */
bool riscv_mh_dtb_check(const char *path, Error **errp);
/* Load -dtb, or create root, /soc, @pcie's node, /chosen; true if created */
bool riscv_mh_fdt_init(MachineState *ms, int *fdt_size, const char *model,
                       const char *compat, const RiscvMhPcie *pcie);
/* Give ms->fdt room for @bytes more; its new size goes to @fdt_size. */
void riscv_mh_fdt_reserve(MachineState *ms, int *fdt_size, int bytes);

/* Harts and sockets */

/* Make @mc's sockets NUMA nodes, through the hw/riscv/numa.c hooks. */
void riscv_mh_machine_class_numa(MachineClass *mc);
/* Without -numa, make each -smp socket a NUMA node with a share of RAM. */
void riscv_mh_numa_from_sockets(MachineState *ms);
/* Socket count of @ms; exits when it exceeds @max_sockets. */
int riscv_mh_socket_count(const MachineState *ms, int max_sockets);
/* Check and realize hart array "soc<socket>" of @ms into @soc. */
void riscv_mh_socket_init(MachineState *ms, RISCVHartArrayState *soc,
                          int socket);
/* Harts of @socket in sockets array @soc; @intc holds all harts' intc. */
RiscvMhHarts riscv_mh_socket_harts(const RISCVHartArrayState *soc,
                                   int socket, const uint32_t *intc);
/* /cpus with its timebase and an empty /cpus/cpu-map, from @soc's harts. */
void riscv_mh_fdt_cpus(MachineState *ms, RISCVHartArrayState *soc);
/* cpu-map cluster, cpu + intc nodes, memory of @socket; fills @intc. */
RiscvMhHarts riscv_mh_fdt_socket(MachineState *ms, RISCVHartArrayState *soc,
                                 int socket, hwaddr dram_base,
                                 uint32_t *phandle, uint32_t *intc);
/* /pmu with the counters of the first hart of @soc. */
void riscv_mh_fdt_pmu(MachineState *ms, RISCVHartArrayState *soc);

/* ACLINT and SiFive CLINT */

/* ACLINT MTIMER of @soc's harts at @base. */
DeviceState *riscv_mh_mtimer_create(hwaddr base,
                                    const RISCVHartArrayState *soc);
/* ACLINT MSWI (@mode M) or SSWI (@mode S) of @soc's harts at @base. */
DeviceState *riscv_mh_swi_create(hwaddr base, const RISCVHartArrayState *soc,
                                 RiscvMhMode mode);
/* SiFive CLINT layout: MSWI at @base, MTIMER right after it. */
void riscv_mh_clint_create(hwaddr base, const RISCVHartArrayState *soc);
/* riscv,aclint-mtimer node of @h for the MTIMER window @base/@size. */
void riscv_mh_fdt_mtimer(MachineState *ms, const RiscvMhHarts *h,
                         hwaddr base, hwaddr size);
/* riscv,aclint-mswi or -sswi node of @h for window @base/@size. */
void riscv_mh_fdt_swi(MachineState *ms, const RiscvMhHarts *h,
                      hwaddr base, hwaddr size, RiscvMhMode mode);
/* sifive,clint0 node of @h for the CLINT window @base/@size. */
void riscv_mh_fdt_clint(MachineState *ms, const RiscvMhHarts *h,
                        hwaddr base, hwaddr size);

/* AIA: IMSIC and APLIC */

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
/* Path of the @mode APLIC node of @socket. */
char *riscv_mh_aplic_path(const RiscvMhAplic *d, RiscvMhMode mode,
                          int socket);
/* APLIC nodes of @h (2 phandles taken); @msi_m/@msi_s: IMSICs; ret S. */
uint32_t riscv_mh_fdt_aplic(MachineState *ms, const RiscvMhAplic *d,
                            const RiscvMhHarts *h, uint32_t msi_m,
                            uint32_t msi_s, uint32_t *phandle);

/* GPEX PCIe host */

/* Path of the host bridge node of @d. */
char *riscv_mh_pcie_path(const RiscvMhPcie *d);
/* GPEX host of @d with its windows mapped; INTx to @intx (NULL: none). */
DeviceState *riscv_mh_gpex_create(const RiscvMhPcie *d, DeviceState *intx);
/* Host bridge properties up to "ranges"; msi-parent unless @msi is 0. */
void riscv_mh_fdt_pcie(MachineState *ms, const RiscvMhPcie *d, uint32_t msi);
/* INTx interrupt-map (+ mask) of @d's node, to parent @p. */
void riscv_mh_fdt_pcie_intx(MachineState *ms, const RiscvMhPcie *d,
                            const RiscvMhIrqParent *p);

/* CFI flash */

/* @count pflash devices "<prefix>.flash<i>", aliased as "pflash<i>". */
void riscv_mh_flash_create(Object *owner, const char *prefix,
                           PFlashCFI01 **flash, int count);
/* Attach -drive if=pflash, realize and map @flash in equal parts of @win. */
void riscv_mh_flash_map(PFlashCFI01 **flash, int count,
                        const MemMapEntry *win, MemoryRegion *sysmem);
/* cfi-flash node with one bank per @count equal parts of @win. */
void riscv_mh_fdt_flash(MachineState *ms, const MemMapEntry *win, int count);

/* Simple devices */

/* syscon node of the test device at @test, /reboot and /poweroff. */
void riscv_mh_fdt_syscon(MachineState *ms, const MemMapEntry *test,
                         uint32_t *phandle);
/* google,goldfish-rtc node at @rtc with @irq of @p. */
void riscv_mh_fdt_rtc(MachineState *ms, const MemMapEntry *rtc,
                      const RiscvMhIrqParent *p, uint32_t irq);

/* Boot */

/* Map the RAM at @dram_base and a ROM @rom_name over @mrom. */
void riscv_mh_map_memory(MachineState *ms, hwaddr dram_base,
                         const MemMapEntry *mrom, const char *rom_name);
/* Point -bios default at the first of @names found; exit if none is. */
void riscv_mh_firmware_default(MachineState *ms, const char *const *names,
                               int count);
/* Load firmware, kernel, initrd and FDT, then the reset vector of @harts. */
void riscv_mh_boot(MachineState *ms, RISCVHartArrayState *harts,
                   const RiscvMhBoot *b);

#endif
