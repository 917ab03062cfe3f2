# Thin wrapper over CMake + ctest.  `make` builds build/zc; see README.md.
BUILD    ?= build
PREFIX   ?= /usr/local
WERROR   ?= OFF
JOBS     ?= $(shell nproc)
CMAKE_FLAGS := -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZC_WERROR=$(WERROR)
CTEST    := ctest --output-on-failure --no-tests=error -j$(JOBS)

.PHONY: all deps check check-plain check-asan check-tsan check-fuzz demo bench install clean format

all:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j$(JOBS)

deps:
	scripts/deps

# The whole suite: plain build, then ASan+UBSan, TSan (the lock-free code) and a short fuzz run.
check: deps check-plain check-asan check-tsan check-fuzz
	@echo "check: all suites passed"

check-plain: all
	cd $(BUILD) && $(CTEST)

check-asan:
	cmake -S . -B build-asan $(CMAKE_FLAGS) -DCMAKE_C_COMPILER=clang -DZC_SANITIZE=address
	cmake --build build-asan -j$(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		$(CTEST) -LE 'mpi|slow|install'

check-tsan:
	cmake -S . -B build-tsan $(CMAKE_FLAGS) -DCMAKE_C_COMPILER=clang -DZC_SANITIZE=thread
	cmake --build build-tsan -j$(JOBS)
	cd build-tsan && TSAN_OPTIONS=halt_on_error=1 $(CTEST) -L tsan

check-fuzz:
	cmake -S . -B build-fuzz $(CMAKE_FLAGS) -DCMAKE_C_COMPILER=clang -DZC_FUZZ=ON
	cmake --build build-fuzz -j$(JOBS)
	cd build-fuzz && $(CTEST) -L fuzz

demo: deps all
	$(BUILD)/zc demo --out out

bench: all
	scripts/deps bench
	scripts/bench-all

# Compositing at simulated scale (SimGrid SMPI); RANKS, SIZES, ... as in bench/composite_scale.sh.
.PHONY: bench-scale
bench-scale: all
	scripts/deps bench
	bench/composite_scale.sh $(BUILD)

install: all
	cmake --install $(BUILD) --prefix $(PREFIX)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-tsan build-fuzz
