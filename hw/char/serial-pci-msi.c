/*
 * MSI and MSI-X signalling for the PCI 16550 UART cards
 *
 * Copyright (c) 2025 virt-pcie developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The interrupt output of a 16550 is a level; a message is an edge.  The
 * rule implemented here (documented in docs/specs/pci-serial.rst) makes
 * sure that the UART never stays asserted after the guest looked at it
 * without a message following:
 *
 * 1. a message on every rising edge of the UART's interrupt output;
 * 2. a message right after a guest write to IER that leaves the output
 *    asserted;
 * 3. a message once the guest has stopped accessing the UART for
 *    msi-recheck-ns of virtual time, if the output is still asserted and
 *    no message was sent since the guest's last access.
 *
 * The serial core is not modified: its interrupt output and its register
 * accesses are observed by the PCI wrappers, which route them here.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/timer.h"
#include "hw/char/serial-pci-msi.h"
#include "hw/pci/msi.h"
#include "hw/pci/msix.h"
#include "migration/vmstate.h"
#include "trace.h"

#define UART_REG_IER        1
#define UART_LCR_DLAB       0x80
#define UART_IIR_NO_INT     0x01

static bool serial_pci_msi_active(SerialPCIMsi *m)
{
    return msix_enabled(m->pci) || msi_enabled(m->pci);
}

/* The MSI vector of port @n: ports share vectors if fewer are enabled */
static unsigned int serial_pci_msi_vector(SerialPCIMsi *m, unsigned int n)
{
    return n % msi_nr_vectors_allocated(m->pci);
}

static void serial_pci_msi_notify(SerialPCIMsiPort *p, const char *why)
{
    SerialPCIMsi *m = p->card;

    p->notified = true;
    m->messages++;
    trace_serial_pci_msi_notify(p->index, why);
    if (msix_enabled(m->pci)) {
        msix_notify(m->pci, p->index);
    } else {
        msi_notify(m->pci, serial_pci_msi_vector(m, p->index));
    }
}

/*
 * The output went down while the vector was masked: the condition the
 * pending bit stands for has gone, so drop it rather than deliver a
 * spurious message on unmask.
 */
static void serial_pci_msi_clear_pending(SerialPCIMsiPort *p)
{
    SerialPCIMsi *m = p->card;
    unsigned int vector, i;
    uint8_t *pending;

    if (msix_enabled(m->pci)) {
        if (msix_is_masked(m->pci, p->index)) {
            msix_clr_pending(m->pci, p->index);
        }
        return;
    }

    vector = serial_pci_msi_vector(m, p->index);
    for (i = 0; i < m->nports; i++) {
        if (m->port[i].level && serial_pci_msi_vector(m, i) == vector) {
            return;
        }
    }
    /* Our MSI capability is always 64-bit with per-vector masking */
    pending = m->pci->config + m->pci->msi_cap + PCI_MSI_PENDING_64;
    pci_set_long(pending, pci_get_long(pending) & ~(1U << vector));
}

static bool serial_pci_msi_any_level(SerialPCIMsi *m)
{
    unsigned int i;

    for (i = 0; i < m->nports; i++) {
        if (m->port[i].level) {
            return true;
        }
    }
    return false;
}

void serial_pci_msi_set_level(SerialPCIMsi *m, unsigned int n, bool level)
{
    SerialPCIMsiPort *p = &m->port[n];
    bool old = p->level;

    p->level = level;
    if (!serial_pci_msi_active(m)) {
        pci_set_irq(m->pci, serial_pci_msi_any_level(m));
        return;
    }
    if (level && !old) {
        serial_pci_msi_notify(p, "edge");
    } else if (!level && old) {
        serial_pci_msi_clear_pending(p);
    }
}

void serial_pci_msi_write_config(SerialPCIMsi *m, uint32_t addr,
                                 uint32_t val, int len)
{
    bool was_active = serial_pci_msi_active(m);
    unsigned int i;

    pci_default_write_config(m->pci, addr, val, len);

    if (serial_pci_msi_active(m)) {
        if (was_active) {
            return;
        }
        /*
         * Switching from INTx: enabling MSI/MSI-X deasserted the pin, so a
         * pending interrupt must now be signalled by message.
         */
        for (i = 0; i < m->nports; i++) {
            if (m->port[i].level) {
                serial_pci_msi_notify(&m->port[i], "enable");
            }
        }
    } else if (was_active) {
        pci_set_irq(m->pci, serial_pci_msi_any_level(m));
    }
}

static void serial_pci_msi_recheck(void *opaque)
{
    SerialPCIMsiPort *p = opaque;
    SerialPCIMsi *m = p->card;
    int64_t due = p->last_access + m->recheck_ns;

    if (!p->level || p->notified || !serial_pci_msi_active(m)) {
        return;
    }
    if (qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) < due) {
        /* The guest accessed the UART again since the timer was armed */
        timer_mod(p->recheck, due);
        return;
    }
    serial_pci_msi_notify(p, "recheck");
}

static void serial_pci_msi_access_begin(SerialPCIMsiPort *p)
{
    p->notified = false;
}

