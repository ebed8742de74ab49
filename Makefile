# irzoo: every entry point a user or CI needs. `make demo` and `make test` do all setup themselves.
SHELL := /bin/bash
SWIFT ?= swift
CONFIG ?= release
BIN := .build/$(CONFIG)/irzoo
# Python for Tools/ (fixtures, goldens, benchmarks). Not needed by `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python

# Debian packages holding the C libraries irzoo links.
DEB_PACKAGES := zlib1g-dev libpng-dev libhdf5-dev libssl-dev pkg-config libjpeg62-turbo-dev libtiff-dev libwebp-dev libexif-dev
# What `make test-kernels` needs: user-mode qemu (a Haswell and an arm64 CPU) and arm64 cross
# headers, C runtime and linker for the toolchain's clang.
KERNEL_DEB_PACKAGES := qemu-user libc6-dev-arm64-cross libgcc-12-dev-arm64-cross binutils-aarch64-linux-gnu
# What the registry tests start (issue 16): CNCF Distribution 2.8, `htpasswd -B` for its basic
# auth, openssl for the token service's key, and the CA bundle TLS needs.
TEST_DEB_PACKAGES := docker-registry apache2-utils openssl ca-certificates
# `make bench-registry`: skopeo beside irzoo, GNU time for peak RSS.
BENCH_REGISTRY_DEB_PACKAGES := docker-registry skopeo time
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The browser test of `irzoo serve` (issue 17): Debian's Chromium driven by Playwright from PyPI,
# in a small virtualenv of its own (Playwright only: no torch).
BROWSER_DEB_PACKAGES := chromium python3-venv
BROWSER_VENV ?= .venv-browser
PLAYWRIGHT_VERSION ?= 1.65.3

.PHONY: all deps kernel-deps test-deps browser-deps browser-test bench-serve build test test-kernels demo fuzz fuzz-smoke goldens venv bench bench-ops bench-convert bench-store bench-models bench-scale bench-sdxl bench-unirestorer bench-batch bench-registry bench-hub clean

all: build

# Installs the Debian packages of $(1) that are missing (apt-get update first, as a fresh machine needs).
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

deps:
	$(call apt_install,$(DEB_PACKAGES))

kernel-deps:
	$(call apt_install,$(KERNEL_DEB_PACKAGES))

test-deps:
	$(call apt_install,$(TEST_DEB_PACKAGES))

# Chromium and the browser test's virtualenv, when missing.
browser-deps:
	$(call apt_install,$(BROWSER_DEB_PACKAGES))
	@[ -x $(BROWSER_VENV)/bin/python ] && $(BROWSER_VENV)/bin/python -c 'import playwright' 2>/dev/null || \
	  (python3 -m venv $(BROWSER_VENV) && $(BROWSER_VENV)/bin/pip install -q playwright==$(PLAYWRIGHT_VERSION))

# `irzoo serve` in a real browser; the screenshot of the comparison view stays in .build/serve-browser/.
browser-test: browser-deps
	$(SWIFT) build -c $(CONFIG) --product irzoo
	set -o pipefail; $(BROWSER_VENV)/bin/python Tools/serve_browser_test.py --irzoo $(BIN) --chromium /usr/bin/chromium \
	  --out .build/serve-browser 2>&1 | tee .build/browser.log

build: deps
	$(SWIFT) build -c $(CONFIG) --product irzoo

# SIMD levels this CPU runs (IRKernels dispatch: baseline always; avx2 needs AVX2+FMA; avx512 AVX-512F).
SIMD_LEVELS := $(shell if [ "$$(uname -m)" = aarch64 ]; then echo baseline neon; else \
	  l=baseline; grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && l="$$l avx2"; \
	  grep -qw avx512f /proc/cpuinfo && l="$$l avx512"; echo $$l; fi)
SIMD_NATIVE := $(lastword $(SIMD_LEVELS))
# The suites whose results go through the per-level kernels; run again at every lower level.
NUMERIC_SUITES := IRRuntimeTests|IRModelsTests

# Release mode: the numerics are too slow in debug. The whole suite runs at the CPU's own level,
# the numeric suites once more at each lower level, then the kernel conformance program and a
# short fuzz smoke. The registry tests fail (rather than skip) when docker-registry is missing.
test: deps test-deps
	$(SWIFT) build -c $(CONFIG) --build-tests
	set -o pipefail; IRZOO_REQUIRE_REGISTRY=1 $(SWIFT) test -c $(CONFIG) --skip-build 2>&1 | tee .build/test.log
	@set -o pipefail; for level in $(filter-out $(SIMD_NATIVE),$(SIMD_LEVELS)); do \
	  echo "== numeric suites at IRZOO_SIMD=$$level"; start=$$(date +%s); \
	  IRZOO_SIMD=$$level $(SWIFT) test -c $(CONFIG) --skip-build --filter '$(NUMERIC_SUITES)' 2>&1 | tee .build/test-$$level.log || exit 1; \
	  echo "== IRZOO_SIMD=$$level: $$(( $$(date +%s) - start )) s"; \
	done
	$(MAKE) --no-print-directory test-kernels
	$(MAKE) --no-print-directory browser-test
	$(MAKE) --no-print-directory fuzz-smoke
	@echo "SIMD levels: whole suite at $(SIMD_NATIVE); $(NUMERIC_SUITES) again at: $(or $(filter-out $(SIMD_NATIVE),$(SIMD_LEVELS)),none)"
	@# One plain closing line (XCTest's totals over every run plus the browser checks; Swift Testing's own summary line counts only its tests).
	@{ for log in .build/test.log $(foreach l,$(filter-out $(SIMD_NATIVE),$(SIMD_LEVELS)),.build/test-$(l).log); do \
	  awk '/Executed [0-9]+ tests?, with [0-9]+ failures?/ {n=$$2; f=$$5} END {print n, f}' $$log; \
	done; awk '/^browser: [0-9]+ passed, [0-9]+ failed/ {print $$2 + $$4, $$4}' .build/browser.log; } \
	  | awk '{n+=$$1; f+=$$2} END {printf "tests: %d passed, %d failed\n", n-f, f}'

