/*
 * QTest for MSI and MSI-X on the PCI 16550 UART cards
 *
 * Copyright (c) 2025 virt-pcie developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Runs on riscv64 "virt-pcie" (the default-off check on "virt"): the
 * cards' messages are aimed at the S-level interrupt file of hart 0, above
 * 4 GiB, and the test plays the guest by
 * reading the file's pending bits (eip0) through siselect/sireg.  See
 * docs/specs/pci-serial.rst for the signalling rule checked here.
 */

#include "qemu/osdep.h"
#include <sys/socket.h>
#include <sys/un.h>
#include "libqtest.h"
#include "libqos/libqos-malloc.h"
#include "libqos/generic-pcihost.h"
#include "libqos/pci.h"
#include "hw/pci/pci_regs.h"
#include "qemu/cutils.h"
#include "qemu/host-utils.h"
#include "qobject/qdict.h"

/* riscv64 virt-pcie memory map (shared with virt below 2 GiB) */
#define VIRT_DRAM               0x80000000ULL
#define VIRT_DRAM_SIZE          0x08000000ULL
#define VIRT_PCIE_PIO           0x03000000ULL
#define VIRT_PCIE_ECAM          0x30000000ULL
#define VIRT_PCIE_MMIO          0x40000000ULL
#define VIRT_PCIE_MMIO_END      0x80000000ULL
#define VIRT_IMSIC_S_HART0      0x10080000000ULL

#define CSR_SISELECT            0x150
#define CSR_SIREG               0x151
#define ISELECT_EIDELIVERY      0x70
#define ISELECT_EITHRESHOLD     0x72
#define ISELECT_EIP0            0x80
#define ISELECT_EIE0            0xc0

/* Interrupt identities used by the test; all below 64, i.e. in eip0 */
#define MSI_ID                  0x20    /* aligned for 4 MSI vectors */
#define MSIX_ID                 0x30

/* 16550 registers and bits */
#define UART_RBR                0
#define UART_THR                0
#define UART_DLL                0
#define UART_IER                1
#define UART_DLM                1
#define UART_IIR                2
#define UART_FCR                2
#define UART_LCR                3
#define UART_MCR                4
#define UART_LSR                5
#define UART_MSR                6
#define UART_IER_RDI            0x01
#define UART_IER_THRI           0x02
#define UART_IER_RLSI           0x04
#define UART_IER_MSI            0x08
#define UART_IIR_NO_INT         0x01
#define UART_IIR_ID             0x0e
#define UART_IIR_RLSI           0x06
#define UART_IIR_RDI            0x04
#define UART_IIR_THRI           0x02
#define UART_IIR_MSI            0x00
#define UART_LCR_8N1            0x03
#define UART_LCR_DLAB           0x80
#define UART_MCR_OUT2           0x08
#define UART_MCR_LOOP           0x10
#define UART_LSR_DR             0x01
#define UART_LSR_OE             0x02
#define UART_MSR_DELTAS         0x0f    /* DCTS, DDSR, TERI, DDCD */
#define UART_MSR_DCTS_DDSR_DDCD 0x0b
#define UART_FCR_FIFO_ITL1      0x07    /* enable, clear both, 1 byte */
#define UART_FCR_FIFO_ITL8      0x87    /* enable, clear both, 8 bytes */

/* The device's default msi-recheck-ns */
#define RECHECK_NS              20000

/* QTEST_PCI_SERIAL_MSI_BYTES can make it shorter for quick runs */
#define STRESS_BYTES            (1024 * 1024)
#define STRESS_BURST            16      /* bytes read per interrupt, at most */
#define STRESS_ITL              8       /* the FIFO trigger level it sets */

typedef enum Mode {
    MODE_MSI,
    MODE_MSIX,
    MODE_INTX,              /* both off: the stress test's baseline */
} Mode;

typedef struct Card {
    QTestState *qts;
    QGuestAllocator alloc;
    QGenericPCIBus bus;
    QPCIDevice *dev;
    QPCIBar bar;
    QPCIBar msix_bar;
    char *dir;
    char *sock_path;
    int sock;
    Mode mode;
    unsigned int id;        /* identity of port 0 */
    uint64_t eip0;          /* the last value read from eip0 */
} Card;

static const char *mode_name(Mode mode)
{
    static const char *const names[] = {
        [MODE_MSI] = "msi", [MODE_MSIX] = "msix", [MODE_INTX] = "intx",
    };

    return names[mode];
}

/* IMSIC, S-level file of hart 0, through the hart's CSRs */

static uint64_t csr_get(Card *c, int csr)
{
    uint64_t val = 0;

    qtest_csr_call(c->qts, "get_csr", 0, csr, &val);
    return val;
}

static void csr_set(Card *c, int csr, uint64_t val)
{
    qtest_csr_call(c->qts, "set_csr", 0, csr, &val);
}

static void imsic_init(Card *c)
{
    csr_set(c, CSR_SISELECT, ISELECT_EIDELIVERY);
    csr_set(c, CSR_SIREG, 1);
    csr_set(c, CSR_SISELECT, ISELECT_EITHRESHOLD);
    csr_set(c, CSR_SIREG, 0);
    csr_set(c, CSR_SISELECT, ISELECT_EIE0);
    csr_set(c, CSR_SIREG, ~1ULL);
    csr_set(c, CSR_SISELECT, ISELECT_EIP0);
    csr_set(c, CSR_SIREG, 0);
    /* siselect stays on eip0 from here on */
}

