# Top-level entry points.  Each target provisions first (a no-op when nothing is missing).
#   make build    provision + kernels + module + image, both flavours (cached by content)
#   make vm-test  the main job: every testscript on its nodes, both flavours; summary + JUnit
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

# Both kernel flavours (default, debug); FLAVOURS=default for the production kernel only.
FLAVOURS ?= default,debug

build: provision
	$(VENV)/bin/printerfact build --flavour $(FLAVOURS)

vm-test: build
	$(VENV)/bin/printerfact run -o $(OUT) --junit-xml junit.xml --flavour $(FLAVOURS)

# One pytest worker per core (pytest-xdist): a TCG guest keeps one core busy, so VM tests side
# by side use the machine the kernel builds used before them.
PYTEST_JOBS ?= auto

test: build
	$(VPY) -m pytest -n $(PYTEST_JOBS) --dist worksteal --printerfact-flavours $(FLAVOURS)

bench: build
	$(VPY) bench/run.py --json $(OUT)/bench.json

lint: provision
	$(VENV)/bin/ruff check src tests bench testscripts
	$(VENV)/bin/mypy

clean:
	rm -rf $(OUT) .pytest_cache .mypy_cache .ruff_cache
	$(MAKE) -C module clean
