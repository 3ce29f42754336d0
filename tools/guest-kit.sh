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

die()
{
    echo "guest-kit: $*" >&2
    exit 1
}

note()
{
    echo "guest-kit: $*" >&2
}

[ $# -eq 1 ] && [ -n "$1" ] || die "usage: $0 OUTDIR"
out=${1%/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
init_src=$here/guest/init
[ -f "$init_src" ] || die "missing init script $init_src"

for tool in apt-cache apt-get dpkg-deb cpio gzip xz modinfo sha256sum; do
    command -v "$tool" >/dev/null 2>&1 || die "host tool '$tool' not found"
done

cache=${VP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/virt-pcie}
debs=$cache/debs
extract=$cache/extract
mkdir -p "$debs" "$extract" || die "cannot create cache directory $cache"

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

# apt-cache is slow here (no pkgcache.bin is kept), so query it once for
# several packages and look versions up in the saved output.
madison_out=
apt_query()
{
    madison_out+=$(apt-cache madison "$@" 2>/dev/null || true)$'\n'
}

# Version of package $1 in apt release $2 (e.g. trixie, bookworm-backports),
# from the apt indexes queried by apt_query; empty when they do not know it.
apt_version()
{
    printf '%s\n' "$madison_out" |
        awk -F'|' -v pkg="$1" -v rel=" $2/" '
            { name = $1; gsub(/[[:space:]]/, "", name) }
            name == pkg && index($3, rel) && $3 ~ /Packages[[:space:]]*$/ {
                gsub(/[[:space:]]/, "", $2); print $2; exit
            }'
}

# A file name friendly spelling of a Debian version (epoch colon).
fsver()
{
    printf '%s' "${1//:/%3a}"
}

# Upstream version: no epoch, no Debian revision.
upstream_version()
{
    local v=${1#*:}
    printf '%s' "${v%-*}"
}

# resolve NAME ARCH RELEASE: set VER to the version to use, from the apt
# indexes, else from the record left by an earlier run.
resolve()
{
    local name=$1 arch=$2 rel=$3 spec rec
    spec=$name
    [ "$arch" = all ] || spec=$name:$arch
    rec=$debs/$name@$rel.version
    VER=$(apt_version "$spec" "$rel")
    if [ -z "$VER" ]; then
        [ -s "$rec" ] ||
            die "cannot resolve $spec/$rel: not in the apt indexes and never cached in $debs"
        VER=$(cat "$rec")
        note "apt indexes do not list $spec/$rel; using cached version $VER"
    fi
}

# fetch NAME ARCH RELEASE: set VER and DEB (path of the cached .deb),
# downloading only when the .deb for that version is not cached yet.
fetch()
{
    local name=$1 arch=$2 rel=$3 spec rec tmp log old
    spec=$name
    [ "$arch" = all ] || spec=$name:$arch
    rec=$debs/$name@$rel.version
    resolve "$name" "$arch" "$rel"
    DEB=$debs/${name}_$(fsver "$VER")_$arch.deb
    if [ ! -s "$DEB" ]; then
        note "downloading $spec=$VER"
        tmp=$(mktemp -d "$debs/.dl.XXXXXX")
        if ! log=$(cd "$tmp" && apt-get download -q "$spec=$VER" 2>&1); then
            rm -rf "$tmp"
            old=
            [ -s "$rec" ] && old=$(cat "$rec")
            if [ -n "$old" ] && [ "$old" != "$VER" ] &&
               [ -s "$debs/${name}_$(fsver "$old")_$arch.deb" ]; then
                note "cannot download $spec/$rel $VER; using cached $old"
                VER=$old
                DEB=$debs/${name}_$(fsver "$VER")_$arch.deb
                return 0
            fi
            die "cannot download $spec/$rel ($VER) and no cached .deb in $debs: $(printf '%s\n' "$log" | grep -v '^$' | tail -n 3 | tr '\n' ' ')"
        fi
        set -- "$tmp"/*.deb
        [ $# -eq 1 ] && [ -s "$1" ] ||
            { rm -rf "$tmp"; die "apt-get download $spec=$VER produced no .deb"; }
        mv "$1" "$DEB"
        rm -rf "$tmp"
    fi
    printf '%s\n' "$VER" >"$rec.tmp" && mv "$rec.tmp" "$rec"
}

# unpack NAME VERSION DEB: set TREE to the extracted package tree.
unpack()
{
    local tmp
    TREE=$extract/$1_$(fsver "$2")
    [ -d "$TREE" ] && return 0
    tmp=$(mktemp -d "$extract/.x.XXXXXX")
    dpkg-deb -x "$3" "$tmp" || { rm -rf "$tmp"; die "cannot extract $3"; }
    mv "$tmp" "$TREE"
}

# ---- resolve every input ----------------------------------------------------

apt_query linux-image-riscv64:riscv64 busybox-static:riscv64 opensbi

# The kernel metapackage depends on the real, versioned image package.
resolve linux-image-riscv64 riscv64 trixie
meta_ver=$VER
kpkg=
if [ -n "$(apt_version linux-image-riscv64:riscv64 trixie)" ]; then
    kdep=$(apt-cache show "linux-image-riscv64:riscv64=$meta_ver" 2>/dev/null |
        sed -n 's/^Depends: *//p' | head -n 1 | tr ',|' '\n\n' |
        grep -m 1 '^ *linux-image-' || true)
    kpkg=$(printf '%s' "$kdep" | sed 's/^ *\([^ :(]*\).*/\1/')
    [ -n "$kpkg" ] ||
        die "cannot find the image package linux-image-riscv64:riscv64 $meta_ver depends on"
    printf '%s\n' "$kpkg" >"$debs/linux-image-riscv64@trixie.depends"
    printf '%s\n' "$meta_ver" >"$debs/linux-image-riscv64@trixie.version"
    case $kdep in
    *"(= "*")"*)
        # Exact version pinned by the metapackage: no need to ask apt again.
        v=${kdep#*(= }
        madison_out+="$kpkg:riscv64 | ${v%%)*} | metapackage trixie/main riscv64 Packages"$'\n'
        ;;
    *)
        apt_query "$kpkg:riscv64"
        ;;
    esac
elif [ -s "$debs/linux-image-riscv64@trixie.depends" ]; then
    kpkg=$(cat "$debs/linux-image-riscv64@trixie.depends")
    note "using cached kernel package name $kpkg"
else
    die "cannot resolve linux-image-riscv64:riscv64 from trixie and nothing cached"
fi

fetch "$kpkg" riscv64 trixie
kver_pkg=$VER
kdeb=$DEB
fetch busybox-static riscv64 trixie
bb_ver=$VER
bb_deb=$DEB
fetch opensbi all bookworm-backports
sbi_old_ver=$VER
sbi_old_deb=$DEB
fetch opensbi all trixie
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
    sha256sum <"${BASH_SOURCE[0]}"
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

unpack "$kpkg" "$kver_pkg" "$kdeb"
ktree=$TREE
unpack busybox-static "$bb_ver" "$bb_deb"
bbtree=$TREE

# Kernel: /boot/vmlinux-<uname -r> is a bootable Image on riscv64.
set -- "$ktree"/boot/vmlinux-*
[ $# -eq 1 ] && [ -f "$1" ] || die "$kpkg: no single /boot/vmlinux-* in the package"
cp "$1" "$tmpout/Image"
kver=${1##*/vmlinux-}
printf '%s\n' "$kver" >"$tmpout/kernel-version"
moddir=
for d in "$ktree/usr/lib/modules/$kver" "$ktree/lib/modules/$kver"; do
    [ -d "$d/kernel" ] && { moddir=$d; break; }
done
[ -n "$moddir" ] || die "$kpkg: no modules in /usr/lib/modules/$kver"

# OpenSBI generic fw_dynamic for each version.
for pair in "$sbi_old_ver $sbi_old_deb" "$sbi_new_ver $sbi_new_deb"; do
    v=${pair%% *}
    unpack opensbi "$v" "${pair#* }"
    fw=$TREE/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin
    [ -f "$fw" ] || die "opensbi $v: no $fw in the package"
    d=$tmpout/opensbi-$(upstream_version "$v")
    mkdir -p "$d"
    cp "$fw" "$d/fw_dynamic.bin"
done

# Initramfs tree.
root=$tmpout/.root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root,etc,mnt,lib/modules}
bb=
for f in "$bbtree/usr/bin/busybox" "$bbtree/bin/busybox"; do
    [ -x "$f" ] && { bb=$f; break; }
done
[ -n "$bb" ] || die "busybox-static: no /usr/bin/busybox in the package"
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
done < <(find "$moddir/kernel" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz')

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
    esac || die "$kpkg: cannot decompress module $f"
    dep=$(modinfo -F depends "$dst") || die "modinfo failed on module $m"
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
        die "$kpkg: module $m is neither a module file nor built in"
    fi
    add_module "$m"
done
for m in $opt_modules; do
    add_module "$m"
done
printf '%s\n' "${order[@]}" >"$root/lib/modules/load-order"

# newc cpio, root owned, stable order.
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
    cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -n -9 >"$tmpout/initrd.cpio.gz" ||
    die "cannot create initrd.cpio.gz"
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
