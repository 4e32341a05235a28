# Hedge front door. `make run` starts the resolver, `make test` runs every suite.
# The real build is CMake (CMakeLists.txt); this file only sequences steps.
SHELL := /bin/bash
BUILD ?= build
JOBS ?= 2
CMAKE_FLAGS ?=
RUN_CONFIG ?= resolver/hedge.example.toml
SAMPLES := $(BUILD)/samples

.PHONY: all deps build run test test-asan fuzz bench fmt fmt-check lint cross test-cross image image-test image-test-pi deb clean samples

all: build

deps:
	@./cmake/install-deps.sh

$(BUILD)/CMakeCache.txt:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null

build: $(BUILD)/CMakeCache.txt
	@cmake --build $(BUILD) -j$(JOBS) -- --no-print-directory

# Sample bundle from blocklists/samples/ (made-up and well-known names only).
samples: build
	@./$(BUILD)/hedge compile --out $(SAMPLES) --quiet \
	  $$(for f in blocklists/samples/*.txt; do c=$$(basename $$f .txt); echo "$$c=$$f"; done)

# The store (exceptions, audit) lives under the build directory, so a first
# run needs no /var/lib/hedge: the example config plus a [store] table.
RUN_STORE := $(CURDIR)/$(BUILD)/run/hedge.db
run: deps build samples
	@mkdir -p $(BUILD)/run
	@{ cat $(RUN_CONFIG); printf '\n[store]\npath = "%s"\n' "$(RUN_STORE)"; } > $(BUILD)/run/hedge.toml
	@echo "hedge: serving on 127.0.0.1:5300 (UDP+TCP); try: dig @127.0.0.1 -p 5300 example.com"
	@echo "hedge: block page http://127.0.0.1:8080/ (try: curl -H 'Host: pornhub.com' http://127.0.0.1:8080/),"
	@echo "       status http://127.0.0.1:8053/health, /status, /metrics"
	@echo "hedge: store $(RUN_STORE); e.g. ./$(BUILD)/hedge exception list --config $(BUILD)/run/hedge.toml"
	@./$(BUILD)/hedge user first admin --role dsl --password-out $(BUILD)/console-password --config $(BUILD)/run/hedge.toml \
	  && echo "hedge: console https://127.0.0.1:8443/ - account admin, password $$(cat $(BUILD)/console-password) (also in $(BUILD)/console-password)"
	@./$(BUILD)/hedge serve --config $(BUILD)/run/hedge.toml --lists $(SAMPLES)

test: deps build
	@cd $(BUILD) && ctest --output-on-failure -j1 --timeout 600

# Unit and component tests under ASan+UBSan (CI runs this too).
test-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DHEDGE_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j$(JOBS)
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -L 'unit|component' --timeout 600

# libFuzzer targets (clang), each run for a bounded time; corpus replay is part of `make test`.
# FUZZ_TARGET: packet (DNS messages, default), lists (list files), bundle (bundle directories).
FUZZ_SECONDS ?= 60
FUZZ_TARGET ?= packet
FUZZ_SEEDS_packet := ../shared/data/dns-corpus/c-ares-fuzzinput
FUZZ_SEEDS_lists := tests/fuzz/corpus/lists
FUZZ_SEEDS_bundle := tests/fuzz/corpus/bundle
FUZZ_MAXLEN_packet := 4096
FUZZ_MAXLEN_lists := 65536
FUZZ_MAXLEN_bundle := 65536
fuzz: deps
	@test "$(FUZZ_TARGET)" != packet || test -d ../shared/data/dns-corpus/c-ares-fuzzinput || { echo "make fuzz: needs ../shared/data/dns-corpus/c-ares-fuzzinput (the shared DNS corpus beside this checkout) as its seed corpus; the seeds in tests/fuzz/corpus/ are replayed by make test without it (or: make fuzz FUZZ_TARGET=bundle)" >&2; exit 2; }
	@CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHEDGE_FUZZ=ON -DHEDGE_TESTS=ON >/dev/null
	@cmake --build build-fuzz -j$(JOBS) --target fuzz_$(FUZZ_TARGET)
	@mkdir -p build-fuzz/corpus-$(FUZZ_TARGET)
	@./build-fuzz/tests/fuzz_$(FUZZ_TARGET) -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAXLEN_$(FUZZ_TARGET)) build-fuzz/corpus-$(FUZZ_TARGET) \
	  $(FUZZ_SEEDS_$(FUZZ_TARGET))

bench: deps build
	@test -d "$${HEDGE_BENCH_DIR:-../shared/bench}" || { echo "make bench: needs ../shared/bench (the peer benchmark scripts) and ../shared/data (lists and query corpora) beside this checkout; see tests/bench/run.sh" >&2; exit 2; }
	@./tests/bench/run.sh

fmt:
	@clang-format -i $$(git ls-files '*.cpp' '*.hpp')

fmt-check:
	@clang-format --dry-run --Werror $$(git ls-files '*.cpp' '*.hpp')

# clang-tidy over the shipped sources (config in .clang-tidy; any finding fails).
lint: build
	@run-clang-tidy -p $(BUILD) -j$(JOBS) -quiet '$(CURDIR)/(resolver|blocklists)/.*\.cpp$$' > $(BUILD)/lint.log 2>&1 \
	  || { grep -E 'warning:|error:' $(BUILD)/lint.log | sort -u; echo "lint: clang-tidy findings (full log: $(BUILD)/lint.log)"; exit 1; }
	@echo "lint: clean"

# arm64 cross build (cmake/aarch64.cmake; Debian :arm64 packages plus a sysroot
# overlay from cmake/install-cross-deps.sh) in its own folder; see docs/cross.md.
CROSS_BUILD ?= build-arm64
cross:
	@./cmake/install-cross-deps.sh $(CROSS_BUILD)/sysroot
	@test -f $(CROSS_BUILD)/CMakeCache.txt || cmake -S . -B $(CROSS_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/aarch64.cmake -DHEDGE_CROSS_OVERLAY=$(CURDIR)/$(CROSS_BUILD)/sysroot >/dev/null
	@cmake --build $(CROSS_BUILD) -j$(JOBS) -- --no-print-directory

# Unit, component and fuzz-corpus-replay tests of the arm64 build under qemu-user
# (e2e needs netns/real nsd: not here). Emulation is slow, hence the long timeout.
test-cross: cross
	@cd $(CROSS_BUILD) && ctest --output-on-failure -j1 -L 'unit|component' --timeout 1800

# The appliance (board/, image/; docs/install.md). `make image BOARD=rpi4|qemu-virt`
# writes $(IMAGE_OUT)/hedge-BOARD-VERSION.img.xz + .sha256 (the arm64 rootfs is
# cached there by a hash of its inputs); `make image-test` boots the qemu-virt
# image and runs the 9 checks, `make image-test-pi` the rpi4 image on an emulated
# Pi 3B (6 checks); `make deb` builds an arm64 .deb with the same units.
# Not part of `make test` (too slow for CI); its rootfs-independent checks are
# (e2e_test_board).
BOARD ?= qemu-virt
IMAGE_OUT ?= $(BUILD)/image
image: build cross
	@IMAGE_OUT=$(IMAGE_OUT) BUILD=$(BUILD) CROSS_BUILD=$(CROSS_BUILD) nice -n 19 ./image/build.sh $(BOARD)

image-test: build
	@test -e $(IMAGE_OUT)/hedge-qemu-virt.img || $(MAKE) --no-print-directory image BOARD=qemu-virt
	@./cmake/install-image-deps.sh
	@/usr/bin/python3 image/boot_test.py --image $(IMAGE_OUT)/hedge-qemu-virt.img --workdir $(IMAGE_OUT)/test

# The shipped rpi4 image on qemu's emulated Pi 3B (no Pi 4 machine in Debian 12's
# qemu): boots, filters, first boot, a broken hedge.toml; checked from outside.
image-test-pi: build
	@test -e $(IMAGE_OUT)/hedge-rpi4.img || $(MAKE) --no-print-directory image BOARD=rpi4
	@./cmake/install-image-deps.sh
	@/usr/bin/python3 image/pi_boot_test.py --image $(IMAGE_OUT)/hedge-rpi4.img --workdir $(IMAGE_OUT)/test-pi

deb: build cross
	@IMAGE_OUT=$(IMAGE_OUT) BUILD=$(BUILD) CROSS_BUILD=$(CROSS_BUILD) ./image/build-deb.sh

clean:
	@rm -rf $(BUILD) build-asan build-fuzz
