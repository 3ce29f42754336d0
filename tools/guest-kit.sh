#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# guest-kit.sh OUTDIR: build the stock riscv64 guest kit from Debian packages:
#   OUTDIR/Image                     Debian's riscv64 kernel (trixie, 6.12)
#   OUTDIR/kernel-version            its uname -r
#   OUTDIR/initrd.cpio.gz            busybox-static + tools/guest/init + modules
#   OUTDIR/new/Image, new/kernel-version, new/initrd.cpio.gz
#                                    the same for the newest riscv64 kernel
#                                    that sid, forky or trixie-backports
#                                    serve (7.2 today), with its own modules
#   OUTDIR/opensbi-<ver>/fw_dynamic.bin   OpenSBI 1.5.1 (bookworm-backports),
#                                    trixie's (1.6) and 1.9 (sid or forky;
#                                    its directory is named by the series)
#   OUTDIR/kit.txt                   packages and versions used
# Packages are only fetched with "apt-get download" and unpacked with
# "dpkg-deb -x" into a cache; nothing is installed on the host.  sid, forky
# and trixie-backports are read through the private apt configuration of
# vp_apt_setup (tools/lib.sh).  A listed version whose .deb the archive
# does not serve is skipped for the next one; kit.txt names what was used
# and what was skipped.  The kit is built in OUTDIR.tmp and renamed into
# place, and is not rebuilt when the package versions, the init script and
# this script are unchanged.

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
# drivers above but are needed for them to see any device. The display
# drivers (virtio-gpu-pci, bochs-display) and virtio input devices show
# the console on a display and take its keyboard. vfat and its code pages
# mount an EFI system partition (tools/disk-image.sh).
opt_modules="sd_mod virtio_pci pci_host_generic rtc_goldfish"
opt_modules="$opt_modules virtio_gpu bochs virtio_input"
opt_modules="$opt_modules vfat nls_cp437 nls_ascii nls_utf8"

# ---- resolve every input ----------------------------------------------------

vp_apt_query linux-image-riscv64:riscv64 busybox-static:riscv64 opensbi

# The kernel metapackage depends on the real, versioned image package.
vp_resolve linux-image-riscv64 riscv64 trixie
meta_ver=$VER
kpkg=
if [ -n "$(vp_apt_version linux-image-riscv64:riscv64 trixie)" ]; then
    kdep=$(vp_apt_memo apt-cache show "linux-image-riscv64:riscv64=$meta_ver" |
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

# ---- the newer kernel and OpenSBI, from sid, forky and trixie-backports -----

# The OpenSBI series wanted from there (OUTDIR/opensbi-<series>).
sbi_series=1.9

vp_apt_setup
vp_apt_query_private linux-image-riscv64:riscv64 opensbi

# pinned_deps SPEC=VERSION RELEASE: "name version" of each dependency of
# that package that is pinned with "(= version)"; first alternatives only.
pinned_deps()
{
    vp_apt_run "$2" apt-cache show "$1" 2>/dev/null </dev/null |
        sed -n 's/^Depends: *//p' | head -n 1 | tr ',' '\n' |
        sed -e 's/|.*//' |
        sed -n 's/^ *\([^ :(]*\)\(:[^ (]*\)\{0,1\} *(= *\([^ )]*\) *).*/\1 \3/p'
}

# kernel_parts VERSION RELEASE: set PARTS to the packages, "name version"
# lines, of linux-image-riscv64 VERSION; empty when apt cannot tell.  The
# metapackage pins linux-image-<abi>-riscv64.  Since 7.x that package is
# empty and pins linux-binary-<abi> (the Image), linux-modules-<abi> and
# linux-base-<abi> (modules.builtin); before, it held all of them.
kernel_parts()
{
    local img iv
    PARTS=
    read -r img iv < <(pinned_deps "linux-image-riscv64:riscv64=$1" "$2" |
                       grep '^linux-image-') || return 0
    PARTS=$(pinned_deps "$img:riscv64=$iv" "$2" |
            grep -E '^linux-(binary|modules|base)-' || true)
    [ -n "$PARTS" ] || PARTS="$img $iv"
}

# The newest linux-image-riscv64 whose packages are all served.
knew_rec=$debs/linux-image-riscv64@new.record
knew_txt=
why=
while read -r mv rel; do
    [ -n "$mv" ] || continue
    kernel_parts "$mv" "$rel"
    if [ -z "$PARTS" ]; then
        why+=" linux-image-riscv64:riscv64 $mv ($rel): no image package;"
        continue
    fi
    txt="linux-image-riscv64:riscv64 $mv $rel"
    while read -r p v; do
        if ! vp_download "$p" riscv64 "$v" "$rel"; then
            vp_note "not served: $p:riscv64 $v ($rel): $VP_DL_ERROR"
            VP_SKIPPED+="$p:riscv64 $v $rel: $VP_DL_ERROR"$'\n'
            why+=" $p:riscv64 $v ($rel): $VP_DL_ERROR;"
            txt=
            break
        fi
        txt+=$'\n'"$p:riscv64 $v $rel"
    done <<<"$PARTS"
    if [ -n "$txt" ]; then
        knew_txt=$txt
        printf '%s\n' "$knew_txt" >"$knew_rec.tmp" &&
            mv "$knew_rec.tmp" "$knew_rec"
        break
    fi
done <<<"$(vp_apt_versions linux-image-riscv64:riscv64 $VP_APT_SUITES)"

if [ -z "$knew_txt" ] && [ -s "$knew_rec" ]; then
    # Nothing served now (or no indexes): the kernel fetched before.
    knew_txt=$(cat "$knew_rec")
    while read -r p v rel; do
        case $p in
        linux-image-riscv64:*) continue ;;
        esac
        if ! vp_download "${p%:riscv64}" riscv64 "$v" "$rel"; then
            knew_txt=
            break
        fi
    done <<<"$knew_txt"
    [ -z "$knew_txt" ] ||
        vp_note "using the kernel fetched before: $(head -n 1 "$knew_rec")"