static bool imsic_pending(Card *c, unsigned int id)
{
    c->eip0 = csr_get(c, CSR_SIREG);
    return c->eip0 & (1ULL << id);
}

/* Claim @id, as the guest's interrupt entry does */
static void imsic_clear(Card *c, unsigned int id)
{
    csr_set(c, CSR_SIREG, c->eip0 & ~(1ULL << id));
    c->eip0 &= ~(1ULL << id);
}

/* Exactly @id (or nothing, if @id is 0) must be pending; then clear it */
static void expect_msg(Card *c, unsigned int id, const char *what)
{
    uint64_t eip0 = csr_get(c, CSR_SIREG);

    if (eip0 != (id ? 1ULL << id : 0)) {
        g_test_message("%s: eip0 is 0x%" PRIx64 ", expected id %u",
                       what, eip0, id);
    }
    g_assert_cmphex(eip0, ==, id ? 1ULL << id : 0);
    if (id) {
        csr_set(c, CSR_SIREG, 0);
    }
}

/* The UART registers (port @port of the card) */

static uint8_t uart_r(Card *c, int port, int reg)
{
    return qpci_io_readb(c->dev, c->bar, port * 8 + reg);
}

static void uart_w(Card *c, int port, int reg, uint8_t val)
{
    qpci_io_writeb(c->dev, c->bar, port * 8 + reg, val);
}

/* Card setup */

/* Start QEMU with the card; with @incoming, wait for a migration there */
static void card_launch(Card *c, const char *type, const char *chardev_prop,
                        Mode mode, const char *incoming)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    static const char *const mode_props[] = {
        [MODE_MSI] = "msi=on,msix=off",
        [MODE_MSIX] = "msi=off,msix=on",
        [MODE_INTX] = "msi=off,msix=off",
    };
    const char *props = mode_props[mode];

    memset(c, 0, sizeof(*c));
    c->mode = mode;
    c->id = mode == MODE_MSI ? MSI_ID : MSIX_ID;
    c->dir = g_dir_make_tmp("pci-serial-msi-XXXXXX", NULL);
    g_assert(c->dir);
    c->sock_path = g_strdup_printf("%s/uart.sock", c->dir);

    c->qts = qtest_initf("-M virt-pcie -cpu veyron-v1 "
                         "-chardev socket,id=c0,path=%s,server=on,wait=off "
                         "-device %s,id=uart,addr=02.0,%s=c0,%s%s%s",
                         c->sock_path, type, chardev_prop, props,
                         incoming ? " -incoming " : "",
                         incoming ? incoming : "");

    c->sock = socket(AF_UNIX, SOCK_STREAM, 0);
    g_assert_cmpint(c->sock, >=, 0);
    g_assert(strlen(c->sock_path) < sizeof(addr.sun_path));
    strcpy(addr.sun_path, c->sock_path);
    g_assert_cmpint(connect(c->sock, (struct sockaddr *)&addr,
                            sizeof(addr)), ==, 0);
    g_assert(g_unix_set_fd_nonblocking(c->sock, true, NULL));

}

/* The libqos view of the card's bus and function, without touching it */
static void card_attach(Card *c)
{
    alloc_init(&c->alloc, 0, VIRT_DRAM, VIRT_DRAM + VIRT_DRAM_SIZE, 4096);
    qpci_init_generic(&c->bus, c->qts, &c->alloc, false);
    c->bus.gpex_pio_base = VIRT_PCIE_PIO;
    c->bus.bus.pio_alloc_ptr = 0x1000;
    c->bus.bus.pio_limit = 0x10000;
    c->bus.bus.mmio_alloc_ptr = VIRT_PCIE_MMIO;
    c->bus.bus.mmio_limit = VIRT_PCIE_MMIO_END;
    c->bus.ecam_alloc_ptr = VIRT_PCIE_ECAM;

    c->dev = qpci_device_find(&c->bus.bus, QPCI_DEVFN(2, 0));
    g_assert(c->dev);
}

static void card_start(Card *c, const char *type, const char *chardev_prop,
                       Mode mode, bool enable)
{
    card_launch(c, type, chardev_prop, mode, NULL);
    card_attach(c);
    qpci_device_enable(c->dev);
    c->bar = qpci_iomap(c->dev, 0, NULL);

    imsic_init(c);
    if (enable) {
        uint8_t cap;

        if (mode == MODE_MSI) {
            cap = qpci_find_capability(c->dev, PCI_CAP_ID_MSI, 0);
            g_assert_cmphex(cap, ==, 0x40);
        } else {
            cap = qpci_find_capability(c->dev, PCI_CAP_ID_MSIX, 0);
            g_assert_cmphex(cap, ==, 0x60);
        }
    }
}

static void card_stop(Card *c)
{
    close(c->sock);
    qtest_quit(c->qts);
    g_free(c->dev);
    alloc_destroy(&c->alloc);
    unlink(c->sock_path);
    rmdir(c->dir);
    g_free(c->sock_path);
    g_free(c->dir);
}

