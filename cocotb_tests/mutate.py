"""``make mutate``: inject small, realistic bugs into a copy of the RTL source and count how many the benches catch.

    python cocotb_tests/mutate.py [--sim icarus] [--jobs 2] [--only NAME ...] [--list] [--min-score 0.95]

Every mutant edits a *copy* of ``rtl/`` and ``hwsim/`` under ``build/mutate/<name>/src`` (the real
sources are never touched; the golden vectors always come from the real ``hwsim``), regenerates the
Verilog from that copy with ``python -m rtl.generate``, builds it and runs the full-engine benches:
the saturation stress set (``golden/configs/small-stress.yaml``, 100 samples with the edge
stimulus) and the committed golden set (``golden/small``, 200 samples), each with the ``dense`` and
the ``event`` schedule, streamed with stalls and backpressure and weights read back after every
5th sample, then their inference slices; the first bench that fails stops it.
A mutant is *caught* when a bench reports a mismatch or the engine hangs; the first mismatch
sentence is shown. An edit whose anchor text is no longer in the source is reported as *stale*
(the RTL changed; update the table here) and makes the script exit 2; fewer caught than
``--min-score`` exits 1. The unmutated copy runs first and must pass.
"""

from __future__ import annotations

import argparse
import concurrent.futures as futures
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest  # simsetup reports a bench that died as pytest.fail
from simsetup import BUILD, build, ensure_golden, generate_rtl, run_bench  # beside this file

from hwsim.cli import ArgParser, int_in, run_cli
from hwsim.fileio import write_json_atomic

ROOT = Path(__file__).resolve().parent.parent

OUT = BUILD.parent / "mutate"
STRESS = ROOT / "golden" / "configs" / "small-stress.yaml"


@dataclass(frozen=True)
class Mutant:
    name: str
    what: str
    edits: tuple[tuple[str, str, str], ...]   # (file relative to the repo, exact old text, new text)


