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
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The browser test of `irzoo serve` (issue 17): Debian's Chromium driven by Playwright from PyPI,
# in a small virtualenv of its own (Playwright only: no torch).
BROWSER_DEB_PACKAGES := chromium python3-venv
BROWSER_VENV ?= .venv-browser
PLAYWRIGHT_VERSION ?= 1.65.3

.PHONY: all deps browser-deps browser-test bench-serve build test demo fuzz fuzz-smoke goldens venv bench bench-ops bench-convert bench-store bench-models bench-sdxl bench-unirestorer bench-batch clean

all: build

# Installs the C libraries when any is missing (apt-get update first, as a fresh machine needs).
deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# Chromium and the browser test's virtualenv, when missing.
browser-deps:
	@missing=""; for p in $(BROWSER_DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@[ -x $(BROWSER_VENV)/bin/python ] && $(BROWSER_VENV)/bin/python -c 'import playwright' 2>/dev/null || \
	  (python3 -m venv $(BROWSER_VENV) && $(BROWSER_VENV)/bin/pip install -q playwright==$(PLAYWRIGHT_VERSION))

# `irzoo serve` in a real browser; the screenshot of the comparison view stays in .build/serve-browser/.
browser-test: browser-deps
	$(SWIFT) build -c $(CONFIG) --product irzoo
	set -o pipefail; $(BROWSER_VENV)/bin/python Tools/serve_browser_test.py --irzoo $(BIN) --chromium /usr/bin/chromium \
	  --out .build/serve-browser 2>&1 | tee .build/browser.log

build: deps
	$(SWIFT) build -c $(CONFIG) --product irzoo

# Release mode: the numerics are too slow in debug.
test: deps
	$(SWIFT) build -c $(CONFIG) --build-tests
	set -o pipefail; $(SWIFT) test -c $(CONFIG) --skip-build 2>&1 | tee .build/test.log
	$(MAKE) --no-print-directory browser-test
	$(MAKE) --no-print-directory fuzz-smoke
	@# One plain closing line (XCTest's total plus the browser checks; Swift Testing's own summary line counts only its tests).
	@awk '/Executed [0-9]+ tests?, with [0-9]+ failures?/ {n=$$2; f=$$5} /^browser: [0-9]+ passed, [0-9]+ failed/ {bp=$$2; bf=$$4} \
	  END {printf "tests: %d passed, %d failed\n", n-f+bp, f+bf}' .build/test.log .build/browser.log

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

clean:
	rm -rf .build .build-* demo-out bench-out