/* Enable MSI with 2^@log2_vectors vectors, data @id */
static void msi_enable(Card *c, unsigned int log2_vectors, unsigned int id)
{
    uint8_t cap = qpci_find_capability(c->dev, PCI_CAP_ID_MSI, 0);
    uint16_t flags = qpci_config_readw(c->dev, cap + PCI_MSI_FLAGS);

    g_assert(flags & PCI_MSI_FLAGS_64BIT);
    g_assert(flags & PCI_MSI_FLAGS_MASKBIT);
    qpci_config_writel(c->dev, cap + PCI_MSI_ADDRESS_LO,
                       (uint32_t)VIRT_IMSIC_S_HART0);
    qpci_config_writel(c->dev, cap + PCI_MSI_ADDRESS_HI,
                       VIRT_IMSIC_S_HART0 >> 32);
    qpci_config_writew(c->dev, cap + PCI_MSI_DATA_64, id);
    flags &= ~PCI_MSI_FLAGS_QSIZE;
    flags |= (log2_vectors << 4) | PCI_MSI_FLAGS_ENABLE;
    qpci_config_writew(c->dev, cap + PCI_MSI_FLAGS, flags);
}

static void msi_disable(Card *c)
{
    uint8_t cap = qpci_find_capability(c->dev, PCI_CAP_ID_MSI, 0);
    uint16_t flags = qpci_config_readw(c->dev, cap + PCI_MSI_FLAGS);

    qpci_config_writew(c->dev, cap + PCI_MSI_FLAGS,
                       flags & ~PCI_MSI_FLAGS_ENABLE);
}

static void msi_set_mask(Card *c, uint32_t mask)
{
    uint8_t cap = qpci_find_capability(c->dev, PCI_CAP_ID_MSI, 0);

    qpci_config_writel(c->dev, cap + PCI_MSI_MASK_64, mask);
}

static uint32_t msi_pending_bits(Card *c)
{
    uint8_t cap = qpci_find_capability(c->dev, PCI_CAP_ID_MSI, 0);

    return qpci_config_readl(c->dev, cap + PCI_MSI_PENDING_64);
}

static uint64_t msix_entry(int n, int field)
{
    return n * PCI_MSIX_ENTRY_SIZE + field;
}

/* Program @n entries with data @id + i and enable MSI-X */
static void msix_enable(Card *c, int n, unsigned int id)
{
    uint8_t cap = qpci_find_capability(c->dev, PCI_CAP_ID_MSIX, 0);
    uint16_t flags = qpci_config_readw(c->dev, cap + PCI_MSIX_FLAGS);
    uint32_t table = qpci_config_readl(c->dev, cap + PCI_MSIX_TABLE);
    uint32_t pba = qpci_config_readl(c->dev, cap + PCI_MSIX_PBA);
    int i;

    g_assert_cmpint((flags & PCI_MSIX_FLAGS_QSIZE) + 1, ==, n);
    g_assert_cmphex(table, ==, 0x00000001);     /* BAR 1, offset 0 */
    g_assert_cmphex(pba, ==, 0x00000801);       /* BAR 1, offset 0x800 */
    if (!c->msix_bar.addr) {
        c->msix_bar = qpci_iomap(c->dev, 1, NULL);
    }
    for (i = 0; i < n; i++) {
        qpci_io_writel(c->dev, c->msix_bar,
                       msix_entry(i, PCI_MSIX_ENTRY_LOWER_ADDR),
                       (uint32_t)VIRT_IMSIC_S_HART0);
        qpci_io_writel(c->dev, c->msix_bar,
                       msix_entry(i, PCI_MSIX_ENTRY_UPPER_ADDR),
                       VIRT_IMSIC_S_HART0 >> 32);
        qpci_io_writel(c->dev, c->msix_bar,
                       msix_entry(i, PCI_MSIX_ENTRY_DATA), id + i);
        qpci_io_writel(c->dev, c->msix_bar,
                       msix_entry(i, PCI_MSIX_ENTRY_VECTOR_CTRL), 0);
    }
    qpci_config_writew(c->dev, cap + PCI_MSIX_FLAGS,
                       flags | PCI_MSIX_FLAGS_ENABLE);
}

static void msix_disable(Card *c)
{
    uint8_t cap = qpci_find_capability(c->dev, PCI_CAP_ID_MSIX, 0);
    uint16_t flags = qpci_config_readw(c->dev, cap + PCI_MSIX_FLAGS);

    qpci_config_writew(c->dev, cap + PCI_MSIX_FLAGS,
                       flags & ~PCI_MSIX_FLAGS_ENABLE);
}

static void msix_set_mask(Card *c, int n, bool mask)
{
    qpci_io_writel(c->dev, c->msix_bar,
                   msix_entry(n, PCI_MSIX_ENTRY_VECTOR_CTRL),
                   mask ? PCI_MSIX_ENTRY_CTRL_MASKBIT : 0);
}

static void msix_set_maskall(Card *c, bool mask)
{
    uint8_t cap = qpci_find_capability(c->dev, PCI_CAP_ID_MSIX, 0);
    uint16_t flags = qpci_config_readw(c->dev, cap + PCI_MSIX_FLAGS);

    flags &= ~PCI_MSIX_FLAGS_MASKALL;
    qpci_config_writew(c->dev, cap + PCI_MSIX_FLAGS,
                       flags | (mask ? PCI_MSIX_FLAGS_MASKALL : 0));
}

static bool msix_pba_bit(Card *c, int n)
{
    return qpci_io_readl(c->dev, c->msix_bar, 0x800) & (1U << n);
}

static void card_enable(Card *c, int nports)
{
    if (c->mode == MODE_MSI) {
        msi_enable(c, ctz32(nports), c->id);
    } else {
        msix_enable(c, nports, c->id);
    }
}

static void card_disable(Card *c)
{
    if (c->mode == MODE_MSI) {
        msi_disable(c);
    } else {
        msix_disable(c);
    }
}