MUTANTS = (
    Mutant("rnd_half_down", "round-half-up adds 2^(d-1) - 1: ties round down (off-by-one rounding constant)",
           (("rtl/arith.py", "shr(value + (1 << (shift - 1)), shift)",
             "shr(value + (1 << (shift - 1)) - 1, shift)"),)),
    Mutant("stoch_bit_short", "stochastic rounding takes d - 1 random bits of the lane word (off-by-one slice)",
           (("rtl/update.py", "word = self.i_words[p][:used]", "word = self.i_words[p][:used - 1]"),)),
    Mutant("lfsr_tap_flipped", "16-bit LFSR tap 4 flipped to 5 (stochastic lanes and DRTP vectors)",
           (("hwsim/lfsr.py", "16: (16, 15, 13, 4)", "16: (16, 15, 13, 5)"),)),
    Mutant("weight_wraps", "weight update wraps instead of saturating (missing saturation)",
           (("rtl/update.py", "self.o_weights[p].eq(overflow(self.i_weights[p] + self.i_dw[p], fmt, m))",
             "self.o_weights[p].eq(overflow(self.i_weights[p] + self.i_dw[p], fmt.with_(overflow='wrap'), m))"),)),
    Mutant("saturate_no_floor", "saturation logic forgets its lower bound everywhere (missing saturation)",
           (("rtl/arith.py", "    if vlo < lo:\n        out = Mux(value < lo, lo, out)",
             "    if False:\n        out = Mux(value < lo, lo, out)"),)),
    Mutant("tanh_deriv_at_clip", "hard-tanh derivative is 1 at z = +1.0 too (wrong derivative gate)",
           (("rtl/activation.py", "clipped, deriv = saturate(z, -one, one, m), inside(z, -one, one)",
             "clipped, deriv = saturate(z, -one, one, m), inside(z, -one, one + 1)"),)),
    Mutant("sigmoid_offset", "hard-sigmoid adds 1/2 - 1 LSB (off-by-one clip offset)",
           (("rtl/activation.py", "saturate(z + half, 0, one, m)", "saturate(z + half - 1, 0, one, m)"),)),
    Mutant("label_bits_swapped", "label bits 0 and 1 swapped where the engine latches the label",
           (("rtl/engine.py", "label.eq(self.sample.payload.label)",
             "label.eq(Cat(self.sample.payload.label[1], self.sample.payload.label[0], "
             "self.sample.payload.label[2:]))"),)),
    Mutant("target_off_by_one", "output target is 1.0 - 1 LSB (off-by-one error target)",
           (("rtl/error.py", "target = self.layer.target_one()", "target = self.layer.target_one() - 1"),)),
    Mutant("argmax_last_tie", "argmax takes the last of equal maxima (>= instead of >)",
           (("rtl/argmax.py", "(self.i_values[p] > val)", "(self.i_values[p] >= val)"),)),
    Mutant("bias_half", "bias column multiplies by 0.5 instead of 1.0 (bias constant shifted by one)",
           (("rtl/mac.py", "act = Mux(self.i_bias, one, self.i_act)",
             "act = Mux(self.i_bias, one >> 1, self.i_act)"),)),
    Mutant("acc_not_cleared", "accumulator not cleared at a neuron's first column",
           (("rtl/mac.py", "total = Mux(first, 0, self.o_acc[p]) + held",
             "total = self.o_acc[p] + held"),)),
    Mutant("update_sign", "weight update has the wrong sign (+delta * a)",
           (("rtl/update.py", "product = -held", "product = held"),)),
    Mutant("randvec_row_skew", "DRTP vector rows start one LFSR step late (off-by-one start state)",
           (("hwsim/params.py", "cfg.random_seeds[k], label * cfg.layers[k].n_out)",
             "cfg.random_seeds[k], label * cfg.layers[k].n_out + 1)"),)),
    Mutant("rng_lanes_rotated", "stochastic lanes reset to words 1..P instead of 0..P-1",
           (("hwsim/params.py", "return [rng_word(cfg, start + p) for p in range(cfg.lanes)]",
             "return [rng_word(cfg, start + p + 1) for p in range(cfg.lanes)]"),)),
    # -- the event schedule (docs/engine.md §11) ----------------------------------------------
    Mutant("event_dropped", "event: a hidden neuron in lane 0 of its group never becomes an event of the next layer",
           (("rtl/layer.py", "self.o_ev_we.eq(q_valid & real & y3.any())",
             "self.o_ev_we.eq(q_valid & real & y3.any() & (q_lane != 0))"),)),
    Mutant("event_duplicated", "event: the serializer writes the first event of every beat twice",
           (("rtl/engine.py", "rest = mask & (mask - 1)", "rest = Mux(accept, mask, mask & (mask - 1))"),)),
    Mutant("event_wrong_address", "event: an input event's column address is one too high",
           (("rtl/engine.py", "events.i_waddr.eq(fit(base + lowest, events.i_waddr.shape()))",
             "events.i_waddr.eq(fit(base + lowest + 1, events.i_waddr.shape()))"),)),
    Mutant("event_last_slot_lost", "event: a group's last event slot is not issued when a layer has more events than lanes",
           (("rtl/layer.py", "last_slot = Mux(n_cols_now > P, n_cols_now - 1, P - 1)",
             "last_slot = Mux(n_cols_now > P + 1, n_cols_now - 2, P - 1)"),)),
    Mutant("inactive_group_visited", "event: every group enters the active list (inactive groups are updated too)",
           (("rtl/layer.py", "act_we.eq(last & any_next)", "act_we.eq(last)"),)),
    Mutant("word_skip_lane0", "event: a word whose only non-zero change is in lane 0 is skipped",
           (("rtl/update.py", "self.o_nonzero.eq(self.o_dw.as_value().any())",
             "self.o_nonzero.eq(self.o_dw.as_value()[len(self.o_dw[0]):].any())"),)),
    Mutant("rng_on_skipped_work", "event: the lane RNG also advances on forward slots (skipped update work)",
           (("rtl/layer.py", "self.o_rng_advance.eq(u4_valid)", "self.o_rng_advance.eq(u4_valid | f2_valid)"),)),
    Mutant("rng_not_on_done_work", "event: the lane RNG advances only on visits that write (not on every visit)",
           (("rtl/layer.py", "self.o_rng_advance.eq(u4_valid)", "self.o_rng_advance.eq(u4_valid & chg.o_nonzero)"),)),
)

# (label, config, schedule, golden set, cocotb test filter), run in order until one catches the mutant
BENCHES = (
    ("stress/stream", STRESS, None, "stress", r".*train_stream$"),
    ("stress-event/stream", STRESS, "event", "stress-event", r".*train_stream$"),
    ("small/stream", "small", None, None, r".*train_stream$"),
    ("small-event/stream", "small", "event", "small-event", r".*train_stream$"),
    ("small/infer", "small", None, None, r".*infer$"),
    ("stress/infer", STRESS, None, "stress", r".*infer$"),
    ("stress-event/infer", STRESS, "event", "stress-event", r".*infer$"),
)
CHECK_EVERY = 5   # weights read back after every 5th streamed sample: a mutant stops early


class StaleMutant(RuntimeError):
    pass


