#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# libvirt_guide.sh FORK: the libvirt section of the user guide
# (docs/system/riscv/virt-pcie.rst), followed as written, with libvirt's
# system daemon and its default configuration (QEMU runs as libvirt-qemu).
#
# The domain XML is taken from the guide itself; only what the guide tells
# the reader to change is changed (/path/to/virt-pcie), plus the name and
# the <vcpu> count. For 2, 17 and 64 vCPUs: start the daemon as the guide
# says, "virsh define" and "virsh start", then read the console (the pty of
# the domain's <serial type='pty'/>). The checks, on what the guest says:
#  - 2 and 17: the kit's shell answers on the console; nproc is N, there is
#    one NUMA node, and N packages (libvirt's -smp N,sockets=N); "exit"
#    powers the guest off and the domain stops (shut off);
#  - 64: the kernel brings up "1 node, 64 CPUs" (seen through
#    earlycon=sbi; a boot to the shell of 64 harts on TCG takes minutes on
#    2 host CPUs: the domain is destroyed then);
#  - libvirt ran QEMU as libvirt-qemu, and QEMU found its default firmware;
#  - virt-qemu-run with the guide's private qemu.conf runs the guest to its
#    poweroff, and returns on Ctrl-C.
# Prints "ok NAME" or "FAIL NAME" per check; exits non-zero on a failure.

set -u

