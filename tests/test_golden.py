"""Golden vectors: round trip, agreement with the engine, $readmemh compatibility, and one-sentence errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from golden.format import GoldenError, HexFormat, decode_hex, encode_hex, read_meta
from golden.generate import GENERATOR_VERSION, generate
from golden.reader import open_golden
from hwsim.config import load_config
from hwsim.datasets import load_dataset, quantize_inputs
from hwsim.fast import Engine

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "golden" / "small"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A small set: 6 training samples (checkpoints after 1 and the last), 4 inference samples."""
    out = tmp_path_factory.mktemp("golden") / "tiny"
    generate(load_config("small"), out, samples=6, infer=4, seed=3, checkpoints="1,last", reference_samples=2)
    return out


@pytest.fixture
def copy(tiny, tmp_path) -> Path:
    dst = tmp_path / "set"
    shutil.copytree(tiny, dst)
    return dst


# -- the hex format ----------------------------------------------------------------------------

@pytest.mark.parametrize("width,signed", [(1, False), (4, False), (7, True), (8, True), (9, True), (13, False),
                                          (32, True)])
def test_hex_round_trip_exhaustive_edges(width, signed):
    fmt = HexFormat(width, signed)
    edges = {fmt.min, fmt.min + 1, -1 if signed else 1, 0, fmt.max - 1, fmt.max}
    values = np.array(sorted(v for v in edges if fmt.min <= v <= fmt.max), dtype=np.int64)
    text = encode_hex(values, (fmt,))
    assert all(len(t) == fmt.digits for t in text.split())
    assert np.array_equal(decode_hex(text, (fmt,), "x"), values)


def test_hex_all_8bit_signed_values():
    fmt = HexFormat(8, True)
    values = np.arange(-128, 128)
    assert np.array_equal(decode_hex(encode_hex(values, (fmt,)), (fmt,), "x"), values)


def test_hex_per_column_formats():
    fmts = (HexFormat(8, False), HexFormat(12, False), HexFormat(8, True))
    rec = np.array([[0, 17, -3], [199, 2079, 127]])
    text = encode_hex(rec, fmts)
    assert text == b"00 011 fd\nc7 81f 7f\n"
    assert np.array_equal(decode_hex(text, fmts, "x").reshape(-1, 3), rec)


def test_hex_rejects_out_of_range():
    with pytest.raises(GoldenError, match="do not fit the 8-bit signed golden format"):
        encode_hex(np.array([128]), (HexFormat(8, True),))


# -- generation --------------------------------------------------------------------------------

def test_set_matches_the_engine(tiny):
    gs = open_golden(tiny, expect=load_config("small"))
    cfg = gs.cfg
    data = load_dataset(cfg.dataset)
    idx = np.array(gs.meta.raw["train"]["dataset_indices"])
    assert np.array_equal(gs.train_x, quantize_inputs(data.x_train[idx], cfg.input))
    eng = Engine(cfg, gs.init_weights)
    for s, expected in gs.iter_weights():
        pred = eng.train(gs.train_x[s:s + 1], gs.train_label[s:s + 1])
        assert pred[0] == gs.train_pred[s]
        for a, b in zip(eng.weights(), expected):
            assert np.array_equal(a, b)
    assert gs.meta.raw["train"]["rng_word_end"] == eng.rng_word
    preds, z = eng.infer(gs.infer_x, return_z=True)
    assert np.array_equal(preds, gs.infer_pred) and np.array_equal(z, gs.infer_z)
    assert sorted(gs.checkpoints) == [1, 5]
    assert [gs.changed(0, s) for s in range(6)] == [int(np.count_nonzero(a != b)) for a, b in zip(
        [gs.init_weights[0]] + [gs.weights_after(s)[0] for s in range(5)], [gs.weights_after(s)[0] for s in range(6)])]
    assert gs.train_z[0].shape == (6, 32) and gs.train_delta[1].shape == (6, 10)


