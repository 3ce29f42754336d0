/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QTest for the RISC-V virt-pcie machine
 *
 * Copyright (c) 2025 virt-pcie developers
 *
 * Checks the platform against docs/specs/riscv-virt-pcie.rst: the device
 * tree, PCIe enumeration through ECAM, a device MSI reaching an IMSIC,
 * the MMIO policy, the 4096-hart limit and the refused configurations.
 */

#include "qemu/osdep.h"
#include <libfdt.h>
#include "qemu/bswap.h"
#include "libqtest.h"
#include "qobject/qdict.h"

#define ECAM_BASE           0x30000000ULL
#define PCIE_MMIO_BASE      0x40000000ULL
#define IMSIC_S_BASE        0x10080000000ULL
#define PCI_HOST_PATH       "/soc/pci@30000000"
/* The console: its PCI node, and its firmware view (10.0: in I/O space) */
#define CONSOLE_FUNCTION    PCI_HOST_PATH "/serial@0,1"
#define CONSOLE_WINDOW      "/soc/pci-mem@7ffff000"
#define CONSOLE_PATH        CONSOLE_WINDOW "/serial@7ffff000"
#define CONSOLE_WINDOW_10_0 "/soc/pci-io@3000000"
#define CONSOLE_PATH_10_0   CONSOLE_WINDOW_10_0 "/serial@ff8"

/* fw-cfg=on: the fw_cfg function's registers, and their firmware view */
#define FW_CFG_BASE         0x7fffe000ULL
#define FW_CFG_SELECTOR     (FW_CFG_BASE + 8)
#define FW_CFG_WINDOW       "/soc/pci-mem@7fffe000"
#define FW_CFG_PATH         FW_CFG_WINDOW "/fw-cfg@7fffe000"
#define FW_CFG_SIGNATURE    0x00
#define FW_CFG_ID           0x01
#define FW_CFG_NB_CPUS      0x05
#define FW_CFG_FILE_DIR     0x19

/* PCI configuration space */
/* Two NUMA nodes of two harts each; seventeen nodes */
#define NUMA_2X2 "-numa node,cpus=0-1,mem=256M -numa node,cpus=2-3,mem=256M"
#define NODE_128M "-numa node,mem=128M "
#define NUMA_1(n) "-numa node,cpus=" #n ",mem=64M "
/* harts 2048 to 2062 in 15 nodes of one */
#define NUMA_15X1 NUMA_1(2048) NUMA_1(2049) NUMA_1(2050) NUMA_1(2051) \
    NUMA_1(2052) NUMA_1(2053) NUMA_1(2054) NUMA_1(2055) NUMA_1(2056) \
    NUMA_1(2057) NUMA_1(2058) NUMA_1(2059) NUMA_1(2060) NUMA_1(2061) \
    NUMA_1(2062)
#define NUMA_17 "-m 2176M " NODE_128M NODE_128M NODE_128M NODE_128M \
    NODE_128M NODE_128M NODE_128M NODE_128M NODE_128M NODE_128M NODE_128M \
    NODE_128M NODE_128M NODE_128M NODE_128M NODE_128M NODE_128M

#define PCI_VENDOR_ID       0x00
#define PCI_COMMAND         0x04
#define PCI_COMMAND_MEMORY  0x2
#define PCI_COMMAND_MASTER  0x4
#define PCI_CLASS_PROG      0x09
#define PCI_HEADER_TYPE     0x0e
#define PCI_HEADER_TYPE_MULTI_FUNCTION 0x80
#define PCI_BASE_ADDRESS_0  0x10
#define PCI_CAPABILITY_LIST 0x34
#define PCI_CAP_ID_EA       0x14
#define PCI_CAP_ID_MSI      0x05
#define PCI_MSI_FLAGS       2
#define PCI_MSI_FLAGS_ENABLE 0x1
#define PCI_MSI_FLAGS_64BIT 0x80
#define PCI_MSI_ADDRESS_LO  4
#define PCI_MSI_ADDRESS_HI  8
#define PCI_MSI_DATA_64     12

/* The "edu" test device: writing its status register raises its MSI */
#define EDU_SLOT            2
#define EDU_RAISE_IRQ       0x60

/* S-level IMSIC file of a hart, through its CSRs */
#define CSR_SISELECT        0x150
#define CSR_SIREG           0x151
#define ISELECT_EIP0        0x80
#define MSI_ID              5

static uint64_t ecam(int slot, int fn, int offset)
{
    return ECAM_BASE + (slot << 15) + (fn << 12) + offset;
}

/* Run QEMU with @args; returns its exit code, or -1 if a signal hit it */
static int run_qemu(const char *args, char **err)
{
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    g_autofree char *cmd = g_strdup_printf("%s -display none %s", qemu, args);
    g_auto(GStrv) argv = NULL;
    g_autoptr(GError) error = NULL;
    int status;

    g_assert(qemu);
    g_assert(g_shell_parse_argv(cmd, NULL, &argv, NULL));
    g_assert(g_spawn_sync(NULL, argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                          NULL, NULL, err, &status, &error));
    if (!WIFEXITED(status)) {
        return -1;
    }
    return WEXITSTATUS(status);
}

/* The device tree of "-M virt-pcie@machine_opts @args" */
static void *dump_dtb(const char *machine_opts, const char *args)
{
    g_autofree char *dir = g_dir_make_tmp("virt-pcie-XXXXXX", NULL);
    g_autofree char *file = g_build_filename(dir, "virt-pcie.dtb", NULL);
    g_autofree char *cmd = g_strdup_printf("-accel qtest "
                                           "-M virt-pcie%s,dumpdtb=%s %s",
                                           machine_opts, file, args);
    g_autofree char *err = NULL;
    char *fdt = NULL;
    size_t len;

    g_assert_cmpint(run_qemu(cmd, &err), ==, 0);
    g_assert(g_file_get_contents(file, &fdt, &len, NULL));
    g_assert_cmpint(fdt_check_header(fdt), ==, 0);
    g_assert_cmpuint(fdt_totalsize(fdt), <=, len);
    unlink(file);
    rmdir(dir);
    return fdt;
}

static int node(const void *fdt, const char *path)
{
    int off = fdt_path_offset(fdt, path);

    if (off < 0) {
        g_test_message("no node %s", path);
    }
    g_assert_cmpint(off, >=, 0);
    return off;
}

static const fdt32_t *cells(const void *fdt, const char *path,
                            const char *name, int *count)
{
    int len;
    const fdt32_t *p = fdt_getprop(fdt, node(fdt, path), name, &len);

    if (!p) {
        g_test_message("no property %s in %s", name, path);
    }
    g_assert(p);
    *count = len / 4;
    return p;
}

static uint32_t cell(const void *fdt, const char *path, const char *name)
{
    int n;
    const fdt32_t *p = cells(fdt, path, name, &n);

    g_assert_cmpint(n, ==, 1);
    return fdt32_to_cpu(*p);
}

static bool compatible(const void *fdt, const char *path, const char *compat)
{
    return fdt_node_check_compatible(fdt, node(fdt, path), compat) == 0;
}

/* Path of the node whose phandle is @ph */
static char *phandle_path(const void *fdt, uint32_t ph)
{
    char buf[256];
    int off = fdt_node_offset_by_phandle(fdt, ph);

    g_assert_cmpint(off, >=, 0);
    g_assert_cmpint(fdt_get_path(fdt, off, buf, sizeof(buf)), ==, 0);
    return g_strdup(buf);
}

static int count_compatible(const void *fdt, const char *compat)
{
    int n = 0;

    for (int off = fdt_node_offset_by_compatible(fdt, -1, compat); off >= 0;
         off = fdt_node_offset_by_compatible(fdt, off, compat)) {
        n++;
    }
    return n;
}

