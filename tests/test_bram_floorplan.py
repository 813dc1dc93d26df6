"""rtl.estimate.bram_floorplan: the block RAMs locked to sites in name order, on a compact path.

The site table is checked against nextpnr itself: a design of 208 DP16KD placed on the LFE5U-85K with
every block RAM locked must place each one on its own site (a wrong name stops nextpnr).
"""

from __future__ import annotations

import json
import re

import pytest

from rtl.estimate.bram_floorplan import EBR_SITES, floorplan_brams, site_order
from rtl.tools import run


def _xy(site: str) -> tuple[int, int]:
    m = re.fullmatch(r"X(\d+)/Y(\d+)/EBR[0-3]", site)
    assert m, site
    return int(m[1]), int(m[2])


def test_the_85k_path_visits_every_site_once_in_short_steps():
    order = site_order("85k")
    assert len(order) == len(set(order)) == 208
    rows = EBR_SITES["85k"][0]
    for a, b in zip(order, order[1:]):
        (xa, ya), (xb, yb) = _xy(a), _xy(b)
        # along a row inside a tile group, to the other row of the pair, or on to the next column
        assert abs(xb - xa) <= 11 and abs(rows.index(yb) - rows.index(ya)) <= 1, (a, b)
    # any run of sites is compact: the half perimeter of a bank's 15 block RAMs and of a bank group's 60
    # (the paper-size layer 0) against the 176 tiles (116 x 60) that all the block-RAM rows span
    for run, bound in ((15, 71), (60, 122)):
        for start in range(0, 208 - run + 1):
            xs, ys = zip(*map(_xy, order[start:start + run]))
            assert max(xs) - min(xs) + max(ys) - min(ys) <= bound, (run, start)


def _design(names: list[str], bel: dict | None = None) -> dict:
    cells = {n: {"type": "DP16KD", "attributes": dict(bel.get(n, {}) if bel else {}), "connections": {}}
             for n in names}
    cells["lut"] = {"type": "LUT4", "attributes": {}, "connections": {}}
    return {"modules": {"top": {"cells": cells}}}


def test_block_rams_take_the_sites_in_natural_name_order():
    names = [f"layer0.weights.bank{b}.0.{i}" for b in (10, 2, 9) for i in (1, 0)] + ["inbuf.0.0"]
    design = _design(names)
    assert floorplan_brams(design, "top", "85k") == {"device": "85k", "dp16kd": 7}
    cells = design["modules"]["top"]["cells"]
    placed = sorted(names, key=lambda n: site_order("85k").index(cells[n]["attributes"]["BEL"]))
    assert placed == ["inbuf.0.0"] + [f"layer0.weights.bank{b}.0.{i}" for b in (2, 9, 10) for i in (0, 1)]
    assert "BEL" not in cells["lut"]["attributes"]


@pytest.mark.parametrize("device,names,bel,why", [
    ("25k", ["r.0"], None, "no block-RAM site table for --25k"),
    ("85k", [f"r.{i}" for i in range(209)], None, "209 DP16KD, the device has 208"),
    ("85k", ["r.0", "r.1"], {"r.1": {"BEL": "X4/Y82/EBR0"}}, "a DP16KD already has a BEL attribute"),
])
def test_nothing_is_locked_when_it_cannot_be_done_right(device, names, bel, why):
    design = _design(names, bel)
    before = json.dumps(design, sort_keys=True)
    assert floorplan_brams(design, "top", device) == {"device": device, "dp16kd": 0, "skipped": why}
    assert json.dumps(design, sort_keys=True) == before


