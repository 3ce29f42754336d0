#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# disk-image.sh [BUILDDIR]: a Debian trixie riscv64 disk image, shaped like
# an installed system or a cloud image, made from Debian packages only, and
# Debian's stock EDK2 for upstream virt:
#   BUILDDIR/disk/debian.img   link to the image in $VP_CACHE/disk/<key>/:
#                              raw, sparse, 2690 MiB, GPT with
#                              1: EFI system partition, FAT32, 128 MiB, with
#                                 Debian's GRUB as EFI/BOOT/BOOTRISCV64.EFI
#                              2: ext4 root, label vp-root, 2560 MiB
#   BUILDDIR/disk/debian.txt   link to its description: partition offsets,
#                              UUIDs, kernel, command line, package versions
#   BUILDDIR/firmware/stock/RISCV_VIRT_CODE.fd, RISCV_VIRT_VARS.fd
#                              qemu-efi-riscv64 (trixie), firmware.txt
# The cached image is never written again: boot it through an overlay
# (qemu-img create -f qcow2 -F raw -b .../debian.img).
#
# debootstrap's first stage runs on the host (--foreign); its second stage,
# the kernel's initramfs, grub-install and update-grub run inside QEMU
# (upstream virt by default, VP_IMAGE_QEMU and VP_IMAGE_MACHINE change it)
# with the guest kit's kernel and initramfs (make kit), whose init runs the
# command after " -- " and powers off.
#
# The key of the image is this script, the debootstrap version and the
# trixie riscv64 versions of the packages asked for (the apt indexes of the
# host, see tools/apt-sources.sh); a run with a cached image takes seconds.
# The image is built in <key>.tmp and renamed into place.
#
# The root password is empty (for the serial console); ssh takes keys only.
# Root's authorized_keys comes from a file system labelled vp-seed with a
# file authorized_keys at its top (any disk, any bus; installed by the unit
# vp-seed.service when the disk appears), from the systemd credential
# ssh.authorized_keys.root (e.g. -smbios type=11 on virt with EDK2), or is
# written into a raw copy of the image with debugfs at the root offset.

set -euo pipefail

VP_TOOL=disk-image
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -le 1 ] || vp_die "usage: $0 [BUILDDIR]"
build=${1:-$VP_BUILD}
build=${build%/}
kit=$build/guest
qemu=${VP_IMAGE_QEMU:-$build/upstream/qemu-system-riscv64}
machine=${VP_IMAGE_MACHINE:-virt,aia=aplic-imsic}
# Stage 2 takes 15 to 25 minutes here; a hung guest is stopped after this.
stage_timeout=${VP_IMAGE_TIMEOUT:-5400}

for tool in debootstrap sfdisk mkfs.fat mke2fs e2fsck debugfs dpkg-query \
            sha256sum flock timeout truncate; do
    command -v "$tool" >/dev/null 2>&1 ||
        vp_die "host tool '$tool' not found (tools/deps.sh installs it)"
done

suite=trixie
# The packages asked for; debootstrap (variant minbase) adds what they
# depend on.  Their versions are part of the key.
pkgs=(systemd systemd-sysv udev dbus systemd-resolved openssh-server
      linux-image-riscv64 initramfs-tools grub-efi-riscv64 e2fsprogs
      dosfstools iproute2 efibootmgr)
hostname=vp-debian
root_label=vp-root
seed_label=vp-seed
# Layout, in MiB: GPT, ESP, root, room for the backup GPT.
esp_start=1
esp_mib=128
root_start=$((esp_start + esp_mib))
root_mib=2560
disk_mib=$((root_start + root_mib + 1))
esp_off=$((esp_start * 1048576))
root_off=$((root_start * 1048576))
# GPT partition types: EFI system; Linux root (RISC-V 64-bit), as the
# Discoverable Partitions Specification names it.
esp_type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B
root_type=72EC70A6-CF74-40E6-BD49-4BDA08E8F224

mkdir -p "$VP_DEBS" "$VP_EXTRACT" "$VP_CACHE/disk" ||
    vp_die "cannot create the cache directories below $VP_CACHE"