static void test_dt_interrupts(void)
{
    g_autofree void *fdt = dump_dtb("", "-smp 4 -m 512M " NUMA_2X2);
    const char *imsic_m = "/soc/interrupt-controller@10000000000";
    const char *imsic_s = "/soc/interrupt-controller@10080000000";
    const char *aplic_m = "/soc/interrupt-controller@c000000";
    const char *aplic_s = "/soc/interrupt-controller@d000000";
    g_autofree char *path = NULL;
    const fdt32_t *p;
    int n;

    g_assert(compatible(fdt, imsic_m, "riscv,imsics"));
    g_assert(compatible(fdt, imsic_s, "riscv,imsics"));
    g_assert_cmpuint(cell(fdt, imsic_m, "riscv,num-ids"), ==, 255);
    g_assert_cmpuint(cell(fdt, imsic_s, "riscv,num-ids"), ==, 255);
    g_assert_cmpuint(cell(fdt, imsic_m, "riscv,group-index-shift"), ==, 24);
    g_assert_cmpuint(cell(fdt, imsic_s, "riscv,group-index-shift"), ==, 27);
    g_assert_cmpuint(cell(fdt, imsic_m, "riscv,group-index-bits"), ==, 1);
    g_assert_cmpuint(cell(fdt, imsic_s, "riscv,hart-index-bits"), ==, 1);
    g_assert_cmpuint(cell(fdt, imsic_s, "riscv,guest-index-bits"), ==, 3);
    g_assert(!fdt_getprop(fdt, node(fdt, imsic_m), "riscv,guest-index-bits",
                          NULL));

    /* One group per socket at the fixed strides */
    p = cells(fdt, imsic_s, "reg", &n);
    g_assert_cmpint(n, ==, 8);
    g_assert_cmphex(fdt32_to_cpu(p[4]), ==, 0x100);
    g_assert_cmphex(fdt32_to_cpu(p[5]), ==, 0x88000000);
    g_assert_cmphex(fdt32_to_cpu(p[7]), ==, 2 * 0x8000);
    p = cells(fdt, imsic_m, "reg", &n);
    g_assert_cmpint(n, ==, 8);
    g_assert_cmphex(fdt32_to_cpu(p[5]), ==, 0x01000000);

    /* APLIC domains in MSI mode, M delegating to S, one pair per socket */
    g_assert(compatible(fdt, aplic_m, "riscv,aplic"));
    g_assert_cmpuint(cell(fdt, aplic_m, "riscv,num-sources"), ==, 32);
    g_assert_cmpuint(cell(fdt, aplic_s, "riscv,num-sources"), ==, 32);
    g_assert(!fdt_getprop(fdt, node(fdt, aplic_s), "interrupts-extended",
                          NULL));
    path = phandle_path(fdt, cell(fdt, aplic_m, "msi-parent"));
    g_assert_cmpstr(path, ==, imsic_m);
    g_free(path);
    path = phandle_path(fdt, cell(fdt, aplic_s, "msi-parent"));
    g_assert_cmpstr(path, ==, imsic_s);
    g_assert_cmpuint(cell(fdt, aplic_m, "riscv,children"), ==,
                     cell(fdt, aplic_s, "phandle"));
    node(fdt, "/soc/interrupt-controller@c004000");
    node(fdt, "/soc/interrupt-controller@d004000");
    g_assert_cmpint(count_compatible(fdt, "riscv,aplic"), ==, 4);

    /* Nothing of what the platform leaves out */
    g_assert_cmpint(count_compatible(fdt, "riscv,plic0"), ==, 0);
    g_assert_cmpint(count_compatible(fdt, "riscv,aclint-mswi"), ==, 0);
    g_assert_cmpint(count_compatible(fdt, "riscv,aclint-sswi"), ==, 0);
    g_assert_cmpint(count_compatible(fdt, "virtio,mmio"), ==, 0);
    g_assert_cmpint(count_compatible(fdt, "riscv,aclint-mtimer"), ==, 2);
    /* fw_cfg is a PCI function: only its firmware view (11.0) */
    g_assert_cmpint(count_compatible(fdt, "qemu,fw-cfg-mmio"), ==, 1);

    /* The RTC alarm is source 1 of socket 0's S domain */
    g_assert(compatible(fdt, "/soc/rtc@101000", "google,goldfish-rtc"));
    g_assert_cmpuint(cell(fdt, "/soc/rtc@101000", "interrupt-parent"), ==,
                     cell(fdt, aplic_s, "phandle"));
    p = cells(fdt, "/soc/rtc@101000", "interrupts", &n);
    g_assert_cmpint(n, ==, 2);
    g_assert_cmpuint(fdt32_to_cpu(p[0]), ==, 1);

    /* Two NUMA nodes, with half of the RAM each */
    g_assert_cmpuint(cell(fdt, "/cpus/cpu@3", "numa-node-id"), ==, 1);
    p = cells(fdt, "/memory@90000000", "reg", &n);
    g_assert_cmphex(fdt32_to_cpu(p[3]), ==, 0x10000000);
}

/* The cpu node a cpu-map entry points to */
static char *cpu_map_target(const void *fdt, const char *entry)
{
    return phandle_path(fdt, cell(fdt, entry, "cpu"));
}

/*
 * -smp sockets, clusters, cores and threads are the cpu-map; they are not
 * NUMA nodes: this is what libvirt asks for a plain <vcpu>N</vcpu>.
 */
static void test_dt_smp_topology(void)
{
    g_autofree void *fdt = dump_dtb("", "-smp 8,sockets=2,clusters=1,"
                                    "cores=2,threads=2");
    g_autofree char *cpu = NULL;

    g_assert_cmpint(count_compatible(fdt, "riscv,aclint-mtimer"), ==, 1);
    g_assert(!fdt_getprop(fdt, node(fdt, "/cpus/cpu@7"), "numa-node-id",
                          NULL));
    cpu = cpu_map_target(fdt, "/cpus/cpu-map/socket0/cluster0/core0/thread1");
    g_assert_cmpstr(cpu, ==, "/cpus/cpu@1");
    g_free(cpu);
    cpu = cpu_map_target(fdt, "/cpus/cpu-map/socket1/cluster0/core1/thread0");
    g_assert_cmpstr(cpu, ==, "/cpus/cpu@6");
    g_free(cpu);

    /* libvirt's -smp for 17 vCPUs: 17 sockets of one core, one node */
    g_free(fdt);
    fdt = dump_dtb("", "-smp 17,sockets=17,cores=1,threads=1");
    cpu = cpu_map_target(fdt, "/cpus/cpu-map/socket16/cluster0/core0");
    g_assert_cmpstr(cpu, ==, "/cpus/cpu@16");
    g_assert_cmpint(count_compatible(fdt, "riscv,aclint-mtimer"), ==, 1);
}

/* Up to virt-pcie-10.0, -smp sockets were NUMA nodes with a cluster each */
static void test_dt_sockets_10_0(void)
{
    g_autofree void *fdt = dump_dtb("-10.0", "-smp 4,sockets=2 -m 512M");
    g_autofree char *cpu = NULL;

    g_assert_cmpint(count_compatible(fdt, "riscv,aclint-mtimer"), ==, 2);
    g_assert_cmpuint(cell(fdt, "/cpus/cpu@3", "numa-node-id"), ==, 1);
    cpu = cpu_map_target(fdt, "/cpus/cpu-map/cluster1/core0");
    g_assert_cmpstr(cpu, ==, "/cpus/cpu@2");
}

