# LER ecosystem — the commands a developer and CI type.  `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
# uv from PATH, or the module pip installed when it was missing (pyenv may not have a shim yet).
UV = $(shell command -v uv 2>/dev/null || echo python3 -m uv)
PYTEST_ARGS ?=

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: setup
setup: ## Bootstrap from a fresh clone: uv (via pip if missing) and the locked workspace
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync

.PHONY: infra
infra: ## Install when missing and start PostgreSQL and Kafka on loopback
	deploy/local/infra.sh up

.PHONY: infra-down
infra-down: ## Stop PostgreSQL and Kafka started by `make infra`
	deploy/local/infra.sh down

.PHONY: test
test: setup helm infra ## Every test tier: unit, contracts, integration (real PostgreSQL + Kafka) and processes
	set -a; source var/infra.env; set +a; $(UV) run pytest -q $(PYTEST_ARGS)

.PHONY: test-unit
test-unit: setup helm ## Quick tier: no servers, no long-running tests
	$(UV) run pytest -q -m "not real and not slow" $(PYTEST_ARGS)

.PHONY: lock
lock: ## Re-resolve (at the exclude-newer date) and rewrite requirements.lock
	$(UV) lock
	$(UV) export --frozen --format requirements-txt --no-emit-workspace --all-groups --no-header -o requirements.lock

.PHONY: protos
protos: setup ## Regenerate Python code and typed stubs from protos/
	$(UV) run python scripts/gen_protos.py

.PHONY: tools
tools: ## Install buf (npm) into tools/node_modules
	tools/install.sh

.PHONY: helm
helm: ## Build the pinned helm into tools/bin (Go module proxy)
	tools/helm.sh

.PHONY: ghz
ghz: ## Build the pinned ghz (gRPC load generator, for make bench) into tools/bin (Go module proxy)
	tools/ghz.sh

.PHONY: lint
lint: setup tools helm ## buf lint, helm lint, generated-code freshness, lock freshness, ruff
	tools/node_modules/.bin/buf lint
	tools/bin/helm lint --strict charts/ler
	tools/bin/helm lint --strict charts/ler -f charts/ler/values-production.yaml
	$(UV) run python scripts/gen_protos.py --check
	$(UV) export --frozen --format requirements-txt --no-emit-workspace --all-groups --no-header | diff -u requirements.lock - && echo "requirements.lock is current"
	$(UV) run ruff check libs services tests bench scripts

.PHONY: breaking
breaking: tools ## buf breaking (WIRE_JSON) against main
	tools/buf-breaking.sh main

.PHONY: demo
demo: setup ## The story in one process, nothing to install beyond Python
	$(UV) run ler demo

.PHONY: up
up: setup infra ## The real stack: PostgreSQL, Kafka and the four services as processes
	deploy/local/services.sh start

.PHONY: journey
journey: up ## The demo's story on the real stack (make up first); prints the journey's trace id
	set -a; source var/run/credentials.env; set +a; $(UV) run ler journey

.PHONY: down
down: ## Stop what `make up` started (by pid)
	-deploy/local/services.sh stop
	deploy/local/infra.sh down

.PHONY: bench
bench: setup infra ghz ## All benchmarks and peak service memory -> bench/report.{md,json,svg}
	set -a; source var/infra.env; set +a; $(UV) run python bench/report.py
