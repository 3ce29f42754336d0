/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * RISC-V board helpers: device tree basics, harts and sockets, flash,
 * simple devices and the boot flow
 *
 * Copyright (c) 2025 virt-pcie developers
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qemu/error-report.h"
#include "qemu/guest-random.h"
#include "qemu/datadir.h"
#include "qapi/error.h"
#include "hw/boards.h"
#include "hw/loader.h"
#include "hw/sysbus.h"
#include "hw/qdev-properties.h"
#include "hw/block/flash.h"
#include "hw/firmware/smbios.h"
#include "hw/nvram/fw_cfg.h"
#include "hw/intc/riscv_aclint.h"
#include "hw/misc/sifive_test.h"
#include "hw/riscv/boot.h"
#include "hw/riscv/numa.h"
#include "hw/riscv/machine_helper.h"
#include "system/device_tree.h"
#include <libfdt.h>
#include "system/blockdev.h"
#include "system/kvm.h"
#include "system/numa.h"
#include "system/qtest.h"
#include "system/tcg.h"
#include "qemu/cutils.h"
#include "system/address-spaces.h"
#include "target/riscv/cpu.h"
#include "target/riscv/pmu.h"
#include "kvm/kvm_riscv.h"

uint32_t *riscv_mh_intc_cells(const RiscvMhHarts *h, const uint32_t *irqs,
                              int nirqs, size_t *bytes)
{
    size_t n = 2 * nirqs * h->count;
    uint32_t *cells = g_new(uint32_t, n);

    for (size_t i = 0; i < n; i += 2) {
        cells[i] = cpu_to_be32(h->intc[i / (2 * nirqs)]);
        cells[i + 1] = cpu_to_be32(irqs[(i / 2) % nirqs]);
    }
    *bytes = n * sizeof(uint32_t);
    return cells;
}

void riscv_mh_fdt_setprop_reg(void *fdt, const char *path, const char *name,
                              const uint64_t *pairs, int npairs)
{
    g_autofree uint32_t *cells = g_new(uint32_t, 4 * npairs);

    for (int i = 0; i < 2 * npairs; i++) {
        cells[2 * i] = cpu_to_be32(pairs[i] >> 32);
        cells[2 * i + 1] = cpu_to_be32(pairs[i]);
    }
    qemu_fdt_setprop(fdt, path, name, cells, 4 * npairs * sizeof(uint32_t));
}

uint32_t riscv_mh_index_bits(uint32_t count)
{
    return count > 1 ? 32 - clz32(count - 1) : 0;
}

/*
 * A -dtb whose contents are not a device tree is refused with its name.
 * An unreadable one is left to the boot code, which names it already.
 */
bool riscv_mh_dtb_check(const char *path, Error **errp)
{
    g_autofree char *data = NULL;
    gsize len;
    int ret;

    if (!path || !g_file_get_contents(path, &data, &len, NULL)) {
        return true;
    }
    if (len < sizeof(fdt32_t) || fdt_magic(data) != FDT_MAGIC) {
        ret = -FDT_ERR_BADMAGIC;
    } else if (len < sizeof(struct fdt_header)) {
        ret = -FDT_ERR_TRUNCATED;
    } else {
        ret = fdt_check_header(data);
        if (!ret && fdt_totalsize(data) > len) {
            ret = -FDT_ERR_TRUNCATED;
        }
    }
    if (ret) {
        error_setg(errp, "-dtb '%s' is not a flattened device tree (%s)",
                   path, fdt_strerror(ret));
        return false;
    }
    return true;
}

bool riscv_mh_fdt_load(MachineState *ms, int *fdt_size)
{
    if (!ms->dtb) {
        return false;
    }
    ms->fdt = load_device_tree(ms->dtb, fdt_size);
    if (!ms->fdt) {
        error_report("load_device_tree() failed");
        exit(1);
    }
    return true;
}

void *riscv_mh_fdt_board(const char *model, const char *compatible,
                         int *fdt_size)
{
    void *fdt = create_device_tree(fdt_size);

    if (!fdt) {
        error_report("create_device_tree() failed");
        exit(1);
    }
    qemu_fdt_setprop_string(fdt, "/", "model", model);
    qemu_fdt_setprop_string(fdt, "/", "compatible", compatible);
    qemu_fdt_setprop_cell(fdt, "/", "#size-cells", 2);
    qemu_fdt_setprop_cell(fdt, "/", "#address-cells", 2);

    qemu_fdt_add_subnode(fdt, "/soc");
    qemu_fdt_setprop(fdt, "/soc", "ranges", NULL, 0);
    qemu_fdt_setprop_string(fdt, "/soc", "compatible", "simple-bus");
    qemu_fdt_setprop_cell(fdt, "/soc", "#size-cells", 2);
    qemu_fdt_setprop_cell(fdt, "/soc", "#address-cells", 2);
    return fdt;
}

