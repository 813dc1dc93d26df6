"""The ECP5 netlist passes run before nextpnr (rtl.estimate.bram_outreg, rtl.estimate.bram_fanout).

Each case synthesises a small Verilog design with the pinned yosys (``synth_ecp5``, as the estimate
flow does), rewrites the netlist and checks which registers moved into the block RAM or were copied,
and that the rewrite keeps every connection it must. The last tests place and route before and after
with the pinned nextpnr: the folded output register takes the block RAM's 5.8 ns clock-to-out off
the path.
"""

from __future__ import annotations

import copy
import json

import pytest

from rtl.estimate.bram_fanout import duplicate_bram_drivers
from rtl.estimate.bram_outreg import absorb_output_registers
from rtl.estimate.reset_global import promote_reset_nets
from rtl.tools import run

RAM = """(* no_rw_check *) reg [{w}:0] mem [0:2047];
  always @(posedge clk) begin if (we) mem[wa] <= wd; rd <= mem[ra]; end"""

DESIGNS = {
    # the read data's plain register: folded
    "plain": ("reg [8:0] rd, q;", "q <= rd;", 8),
    # with a clock enable: folded, the enable drives OCEB
    "enable": ("reg [8:0] rd, q;", "if (hit) q <= rd;", 8),
    # with a reset (the weight banks' old "0 unless read" register): stays in the fabric
    "reset": ("reg [8:0] rd, q;", "q <= hit ? rd : 9'd0;", 8),
    # logic between the RAM and the register: stays
    "logic": ("reg [8:0] rd, q;", "q <= rd + x;", 8),
    # a data bit read by a register and by logic: stays
    "two_loads": ("reg [8:0] rd, q; reg p;", "q <= rd; p <= ^rd;", 8),
}


def _verilog(decl: str, body: str, w: int) -> str:
    return f"""module t(input clk, input [10:0] ra, input [10:0] wa, input [{w}:0] wd, input we, input hit,
  input [8:0] x, output reg [8:0] q2, output reg p2);
  {decl}
  {RAM.format(w=w)}
  always @(posedge clk) begin {body} q2 <= q + x; end
  {"always @(posedge clk) p2 <= p;" if "reg p" in decl else "always @(posedge clk) p2 <= 0;"}
endmodule
"""


def _synth(tmp_path, verilog: str) -> dict:
    (tmp_path / "t.v").write_text(verilog)
    run("yosys", ["-q", "-p", "read_verilog t.v; synth_ecp5 -top t -json t.json"], tmp_path, step="synth_ecp5")
    return json.loads((tmp_path / "t.json").read_text())


def _cells(netlist: dict, kind: str) -> dict:
    return {n: c for n, c in netlist["modules"]["t"]["cells"].items() if c["type"] == kind}


@pytest.fixture
def synth(need_tool, tmp_path):
    need_tool("yosys")
    return lambda name: _synth(tmp_path, _verilog(*DESIGNS[name]))


@pytest.mark.parametrize("name, folded", [("plain", True), ("enable", True), ("reset", False), ("logic", False),
                                          ("two_loads", False)])
def test_which_read_registers_fold_into_the_block_ram(synth, name, folded):
    before = synth(name)
    after = copy.deepcopy(before)
    done = absorb_output_registers(after, "t")
    (ram_name, ram), = _cells(after, "DP16KD").items()
    ffs_before, ffs_after = _cells(before, "TRELLIS_FF"), _cells(after, "TRELLIS_FF")
    if not folded:
        assert done == {"dp16kd": 0, "registers": 0, "kept": 1}
        assert after == before
        return
    assert done == {"dp16kd": 1, "registers": 9, "kept": 0}
    assert ram["parameters"]["REGMODE_B"] == "OUTREG"
    assert len(ffs_before) - len(ffs_after) == 9
    old_ram = before["modules"]["t"]["cells"][ram_name]
    for port, (net,) in old_ram["connections"].items():
        if not port.startswith("DOB"):
            continue
        readers = [f for f in ffs_before.values() if f["connections"]["DI"] == [net]]
        if readers:       # the register that read this bit is gone; the block RAM drives its output
            (ff,) = readers
            assert ram["connections"][port] == ff["connections"]["Q"]
            assert ff["connections"]["CLK"] == ram["connections"]["CLKB"]
            want_ce = ff["connections"]["CE"] if ff["parameters"]["CEMUX"] == "CE" else ["1"]
            assert ram["connections"]["OCEB"] == want_ce
    assert ram["connections"]["RSTB"] == ["0"]
    if name == "enable":
        assert ram["connections"]["OCEB"] != ["1"]


