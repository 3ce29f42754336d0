#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# guest-kit.sh OUTDIR: build the stock riscv64 guest kit from Debian packages:
#   OUTDIR/Image                     Debian's riscv64 kernel (trixie)
#   OUTDIR/kernel-version            its uname -r
#   OUTDIR/initrd.cpio.gz            busybox-static + tools/guest/init + modules
#   OUTDIR/opensbi-<ver>/fw_dynamic.bin   OpenSBI 1.5.1 (bpo) and trixie's
#   OUTDIR/kit.txt                   packages and versions used
# Packages are only fetched with "apt-get download" and unpacked with
# "dpkg-deb -x" into a cache; nothing is installed on the host.  The kit is
# built in OUTDIR.tmp and renamed into place, and is not rebuilt when the
# package versions, the init script and this script are unchanged.

set -euo pipefail

VP_TOOL=guest-kit
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -eq 1 ] && [ -n "$1" ] || vp_die "usage: $0 OUTDIR"
out=${1%/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
init_src=$here/guest/init
[ -f "$init_src" ] || vp_die "missing init script $init_src"

for tool in apt-cache apt-get dpkg-deb cpio gzip xz modinfo sha256sum; do
    command -v "$tool" >/dev/null 2>&1 || vp_die "host tool '$tool' not found"
done

cache=$VP_CACHE
debs=$VP_DEBS
mkdir -p "$VP_DEBS" "$VP_EXTRACT" ||
    vp_die "cannot create cache directory $cache"

# Serialise concurrent runs sharing a cache (e.g. parallel make).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$cache/.guest-kit.lock"
    flock 9
fi

# Modules wanted in the initramfs: these must exist, as module or built-in.
want_modules="nvme virtio_blk virtio_net virtio_scsi e1000e ext4"
# Included when they are modules; silently skipped when built-in or absent.
# virtio_pci and the generic ECAM host are not module dependencies of the
# drivers above but are needed for them to see any device.
opt_modules="sd_mod virtio_pci pci_host_generic rtc_goldfish"

# ---- resolve every input ----------------------------------------------------

vp_apt_query linux-image-riscv64:riscv64 busybox-static:riscv64 opensbi

# The kernel metapackage depends on the real, versioned image package.
vp_resolve linux-image-riscv64 riscv64 trixie
meta_ver=$VER
kpkg=
if [ -n "$(vp_apt_version linux-image-riscv64:riscv64 trixie)" ]; then
    kdep=$(apt-cache show "linux-image-riscv64:riscv64=$meta_ver" 2>/dev/null |
        sed -n 's/^Depends: *//p' | head -n 1 | tr ',|' '\n\n' |
        grep -m 1 '^ *linux-image-' || true)
    kpkg=$(printf '%s' "$kdep" | sed 's/^ *\([^ :(]*\).*/\1/')
    [ -n "$kpkg" ] ||
        vp_die "cannot find the image package" \
            "linux-image-riscv64:riscv64 $meta_ver depends on"
    printf '%s\n' "$kpkg" >"$debs/linux-image-riscv64@trixie.depends"
    printf '%s\n' "$meta_ver" >"$debs/linux-image-riscv64@trixie.version"
    case $kdep in
    *"(= "*")"*)
        # Exact version pinned by the metapackage: no need to ask apt again.
        v=${kdep#*(= }
        VP_MADISON+="$kpkg:riscv64 | ${v%%)*} | metapackage"
        VP_MADISON+=" trixie/main riscv64 Packages"$'\n'
        ;;
    *)
        vp_apt_query "$kpkg:riscv64"
        ;;
    esac
elif [ -s "$debs/linux-image-riscv64@trixie.depends" ]; then
    kpkg=$(cat "$debs/linux-image-riscv64@trixie.depends")
    vp_note "using cached kernel package name $kpkg"
else
    vp_die "cannot resolve linux-image-riscv64:riscv64 from trixie" \
        "and nothing cached"
fi

vp_fetch "$kpkg" riscv64 trixie
kver_pkg=$VER
kdeb=$DEB
vp_fetch busybox-static riscv64 trixie
bb_ver=$VER
bb_deb=$DEB
vp_fetch opensbi all bookworm-backports
sbi_old_ver=$VER
sbi_old_deb=$DEB
vp_fetch opensbi all trixie
sbi_new_ver=$VER
sbi_new_deb=$DEB

kit_txt=$(cat <<EOT
# virt-pcie guest kit: Debian packages used (package version release)
linux-image-riscv64:riscv64 $meta_ver trixie
$kpkg:riscv64 $kver_pkg trixie
busybox-static:riscv64 $bb_ver trixie
opensbi $sbi_old_ver bookworm-backports
opensbi $sbi_new_ver trixie
EOT
)

stamp=$( {
    printf '%s\n' "$kit_txt" "$want_modules" "$opt_modules"
    sha256sum <"$init_src"
    cat "${BASH_SOURCE[0]}" "$here/lib.sh" | sha256sum
} | sha256sum | cut -d' ' -f1)

if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp" ]; then
    echo "guest-kit: $out is up to date"
    exit 0
fi

# ---- build ------------------------------------------------------------------

tmpout=$out.tmp
rm -rf "$tmpout"
mkdir -p "$tmpout"
trap 'rm -rf "$tmpout"' EXIT

vp_unpack "$kpkg" "$kver_pkg" "$kdeb"
ktree=$TREE
vp_unpack busybox-static "$bb_ver" "$bb_deb"
bbtree=$TREE

