# berth: a hosted hypervisor on KVM.
#   make            build build/berth and the test guests
#   make run        install what is missing, build, boot the default guest
#   make test       install what is missing, build, run every test
#   make check      unit tests under ASan and UBSan
#   make install    install berth and its guests under PREFIX

PREFIX   ?= /usr/local
BUILD    ?= build
CC       ?= gcc
CFLAGS   ?= -O2 -g
BERTH_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE \
	-fno-strict-aliasing -Isrc -MMD -MP \
	-DBERTH_GUEST_DIR='"$(PREFIX)/share/berth/guests"' \
	-DBERTH_BIN_DIR='"$(PREFIX)/bin"'
# berth (the VMM) links only what a VM needs; berthd adds the daemon's and
# the client's libraries, which would double a tiny VM's start-up cost.
CORE_LIBS := -lpthread -luring -lz -lbz2 -llzma -llz4 -lzstd -ljson-c
# The VMM links Debian's static archives of these: a shared library costs
# its loader-touched pages in every VM (about 85 KiB each) whether or not
# the VM ever decompresses a bzImage or answers its control socket.
BERTH_LIBS := -Wl,-Bstatic -luring -lz -lbz2 -llzma -llz4 -lzstd -ljson-c \
	-Wl,-Bdynamic -lpthread
LIBS     := $(CORE_LIBS) -lmicrohttpd -lsqlite3 -lcurl
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined

SRCS     := $(filter-out src/lite/%,$(sort $(wildcard src/*.c src/*/*.c)))
LIB_SRCS := $(filter-out src/main.c,$(SRCS))
OBJS     := $(SRCS:%.c=$(BUILD)/%.o)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
SAN_OBJS := $(LIB_SRCS:%.c=$(BUILD)/san/%.o)
TESTS    := $(patsubst tests/unit/%.c,%,$(sort $(wildcard tests/unit/test_*.c)))
TEST_LIB_SRCS := $(wildcard tests/unit/lib/*.c)
TEST_BINS     := $(TESTS:%=$(BUILD)/tests/%)
SAN_TEST_BINS := $(TESTS:%=$(BUILD)/san/tests/%)
FUZZERS  := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

all: $(BUILD)/berth $(BUILD)/berthd guests

include guest/guest.mk

# berth: everything but the daemon and the client, whose commands it hands
# to berthd (src/lite/berthd_exec.c).
BERTH_OBJS := $(filter-out $(BUILD)/src/daemon/% $(BUILD)/src/client/%,$(OBJS)) \
	$(BUILD)/src/lite/berthd_exec.o
$(BUILD)/berth: $(BERTH_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(BERTH_LIBS)

# berthd: all of it; main() runs the daemon when called by that name.
$(BUILD)/berthd: $(OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BERTH_CFLAGS) -c -o $@ $<

$(BUILD)/san/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) -O1 -g $(SAN) $(BERTH_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(TEST_LIB_SRCS) $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BERTH_CFLAGS) -Itests/unit -o $@ $^ $(LIBS) -lcmocka

$(BUILD)/san/tests/%: tests/unit/%.c $(TEST_LIB_SRCS) $(SAN_OBJS)
	@mkdir -p $(dir $@)
	$(CC) -O1 -g $(SAN) $(BERTH_CFLAGS) -Itests/unit -o $@ $^ $(LIBS) -lcmocka

# libFuzzer targets: clang, coverage-guided, with ASan and UBSan.
$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_SRCS)
	@mkdir -p $(dir $@)
	clang -O1 -g -fsanitize=fuzzer,address,undefined -std=gnu11 \
		-Wall -Wextra -Werror -D_GNU_SOURCE -Isrc -o $@ $^ $(LIBS)

fuzz: $(FUZZERS)

deps:
	@scripts/install-deps.sh test

run:
	@scripts/install-deps.sh run
	@$(MAKE) --no-print-directory all
	$(BUILD)/berth run $(ARGS)

unit: $(TEST_BINS)
	@tests/run-unit.sh $(TEST_BINS)

check: $(SAN_TEST_BINS)
	@tests/run-unit.sh $(SAN_TEST_BINS)

integration: all
	@tests/integration/run.sh $(BUILD)

tests: $(TEST_BINS) $(SAN_TEST_BINS) $(FUZZERS)

test:
	@scripts/install-deps.sh test
	@$(MAKE) --no-print-directory all tests
	@tests/run-all.sh $(BUILD)

format:
	clang-format -i $(SRCS) $(wildcard src/lite/*.c src/*/*.h tests/unit/*.[ch] tests/unit/lib/*.[ch] tests/fuzz/*.c guest/*.[ch] bench/*/*.c)

format-check:
	@out=$$(for f in $(SRCS) $(wildcard src/lite/*.c src/*/*.h tests/unit/*.[ch] tests/unit/lib/*.[ch] tests/fuzz/*.c guest/*.[ch] bench/*/*.c); do \
		clang-format --dry-run "$$f" 2>&1 | grep -q . && echo "$$f"; done); \
	if [ -n "$$out" ]; then echo "clang-format would change:"; echo "$$out"; exit 1; fi

install: all
	install -D -m 755 $(BUILD)/berth $(DESTDIR)$(PREFIX)/bin/berth
	install -m 755 $(BUILD)/berthd $(DESTDIR)$(PREFIX)/bin/berthd
	install -d $(DESTDIR)$(PREFIX)/share/berth/guests
	install -m 644 $(GUEST_ELFS) $(DESTDIR)$(PREFIX)/share/berth/guests/

clean:
	rm -rf $(BUILD)

# The installer needs make itself to exist: ./dev.sh covers a bare machine.
.PHONY: all deps fuzz tests run unit check integration test format format-check install clean guests
-include $(OBJS:.o=.d) $(SAN_OBJS:.o=.d)