fi
[ -n "$knew_txt" ] ||
    vp_die "cannot fetch linux-image-riscv64:riscv64 from" \
        "$VP_APT_SUITES:${why:- not listed;} none cached in $debs"

# OpenSBI: the newest 1.9.x listed, else another suite's.
sbi_cands=$(vp_apt_versions opensbi $VP_APT_SUITES |
    while read -r v r; do
        if [ "$(vp_series_of "$(vp_upstream_of "$v")")" = "$sbi_series" ]; then
            echo "$v $r"
        fi
    done)
vp_fetch_first opensbi all "opensbi@$sbi_series.record" \
    "$sbi_series.x from $VP_APT_SUITES" "$sbi_cands"
sbi_next_ver=$VER
sbi_next_rel=$REL
sbi_next_deb=$DEB

kit_txt=$(cat <<EOT
# virt-pcie guest kit: Debian packages used (package version release)
linux-image-riscv64:riscv64 $meta_ver trixie
$kpkg:riscv64 $kver_pkg trixie
busybox-static:riscv64 $bb_ver trixie
opensbi $sbi_old_ver bookworm-backports
opensbi $sbi_new_ver trixie
opensbi $sbi_next_ver $sbi_next_rel
# new/: the newest riscv64 kernel served by $VP_APT_SUITES
$knew_txt
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

vp_unpack busybox-static "$bb_ver" "$bb_deb"
bbtree=$TREE
bb=
for f in "$bbtree/usr/bin/busybox" "$bbtree/bin/busybox"; do
    [ -x "$f" ] && { bb=$f; break; }
done
[ -n "$bb" ] || vp_die "busybox-static: no /usr/bin/busybox in the package"

# opensbi_kit VERSION DEB NAME: OpenSBI's generic fw_dynamic.bin as
# OUTDIR/opensbi-NAME/fw_dynamic.bin.
opensbi_kit()
{
    local fw
    vp_unpack opensbi "$1" "$2"
    fw=$TREE/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin
    [ -f "$fw" ] || vp_die "opensbi $1: no $fw in the package"
    mkdir -p "$tmpout/opensbi-$3"
    cp "$fw" "$tmpout/opensbi-$3/fw_dynamic.bin"
}
opensbi_kit "$sbi_old_ver" "$sbi_old_deb" "$(vp_upstream_of "$sbi_old_ver")"
opensbi_kit "$sbi_new_ver" "$sbi_new_deb" "$(vp_upstream_of "$sbi_new_ver")"
# 1.9 by its series, whichever 1.9.x it is.
opensbi_kit "$sbi_next_ver" "$sbi_next_deb" "$sbi_series"

# kernel_kit DEST WHAT TREE...: DEST/Image, DEST/kernel-version and
# DEST/initrd.cpio.gz (busybox, the init script and the kernel's modules)
# from the kernel in the unpacked package TREEs, the packages WHAT names.
# The Image is /boot/vmlinux-<uname -r> before 7.x and
# /usr/lib/modules/<uname -r>/vmlinuz since: a bootable, uncompressed
# RISC-V Image (with a PE header) either way.
kernel_kit()
{
    local dest=$1 what=$2 t d f n m k kver moddir='' builtin='' root magic
    shift 2
    local -a imgs=()
    local -A modfile=() builtin_mod=() seen=()
    order=()
    for t in "$@"; do
        for f in "$t"/boot/vmlinux-* "$t"/usr/lib/modules/*/vmlinuz; do
            [ -f "$f" ] && imgs+=("$f")
        done
    done
    [ ${#imgs[@]} -eq 1 ] ||
        vp_die "$what: not one kernel image (/boot/vmlinux-* or" \
            "/usr/lib/modules/*/vmlinuz) but ${#imgs[@]}"
    f=${imgs[0]}
    case $f in
    */vmlinuz) kver=${f%/vmlinuz}; kver=${kver##*/} ;;
    *)         kver=${f##*/vmlinux-} ;;
    esac
    magic=$(dd if="$f" bs=4 skip=14 count=1 2>/dev/null | od -An -c |
            tr -d ' ')
    [ "$magic" = 'RSC005' ] ||
        vp_die "$what: $f is not a RISC-V Image (no RSC\\x05 magic)"
    mkdir -p "$dest"
    cp "$f" "$dest/Image"
    printf '%s\n' "$kver" >"$dest/kernel-version"
    for t in "$@"; do
        for d in "$t/usr/lib/modules/$kver" "$t/lib/modules/$kver"; do
            [ -z "$moddir" ] && [ -d "$d/kernel" ] && moddir=$d
            [ -z "$builtin" ] && [ -f "$d/modules.builtin" ] &&
                builtin=$d/modules.builtin
        done
    done
    [ -n "$moddir" ] || vp_die "$what: no modules in /usr/lib/modules/$kver"

    # Initramfs tree.
    root=$dest/.root
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys} \
        "$root"/{tmp,root,etc,mnt,lib/modules}
    cp "$bb" "$root/bin/busybox"
    # /init needs /bin/sh; the other applets are linked by "busybox
    # --install -s".
    ln -s busybox "$root/bin/sh"
    cp "$init_src" "$root/init"
    chmod 755 "$root/init"

    # Module name -> file in the package ("-" and "_" are the same to the
    # kernel).
    while IFS= read -r f; do
        n=${f##*/}
        n=${n%%.ko*}
        modfile[${n//-/_}]=$f
    done < <(find "$moddir/kernel" -name '*.ko' -o -name '*.ko.xz' \
                 -o -name '*.ko.zst' -o -name '*.ko.gz')

    if [ -n "$builtin" ]; then
        while IFS= read -r f; do
            n=${f##*/}
            n=${n%.ko}
            builtin_mod[${n//-/_}]=1
        done <"$builtin"
    fi

    for m in $want_modules; do
        k=${m//-/_}
        if [ -z "${modfile[$k]:-}" ] && [ -z "${builtin_mod[$k]:-}" ]; then
            vp_die "$what: module $m is neither a module file nor built in"
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
        gzip -n -9 >"$dest/initrd.cpio.gz" ||
        vp_die "cannot create $dest/initrd.cpio.gz"
    rm -rf "$root"
}

# Copy module $1 (decompressed) after its dependencies, recursively, into
# $root, for kernel_kit (whose modfile, seen and order it uses).
add_module()
{
    local m=${1//-/_} f dst d dep soft c
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
    esac || vp_die "cannot decompress module $f"
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

# The trixie kernel (6.12): OUTDIR/.
vp_unpack "$kpkg" "$kver_pkg" "$kdeb"
kernel_kit "$tmpout" "$kpkg" "$TREE"
stock_modules=("${order[@]}")
kver=$(cat "$tmpout/kernel-version")

# The newer kernel: OUTDIR/new/.
trees=()
parts=
while read -r p v rel; do
    case $p in
    linux-image-riscv64:*) continue ;;
    esac
    p=${p%:riscv64}
    vp_unpack "$p" "$v" "$VP_DEBS/${p}_$(vp_fsver "$v")_riscv64.deb"
    trees+=("$TREE")
    parts+=" $p=$v"
done <<<"$knew_txt"
kernel_kit "$tmpout/new" "${parts# }" "${trees[@]}"
new_modules=("${order[@]}")

printf '%s\n' "$kit_txt" >"$tmpout/kit.txt"
printf 'modules %s\n' "${stock_modules[*]}" >>"$tmpout/kit.txt"
printf 'new/modules %s\n' "${new_modules[*]}" >>"$tmpout/kit.txt"
if [ -n "$VP_SKIPPED" ]; then
    printf '# listed but not served (skipped):\n' >>"$tmpout/kit.txt"
    printf '%s' "$VP_SKIPPED" | sed 's/^/#   /' >>"$tmpout/kit.txt"
fi
printf '%s\n' "$stamp" >"$tmpout/.stamp"

# Swap the finished kit into place.
if [ -e "$out" ]; then
    rm -rf "$out.old"
    mv "$out" "$out.old"
fi
mv "$tmpout" "$out"
trap - EXIT
rm -rf "$out.old"
echo "guest-kit: built $out (kernel $kver; new/: kernel" \
    "$(cat "$out/new/kernel-version"); OpenSBI $sbi_old_ver, $sbi_new_ver," \
    "$sbi_next_ver)"