# Kernel: /boot/vmlinux-<uname -r> is a bootable Image on riscv64.
set -- "$ktree"/boot/vmlinux-*
[ $# -eq 1 ] && [ -f "$1" ] ||
    vp_die "$kpkg: no single /boot/vmlinux-* in the package"
cp "$1" "$tmpout/Image"
kver=${1##*/vmlinux-}
printf '%s\n' "$kver" >"$tmpout/kernel-version"
moddir=
for d in "$ktree/usr/lib/modules/$kver" "$ktree/lib/modules/$kver"; do
    [ -d "$d/kernel" ] && { moddir=$d; break; }
done
[ -n "$moddir" ] || vp_die "$kpkg: no modules in /usr/lib/modules/$kver"

# OpenSBI generic fw_dynamic for each version.
for pair in "$sbi_old_ver $sbi_old_deb" "$sbi_new_ver $sbi_new_deb"; do
    v=${pair%% *}
    vp_unpack opensbi "$v" "${pair#* }"
    fw=$TREE/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin
    [ -f "$fw" ] || vp_die "opensbi $v: no $fw in the package"
    d=$tmpout/opensbi-$(vp_upstream_of "$v")
    mkdir -p "$d"
    cp "$fw" "$d/fw_dynamic.bin"
done

# Initramfs tree.
root=$tmpout/.root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys} \
    "$root"/{tmp,root,etc,mnt,lib/modules}
bb=
for f in "$bbtree/usr/bin/busybox" "$bbtree/bin/busybox"; do
    [ -x "$f" ] && { bb=$f; break; }
done
[ -n "$bb" ] || vp_die "busybox-static: no /usr/bin/busybox in the package"
cp "$bb" "$root/bin/busybox"
# /init needs /bin/sh; the other applets are linked by "busybox --install -s".
ln -s busybox "$root/bin/sh"
cp "$init_src" "$root/init"
chmod 755 "$root/init"

# Module name -> file in the package ("-" and "_" are the same to the kernel).
declare -A modfile=()
while IFS= read -r f; do
    n=${f##*/}
    n=${n%%.ko*}
    modfile[${n//-/_}]=$f
done < <(find "$moddir/kernel" -name '*.ko' -o -name '*.ko.xz' \
             -o -name '*.ko.zst' -o -name '*.ko.gz')

declare -A builtin=()
if [ -f "$moddir/modules.builtin" ]; then
    while IFS= read -r f; do
        n=${f##*/}
        n=${n%.ko}
        builtin[${n//-/_}]=1
    done <"$moddir/modules.builtin"
fi

declare -A seen=()
order=()

# Copy module $1 (decompressed) after its dependencies, recursively.
add_module()
{
    local m=${1//-/_} f dst d dep soft
    [ -n "$m" ] && [ -z "${seen[$m]:-}" ] || return 0
    seen[$m]=1
    f=${modfile[$m]:-}
    [ -n "$f" ] || return 0                    # built-in (or not provided)
    dst=$root/lib/modules/$m.ko
    case $f in
    *.ko.xz)  xz -dc "$f" >"$dst" ;;
    *.ko.zst) zstd -qdc "$f" >"$dst" ;;
    *.ko.gz)  gzip -dc "$f" >"$dst" ;;
    *)        cp "$f" "$dst" ;;
    esac || vp_die "$kpkg: cannot decompress module $f"
    dep=$(modinfo -F depends "$dst") || vp_die "modinfo failed on module $m"
    for d in ${dep//,/ }; do
        add_module "$d"
    done
    # "pre:" soft dependencies (e.g. crc32c for ext4) when they are modules.
    soft=$(modinfo -F softdep "$dst" 2>/dev/null || true)
    # Crypto soft dependencies are aliases: crypto-crc32c is crc32c or
    # crc32c_generic (modules.alias is not shipped, so guess these two).
    for d in $(printf '%s\n' "$soft" |
               awk '{ p = 0; for (i = 1; i <= NF; i++) {
                        if ($i == "pre:") p = 1; else if ($i == "post:") p = 0;
                        else if (p) print $i } }'); do
        d=${d#crypto-}
        for c in "${d//-/_}" "${d//-/_}_generic"; do
            if [ -n "${modfile[$c]:-}" ]; then
                add_module "$c"
                break
            fi
        done
    done
    order+=("$m")
}

for m in $want_modules; do
    k=${m//-/_}
    if [ -z "${modfile[$k]:-}" ] && [ -z "${builtin[$k]:-}" ]; then
        vp_die "$kpkg: module $m is neither a module file nor built in"
    fi
    add_module "$m"
done
for m in $opt_modules; do
    add_module "$m"
done
printf '%s\n' "${order[@]}" >"$root/lib/modules/load-order"

# newc cpio, root owned, stable order.
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
    cpio --quiet -o -H newc -R 0:0 --reproducible) |
    gzip -n -9 >"$tmpout/initrd.cpio.gz" ||
    vp_die "cannot create initrd.cpio.gz"
rm -rf "$root"

printf '%s\n' "$kit_txt" >"$tmpout/kit.txt"
printf 'modules %s\n' "${order[*]}" >>"$tmpout/kit.txt"
printf '%s\n' "$stamp" >"$tmpout/.stamp"

# Swap the finished kit into place.
if [ -e "$out" ]; then
    rm -rf "$out.old"
    mv "$out" "$out.old"
fi
mv "$tmpout" "$out"
trap - EXIT
rm -rf "$out.old"
echo "guest-kit: built $out (kernel $kver, modules: ${order[*]})"
