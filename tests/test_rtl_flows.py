"""Real-flow checks of the generated Verilog: Verilog-2005, Verilator lint, yosys synthesis, ECP5 block RAM.

The same checks run from the command line as ``python -m rtl.flows BUILD_DIR``.
"""

from __future__ import annotations

import json

import pytest

from rtl import flows
from rtl.generate import build_config, generate
from rtl.tools import run

CONFIGS = [("small", None), ("paper-784-500-10", 16)]


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


def test_small_is_verilog2005_and_lint_clean(builds, need_tool):
    need_tool("iverilog")
    need_tool("verilator")
    res = flows.run_all(builds("small", None), steps=("verilog2005", "lint"))
    assert res["verilog2005"]["ok"]
    assert res["lint"]["ok"], res["lint"]["warnings"][:5]


@pytest.mark.slow
@pytest.mark.parametrize("name,lanes", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_lint_synth_and_block_ram(builds, name, lanes, need_tool):
    need_tool("iverilog")
    need_tool("verilator")
    need_tool("yosys")
    res = flows.run_all(builds(name, lanes))
    assert res["lint"]["ok"], res["lint"]["warnings"][:5]
    man = json.loads((builds(name, lanes) / "manifest.json").read_text())
    banks = sum(len(layer["memories"]["weights"]["banks"]) for layer in man["layers"])
    assert res["synth"]["ok"] and res["synth"]["cells_by_type"].get("$mem_v2") == banks  # the weight RAMs' banks
    ecp5 = res["ecp5"]
    assert ecp5["weights_in_bram"], ecp5["weight_bram"]
    assert ecp5["bram_DP16KD"] >= ecp5["weight_bram_lower_bound"]


TB = """
`timescale 1ns/1ps
module tb;
  reg clk = 0, rst = 1;
  reg [{lw}:0] layer = 0; reg [{aw}:0] addr = 0; reg re = 0;
  wire [{dw}:0] rdata; wire rvalid;
  drtp_engine dut(.clk(clk), .rst(rst), .sample__valid(1'b0), .sample__payload({{{pw}{{1'b0}}}}),
                  .wport__layer(layer), .wport__addr(addr), .wport__wdata({{{dwp}{{1'b0}}}}), .wport__we(1'b0),
                  .wport__re(re), .wport__rdata(rdata), .wport__rvalid(rvalid));
  always #5 clk = ~clk;
  initial begin
    @(posedge clk); #1 rst = 0; re = 1;
{reads}
    $finish;
  end
endmodule
"""
READ = ("    layer = {k}; addr = {a}; @(posedge clk); #1 re = 0; repeat ({lag}) @(posedge clk); "
        "#1 $display(\"%0d %0d %h\", {k}, {a}, rdata); re = 1;")


def _read_back(build, need_tool, addresses) -> list[tuple[int, int, int, int]]:
    """Read ``addresses`` (per layer) through the weight port in Icarus: (layer, address, word, .hex word)."""
    iverilog = need_tool("iverilog")
    man = json.loads((build / "manifest.json").read_text())
    ports = {p["name"]: p["width"] for p in man["ports"]}
    lag = man["parameters"]["host_read_latency"] - 1
    reads = "\n".join(READ.format(k=k, a=a, lag=lag) for k in range(len(man["layers"])) for a in addresses(k, man))
    (build / "tb.v").write_text(TB.format(
        lw=ports["wport__layer"] - 1, aw=ports["wport__addr"] - 1, dw=ports["wport__rdata"] - 1,
        pw=ports["sample__payload"], dwp=ports["wport__wdata"], reads=reads))
    run(iverilog, ["-g2005", "-o", "tb.vvp", "tb.v", "drtp_engine.v"], build)
    out = run(iverilog.parent / "vvp", ["-n", "tb.vvp"], build).output
    got = [line.split() for line in out.splitlines() if line[:1].isdigit()]
    assert len(got) == sum(len(addresses(k, man)) for k in range(len(man["layers"])))
    out = []
    for k, a, word in got:
        hex_lines = (build / man["layers"][int(k)]["memories"]["weights"]["init"]).read_text().split()
        out.append((int(k), int(a), int(word, 16), int(hex_lines[int(a)], 16)))
    return out


def test_verilog_loads_the_weight_hex_files(builds, need_tool):
    """The $readmemh'd RAMs hold the .hex words: read a few back through the weight port in Icarus."""
    words = _read_back(builds("small", None), need_tool, lambda k, man: (0, 1, 2))
    assert len(words) == 6 and all(got == want for _, _, got, want in words), words


@pytest.mark.slow
def test_banked_ram_loads_each_bank_file(builds, need_tool):
    """Paper size: layer 0 is 13 banks, each from its own .hex slice; the first and last word of every bank."""
    def addresses(k, man):
        starts, out = 0, []
        for bank in man["layers"][k]["memories"]["weights"]["banks"]:
            out += [starts, starts + bank["depth"] - 1]
            starts += bank["depth"]
        return out
    build = builds("paper-784-500-10", 16)
    assert len(json.loads((build / "manifest.json").read_text())["layers"][0]["memories"]["weights"]["banks"]) == 13
    words = _read_back(build, need_tool, addresses)
    assert len(words) == 2 * 14 and all(got == want for _, _, got, want in words), words


def _flows_exit(argv) -> int:
    try:
        return flows.main(argv)
    except SystemExit as exc:
        return exc.code


def test_flows_cli_bad_input_is_one_sentence_exit_2(tmp_path, capsys):
    assert _flows_exit([str(tmp_path), "--steps", "lint,bogus"]) == 2
    assert capsys.readouterr().err == ("error: argument --steps: must be a comma-separated subset of "
                                       "verilog2005,lint,synth,ecp5, not 'bogus' (see --help)\n")
    assert _flows_exit([str(tmp_path / "nothing")]) == 2
    assert capsys.readouterr().err == (f"error: {str(tmp_path / 'nothing')!r} has no manifest.json; run python -m "
                                       f"rtl.generate -o {tmp_path / 'nothing'} first\n")


def test_flows_cli_prints_each_step_and_writes_flows_json(builds, need_tool, capsys):
    need_tool("iverilog")
    build = builds("small", None)
    assert flows.main([str(build), "--steps", "verilog2005"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"{build}: verilog2005 ..." and err[1].startswith(f"{build}: verilog2005 done in ")
    assert json.loads((build / "flows.json").read_text())["verilog2005"] == {"ok": True}
