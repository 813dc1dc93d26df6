# One entry point per job. Every target sets itself up first (a venv in .venv, Debian tools).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SIM    ?= all
BITS   ?= 8
STAMP  := $(VENV)/.installed

.PHONY: setup deps-apt demo test test-fast sim sim-long verilog mutate synth fmax flows sweep bench board formal clean

setup: $(STAMP) deps-apt

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Icarus Verilog for `make sim`; Fashion-MNIST (full 60k/10k) for the data set tests and demos.
deps-apt:
	@if ! command -v iverilog >/dev/null || [ ! -d /usr/share/datasets/fashion-mnist ]; then \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq iverilog dataset-fashion-mnist; fi

# The main job on the embedded default data set: float DRTP baseline and the 8-bit engine.
demo: setup
	$(PY) -m hwsim.train --bits $(BITS) --with-float

# Every test, slow ones and the RTL simulations included; a missing tool fails a test instead of skipping it.
test: setup
	DRTP_REQUIRE_TOOLS=1 $(PY) -m pytest -n 2 --dist loadgroup -m 'not pnr' tests cocotb_tests

test-fast: setup
	$(PY) -m pytest -m 'not slow and not pnr' tests

sim: setup
	DRTP_REQUIRE_TOOLS=1 SIM=$(SIM) WAVES=$(WAVES) $(PY) -m pytest -n 2 --dist loadgroup cocotb_tests

# Long runs (docs/verification.md, Long runs): Verilator unless SIM is given: >= 10,000 small and stress
# samples in lockstep, one MNIST-5k epoch of the paper-size engine, then its 1,000 test samples (~15 min);
# SIM=icarus runs them shorter. Records in build/cocotb/long/<sim>-<config>.json.
sim-long: setup
	DRTP_LONG=1 DRTP_REQUIRE_TOOLS=1 SIM=$(if $(filter command line environment,$(origin SIM)),$(SIM),verilator) \
	  nice -n 10 $(PY) -m pytest -v -p no:cacheprovider cocotb_tests/test_long.py

verilog: setup
	$(PY) -m rtl.generate --config configs/small.yaml -o build/rtl/small
	$(PY) -m rtl.generate --config configs/paper-784-500-10.yaml --lanes 16 -o build/rtl/paper-784-500-10

# Verilator -Wall lint, yosys synth + check -assert, synth_ecp5 block-RAM mapping of both engines.
flows: verilog
	$(PY) -m rtl.flows build/rtl/small build/rtl/paper-784-500-10

# Paper-size Fmax on LFE5U-85K, dense and event (synth_ecp5, netlist passes, nextpnr; ~3 min each): the
# baseline checks, with the critical paths printed (docs/estimate.md, Timing closure).
fmax: setup
	DRTP_REQUIRE_TOOLS=1 $(PY) -m pytest -m pnr -s -p no:cacheprovider tests/test_estimate_baseline.py

# Area / Fmax / energy: yosys + nextpnr on the small engine at 4/8/12 bits and the paper-size one at 8.
synth: setup
	$(PY) -m rtl.estimate --synth --config small@4 --config small --config small@12 --config paper-784-500-10 -o build/estimate

# Bitstreams: the small engine for the iCE40-HX8K breakout (and the iCEBreaker's UP5K, which it does
# not fit: that build ends with one sentence), then the paper-size engine for the ULX3S-85F (10-25 min).
board: setup
	$(PY) -m rtl.board build --board ice40-hx8k-b-evn --config small
	-$(PY) -m rtl.board build --board icebreaker --config small
	nice -n 10 $(PY) -m rtl.board build --board ulx3s-85f --config configs/paper-784-500-10.yaml --threads 1

sweep: setup
	$(PY) -m hwsim.sweep weight-bits-mnist5k

bench: setup
	$(PY) benchmarks/bench_engine.py

# Mutation testing (docs/verification.md): 135 mutants generated over rtl/ and the hand-made set, each on a
# copy; Amaranth's simulator first, the Icarus benches for its survivors; build/mutate/report.json.
mutate: setup
	nice -n 10 $(PY) cocotb_tests/mutate.py --set all --sim icarus --jobs 2

# Formal proofs (docs/verification.md): each block == its spec for all inputs at W = 8, 16, 20, 24 (sby, Boolector);
# prints the table and writes build/formal/formal.json.
formal: setup
	nice -n 10 $(PY) -m rtl.formal -o build/formal

clean:
	rm -rf build sim_build results .pytest_cache