def test_a_register_driving_several_block_rams_gets_one_copy_each(need_tool, tmp_path):
    need_tool("yosys")
    # 2,048 words of 36 bits: four DP16KD (2048 x 9) read at one registered address
    verilog = """module t(input clk, input [10:0] a, input [10:0] wa, input [35:0] wd, input we, input en,
  output reg [35:0] q);
  (* no_rw_check *) reg [35:0] mem [0:2047];
  reg [10:0] ra; reg [35:0] rd;
  always @(posedge clk) begin if (en) ra <= a; if (we) mem[wa] <= wd; rd <= mem[ra]; q <= rd; end
endmodule
"""
    before = _synth(tmp_path, verilog)
    rams = _cells(before, "DP16KD")
    assert len(rams) == 4
    after = copy.deepcopy(before)
    done = duplicate_bram_drivers(after, "t")
    assert done["copies"] >= 3 * 11          # the 11 address bits, at least
    cells = after["modules"]["t"]["cells"]
    drivers = {}
    for c in cells.values():
        if c["type"] == "TRELLIS_FF":
            drivers[c["connections"]["Q"][0]] = c
    for pin in (f"ADB{i}" for i in range(3, 14)):          # 2048 x 9: address bits ADB3..ADB13
        nets = [r["connections"][pin][0] for r in _cells(after, "DP16KD").values()]
        assert len(set(nets)) == 4, f"{pin}: the block RAMs still share a driver"
        sources = [drivers[n] for n in nets if n in drivers]
        assert len(sources) == 4
        # every copy is the original: same type, parameters and inputs (only Q differs)
        ref = {k: v for k, v in sources[0]["connections"].items() if k != "Q"}
        for s in sources[1:]:
            assert s["parameters"] == sources[0]["parameters"]
            assert {k: v for k, v in s["connections"].items() if k != "Q"} == ref
    assert duplicate_bram_drivers(copy.deepcopy(after), "t")["copies"] == 0     # nothing left to copy


def _fmax(tmp_path, netlist: dict, name: str) -> tuple[float, float]:
    (tmp_path / f"{name}.json").write_text(json.dumps(netlist))
    run("nextpnr-ecp5", ["--25k", "--speed", "6", "--package", "CABGA381", "--json", f"{name}.json",
                         "--out-of-context", "--freq", "200", "--timing-allow-fail", "--report", f"{name}_r.json",
                         "--threads", "1", "--seed", "1"], tmp_path, step="place and route")
    report = json.loads((tmp_path / f"{name}_r.json").read_text())
    path = report["critical_paths"][0]["path"]
    return report["fmax"]["$glbnet$clk"]["achieved"] if "$glbnet$clk" in report["fmax"] else \
        next(iter(report["fmax"].values()))["achieved"], path[0]["delay"]


def test_nextpnr_times_the_folded_register(need_tool, tmp_path, synth):
    need_tool("nextpnr-ecp5")
    before = synth("plain")
    after = copy.deepcopy(before)
    absorb_output_registers(after, "t")
    duplicate_bram_drivers(after, "t")
    f_before, clk_to_q_before = _fmax(tmp_path, before, "before")
    f_after, clk_to_q_after = _fmax(tmp_path, after, "after")
    assert clk_to_q_before > 5.0          # the block RAM's clock-to-out without its output register
    assert clk_to_q_after < 2.0
    assert f_after > 1.5 * f_before