/* Mask or unmask port 0's vector; return whether it is pending */
static void card_mask(Card *c, bool mask)
{
    if (c->mode == MODE_MSI) {
        msi_set_mask(c, mask ? 1 : 0);
    } else {
        msix_set_mask(c, 0, mask);
    }
}

static bool card_vector_pending(Card *c)
{
    if (c->mode == MODE_MSI) {
        return msi_pending_bits(c) & 1;
    }
    return msix_pba_bit(c, 0);
}

static bool intx_asserted(Card *c)
{
    return qpci_config_readw(c->dev, PCI_STATUS) & PCI_STATUS_INTERRUPT;
}

static uint64_t card_messages(Card *c)
{
    QDict *rsp;
    uint64_t val;

    rsp = qtest_qmp(c->qts, "{ 'execute': 'qom-get', 'arguments': {"
                    " 'path': '/machine/peripheral/uart',"
                    " 'property': 'x-msi-messages' } }");
    g_assert(qdict_haskey(rsp, "return"));
    val = qdict_get_int(rsp, "return");
    qobject_unref(rsp);
    return val;
}

/* Send bytes to the UART through its chardev */
static void feed(Card *c, const void *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = write(c->sock, (const char *)buf + done, len - done);

        if (n < 0) {
            g_assert(errno == EAGAIN || errno == EINTR);
            g_usleep(1000);
            continue;
        }
        done += n;
    }
}

/*
 * Wait for a message for @id, without touching the UART; the chardev
 * delivers data asynchronously to the qtest commands.
 */
static void wait_msg(Card *c, unsigned int id)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    while (!imsic_pending(c, id)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(100);
    }
    expect_msg(c, id, "wait");
}

static void uart_setup(Card *c, uint8_t fcr)
{
    uart_w(c, 0, UART_IER, 0);
    uart_w(c, 0, UART_LCR, UART_LCR_DLAB);
    uart_w(c, 0, UART_DLL, 1);          /* 115200 baud */
    uart_w(c, 0, UART_DLM, 0);
    uart_w(c, 0, UART_LCR, UART_LCR_8N1);
    uart_w(c, 0, UART_FCR, fcr);
    uart_w(c, 0, UART_MCR, UART_MCR_OUT2);
    while (uart_r(c, 0, UART_LSR) & UART_LSR_DR) {
        uart_r(c, 0, UART_RBR);
    }
    uart_r(c, 0, UART_IIR);
    expect_msg(c, 0, "setup");
}

/* A pci-serial with @mode enabled and its UART set up, FIFO trigger 1 */
static void card_ready(Card *c, Mode mode)
{
    card_start(c, "pci-serial", "chardev", mode, true);
    card_enable(c, 1);
    uart_setup(c, UART_FCR_FIFO_ITL1);
}

/*
 * Each interrupt source of the UART sends a message: THR empty, received
 * data, line status (overrun).  The modem status source is in
 * test_modem(): it needs another chardev.
 */
static void test_sources(const void *opaque)
{
    Mode mode = GPOINTER_TO_INT(opaque);
    Card c;

    card_ready(&c, mode);

    /* THR empty */
    uart_w(&c, 0, UART_IER, UART_IER_THRI);
    expect_msg(&c, c.id, "thre");
    g_assert_cmphex(uart_r(&c, 0, UART_IIR) & UART_IIR_ID, ==, UART_IIR_THRI);
    g_assert_cmphex(uart_r(&c, 0, UART_IIR) & UART_IIR_NO_INT, ==, 1);
    g_assert(!intx_asserted(&c));

    /* Received data, through the chardev */
    uart_w(&c, 0, UART_IER, UART_IER_RDI);
    feed(&c, "A", 1);
    wait_msg(&c, c.id);
    g_assert_cmphex(uart_r(&c, 0, UART_IIR) & UART_IIR_ID, ==, UART_IIR_RDI);
    g_assert_cmphex(uart_r(&c, 0, UART_RBR), ==, 'A');
    qtest_clock_step(c.qts, 10 * RECHECK_NS);
    expect_msg(&c, 0, "rx serviced");

    /* Line status: overrun, in loopback with the FIFO off */
    uart_w(&c, 0, UART_FCR, 0);
    uart_w(&c, 0, UART_MCR, UART_MCR_OUT2 | UART_MCR_LOOP);
    uart_w(&c, 0, UART_IER, UART_IER_RLSI);
    uart_w(&c, 0, UART_THR, 0x55);
    expect_msg(&c, 0, "first byte");
    uart_w(&c, 0, UART_THR, 0xaa);
    expect_msg(&c, c.id, "overrun");
    g_assert_cmphex(uart_r(&c, 0, UART_IIR) & UART_IIR_ID, ==, UART_IIR_RLSI);
    g_assert(uart_r(&c, 0, UART_LSR) & UART_LSR_OE);
    g_assert_cmphex(uart_r(&c, 0, UART_RBR), ==, 0xaa);
    g_assert(uart_r(&c, 0, UART_IIR) & UART_IIR_NO_INT);
    qtest_clock_step(c.qts, 10 * RECHECK_NS);
    expect_msg(&c, 0, "lsr serviced");

    card_stop(&c);
}

/*
 * The modem status source.  QEMU's 16550 sets the MSR delta bits only from
 * its chardev's modem lines (loopback does not), and only a host serial
 * port ("serial" chardev) has them.  A socket has no modem lines, so the
 * UART keeps its reset value (CTS, DSR and DCD active).  The test plugs
 * the slave side of a pseudo terminal in instead, with chardev-change, as
 * a user moving the port to a host terminal would.  A pty has no modem
 * lines either, so they all read inactive: CTS, DSR and DCD fall, which
 * sets DCTS, DDSR and DDCD and raises the modem status interrupt.
 */