# ---- Debian's EDK2 for upstream virt ----------------------------------------

# (madison names riscv64 packages PACKAGE:riscv64, "all" ones PACKAGE)
vp_apt_query qemu-efi-riscv64 "${pkgs[@]}" "${pkgs[@]/%/:riscv64}"

# trixie's; if the archive does not serve it, sid's, forky's or
# trixie-backports'; with no archive, the one fetched before.
fw_cands=
v=$(vp_apt_version qemu-efi-riscv64 trixie)
[ -z "$v" ] || fw_cands="$v trixie"
if [ -z "$v" ] || ! vp_download qemu-efi-riscv64 all "$v" trixie; then
    vp_apt_setup
    vp_apt_query_private qemu-efi-riscv64
    fw_cands+=$'\n'$(vp_apt_versions qemu-efi-riscv64 $VP_APT_SUITES)
fi
vp_fetch_first qemu-efi-riscv64 all qemu-efi-riscv64@stock.record \
    "(trixie, else $VP_APT_SUITES)" "$fw_cands"
vp_unpack qemu-efi-riscv64 "$VER" "$DEB"
fwdir=$build/firmware/stock
mkdir -p "$fwdir" || vp_die "cannot create $fwdir"
for f in RISCV_VIRT_CODE.fd RISCV_VIRT_VARS.fd; do
    [ -f "$TREE/usr/share/qemu-efi-riscv64/$f" ] ||
        vp_die "qemu-efi-riscv64 $VER has no usr/share/qemu-efi-riscv64/$f"
    install -C -m 0644 "$TREE/usr/share/qemu-efi-riscv64/$f" "$fwdir/$f" ||
        vp_die "cannot copy $f to $fwdir"
done
fw_txt="qemu-efi-riscv64 $VER $REL"
[ "$(cat "$fwdir/firmware.txt" 2>/dev/null)" = "$fw_txt" ] ||
    printf '%s\n' "$fw_txt" >"$fwdir/firmware.txt"

# ---- the key ----------------------------------------------------------------

ds_ver=$(dpkg-query -W -f='${Version}' debootstrap 2>/dev/null) ||
    vp_die "debootstrap is not installed as a package (tools/deps.sh)"
want_txt=
missing=
for p in "${pkgs[@]}"; do
    v=$(vp_apt_version "$p:riscv64" "$suite")
    [ -n "$v" ] || v=$(vp_apt_version "$p" "$suite")
    [ -n "$v" ] || missing+=" $p"
    want_txt+="$p $v"$'\n'
done
self_sum=$(sha256sum <"${BASH_SOURCE[0]}" | cut -d' ' -f1)
last=$VP_CACHE/disk/last
if [ -n "$missing" ]; then
    # No indexes (or no archive): the image built last, if there is one.
    [ -s "$last" ] && [ -f "$VP_CACHE/disk/$(cat "$last")/debian.img" ] ||
        vp_die "the $suite riscv64 apt indexes do not list:$missing" \
            "(run tools/apt-sources.sh) and no image was built before"
    key=$(cat "$last")
    vp_warn "the $suite riscv64 apt indexes do not list:$missing;" \
        "using the image built last ($key)"
else
    key=$( {
        printf '%s' "$want_txt"
        echo "debootstrap $ds_ver"
        echo "script $self_sum"
    } | sha256sum | cut -c 1-16)
fi
dir=$VP_CACHE/disk/$key

# link_image: BUILDDIR/disk/debian.{img,txt} -> the cached image.
link_image()
{
    mkdir -p "$build/disk" || vp_die "cannot create $build/disk"
    ln -sfn "$dir/debian.img" "$build/disk/debian.img"
    ln -sfn "$dir/debian.txt" "$build/disk/debian.txt"
    printf '%s\n' "$key" >"$last.tmp" && mv "$last.tmp" "$last"
}

if [ -f "$dir/debian.img" ] && [ -f "$dir/debian.txt" ]; then
    link_image
    vp_say "$build/disk/debian.img is up to date ($dir)"
    exit 0