static void test_dt_pcie(void)
{
    g_autofree void *fdt = dump_dtb("", "");
    const char *aplic_s = "/soc/interrupt-controller@d000000";
    g_autofree char *msi = NULL;
    const char *stdout_path;
    const fdt32_t *p;
    int n;

    g_assert(compatible(fdt, PCI_HOST_PATH, "pci-host-ecam-generic"));
    g_assert_cmpuint(cell(fdt, PCI_HOST_PATH, "linux,pci-domain"), ==, 0);
    g_assert_cmpuint(cell(fdt, PCI_HOST_PATH, "#address-cells"), ==, 3);
    p = cells(fdt, PCI_HOST_PATH, "bus-range", &n);
    g_assert_cmpuint(fdt32_to_cpu(p[1]), ==, 255);
    msi = phandle_path(fdt, cell(fdt, PCI_HOST_PATH, "msi-parent"));
    g_assert_cmpstr(msi, ==, "/soc/interrupt-controller@10080000000");

    /*
     * I/O first (from bus address 0x1000 since 11.0: firmware gives no
     * I/O BAR the address 0), then 32-bit and 64-bit memory, all fixed
     */
    p = cells(fdt, PCI_HOST_PATH, "ranges", &n);
    g_assert_cmpint(n, ==, 3 * 7);
    g_assert_cmphex(fdt32_to_cpu(p[0]), ==, 0x01000000);
    g_assert_cmphex(fdt32_to_cpu(p[2]), ==, 0x1000);
    g_assert_cmphex(fdt32_to_cpu(p[4]), ==, 0x03001000);
    g_assert_cmphex(fdt32_to_cpu(p[6]), ==, 0xf000);
    g_assert_cmphex(fdt32_to_cpu(p[7]), ==, 0x02000000);
    g_assert_cmphex(fdt32_to_cpu(p[11]), ==, 0x40000000);
    g_assert_cmphex(fdt32_to_cpu(p[14]), ==, 0x03000000);
    g_assert_cmphex(fdt32_to_cpu(p[17]), ==, 0x200);
    g_assert_cmphex(fdt32_to_cpu(p[18]), ==, 0);
    g_assert_cmphex(fdt32_to_cpu(p[19]), ==, 0x100);

    /* INTA-D of 4 slots, swizzled onto APLIC S sources 2-5 */
    p = cells(fdt, PCI_HOST_PATH, "interrupt-map", &n);
    g_assert_cmpint(n, ==, 16 * 7);
    for (int row = 0; row < 16; row++) {
        const fdt32_t *r = p + row * 7;
        int slot = row / 4, pin = row % 4;

        g_assert_cmphex(fdt32_to_cpu(r[0]), ==, slot << 11);
        g_assert_cmpuint(fdt32_to_cpu(r[3]), ==, pin + 1);
        g_assert_cmpuint(fdt32_to_cpu(r[4]), ==,
                         cell(fdt, aplic_s, "phandle"));
        g_assert_cmpuint(fdt32_to_cpu(r[5]), ==, 2 + (slot + pin) % 4);
    }

    /*
     * The console's fixed memory range, for firmware: its reg is the CPU
     * address, in a container the OS does not probe that maps the page one
     * to one.  stdout-path names the function's own node, for the OS.
     */
    g_assert_null(fdt_getprop(fdt, node(fdt, CONSOLE_WINDOW), "compatible",
                              NULL));
    g_assert_cmpuint(cell(fdt, CONSOLE_WINDOW, "#address-cells"), ==, 2);
    p = cells(fdt, CONSOLE_WINDOW, "ranges", &n);
    g_assert_cmpint(n, ==, 6);
    g_assert_cmphex(fdt32_to_cpu(p[1]), ==, 0x7ffff000);
    g_assert_cmphex(fdt32_to_cpu(p[3]), ==, 0x7ffff000);
    g_assert_cmphex(fdt32_to_cpu(p[5]), ==, 0x1000);
    g_assert(compatible(fdt, CONSOLE_PATH, "ns16550a"));
    g_assert_cmpuint(cell(fdt, CONSOLE_PATH, "clock-frequency"), ==, 1843200);
    p = cells(fdt, CONSOLE_PATH, "reg", &n);
    g_assert_cmpint(n, ==, 4);
    g_assert_cmphex(fdt32_to_cpu(p[1]), ==, 0x7ffff000);
    g_assert_cmphex(fdt32_to_cpu(p[3]), ==, 0x8);
    g_assert(compatible(fdt, CONSOLE_FUNCTION, "pci1b36,2"));
    p = cells(fdt, CONSOLE_FUNCTION, "reg", &n);
    g_assert_cmpint(n, ==, 5);
    g_assert_cmphex(fdt32_to_cpu(p[0]), ==, 0x100);   /* 00:00.1 */
    stdout_path = fdt_getprop(fdt, node(fdt, "/chosen"), "stdout-path", NULL);
    g_assert_cmpstr(stdout_path, ==, CONSOLE_FUNCTION);
    g_assert_cmpuint(cell(fdt, "/cpus", "timebase-frequency"), ==,
                     1000000000);

    /* Firmware devices */
    g_assert(compatible(fdt, "/soc/test@100000", "syscon"));
    node(fdt, "/poweroff");
    node(fdt, "/reboot");
    g_assert(compatible(fdt, "/flash@20000000", "cfi-flash"));
    g_assert(compatible(fdt, "/soc/mtimer@2000000", "riscv,aclint-mtimer"));
    g_assert(fdt_getprop(fdt, node(fdt, "/cpus/cpu@0"), "numa-node-id",
                         NULL) == NULL);
}

/* stdout=uart: stdout-path names the firmware view instead */
static void test_dt_stdout_uart(void)
{
    g_autofree void *fdt = dump_dtb(",stdout=uart", "");

    g_assert_cmpstr(fdt_getprop(fdt, node(fdt, "/chosen"), "stdout-path",
                                NULL), ==, CONSOLE_PATH);
    node(fdt, CONSOLE_FUNCTION);
}

/* 10.0 keeps its console in I/O space, named by stdout-path, and 10 MHz */
static void test_dt_10_0(void)
{
    g_autofree void *fdt = dump_dtb("-10.0", "");
    const fdt32_t *p;
    int n;

    p = cells(fdt, CONSOLE_WINDOW_10_0, "ranges", &n);
    g_assert_cmpint(n, ==, 6);
    g_assert_cmphex(fdt32_to_cpu(p[3]), ==, 0x3000000);
    p = cells(fdt, CONSOLE_PATH_10_0, "reg", &n);
    g_assert_cmphex(fdt32_to_cpu(p[1]), ==, 0xff8);
    g_assert_cmpstr(fdt_getprop(fdt, node(fdt, "/chosen"), "stdout-path",
                                NULL), ==, CONSOLE_PATH_10_0);
    g_assert_cmpint(fdt_path_offset(fdt, CONSOLE_FUNCTION), <, 0);
    g_assert_cmpuint(cell(fdt, "/cpus", "timebase-frequency"), ==, 10000000);
}

/* -device riscv-iommu-pci: its node, and iommu-map around its own RID */
static void test_dt_iommu(void)
{
    g_autofree void *fdt = dump_dtb("", "-device riscv-iommu-pci,addr=04.0");
    const char *iommu = PCI_HOST_PATH "/iommu@4";
    const fdt32_t *p;
    int n;

    g_assert(compatible(fdt, iommu, "riscv,pci-iommu"));
    g_assert(compatible(fdt, iommu, "pci1b36,14"));
    g_assert_cmpuint(cell(fdt, iommu, "#iommu-cells"), ==, 1);
    p = cells(fdt, iommu, "reg", &n);
    g_assert_cmphex(fdt32_to_cpu(p[0]), ==, 0x2000);
    p = cells(fdt, PCI_HOST_PATH, "iommu-map", &n);
    g_assert_cmpint(n, ==, 8);
    /* RIDs 0-0x1f and 0x21-0xffff, not 0x20 (00:04.0) */
    g_assert_cmphex(fdt32_to_cpu(p[0]), ==, 0);
    g_assert_cmpuint(fdt32_to_cpu(p[1]), ==, cell(fdt, iommu, "phandle"));
    g_assert_cmphex(fdt32_to_cpu(p[3]), ==, 0x20);
    g_assert_cmphex(fdt32_to_cpu(p[4]), ==, 0x21);
    g_assert_cmphex(fdt32_to_cpu(p[7]), ==, 0xffdf);
}

/* The IOMMU is described once, when the machine is created */
static void test_iommu_hotplug(void)
{
    QTestState *qts = qtest_init("-M virt-pcie");
    QDict *resp = qtest_qmp(qts, "{'execute': 'device_add', 'arguments':"
                            " {'driver': 'riscv-iommu-pci', 'id': 'io0'}}");
    QDict *err = qdict_get_qdict(resp, "error");

    g_assert(err);
    g_assert(strstr(qdict_get_str(err, "desc"),
                    "does not support hotplugging"));
    qobject_unref(resp);
    qtest_quit(qts);
}

