# Drover's entry points. On a fresh Debian 12 machine:
#   make run    installs what is missing, builds, and starts Drover
#   make test   installs what is missing, builds both toolchains, runs every test
.PHONY: run test build build-windows test-native test-windows format clean

JOBS ?= $(shell nproc)
BUILD ?= build
BUILD_WINDOWS ?= build-windows
ARGS ?= --headless

run: build
	./$(BUILD)/app/drover $(ARGS)

build:
	scripts/setup.sh run
	cmake -S . -B $(BUILD) -G Ninja -DDROVER_WERROR=ON
	cmake --build $(BUILD) -j $(JOBS)

test:
	scripts/setup.sh test
	$(MAKE) test-native test-windows

test-native:
	cmake -S . -B $(BUILD) -G Ninja -DDROVER_WERROR=ON
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest -j $(JOBS) --output-on-failure

build-windows:
	caf_root=$$(scripts/build-caf-mingw.sh) && \
	cmake -S . -B $(BUILD_WINDOWS) -G Ninja -DDROVER_WERROR=ON \
	  -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw64.cmake \
	  -DCAF_ROOT=$$caf_root -DDROVER_BUILD_BENCH=OFF
	cmake --build $(BUILD_WINDOWS) -j $(JOBS)

test-windows: build-windows
	cd $(BUILD_WINDOWS) && ctest -j $(JOBS) --output-on-failure

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(BUILD_WINDOWS)