void riscv_mh_fdt_chosen(MachineState *ms)
{
    uint8_t seed[32];

    qemu_guest_getrandom_nofail(seed, sizeof(seed));
    qemu_fdt_add_subnode(ms->fdt, "/chosen");
    qemu_fdt_setprop(ms->fdt, "/chosen", "rng-seed", seed, sizeof(seed));
    qemu_fdt_add_subnode(ms->fdt, "/aliases");
}

void riscv_mh_machine_class_numa(MachineClass *mc)
{
    mc->possible_cpu_arch_ids = riscv_numa_possible_cpu_arch_ids;
    mc->cpu_index_to_instance_props = riscv_numa_cpu_index_to_props;
    mc->get_default_cpu_node_id = riscv_numa_get_default_cpu_node_id;
    mc->numa_mem_supported = true;
    mc->cpu_cluster_has_numa_boundary = true;
}

/* NUMA node sizes are rounded to this, the last node takes the rest */
#define MH_NUMA_ALIGN (2 * MiB)

void riscv_mh_numa_from_sockets(MachineState *ms)
{
    NumaState *numa = ms->numa_state;
    unsigned int sockets = ms->smp.sockets;
    const CPUArchIdList *cpus;
    uint64_t share;

    if (!numa || numa->num_nodes || sockets < 2) {
        return;
    }
    if (sockets > MAX_NODES) {
        error_report("%u sockets: at most %d NUMA nodes", sockets, MAX_NODES);
        exit(1);
    }

    /* -smp makes max_cpus a multiple of the socket count */
    cpus = MACHINE_GET_CLASS(ms)->possible_cpu_arch_ids(ms);
    for (int i = 0; i < cpus->len; i++) {
        ms->possible_cpus->cpus[i].props.has_node_id = true;
        ms->possible_cpus->cpus[i].props.node_id = i / (cpus->len / sockets);
    }

    share = QEMU_ALIGN_DOWN(ms->ram_size / sockets, MH_NUMA_ALIGN);
    for (int i = 0; i < sockets; i++) {
        numa->nodes[i].present = true;
        numa->nodes[i].node_mem = i + 1 < sockets ?
            share : ms->ram_size - share * (sockets - 1);
    }
    numa->num_nodes = sockets;
}

void riscv_mh_fdt_reserve(MachineState *ms, int *fdt_size, int bytes)
{
    int size = fdt_totalsize(ms->fdt) + bytes;
    void *fdt = g_malloc0(size);

    if (fdt_open_into(ms->fdt, fdt, size)) {
        error_report("cannot grow the device tree to %d bytes", size);
        exit(1);
    }
    g_free(ms->fdt);
    ms->fdt = fdt;
    *fdt_size = size;
}

bool riscv_mh_numa_enabled(const MachineState *ms)
{
    return ms->numa_state && ms->numa_state->num_nodes;
}

/* Mappings of QEMU's address space that are not the harts' */
#define MH_HOST_MAPS_BASE 1024

void riscv_mh_check_host_maps(MachineState *ms)
{
#ifdef CONFIG_LINUX
    const char *file = "/proc/sys/vm/max_map_count";
    g_autofree char *text = NULL;
    uint64_t limit, need;
    int per_hart = 2;   /* the hart's thread: its stack and guard page */

    if (!g_file_get_contents(file, &text, NULL, NULL) ||
        qemu_strtou64(g_strchomp(text), NULL, 10, &limit)) {
        return;
    }
    if (tcg_enabled() && qemu_tcg_mttcg_enabled()) {
        per_hart += 2;  /* its translation region and guard page */
    }
    need = (uint64_t)ms->smp.cpus * per_hart + MH_HOST_MAPS_BASE;
    if (need > limit) {
        error_report("%u harts need about %" PRIu64 " memory mappings, "
                     "but vm.max_map_count is %" PRIu64 ": raise it (sysctl "
                     "vm.max_map_count=%" PRIu64 ")%s", ms->smp.cpus, need,
                     limit, ROUND_UP(need, 65536),
                     per_hart > 2 ? " or use -accel tcg,thread=single" : "");
        exit(1);
    }
#endif
}