def test_generation_is_deterministic(tiny, tmp_path):
    again = tmp_path / "again"
    generate(load_config("small"), again, samples=6, infer=4, seed=3, checkpoints="1,last", reference_samples=2)
    for f in sorted(tiny.iterdir()):
        assert (again / f.name).read_bytes() == f.read_bytes(), f.name


def test_committed_small_set_is_current(tmp_path):
    """golden/small must be what the current golden model writes (regenerate it when the model changes)."""
    meta = read_meta(COMMITTED)
    args = meta.raw["generator"]["arguments"]
    assert meta.n_train >= 200 and meta.n_infer >= 50
    assert sum(f.stat().st_size for f in COMMITTED.iterdir()) < 500_000
    fresh = tmp_path / "small"
    generate(load_config("small"), fresh, samples=args["samples"], infer=args["infer"], seed=args["seed"],
             checkpoints=args["checkpoints"], reference_samples=0)
    stale = [f.name for f in sorted(fresh.iterdir()) if f.name != "meta.json"
             and (COMMITTED / f.name).read_bytes() != f.read_bytes()]
    assert not stale, (f"golden/small is stale ({stale[0]} differs); regenerate it with `python -m golden.generate "
                       f"--config configs/small.yaml --samples 200 --infer 100 -o golden/small`")
    open_golden(COMMITTED, expect=load_config("small"))


STRESS = ROOT / "golden" / "configs" / "small-stress.yaml"


@pytest.mark.parametrize("schedule", ["dense", "event"])
def test_counts_match_the_reference_and_the_cycle_formula(tmp_path, schedule):
    """Per-sample counts in the files equal the slow reference's (every sample), and their cycles the formula."""
    from hwsim.cycles import COUNT_FIELDS, SampleCounts
    from hwsim.reference import ReferenceEngine
    cfg = load_config("small").with_schedule(schedule)
    out = tmp_path / "set"
    generate(cfg, out, samples=8, infer=3, seed=1, stimulus="edge", reference_samples=0)
    gs = open_golden(out, expect=cfg)
    ref = ReferenceEngine(cfg, gs.init_weights)
    traces = [ref.run(x, int(t), True) for x, t in zip(gs.train_x, gs.train_label)]
    want = SampleCounts.from_traces(cfg, traces, [True] * len(traces))
    for f in COUNT_FIELDS:
        assert np.array_equal(getattr(gs.train_counts, f), getattr(want, f)), f
    inf = [ref.run(x, 0, False) for x in gs.infer_x]
    want_i = SampleCounts.from_traces(cfg, inf, [False] * len(inf))
    for f in COUNT_FIELDS:
        assert np.array_equal(getattr(gs.infer_counts, f), getattr(want_i, f)), f
    assert gs.meta.raw["schedule"] == schedule
    if schedule == "dense":
        assert (gs.train_counts.writes == gs.train_counts.visits).all()


def test_edge_stimulus_reaches_the_event_corners(tmp_path):
    """The stress bench's set has all-zero, fully dense and one-pixel samples and samples with no active group."""
    cfg = load_config(STRESS).with_schedule("event")
    out = tmp_path / "stress"
    generate(cfg, out, samples=100, infer=20, seed=0, stimulus="edge", reference_samples=0)
    c = open_golden(out, expect=cfg).train_counts
    n_cols = cfg.n_cols(0)
    assert (c.events[:, 0] == 1).any(), "no all-zero sample (only the bias is an event)"
    assert (c.events[:, 0] == n_cols).any(), "no fully dense sample"
    assert (c.events[:, 0] == 2).any(), "no one-pixel sample"
    assert (c.active == 0).any(axis=1).any(), "no sample where a layer has no active group"
    assert ((c.writes < c.visits) & (c.visits > 0)).any(), "no all-zero weight word skipped"


