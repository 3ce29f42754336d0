# SPDX-License-Identifier: GPL-2.0-or-later
#
# virt-pcie: a QEMU fork with a PCIe-only, MSI-only RISC-V machine.
# `make run` builds and boots the stock guest; `make check` builds and tests.
# See README.md.

.NOTPARALLEL:
.PHONY: all build deps base fork upstream blobs kit image releases \
	release-10.0 libvirt-root sanitize run check firmware bench soak \
	fuzz-build fuzz fuzz-coverage minimal clean distclean pq-import \
	pq-export upstream-export

VP_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/virt-pcie
export VP_CACHE
# ccache: paths below the checkout are hashed relative to it, so a fresh
# clone (CI) hits the cache that an earlier clone filled.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
# upstream-export writes the mail series here.
OUT ?= build/upstream-series

all: build

deps:
	@tools/deps.sh

base: deps
	@tools/fetch-qemu.sh

fork: base
	@tools/prepare-tree.sh build/fork-src
	@tools/build-qemu.sh build/fork-src build/fork
	@ln -sfn fork/qemu-system-riscv64 build/qemu-system-riscv64

upstream: base
	@tools/build-qemu.sh build/base build/upstream

blobs: fork upstream
	@tools/blobs.sh build/fork build/upstream

kit: deps
	@tools/guest-kit.sh build/guest

# virt-pcie's UEFI firmware: build/firmware/VIRT_PCIE_{CODE,VARS}.fd
firmware: deps
	@tools/build-edk2.sh

# A Debian trixie riscv64 disk image (GPT, ESP with GRUB, ext4 root) in
# build/disk/, made inside the upstream build with the kit's kernel, and
# Debian's EDK2 for upstream virt in build/firmware/stock/.
image: upstream kit
	@tools/disk-image.sh build

# Earlier releases of the fork (tests/data/virt-pcie/*/built-from), built
# from this repository's history into $(VP_CACHE)/releases, for the
# cross-release migration tests.
releases: deps
	@tools/build-release.sh

release-10.0: deps
	@tools/build-release.sh 10.0

# bookworm-backports' libvirt in a root of its own (build/libvirt-root),
# for the libvirt tests with a newer libvirt than the host's.
libvirt-root: fork
	@tools/libvirt-root.sh build build/qemu-system-riscv64

# The fork built with AddressSanitizer and UndefinedBehaviorSanitizer, for
# tests/functional/sanitizers.sh
sanitize: fork
	@tools/build-qemu.sh build/fork-src build/sanitize --enable-asan \
		--enable-ubsan

# qemu-system-riscv64 with virt-pcie only and the devices a server guest
# uses (configs/devices/riscv64-softmmu/virt-pcie.mak), for
# tests/functional/minimal_build.sh and make bench
minimal: fork
	@tools/build-qemu.sh build/fork-src build/minimal \
		--without-default-devices --with-devices-riscv64=virt-pcie

# The fork built for fuzzing (clang, libFuzzer, ASan, UBSan), and the
# fuzzing itself: FUZZ_SECONDS (default 3600) in FUZZ_JOBS jobs (default:
# one a core); see tools/fuzz.sh. make check runs a one-minute smoke run.
fuzz-build: fork
	@tools/fuzz.sh build

fuzz: fuzz-build
	@tools/fuzz.sh run

fuzz-coverage: fuzz-build
	@tools/fuzz.sh coverage

build: fork upstream blobs kit firmware image releases

run: build
	@tools/run-guest.sh

check: build libvirt-root sanitize fuzz-build minimal
	@tools/run-tests.sh

bench: build minimal
	@tools/bench.sh

# 100 live migrations under I/O (SOAK_ROUNDS=N for another count)
soak: build
	@tools/soak.sh

# The patch queue as git commits in build/pq; see README.md.
pq-import: base
	@tools/pq.sh import

pq-export:
	@tools/pq.sh export

upstream-export: base
	@tools/upstream-export.sh $(OUT)

clean:
	rm -rf build

distclean: clean
	rm -rf "$(VP_CACHE)"
