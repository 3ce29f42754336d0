#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# libvirt-root.sh build FORK: a Debian bookworm amd64 root file system with
# bookworm-backports' libvirt (11.3 today), for testing virt-pcie with a
# newer libvirt than the host's bookworm 9.0 without touching the host.
# The root is made with debootstrap and apt from the archive of this
# machine's own apt entries, and holds the packages of the shared libraries
# FORK (the fork's qemu-system-riscv64) needs, so that libvirt can run it.
# It is cached in $VP_CACHE/libvirt/<key>/root, keyed by this script,
# the debootstrap version, the libvirt version and the library packages;
# build/libvirt-root links to it, and build/libvirt-root.txt lists the
# versions.
#
# libvirt-root.sh run ROOT COMMAND...: run COMMAND on the host with libvirt
# from ROOT running, and nothing of it left behind:
#   - a private mount namespace, where an overlay over ROOT (the cached root
#     is never written) gets /proc, /sys, /dev, a fresh /run and, at their
#     own paths, /work, $HOME, /var/tmp and the checkout;
#   - $VP_LIBVIRT_FWDIR/*.json are installed in its /etc/qemu/firmware
#     before its daemons (virtlogd, libvirtd) start;
#   - COMMAND gets VP_VIRSH (a virsh of ROOT's libvirt, as words to split),
#     VP_LIBVIRT_STARTED=1 and VP_LIBVIRT_ROOTFS (where the daemons' root
#     is seen from the host), and its exit status is returned.
# Must run as root.

set -euo pipefail
VP_TOOL=libvirt-root
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

suite=bookworm
backports=bookworm-backports
packages=(libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients
          sysvinit-core elogind)

# The Debian packages holding the shared libraries that $1 is linked with
lib_packages()
{
    local lib pkg
    ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' |
    while read -r lib; do
        pkg=$(dpkg -S "$lib" 2>/dev/null ||
              dpkg -S "$(readlink -f "$lib")" 2>/dev/null ||
              dpkg -S "/usr$lib" 2>/dev/null ||
              dpkg -S "*/$(basename "$lib")" 2>/dev/null | head -n 1) ||
            vp_die "no Debian package holds $lib, which $1 needs"
        echo "${pkg%%:*}"
    done | sort -u
}

build()
{
    local fork=${1:?usage: $0 build FORK} mirror ver dbs libs key dir root
    if [ "$(id -u)" != 0 ]; then
        vp_warn "not root: no libvirt root is made, and the libvirt tests" \
                "will fail (run make check as root)"
        return 0
    fi
    [ -x "$fork" ] || vp_die "$fork is not built (make fork)"
    mirror=$(vp_debian_mirror /etc/apt/sources.list.d/virt-pcie.sources ||
             true)
    [ -n "$mirror" ] ||
        vp_die "no Debian archive entry found in /etc/apt; cannot derive" \
               "a mirror"
    ver=$(apt-cache madison libvirt-daemon-system |
          awk -v s="$backports" '$0 ~ s "/main amd64" { print $3; exit }')
    [ -n "$ver" ] ||
        vp_die "$backports lists no libvirt-daemon-system for amd64: run" \
               "tools/apt-sources.sh and apt-get update as root"
    dbs=$(dpkg-query -W -f '${Version}' debootstrap)
    mapfile -t libs < <(lib_packages "$fork")
    key=$({ sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1
            echo "$dbs $ver ${libs[*]}"; } | sha256sum | cut -c1-16)
    dir=$VP_CACHE/libvirt/$key
    root=$dir/root
    if [ ! -e "$dir/done" ]; then
        vp_say "making a $suite root with libvirt $ver from $backports" \
               "in $dir (a few minutes, once)"
        rm -rf "$dir"
        mkdir -p "$dir"
        debootstrap --variant=minbase --arch=amd64 "$suite" "$root" \
            "$mirror" > "$dir/debootstrap.log" 2>&1 ||
            vp_die "debootstrap failed; see $dir/debootstrap.log"
        cat > "$root/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $backports main
EOF
        printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
        chmod 0755 "$root/usr/sbin/policy-rc.d"
        unshare -m --propagation private sh -c '
            set -e
            r=$1
            shift
            mount -t proc proc "$r/proc"
            mount --rbind /dev "$r/dev"
            chroot "$r" apt-get -q update
            chroot "$r" env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
                --no-install-recommends -t "$0" install "$@"
            chroot "$r" apt-get clean' "$backports" "$root" \
            "${packages[@]}" "${libs[@]}" \
            > "$dir/apt.log" 2>&1 ||
            vp_die "installing libvirt in the root failed; see $dir/apt.log"
        # No cgroups and no security driver: the domain runs in a chroot
        # of a host whose own libvirt owns those.
        cat >> "$root/etc/libvirt/qemu.conf" <<EOF
# virt-pcie tools/libvirt-root.sh
cgroup_controllers = [ ]
security_driver = "none"
EOF
        chroot "$root" dpkg-query -W > "$dir/versions.txt"
        touch "$dir/done"
        # Roots of earlier keys are of no further use
        find "$VP_CACHE/libvirt" -mindepth 1 -maxdepth 1 -type d \
            ! -name "$key" -exec rm -rf {} +
    fi
    mkdir -p "$VP_TOP/build"
    ln -sfn "$root" "$VP_TOP/build/libvirt-root"
    { echo "libvirt $ver ($backports) in a $suite root: $root"
      cat "$dir/versions.txt"; } > "$VP_TOP/build/libvirt-root.txt"
    vp_say "libvirt $ver root ready: build/libvirt-root"
}

