/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * RISC-V board helpers: the /cpus device tree node, with a node per hart
 * and the cpu-map
 *
 * Copyright (c) 2025 virt-pcie developers
 *
 * A machine may have thousands of harts.  libfdt's read-write calls, which
 * the qemu_fdt_* helpers use, compare a new node's name with all of its
 * siblings and move everything behind the place they write to: making
 * thousands of sibling nodes with them takes time quadratic in their
 * number.  So each hart's node is made with the qemu_fdt_* helpers in a
 * small scratch tree, then copied into a tree written with libfdt's
 * sequential-write calls, whose cost is the size of what they write.  At
 * the end, the machine's tree is copied once, with those nodes put into
 * /cpus.
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qemu/error-report.h"
#include "hw/boards.h"
#include "hw/riscv/boot.h"
#include "hw/riscv/machine_helper.h"
#include "system/device_tree.h"
#include <libfdt.h>
#include "system/kvm.h"
#include "target/riscv/cpu.h"
#include "kvm/kvm_riscv.h"

/* A tree being written with libfdt's sequential-write calls */
typedef struct MhSeqTree {
    void *buf;
    int size;
} MhSeqTree;

static void mh_seq_check(int ret, const char *what)
{
    if (ret < 0) {
        error_report("device tree: cannot write %s: %s", what,
                     fdt_strerror(ret));
        exit(1);
    }
}

/* Double @t's buffer after a call of it ran out of room */
static void mh_seq_grow(MhSeqTree *t, int ret, const char *what)
{
    if (ret != -FDT_ERR_NOSPACE || t->size > INT_MAX / 2) {
        mh_seq_check(ret, what);
    }
    t->size *= 2;
    t->buf = g_realloc(t->buf, t->size);
    mh_seq_check(fdt_resize(t->buf, t->buf, t->size), what);
}

static void mh_seq_begin(MhSeqTree *t, const char *name)
{
    int ret;

    while ((ret = fdt_begin_node(t->buf, name)) < 0) {
        mh_seq_grow(t, ret, name);
    }
}

static void mh_seq_prop(MhSeqTree *t, const char *name, const void *val,
                        int len)
{
    int ret;

    while ((ret = fdt_property(t->buf, name, val, len)) < 0) {
        mh_seq_grow(t, ret, name);
    }
}

static void mh_seq_end(MhSeqTree *t)
{
    int ret;

    while ((ret = fdt_end_node(t->buf)) < 0) {
        mh_seq_grow(t, ret, "the end of a node");
    }
}

static void mh_seq_start(MhSeqTree *t, int size)
{
    t->size = size;
    t->buf = g_malloc0(size);
    mh_seq_check(fdt_create(t->buf, t->size), "a new tree");
}

static void mh_seq_finish(MhSeqTree *t)
{
    int ret;

    while ((ret = fdt_finish(t->buf)) < 0) {
        mh_seq_grow(t, ret, "the end of the tree");
    }
}

/*
 * Write node @node of @fdt, all below it included, into @t.  When @children
 * is not NULL, the children of @children's root are written into node
 * @graft too, after the node's own children.
 */
static void mh_seq_copy(MhSeqTree *t, const void *fdt, int node, int graft,
                        const void *children)
{
    int offset = node, depth = 0, graft_depth = -1, next, child;
    const char *name;
    const void *val;
    int len;

    do {
        switch (fdt_next_tag(fdt, offset, &next)) {
        case FDT_BEGIN_NODE:
            if (offset == graft) {
                graft_depth = depth;
            }
            mh_seq_begin(t, fdt_get_name(fdt, offset, NULL));
            depth++;
            break;
        case FDT_PROP:
            val = fdt_getprop_by_offset(fdt, offset, &name, &len);
            if (!val) {
                mh_seq_check(len, "a copied property");
            }
            mh_seq_prop(t, name, val, len);
            break;
        case FDT_END_NODE:
            depth--;
            if (depth == graft_depth && children) {
                fdt_for_each_subnode(child, children, 0) {
                    mh_seq_copy(t, children, child, -1, NULL);
                }
                graft_depth = -1;
            }
            mh_seq_end(t);
            break;
        case FDT_NOP:
            break;
        default:
            mh_seq_check(-FDT_ERR_BADSTRUCTURE, "a copied node");
        }
        offset = next;
    } while (depth > 0);
}

/*
 * Copy @ms's tree into a new buffer of *@fdt_size bytes (more when it does
 * not fit) with the children of @children's root added to @parent.
 */
