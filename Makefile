# The two commands of the README: `make run` and `make test`. Everything else is plumbing.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# Two installs in one venv: `make run` needs the platform and its local servers (`.[local]`),
# `make test` (and CI, lint, chaos, bench) the test tooling too (`.[dev]`, which holds both).
RUN_INSTALLED := $(VENV)/.installed-run
INSTALLED := $(VENV)/.installed

EMBEDDED ?= 0
# The chaos ledger pass `make chaos` runs: full fault counts, or light (as in `make test`).
CHAOS_MODE ?= full
LOCAL_DIR ?= $(CURDIR)/.local
FLOWER_PORT ?= 5555
DEMO ?= 1

.PHONY: run test lint clean doctor

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_INSTALLED): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e '.[local]'
	touch $@

$(INSTALLED): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@ $(RUN_INSTALLED)

## run: the platform in the foreground (workers, beat, Flower); Ctrl-C stops it
run: $(RUN_INSTALLED)
	@$(BIN)/python -m devstack.run --embedded=$(EMBEDDED) --local-dir=$(LOCAL_DIR) \
		--flower-port=$(FLOWER_PORT) --demo=$(DEMO)

## doctor: the runbook's `celery -A config doctor`, with the settings of the last `make run`
## (LOCAL_DIR/activate; the environment's own without one); ARGS= passes options
doctor: $(RUN_INSTALLED)
	@if [ -f $(LOCAL_DIR)/activate ]; then . $(LOCAL_DIR)/activate; fi; \
		$(BIN)/celery -A config doctor $(ARGS)

## test: lint, then the whole suite against real Redis, Postgres and workers
test: $(INSTALLED) lint
	$(BIN)/pytest $(PYTEST_ARGS)

## chaos: the chaos ledger suite (tests/chaos), CHAOS_MODE=full by default; results: CHAOS_RESULTS
.PHONY: chaos
chaos: $(INSTALLED)
	CHAOS=$(CHAOS_MODE) $(BIN)/pytest -m chaos tests/chaos $(PYTEST_ARGS)

## test-rabbitmq: the routing, retry, delivery, dead-letter, beat and domain suites, and
## RabbitMQ's own tests, with BROKER_URL on a vhost of the machine's RabbitMQ (Redis keeps results)
RABBITMQ_TESTS ?= tests/integration/test_routing.py tests/integration/test_retries.py \
	tests/integration/test_delivery.py tests/integration/test_deadletter_capture.py \
	tests/integration/test_rabbitmq.py tests/integration/test_ops_tools.py \
	tests/integration/test_beat.py tests/integration/test_logs_and_sentry.py \
	tests/integration/test_job_status.py tests/integration/test_deadletter_integrity.py \
	tests/integration/test_deadletter_secrets.py tests/integration/test_deadletter_spool.py \
	tests/integration/test_email_tasks.py tests/integration/test_crm_tasks.py \
	tests/integration/test_quote_tasks.py tests/integration/test_search_tasks.py \
	tests/acceptance/test_procfile.py tests/acceptance/test_overview_web.py
.PHONY: test-rabbitmq
test-rabbitmq: $(INSTALLED)
	TEST_RABBITMQ=1 $(BIN)/pytest $(RABBITMQ_TESTS) $(PYTEST_ARGS)

## conformance: kombu's Redis suite and Celery's core integration suites, on kombu's transport
## and on the platform's, compared test by test (SUITES="kombu celery canvas" for all three);
## CONFORMANCE_ARGS=--baseline runs the platform's pass only, against the recorded kombu pass
SUITES ?= kombu celery
CONFORMANCE_INSTALLED := $(VENV)/.installed-conformance
$(CONFORMANCE_INSTALLED): $(INSTALLED)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[conformance]'
	touch $@

.PHONY: conformance
conformance: $(CONFORMANCE_INSTALLED)
	$(BIN)/python -m tests.conformance.run $(foreach s,$(SUITES),--suite $(s)) $(CONFORMANCE_ARGS)

## bench: the platform against bare Celery, Dramatiq and the Redis floor (a tool, not a test)
.PHONY: bench
bench: $(INSTALLED)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[bench]'
	$(BIN)/python -m bench.run $(BENCH_ARGS)
	$(BIN)/python -m bench.outbox

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