# Kernel conformance (Tests/KernelConformance): every IRKernels kernel against a scalar reference
# on odd sizes and degenerate values, natively at each level this CPU has; on x86-64 also under
# qemu as a Haswell (AVX2+FMA, no AVX-512: the dispatch must pick avx2, and an AVX-512 instruction
# must trap there) and as a Nehalem (no AVX: baseline); and cross-compiled for arm64 under
# qemu-aarch64 (NEON). Seconds, not minutes.
CLANG ?= $(or $(shell command -v clang),$(dir $(shell command -v swift))clang)
KC_SOURCES := $(wildcard Sources/IRKernels/*.c) $(wildcard Tests/KernelConformance/*.c)
KC_FLAGS := -O3 -ffp-contract=off -Wall -ISources/IRKernels/include -ISources/IRKernels -pthread
KC := .build/kernel-conformance
# Haswell without the system features user-mode TCG does not emulate (they only print warnings).
QEMU_HASWELL := qemu-x86_64 -cpu Haswell,-pcid,-x2apic,-tsc-deadline,-hle,-rtm,-invpcid

test-kernels: kernel-deps
	@mkdir -p $(KC)
	$(CLANG) $(KC_FLAGS) $(KC_SOURCES) -lm -o $(KC)/native
	$(KC)/native
ifneq ($(shell uname -m),aarch64)
	$(QEMU_HASWELL) $(KC)/native --expect-cpu avx2
	@# A leak of AVX-512 code into the AVX2 path would trap under this CPU model: show that it does.
	@(ulimit -c 0; $(QEMU_HASWELL) $(KC)/native --avx512-probe) >/dev/null 2>&1; status=$$?; \
	if [ $$status -eq 132 ]; then echo "ok: an AVX-512 instruction traps (SIGILL) on the emulated Haswell (the shell reports it above)"; \
	else echo "FAIL: the AVX-512 probe on the emulated Haswell exited with $$status, not SIGILL"; exit 1; fi
	qemu-x86_64 -cpu Nehalem $(KC)/native --expect-cpu baseline
	$(CLANG) --target=aarch64-linux-gnu -static $(KC_FLAGS) $(KC_SOURCES) -lm -o $(KC)/aarch64
	qemu-aarch64 $(KC)/aarch64 --expect-cpu neon
else
	@echo "arm64 host: the x86-64 levels are not emulated here"
endif

demo: build
	bash Tools/demo.sh $(BIN)

# libFuzzer targets: `make fuzz FUZZ_SECONDS=600` for a long run, fuzz-smoke for CI.
FUZZ_SECONDS ?= 120
fuzz: deps
	bash Fuzz/run.sh $(FUZZ_SECONDS)

fuzz-smoke: deps
	bash Fuzz/run.sh 10

venv:
	@[ -x $(PY) ] || (python3 -m venv $(VENV) && $(VENV)/bin/pip install -q -r Tools/requirements.txt)

# Regenerates every committed fixture and golden from PyTorch.
goldens: venv
	bash Tools/make_fixtures.sh $(PY)

bench: bench-ops bench-convert bench-store bench-models

bench-ops: build venv
	bash Benchmarks/ops.sh $(PY)

bench-convert: build venv
	bash Benchmarks/convert.sh $(PY)

bench-store: build venv
	bash Benchmarks/store.sh $(PY)

bench-models: build venv
	bash Benchmarks/models.sh $(PY)

# Issue 12: SymUNet w48 at 256², 512² and 1024², native level and avx2: seconds and peak RSS per megapixel.
bench-scale: build venv
	bash Benchmarks/scale.sh $(PY)

# Released-size models (issues 7, 8): ~10 GB of memory and 10-40 min each on 2 cores, so not in `bench`.
bench-sdxl: build venv
	bash Benchmarks/sdxl.sh $(PY)

bench-unirestorer: build venv
	bash Benchmarks/unirestorer.sh $(PY)

# `irzoo serve` (issue 17): 200 small images through the API with 8 clients beside `irzoo run` on
# the same folder; throughput, p50/p99 latency, the server's peak RSS. Needs no PyTorch.
bench-serve: build
	bash Benchmarks/serve.sh $(BIN)

# Issue 13: 50 1-MP JPEGs through symunet-demo beside a PyTorch + PIL loop; then a 24 MP JPEG
# through SymUNet w48 with automatic tiling (about an hour on 2 cores; BIG=0 skips it).
bench-batch: build venv
	bash Benchmarks/batch.sh $(PY)

# Issue 14: a sharded 5 GB fp16 SDXL UNet folder imported beside the single file of the same weights.
bench-hub: build venv
	bash Benchmarks/hub_folder.sh $(PY)

# Issue 16: push and pull of a 1 GiB model to a loopback docker-registry beside skopeo (MB/s, peak RSS).
bench-registry: build
	$(call apt_install,$(BENCH_REGISTRY_DEB_PACKAGES))
	bash Benchmarks/registry.sh

clean:
	rm -rf .build .build-* demo-out bench-out