fi

# Serialise builds sharing the cache; another one may have just made it.
exec 9>"$VP_CACHE/.disk-image.lock"
flock 9
if [ -f "$dir/debian.img" ] && [ -f "$dir/debian.txt" ]; then
    link_image
    vp_say "$build/disk/debian.img is up to date ($dir)"
    exit 0
fi

# ---- build ------------------------------------------------------------------

[ "$(id -u)" = 0 ] ||
    vp_die "building $dir needs root (debootstrap makes device nodes" \
        "and root-owned files)"
for f in "$qemu" "$kit/Image" "$kit/initrd.cpio.gz" \
         "$kit/opensbi-1.6/fw_dynamic.bin"; do
    [ -s "$f" ] || vp_die "missing $f (make upstream kit)"
done
mirror=$(vp_debian_mirror /etc/apt/sources.list.d/virt-pcie.sources) ||
    true
[ -n "$mirror" ] ||
    vp_die "no Debian archive entry in /etc/apt to run debootstrap with"

t0=$(date +%s)
tmp=$dir.tmp
rm -rf "$tmp"
mkdir -p "$tmp" || vp_die "cannot create $tmp"
# The log outlives a failed build; VP_IMAGE_KEEP=1 keeps all of it.
log=$VP_CACHE/disk/build-$key.log
: >"$log"
if [ -z "${VP_IMAGE_KEEP:-}" ]; then
    trap 'rm -rf "$tmp"' EXIT
fi
root=$tmp/root
img=$tmp/debian.img

# uuid_of WORD: a UUID (version 4 form) derived from the key and WORD, so
# that an image is named the same each time it is built from one key.
uuid_of()
{
    local h
    h=$(printf '%s %s' "$key" "$1" | sha256sum)
    echo "${h:0:8}-${h:8:4}-4${h:13:3}-8${h:17:3}-${h:20:12}"
}
root_uuid=$(uuid_of root)
esp_id=$(printf '%s esp' "$key" | sha256sum | cut -c 1-8)
esp_uuid=$(echo "${esp_id:0:4}-${esp_id:4:4}" | tr a-f A-F)

vp_note "debootstrap --foreign $suite riscv64 (log: $log)"
mkdir -p "$VP_CACHE/debootstrap" || vp_die "cannot create the .deb cache"
include=$(IFS=,; echo "${pkgs[*]}")
debootstrap --foreign --arch=riscv64 --variant=minbase \
    --include="$include" --cache-dir="$VP_CACHE/debootstrap" \
    "$suite" "$root" "$mirror" >>"$log" 2>&1 ||
    { tail -n 15 "$log" >&2; vp_die "debootstrap $suite (first stage) failed"; }

# What debootstrap took (package version), against what the key says.
got_txt=$(sed -n 's|.*/\([^_/]*\)_\([^_]*\)_[^_]*\.deb$|\1 \2|p' \
          "$root/debootstrap/debpaths" | sed 's/%3a/:/')
for p in "${pkgs[@]}"; do
    v=$(awk -v p="$p" '$1 == p { print $2 }' <<<"$got_txt")
    [ -n "$v" ] || vp_die "debootstrap did not take $p"
    w=$(awk -v p="$p" '$1 == p { print $2 }' <<<"$want_txt")
    [ "$v" = "$w" ] ||
        vp_warn "debootstrap took $p $v, the apt indexes list $w" \
            "(stale indexes? VP_APT_UPDATE=1 tools/apt-sources.sh)"
done

# ---- the system's configuration ---------------------------------------------

# (first stage copied the host's hostname and resolv.conf)
rm -f "$root/etc/resolv.conf"
echo "$hostname" >"$root/etc/hostname"
# (tab-separated, as Debian writes them)
printf '%s\t%s\n' 127.0.0.1 localhost 127.0.1.1 "$hostname" \
    >"$root/etc/hosts"