static void mh_fdt_graft(MachineState *ms, int *fdt_size, const char *parent,
                         const void *children)
{
    void *fdt = ms->fdt;
    MhSeqTree t;
    uint64_t addr, size;

    mh_seq_start(&t, *fdt_size);
    for (int i = 0; i < fdt_num_mem_rsv(fdt); i++) {
        mh_seq_check(fdt_get_mem_rsv(fdt, i, &addr, &size), "memreserve");
        mh_seq_check(fdt_add_reservemap_entry(t.buf, addr, size),
                     "memreserve");
    }
    mh_seq_check(fdt_finish_reservemap(t.buf), "memreserve");
    mh_seq_copy(&t, fdt, 0, fdt_path_offset(fdt, parent), children);
    mh_seq_finish(&t);
    fdt_set_boot_cpuid_phys(t.buf, fdt_boot_cpuid_phys(fdt));
    mh_seq_check(fdt_open_into(t.buf, t.buf, t.size), "the grown tree");

    g_free(ms->fdt);
    ms->fdt = t.buf;
    *fdt_size = t.size;
}

/* The widest address translation mode of @cpu, NULL for none */
static char *mh_mmu_type(RISCVCPU *cpu, RISCVHartArrayState *soc)
{
    if (cpu->cfg.max_satp_mode == -1) {
        return NULL;
    }
    return g_strconcat("riscv,", satp_mode_str(cpu->cfg.max_satp_mode,
                                               riscv_is_32bit(soc)), NULL);
}

/* A block size cell of @path, when the extension is there */
static void mh_fdt_block_size(void *fdt, const char *path, bool ext,
                              const char *name, uint16_t size)
{
    if (ext) {
        qemu_fdt_setprop_cell(fdt, path, name, size);
    }
}

/*
 * Hart @idx of @soc (socket @socket) and its interrupt controller, as the
 * node /cpu@<hartid> of the scratch tree @fdt; returns that path.
 */
static char *mh_fdt_hart(MachineState *ms, void *fdt,
                         RISCVHartArrayState *soc, int socket, int idx,
                         uint32_t cpu_ph, uint32_t intc_ph)
{
    RISCVCPU *cpu = &soc->harts[idx];
    RISCVCPUConfig *cfg = &cpu->cfg;
    uint32_t hartid = soc->hartid_base + idx;
    char *path = g_strdup_printf("/cpu@%u", hartid);
    g_autofree char *intc_path = g_strconcat(path, "/interrupt-controller",
                                             NULL);
    g_autofree char *mmu = mh_mmu_type(cpu, soc);

    /* Each property goes first: in the tree, the last one comes first */
    qemu_fdt_add_subnode(fdt, path);
    if (mmu) {
        qemu_fdt_setprop_string(fdt, path, "mmu-type", mmu);
    }
    riscv_isa_write_fdt(cpu, fdt, path);
    mh_fdt_block_size(fdt, path, cfg->ext_zicbom, "riscv,cbom-block-size",
                      cfg->cbom_blocksize);
    mh_fdt_block_size(fdt, path, cfg->ext_zicboz, "riscv,cboz-block-size",
                      cfg->cboz_blocksize);
    mh_fdt_block_size(fdt, path, cfg->ext_zicbop, "riscv,cbop-block-size",
                      cfg->cbop_blocksize);
    qemu_fdt_setprop_string(fdt, path, "compatible", "riscv");
    qemu_fdt_setprop_string(fdt, path, "status", "okay");
    qemu_fdt_setprop_cell(fdt, path, "reg", hartid);
    qemu_fdt_setprop_string(fdt, path, "device_type", "cpu");
    if (riscv_mh_numa_enabled(ms)) {
        qemu_fdt_setprop_cell(fdt, path, "numa-node-id", socket);
    }
    qemu_fdt_setprop_cell(fdt, path, "phandle", cpu_ph);

    qemu_fdt_add_subnode(fdt, intc_path);
    qemu_fdt_setprop_cell(fdt, intc_path, "phandle", intc_ph);
    qemu_fdt_setprop_string(fdt, intc_path, "compatible", "riscv,cpu-intc");
    qemu_fdt_setprop(fdt, intc_path, "interrupt-controller", NULL, 0);
    qemu_fdt_setprop_cell(fdt, intc_path, "#interrupt-cells", 1);
    return path;
}

/* Up to four levels of the cpu-map: socket, cluster, core, thread */
#define MH_MAP_LEVELS 4

/*
 * The cpu-map levels of hart @i of socket @socket, which is hart @index
 * of the machine, into @num; returns how many there are.  By -smp, the
 * path is socketS/clusterC/coreK, with a threadT below the core when
 * cores have more than one thread; dies are not described: they only
 * divide a socket's harts further.  By sockets, it is clusterS/coreI.
 */
