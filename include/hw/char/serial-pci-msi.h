/*
 * MSI and MSI-X signalling for the PCI 16550 UART cards
 *
 * Copyright (c) 2025 virt-pcie developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * See docs/specs/pci-serial.rst for the layout and the signalling rule.
 */

#ifndef HW_CHAR_SERIAL_PCI_MSI_H
#define HW_CHAR_SERIAL_PCI_MSI_H

#include "hw/char/serial.h"
#include "hw/pci/pci_device.h"

#define SERIAL_PCI_MSI_MAX_PORTS    4

/* Fixed places, so that the guest-visible layout is documented */
#define SERIAL_PCI_MSI_CAP_OFFSET   0x40
#define SERIAL_PCI_MSIX_CAP_OFFSET  0x60
#define SERIAL_PCI_MSIX_BAR         1
#define SERIAL_PCI_MSIX_BAR_SIZE    0x1000
#define SERIAL_PCI_MSIX_PBA_OFFSET  0x800

/* Default quiet time before a still-pending interrupt is signalled again */
#define SERIAL_PCI_MSI_RECHECK_NS   20000

typedef struct SerialPCIMsi SerialPCIMsi;

typedef struct SerialPCIMsiPort {
    SerialPCIMsi *card;
    SerialState *serial;
    unsigned int index;
    QEMUTimer *recheck;
    /* virtual time of the last guest access to the UART registers */
    int64_t last_access;
    /* the UART interrupt output */
    bool level;
    /* a message was sent for this port since the last guest access */
    bool notified;
} SerialPCIMsiPort;

struct SerialPCIMsi {
    /* properties */
    bool msi;
    bool msix;
    uint32_t recheck_ns;

    PCIDevice *pci;
    uint32_t nports;
    uint64_t messages;
    MemoryRegion msix_bar;
    SerialPCIMsiPort port[SERIAL_PCI_MSI_MAX_PORTS];
};

extern const MemoryRegionOps serial_pci_msi_io_ops;
extern const VMStateDescription vmstate_serial_pci_msi_port;

/* Port state of a card; only in the stream when MSI or MSI-X is configured */
#define VMSTATE_SERIAL_PCI_MSI(_field, _state)                          \
    VMSTATE_STRUCT_VARRAY_UINT32(_field.port, _state, _field.nports, 0, \
                                 vmstate_serial_pci_msi_port,           \
                                 SerialPCIMsiPort)

/* True if the "msi" or "msix" property is on */
static inline bool serial_pci_msi_configured(const SerialPCIMsi *m)
{
    return m->msi || m->msix;
}

/*
 * Add the MSI and/or MSI-X capabilities (and the MSI-X BAR) to @pci, for
 * @nports UARTs starting at @serial.  The caller then routes each UART's
 * interrupt to serial_pci_msi_set_level() and maps each UART's registers
 * with serial_pci_msi_io_ops and &m->port[i] as opaque.
 */
bool serial_pci_msi_realize(SerialPCIMsi *m, PCIDevice *pci,
                            SerialState *serial, uint32_t nports,
                            Error **errp);
void serial_pci_msi_exit(SerialPCIMsi *m);

/* The UART @n changed its interrupt output; drives INTx or sends messages */
void serial_pci_msi_set_level(SerialPCIMsi *m, unsigned int n, bool level);

/* The device's config_write: handles switching between INTx and messages */
void serial_pci_msi_write_config(SerialPCIMsi *m, uint32_t addr,
                                 uint32_t val, int len);

#endif