static void serial_pci_msi_access_end(SerialPCIMsiPort *p, bool ier_write)
{
    SerialPCIMsi *m = p->card;

    if (!serial_pci_msi_active(m)) {
        return;
    }
    p->last_access = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
    if (!p->level || p->notified) {
        return;
    }
    if (ier_write) {
        serial_pci_msi_notify(p, "ier");
    } else if (!timer_pending(p->recheck)) {
        timer_mod(p->recheck, p->last_access + m->recheck_ns);
    }
}

static uint64_t serial_pci_msi_io_read(void *opaque, hwaddr addr,
                                       unsigned size)
{
    SerialPCIMsiPort *p = opaque;
    uint64_t val;

    serial_pci_msi_access_begin(p);
    val = serial_io_ops.read(p->serial, addr, size);
    serial_pci_msi_access_end(p, false);
    return val;
}

static void serial_pci_msi_io_write(void *opaque, hwaddr addr, uint64_t val,
                                    unsigned size)
{
    SerialPCIMsiPort *p = opaque;
    bool ier_write = addr == UART_REG_IER &&
                     !(p->serial->lcr & UART_LCR_DLAB);

    serial_pci_msi_access_begin(p);
    serial_io_ops.write(p->serial, addr, val, size);
    serial_pci_msi_access_end(p, ier_write);
}

/* Same access rules as serial_io_ops, which it forwards to */
const MemoryRegionOps serial_pci_msi_io_ops = {
    .read = serial_pci_msi_io_read,
    .write = serial_pci_msi_io_write,
    .valid = {
        .unaligned = 1,
    },
    .impl = {
        .min_access_size = 1,
        .max_access_size = 1,
    },
    .endianness = DEVICE_LITTLE_ENDIAN,
};

static int serial_pci_msi_port_post_load(void *opaque, int version_id)
{
    SerialPCIMsiPort *p = opaque;

    /* The re-check timer is not migrated: re-arm it if it could be due */
    if (p->level && !p->notified) {
        p->last_access = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
        timer_mod(p->recheck, p->last_access + p->card->recheck_ns);
    }
    return 0;
}

const VMStateDescription vmstate_serial_pci_msi_port = {
    .name = "serial-pci-msi-port",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = serial_pci_msi_port_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_BOOL(level, SerialPCIMsiPort),
        VMSTATE_BOOL(notified, SerialPCIMsiPort),
        VMSTATE_END_OF_LIST()
    }
};

bool serial_pci_msi_realize(SerialPCIMsi *m, PCIDevice *pci,
                            SerialState *serial, uint32_t nports,
                            Error **errp)
{
    unsigned int i;

    assert(nports >= 1 && nports <= SERIAL_PCI_MSI_MAX_PORTS);
    m->pci = pci;
    m->nports = nports;
    m->messages = 0;

    if (m->msix) {
        memory_region_init(&m->msix_bar, OBJECT(pci), "serial-msix",
                           SERIAL_PCI_MSIX_BAR_SIZE);
        if (msix_init(pci, nports, &m->msix_bar, SERIAL_PCI_MSIX_BAR, 0,
                      &m->msix_bar, SERIAL_PCI_MSIX_BAR,
                      SERIAL_PCI_MSIX_PBA_OFFSET, SERIAL_PCI_MSIX_CAP_OFFSET,
                      errp) < 0) {
            return false;
        }
        pci_register_bar(pci, SERIAL_PCI_MSIX_BAR,
                         PCI_BASE_ADDRESS_SPACE_MEMORY, &m->msix_bar);
        for (i = 0; i < nports; i++) {
            msix_vector_use(pci, i);
        }
    }
    /* Added last, so that the capability list starts with MSI */
    if (m->msi &&
        msi_init(pci, SERIAL_PCI_MSI_CAP_OFFSET, pow2ceil(nports), true, true,
                 errp) < 0) {
        msix_uninit(pci, &m->msix_bar, &m->msix_bar);
        return false;
    }
    if (m->msi) {
        /*
         * The pending bits are run-time state, read-only to the guest:
         * they must migrate instead of being checked to be equal.
         */
        pci_set_long(pci->cmask + pci->msi_cap + PCI_MSI_PENDING_64, 0);
    }

    for (i = 0; i < nports; i++) {
        SerialPCIMsiPort *p = &m->port[i];

        p->card = m;
        p->serial = &serial[i];
        p->index = i;
        p->level = false;
        p->notified = false;
        p->recheck = timer_new_ns(QEMU_CLOCK_VIRTUAL, serial_pci_msi_recheck,
                                  p);
    }

    /* For tests and tuning: messages sent since realize */
    object_property_add_uint64_ptr(OBJECT(pci), "x-msi-messages",
                                   &m->messages, OBJ_PROP_FLAG_READ);
    return true;
}

void serial_pci_msi_exit(SerialPCIMsi *m)
{
    unsigned int i;

    for (i = 0; i < m->nports; i++) {
        timer_free(m->port[i].recheck);
    }
    msi_uninit(m->pci);
    msix_uninit(m->pci, &m->msix_bar, &m->msix_bar);
}