RESET_DESIGN = """module t(input clk, input rst_in, input soft, input [{n1}:0] d, output reg [{n1}:0] q, output reg y);
  reg rst_q; wire rst = rst_q | soft;          // a reset made by logic, like the board top's
  always @(posedge clk) begin rst_q <= rst_in; y <= rst ^ d[0];
    if (rst) q <= 0; else q <= q + d; end
endmodule
"""


@pytest.mark.parametrize("n", [4, 32])
def test_a_reset_made_by_logic_goes_on_a_global_network(need_tool, tmp_path, n):
    need_tool("yosys")
    before = _synth(tmp_path, RESET_DESIGN.format(n1=n - 1))
    after = copy.deepcopy(before)
    done = promote_reset_nets(after, "t", min_loads=16)
    lsr = {c["connections"]["LSR"][0] for c in _cells(before, "TRELLIS_FF").values() if "LSR" in c["connections"]}
    if n < 16:                       # too few flip-flops: the netlist is left alone
        assert done == {"nets": 0, "lsr_pins": 0} and after == before
        return
    assert done == {"nets": 1, "lsr_pins": n}
    (dcca,) = _cells(after, "DCCA").values()
    (old,) = [net for net in lsr if isinstance(net, int)]
    assert dcca["connections"]["CLKI"] == [old] and dcca["connections"]["CE"] == ["1"]
    ffs = _cells(after, "TRELLIS_FF").values()
    assert sum(f["connections"].get("LSR") == dcca["connections"]["CLKO"] for f in ffs) == n
    # the reset's other loads (the LUT of y, the register's input) stay on the original net
    others = [c for c in after["modules"]["t"]["cells"].values() if c["type"] != "DCCA" and any(
        old in bits for p, bits in c["connections"].items() if c["port_directions"][p] == "input")]
    assert others and all(c["type"] != "TRELLIS_FF" or c["connections"].get("LSR") != [old] for c in others)


def test_a_reset_port_out_of_context_stays(need_tool, tmp_path):
    need_tool("yosys")
    verilog = """module t(input clk, input rst, input [31:0] d, output reg [31:0] q);
  always @(posedge clk) if (rst) q <= 0; else q <= q + d;
endmodule
"""
    before = _synth(tmp_path, verilog)
    after = copy.deepcopy(before)
    assert promote_reset_nets(after, "t", min_loads=16) == {"nets": 0, "lsr_pins": 0}
    assert after == before


def test_nextpnr_routes_the_promoted_reset_on_a_global(need_tool, tmp_path):
    need_tool("yosys")
    need_tool("nextpnr-ecp5")
    netlist = _synth(tmp_path, RESET_DESIGN.format(n1=31))
    assert promote_reset_nets(netlist, "t", min_loads=16)["nets"] == 1
    (tmp_path / "g.json").write_text(json.dumps(netlist))
    run("nextpnr-ecp5", ["--25k", "--speed", "6", "--package", "CABGA381", "--json", "g.json", "--freq", "100",
                         "--timing-allow-fail", "--threads", "1", "--seed", "1", "--log", "g.log", "--quiet"],
        tmp_path, step="place and route")
    log = (tmp_path / "g.log").read_text()
    assert "routing clock net $reset_dcca0$o using global" in log


@pytest.mark.parametrize("ff_gsr, ram_gsr, folded", [("ENABLED", "ENABLED", True), ("DISABLED", "DISABLED", True),
                                                      ("ENABLED", "DISABLED", False), ("DISABLED", "ENABLED", False)])
def test_the_register_folds_only_with_the_block_rams_global_reset_setting(synth, ff_gsr, ram_gsr, folded):
    # on a board Amaranth's ECP5 platform drives GSR and yosys enables it on flip-flops and block RAMs
    netlist = synth("plain")
    for ff in _cells(netlist, "TRELLIS_FF").values():
        ff["parameters"]["GSR"] = ff_gsr
    for ram in _cells(netlist, "DP16KD").values():
        ram["parameters"]["GSR"] = ram_gsr
    done = absorb_output_registers(netlist, "t")
    assert done["dp16kd"] == (1 if folded else 0)