static void test_modem(const void *opaque)
{
    Mode mode = GPOINTER_TO_INT(opaque);
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    QDict *rsp;
    Card c;

    g_assert_cmpint(master, >=, 0);
    g_assert_cmpint(grantpt(master), ==, 0);
    g_assert_cmpint(unlockpt(master), ==, 0);
    card_ready(&c, mode);
    uart_w(&c, 0, UART_IER, UART_IER_MSI);
    expect_msg(&c, 0, "socket: no modem lines");

    /* The lines change: a message */
    rsp = qtest_qmp(c.qts, "{ 'execute': 'chardev-change', 'arguments': {"
                    " 'id': 'c0', 'backend': { 'type': 'serial',"
                    " 'data': { 'device': %s } } } }", ptsname(master));
    g_assert(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
    expect_msg(&c, c.id, "modem status");
    g_assert_cmphex(uart_r(&c, 0, UART_IIR) & 0x0f, ==, UART_IIR_MSI);
    g_assert(!intx_asserted(&c));

    /* Acknowledged, not serviced (MSR not read): sent again once quiet */
    qtest_clock_step(c.qts, 10 * RECHECK_NS);
    expect_msg(&c, c.id, "modem status recheck");

    /* Reading MSR services it: the deltas clear and nothing follows */
    g_assert_cmphex(uart_r(&c, 0, UART_MSR), ==, UART_MSR_DCTS_DDSR_DDCD);
    g_assert_cmphex(uart_r(&c, 0, UART_MSR) & UART_MSR_DELTAS, ==, 0);
    g_assert(uart_r(&c, 0, UART_IIR) & UART_IIR_NO_INT);
    qtest_clock_step(c.qts, 10 * RECHECK_NS);
    expect_msg(&c, 0, "msr serviced");

    card_stop(&c);
    close(master);
}

/* The cases where a rising-edge-only rule would lose an interrupt */
static void test_lost(const void *opaque)
{
    Mode mode = GPOINTER_TO_INT(opaque);
    Card c;

    card_ready(&c, mode);

    /* Acknowledge without servicing: one more message once quiet */
    uart_w(&c, 0, UART_IER, UART_IER_RDI);
    feed(&c, "x", 1);
    wait_msg(&c, c.id);
    g_assert_cmphex(uart_r(&c, 0, UART_IIR) & UART_IIR_ID, ==, UART_IIR_RDI);
    expect_msg(&c, 0, "deferred");
    qtest_clock_step(c.qts, RECHECK_NS / 2);
    expect_msg(&c, 0, "still deferred");
    qtest_clock_step(c.qts, RECHECK_NS / 2);
    expect_msg(&c, c.id, "recheck after ack");
    qtest_clock_step(c.qts, 10 * RECHECK_NS);
    expect_msg(&c, 0, "one recheck per access");
    /* Guest accesses push the re-check back */
    g_assert_cmphex(uart_r(&c, 0, UART_LSR) & UART_LSR_DR, ==, UART_LSR_DR);
    qtest_clock_step(c.qts, RECHECK_NS / 2);
    g_assert_cmphex(uart_r(&c, 0, UART_LSR) & UART_LSR_DR, ==, UART_LSR_DR);
    qtest_clock_step(c.qts, RECHECK_NS / 2);
    expect_msg(&c, 0, "pushed back");
    qtest_clock_step(c.qts, RECHECK_NS / 2);
    expect_msg(&c, c.id, "recheck after poll");
    /* Then service: nothing more */
    g_assert_cmphex(uart_r(&c, 0, UART_RBR), ==, 'x');
    qtest_clock_step(c.qts, 10 * RECHECK_NS);
    expect_msg(&c, 0, "serviced");

    /* IER toggled while pending */
    feed(&c, "y", 1);
    wait_msg(&c, c.id);
    uart_w(&c, 0, UART_IER, 0);
    expect_msg(&c, 0, "ier off");
    uart_w(&c, 0, UART_IER, UART_IER_RDI);
    expect_msg(&c, c.id, "ier on again");
    uart_w(&c, 0, UART_IER, UART_IER_RDI);
    expect_msg(&c, c.id, "ier rewritten");
    uart_w(&c, 0, UART_IER, UART_IER_RDI | UART_IER_THRI);
    expect_msg(&c, c.id, "ier thri added");

    /* Interrupt identification changes while asserted: RX done, THR left */
    g_assert_cmphex(uart_r(&c, 0, UART_IIR) & UART_IIR_ID, ==, UART_IIR_RDI);
    g_assert_cmphex(uart_r(&c, 0, UART_RBR), ==, 'y');
    g_assert_cmphex(uart_r(&c, 0, UART_IIR) & UART_IIR_ID, ==, UART_IIR_THRI);
    /* That IIR read serviced THRI: nothing pending, nothing sent */
    qtest_clock_step(c.qts, 10 * RECHECK_NS);
    expect_msg(&c, 0, "thri serviced by iir read");
    uart_w(&c, 0, UART_IER, 0);
    uart_w(&c, 0, UART_IER, UART_IER_RDI | UART_IER_THRI);
    expect_msg(&c, c.id, "thri");
    feed(&c, "z", 1);
    /* RX arrives while THRI is asserted: no edge, IIR changes to RDI */
    while (!(uart_r(&c, 0, UART_LSR) & UART_LSR_DR)) {
        g_usleep(100);
    }
    expect_msg(&c, 0, "no edge");
    qtest_clock_step(c.qts, RECHECK_NS);
    expect_msg(&c, c.id, "rx behind thri");
    g_assert_cmphex(uart_r(&c, 0, UART_RBR), ==, 'z');
    /* One source serviced, the other remains */
    expect_msg(&c, 0, "deferred again");
    qtest_clock_step(c.qts, RECHECK_NS);
    expect_msg(&c, c.id, "thri behind rx");
    g_assert_cmphex(uart_r(&c, 0, UART_IIR) & UART_IIR_ID, ==, UART_IIR_THRI);
    qtest_clock_step(c.qts, 10 * RECHECK_NS);
    expect_msg(&c, 0, "all serviced");

    /* Switching from INTx to messages while asserted */
    card_disable(&c);
    uart_w(&c, 0, UART_IER, 0);
    uart_w(&c, 0, UART_IER, UART_IER_THRI);
    g_assert(intx_asserted(&c));
    expect_msg(&c, 0, "intx");
    card_enable(&c, 1);
    g_assert(!intx_asserted(&c));
    expect_msg(&c, c.id, "enable while asserted");
    /* and back: the pin takes the level again */
    card_disable(&c);
    g_assert(intx_asserted(&c));
    uart_r(&c, 0, UART_IIR);
    g_assert(!intx_asserted(&c));
    expect_msg(&c, 0, "intx serviced");

    card_stop(&c);
}

/* A masked vector keeps its message pending; unmasking delivers it */
static void test_mask(const void *opaque)
{
    Mode mode = GPOINTER_TO_INT(opaque);
    Card c;

    card_ready(&c, mode);

    card_mask(&c, true);
    uart_w(&c, 0, UART_IER, UART_IER_THRI);
    expect_msg(&c, 0, "masked");
    g_assert(card_vector_pending(&c));
    card_mask(&c, false);
    expect_msg(&c, c.id, "unmasked");
    g_assert(!card_vector_pending(&c));

    /* Serviced while masked: the pending bit goes, no message on unmask */
    uart_w(&c, 0, UART_IER, 0);
    card_mask(&c, true);
    uart_w(&c, 0, UART_IER, UART_IER_THRI);
    g_assert(card_vector_pending(&c));
    g_assert_cmphex(uart_r(&c, 0, UART_IIR) & UART_IIR_ID, ==, UART_IIR_THRI);
    g_assert(!card_vector_pending(&c));
    card_mask(&c, false);
    expect_msg(&c, 0, "serviced while masked");

    /* Re-check while masked also ends up pending */
    card_mask(&c, true);
    feed(&c, "m", 1);
    uart_w(&c, 0, UART_IER, UART_IER_RDI);
    while (!card_vector_pending(&c)) {
        g_usleep(100);
    }
    expect_msg(&c, 0, "masked rx");
    card_mask(&c, false);
    expect_msg(&c, c.id, "unmasked rx");
    card_mask(&c, true);
    g_assert_cmphex(uart_r(&c, 0, UART_IIR) & UART_IIR_ID, ==, UART_IIR_RDI);
    qtest_clock_step(c.qts, RECHECK_NS);
    g_assert(card_vector_pending(&c));
    card_mask(&c, false);
    expect_msg(&c, c.id, "unmasked recheck");
    g_assert_cmphex(uart_r(&c, 0, UART_RBR), ==, 'm');

    if (mode == MODE_MSIX) {
        /* Function mask */
        uart_w(&c, 0, UART_IER, 0);
        msix_set_maskall(&c, true);
        uart_w(&c, 0, UART_IER, UART_IER_THRI);
        expect_msg(&c, 0, "function masked");
        g_assert(card_vector_pending(&c));
        msix_set_maskall(&c, false);
        expect_msg(&c, c.id, "function unmasked");
    }

    card_stop(&c);
}

static uint8_t pattern(uint32_t i)
{
    return (i * 131 + (i >> 8) + (i >> 16)) & 0xff;
}

/* The stress test's interrupt: a message, or the INTx level */
static bool stress_irq(Card *c)
{
    if (c->mode == MODE_INTX) {
        return intx_asserted(c);
    }
    if (imsic_pending(c, c->id)) {
        imsic_clear(c, c->id);
        return true;
    }
    return false;
}

/*
 * 1 MiB received with interrupts only: the UART is touched only after a
 * message arrived (or, for the INTx baseline, while the pin is asserted).
 * Each interrupt reads at most STRESS_BURST bytes and returns even if more
 * are waiting, as a driver bounding its handler does: the next message
 * must then come from the signalling rule.  It reads the trigger level's
 * worth without looking at LSR when IIR says "received data", then reads
 * while LSR.DR.  Time
 * passes (in 100us steps) only while no interrupt is pending, for the
 * FIFO timeout and the re-check.
 */
static void test_stress(const void *opaque)
{
    Mode mode = GPOINTER_TO_INT(opaque);
    const char *env = g_getenv("QTEST_PCI_SERIAL_MSI_BYTES");
    unsigned int total = STRESS_BYTES;
    g_autofree uint8_t *buf = g_malloc(total);
    uint32_t sent = 0, received = 0, irqs = 0, spurious = 0;
    gint64 start, last_progress, elapsed;
    uint64_t messages = 0;
    Card c;
    uint32_t i;

    if (env) {
        g_assert_cmpint(qemu_strtoui(env, NULL, 0, &total), ==, 0);
    }
    g_assert_cmpuint(total, >, 0);
    for (i = 0; i < total; i++) {
        buf[i] = pattern(i);
    }

    card_start(&c, "pci-serial", "chardev", mode, mode != MODE_INTX);
    if (mode != MODE_INTX) {
        card_enable(&c, 1);
    }
    uart_setup(&c, UART_FCR_FIFO_ITL8);
    uart_w(&c, 0, UART_IER, UART_IER_RDI | UART_IER_RLSI);
    if (mode != MODE_INTX) {
        messages = card_messages(&c);
    }

    start = last_progress = g_get_monotonic_time();
    while (received < total) {
        if (sent < total) {
            ssize_t n = write(c.sock, buf + sent, total - sent);

            if (n > 0) {
                sent += n;
            } else {
                g_assert(errno == EAGAIN || errno == EINTR);
            }
        }
        if (stress_irq(&c)) {
            /* On RDI the FIFO holds at least the trigger level */
            uint32_t trusted = (uart_r(&c, 0, UART_IIR) & UART_IIR_ID) ==
                               UART_IIR_RDI ? STRESS_ITL : 0;
            uint32_t got = 0;

            irqs++;
            while (got < STRESS_BURST) {
                uint8_t b;

                if (got >= trusted) {
                    uint8_t lsr = uart_r(&c, 0, UART_LSR);

                    g_assert_cmphex(lsr & UART_LSR_OE, ==, 0);
                    if (!(lsr & UART_LSR_DR)) {
                        break;
                    }
                }
                b = uart_r(&c, 0, UART_RBR);
                if (b != buf[received]) {
                    g_test_message("byte %u: got 0x%02x, expected 0x%02x",
                                   received, b, buf[received]);
                    g_assert_cmphex(b, ==, buf[received]);
                }
                received++;
                got++;
            }
            if (!got) {
                spurious++;
            } else {
                last_progress = g_get_monotonic_time();
            }
        } else {
            qtest_clock_step(c.qts, 100000);
            if (g_get_monotonic_time() - last_progress > 20 * G_USEC_PER_SEC) {
                g_test_message("no message for 20s at byte %u, LSR 0x%02x",
                               received, uart_r(&c, 0, UART_LSR));
                g_assert_not_reached();
            }
        }
    }
    elapsed = g_get_monotonic_time() - start;
    if (mode != MODE_INTX) {
        messages = card_messages(&c) - messages;
    }

    g_test_message("%s: %u bytes in %.2f s (%.1f KiB/s), %" PRIu64
                   " messages (%.4f per byte), %u interrupts taken"
                   " (%.4f per byte), %u spurious",
                   mode_name(mode), received, elapsed / 1e6,
                   received / 1024.0 / (elapsed / 1e6), messages,
                   (double)messages / received, irqs,
                   (double)irqs / received, spurious);
    g_assert_cmpuint(received, ==, total);
    card_stop(&c);
}

/* One vector per port on the multiport cards */
static void test_multi(const void *opaque)
{
    const char *type = opaque;
    int nports = strstr(type, "4x") ? 4 : 2;
    Mode mode;
    int p;

    for (mode = MODE_MSI; mode <= MODE_MSIX; mode++) {
        Card c;

        card_start(&c, type, "chardev1", mode, true);
        card_enable(&c, nports);
        for (p = 0; p < nports; p++) {
            uart_w(&c, p, UART_IER, 0);
            uart_r(&c, p, UART_IIR);
        }
        for (p = 0; p < nports; p++) {
            uart_w(&c, p, UART_IER, UART_IER_THRI);
            expect_msg(&c, c.id + p, "port");
        }
        /* All ports asserted: each re-check is on its own vector */
        for (p = 0; p < nports; p++) {
            uart_r(&c, p, UART_LSR);
        }
        qtest_clock_step(c.qts, RECHECK_NS);
        g_assert_cmphex(csr_get(&c, CSR_SIREG), ==,
                        ((1ULL << nports) - 1) << c.id);
        csr_set(&c, CSR_SIREG, 0);
        for (p = 0; p < nports; p++) {
            g_assert_cmphex(uart_r(&c, p, UART_IIR) & UART_IIR_ID, ==,
                            UART_IIR_THRI);
        }
        qtest_clock_step(c.qts, 10 * RECHECK_NS);
        expect_msg(&c, 0, "all serviced");

        if (mode == MODE_MSI) {
            /* Only one vector enabled: all ports share it */
            msi_disable(&c);
            msi_enable(&c, 0, c.id);
            for (p = 0; p < nports; p++) {
                uart_w(&c, p, UART_IER, 0);
                uart_w(&c, p, UART_IER, UART_IER_THRI);
                expect_msg(&c, c.id, "shared vector");
                uart_r(&c, p, UART_IIR);
            }
        }
        card_stop(&c);
    }
}

/* Properties on but not enabled by the guest: INTx as before */
static void test_intx(void)
{
    Card c;

    card_start(&c, "pci-serial", "chardev", MODE_MSIX, false);
    g_assert_cmphex(qpci_config_readb(c.dev, PCI_INTERRUPT_PIN), ==, 1);
    uart_setup(&c, UART_FCR_FIFO_ITL1);
    uart_w(&c, 0, UART_IER, UART_IER_THRI);
    g_assert(intx_asserted(&c));
    uart_r(&c, 0, UART_IIR);
    g_assert(!intx_asserted(&c));
    expect_msg(&c, 0, "intx only");
    card_stop(&c);
}

/* With the properties off, nothing of this is visible */
static void test_default(void)
{
    QTestState *qts;
    QGuestAllocator alloc;
    QGenericPCIBus bus;
    QPCIDevice *dev;
    QDict *rsp;

    qts = qtest_init("-M virt,aia=aplic-imsic -device pci-serial,id=uart,"
                     "addr=02.0");
    alloc_init(&alloc, 0, VIRT_DRAM, VIRT_DRAM + VIRT_DRAM_SIZE, 4096);
    qpci_init_generic(&bus, qts, &alloc, false);
    bus.ecam_alloc_ptr = VIRT_PCIE_ECAM;
    dev = qpci_device_find(&bus.bus, QPCI_DEVFN(2, 0));
    g_assert(dev);
    g_assert_cmphex(qpci_config_readw(dev, PCI_STATUS) & PCI_STATUS_CAP_LIST,
                    ==, 0);
    g_assert_cmphex(qpci_config_readb(dev, PCI_CAPABILITY_LIST), ==, 0);
    qpci_config_writel(dev, PCI_BASE_ADDRESS_1, 0xffffffff);
    g_assert_cmphex(qpci_config_readl(dev, PCI_BASE_ADDRESS_1), ==, 0);
    rsp = qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments': {"
                    " 'path': '/machine/peripheral/uart',"
                    " 'property': 'x-msi-messages' } }");
    g_assert(qdict_haskey(rsp, "error"));
    qobject_unref(rsp);
    g_free(dev);
    alloc_destroy(&alloc);
    qtest_quit(qts);
}

