# nmt-cli: every target installs what it needs first.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
MODEL   ?= models/de-en

.PHONY: install test test-fast check demo bench clean

install: $(STAMP)

# torch is pinned and installed first: 2.13.0 is the CPU wheel on this machine's disk;
# any looser spec would make pip fetch a multi-GB CUDA build.
$(STAMP): pyproject.toml setup.py $(wildcard nmt_cli/accel/*.c nmt_cli/accel/*.h)
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

test: install
	$(BIN)/pytest

# everything not marked slow (no subprocesses, no training longer than a few seconds)
test-fast: install
	$(BIN)/pytest -m "not slow"

check: install
	$(BIN)/ruff check nmt_cli tests scripts benchmarks
	$(BIN)/ruff format --check nmt_cli tests scripts benchmarks
	$(BIN)/mypy nmt_cli scripts benchmarks

demo: install
	@echo '$$ printf "Ein Hund läuft durch den Schnee.\nWo ist der Bahnhof?\nIch habe morgen keine Zeit.\nDie Regierung will die Steuern im nächsten Jahr senken.\n" | nmt translate'
	@printf "Ein Hund läuft durch den Schnee.\nWo ist der Bahnhof?\nIch habe morgen keine Zeit.\nDie Regierung will die Steuern im nächsten Jahr senken.\n" | $(BIN)/nmt translate
	@echo
	@echo '$$ echo "Can you help me, please?" | nmt translate -m models/en-de'
	@echo "Can you help me, please?" | $(BIN)/nmt translate -m models/en-de
	@echo
	@echo '$$ echo "Ein Mann fährt Fahrrad ." | nmt align --reverse-model models/en-de --format table'
	@echo "Ein Mann fährt Fahrrad ." | $(BIN)/nmt align --reverse-model models/en-de --format table

bench: install
	$(BIN)/python -m benchmarks
	$(BIN)/python -m benchmarks --part ct2
	$(BIN)/python -m benchmarks --part ddp

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
