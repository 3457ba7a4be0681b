# The front door: make, make run, make test, make sim SEEDS=N, make bench, make fuzz.
# Each target installs missing Debian packages first (when root), then builds with meson.

BUILD    ?= build
ASAN     ?= build-asan
FUZZ     ?= build-fuzz
SEEDS    ?= 200
PYTHON   ?= /usr/bin/python3
RUN_ARGS ?=

.PHONY: all deps run test test-unit test-asan sim soak bench fuzz clean format

# Module folders are picked up at configure time: reconfigure when the set of
# meson.build files changes (a new module or test folder).
MESON_FILES := $(shell find src tests bench -name meson.build 2>/dev/null | sort)

all: $(BUILD)/build.ninja
	@echo "$(MESON_FILES)" | cmp -s - $(BUILD)/.meson-files || { \
	    meson setup --reconfigure $(BUILD) >/dev/null && echo "$(MESON_FILES)" > $(BUILD)/.meson-files; }
	ninja -C $(BUILD)

deps:
	@scripts/deps.sh build

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) --buildtype=debugoptimized

run: all
	$(BUILD)/cairn agent -dev $(RUN_ARGS)

test:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory all
	@$(PYTHON) tests/run.py --build $(BUILD)

# Unit tests and simulators under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan:
	@scripts/deps.sh test
	@[ -f $(ASAN)/build.ninja ] || CC=clang meson setup $(ASAN) --buildtype=debug \
	    -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
	@echo "$(MESON_FILES)" | cmp -s - $(ASAN)/.meson-files || { \
	    meson setup --reconfigure $(ASAN) >/dev/null && echo "$(MESON_FILES)" > $(ASAN)/.meson-files; }
	@ninja -C $(ASAN) >/dev/null
	@UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
	    $(PYTHON) tests/run.py --build $(ASAN) --parts unit,sim --sim-seeds 50

sim: all
	@$(PYTHON) tests/run.py --build $(BUILD) --parts sim --sim-seeds $(SEEDS)

soak: all
	@$(PYTHON) tests/run.py --build $(BUILD) --parts sim --sim-seeds 100000

bench:
	@scripts/deps.sh bench
	@[ -f build-release/build.ninja ] || meson setup build-release --buildtype=release >/dev/null
	@ninja -C build-release
	@$(PYTHON) bench/run.py --build build-release

fuzz:
	@scripts/deps.sh fuzz
	@[ -f $(FUZZ)/build.ninja ] || CC=clang meson setup $(FUZZ) --buildtype=debugoptimized \
	    -Dfuzz=true -Db_lundef=false >/dev/null
	@ninja -C $(FUZZ)
	@$(PYTHON) tests/fuzz/run.py --build $(FUZZ)

format:
	clang-format -i $$(git ls-files 'src/*.[ch]' 'tests/*.[ch]' 'bench/*.[ch]')

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZ) build-release