void riscv_mh_socket_init(MachineState *ms, RISCVHartArrayState *soc,
                          int socket)
{
    g_autofree char *name = g_strdup_printf("soc%d", socket);
    int first = riscv_socket_first_hartid(ms, socket);
    int count = riscv_socket_hart_count(ms, socket);
    const char *why = NULL;

    if (!riscv_socket_check_hartids(ms, socket)) {
        why = "discontinuous hartids";
    } else if (first < 0) {
        why = "can't find hartid base";
    } else if (count < 0) {
        why = "can't find hart count";
    }
    if (why) {
        error_report("%s in socket%d", why, socket);
        exit(1);
    }

    object_initialize_child(OBJECT(ms), name, soc, TYPE_RISCV_HART_ARRAY);
    qdev_prop_set_string(DEVICE(soc), "cpu-type", ms->cpu_type);
    qdev_prop_set_uint32(DEVICE(soc), "hartid-base", first);
    qdev_prop_set_uint32(DEVICE(soc), "num-harts", count);
    sysbus_realize(SYS_BUS_DEVICE(soc), &error_fatal);
}

/* Index of the first hart of @socket among the harts of all sockets */
static int mh_first_hart(const RISCVHartArrayState *soc, int socket)
{
    int index = 0;

    while (socket-- > 0) {
        index += soc[socket].num_harts;
    }
    return index;
}

RiscvMhHarts riscv_mh_socket_harts(const RISCVHartArrayState *soc,
                                   int socket, const uint32_t *intc)
{
    return (RiscvMhHarts) {
        .socket = socket,
        .count = soc[socket].num_harts,
        .intc = intc + mh_first_hart(soc, socket),
    };
}

void riscv_mh_fdt_socket_memory(void *fdt, hwaddr addr, uint64_t size,
                                int socket_id, bool numa_enabled)
{
    g_autofree char *path = g_strdup_printf("/memory@%" HWADDR_PRIx, addr);

    qemu_fdt_add_subnode(fdt, path);
    qemu_fdt_setprop_sized_cells(fdt, path, "reg", 2, addr, 2, size);
    qemu_fdt_setprop_string(fdt, path, "device_type", "memory");
    if (numa_enabled) {
        qemu_fdt_setprop_cell(fdt, path, "numa-node-id", socket_id);
    }
}

void riscv_mh_fdt_pmu(MachineState *ms, RISCVHartArrayState *soc)
{
    char path[] = "/pmu";

    qemu_fdt_add_subnode(ms->fdt, path);
    qemu_fdt_setprop_string(ms->fdt, path, "compatible", "riscv,pmu");
    riscv_pmu_generate_fdt_node(ms->fdt, soc->harts[0].pmu_avail_ctrs, path);
}

/* Geometry shared with the Arm virt board's flash */
#define MH_FLASH_SECTOR (256 * KiB)

void riscv_mh_flash_create(Object *owner, const char *prefix,
                           PFlashCFI01 **flash, int count)
{
    static const struct {
        const char *prop;
        uint64_t value;
    } geometry[] = {
        { "sector-length", MH_FLASH_SECTOR },
        { "width", 4 },
        { "device-width", 2 },
        { "id0", 0x89 },
        { "id1", 0x18 },
        { "id2", 0 },
        { "id3", 0 },
    };

    for (int i = 0; i < count; i++) {
        DeviceState *dev = qdev_new(TYPE_PFLASH_CFI01);
        g_autofree char *name = g_strdup_printf("%s.flash%d", prefix, i);
        g_autofree char *alias = g_strdup_printf("pflash%d", i);

        for (int j = 0; j < ARRAY_SIZE(geometry); j++) {
            object_property_set_uint(OBJECT(dev), geometry[j].prop,
                                     geometry[j].value, &error_abort);
        }
        qdev_prop_set_bit(dev, "big-endian", false);
        qdev_prop_set_string(dev, "name", name);
        object_property_add_child(owner, name, OBJECT(dev));
        object_property_add_alias(owner, alias, OBJECT(dev), "drive");
        flash[i] = PFLASH_CFI01(dev);
    }
}