# The part of "run" inside the private mount namespace
inside()
{
    local root=$1 work p rc=0
    shift
    work=$(mktemp -d /var/tmp/vp-libvirt.XXXXXX)
    mkdir -p "$work/upper" "$work/work" "$work/merged"
    mount -t overlay overlay \
        -o "lowerdir=$root,upperdir=$work/upper,workdir=$work/work" \
        "$work/merged"
    local m=$work/merged
    mount -t proc proc "$m/proc"
    mount --rbind /sys "$m/sys"
    mount --rbind /dev "$m/dev"
    mount -t tmpfs tmpfs "$m/run"
    for p in /work "$HOME" /var/tmp "$VP_TOP"; do
        [ -d "$p" ] || continue
        mkdir -p "$m$p"
        mount --rbind "$p" "$m$p"
    done
    mkdir -p "$m/etc/qemu/firmware"
    if [ -n "${VP_LIBVIRT_FWDIR:-}" ]; then
        cp "$VP_LIBVIRT_FWDIR"/*.json "$m/etc/qemu/firmware/"
    fi
    mkdir -p "$m/run/libvirt"
    chroot "$m" virtlogd -d
    chroot "$m" libvirtd -d
    for _ in $(seq 100); do
        chroot "$m" virsh -q -c qemu:///system list > /dev/null 2>&1 &&
            break
        sleep 0.2
    done
    VP_VIRSH="chroot $m virsh" VP_LIBVIRT_STARTED=1 VP_LIBVIRT_ROOTFS=$m \
        "$@" || rc=$?
    chroot "$m" sh -c 'for p in /run/libvirtd.pid /run/virtlogd.pid; do
        [ -f "$p" ] && kill "$(cat "$p")"; done' 2>/dev/null || true
    sleep 1
    umount -R "$m" 2>/dev/null || umount -R -l "$m" || true
    rm -rf "$work"
    return $rc
}

case "${1:-}" in
    build) shift; build "$@" ;;
    run)
        shift
        [ "$(id -u)" = 0 ] || vp_die "running libvirt's daemons needs root"
        root=${1:?usage: $0 run ROOT COMMAND...}
        shift
        [ -x "$root/usr/sbin/libvirtd" ] ||
            vp_die "$root holds no libvirt (make libvirt-root)"
        exec unshare -m --propagation private "${BASH_SOURCE[0]}" \
            _inside "$(readlink -f "$root")" "$@" ;;
    _inside) shift; inside "$@" ;;
    *) vp_die "usage: $0 build FORK | run ROOT COMMAND..." ;;
esac