def test_readmemh_reads_the_files(tiny, tmp_path):
    """Icarus' $readmemh loads a weight file and a two-column record file into memories."""
    if not shutil.which("iverilog"):
        pytest.skip("Icarus Verilog is not installed (apt-get install iverilog)")
    gs = open_golden(tiny)
    n0 = gs.init_weights[0].size
    wd = tiny / "train_wdiff0.hex"
    n_rec = gs.meta.files["train_wdiff0.hex"].shape[0]
    src = tmp_path / "t.v"
    src.write_text(f"""
module t;
  reg [7:0] w [0:{n0 - 1}];
  reg [11:0] rec [0:{2 * n_rec - 1}];
  integer i;
  initial begin
    $readmemh("{tiny / 'init_w0.hex'}", w);
    $readmemh("{wd}", rec);
    for (i = 0; i < 5; i = i + 1) $display("%0d", $signed(w[i]));
    $display("%0d", $signed(w[{n0 - 1}]));
    $display("%0d %0d", rec[0], $signed(rec[1][7:0]));
  end
endmodule
""")
    subprocess.run(["iverilog", "-o", str(tmp_path / "t.vvp"), str(src)], check=True)
    out = subprocess.run(["vvp", "-n", str(tmp_path / "t.vvp")], check=True, capture_output=True, text=True)
    lines = out.stdout.split()
    flat = gs.init_weights[0].reshape(-1)
    assert [int(v) for v in lines[:6]] == [*flat[:5], flat[-1]]
    first = gs._wdiff[0][0]
    assert [int(v) for v in lines[6:8]] == [int(first[0]), int(first[1])]