static int mh_map_levels(MachineState *ms, RiscvMhCpuMap map, int socket,
                         int i, int index, int *num)
{
    const CpuTopology *t = &ms->smp;
    int core = index / t->threads;
    int cluster = core / t->cores;

    if (map == RISCV_MH_CPU_MAP_SOCKETS) {
        num[0] = socket;
        num[1] = i;
        return 2;
    }
    num[0] = cluster / t->clusters / t->dies;
    num[1] = cluster % t->clusters;
    num[2] = core % t->cores;
    num[3] = index % t->threads;
    return t->threads > 1 ? 4 : 3;
}

/* Writes the cpu-map into @t; @phandles holds each hart's cpu phandle */
static void mh_seq_cpu_map(MhSeqTree *t, MachineState *ms,
                           RISCVHartArrayState *soc, int sockets,
                           RiscvMhCpuMap map, const uint32_t *phandles)
{
    static const char *const smp_names[] = {
        "socket", "cluster", "core", "thread"
    };
    static const char *const socket_names[] = { "cluster", "core" };
    const char *const *names =
        map == RISCV_MH_CPU_MAP_SOCKETS ? socket_names : smp_names;
    int prev[MH_MAP_LEVELS], num[MH_MAP_LEVELS];
    int open = 0, index = 0;
    fdt32_t cell;

    mh_seq_begin(t, "cpu-map");
    for (int s = 0; s < sockets; s++) {
        for (int i = 0; i < soc[s].num_harts; i++, index++) {
            int levels = mh_map_levels(ms, map, s, i, index, num);
            int same = 0;

            while (same < open && prev[same] == num[same]) {
                same++;
            }
            for (; open > same; open--) {
                mh_seq_end(t);
            }
            for (; open < levels; open++) {
                g_autofree char *name =
                    g_strdup_printf("%s%d", names[open], num[open]);

                mh_seq_begin(t, name);
                prev[open] = num[open];
            }
            cell = cpu_to_fdt32(phandles[index]);
            mh_seq_prop(t, "cpu", &cell, sizeof(cell));
        }
    }
    for (; open > 0; open--) {
        mh_seq_end(t);
    }
    mh_seq_end(t);
}

void riscv_mh_fdt_cpus(MachineState *ms, RISCVHartArrayState *soc,
                       uint32_t timebase)
{
    if (kvm_enabled()) {
        timebase = kvm_riscv_get_timebase_frequency(&soc->harts[0]);
    }
    qemu_fdt_add_subnode(ms->fdt, "/cpus");
    qemu_fdt_setprop_cell(ms->fdt, "/cpus", "timebase-frequency", timebase);
    qemu_fdt_setprop_cell(ms->fdt, "/cpus", "#size-cells", 0);
    qemu_fdt_setprop_cell(ms->fdt, "/cpus", "#address-cells", 1);
}

/* The phandle of hart @index's cpu node; its intc's is the next one */
static uint32_t mh_hart_phandle(MachineState *ms, uint32_t first, int index)
{
    /* Two a hart, counted from the last hart backwards */
    return first + 2 * (ms->smp.cpus - 1 - index);
}

uint32_t riscv_mh_hart_phandles(MachineState *ms, uint32_t *phandle,
                                uint32_t *intc)
{
    uint32_t first = *phandle;

    for (int i = 0; i < ms->smp.cpus; i++) {
        intc[i] = mh_hart_phandle(ms, first, i) + 1;
    }
    *phandle += 2 * ms->smp.cpus;
    return first;
}

void riscv_mh_fdt_harts(MachineState *ms, int *fdt_size,
                        RISCVHartArrayState *soc, int sockets,
                        RiscvMhCpuMap map, uint32_t first)
{
    g_autofree uint32_t *cpu_ph = g_new(uint32_t, ms->smp.cpus);
    int scratch_size, index = 0;
    void *scratch = create_device_tree(&scratch_size);
    MhSeqTree cpus;

    mh_seq_start(&cpus, 64 * KiB + ms->smp.cpus * KiB);
    mh_seq_check(fdt_finish_reservemap(cpus.buf), "memreserve");
    mh_seq_begin(&cpus, "");
    for (int s = 0; s < sockets; s++) {
        for (int i = 0; i < soc[s].num_harts; i++, index++) {
            uint32_t ph = mh_hart_phandle(ms, first, index);
            g_autofree char *path = mh_fdt_hart(ms, scratch, &soc[s], s, i,
                                                ph, ph + 1);
            int node = fdt_path_offset(scratch, path);

            mh_seq_copy(&cpus, scratch, node, -1, NULL);
            mh_seq_check(fdt_del_node(scratch, node), path);
            cpu_ph[index] = ph;
        }
    }
    mh_seq_cpu_map(&cpus, ms, soc, sockets, map, cpu_ph);
    mh_seq_end(&cpus);
    mh_seq_finish(&cpus);

    mh_fdt_graft(ms, fdt_size, "/cpus", cpus.buf);
    g_free(cpus.buf);
    g_free(scratch);
}