SITES_DESIGN = """module t(input clk, input [13:0] a, input [17:0] d, input we, output [207:0] q);
  genvar i;
  generate for (i = 0; i < 208; i = i + 1) begin : r
    DP16KD #(.DATA_WIDTH_A(18), .DATA_WIDTH_B(18)) ram (
      .CLKA(clk), .CLKB(clk), .CEA(1'b1), .CEB(1'b1), .OCEA(1'b1), .OCEB(1'b1), .WEA(we), .WEB(1'b0),
      .CSA0(1'b0), .CSA1(1'b0), .CSA2(1'b0), .CSB0(1'b0), .CSB1(1'b0), .CSB2(1'b0), .RSTA(1'b0), .RSTB(1'b0),
      .ADA0(a[0]), .ADA1(a[1]), .ADA2(a[2]), .ADA3(a[3]), .ADA4(a[4]), .ADA5(a[5]), .ADA6(a[6]), .ADA7(a[7]),
      .ADA8(a[8]), .ADA9(a[9]), .ADA10(a[10]), .ADA11(a[11]), .ADA12(a[12]), .ADA13(a[13]),
      .ADB0(a[0]), .ADB1(a[1]), .ADB2(a[2]), .ADB3(a[3]), .ADB4(a[4]), .ADB5(a[5]), .ADB6(a[6]), .ADB7(a[7]),
      .ADB8(a[8]), .ADB9(a[9]), .ADB10(a[10]), .ADB11(a[11]), .ADB12(a[12]), .ADB13(a[13]),
      .DIA0(d[0]), .DIA1(d[1]), .DIA2(d[2]), .DIA3(d[3]), .DIA4(d[4]), .DIA5(d[5]), .DIA6(d[6]), .DIA7(d[7]),
      .DIA8(d[8]), .DOB0(q[i]));
  end endgenerate
endmodule
"""


def test_nextpnr_places_every_block_ram_on_its_locked_site(need_tool, tmp_path):
    """The whole 85K table: 208 DP16KD locked, placed (``--no-route``) exactly there (~2 s)."""
    need_tool("yosys")
    need_tool("nextpnr-ecp5")
    (tmp_path / "t.v").write_text(SITES_DESIGN)
    run("yosys", ["-q", "-p", "read_verilog t.v; synth_ecp5 -top t -json t.json"], tmp_path, step="synth_ecp5")
    design = json.loads((tmp_path / "t.json").read_text())
    assert floorplan_brams(design, "t", "85k") == {"device": "85k", "dp16kd": 208}
    want = {n: c["attributes"]["BEL"] for n, c in design["modules"]["t"]["cells"].items() if c["type"] == "DP16KD"}
    (tmp_path / "f.json").write_text(json.dumps(design))
    run("nextpnr-ecp5", ["--85k", "--speed", "6", "--package", "CABGA381", "--json", "f.json", "--out-of-context",
                         "--no-route", "--write", "placed.json", "--threads", "1"], tmp_path, step="place")
    placed = json.loads((tmp_path / "placed.json").read_text())
    cells = placed["modules"]["top"]["cells"]      # nextpnr names the written top module "top"
    got = {n: c["attributes"].get("NEXTPNR_BEL") for n, c in cells.items() if c["type"] == "DP16KD"}
    assert got == want


def _two_brams_one_register() -> dict:
    """A TRELLIS_FF whose Q (net 5) drives an address pin of two DP16KD."""
    ff = {"type": "TRELLIS_FF", "parameters": {}, "attributes": {}, "port_directions":
          {"CLK": "input", "DI": "input", "Q": "output"}, "connections": {"CLK": [2], "DI": [3], "Q": [5]}}
    ram = {"type": "DP16KD", "parameters": {}, "attributes": {}, "port_directions": {"ADA5": "input"},
           "connections": {"ADA5": [5]}}
    return {"modules": {"top": {"cells": {"a": ff, "m.bank1.0": dict(ram), "m.bank0.0": json.loads(json.dumps(ram))},
                                "ports": {}, "netnames": {}}}}


@pytest.mark.parametrize("device,locked,copies", [("85k", 2, 0), ("25k", 0, 1)])
def test_the_netlist_passes_floorplan_where_they_can_and_copy_registers_elsewhere(tmp_path, device, locked, copies):
    """``synth.ecp5_netlist_opt``: on a device with a site table the block RAMs are locked and their
    drivers left alone; elsewhere each block RAM gets its own copy of the register."""
    from rtl.estimate.synth import ecp5_netlist_opt
    (tmp_path / "n.json").write_text(json.dumps(_two_brams_one_register()))
    done = ecp5_netlist_opt(tmp_path, "n.json", "top", device)
    assert (done["floorplan"]["dp16kd"], done["fanout"]["copies"]) == (locked, copies)
    cells = json.loads((tmp_path / "n.json").read_text())["modules"]["top"]["cells"]
    assert [cells[n]["attributes"].get("BEL") for n in ("m.bank0.0", "m.bank1.0")] == (
        site_order("85k")[:2] if locked else [None, None])
    assert len([c for c in cells.values() if c["type"] == "TRELLIS_FF"]) == 1 + copies
