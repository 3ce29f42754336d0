/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fw-cfg-pci: QEMU's firmware configuration interface as a PCI function
 *
 * Copyright (c) 2026 virt-pcie developers
 */

#ifndef HW_NVRAM_FW_CFG_PCI_H
#define HW_NVRAM_FW_CFG_PCI_H

#define TYPE_FW_CFG_PCI "fw-cfg-pci"

/* BAR 0: the data register at 0 (8 bytes wide), the selector at 8 */
#define FW_CFG_PCI_BAR_SIZE     0x1000
#define FW_CFG_PCI_DATA         0x0
#define FW_CFG_PCI_SELECTOR     0x8
#define FW_CFG_PCI_REGS_SIZE    0x10

#endif