static void test_dt_aia_guests(void)
{
    g_autofree void *fdt = dump_dtb(",aia-guests=0", "-smp 2");
    const char *imsic_s = "/soc/interrupt-controller@10080000000";

    g_assert(!fdt_getprop(fdt, node(fdt, imsic_s), "riscv,guest-index-bits",
                          NULL));
}

/* 10.2: the I/O window starts at bus address 0 */
static void test_dt_pio_10_2(void)
{
    g_autofree void *fdt = dump_dtb("-10.2", "");
    const fdt32_t *p;
    int n;

    p = cells(fdt, PCI_HOST_PATH, "ranges", &n);
    g_assert_cmphex(fdt32_to_cpu(p[2]), ==, 0);
    g_assert_cmphex(fdt32_to_cpu(p[4]), ==, 0x03000000);
    g_assert_cmphex(fdt32_to_cpu(p[6]), ==, 0x10000);
}

/*
 * The firmware view of the fw_cfg registers: built in since 11.0, with
 * fw-cfg=on on 10.2, and absent otherwise.
 */
static void test_dt_fw_cfg(void)
{
    g_autofree void *fdt = dump_dtb("", "");
    g_autofree void *on_10_2 = dump_dtb("-10.2,fw-cfg=on", "");
    g_autofree void *plain = dump_dtb("-10.2", "");
    g_autofree void *off = dump_dtb(",acpi=off,fw-cfg=off", "");
    const fdt32_t *p;
    int n;

    g_assert_cmpint(fdt_path_offset(on_10_2, FW_CFG_PATH), >=, 0);
    g_assert_cmpint(fdt_path_offset(off, FW_CFG_WINDOW), <, 0);

    g_assert(compatible(fdt, FW_CFG_PATH, "qemu,fw-cfg-mmio"));
    p = cells(fdt, FW_CFG_PATH, "reg", &n);
    g_assert_cmpint(n, ==, 4);
    g_assert_cmphex(fdt32_to_cpu(p[1]), ==, FW_CFG_BASE);
    g_assert_cmphex(fdt32_to_cpu(p[3]), ==, 0x10);  /* no DMA register */
    /* An OS must not probe the container as a device */
    g_assert(!fdt_getprop(fdt, node(fdt, FW_CFG_WINDOW), "compatible",
                          NULL));
    g_assert_cmpint(fdt_path_offset(plain, FW_CFG_WINDOW), <, 0);
}

/* The capability with ID @id of function 00:00.@fn, or 0 */
static uint8_t find_cap(QTestState *qts, int fn, uint8_t id)
{
    uint8_t pos = qtest_readb(qts, ecam(0, fn, PCI_CAPABILITY_LIST));

    while (pos && qtest_readb(qts, ecam(0, fn, pos)) != id) {
        pos = qtest_readb(qts, ecam(0, fn, pos + 1));
    }
    return pos;
}

static void fw_cfg_select(QTestState *qts, uint16_t key)
{
    qtest_writew(qts, FW_CFG_SELECTOR, bswap16(key));  /* big endian */
}

static void fw_cfg_read(QTestState *qts, void *buf, size_t len)
{
    uint8_t *p = buf;

    for (size_t i = 0; i < len; i++) {
        p[i] = qtest_readb(qts, FW_CFG_BASE);
    }
}

/* Select the fw_cfg file @name and return its size, or 0 if it is absent */
static uint32_t fw_cfg_file(QTestState *qts, const char *name)
{
    struct {
        uint32_t size;
        uint16_t select;
        uint16_t reserved;
        char name[56];
    } f;
    uint32_t count;

    fw_cfg_select(qts, FW_CFG_FILE_DIR);
    fw_cfg_read(qts, &count, sizeof(count));
    for (uint32_t i = 0; i < be32_to_cpu(count); i++) {
        fw_cfg_read(qts, &f, sizeof(f));
        if (!strcmp(f.name, name)) {
            fw_cfg_select(qts, be16_to_cpu(f.select));
            return be32_to_cpu(f.size);
        }
    }
    return 0;
}

/*
 * fw-cfg=on: the function 00:00.3, decoding its fixed range from reset;
 * through it, fw_cfg's signature, the hart count, SMBIOS and the boot
 * order, read as firmware reads them
 */
static void test_fw_cfg(void)
{
    QTestState *qts = qtest_init("-M virt-pcie-10.2,fw-cfg=on -smp 3 "
                                 "-device nvme,serial=fw,bootindex=1");
    g_autofree char *tables = NULL, *order = NULL;
    char sig[4], anchor[24];
    uint32_t id, len;
    uint16_t cpus;
    uint64_t wide;

    g_assert_cmphex(qtest_readl(qts, ecam(0, 3, PCI_VENDOR_ID)), ==,
                    0x10f01af4);
    g_assert_cmphex(qtest_readl(qts, ecam(0, 3, 8)) >> 16, ==, 0x0880);
    g_assert_cmpint(find_cap(qts, 3, PCI_CAP_ID_EA), !=, 0);
    g_assert(qtest_readw(qts, ecam(0, 3, PCI_COMMAND)) & PCI_COMMAND_MEMORY);

    fw_cfg_select(qts, FW_CFG_SIGNATURE);
    fw_cfg_read(qts, sig, sizeof(sig));
    g_assert(!memcmp(sig, "QEMU", 4));
    /* The data register is 8 bytes wide, in stream order */
    fw_cfg_select(qts, FW_CFG_SIGNATURE);
    wide = cpu_to_le64(qtest_readq(qts, FW_CFG_BASE));
    g_assert(!memcmp(&wide, "QEMU", 4));
    fw_cfg_select(qts, FW_CFG_ID);
    fw_cfg_read(qts, &id, sizeof(id));
    g_assert_cmphex(le32_to_cpu(id), ==, 1);    /* no DMA interface */
    fw_cfg_select(qts, FW_CFG_NB_CPUS);
    fw_cfg_read(qts, &cpus, sizeof(cpus));
    g_assert_cmpuint(le16_to_cpu(cpus), ==, 3);

    g_assert_cmpuint(fw_cfg_file(qts, "etc/smbios/smbios-anchor"), ==,
                     sizeof(anchor));
    fw_cfg_read(qts, anchor, sizeof(anchor));
    g_assert(!memcmp(anchor, "_SM3_", 5));
    len = fw_cfg_file(qts, "etc/smbios/smbios-tables");
    g_assert_cmpuint(len, >, 0);
    tables = g_malloc(len);
    fw_cfg_read(qts, tables, len);
    g_assert(memmem(tables, len, "QEMU Virtual Machine", 20));
    g_assert(memmem(tables, len, "virt-pcie-10.2", 14));

    len = fw_cfg_file(qts, "bootorder");
    g_assert_cmpuint(len, >, 0);
    order = g_malloc0(len + 1);
    fw_cfg_read(qts, order, len);
    g_test_message("bootorder: %s", order);
    g_assert(strstr(order, "/pci1b36,0010@1/"));
    qtest_quit(qts);
}

/* The fw_cfg file @name, whole (8 bytes a read) */
static uint8_t *fw_cfg_blob(QTestState *qts, const char *name, uint32_t *len)
{
    uint8_t *buf;

    *len = fw_cfg_file(qts, name);
    g_assert_cmpuint(*len, >, 0);
    buf = g_malloc(ROUND_UP(*len, 8));
    for (uint32_t i = 0; i < *len; i += 8) {
        uint64_t v = cpu_to_le64(qtest_readq(qts, FW_CFG_BASE));

        memcpy(buf + i, &v, 8);
    }
    return buf;
}

/* The ACPI tables as QEMU hands them over, before the linker */
typedef struct AcpiBlob {
    uint8_t *data;
    uint32_t len;
} AcpiBlob;

static AcpiBlob acpi_tables(QTestState *qts)
{
    AcpiBlob b;

    b.data = fw_cfg_blob(qts, "etc/acpi/tables", &b.len);
    return b;
}

