"""Real-flow checks of the generated Verilog: Verilog-2005, Verilator lint, yosys synthesis, ECP5 block RAM.

The same checks run from the command line as ``python -m rtl.flows BUILD_DIR``.
"""

from __future__ import annotations

import shutil

import pytest

from rtl import flows
from rtl.generate import build_config, generate

CONFIGS = [("small", None), ("paper-784-500-10", 16)]


def need(tool: str | None, name: str):
    if tool is None:
        pytest.skip(f"{name} is not installed")


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    cache = {}

    def get(name, lanes):
        if (name, lanes) not in cache:
            out = tmp_path_factory.mktemp(f"{name}-p{lanes}")
            generate(build_config(name, lanes), out)
            cache[name, lanes] = out
        return cache[name, lanes]
    return get


def test_small_is_verilog2005_and_lint_clean(builds):
    need(shutil.which("iverilog"), "iverilog")
    need(flows.verilator_bin(), "verilator")
    res = flows.run_all(builds("small", None), steps=("verilog2005", "lint"))
    assert res["verilog2005"]["ok"]
    assert res["lint"]["ok"], res["lint"]["warnings"][:5]


@pytest.mark.slow
@pytest.mark.parametrize("name,lanes", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_lint_synth_and_block_ram(builds, name, lanes):
    need(shutil.which("iverilog"), "iverilog")
    need(flows.verilator_bin(), "verilator")
    need(flows.yosys_bin(), "yosys")
    res = flows.run_all(builds(name, lanes))
    assert res["lint"]["ok"], res["lint"]["warnings"][:5]
    assert res["synth"]["ok"] and res["synth"]["cells_by_type"].get("$mem_v2") == 2  # the two weight RAMs
    ecp5 = res["ecp5"]
    assert ecp5["weights_in_bram"], ecp5["weight_bram"]
    assert ecp5["bram_DP16KD"] >= ecp5["weight_bram_lower_bound"]
