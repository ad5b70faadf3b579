# gemmachat — build, test, sanitizers.  Sources are picked up by folder, so adding a file needs no edit here.
CC      ?= cc
PKGS     = json-c libpcre2-8 openblas ncursesw readline
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -ljson-c -lpcre2-8 -lopenblas -lncursesw -lreadline)
OPT     ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra $(OPT) -pthread -I. $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS  += $(PKG_LIBS) -lm -pthread
# SIMD kernels are compiled for AVX2+FMA+F16C and chosen at run time; everything else is portable.
SIMD_FLAGS = -mavx2 -mfma -mf16c

B       ?= build
BIN     ?= bin
LIB_SRC  = $(wildcard kernels/*.c model/*.c tokenizer/*.c) $(filter-out app/gemmachat.c app/gemmatool.c,$(wildcard app/*.c))
LIB_OBJ  = $(LIB_SRC:%.c=$(B)/%.o)
TEST_SRC = $(wildcard tests/test_*.c)
TEST_BIN = $(TEST_SRC:tests/%.c=$(B)/tests/%)
DEMO_DIR = $(CURDIR)/models/tiny-chat

.PHONY: all test asan clean testdata fuzz fuzz-build tsan
all: $(BIN)/gemmachat $(BIN)/gemmatool $(TEST_BIN)

$(B)/%_avx2.o: %_avx2.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SIMD_FLAGS) -MMD -MP -c $< -o $@
$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DGC_DEMO_DIR='"$(DEMO_DIR)"' -MMD -MP -c $< -o $@

$(B)/libgemma.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/%: $(B)/app/%.o $(B)/libgemma.a
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
$(B)/tests/%: tests/%.c tests/t.h $(B)/libgemma.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libgemma.a $(LDLIBS)

# Fixtures are kept compressed in tests/data and unpacked here before the tests run.
testdata:
	@sh tests/unpack.sh $(B)/testdata

test: all testdata
	@sh tests/run.sh $(B) $(BIN) $(T)

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer, in its own build tree.
asan:
	$(MAKE) B=build-asan OPT='-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined' \
	  LDLIBS_EXTRA= bin-asan
bin-asan: $(B)/libgemma.a $(TEST_BIN) $(B)/app/gemmachat.o $(B)/app/gemmatool.o
	@mkdir -p $(B)/bin
	$(CC) $(CFLAGS) -o $(B)/bin/gemmachat $(B)/app/gemmachat.o $(B)/libgemma.a $(LDLIBS)
	$(CC) $(CFLAGS) -o $(B)/bin/gemmatool $(B)/app/gemmatool.o $(B)/libgemma.a $(LDLIBS)
	@sh tests/unpack.sh $(B)/testdata
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 GC_SANITIZED=1 sh tests/run.sh $(B) $(B)/bin

# Fuzzing (tests/fuzz, docs/hardening.md): every tests/fuzz/fuzz_*.c built with clang, libFuzzer, ASan and
# UBSan against the library compiled the same way in $(FUZZ_B), then each run FUZZ_SECONDS on its seeds.
FUZZ_B       ?= build-fuzz
FUZZ_SECONDS ?= 30
FUZZ_TARGETS  = $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
fuzz:
	$(MAKE) B=$(FUZZ_B) CC=clang OPT='-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined -fsanitize=fuzzer-no-link' fuzz-build
	@sh tests/unpack.sh $(FUZZ_B)/testdata
	@sh tests/fuzz/run.sh $(FUZZ_B) $(FUZZ_SECONDS) $(FUZZ_TARGETS)
fuzz-build: $(FUZZ_TARGETS:%=$(B)/fuzz/%)
# The kernels are no fuzz target and use gcc-only builtins (clang 14: __builtin_cpu_supports("f16c"),
# non-constant rounding modes): gcc compiles them, uninstrumented.
$(FUZZ_B)/kernels/%.o: override CC = gcc
$(FUZZ_B)/kernels/%.o: override OPT = -O2 -g
# The replay test (tests/test_fuzz_replay.c) includes the targets.
$(B)/tests/test_fuzz_replay: $(wildcard tests/fuzz/*.c tests/fuzz/*.h)
$(B)/fuzz/%: tests/fuzz/%.c $(wildcard tests/fuzz/*.h) $(B)/libgemma.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(B)/libgemma.a $(LDLIBS)

# ThreadSanitizer over the threaded kernels and the golden decoder test, in their own build tree.
TSAN_TESTS = test_kernels test_golden
tsan:
	$(MAKE) B=build-tsan OPT='-O1 -g -fsanitize=thread' $(TSAN_TESTS:%=build-tsan/tests/%)
	@sh tests/unpack.sh build-tsan/testdata
	@export GC_TESTDATA=$(CURDIR)/build-tsan/testdata GC_ROOT=$(CURDIR); st=0; for t in $(TSAN_TESTS); do \
	  TSAN_OPTIONS='halt_on_error=1 second_deadlock_stack=1' build-tsan/tests/$$t > build-tsan/$$t.log 2>&1 || st=1; \
	  echo "$$t: $$(grep -c '^PASS' build-tsan/$$t.log) passed, $$(grep -c '^FAIL' build-tsan/$$t.log) failed," \
	    "$$(grep -c 'WARNING: ThreadSanitizer' build-tsan/$$t.log) data races (log: build-tsan/$$t.log)"; done; exit $$st

clean:
	rm -rf build build-asan bin

-include $(LIB_OBJ:.o=.d)