MULT_DESIGN = """module t(input clk, input rst, input [7:0] x, input [7:0] y, input z, input [15:0] k,
  output reg [16:0] s);
  reg signed [7:0] a, b; reg signed [15:0] p;
  always @(posedge clk) begin
    if (rst) begin a <= 0; b <= 0; p <= 0; end
    else begin a <= z ? 8'sd0 : x; b <= y; p <= a * b; end
    s <= p + k;
  end
endmodule
"""


def _mult(tmp_path) -> dict:
    """A lane of the engine's weight change: operands registered (one zeroed by a condition, as the
    lanes gate theirs), the product registered, then an add."""
    return _synth(tmp_path, MULT_DESIGN)


def test_a_multipliers_registers_fold_into_the_dsp(need_tool, tmp_path):
    need_tool("yosys")
    from rtl.estimate.dsp_regs import absorb_multiplier_registers
    netlist = _mult(tmp_path)
    ffs = len(_cells(netlist, "TRELLIS_FF"))
    assert absorb_multiplier_registers(netlist, "t") == {"mult18": 1, "registers": 8 + 8 + 16, "kept": 0}
    assert len(_cells(netlist, "TRELLIS_FF")) == ffs - 32
    dsp = next(iter(_cells(netlist, "MULT18X18D").values()))
    p, c = dsp["parameters"], dsp["connections"]
    assert {p[f"REG_{g}_CLK"] for g in ("INPUTA", "INPUTB", "OUTPUT")} == {"CLK0"} and p["RESETMODE"] == "SYNC"
    clk = netlist["modules"]["t"]["ports"]["clk"]["bits"][0]
    assert c["CE0"] == ["1"] and c["CLK0"] == [clk]
    # the product register and the plain operand reset on the reset port; the gated operand's flip-flops
    # reset on rst | z (yosys maps the zeroing into their synchronous reset), which the DSP keeps
    rst = netlist["modules"]["t"]["ports"]["rst"]["bits"][0]
    assert c["RST2"] == [rst] and rst in (c["RST0"][0], c["RST1"][0])
    assert absorb_multiplier_registers(netlist, "t") == {"mult18": 0, "registers": 0, "kept": 1}   # once


def test_a_product_register_read_elsewhere_stays(need_tool, tmp_path):
    need_tool("yosys")
    from rtl.estimate.dsp_regs import absorb_multiplier_registers
    netlist = _mult(tmp_path)
    # a product bit read by two flip-flops: no fold, nothing changed
    module = netlist["modules"]["t"]
    dsp_name, dsp = next((n, c) for n, c in module["cells"].items() if c["type"] == "MULT18X18D")
    net = next(b for i in range(36) for b in dsp["connections"][f"P{i}"] if isinstance(b, int))
    ff = next(c for c in module["cells"].values() if c["type"] == "TRELLIS_FF" and c["connections"]["DI"] == [net])
    module["cells"]["spy"] = copy.deepcopy(ff)
    before = json.dumps(netlist, sort_keys=True)
    assert absorb_multiplier_registers(netlist, "t") == {"mult18": 0, "registers": 0, "kept": 1}
    assert json.dumps(netlist, sort_keys=True) == before


def test_nextpnr_times_the_registered_multiplier(need_tool, tmp_path):
    need_tool("yosys")
    need_tool("nextpnr-ecp5")
    from rtl.estimate.dsp_regs import absorb_multiplier_registers
    before = _mult(tmp_path)
    after = copy.deepcopy(before)
    absorb_multiplier_registers(after, "t")
    f_before, _ = _fmax(tmp_path, before, "before")
    f_after, _ = _fmax(tmp_path, after, "after")
    print(f"registered multiplier: {f_before:.1f} -> {f_after:.1f} MHz")
    assert f_after > 1.2 * f_before, (f_before, f_after)