fork=${1:?usage: $0 FORK}
top=$(cd "$(dirname "$fork")/.." && pwd)
guide=$top/docs/system/riscv/virt-pcie.rst
name=vp-guide-test
virsh=(virsh -q -c qemu:///system)
tmp=$(mktemp -d)
reader=
failed=0

ok() { echo "ok $1"; }
fail() { echo "FAIL $1${2:+ ($2)}"; failed=1; }

cleanup()
{
    [ -n "$reader" ] && kill "$reader" 2>/dev/null
    "${virsh[@]}" destroy "$name" > /dev/null 2>&1
    "${virsh[@]}" undefine "$name" > /dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT

if [ "$(id -u)" != 0 ]; then
    fail libvirt-guide "libvirt's system daemon needs root: run as root"
    exit 1
fi
for f in "$guide" "$top/build/guest/Image"; do
    if [ ! -e "$f" ]; then
        fail libvirt-guide "$f is missing"
        exit 1
    fi
done

# The guide's domain: the indented block from "<domain" to "</domain>" of
# its libvirt section
sed -n '/^libvirt$/,/^Limitations$/p' "$guide" |
    sed -n '/^  <domain /,/^  <\/domain>/p' | sed 's/^  //' > "$tmp/guide.xml"
if ! grep -q "machine='virt-pcie'" "$tmp/guide.xml"; then
    fail guide-has-domain "no virt-pcie domain XML in $guide"
    exit 1
fi

# The daemon, started as the guide says
if [ -d /run/systemd/system ]; then
    systemctl start libvirtd
else
    service virtlogd start > /dev/null && service libvirtd start > /dev/null
fi
for _ in $(seq 50); do
    "${virsh[@]}" list --all > /dev/null 2>&1 && break
    sleep 0.2
done
if ! "${virsh[@]}" list --all > /dev/null 2>&1; then
    fail libvirtd-running "virsh cannot reach qemu:///system"
    exit 1
fi

# wait_for PATTERN SECONDS: wait until the console shows PATTERN
wait_for()
{
    local i
    for i in $(seq $(($2 * 5))); do
        grep -q -- "$1" "$tmp/console" 2>/dev/null && return 0
        sleep 0.2
    done
    return 1
}

# state: the domain's state, e.g. "running" or "shut off"
state() { "${virsh[@]}" domstate "$name" 2>/dev/null | head -n 1; }

# run_domain N [CMDLINE]: define and start the guide's domain with N
# vCPUs (and that kernel command line); sets pty (its console) and reader
# (the process copying that to the file)
run_domain()
{
    local n=$1 cmdline=${2:+<cmdline>$2</cmdline>}
    sed -e "s|/path/to/virt-pcie|$top|g" \
        -e "s|<name>riscv</name>|<name>$name</name>|" \
        -e "s|<vcpu>2</vcpu>|<vcpu>$n</vcpu>|" \
        -e "s|</initrd>|</initrd>$cmdline|" \
        "$tmp/guide.xml" > "$tmp/riscv.xml"
    "${virsh[@]}" undefine "$name" > /dev/null 2>&1
    if ! "${virsh[@]}" define "$tmp/riscv.xml" > "$tmp/virsh.log" 2>&1 ||
       ! "${virsh[@]}" start "$name" >> "$tmp/virsh.log" 2>&1; then
        fail "started-$n" "$(tr '\n' ' ' < "$tmp/virsh.log")"
        return 1
    fi
    pty=$("${virsh[@]}" ttyconsole "$name")
    : > "$tmp/console"
    cat "$pty" >> "$tmp/console" 2>/dev/null &
    reader=$!
}

# The QEMU log of the domain
qemu_log() { cat "/var/log/libvirt/qemu/$name.log" 2>/dev/null; }

for n in 2 17; do
    run_domain "$n" || continue
    if ! wait_for '~ #' 240; then
        fail "shell-$n" "no shell prompt; console: $(tail -c 600 \
            "$tmp/console" | tr -d '\r' | tr '\n' ' ')"
        "${virsh[@]}" destroy "$name" > /dev/null 2>&1
        continue
    fi
    ok "shell-$n"
    # nproc, NUMA nodes, packages
    printf '%s %s %s\n' 'echo VP-TOPO $(nproc)' \
        '$(ls -d /sys/devices/system/node/node*|wc -l)' \
        '$(cat /sys/devices/system/cpu/cpu*/topology/physical_package_id|'\
'sort -u|wc -l)' > "$pty"
    if wait_for '^VP-TOPO ' 60; then
        read -r _ cpus nodes pkgs < <(tr -d '\r' < "$tmp/console" |
                                      grep '^VP-TOPO ' | head -n 1)
        if [ "$cpus $nodes $pkgs" = "$n 1 $n" ]; then
            ok "topology-$n"
        else
            fail "topology-$n" "nproc $cpus, $nodes NUMA nodes, $pkgs" \
                "packages; want $n, 1, $n"
        fi
    else
        fail "topology-$n" "the shell did not answer"
    fi
    printf 'exit\n' > "$pty"
    for _ in $(seq 150); do
        [ "$(state)" = "shut off" ] && break
        sleep 0.2
    done
    if [ "$(state)" = "shut off" ] && grep -q VP-POWEROFF "$tmp/console"
    then
        ok "poweroff-$n"
    else
        fail "poweroff-$n" "domain state: $(state)"
    fi
    kill "$reader" 2>/dev/null
    reader=
done

# earlycon=sbi: the kernel's CPU bring-up is on the console at once, not
# only once ttyS0 is up (64 harts on 2 host CPUs get there slowly)
if run_domain 64 earlycon=sbi; then
    if wait_for 'smp: Brought up 1 node, 64 CPUs' 480; then
        ok "cpus-64"
    else
        fail "cpus-64" "console: $(grep 'smp: ' "$tmp/console" | tr -d '\r')"
    fi
    if qemu_log | grep -q -- '-smp 64,sockets=64,cores=1,threads=1'; then
        ok "libvirt-smp-64"
    else
        fail "libvirt-smp-64" "$(qemu_log | grep -- '^-smp')"
    fi
    # The QEMU process runs as libvirt-qemu and loaded its own firmware
    pid=$(pgrep -f "guest=$name" | head -n 1)
    user=$(ps -o user= -p "${pid:-0}" 2>/dev/null)
    if [ "$user" = libvirt-qemu ] && grep -q 'OpenSBI v' "$tmp/console"; then
        ok "qemu-as-libvirt-qemu"
    else
        fail "qemu-as-libvirt-qemu" "QEMU runs as '${user:-?}'"
    fi
    "${virsh[@]}" destroy "$name" > /dev/null 2>&1
fi

# virt-qemu-run, as the guide says: a private directory with its
# qemu.conf, the domain with a file console; the guest is told to run
# "true" (the kit then powers off) since nobody types into a file.
# libvirt 9.0's virt-qemu-run returns only on Ctrl-C (SIGINT) after that.
vm=$tmp/vm
chmod 755 "$tmp"    # (mktemp's 0700 would keep libvirt-qemu out)
mkdir -p "$vm/etc"
sed -n '/^Without a daemon/,/^The guest runs until/p' "$guide" |
    sed -n 's/^  echo \(.*\) > vm\/etc\/qemu.conf$/\1/p' > "$tmp/echo"
eval "echo $(cat "$tmp/echo")" > "$vm/etc/qemu.conf"
sed -e "s|/path/to/virt-pcie|$top|g" \
    -e "s|<name>riscv</name>|<name>$name-run</name>|" \
    -e "s|<serial type='pty'/>|<serial type='file'><source \
path='$tmp/run-console'/></serial>|" \
    -e "s|</initrd>|</initrd><cmdline>-- true</cmdline>|" \
    "$tmp/guide.xml" > "$tmp/run.xml"
virt-qemu-run --root "$vm" "$tmp/run.xml" > "$tmp/run.log" 2>&1 &
runner=$!
for _ in $(seq 600); do
    grep -q VP-POWEROFF "$tmp/run-console" 2>/dev/null && break
    kill -0 "$runner" 2>/dev/null || break
    sleep 0.2
done
if grep -q '^stdio_handler = "file"$' "$vm/etc/qemu.conf" &&
   grep -q VP-POWEROFF "$tmp/run-console" 2>/dev/null; then
    ok virt-qemu-run-poweroff
else
    fail virt-qemu-run-poweroff "$(tail -n 3 "$tmp/run.log" | tr '\n' ' ')"
fi
kill -INT "$runner" 2>/dev/null
for _ in $(seq 100); do
    kill -0 "$runner" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$runner" 2>/dev/null; then
    fail virt-qemu-run-ctrl-c "still running 10 s after SIGINT"
    kill -9 "$runner"
else
    ok virt-qemu-run-ctrl-c
fi

exit $failed
