# SPDX-License-Identifier: GPL-2.0-or-later
#
# qemu-system-riscv64 with the virt-pcie machine only, and the devices a
# server guest on it uses. Configure with
#   --target-list=riscv64-softmmu --without-default-devices
#   --with-devices-riscv64=virt-pcie
# The machine brings in its built-in devices (the interrupt controllers,
# mtimer, RTC, syscon, flash, the PCIe host, the console function and the
# power button).

CONFIG_RISCV_VIRT_PCIE=y

# Storage
CONFIG_NVME_PCI=y
CONFIG_VIRTIO_BLK=y
CONFIG_VIRTIO_SCSI=y

# Network
CONFIG_VIRTIO_NET=y
CONFIG_E1000E_PCI_EXPRESS=y

# Other virtio-pci devices
CONFIG_VIRTIO_RNG=y
CONFIG_VIRTIO_BALLOON=y
CONFIG_VIRTIO_SERIAL=y

# PCIe topology and DMA remapping
CONFIG_PCIE_PORT=y
CONFIG_RISCV_IOMMU=y