/* The table with signature @sig, or NULL; its length in *@len */
static const uint8_t *acpi_find(const AcpiBlob *b, const char *sig,
                                uint32_t *len)
{
    for (uint32_t off = 0; off + 36 <= b->len; off += *len) {
        *len = ldl_le_p(b->data + off + 4);
        if (!*len) {
            break;      /* the padding after the last table */
        }
        g_assert_cmpuint(off + *len, <=, b->len);
        if (!memcmp(b->data + off, sig, 4)) {
            return b->data + off;
        }
    }
    return NULL;
}

/*
 * Golden tables are text, so that they carry a license line and review
 * shows their bytes: that line, then the table in hex, 16 bytes a line.
 */
/* (split, so that checkpatch does not take it for this file's license) */
#define GOLDEN_HEADER "# SPDX-License-" "Identifier: GPL-2.0-or-later\n"

static char *golden_text(const uint8_t *data, uint32_t len)
{
    GString *text = g_string_new(GOLDEN_HEADER);

    for (uint32_t i = 0; i < len; i++) {
        g_string_append_printf(text, "%02x%s", data[i],
                               (i % 16 == 15 || i == len - 1) ? "\n" : " ");
    }
    return g_string_free(text, false);
}

/*
 * Compare each table with its golden file, tests/data/virt-pcie-acpi/
 * <@golden>/<signature>.hex (run from the build directory, whose
 * tests/data is the source's).  With VP_ACPI_REBUILD=DIR, write them
 * below DIR instead: that is how a deliberate change updates them.
 */
static void acpi_check_golden(const AcpiBlob *b, const char *golden)
{
    const char *rebuild = g_getenv("VP_ACPI_REBUILD");
    g_autofree char *dir = g_build_filename(rebuild ? rebuild : "tests/data",
                                            "virt-pcie-acpi", golden, NULL);
    g_autoptr(GDir) files = NULL;
    const char *name;
    int tables = 0;
    uint32_t len;

    if (rebuild) {
        g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
    }
    for (uint32_t off = 0; off + 36 <= b->len; off += len, tables++) {
        g_autofree char *sig = g_strndup((char *)b->data + off, 4);
        g_autofree char *file = g_strdup_printf("%s.hex", sig);
        g_autofree char *path = g_build_filename(dir, file, NULL);
        g_autofree char *want = NULL;
        g_autofree char *have = NULL;

        len = ldl_le_p(b->data + off + 4);
        if (!len) {
            break;
        }
        have = golden_text(b->data + off, len);
        if (rebuild) {
            g_assert(g_file_set_contents(path, have, -1, NULL));
            continue;
        }
        if (!g_file_get_contents(path, &want, NULL, NULL)) {
            g_test_message("no golden file %s for table %s", path, sig);
            g_assert_not_reached();
        }
        if (strcmp(want, have)) {
            g_test_message("table %s differs from %s: what a guest sees "
                           "changed (a new machine version, or "
                           "VP_ACPI_REBUILD=DIR for a deliberate change "
                           "of virt-pcie-11.0)", sig, path);
            g_assert_not_reached();
        }
    }
    /* No golden table may be missing from the machine either */
    files = g_dir_open(dir, 0, NULL);
    g_assert(files);
    while ((name = g_dir_read_name(files))) {
        tables--;
    }
    g_assert_cmpint(tables, ==, 0);
}

/* Count the structures of type @type in the MADT */
static int madt_count(const uint8_t *madt, uint32_t len, uint8_t type,
                      const uint8_t **last)
{
    int n = 0;

    for (uint32_t off = 44; off < len; off += madt[off + 1]) {
        g_assert_cmpuint(madt[off + 1], >, 0);
        if (madt[off] == type) {
            *last = madt + off;
            n++;
        }
    }
    return n;
}

/*
 * The tables QEMU builds for the firmware (11.0), checked field by
 * field against the platform: 1 GHz timebase, a RINTC per hart with its
 * S-level IMSIC file, one IMSIC, the APLIC in MSI mode with its GSIs
 * above the ISA range, ECAM, a hardware-reduced FADT, and an SPCR that
 * names the console by its PCI location and its fixed range.
 */
static void test_acpi_tables(void)
{
    QTestState *qts = qtest_init("-M virt-pcie -smp 3");
    AcpiBlob b = acpi_tables(qts);
    const uint8_t *t, *entry = NULL;
    uint32_t len, harts = 0;
    bool mmu = false;
    static const char *const sigs[] = {
        "DSDT", "FACP", "APIC", "RHCT", "MCFG", "SPCR", "XSDT",
    };

    for (int i = 0; i < ARRAY_SIZE(sigs); i++) {
        g_assert(acpi_find(&b, sigs[i], &len));
    }
    g_assert(!acpi_find(&b, "SRAT", &len));
    g_assert(!acpi_find(&b, "RIMT", &len));

    t = acpi_find(&b, "RHCT", &len);
    g_assert_cmpuint(ldq_le_p(t + 40), ==, 1000000000);
    g_assert(g_str_has_prefix((const char *)t + 56 + 8, "rv64"));
    for (uint32_t off = 56; off < len; off += lduw_le_p(t + off + 2)) {
        harts += lduw_le_p(t + off) == 0xffff;      /* hart info */
        mmu |= lduw_le_p(t + off) == 2;
    }
    g_assert_cmpuint(harts, ==, 3);
    g_assert(mmu);

    t = acpi_find(&b, "APIC", &len);
    g_assert_cmpint(madt_count(t, len, 0x18, &entry), ==, 3);
    g_assert_cmphex(ldq_le_p(entry + 8), ==, 2);             /* hart ID */
    g_assert_cmphex(ldq_le_p(entry + 24), ==, IMSIC_S_BASE + 2 * 0x8000);
    g_assert_cmpint(madt_count(t, len, 0x19, &entry), ==, 1);
    g_assert_cmpuint(entry[13], ==, 2);                 /* hart bits */
    g_assert_cmpuint(entry[15], ==, 27);                /* group shift */
    g_assert_cmpint(madt_count(t, len, 0x1a, &entry), ==, 1);
    g_assert_cmpuint(lduw_le_p(entry + 16), ==, 0);     /* no IDC: MSI */
    g_assert_cmpuint(ldl_le_p(entry + 20), ==, 32);     /* GSI base */
    g_assert_cmphex(ldq_le_p(entry + 24), ==, 0xd000000);

    t = acpi_find(&b, "MCFG", &len);
    g_assert_cmphex(ldq_le_p(t + 44), ==, ECAM_BASE);
    t = acpi_find(&b, "FACP", &len);
    g_assert(ldl_le_p(t + 112) & (1 << 20));            /* HW_REDUCED */

    acpi_check_golden(&b, "11.0/default");

    t = acpi_find(&b, "SPCR", &len);
    g_assert_cmpuint(t[8], >=, 4);                      /* revision */
    g_assert_cmphex(t[36], ==, 0x12);                   /* 16550 */
    g_assert_cmphex(ldq_le_p(t + 44), ==, 0x7ffff000);
    g_assert_cmphex(ldl_le_p(t + 54), ==, 34);          /* INTA's GSI */
    g_assert_cmphex(lduw_le_p(t + 64), ==, 0x0002);     /* device */
    g_assert_cmphex(lduw_le_p(t + 66), ==, 0x1b36);     /* vendor */
    g_assert_cmphex(t[69] << 8 | t[70], ==, 0x0001);    /* 00:00.1 */

    g_free(b.data);
    qtest_quit(qts);
}

/* -numa with distances: SRAT (a RINTC affinity per hart) and SLIT */
static void test_acpi_numa(void)
{
    QTestState *qts = qtest_init("-M virt-pcie -smp 4 "
                                 NUMA_2X2 " -m 512M "
                                 "-numa dist,src=0,dst=1,val=21");
    AcpiBlob b = acpi_tables(qts);
    const uint8_t *t;
    uint32_t len, rintc = 0, mem = 0;

    acpi_check_golden(&b, "11.0/numa");
    t = acpi_find(&b, "SRAT", &len);
    g_assert(t);
    for (uint32_t off = 48; off < len; off += t[off + 1]) {
        rintc += t[off] == 7;
        mem += t[off] == 1;
    }
    g_assert_cmpuint(rintc, ==, 4);
    g_assert_cmpuint(mem, ==, 2);
    t = acpi_find(&b, "SLIT", &len);
    g_assert(t);
    g_assert_cmpuint(t[44 + 1], ==, 21);
    t = acpi_find(&b, "APIC", &len);
    g_assert_cmpuint(madt_count(t, len, 0x1a, &t), ==, 2);
    g_assert_cmpuint(ldl_le_p(t + 20), ==, 64);         /* socket 1 */
    g_free(b.data);
    qtest_quit(qts);
}