void riscv_mh_flash_map(PFlashCFI01 **flash, int count,
                        const MemMapEntry *win, MemoryRegion *sysmem)
{
    hwaddr bank = win->size / count;
    int i;

    assert(QEMU_IS_ALIGNED(bank, MH_FLASH_SECTOR));
    assert(bank / MH_FLASH_SECTOR <= UINT32_MAX);

    for (i = 0; i < count; i++) {
        pflash_cfi01_legacy_drive(flash[i], drive_get(IF_PFLASH, 0, i));
    }
    for (i = 0; i < count; i++) {
        SysBusDevice *sbd = SYS_BUS_DEVICE(flash[i]);

        qdev_prop_set_uint32(DEVICE(sbd), "num-blocks",
                             bank / MH_FLASH_SECTOR);
        sysbus_realize_and_unref(sbd, &error_fatal);
        memory_region_add_subregion(sysmem, win->base + i * bank,
                                    sysbus_mmio_get_region(sbd, 0));
    }
}

void riscv_mh_fdt_flash(MachineState *ms, const MemMapEntry *win, int count)
{
    g_autofree char *path = g_strdup_printf("/flash@%" PRIx64, win->base);
    g_autofree uint64_t *banks = g_new(uint64_t, 2 * count);

    for (int i = 0; i < count; i++) {
        banks[2 * i + 1] = win->size / count;
        banks[2 * i] = win->base + i * banks[2 * i + 1];
    }
    qemu_fdt_add_subnode(ms->fdt, path);
    qemu_fdt_setprop_string(ms->fdt, path, "compatible", "cfi-flash");
    riscv_mh_fdt_setprop_reg(ms->fdt, path, "reg", banks, count);
    qemu_fdt_setprop_cell(ms->fdt, path, "bank-width", 4);
}

void riscv_mh_fdt_syscon(MachineState *ms, const MemMapEntry *test,
                         uint32_t *phandle)
{
    static const struct {
        const char *path;
        const char *compat;
        uint32_t value;
    } actions[] = {
        { "/reboot", "syscon-reboot", FINISHER_RESET },
        { "/poweroff", "syscon-poweroff", FINISHER_PASS },
    };
    static const char *const compat[] = {
        "sifive,test1", "sifive,test0", "syscon"
    };
    void *fdt = ms->fdt;
    uint32_t regmap = (*phandle)++;
    g_autofree char *path = g_strdup_printf("/soc/test@%" PRIx64, test->base);

    qemu_fdt_add_subnode(fdt, path);
    qemu_fdt_setprop_string_array(fdt, path, "compatible", (char **)compat,
                                  ARRAY_SIZE(compat));
    qemu_fdt_setprop_sized_cells(fdt, path, "reg", 2, test->base,
                                 2, test->size);
    qemu_fdt_setprop_cell(fdt, path, "phandle", regmap);
    for (int i = 0; i < ARRAY_SIZE(actions); i++) {
        const char *action = actions[i].path;

        qemu_fdt_add_subnode(fdt, action);
        qemu_fdt_setprop_string(fdt, action, "compatible", actions[i].compat);
        qemu_fdt_setprop_cell(fdt, action, "regmap", regmap);
        qemu_fdt_setprop_cell(fdt, action, "offset", 0);
        qemu_fdt_setprop_cell(fdt, action, "value", actions[i].value);
    }
}

void riscv_mh_fdt_rtc(MachineState *ms, const MemMapEntry *rtc,
                      const RiscvMhIrqParent *p, uint32_t irq)
{
    g_autofree char *path = g_strdup_printf("/soc/rtc@%" PRIx64, rtc->base);

    qemu_fdt_add_subnode(ms->fdt, path);
    qemu_fdt_setprop_string(ms->fdt, path, "compatible", "google,goldfish-rtc");
    qemu_fdt_setprop_sized_cells(ms->fdt, path, "reg", 2, rtc->base,
                                 2, rtc->size);
    qemu_fdt_setprop_cell(ms->fdt, path, "interrupt-parent", p->phandle);
    if (p->cells > 1) {
        qemu_fdt_setprop_cells(ms->fdt, path, "interrupts", irq,
                               RISCV_MH_IRQ_LEVEL_HIGH);
    } else {
        qemu_fdt_setprop_cell(ms->fdt, path, "interrupts", irq);
    }
}

/* SMBIOS processor families "RISC-V RV32" and "RISC-V RV64" */
#define RISCV_MH_SMBIOS_RV32 0x200
#define RISCV_MH_SMBIOS_RV64 0x201

