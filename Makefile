# escalation: PGXS build
EXTENSION = escalation
MODULE_big = escalation
OBJS = \
	$(WIN32RES) \
	src/escalation.o \
	src/guc.o \
	src/catalog.o \
	src/textpass.o \
	src/bigmem.o \
	src/tokenize.o \
	src/row.o \
	src/ticket_lock.o \
	src/own_rel.o \
	src/subxact.o \
	src/rules.o \
	src/shape.o \
	src/literal.o \
	src/record.o \
	src/pending.o \
	src/direct_insert.o \
	src/context.o \
	src/jsonb_build.o \
	src/trigger.o \
	src/journey.o \
	src/funcs.o \
	src/calendar.o \
	src/sla.o \
	src/sla_backfill.o \
	src/sla_message.o \
	src/facts.o \
	src/histogram.o \
	src/tenant.o \
	src/sentiment.o \
	src/sentiment_lexicon.o \
	src/sentiment_funcs.o \
	src/triage.o \
	src/triage_learn.o \
	src/triage_funcs.o \
	src/ts_config.o \
	src/shmem.o \
	src/launcher.o \
	src/worker.o \
	src/ddl.o \
	src/status.o \
	src/wake.o \
	src/route.o \
	src/route_data.o \
	src/route_due.o \
	src/probe.o \
	src/route_funcs.o
PGFILEDESC = "escalation - escalation management for helpdesks in PostgreSQL"

DATA = $(wildcard escalation--*.sql)
DOCS = README.md

PG_CPPFLAGS = -I$(srcdir)/src

# pg_regress: one topic per file, run in this order
REGRESS = setup attach rules keywords fields_accounts messages context transitions explain \
          cache bad_input bad_input_catalogue privileges calendar sla sentiment routing metrics metrics_percentiles dashboard chatwoot znuny triage textpass \
          sla_message direct_records defer merge_reasons pattern_shapes ticket_lock clock_failures

ISOLATION = $(patsubst test/isolation/specs/%.spec,%,$(wildcard test/isolation/specs/*.spec))
ISOLATION_OPTS = --inputdir=test/isolation --outputdir=test/isolation/output_iso --load-extension=escalation

EXTRA_CLEAN = results regression.diffs regression.out test/isolation/output_iso tmp_check

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS passes --dbname=$(CONTRIB_TESTDB) to pg_regress; name ours
CONTRIB_TESTDB = escalation_regression

# PGXS does not track header dependencies
$(OBJS): src/escalation.h src/compat.h
src/sentiment.o src/sentiment_lexicon.o: src/sentiment_lexicon.h
src/route_data.o src/route_funcs.o: src/route_data.h
src/sla.o src/sla_message.o: src/sla_message.h

# src/sentiment_lexicon.c is generated from data/sentiment/ and committed,
# so that building needs no Python; `make lexicon` regenerates it.
.PHONY: lexicon
lexicon:
	python3 scripts/gen_sentiment_lexicon.py

ifeq ($(shell test $(VERSION_NUM) -lt 130000 && echo old),old)
$(error escalation needs PostgreSQL 13 or later)
endif

.PHONY: demo test pgtap bench

# The two commands the README opens with.
demo:
	scripts/demo.sh

test:
	scripts/test.sh

# pgTAP against an already running, preloaded server (used by scripts/test.sh)
pgtap:
	pg_prove --ext .sql --failures test/pgtap