def make_tree(dst: Path, mutant: Mutant | None) -> Path:
    """Copy rtl/ and hwsim/ to ``dst/src`` and apply the mutant's edits (each anchor must occur once)."""
    src = dst / "src"
    if src.exists():
        shutil.rmtree(src)
    for pkg in ("rtl", "hwsim"):
        shutil.copytree(ROOT / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    for rel, old, new in (mutant.edits if mutant else ()):
        path = src / rel
        text = path.read_text()
        if text.count(old) != 1:
            raise StaleMutant(f"{rel} holds {text.count(old)} copies of {old!r}, not 1")
        path.write_text(text.replace(old, new))
    return src


def goldens() -> dict:
    return {None: ROOT / "golden" / "small",
            "stress": ensure_golden(STRESS, samples=100, infer=20, stimulus="edge"),
            "stress-event": ensure_golden(STRESS, samples=100, infer=20, schedule="event", stimulus="edge"),
            "small-event": ensure_golden("small", samples=200, infer=100, schedule="event")}


def run_one(mutant: Mutant | None, sim: str, gold: dict) -> dict:
    name = mutant.name if mutant else "baseline"
    work = OUT / name
    t0 = time.perf_counter()
    result = {"name": name, "what": mutant.what if mutant else "unmodified copy of rtl/ and hwsim/"}
    try:
        src = make_tree(work, mutant)
    except StaleMutant as exc:
        return {**result, "status": "stale", "detail": str(exc)}
    for label, config, schedule, gkey, tests in BENCHES:
        tag = Path(str(config)).stem + (f"-{schedule}" if schedule else "")
        try:
            design = generate_rtl(config, name=f"{name}-{tag}", rtl_src=src / "rtl", out=work / f"rtl-{tag}",
                                  schedule=schedule)
            runner = build(design, sim, build_dir=work / f"{sim}-{tag}", waves=False)
        except RuntimeError as exc:
            return {**result, "status": "invalid", "detail": f"{label}: {exc}",
                    "seconds": round(time.perf_counter() - t0, 1)}
        try:
            reports, _ = run_bench(runner, design, sim, "test_engine", label.replace("/", "-"),
                                   {"DRTP_GOLDEN": str(gold[gkey]), "DRTP_READBACK": "checkpoints",
                                    "DRTP_CHECK_EVERY": str(CHECK_EVERY)},
                                   test_filter=tests)
        except (AssertionError, pytest.fail.Exception) as exc:   # no report: the bench died, so it did not pass
            return {**result, "status": "caught", "by": label, "detail": str(exc),
                    "seconds": round(time.perf_counter() - t0, 1)}
        bad = [r for r in reports if not r["ok"]]
        if bad:
            return {**result, "status": "caught", "by": label, "detail": bad[0]["mismatch"],
                    "seconds": round(time.perf_counter() - t0, 1)}
    return {**result, "status": "survived", "seconds": round(time.perf_counter() - t0, 1)}


def _score(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a fraction in 0..1, not {text!r}")
    return value


def _parser() -> ArgParser:
    p = ArgParser("python cocotb_tests/mutate.py", __doc__)
    p.add_argument("--sim", default="icarus", choices=("icarus", "verilator"))
    p.add_argument("--jobs", type=int_in(1, 64), default=2)
    p.add_argument("--only", nargs="*", default=None, help="mutant names (default: all)")
    p.add_argument("--list", action="store_true", help="list the mutants and exit")
    p.add_argument("--min-score", type=_score, default=0.95)
    return p


def main(argv=None) -> int:
    return run_cli(_parser(), argv, _main)


def _main(args) -> int:
    if args.list:
        for m in MUTANTS:
            print(f"{m.name:20s} {m.what}")
        return 0
    chosen = [m for m in MUTANTS if args.only is None or m.name in args.only]
    unknown = set(args.only or ()) - {m.name for m in MUTANTS}
    if unknown:
        print(f"error: no mutant named {sorted(unknown)[0]!r}; see --list", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    gold = goldens()
    base = run_one(None, args.sim, gold)
    if base["status"] != "survived":
        print(f"error: the unmutated design does not pass its benches ({base['status']}: {base.get('detail')}); "
              f"fix that before counting mutants", file=sys.stderr)
        return 2
    print(f"baseline passes ({base['seconds']} s); running {len(chosen)} mutants on {args.sim} "
          f"with {args.jobs} jobs", flush=True)
    results = []
    with futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        jobs = {pool.submit(run_one, m, args.sim, gold): m for m in chosen}
        for job in futures.as_completed(jobs):
            r = job.result()
            results.append(r)
            print(f"  {r['status']:8s} {r['name']:20s} {r.get('seconds', '')!s:>6} s  "
                  f"{r.get('by', '')}: {r.get('detail', '')}", flush=True)
    order = {m.name: i for i, m in enumerate(MUTANTS)}
    results.sort(key=lambda r: order[r["name"]])
    valid = [r for r in results if r["status"] in ("caught", "survived")]
    caught = [r for r in valid if r["status"] == "caught"]
    score = len(caught) / len(valid) if valid else 0.0
    print("\nmutant               caught by        what")
    for r in results:
        print(f"{r['name']:20s} {r.get('by', r['status']):16s} {r['what']}")
    print(f"\nMUTANTS caught {len(caught)}/{len(valid)} ({100 * score:.0f} %) on {args.sim} in "
          f"{time.perf_counter() - start:.0f} s" + (f"; {len(results) - len(valid)} stale or invalid"
                                                     if len(valid) < len(results) else ""))
    write_json_atomic(OUT / "report.json", {"sim": args.sim, "caught": len(caught), "valid": len(valid),
                                            "score": score, "results": results})
    if len(valid) < len(results):
        return 2
    return 0 if score >= args.min_score else 1


if __name__ == "__main__":
    sys.exit(main())