printf '%s\t\t%s\n' ::1 'localhost ip6-localhost ip6-loopback' \
    >>"$root/etc/hosts"
{
    printf '# %s\t%s\t%s\t%s\t%s\t%s\n' '<file system>' '<mount point>' \
        '<type>' '<options>' '<dump>' '<pass>'
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "UUID=$root_uuid" / ext4 \
        errors=remount-ro 0 1
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "UUID=$esp_uuid" /boot/efi vfat \
        umask=0077,nofail 0 2
} >"$root/etc/fstab"

mkdir -p "$root/etc/systemd/network"
cat >"$root/etc/systemd/network/20-vp-wired.network" <<'EOT'
# virt-pcie image: DHCP on every wired NIC (user networking's 10.0.2.x).
[Match]
Name=en* eth*

[Network]
DHCP=yes
EOT

mkdir -p "$root/etc/default/grub.d"
cat >"$root/etc/default/grub.d/virt-pcie.cfg" <<'EOT'
# virt-pcie image: a short menu, on the firmware's console (the serial
# port), and a kernel command line without "quiet" and without console=:
# Linux takes its console from the device tree (/chosen/stdout-path).
GRUB_TIMEOUT=1
GRUB_TIMEOUT_STYLE=menu
GRUB_TERMINAL=console
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_DISABLE_OS_PROBER=true
EOT

# The vp-seed disk: root's ssh keys.
mkdir -p "$root/usr/local/sbin"
cat >"$root/usr/local/sbin/vp-seed" <<'EOT'
#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# vp-seed DEVICE: add the keys of DEVICE's file authorized_keys to root's
# ~/.ssh/authorized_keys (run by vp-seed.service when a file system
# labelled vp-seed appears).
set -eu
mnt=$(mktemp -d)
mount -o ro "$1" "$mnt"
trap 'umount "$mnt"; rmdir "$mnt"' EXIT
[ -f "$mnt/authorized_keys" ] || {
    echo "vp-seed: $1 has no authorized_keys" >&2
    exit 0
}
install -d -m 0700 /root/.ssh
touch /root/.ssh/authorized_keys
chmod 0600 /root/.ssh/authorized_keys
while IFS= read -r line; do
    [ -n "$line" ] || continue
    grep -qxF -- "$line" /root/.ssh/authorized_keys ||
        printf '%s\n' "$line" >>/root/.ssh/authorized_keys
done <"$mnt/authorized_keys"
echo "vp-seed: root's authorized_keys from $1"
EOT
chmod 0755 "$root/usr/local/sbin/vp-seed"
dev_unit='dev-disk-by\x2dlabel-vp\x2dseed.device'
cat >"$root/etc/systemd/system/vp-seed.service" <<EOT
# virt-pcie image: root's ssh keys from a disk labelled $seed_label.
[Unit]
Description=Root's ssh keys from the $seed_label disk
BindsTo=$dev_unit
After=$dev_unit
Before=ssh.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/vp-seed /dev/disk/by-label/$seed_label

[Install]
WantedBy=$dev_unit
EOT

# Faster dpkg under emulation (no fsync); removed at the end.
echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/virt-pcie-build"

# Stage 2, run by the guest kit's init with the root file system on /mnt
# (busybox sh), and its part inside the chroot (the image's own dash).
cat >"$root/root/vp-stage2" <<'EOT'
#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# tools/disk-image.sh stage 2 (guest kit side): vp-stage2 ROOT-UUID
set -e
r=/mnt
export HOME=/root LC_ALL=C DEBIAN_FRONTEND=noninteractive
echo "VP-STAGE: debootstrap second stage"
if ! chroot $r /debootstrap/debootstrap --second-stage; then
    tail -n 40 $r/debootstrap/debootstrap.log
    exit 1
