# Comet Harness. `make demo` runs the shipped suites against the embedded fixture server;
# `make check` runs every test. Missing Debian packages are installed (as root) or named.

CC       ?= cc
BUILD    ?= build
PREFIX   ?= /usr/local
DEBIAN_PACKAGES := libev-dev libssl-dev libyaml-dev libcunit1-dev libjansson-dev zlib1g-dev \
                   libxml2-utils python3 pkg-config
BENCH_PACKAGES  := libhttp-parser-dev libwslay-dev

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wformat=2 -Wno-unused-parameter -Wvla
OPT      ?= -O2 -g
CFLAGS   ?=
CPPFLAGS += -D_GNU_SOURCE -Iharness -Ifixtures
ALL_CFLAGS = -std=c11 $(WARN) $(OPT) $(CFLAGS) -MMD -MP
LDLIBS   := -lev -lssl -lcrypto -lyaml -ljansson -lz -lm -lpthread

LIB_SRC  := $(sort $(filter-out harness/tests/%,$(wildcard harness/*/*.c)) $(wildcard fixtures/*.c))
MAIN_SRC := harness/main.c
TEST_SRC := $(sort $(wildcard harness/tests/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ := $(MAIN_SRC:%.c=$(BUILD)/obj/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)

# Chromium's recorded behaviour (../shared/browser-truth) and the categories comet models.
TRUTH ?= ../shared/browser-truth
TRUTH_CATEGORIES ?= xhr-readystate,xhr-progress,xhr-timeout,comet,cors,sse-connection,sse-format,ws

.PHONY: all deps check unit integration interop demo bench fuzz asan valgrind install clean browser-truth

all: deps $(BUILD)/comet

# ---- dependencies ---------------------------------------------------------------------
DEP_HEADERS := /usr/include/ev.h /usr/include/openssl/ssl.h /usr/include/yaml.h \
               /usr/include/CUnit/Basic.h /usr/include/jansson.h /usr/include/zlib.h
deps:
	@missing=""; for h in $(DEP_HEADERS); do [ -f $$h ] || missing="$$missing $$h"; done; \
	command -v xmllint >/dev/null || missing="$$missing xmllint"; \
	command -v python3 >/dev/null || missing="$$missing python3"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing: $(DEBIAN_PACKAGES)"; \
	    (apt-get install -y --no-install-recommends $(DEBIAN_PACKAGES) || \
	     (apt-get update && apt-get install -y --no-install-recommends $(DEBIAN_PACKAGES))) >$(BUILD).apt.log 2>&1 \
	     || { cat $(BUILD).apt.log; exit 1; }; \
	  else \
	    echo "missing:$$missing"; \
	    echo "run: sudo apt-get install $(DEBIAN_PACKAGES)"; exit 1; \
	  fi; \
	fi

# ---- build -----------------------------------------------------------------------------
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libcomet.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/comet: $(MAIN_OBJ) $(BUILD)/libcomet.a
	$(CC) $(ALL_CFLAGS) $^ -o $@ $(LDFLAGS) $(LDLIBS)

$(BUILD)/test_runner: $(TEST_OBJ) $(BUILD)/libcomet.a
	$(CC) $(ALL_CFLAGS) $^ -o $@ $(LDFLAGS) $(LDLIBS) -lcunit

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(TEST_OBJ:.o=.d)

# ---- tests -----------------------------------------------------------------------------
# Unit tests (CUnit) and integration runs of comet over real sockets.
check: deps $(BUILD)/comet $(BUILD)/test_runner
	cd $(CURDIR) && COMET=$(BUILD)/comet $(BUILD)/test_runner
	COMET=$(BUILD)/comet sh ci/integration.sh
	COMET=$(BUILD)/comet sh ci/cors-policy-selftest.sh
	@if [ -f $(TRUTH)/cases.json ]; then \
	  python3 ci/browser-truth $(TRUTH)/cases.json $(TRUTH)/truth.json --comet $(BUILD)/comet \
	    --only $(TRUTH_CATEGORIES) --retries 3; \
	else echo "browser-truth: no corpus at $(TRUTH) (set TRUTH=DIR): comparison skipped"; fi

unit: deps $(BUILD)/test_runner
	$(BUILD)/test_runner

integration: deps $(BUILD)/comet
	COMET=$(BUILD)/comet sh ci/integration.sh

# Real servers from Debian packages, started on loopback by the scripts.
interop: deps $(BUILD)/comet
	COMET=$(BUILD)/comet sh ci/interop-nginx.sh
	COMET=$(BUILD)/comet bash ci/interop-streams.sh

browser-truth: deps $(BUILD)/comet
	python3 ci/browser-truth $(TRUTH)/cases.json $(TRUTH)/truth.json --comet $(BUILD)/comet --only $(TRUTH_CATEGORIES) --retries 3

demo: deps $(BUILD)/comet
	@mkdir -p reports/out
	$(BUILD)/comet run scenarios/xhr scenarios/cors scenarios/sse scenarios/websocket -j 4 \
	  --json reports/out/results.json \
	  --junit reports/out/junit.xml --html reports/out/report.html

# Sanitizers: the whole test suite under ASan+UBSan in its own build tree.
asan:
	$(MAKE) BUILD=build/asan CC=clang OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  LDFLAGS="-fsanitize=address,undefined" check

valgrind: deps $(BUILD)/comet $(BUILD)/test_runner
	valgrind --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite $(BUILD)/test_runner
	@# valgrind slows comet 20-50x: timing verdicts mean nothing here (exit 1), memory errors do (9)
	valgrind --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite $(BUILD)/comet run \
	  scenarios/xhr scenarios/sse scenarios/websocket harness/tests/scenarios/sse-model.yaml \
	  harness/tests/scenarios/ws-model.yaml -q; rc=$$?; [ $$rc -le 1 ]

# ---- benchmarks and fuzzing --------------------------------------------------------------
bench: deps
	@[ -f /usr/include/http_parser.h ] && [ -f /usr/include/wslay/wslay.h ] || { [ "$$(id -u)" = 0 ] && apt-get install -y $(BENCH_PACKAGES) >/dev/null; } \
	  || { echo "run: sudo apt-get install $(BENCH_PACKAGES)"; exit 1; }
	@mkdir -p $(BUILD)
	$(CC) $(CPPFLAGS) -std=c11 -O3 -march=native -g bench/bench_http.c harness/http/http1_parser.c -o $(BUILD)/bench_http -lhttp_parser
	$(BUILD)/bench_http
	$(CC) $(CPPFLAGS) -std=c11 -O3 -march=native -g bench/bench_sse.c harness/proto/sse_parser.c \
	  harness/browser/text_decoder.c harness/util/buf.c -o $(BUILD)/bench_sse
	$(BUILD)/bench_sse
	$(CC) $(CPPFLAGS) -std=c11 -O2 -g bench/bench_ws.c harness/proto/ws_frame.c harness/util/buf.c \
	  -o $(BUILD)/bench_ws -lwslay
	$(BUILD)/bench_ws

FUZZ_TARGETS := $(basename $(notdir $(wildcard fuzz/fuzz_*.c)))
fuzz:
	@mkdir -p $(BUILD)/fuzz
	for t in $(FUZZ_TARGETS); do \
	  clang $(CPPFLAGS) -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined fuzz/$$t.c \
	    $$(sed -n 's/.*FUZZ_SOURCES:\([^*]*\).*/\1/p' fuzz/$$t.c) -o $(BUILD)/fuzz/$$t $(LDLIBS) || exit 1; \
	  mkdir -p $(BUILD)/fuzz/corpus/$$t; \
	  $(BUILD)/fuzz/$$t -max_total_time=$${FUZZ_SECONDS:-20} -max_len=4096 \
	    $(BUILD)/fuzz/corpus/$$t fuzz/corpus/$$t 2>&1 | tail -2 || exit 1; \
	done

install: all
	install -D -m 0755 $(BUILD)/comet $(DESTDIR)$(PREFIX)/bin/comet

clean:
	rm -rf build
