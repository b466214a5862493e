# Drover's entry points. On a fresh Debian 12 machine:
#   make run    installs what is missing, builds, and starts Drover
#   make test   installs what is missing, builds both toolchains, runs every test
.PHONY: run install uninstall test build build-windows test-native test-sanitize test-fuzz \
        test-windows package-windows package-linux bench bench-engine bench-soak bench-capture \
        bench-redirect bench-sockmap bench-windows-emulated format clean

JOBS ?= $(shell nproc)
BUILD ?= build
BUILD_RUN ?= build-run
BUILD_WINDOWS ?= build-windows
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 30
ARGS ?=

# On a desktop: the tray (it finds the engine, or starts one, asking for the
# administrator's password). Without one: the engine in the foreground
# (as root).
run: build
	./$(BUILD_RUN)/app/drover $(ARGS)

# The engine as a system service, the menu entry, the group "drover"
# (docs/desktop.md). Build first (make build or make run), then, as root:
# sudo make install.
install:
	scripts/install.sh install $(BUILD_RUN)

uninstall:
	scripts/install.sh uninstall

# The product alone: no tests or benchmarks, so nothing test-only is needed.
build:
	scripts/setup.sh run
	cmake -S . -B $(BUILD_RUN) -G Ninja -DDROVER_WERROR=ON \
	  -DDROVER_BUILD_TESTS=OFF -DDROVER_BUILD_BENCH=OFF
	cmake --build $(BUILD_RUN) -j $(JOBS)

test:
	scripts/setup.sh test
	$(MAKE) test-native test-sanitize test-fuzz test-windows

test-native:
	cmake -S . -B $(BUILD) -G Ninja -DDROVER_WERROR=ON
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest -j $(JOBS) --output-on-failure

# The unit, kernel and tray tests again with AddressSanitizer and
# UndefinedBehaviorSanitizer (the end-to-end suites run once, natively).
test-sanitize:
	cmake -S . -B $(BUILD_ASAN) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	  -DDROVER_SANITIZE=address,undefined -DDROVER_BUILD_BENCH=OFF
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	cd $(BUILD_ASAN) && ctest -j $(JOBS) --output-on-failure

# libFuzzer targets (tests/fuzz), FUZZ_SECONDS each, one per processor at
# a time.
test-fuzz:
	CC=clang CXX=clang++ cmake -S . -B $(BUILD_FUZZ) -G Ninja \
	  -DDROVER_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD_FUZZ) -j $(JOBS)
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/run-fuzzers.sh $(BUILD_FUZZ)

# The figures in docs/benchmarks.md.
bench:
	scripts/setup.sh test
	cmake -S . -B $(BUILD) -G Ninja -DDROVER_WERROR=ON
	cmake --build $(BUILD) -j $(JOBS)
	./$(BUILD)/bench/bench_packet_path --benchmark_min_time=1
	./$(BUILD)/bench/bench_socks5_codec --benchmark_min_time=1

# The engine end to end (root): throughput, UDP latency, connection rate,
# memory, against the same dante; figures in docs/benchmarks.md.
bench-engine:
	scripts/setup.sh bench
	cmake -S . -B $(BUILD) -G Ninja -DDROVER_WERROR=ON
	cmake --build $(BUILD) -j $(JOBS) --target bench_engine
	./$(BUILD)/bench/bench_engine 1024 10000

# An hour of steady load through the engine (root): its memory and
# descriptors sampled each minute must stay flat (the tests run the same
# for two minutes: tests/e2e/soak_test.cpp).
bench-soak:
	scripts/setup.sh test
	cmake -S . -B $(BUILD) -G Ninja -DDROVER_WERROR=ON
	cmake --build $(BUILD) -j $(JOBS) --target soak_e2e_test
	DROVER_SOAK_SECONDS=3600 ./$(BUILD)/tests/soak_e2e_test