static const char *migration_status(QTestState *qts)
{
    static char status[32];
    QDict *rsp, *ret;

    rsp = qtest_qmp(qts, "{ 'execute': 'query-migrate' }");
    ret = qdict_get_qdict(rsp, "return");
    g_assert(ret);
    g_strlcpy(status, qdict_haskey(ret, "status") ?
              qdict_get_str(ret, "status") : "none", sizeof(status));
    qobject_unref(rsp);
    return status;
}

/*
 * The message state migrates: a masked vector's pending bit and a re-check
 * that was due (the guest looked at the UART and left it asserted).
 */
static void test_migrate(const void *opaque)
{
    Mode mode = GPOINTER_TO_INT(opaque);
    g_autofree char *uri = NULL;
    const char *status;
    gint64 deadline;
    QDict *rsp;
    Card src, dst;

    card_start(&src, "pci-serial", "chardev", mode, true);
    card_enable(&src, 1);
    uart_setup(&src, UART_FCR_FIFO_ITL1);
    card_mask(&src, true);
    uart_w(&src, 0, UART_IER, UART_IER_THRI);
    g_assert(card_vector_pending(&src));
    g_assert_cmphex(uart_r(&src, 0, UART_LSR) & UART_LSR_DR, ==, 0);
    expect_msg(&src, 0, "source");

    uri = g_strdup_printf("unix:%s/migrate.sock", src.dir);
    card_launch(&dst, "pci-serial", "chardev", mode, uri);
    rsp = qtest_qmp(src.qts, "{ 'execute': 'migrate',"
                    " 'arguments': { 'uri': %s } }", uri);
    g_assert(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
    deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    while (strcmp(status = migration_status(dst.qts), "completed")) {
        g_assert_cmpstr(status, !=, "failed");
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(10000);
    }

    card_attach(&dst);
    dst.bar = src.bar;
    dst.msix_bar = src.msix_bar;
    csr_set(&dst, CSR_SISELECT, ISELECT_EIP0);
    expect_msg(&dst, 0, "migrated");
    g_assert(card_vector_pending(&dst));
    card_mask(&dst, false);
    expect_msg(&dst, dst.id, "pending across migration");
    qtest_clock_step(dst.qts, RECHECK_NS);
    expect_msg(&dst, dst.id, "re-check across migration");
    g_assert_cmphex(uart_r(&dst, 0, UART_IIR) & UART_IIR_ID, ==,
                    UART_IIR_THRI);
    qtest_clock_step(dst.qts, 10 * RECHECK_NS);
    expect_msg(&dst, 0, "serviced");

    card_stop(&dst);
    card_stop(&src);
}

int main(int argc, char **argv)
{
    Mode mode;

    g_test_init(&argc, &argv, NULL);

    qtest_add_func("pci-serial-msi/default", test_default);
    qtest_add_func("pci-serial-msi/intx", test_intx);
    qtest_add_data_func("pci-serial-msi/intx-stress",
                        GINT_TO_POINTER(MODE_INTX), test_stress);
    for (mode = MODE_MSI; mode <= MODE_MSIX; mode++) {
        static const struct {
            const char *name;
            GTestDataFunc fn;
        } cases[] = {
            { "sources", test_sources },
            { "modem", test_modem },
            { "lost", test_lost },
            { "mask", test_mask },
            { "migrate", test_migrate },
            { "stress", test_stress },
        };
        int i;

        for (i = 0; i < ARRAY_SIZE(cases); i++) {
            g_autofree char *path = g_strdup_printf("pci-serial-msi/%s/%s",
                                                    mode_name(mode),
                                                    cases[i].name);

            qtest_add_data_func(path, GINT_TO_POINTER(mode), cases[i].fn);
        }
    }
    qtest_add_data_func("pci-serial-msi/multi/2x", "pci-serial-2x",
                        test_multi);
    qtest_add_data_func("pci-serial-msi/multi/4x", "pci-serial-4x",
                        test_multi);

    return g_test_run();
}
