#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# pci_serial_compat.sh FORK UPSTREAM: with their default properties, the
# fork's pci-serial cards must look to a guest exactly like upstream's.
#
#  - config space: all 256 bytes of -device pci-serial (and -2x, -4x) on
#    -M virt, read through the ECAM with the monitor's xp command, must
#    be byte-identical between the two binaries;
#  - migration: a virt machine with a default pci-serial migrates from
#    upstream to the fork and back.
#  - the fork with msi=on,msix=on migrates to itself.
#
# Prints "ok NAME" or "FAIL NAME" per check; exits non-zero on a failure.

set -u

fork=${1:?usage: $0 FORK UPSTREAM}
upstream=${2:?usage: $0 FORK UPSTREAM}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

ok() { echo "ok $1"; }
fail() { echo "FAIL $1${2:+ ($2)}"; failed=1; }

# virt's ECAM; the card is put at 00:02.0
ecam=0x30000000
slot=2
cfg=$(printf '0x%x' $((ecam + (slot << 15))))
common=(-M virt -bios none -S -display none -nodefaults -no-user-config)

# config_dump BINARY DEVICE: the 64 config dwords, one per line
config_dump()
{
    printf 'xp /64wx %s\nquit\n' "$cfg" |
        timeout 60 "$1" "${common[@]}" -device "$2,addr=0$slot.0" \
            -monitor stdio 2>&1 |
        tr -d '\r' |
        sed -n 's/^[0-9a-f]*: *\(0x.*\)$/\1/p' | tr ' ' '\n' | grep '^0x'
}

for dev in pci-serial pci-serial-2x pci-serial-4x; do
    config_dump "$fork" "$dev" > "$tmp/fork.$dev"
    config_dump "$upstream" "$dev" > "$tmp/upstream.$dev"
    n=$(wc -l < "$tmp/fork.$dev")
    if [ "$n" != 64 ]; then
        fail "config-space-$dev" "read $n dwords from the fork"
    elif ! head -n 1 "$tmp/fork.$dev" | grep -q '0x000[234]1b36'; then
        first=$(head -n 1 "$tmp/fork.$dev")
        fail "config-space-$dev" "no $dev at $cfg: $first"
    elif ! cmp -s "$tmp/fork.$dev" "$tmp/upstream.$dev"; then
        delta=$(diff "$tmp/upstream.$dev" "$tmp/fork.$dev" | tr '\n' ' ')
        fail "config-space-$dev" "differs from upstream: $delta"
    else
        ok "config-space-$dev"
    fi
done

# qmp SOCKET COMMAND...: send QMP commands, print the replies
qmp()
{
    local sock=$1
    shift
    {
        echo '{"execute":"qmp_capabilities"}'
        for c in "$@"; do
            echo "$c"
        done
        sleep 0.2
    } | timeout 30 socat - "UNIX-CONNECT:$sock" 2>/dev/null
}

# migrate NAME SRC DST DEVICE: migrate a stopped virt machine with DEVICE
migrate()
{
    local name=$1 src=$2 dst=$3 dev=$4 status="" i
    local s_sock=$tmp/$name.src.qmp d_sock=$tmp/$name.dst.qmp
    local mig=$tmp/$name.mig

    "$src" "${common[@]}" -device "$dev" \
        -qmp "unix:$s_sock,server=on,wait=off" > "$tmp/$name.src.log" 2>&1 &
    local s_pid=$!
    "$dst" "${common[@]}" -device "$dev" -incoming "unix:$mig" \
        -qmp "unix:$d_sock,server=on,wait=off" > "$tmp/$name.dst.log" 2>&1 &
    local d_pid=$!

    for i in $(seq 50); do
        [ -S "$s_sock" ] && [ -S "$d_sock" ] && [ -S "$mig" ] && break
        sleep 0.1
    done
    local cmd='{"execute":"migrate","arguments":{"uri":"unix:'$mig'"}}'
    qmp "$s_sock" "$cmd" > /dev/null
    for i in $(seq 100); do
        status=$(qmp "$d_sock" '{"execute":"query-migrate"}' |
                 sed -n 's/.*"status": *"\([a-z-]*\)".*/\1/p' | tail -n 1)
        case "$status" in
            completed|failed) break ;;
        esac
        if ! kill -0 "$d_pid" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    local mstatus
    mstatus=$(qmp "$s_sock" '{"execute":"query-migrate"}' |
              sed -n 's/.*"status": *"\([a-z-]*\)".*/\1/p' | tail -n 1)
    kill "$s_pid" "$d_pid" 2>/dev/null
    wait "$s_pid" "$d_pid" 2>/dev/null
    if [ "$mstatus" = completed ] && [ "$status" = completed ]; then
        ok "$name"
    else
        local log
        log=$(tr '\n' ' ' < "$tmp/$name.dst.log")
        fail "$name" "source: ${mstatus:-?}, destination: ${status:-?}; $log"
    fi
}

if command -v socat > /dev/null; then
    migrate migrate-pci-serial-upstream-to-fork "$upstream" "$fork" pci-serial
    migrate migrate-pci-serial-fork-to-upstream "$fork" "$upstream" pci-serial
    migrate migrate-pci-serial-4x-fork-to-upstream "$fork" "$upstream" \
        pci-serial-4x
    migrate migrate-pci-serial-msi-fork-to-fork "$fork" "$fork" \
        pci-serial,msi=on,msix=on
else
    fail migrate "socat is not installed"
fi

exit $failed