# What exec-time capture costs other programs (root): fork+exec and
# socket creation, engine off vs on; figures in docs/benchmarks.md.
bench-capture:
	scripts/setup.sh test
	cmake -S . -B $(BUILD) -G Ninja -DDROVER_WERROR=ON
	cmake --build $(BUILD) -j $(JOBS) --target bench_capture_cost
	./$(BUILD)/bench/bench_capture_cost 10000 100000

# Handing a local connection to a local listener (root): nat REDIRECT, as
# the capture does it, against TPROXY; figures in docs/benchmarks.md.
bench-redirect:
	scripts/setup.sh test
	cmake -S . -B $(BUILD) -G Ninja -DDROVER_WERROR=ON
	cmake --build $(BUILD) -j $(JOBS) --target bench_local_redirect
	./$(BUILD)/bench/bench_local_redirect 4000 6

# A kernel join of the upload (sockmap), measured (as root): why Drover's
# relay keeps the loopback hop; figures in docs/benchmarks.md.
bench-sockmap:
	scripts/setup.sh test
	cmake -S . -B $(BUILD) -G Ninja -DDROVER_WERROR=ON
	cmake --build $(BUILD) -j $(JOBS) --target bench_sockmap_redirect
	./$(BUILD)/bench/bench_sockmap_redirect 3 5

# drover.exe under wine on the emulated WinDivert (as root): upload and
# UDP round trip against an explicit SOCKS5 client in the same lab;
# figures in docs/benchmarks.md.
bench-windows-emulated: build-windows
	bench/windows_emulated.sh $(BUILD_WINDOWS) 5 64 2000

# drover.exe with its tray: CAF and Qt for mingw come from the cache
# (~/.cache/drover), built there on first use. WINDOWS_TRAY=0 builds the
# engine and the command line only (no Qt: a first build half an hour faster).
WINDOWS_TRAY ?= 1
WINDOWS_CMAKE_ARGS ?=
build-windows:
	caf_root=$$(scripts/build-caf-mingw.sh) && \
	qt_root=$$( [ "$(WINDOWS_TRAY)" = 0 ] || scripts/build-qt-mingw.sh ) && \
	cmake -S . -B $(BUILD_WINDOWS) -G Ninja -DDROVER_WERROR=ON \
	  -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw64.cmake \
	  -DCAF_ROOT=$$caf_root -DDROVER_QT_ROOT=$$qt_root -DDROVER_BUILD_BENCH=OFF \
	  $(WINDOWS_CMAKE_ARGS)
	cmake --build $(BUILD_WINDOWS) -j $(JOBS)

test-windows: build-windows
	cd $(BUILD_WINDOWS) && ctest -j $(JOBS) --output-on-failure

# The Windows installer (docs/windows.md): WINDIVERT_ZIP=WinDivert-2.2.2-A.zip
# as downloaded from its publisher (its SHA-256 is pinned), or without it.
WINDIVERT_ZIP ?=
# Packed from a product build of its own (no tests, no fault hooks).
BUILD_WINDOWS_PRODUCT ?= build-windows-product
package-windows:
	scripts/setup.sh test
	$(MAKE) build-windows BUILD_WINDOWS=$(BUILD_WINDOWS_PRODUCT) \
	  WINDOWS_CMAKE_ARGS="-DDROVER_BUILD_TESTS=OFF -DDROVER_WINDIVERT_ZIP=$(WINDIVERT_ZIP)"
	cd $(BUILD_WINDOWS_PRODUCT) && cpack -G NSIS64
	@ls $(BUILD_WINDOWS_PRODUCT)/Drover-*-setup*.exe

# The Debian package (docs/desktop.md), from the product build (make build):
# sudo apt install ./build-run/drover_VERSION_amd64.deb
package-linux: build
	scripts/setup.sh package
	cd $(BUILD_RUN) && cpack -G DEB
	@ls $(BUILD_RUN)/drover_*_amd64.deb

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(BUILD_RUN) $(BUILD_WINDOWS) $(BUILD_WINDOWS_PRODUCT) $(BUILD_ASAN) $(BUILD_FUZZ)
