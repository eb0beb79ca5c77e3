# The two commands: `make run` and `make test`. Everything else is set up on the way.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
KAFKA := $(BIN)/python -m local_kafka
#: make run WORKERS=2: workers of each service (cart on 8000, 8002 …; orders on 8001, 8003 …).
WORKERS ?= 1
#: make run BROKERS=3: a three-node KRaft cluster on 9092, 9094, 9096 (controllers on the next ports).
BROKERS ?= 1
CHROMIUM := /usr/bin/chromium
CHROMEDRIVER := /usr/bin/chromedriver
#: The C load generator of the bench's wrk scenario (Debian's package wrk).
WRK := /usr/bin/wrk

.PHONY: run test unit lint fetch browser wrk bench docker-test kafka-topics kafka-console-consumer dlq clean

$(INSTALLED): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,dev]"
	touch $@

## Fetch Apache Kafka and Apicurio Registry from Maven Central into .cache (once).
fetch: $(INSTALLED)
	$(KAFKA) fetch
	$(KAFKA) fetch-registry

## Kafka (KRaft) on 9092, the registry on 8081, the topics, cart on 8000, orders on
## 8001; Ctrl-C stops all.
run: fetch
	$(BIN)/python -m local_kafka.launcher --workers $(WORKERS) --brokers $(BROKERS)

## Debian's chromium and chromedriver, for the browser test of /docs: installed with
## apt-get when missing and we are root, otherwise one line saying what to install.
browser:
	@if [ -x $(CHROMIUM) ] && [ -x $(CHROMEDRIVER) ]; then exit 0; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver; \
	else \
		echo "make test needs $(CHROMIUM) and $(CHROMEDRIVER): install Debian's packages chromium and chromium-driver (as root: apt-get install chromium chromium-driver)" >&2; \
		exit 1; \
	fi

## The whole suite: unit tests, then integration tests against a real broker and registry
## (and the API docs page in headless chromium).
test: fetch browser
	$(BIN)/python -m pytest

## Build and drive both compose stacks on a real Docker engine with Compose v2
## (docker/stackcheck); e.g. ARGS="--stack one". Says so and fails if there is no engine.
docker-test:
	@PYTHONPATH=docker $(PYTHON) -m stackcheck.engine
	@$(MAKE) --no-print-directory fetch
	PYTHONPATH=docker:. $(BIN)/python -m stackcheck $(ARGS)

unit: $(INSTALLED)
	$(BIN)/python -m pytest tests/unit

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/yamllint -s -c docker/yamllint.yml docker-compose.yml docker-compose.cluster.yml

## Kafka's own CLI against the local broker, e.g. make kafka-topics ARGS="--list"
kafka-topics: fetch
	$(KAFKA) tool topics $(ARGS)

## Print a topic with its keys, e.g. make kafka-console-consumer TOPIC=order-events
kafka-console-consumer: fetch
	$(KAFKA) tool console-consumer --topic $(or $(TOPIC),order-events) --from-beginning $(ARGS)

## Dead letters on the local broker (docs/operations.md): make dlq ARGS="list",
## ARGS="show 0:12", ARGS="replay --from 0:12 --to 0:15", ARGS="list --topic order-commands.DLQ"
dlq: $(INSTALLED)
	$(BIN)/python -m app.dead_letter_redrive $(ARGS)

## Debian's wrk, the C load generator of the bench's wrk scenario: installed with apt-get
## when missing and we are root, otherwise one line saying what to install.
wrk:
	@if [ -x $(WRK) ]; then exit 0; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk; \
	else \
		echo "make bench needs $(WRK): install Debian's package wrk (as root: apt-get install wrk)" >&2; \
		exit 1; \
	fi

## Benchmarks against baselines measured in the same run (~12 min on 2 cores); results in
## bench/results/. E.g. make bench ARGS="--quick", ARGS="--only scan --keep".
bench: fetch wrk
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf .data
