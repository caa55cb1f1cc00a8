# Top-level entry points.  Each target provisions first (a no-op when nothing is missing).
#   make build    provision + kernel + module + image (cached by content under ~/.cache)
#   make vm-test  the main job: every testscript on its nodes, summary + JUnit in out/
#   make test     the project's test suite (pytest: unit, build, VM and Nix checks); what CI runs
#   make bench    benchmarks (print numbers, write out/bench.json)

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
OUT ?= out

.PHONY: all provision build vm-test test bench lint clean
all: vm-test

provision:
	PYTHONPATH=src $(PYTHON) -m printerfact.build.provision

build: provision
	$(VPY) -m printerfact.build

vm-test: build
	$(VENV)/bin/printerfact run -o $(OUT) --junit-xml junit.xml

test: build
	$(VPY) -m pytest

bench: build
	$(VPY) bench/run.py --json $(OUT)/bench.json

lint: provision
	$(VENV)/bin/ruff check src tests bench testscripts
	$(VENV)/bin/mypy

clean:
	rm -rf $(OUT) .pytest_cache .mypy_cache .ruff_cache
	$(MAKE) -C module clean