void riscv_mh_smbios(MachineState *ms, FWCfgState *fw_cfg,
                     const char *product, hwaddr dram_base,
                     RISCVHartArrayState *harts)
{
    struct smbios_phys_mem_area ram = {
        .address = dram_base,
        .length = ms->ram_size,
    };
    uint8_t *tables, *anchor;
    size_t tables_len, anchor_len;

    smbios_set_defaults("QEMU", product, MACHINE_GET_CLASS(ms)->name);
    smbios_set_default_processor_family(riscv_is_32bit(harts) ?
                                        RISCV_MH_SMBIOS_RV32 :
                                        RISCV_MH_SMBIOS_RV64);
    smbios_get_tables(ms, SMBIOS_ENTRY_POINT_TYPE_64, &ram, 1,
                      &tables, &tables_len, &anchor, &anchor_len,
                      &error_fatal);
    if (anchor) {
        fw_cfg_add_file(fw_cfg, "etc/smbios/smbios-tables", tables,
                        tables_len);
        fw_cfg_add_file(fw_cfg, "etc/smbios/smbios-anchor", anchor,
                        anchor_len);
    }
}

void riscv_mh_map_memory(MachineState *ms, hwaddr dram_base,
                         const MemMapEntry *mrom, const char *rom_name)
{
    MemoryRegion *sysmem = get_system_memory();
    MemoryRegion *rom = g_new(MemoryRegion, 1);

    memory_region_add_subregion(sysmem, dram_base, ms->ram);
    memory_region_init_rom(rom, NULL, rom_name, mrom->size, &error_fatal);
    memory_region_add_subregion(sysmem, mrom->base, rom);
}

void riscv_mh_firmware_default(MachineState *ms, const char *name)
{
    char *path;

    if (ms->firmware && strcmp(ms->firmware, "default")) {
        return;
    }
    path = qemu_find_file(QEMU_FILE_TYPE_BIOS, name);
    if (path) {
        g_free(ms->firmware);
        ms->firmware = path;
        return;
    }
    /* qtest runs without firmware, as riscv_find_firmware() allows */
    if (!qtest_enabled()) {
        error_report("Unable to find the RISC-V firmware \"%s\" in QEMU's "
                     "firmware path: install it there, add a directory with "
                     "-L, or name a file with -bios", name);
        exit(1);
    }
}

/* KVM guests boot their kernel directly: there is no M-mode firmware */
static void mh_boot_check_kvm(MachineState *ms)
{
    if (!kvm_enabled()) {
        return;
    }
    if (!ms->firmware) {
        ms->firmware = g_strdup("none");
    } else if (strcmp(ms->firmware, "none")) {
        error_report("Machine mode firmware is not supported in "
                     "combination with KVM.");
        exit(1);
    }
}

void riscv_mh_boot(MachineState *ms, RISCVHartArrayState *harts,
                   const RiscvMhBoot *b)
{
    hwaddr start = b->dram_base;
    uint64_t entry = 0;
    uint64_t fdt_addr;
    target_ulong fw_end;
    RISCVBootInfo info;

    mh_boot_check_kvm(ms);
    fw_end = riscv_find_and_load_firmware(ms,
                                          riscv_default_firmware_name(harts),
                                          &start, NULL);

    if (b->flash0 && pflash_cfi01_get_blk(b->flash0)) {
        bool no_bios = ms->firmware && !strcmp(ms->firmware, "none");

        if (no_bios && !kvm_enabled()) {
            /* The flash holds M-mode code: start there */
            start = b->flash_base;
        } else {
            /* The flash holds the S-mode payload of the firmware */
            riscv_setup_firmware_boot(ms);
            entry = b->flash_base;
        }
    }

    riscv_boot_info_init(&info, harts);
    if (ms->kernel_filename && !entry) {
        riscv_load_kernel(ms, &info,
                          riscv_calc_kernel_start_addr(&info, fw_end),
                          true, NULL);
        entry = info.image_low_addr;
    }

    fdt_addr = riscv_compute_fdt_addr(b->dram_base, b->dram_size, ms, &info);
    riscv_load_fdt(fdt_addr, ms->fdt);
    riscv_setup_rom_reset_vec(ms, harts, start, b->mrom.base, b->mrom.size,
                              entry, fdt_addr);

    /* Without firmware KVM starts the kernel itself */
    if (kvm_enabled()) {
        riscv_setup_direct_kernel(entry, fdt_addr);
    }
}
