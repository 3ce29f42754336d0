#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# libvirt_efi_backports.sh FORK: libvirt_efi.sh with bookworm-backports'
# libvirt (11.3) in place of the host's bookworm 9.0. The newer libvirt runs
# from the root that tools/libvirt-root.sh made (build/libvirt-root, part of
# make check), in a private mount namespace, so the host's libvirt is
# neither replaced nor disturbed. The same checks as libvirt_efi.sh, plus
# efi-libvirt-version: the daemon that ran the domain is the backports one.

set -u

fork=${1:?usage: $0 FORK}
top=$(cd "$(dirname "$fork")/.." && pwd)
root=$top/build/libvirt-root
want=$(sed -n 's/^libvirt \([0-9.]*\)[-~+].*/\1/p;q' \
    "$top/build/libvirt-root.txt" 2>/dev/null)

if [ ! -x "$root/usr/sbin/libvirtd" ] || [ -z "$want" ]; then
    echo "FAIL libvirt-efi-backports (no libvirt root in $root:" \
        "make check builds it with tools/libvirt-root.sh)"
    exit 1
fi
VP_LIBVIRT_FWDIR=$top/build/firmware VP_LIBVIRT_EXPECT=$want \
    exec "$top/tools/libvirt-root.sh" run "$root" \
    bash "$(dirname "$0")/libvirt_efi.sh" "$fork"