/*
 * -smp with sockets: every hart has its RINTC, and the sockets are no
 * NUMA nodes (no SRAT), as in the device tree
 */
static void test_acpi_sockets(void)
{
    QTestState *qts = qtest_init("-M virt-pcie "
                                 "-smp 8,sockets=2,cores=4,threads=1");
    AcpiBlob b = acpi_tables(qts);
    const uint8_t *t, *entry = NULL;
    uint32_t len;

    acpi_check_golden(&b, "11.0/sockets");
    g_assert(!acpi_find(&b, "SRAT", &len));
    t = acpi_find(&b, "APIC", &len);
    g_assert_cmpint(madt_count(t, len, 0x18, &entry), ==, 8);
    g_assert_cmphex(ldq_le_p(entry + 8), ==, 7);             /* hart ID */
    g_assert_cmpint(madt_count(t, len, 0x1a, &entry), ==, 1);
    g_free(b.data);
    qtest_quit(qts);
}

/*
 * Once firmware has given the console an I/O BAR, the tables (built again
 * when the firmware reads them) name that BAR in the SPCR, and the host
 * bridge's _DSM asks the OS to keep it (function 5 listed in function 0)
 */
static void test_acpi_spcr_io(void)
{
    QTestState *qts = qtest_init("-M virt-pcie");
    AcpiBlob b;
    const uint8_t *t;
    uint32_t len;

    qtest_writel(qts, ecam(0, 1, PCI_BASE_ADDRESS_0), 0x1008);
    b = acpi_tables(qts);
    t = acpi_find(&b, "SPCR", &len);
    g_assert(t);
    g_assert_cmpuint(t[40], ==, 1);                     /* system I/O */
    g_assert_cmphex(ldq_le_p(t + 44), ==, 0x1008);
    /*
     * _DSM: function 0 returns Buffer (1) {0x21} (functions 0 and 5), and
     * If (Arg2 == 5) Return (Zero)
     */
    t = acpi_find(&b, "DSDT", &len);
    g_assert(memmem(t, len, "\x11\x03\x01\x21", 4));
    g_assert(memmem(t, len, "\x93\x6a\x0a\x05\xa4\x00", 6));
    g_free(b.data);
    qtest_quit(qts);
}

/*
 * An IOMMU: the RIMT sends every requester ID but the IOMMU's own (00:04.0,
 * 0x20) to it, unchanged; without one there is no RIMT (test_acpi_tables)
 */
static void test_acpi_iommu(void)
{
    QTestState *qts = qtest_init("-M virt-pcie "
                                 "-device riscv-iommu-pci,addr=04.0");
    AcpiBlob b = acpi_tables(qts);
    const uint8_t *t, *rc;
    uint32_t len;

    acpi_check_golden(&b, "11.0/iommu");
    t = acpi_find(&b, "RIMT", &len);
    g_assert(t);
    g_assert_cmpuint(ldl_le_p(t + 36), ==, 2);          /* nodes */
    g_assert_cmpuint(t[48], ==, 0);                     /* IOMMU */
    g_assert_cmphex(ldl_le_p(t + 48 + 24), ==, 1);      /* PCIe */
    g_assert_cmphex(lduw_le_p(t + 48 + 34), ==, 0x20);  /* its RID */
    rc = t + 48 + lduw_le_p(t + 48 + 2);
    g_assert_cmpuint(rc[0], ==, 1);                     /* root complex */
    g_assert_cmpuint(lduw_le_p(rc + 18), ==, 2);        /* ID mappings */
    g_assert_cmphex(ldl_le_p(rc + 20), ==, 0);
    g_assert_cmphex(ldl_le_p(rc + 24), ==, 0x1f);
    g_assert_cmphex(ldl_le_p(rc + 40), ==, 0x21);
    g_assert_cmphex(ldl_le_p(rc + 44), ==, 0xffff - 0x21);
    g_assert_cmphex(ldl_le_p(rc + 52), ==, 48);         /* the IOMMU */
    g_free(b.data);
    qtest_quit(qts);
}

static void test_ecam(void)
{
    QTestState *qts = qtest_init("-M virt-pcie");

    g_assert_cmphex(qtest_readl(qts, ecam(0, 0, PCI_VENDOR_ID)), ==,
                    0x00081b36);
    /* The host bridge announces function 1: the console */
    g_assert_cmphex(qtest_readb(qts, ecam(0, 0, PCI_HEADER_TYPE)), ==,
                    PCI_HEADER_TYPE_MULTI_FUNCTION);
    g_assert_cmphex(qtest_readl(qts, ecam(0, 1, PCI_VENDOR_ID)), ==,
                    0x00021b36);
    g_assert_cmphex(qtest_readl(qts, ecam(0, 1, 8)) >> 16, ==, 0x0700);
    g_assert_cmphex(qtest_readb(qts, ecam(0, 1, PCI_CLASS_PROG)), ==, 0x02);
    /* fw_cfg, built in since 11.0 */
    g_assert_cmphex(qtest_readl(qts, ecam(0, 3, PCI_VENDOR_ID)), ==,
                    0x10f01af4);
    /* Slots 1 and up are free */
    for (int slot = 1; slot < 32; slot++) {
        g_assert_cmphex(qtest_readl(qts, ecam(slot, 0, PCI_VENDOR_ID)), ==,
                        0xffffffff);
    }
    qtest_quit(qts);
}

static uint64_t csr_get(QTestState *qts, int csr)
{
    uint64_t val = 0;

    qtest_csr_call(qts, "get_csr", 0, csr, &val);
    return val;
}

static void csr_set(QTestState *qts, int csr, uint64_t val)
{
    qtest_csr_call(qts, "set_csr", 0, csr, &val);
}

/*
 * A device's MSI write reaches the S-level file of hart 0.  The CPU model
 * is a fixed one: without TCG the generic rv64 has no CSRs to read.
 */
