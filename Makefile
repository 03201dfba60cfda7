# pgqrs-c build. `make` builds the library and CLI; `make test` runs every suite
# against real PostgreSQL and SQLite (installing what is missing); `make run` runs
# the quickstart on the embedded default. See README.md.

CC       ?= cc
PYTHON   ?= python3
PREFIX   ?= /usr/local
BUILD    ?= build
SANITIZE ?=
CFLAGS   ?= -O2 -g
WARN      = -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
PG_INC   := $(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
CPPFLAGS += -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iinclude -Isrc -Igenerated -I$(PG_INC)
ALL_CFLAGS = $(WARN) $(CFLAGS) $(SANITIZE) -fPIC -fvisibility=hidden
LDFLAGS  += $(SANITIZE)

# Backends (all on by default). One left out is neither compiled nor linked:
# `make WITH_POSTGRES=0 WITH_TURSO=0` needs only libsqlite3 and libjansson, and
# connecting with that backend's DSN returns PGQRS_ENOTSUPPORTED. Use a separate
# BUILD directory per combination.
WITH_POSTGRES ?= 1
WITH_SQLITE   ?= 1
WITH_TURSO    ?= 1
on = $(filter 1,$(1))
CPPFLAGS += -DPGQRS_WITH_POSTGRES=$(WITH_POSTGRES) -DPGQRS_WITH_SQLITE=$(WITH_SQLITE) -DPGQRS_WITH_TURSO=$(WITH_TURSO)
LIBS      = $(if $(call on,$(WITH_POSTGRES)),-lpq) $(if $(call on,$(WITH_SQLITE)),-lsqlite3) -ljansson \
            $(if $(call on,$(WITH_TURSO)),-lcurl) -lmicrohttpd -lpthread
BACKEND_OFF_SRC := $(if $(call on,$(WITH_POSTGRES)),,$(wildcard src/drivers/postgres*.c) generated/queries_postgres.c) \
                   $(if $(call on,$(WITH_SQLITE)),,$(wildcard src/drivers/sqlite*.c) generated/queries_sqlite.c tests/test_faults.c) \
                   $(if $(call on,$(WITH_TURSO)),,$(wildcard src/drivers/turso*.c) generated/queries_turso.c tests/test_turso.c)

# src/<layer>/*.c is the library (src/cli is the tool); see src/README.md for the layers.
LIB_DIRS := base drivers queue workflow schedule runtime server
LIB_SRC  := $(filter-out $(BACKEND_OFF_SRC),$(sort $(foreach d,$(LIB_DIRS),$(wildcard src/$(d)/*.c))) $(sort $(wildcard generated/*.c)))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC := $(filter-out $(BACKEND_OFF_SRC),$(sort $(wildcard tests/test_*.c)))
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/%)
TEST_SUPPORT := $(BUILD)/obj/tests/harness.o $(BUILD)/obj/tests/proxy.o
EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))
GEN_INPUTS := $(wildcard include/pgqrs.h schema/*.toml queries/*/*.sql migrations/*/*.sql codegen/*.py codegen/pgqrs_codegen/*.py)

.PHONY: print-libs all lib cli tests examples generate check-generated verify-queries test run bench install clean codegen-test

all: lib $(if $(CLI_SRC),cli) examples

lib: $(BUILD)/libpgqrs.a $(BUILD)/libpgqrs.so
cli: $(BUILD)/pgqrs
tests: $(TEST_BIN)
examples: $(EXAMPLES)

$(BUILD)/obj/%.o: %.c $(wildcard include/*.h src/*/*.h generated/*.h tests/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libpgqrs.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libpgqrs.so: $(LIB_OBJ)
	$(CC) -shared $(LDFLAGS) -Wl,-soname,libpgqrs.so.0 -o $@ $^ $(LIBS)

$(BUILD)/pgqrs: $(CLI_OBJ) $(BUILD)/libpgqrs.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libpgqrs.a $(LIBS)

$(BUILD)/test_%: $(BUILD)/obj/tests/test_%.o $(TEST_SUPPORT) $(BUILD)/libpgqrs.a
	$(CC) $(LDFLAGS) -o $@ $< $(TEST_SUPPORT) $(BUILD)/libpgqrs.a $(LIBS)

$(BUILD)/examples/%: $(BUILD)/obj/examples/%.o $(BUILD)/libpgqrs.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/libpgqrs.a $(LIBS)

# The link line a program using build/libpgqrs.a needs (scripts read it from here).
print-libs:
	@echo $(LIBS)

generate:
	$(PYTHON) codegen/pgqrs_gen.py

check-generated:
	$(PYTHON) codegen/pgqrs_gen.py --check

codegen-test:
	cd codegen && $(PYTHON) -m unittest discover -s tests -t . -q

# Prepares every PostgreSQL query against a freshly migrated throwaway cluster.
verify-queries:
	scripts/with-postgres.sh $(PYTHON) codegen/verify_pg.py

test:
	scripts/test.sh

# One backend's C suites (with the build's WITH_* settings): PostgreSQL directly
# and through PgBouncer, SQLite on a file and in memory.
.PHONY: test-postgres test-sqlite
test-postgres: tests
	scripts/deps.sh
	scripts/with-postgres.sh bash -c 'scripts/run-suites.sh $(BUILD) postgres && \
	    scripts/with-pgbouncer.sh scripts/run-suites.sh $(BUILD) pgbouncer'
test-sqlite: tests
	scripts/run-suites.sh $(BUILD) sqlite sqlite-memory

# Every C suite against Turso's own server (tursodb, installed into .tools/ by npm).
.PHONY: test-turso
test-turso: tests
	scripts/with-turso.sh scripts/run-suites.sh $(BUILD) turso

bench: lib
	bench/run.sh $(if $(QUICK),--quick)

run:
	scripts/deps.sh
	$(MAKE) -s examples
	scripts/run-quickstart.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(BUILD)/libpgqrs.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libpgqrs.so $(DESTDIR)$(PREFIX)/lib/libpgqrs.so.0
	ln -sf libpgqrs.so.0 $(DESTDIR)$(PREFIX)/lib/libpgqrs.so
	install -m 644 include/pgqrs.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(BUILD)/pgqrs $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(shell sed -n 's/#define PGQRS_VERSION "\(.*\)"/\1/p' include/pgqrs.h)|' \
	    -e 's|@LIBS@|$(LIBS)|' pgqrs.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/pgqrs.pc

clean:
	rm -rf $(BUILD) build-*

# The Python package (python/pgqrs, ctypes): the library next to it. rm first, so a
# process that has the old copy mapped keeps its inode instead of seeing it rewritten.
.PHONY: python
python: lib
	rm -f python/pgqrs/libpgqrs.so
	cp $(BUILD)/libpgqrs.so python/pgqrs/libpgqrs.so

# ---- Reliability (docs/reliability.md): chaos runs, fuzzing, static analysis ----
# `make chaos`: the long fault-injection runs (scripts/chaos.sh; `make test` runs
# a short version). `make fuzz`: every libFuzzer target for FUZZ_SECONDS each
# (scripts/fuzz.sh). `make lint`: cppcheck and clang-tidy over src/ and generated/.
.PHONY: chaos chaos-bin fuzz lint
chaos-bin: $(BUILD)/pgqrs-chaos
$(BUILD)/pgqrs-chaos: $(BUILD)/obj/tests/chaos/chaos.o $(BUILD)/libpgqrs.a
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/libpgqrs.a $(LIBS)
chaos:
	scripts/chaos.sh
fuzz:
	scripts/fuzz.sh
lint:
	scripts/lint.sh
