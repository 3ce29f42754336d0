/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * RISC-V "virt-pcie" board: PCIe-only, MSI-only
 *
 * Copyright (c) 2025 virt-pcie developers
 *
 * The platform is specified in docs/specs/riscv-virt-pcie.rst.
 */

#ifndef HW_RISCV_VIRT_PCIE_H
#define HW_RISCV_VIRT_PCIE_H

#include "hw/boards.h"
#include "hw/block/flash.h"
#include "hw/riscv/riscv_hart.h"
#include "hw/riscv/machine_helper.h"
#include "qom/object.h"

#define TYPE_RISCV_VIRT_PCIE_MACHINE MACHINE_TYPE_NAME("virt-pcie")
OBJECT_DECLARE_TYPE(RISCVVirtPcieState, RISCVVirtPcieMachineClass,
                    RISCV_VIRT_PCIE_MACHINE)

/* Limits of the platform */
#define VIRT_PCIE_SOCKETS_MAX       16
#define VIRT_PCIE_CPUS_MAX          16384   /* 16 sockets of 1024 */
#define VIRT_PCIE_CPUS_MAX_10_0     4096
#define VIRT_PCIE_SOCKET_HARTS_MAX  4095    /* one ACLINT MTIMER */
#define VIRT_PCIE_GROUP_HARTS_MAX   4096    /* one M-level IMSIC group */
#define VIRT_PCIE_HART_INDEX_BITS   14      /* APLIC target, MSI mode */
#define VIRT_PCIE_AIA_GUESTS_MAX    7
#define VIRT_PCIE_FLASH_BANKS       2

/* Wired sources of socket 0's APLIC domains */
#define VIRT_PCIE_IRQ_RTC           1
#define VIRT_PCIE_IRQ_PCIE_INTA     2       /* INTB..INTD follow */
#define VIRT_PCIE_IRQ_SOURCES       32

/*
 * The built-in console function and its fixed range (10.0: in PCI I/O):
 * the last page of the 32-bit window, where a PCI memory address is the
 * CPU address, far from where an OS allocates BARs from (the bottom).
 */
#define VIRT_PCIE_CONSOLE_DEVFN     PCI_DEVFN(0, 1)   /* 00:00.1 */
#define VIRT_PCIE_CONSOLE_PAGE      0x1000
#define VIRT_PCIE_CONSOLE_MEM_BASE  0x7ffff000
#define VIRT_PCIE_CONSOLE_IO_BASE   0xff8
#define VIRT_PCIE_CONSOLE_SIZE      8

/* The built-in power button (10.2): virtio-power-button-pci */
#define VIRT_PCIE_POWER_BUTTON_DEVFN PCI_DEVFN(0, 2)  /* 00:00.2 */

/*
 * fw-cfg=on (10.2): QEMU's firmware configuration as the built-in
 * function 00:00.3, its registers fixed by Enhanced Allocation in the page
 * below the console's.
 */
#define VIRT_PCIE_FW_CFG_DEVFN      PCI_DEVFN(0, 3)   /* 00:00.3 */
#define VIRT_PCIE_FW_CFG_MEM_BASE   0x7fffe000

/*
 * 11.0: the device tree's PCI I/O window starts at bus address 0x1000, so
 * that firmware never gives an I/O BAR the address 0, which Linux cannot
 * use and, with ACPI, must keep (see virt-pcie-acpi.c).
 */
#define VIRT_PCIE_PIO_BUS_MIN       0x1000

/* The time CSR counts nanoseconds (10.0: 100 ns) */
#define VIRT_PCIE_TIMEBASE_FREQ     1000000000

enum {
    VIRT_PCIE_MROM,
    VIRT_PCIE_TEST,
    VIRT_PCIE_RTC,
    VIRT_PCIE_MTIMER,
    VIRT_PCIE_PIO,
    VIRT_PCIE_APLIC_M,
    VIRT_PCIE_APLIC_S,
    VIRT_PCIE_FLASH,
    VIRT_PCIE_ECAM,
    VIRT_PCIE_MMIO,
    VIRT_PCIE_DRAM,
    VIRT_PCIE_IMSIC_M,
    VIRT_PCIE_IMSIC_S,
    VIRT_PCIE_MMIO64,
};

extern const MemMapEntry virt_pcie_memmap[];

struct RISCVVirtPcieMachineClass {
    MachineClass parent;

    /* MachineClass::create_default_memdev of TYPE_MACHINE */
    bool (*parent_create_default_memdev)(MachineState *ms, const char *path,
                                         Error **errp);
    /* What a version fixes for its guests */
    bool console_io;            /* console range in I/O space (10.0) */
    bool iommu_fdt;             /* riscv-iommu-pci in the device tree */
    bool smp_topology;          /* cpu-map from -smp; sockets not nodes */
    bool power_button;          /* virtio power button at 00:00.2 */
    bool writable_vars;         /* refuse a read-only flash bank 1 */
    bool fw_cfg;                /* fw-cfg=on possible */
    bool acpi;                  /* fw_cfg and ACPI tables built in (11.0) */
    uint32_t timebase_freq;     /* Hz of the time CSR and the MTIMER */
};

struct RISCVVirtPcieState {
    MachineState parent;

    Notifier machine_done;
    RISCVHartArrayState soc[VIRT_PCIE_SOCKETS_MAX];
    DeviceState *aplic[VIRT_PCIE_SOCKETS_MAX];
    PFlashCFI01 *flash[VIRT_PCIE_FLASH_BANKS];
    uint32_t aia_guests;
    int fdt_size;
    PCIDevice *iommu;           /* -device riscv-iommu-pci, or NULL */
    bool stdout_uart;           /* stdout-path names the firmware view */
    bool fw_cfg_on;             /* fw-cfg= */
    bool acpi;                  /* acpi= */
    FWCfgState *fw_cfg;         /* with fw-cfg=on, else NULL */
    PCIBus *pci_bus;            /* the host bridge's root bus */
};

/* The platform's interrupt controllers and host bridge (virt-pcie.c) */
RiscvMhImsic virt_pcie_imsic(RISCVVirtPcieState *s, RiscvMhMode mode);
RiscvMhAplic virt_pcie_aplic(void);
RiscvMhPcie virt_pcie_host(void);

/* acpi=on: the ACPI tables, as fw_cfg files (virt-pcie-acpi.c) */
void virt_pcie_acpi_setup(RISCVVirtPcieState *s);

#endif