fi
echo "VP-STAGE: configuration"
mount -t proc proc $r/proc
mount -t sysfs sysfs $r/sys
mount -o bind /dev $r/dev
mount -t devpts devpts $r/dev/pts
mount -t tmpfs tmpfs $r/run
mkdir -p $r/boot/efi
mount -t vfat /dev/vda1 $r/boot/efi
# What udev would make: update-grub then writes root=UUID=, not /dev/vda2.
mkdir -p /dev/disk/by-uuid
ln -sf ../../vda2 "/dev/disk/by-uuid/$1"
chroot $r /bin/sh /root/vp-setup "$1"
echo "VP-STAGE: trim"
chroot $r fstrim -v /boot/efi || true
chroot $r fstrim -v / || true
rm -f $r/root/vp-stage2
# Everything mounted below $r (debootstrap may leave some), deepest first.
for m in $(awk -v r=$r '$2 ~ "^" r "/" { print $2 }' /proc/mounts |
           sort -r); do
    umount $m
done
umount $r
sync
echo "VP-STAGE: done"
EOT
cat >"$root/root/vp-setup" <<'EOT'
#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# tools/disk-image.sh stage 2 (chroot side): vp-setup ROOT-UUID
set -e
ls /boot/initrd.img-* >/dev/null 2>&1 || {
    echo "VP-STAGE: update-initramfs"
    update-initramfs -c -k all
}
passwd -d root
systemctl enable systemd-networkd.service vp-seed.service
echo "VP-STAGE: grub-install"
grub-install --target=riscv64-efi --efi-directory=/boot/efi \
    --removable --no-nvram
test -s /boot/efi/EFI/BOOT/BOOTRISCV64.EFI
echo "VP-STAGE: update-grub"
update-grub
grep -q "root=UUID=$1 " /boot/grub/grub.cfg
apt-get clean
rm -f /etc/dpkg/dpkg.cfg.d/virt-pcie-build /root/vp-setup
ls -l /boot /boot/efi/EFI/BOOT
EOT

# ---- the disk ---------------------------------------------------------------

vp_note "partitions and file systems"
truncate -s "${disk_mib}M" "$img" || vp_die "cannot create $img"
p1="start=$((esp_start * 2048)), size=$((esp_mib * 2048)), type=$esp_type"
p2="start=$((root_start * 2048)), size=$((root_mib * 2048)), type=$root_type"
printf 'label: gpt\n%s, name="ESP"\n%s, name="%s"\n' \
    "$p1" "$p2" "$root_label" | sfdisk -q "$img" >>"$log" 2>&1 ||
    vp_die "sfdisk could not partition $img"
mkfs.fat -F 32 -n ESP -i "$esp_id" -C "$tmp/esp.img" $((esp_mib * 1024)) \
    >>"$log" 2>&1 || vp_die "mkfs.fat could not make $tmp/esp.img"
dd if="$tmp/esp.img" of="$img" bs=1M seek="$esp_start" conv=notrunc,sparse \
    status=none || vp_die "cannot write the ESP into $img"
rm -f "$tmp/esp.img"
mke2fs -q -t ext4 -L "$root_label" -U "$root_uuid" -d "$root" \
    -E offset="$root_off" "$img" "${root_mib}M" >>"$log" 2>&1 ||
    vp_die "mke2fs could not make the root file system in $img"
rm -rf "$root"

# ---- stage 2, in QEMU -------------------------------------------------------

vp_note "stage 2 in QEMU ($machine, 15-25 minutes; log: $log)"
console=$tmp/stage2.log
: >"$console"
# The kit's init runs the words after " -- ".  The script is run from the
# initramfs, so that nothing holds the root file system when it unmounts it.
append="panic=-1 -- mount -t ext4 /dev/vda2 /mnt &&"
append+=" cp /mnt/root/vp-stage2 /tmp/ && sh /tmp/vp-stage2 $root_uuid"
timeout "$stage_timeout" "$qemu" -M "$machine" -smp 2 -m 2G \
    -display none -monitor none -serial "file:$console" -nic none \
    -no-reboot -bios "$kit/opensbi-1.6/fw_dynamic.bin" \
    -kernel "$kit/Image" -initrd "$kit/initrd.cpio.gz" \
    -append "$append" \
    -drive "if=none,id=d,format=raw,file=$img,cache=unsafe,discard=unmap" \
    -device virtio-blk-pci,drive=d </dev/null >>"$log" 2>&1 &
