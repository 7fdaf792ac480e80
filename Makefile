# The two commands a new user needs: `make demo` and `make test`. Both create .venv and install
# the pinned dependencies (constraints.txt) from PyPI first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DEMO_DIR := .securebank/demo
DEMO_TRANSACTIONS ?= 200000

CHECKOV := .venv-checkov
CHECKOV_INSTALLED := $(CHECKOV)/.installed
# The local AWS (securebank/local/stack.py): dynalite + kinesalite from npm (lockfile, Node 20),
# MiniStack in its own pinned virtualenv (it pins botocore), moto in .venv.
MINISTACK := .venv-ministack
MINISTACK_INSTALLED := $(MINISTACK)/.installed
NODE_INSTALLED := local-aws/node_modules/.installed

.PHONY: install install-local-aws demo test test-slow lint lint-terraform format bench lock clean browser

$(INSTALLED): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(INSTALLED)

$(MINISTACK_INSTALLED): local-aws/ministack-requirements.txt
	$(PYTHON) -m venv $(MINISTACK)
	$(MINISTACK)/bin/python -m pip install --quiet --disable-pip-version-check -r local-aws/ministack-requirements.txt
	touch $(MINISTACK_INSTALLED)

$(NODE_INSTALLED): local-aws/package.json local-aws/package-lock.json
	@node --version | grep -q '^v20\.' || { echo "Node 20 is required (found $$(node --version))"; exit 1; }
	cd local-aws && npm ci --no-audit --no-fund
	touch $(NODE_INSTALLED)

install-local-aws: $(MINISTACK_INSTALLED) $(NODE_INSTALLED)

install: $(INSTALLED) install-local-aws

demo: install
	$(BIN)/securebank demo --transactions $(DEMO_TRANSACTIONS) --home $(DEMO_DIR)

test: install lint lint-terraform browser
	$(BIN)/python -m pytest

# The analyst console's test drives a real browser: Debian's chromium and its driver, installed
# only when missing (apt-get needs root, or sudo).
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	fi

test-slow: install
	$(BIN)/python -m pytest -m slow

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# checkov lives in its own pinned virtualenv: its dependencies would fight the platform's pins.
$(CHECKOV_INSTALLED): terraform/checkov-requirements.txt
	$(PYTHON) -m venv $(CHECKOV)
	$(CHECKOV)/bin/python -m pip install --quiet --disable-pip-version-check -r terraform/checkov-requirements.txt
	touch $(CHECKOV_INSTALLED)

lint-terraform: $(CHECKOV_INSTALLED)
	@if command -v terraform >/dev/null; then terraform fmt -check -recursive terraform; \
	else echo "terraform not installed: skipping terraform fmt -check"; fi
	$(CHECKOV)/bin/checkov -d terraform --framework terraform --quiet --compact --skip-download

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python benchmarks/simulate.py
	$(BIN)/python benchmarks/features.py
	$(BIN)/python benchmarks/pipeline.py
	$(BIN)/python benchmarks/backtest.py
	$(BIN)/python benchmarks/serving.py
	$(BIN)/python benchmarks/stream.py
	$(BIN)/python benchmarks/local_aws.py
	$(BIN)/python benchmarks/compaction.py
	$(BIN)/python benchmarks/importer.py
	$(BIN)/python benchmarks/rules.py
	$(BIN)/python benchmarks/replay.py
	$(BIN)/python benchmarks/chaos.py

lock: install
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^securebank' > constraints.txt

clean:
	rm -rf $(VENV) $(CHECKOV) $(MINISTACK) local-aws/node_modules .securebank .pytest_cache .ruff_cache