def test_cli_writes_a_set_and_rejects_bad_arguments(tmp_path):
    out = tmp_path / "cli"
    ok = subprocess.run([sys.executable, "-m", "golden.generate", "--config", "small", "--samples", "2",
                         "--infer", "1", "--reference-samples", "0", "-o", str(out)],
                        cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert json.loads((out / "meta.json").read_text())["generator"]["version"] == GENERATOR_VERSION
    bad = subprocess.run([sys.executable, "-m", "golden.generate", "--config", "small", "--samples", "2",
                          "--checkpoints", "every:x", "-o", str(tmp_path / "bad")],
                         cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "error: --checkpoints must be 'last', 'every:K' or sample indices in 0..1 separated by commas, "
        "not 'every:x'"]
    assert not (tmp_path / "bad").exists()


# -- corrupt and mismatched sets: one sentence each ---------------------------------------------

def _one_sentence(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and text.count(". ") == 0, text
    return text


def test_missing_set(tmp_path):
    with pytest.raises(GoldenError) as exc:
        open_golden(tmp_path / "nope")
    assert _one_sentence(exc) == (f"golden set {tmp_path / 'nope'} does not exist; generate it with "
                                  "`python -m golden.generate --config <config> --samples <N> -o <dir>`")


def test_missing_meta(copy):
    (copy / "meta.json").unlink()
    with pytest.raises(GoldenError, match=r"has no meta\.json; generate it with") as exc:
        open_golden(copy)
    _one_sentence(exc)


def test_truncated_meta(copy):
    meta = copy / "meta.json"
    meta.write_bytes(meta.read_bytes()[:500])
    with pytest.raises(GoldenError, match=r"meta\.json is not valid JSON \(truncated or edited\)") as exc:
        open_golden(copy)
    _one_sentence(exc)


def test_truncated_data_file(copy):
    f = copy / "train_x.hex"
    size = f.stat().st_size
    f.write_bytes(f.read_bytes()[:size // 2])
    with pytest.raises(GoldenError) as exc:
        open_golden(copy)
    assert _one_sentence(exc).startswith(f"golden file {f} is truncated: {size // 2} bytes, meta.json says {size}; "
                                         "regenerate the set with")


def test_bad_checksum(copy):
    f = copy / "init_w1.hex"
    data = bytearray(f.read_bytes())
    data[0] = ord("0") if data[0] != ord("0") else ord("1")   # same length, one digit changed
    f.write_bytes(bytes(data))
    with pytest.raises(GoldenError, match=r"init_w1\.hex fails its checksum \(sha256 [0-9a-f]{12}\.\.\., "
                                          r"meta\.json says [0-9a-f]{12}\.\.\.\): it changed after generation"):
        open_golden(copy)


def test_missing_data_file(copy):
    (copy / "train_wdiff0.hex").unlink()
    with pytest.raises(GoldenError, match=r"train_wdiff0\.hex is missing; regenerate the set"):
        open_golden(copy)


def test_wrong_config(tiny):
    paper = load_config("paper-784-500-10")
    with pytest.raises(GoldenError) as exc:
        open_golden(tiny, expect=paper)
    small = load_config("small")
    assert _one_sentence(exc) == (
        f"golden set {tiny} was generated for config 'small' (digest {small.digest()}), not for "
        f"'paper-784-500-10' (digest {paper.digest()}); regenerate it with "
        f"`python -m golden.generate --config <that config> -o {tiny}`")


def test_edited_config_in_meta(copy):
    meta = json.loads((copy / "meta.json").read_text())
    meta["config"]["layers"][0]["update"]["shift"] = 9
    (copy / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(GoldenError, match=r"has config digest [0-9a-f]{16} but its config hashes to [0-9a-f]{16}: "
                                          r"meta\.json was edited"):
        open_golden(copy)


def test_invalid_config_in_meta(copy):
    meta = json.loads((copy / "meta.json").read_text())
    meta["config"]["lanes"] = 0
    (copy / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(GoldenError, match=r"holds an invalid config \(meta\.json config\.lanes must be an integer "
                                          r"in 1\.\.256, not 0\)"):
        open_golden(copy)


def test_newer_format_version(copy):
    meta = json.loads((copy / "meta.json").read_text())
    meta["format_version"] = 99
    (copy / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(GoldenError, match="has format version 99, but this reader understands version 4"):
        open_golden(copy)


def test_edited_config_yaml(copy):
    """config.yaml is what rtl.generate reads: an edit after generation must not go unnoticed."""
    (copy / "config.yaml").write_text((copy / "config.yaml").read_text().replace("lanes: 4", "lanes: 8"))
    with pytest.raises(GoldenError, match=r"config.yaml fails its checksum: it changed after generation"):
        open_golden(copy)


def test_missing_config_yaml(copy):
    (copy / "config.yaml").unlink()
    with pytest.raises(GoldenError, match=r"config.yaml is missing"):
        open_golden(copy)


def test_garbled_token_with_matching_checksum(copy):
    """A file rewritten together with its checksum still has to parse."""
    f = copy / "train_label.hex"
    f.write_bytes(b"zz\n" + f.read_bytes()[3:])
    meta = json.loads((copy / "meta.json").read_text())
    import hashlib
    meta["files"]["train_label.hex"]["sha256"] = hashlib.sha256(f.read_bytes()).hexdigest()
    (copy / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(GoldenError, match=r"train_label\.hex holds 'zz', which is not a hex number"):
        open_golden(copy)


def test_diffs_that_miss_a_checkpoint(copy):
    """Weight records and checkpoints must tell the same story (both rewritten with valid checksums)."""
    import hashlib
    f = copy / "ckpt_w1_s5.hex"
    data = f.read_bytes()
    f.write_bytes((b"7f" if data[:2] != b"7f" else b"00") + data[2:])   # neuron 0, input 0
    meta = json.loads((copy / "meta.json").read_text())
    meta["files"]["ckpt_w1_s5.hex"]["sha256"] = hashlib.sha256(f.read_bytes()).hexdigest()
    (copy / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(GoldenError, match=r"the weight changes of layer 1 do not reach checkpoint ckpt_w1_s5\.hex"):
        open_golden(copy)