qpid=$!
t1=$(date +%s)
seen=0
while kill -0 "$qpid" 2>/dev/null; do
    sleep 5
    n=$(grep -c '^VP-STAGE:' "$console" || true)
    if [ "$n" -gt "$seen" ]; then
        grep '^VP-STAGE:' "$console" | tail -n +$((seen + 1)) | tr -d '\r' |
            sed "s/^VP-STAGE:\(.*\)/$VP_TOOL: stage 2:\1 (at $((
                $(date +%s) - t1)) s)/" >&2
        seen=$n
    fi
done
rc=0
wait "$qpid" || rc=$?
cat "$console" >>"$log"
if ! grep -q '^VP-CMD-RC=0' "$console"; then
    tail -n 30 "$console" >&2
    [ "$rc" != 124 ] || vp_die "stage 2 did not end in ${stage_timeout}s"
    vp_die "stage 2 in QEMU failed (QEMU exit $rc; log: $log)"
fi

# ---- check and describe -----------------------------------------------------

rootfs="$img?offset=$root_off"
e2fsck -fn "$rootfs" >>"$log" 2>&1 ||
    vp_die "e2fsck finds errors in the root file system of $img"
grub_cfg=$(debugfs -R 'cat /boot/grub/grub.cfg' "$rootfs" 2>/dev/null)
cmdline=$(awk '$1 == "linux" { $1 = ""; $2 = ""; sub(/^ */, ""); print;
                               exit }' <<<"$grub_cfg")
case " $cmdline " in
*" root=UUID=$root_uuid "*) ;;
*) vp_die "grub.cfg's first kernel command line is '$cmdline':" \
       "no root=UUID=$root_uuid" ;;
esac
case " $cmdline " in
*" quiet "* | *" console="*) vp_die "grub.cfg's kernel command line" \
    "'$cmdline' has quiet or console=" ;;
esac
kver=$(debugfs -R 'ls -p /usr/lib/modules' "$rootfs" 2>/dev/null |
       awk -F/ '$6 ~ /-riscv64$/ { print $6; exit }')
[ -n "$kver" ] || vp_die "no kernel modules in the image"
status=$(debugfs -R 'cat /var/lib/dpkg/status' "$rootfs" 2>/dev/null)
inst=$(awk '/^Package:/ { p = $2 } /^Version:/ { print p, $2 }' \
       <<<"$status")
npkg=$(wc -l <<<"$inst")

{
    echo "# virt-pcie Debian $suite riscv64 disk image (tools/disk-image.sh)"
    echo "# Boot it through an overlay; never write to debian.img."
    echo "key $key"
    echo "size $((disk_mib * 1048576))"
    echo "esp-offset $esp_off"
    echo "esp-size $((esp_mib * 1048576))"
    echo "esp-uuid $esp_uuid"
    echo "root-offset $root_off"
    echo "root-size $((root_mib * 1048576))"
    echo "root-uuid $root_uuid"
    echo "root-label $root_label"
    echo "seed-label $seed_label"
    echo "hostname $hostname"
    echo "kernel $kver"
    echo "cmdline $cmdline"
    echo "debootstrap $ds_ver"
    echo "packages $npkg"
    echo "# the packages asked for, as installed: package version"
    for p in "${pkgs[@]}" "linux-image-$kver"; do
        awk -v p="$p" '$1 == p { print "pkg", $0 }' <<<"$inst"
    done
    echo "# stock firmware (build/firmware/stock): $fw_txt"
} >"$tmp/debian.txt"
mv "$log" "$tmp/build.log"
rm -f "$console"
log=$tmp/build.log
chmod a-w "$img"

rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
link_image
# Keep this image and the one before; each holds about 1 GiB.
ls -1dt "$VP_CACHE"/disk/*/ 2>/dev/null | tail -n +3 | while read -r d; do
    case $d in
    */"$key"/ | *.tmp/) ;;
    *) rm -rf "$d" ;;
    esac
done
vp_say "built $build/disk/debian.img (kernel $kver, $npkg packages," \
    "$(( $(date +%s) - t0 )) s): $dir"