static void test_msi(void)
{
    QTestState *qts = qtest_init("-M virt-pcie -smp 2 -cpu veyron-v1 "
                                 "-device edu,addr=02.0");
    uint8_t cap;

    csr_set(qts, CSR_SISELECT, ISELECT_EIP0);
    g_assert_cmphex(csr_get(qts, CSR_SIREG), ==, 0);

    for (cap = qtest_readb(qts, ecam(EDU_SLOT, 0, PCI_CAPABILITY_LIST));
         cap && qtest_readb(qts, ecam(EDU_SLOT, 0, cap)) != PCI_CAP_ID_MSI;
         cap = qtest_readb(qts, ecam(EDU_SLOT, 0, cap + 1))) {
        continue;
    }
    g_assert_cmpuint(cap, !=, 0);
    g_assert(qtest_readw(qts, ecam(EDU_SLOT, 0, cap + PCI_MSI_FLAGS)) &
             PCI_MSI_FLAGS_64BIT);

    qtest_writel(qts, ecam(EDU_SLOT, 0, PCI_BASE_ADDRESS_0), PCIE_MMIO_BASE);
    qtest_writew(qts, ecam(EDU_SLOT, 0, PCI_COMMAND),
                 PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    qtest_writel(qts, ecam(EDU_SLOT, 0, cap + PCI_MSI_ADDRESS_LO),
                 (uint32_t)IMSIC_S_BASE);
    qtest_writel(qts, ecam(EDU_SLOT, 0, cap + PCI_MSI_ADDRESS_HI),
                 IMSIC_S_BASE >> 32);
    qtest_writew(qts, ecam(EDU_SLOT, 0, cap + PCI_MSI_DATA_64), MSI_ID);
    qtest_writew(qts, ecam(EDU_SLOT, 0, cap + PCI_MSI_FLAGS),
                 PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_ENABLE);

    qtest_writel(qts, PCIE_MMIO_BASE + EDU_RAISE_IRQ, 1);
    g_assert_cmphex(csr_get(qts, CSR_SIREG), ==, 1ULL << MSI_ID);

    /* Hart 1 got nothing */
    qtest_csr_call(qts, "set_csr", 1, CSR_SISELECT,
                   &(uint64_t) { ISELECT_EIP0 });
    {
        uint64_t val = 0;

        qtest_csr_call(qts, "get_csr", 1, CSR_SIREG, &val);
        g_assert_cmphex(val, ==, 0);
    }
    qtest_quit(qts);
}

/* Regions of "info mtree" directly below the system memory container */
static void test_mmio_policy(void)
{
    static const char *const allowed[] = {
        "riscv_virt_pcie.mrom", "riscv.sifive.test", "goldfish_rtc",
        "riscv.aclint.mtimer", "riscv.aplic", "riscv.imsic",
        "virt-pcie.flash0", "virt-pcie.flash1", "pcie-ecam", "pcie-mmio",
        "pcie-mmio-high", "gpex_ioport_window", "riscv_virt_pcie.ram",
    };
    QTestState *qts = qtest_init("-M virt-pcie -smp 2");
    g_autofree char *mtree = qtest_hmp(qts, "info mtree");
    g_auto(GStrv) lines = g_strsplit(mtree, "\n", -1);
    bool in_system = false;
    int regions = 0;

    for (int i = 0; lines[i]; i++) {
        const char *line = lines[i];
        const char *name;
        bool ok = false;

        if (g_str_has_prefix(line, "address-space: memory")) {
            in_system = true;
            continue;
        }
        if (!in_system) {
            continue;
        }
        if (!*line || *line == '\r') {
            break;      /* the end of the system memory tree */
        }
        /* Direct children are indented by 4 spaces */
        if (!g_str_has_prefix(line, "    ") || line[4] == ' ') {
            continue;
        }
        name = strrchr(line, ':');
        g_assert(name);
        name += 2;
        if (g_str_has_prefix(name, "alias ")) {
            name += strlen("alias ");
        }
        for (int j = 0; j < ARRAY_SIZE(allowed); j++) {
            ok |= g_str_has_prefix(name, allowed[j]);
        }
        if (!ok) {
            g_test_message("unexpected region: %s", line);
        }
        g_assert(ok);
        regions++;
    }
    /* mrom, test, rtc, mtimer, 2 aplic, 2 imsic, 2 flash, 4 pcie, ram */
    g_assert_cmpint(regions, ==, 15);
    qtest_quit(qts);
}

/*
 * The largest machine: 16384 harts in 16 NUMA nodes of 1024, whose hart
 * index (4 bits of IMSIC group, 10 of hart) fills the 14 bits an APLIC in
 * MSI mode has
 */
static void test_16384_harts(void)
{
    const char *imsics[] = { "/soc/interrupt-controller@10000000000",
                             "/soc/interrupt-controller@10080000000" };
    const uint64_t last_s_group = 0x10080000000ULL + (15ULL << 27);
    g_autoptr(GString) args = g_string_new("-smp 16384 -m 2G");
    gint64 start = g_get_monotonic_time();
    g_autofree void *fdt = NULL;
    const fdt32_t *p;
    int cpus = 0, n;

    for (int i = 0; i < 16; i++) {
        g_string_append_printf(args, " -numa node,cpus=%d-%d,mem=128M",
                               i * 1024, i * 1024 + 1023);
    }
    fdt = dump_dtb("", args->str);
    g_test_message("16384 harts created in %.1f s",
                   (g_get_monotonic_time() - start) / 1e6);
    for (int off = fdt_first_subnode(fdt, node(fdt, "/cpus")); off >= 0;
         off = fdt_next_subnode(fdt, off)) {
        cpus += g_str_has_prefix(fdt_get_name(fdt, off, NULL), "cpu@");
    }
    g_assert_cmpint(cpus, ==, 16384);
    g_assert_cmpuint(cell(fdt, "/cpus/cpu@16383", "reg"), ==, 16383);
    g_assert_cmpuint(cell(fdt, "/cpus/cpu@16383", "numa-node-id"), ==, 15);
    g_assert_cmpint(count_compatible(fdt, "riscv,aclint-mtimer"), ==, 16);
    g_assert_cmpint(count_compatible(fdt, "riscv,aplic"), ==, 32);
    for (int i = 0; i < ARRAY_SIZE(imsics); i++) {
        g_assert_cmpuint(cell(fdt, imsics[i], "riscv,hart-index-bits"), ==,
                         10);
        g_assert_cmpuint(cell(fdt, imsics[i], "riscv,group-index-bits"), ==,
                         4);
        cells(fdt, imsics[i], "interrupts-extended", &n);
        g_assert_cmpint(n, ==, 2 * 16384);
        p = cells(fdt, imsics[i], "reg", &n);
        g_assert_cmpint(n, ==, 16 * 4);
    }
    /* The last S-level group: 1024 harts of 8 interrupt files */
    g_assert_cmpuint(((uint64_t)fdt32_to_cpu(p[60]) << 32) |
                     fdt32_to_cpu(p[61]), ==, last_s_group);
    g_assert_cmpuint(fdt32_to_cpu(p[63]), ==, 1024 * 8 * 4096);
    /* The last hart's cpu-intc takes the last S-level IMSIC's interrupt */
    p = cells(fdt, imsics[1], "interrupts-extended", &n);
    g_assert_cmpuint(fdt32_to_cpu(p[n - 2]), ==,
                     fdt_get_phandle(fdt, node(fdt, "/cpus/cpu@16383/"
                                               "interrupt-controller")));
}

/*
 * Under TCG, a thread per hart: each takes 4 mappings of QEMU's address
 * space, which Linux's vm.max_map_count bounds (65530 by default). When
 * 16384 harts do not fit, QEMU says so instead of aborting as it fails to
 * make a thread.
 */
static void test_16384_harts_tcg(void)
{
    g_autoptr(GString) args = g_string_new("-accel tcg -smp 16384 -m 2G");
    g_autofree char *text = NULL;
    g_autofree char *err = NULL;
    g_autofree char *dir = g_dir_make_tmp("virt-pcie-XXXXXX", NULL);
    g_autofree char *file = g_build_filename(dir, "x.dtb", NULL);
    g_autofree char *cmd = NULL;
    uint64_t limit;

    g_assert(g_file_get_contents("/proc/sys/vm/max_map_count", &text, NULL,
                                 NULL));
    limit = g_ascii_strtoull(text, NULL, 10);
    for (int i = 0; i < 16; i++) {
        g_string_append_printf(args, " -numa node,cpus=%d-%d,mem=128M",
                               i * 1024, i * 1024 + 1023);
    }
    cmd = g_strdup_printf("-M virt-pcie,dumpdtb=%s %s", file, args->str);
    if (limit >= 16384 * 4 + 1024) {
        g_test_message("vm.max_map_count is %" PRIu64 ": 16384 TCG harts fit",
                       limit);
        g_assert_cmpint(run_qemu(cmd, &err), ==, 0);
    } else {
        g_assert_cmpint(run_qemu(cmd, &err), ==, 1);
        g_assert(strstr(err, "16384 harts need about 66560 memory mappings, "
                        "but vm.max_map_count is"));
        g_assert(strstr(err, "-accel tcg,thread=single"));
    }
    unlink(file);
    rmdir(dir);
}

/* 4096 harts in 2 NUMA nodes */
static void test_4096_harts(void)
{
    gint64 start = g_get_monotonic_time();
    g_autofree void *fdt = dump_dtb("", "-smp 4096 -m 1G "
                                    "-numa node,cpus=0-2047,mem=512M "
                                    "-numa node,cpus=2048-4095,mem=512M");
    int cpus = 0;

    g_test_message("4096 harts created in %.1f s",
                   (g_get_monotonic_time() - start) / 1e6);
    for (int off = fdt_first_subnode(fdt, node(fdt, "/cpus")); off >= 0;
         off = fdt_next_subnode(fdt, off)) {
        const char *name = fdt_get_name(fdt, off, NULL);

        cpus += g_str_has_prefix(name, "cpu@");
    }
    g_assert_cmpint(cpus, ==, 4096);
    node(fdt, "/cpus/cpu@4095");
    g_assert_cmpuint(cell(fdt, "/cpus/cpu@4095", "numa-node-id"), ==, 1);
}

/*
 * libvirt's -smp for 4096 vCPUs without <numa>: one node of 4096 harts,
 * whose last hart has a second MTIMER, in the block of socket 1
 */
static void test_4096_harts_one_node(void)
{
    g_autofree void *fdt = dump_dtb("", "-smp 4096,sockets=4096,cores=1");
    const fdt32_t *p;
    int n;

    g_assert_cmpint(count_compatible(fdt, "riscv,aclint-mtimer"), ==, 2);
    p = cells(fdt, "/soc/mtimer@2000000", "interrupts-extended", &n);
    g_assert_cmpint(n, ==, 2 * 4095);
    p = cells(fdt, "/soc/mtimer@2008000", "interrupts-extended", &n);
    g_assert_cmpint(n, ==, 2);
    g_assert_cmpuint(fdt32_to_cpu(p[0]), ==,
                     fdt_get_phandle(fdt, node(fdt, "/cpus/cpu@4095/"
                                               "interrupt-controller")));
    g_assert(!fdt_getprop(fdt, node(fdt, "/cpus/cpu@4095"), "numa-node-id",
                          NULL));
}

typedef struct Refused {
    const char *name;
    const char *args;
    const char *message;
} Refused;

static const Refused refused[] = {
    { "smp-16385", "-smp 16385", "16385" },
    { "node-4097", "-smp 4097", "NUMA node 0 has 4097 harts, at most 4096 "
      "(the harts of one IMSIC group): split them into -numa nodes" },
    { "index-15-bits", "-smp 2063 -m 2G -numa node,cpus=0-2047,mem=1088M "
      NUMA_15X1, "need a 15-bit hart index" },
    { "smp-4097-10.0", "-M virt-pcie-10.0 -smp 4097", "4097" },
    { "node-4096-of-2", "-smp 4096 -m 1G -numa node,cpus=0-4095,mem=512M "
      "-numa node,mem=512M", "a node of more than 4095 harts" },
    { "nodes-17", "-smp 17 " NUMA_17, "17 NUMA nodes" },
    { "sockets-32-10.0", "-M virt-pcie-10.0 -smp 32,sockets=32",
      "32 sockets" },
    { "ram-64M", "-m 64M", "64 MiB" },
    { "ram-2T", "-m 2T", "2097152 MiB" },
    { "aia-guests-8", "-M virt-pcie,aia-guests=8", "aia-guests value 8" },
    { "sysbus-device", "-device goldfish_rtc", "goldfish_rtc" },
    { "virtio-mmio", "-device virtio-net-device", "virtio-net-device" },
    /* qtest lets firmware be missing: check this one under TCG */
    { "bios-missing", "-accel tcg -bios /nonexistent/fw.bin",
      "/nonexistent/fw.bin" },
    { "dtb-missing", "-dtb /nonexistent/x.dtb", "/nonexistent/x.dtb" },
    { "maxcpus", "-smp 2,maxcpus=4", "maxcpus (4)" },
    { "iommu-2", "-device riscv-iommu-pci -device riscv-iommu-pci,id=io1",
      "second riscv-iommu-pci ('io1')" },
    { "iommu-port", "-device pcie-root-port,id=rp0 "
      "-device riscv-iommu-pci,bus=rp0", "not on bus 'rp0'" },
    { "fw-cfg-10.0", "-M virt-pcie-10.0,fw-cfg=on",
      "fw-cfg=on needs virt-pcie-10.2 or later" },
    { "acpi-10.2", "-M virt-pcie-10.2,acpi=on",
      "acpi=on needs virt-pcie-11.0 or later" },
    { "acpi-without-fw-cfg", "-M virt-pcie,fw-cfg=off",
      "acpi=on needs fw-cfg=on" },
    /* The target has no -acpitable (as before virt-pcie) */
    { "acpitable", "-acpitable file=/dev/null",
      "-acpitable file=/dev/null: Option not supported for this target" },
    { "fw-cfg-range-taken", "-M virt-pcie,fw-cfg=on "
      "-device pci-serial,ea-mem-base=0x7fffe000",
      "overlaps the fixed BAR 0x7fffe000-0x7fffefff of fw-cfg-pci" },
    { "serial-ea-both", "-device pci-serial,ea-io-base=0x1000,"
      "ea-mem-base=0x7fffe000", "ea-mem-base (0x7fffe000)" },
};

static void test_refused(const void *opaque)
{
    const Refused *r = opaque;
    g_autofree char *dir = g_dir_make_tmp("virt-pcie-XXXXXX", NULL);
    g_autofree char *file = g_build_filename(dir, "x.dtb", NULL);
    /* dumpdtb makes a machine that is wrongly accepted exit at once */
    g_autofree char *args = g_strdup_printf("-M virt-pcie,dumpdtb=%s %s %s",
                                            file, r->args,
                                            strstr(r->args, "-accel") ? "" :
                                            "-accel qtest");
    g_autofree char *err = NULL;

    g_assert_cmpint(run_qemu(args, &err), ==, 1);
    if (!strstr(err, r->message)) {
        g_test_message("stderr: %s", err);
    }
    g_assert(strstr(err, r->message));
    unlink(file);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/virt-pcie/dt/interrupts", test_dt_interrupts);
    qtest_add_func("/virt-pcie/dt/smp-topology", test_dt_smp_topology);
    qtest_add_func("/virt-pcie/harts-4096-one-node",
                   test_4096_harts_one_node);
    qtest_add_func("/virt-pcie/dt/sockets-10.0", test_dt_sockets_10_0);
    qtest_add_func("/virt-pcie/dt/pcie", test_dt_pcie);
    qtest_add_func("/virt-pcie/dt/stdout-uart", test_dt_stdout_uart);
    qtest_add_func("/virt-pcie/dt/10.0", test_dt_10_0);
    qtest_add_func("/virt-pcie/dt/iommu", test_dt_iommu);
    qtest_add_func("/virt-pcie/iommu-hotplug", test_iommu_hotplug);
    qtest_add_func("/virt-pcie/dt/aia-guests", test_dt_aia_guests);
    qtest_add_func("/virt-pcie/dt/fw-cfg", test_dt_fw_cfg);
    qtest_add_func("/virt-pcie/dt/pio-10.2", test_dt_pio_10_2);
    qtest_add_func("/virt-pcie/fw-cfg", test_fw_cfg);
    qtest_add_func("/virt-pcie/acpi/tables", test_acpi_tables);
    qtest_add_func("/virt-pcie/acpi/numa", test_acpi_numa);
    qtest_add_func("/virt-pcie/acpi/sockets", test_acpi_sockets);
    qtest_add_func("/virt-pcie/acpi/iommu", test_acpi_iommu);
    qtest_add_func("/virt-pcie/acpi/spcr-io", test_acpi_spcr_io);
    qtest_add_func("/virt-pcie/ecam", test_ecam);
    qtest_add_func("/virt-pcie/msi", test_msi);
    qtest_add_func("/virt-pcie/mmio-policy", test_mmio_policy);
    qtest_add_func("/virt-pcie/harts-4096", test_4096_harts);
    qtest_add_func("/virt-pcie/harts-16384", test_16384_harts);
    qtest_add_func("/virt-pcie/harts-16384-tcg", test_16384_harts_tcg);
    for (int i = 0; i < ARRAY_SIZE(refused); i++) {
        g_autofree char *name = g_strdup_printf("/virt-pcie/refused/%s",
                                                refused[i].name);

        qtest_add_data_func(name, &refused[i], test_refused);
    }
    return g_test_run();
}
