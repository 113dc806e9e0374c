# The two commands that matter: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROTOS := $(wildcard protos/craftkit/v1/*.proto)

.PHONY: run test unit integration bench chaos gallery screenshots chromium promtool proto proto-check lock clean

run: $(STAMP)
	$(PY) -m craftkit.devstack

test: $(STAMP) chromium promtool proto-check
	$(PY) -m pytest

unit: $(STAMP) promtool
	$(PY) -m pytest tests/unit

integration: $(STAMP) chromium
	$(PY) -m pytest tests/integration

bench: $(STAMP)
	$(PY) -m bench

# docs/gallery/*.png: page 1 of every sample with its example data (the visual tests' references).
gallery: $(STAMP)
	$(PY) -m tests.visual

# docs/dashboard/*.png: every dashboard page, from the browser steps of its end-to-end test.
screenshots: $(STAMP)
	$(PY) -m tests.dashboard_screenshots

# 1,000 renders while services, the broker and S3 are killed; prints one summary line (minutes).
chaos: $(STAMP)
	$(PY) -m bench.chaos

# Debian's Chromium for the browser tests: /usr/bin/chromium when installed, else Debian's package
# and the libraries this machine lacks unpacked into .venv/chromium with no root (tests/chromium.py;
# a no-op once done, so it runs every time).
chromium: $(STAMP)
	$(PY) -m tests.chromium $(VENV)/chromium

# Prometheus's promtool for the alert tests: the one on PATH, else Debian's package unpacked into
# .venv/promtool with no root (tests/promtool.py; a no-op once done).
promtool: $(STAMP)
	$(PY) -m tests.promtool $(VENV)/promtool

# The locked runtime versions first, so tests run what the image ships; then the extras on top.
$(STAMP): pyproject.toml requirements.lock clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet -e '.[embedded,dev]'
	$(PY) -m pip install --quiet -e ./clients/python
	$(PY) -m craftkit.layout.cjk
	touch $(STAMP)

# Regenerates craftkit/v1/*_pb2*.py and .pyi from protos/ (the proto tree mirrors the package).
proto: $(STAMP)
	$(PY) -m grpc_tools.protoc -I protos --python_out=. --grpc_python_out=. --pyi_out=. $(PROTOS)

# Fails when the committed generated code is not what `make proto` produces.
proto-check: proto
	@git diff --exit-code --stat -- craftkit/v1 || { echo "generated gRPC code is stale: run 'make proto' and commit"; exit 1; }
	@test -z "$$(git status --porcelain --untracked-files=all -- craftkit/v1)" || { echo "untracked generated code: commit craftkit/v1"; exit 1; }

# Resolves the hash-locked requirements the image installs (needs PyPI): requirements.lock from
# [project] dependencies, requirements-build.lock from [build-system] requires. Pins already in a
# lock are kept while they still fit; `make lock LOCK_ARGS=--upgrade` takes the newest of all.
# tests/unit/test_image.py fails when pyproject.toml and the locks disagree.
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --custom-compile-command 'make lock' --quiet $(LOCK_ARGS)
lock: $(STAMP)
	$(VENV)/bin/uv pip compile pyproject.toml $(LOCK_FLAGS) -o requirements.lock
	$(PY) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
		| $(VENV)/bin/uv pip compile - $(LOCK_FLAGS) -o requirements-build.lock

clean:
	rm -rf $(VENV) .craftkit .pytest_cache
