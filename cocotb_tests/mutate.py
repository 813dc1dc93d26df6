"""``make mutate``: inject bugs into a copy of the RTL source and count how many the benches catch.

    python cocotb_tests/mutate.py [--set generated|handmade|all] [--count 120] [--seed 2026] [--only ID ...]
                                  [--list] [--jobs 2] [--timeout 900] [--sim icarus] [--no-hdl] [--min-score F]

Two sets of mutants: ``generated`` (:mod:`mutants`: operators, constants, widths, enables,
off-by-ones, swapped operands, dropped assignments and register/wire swaps found by walking the
AST of rtl/; ``--count`` of them drawn with ``--seed``, balanced over the classes, each with a
stable id ``file:line:col:class:edit``) and ``handmade`` (:data:`MUTANTS`, the regression set:
exact text edits of rtl/ and hwsim/ whose anchors tests/test_mutant_anchors.py checks).

Every mutant edits a *copy* of ``rtl/`` and ``hwsim/`` under ``build/mutate/<id>/src`` (the real
sources are never touched; what the design is compared with always comes from the real ``hwsim``)
and goes through two tiers, the first that sees a difference stops it:

1. ``pysim`` (:mod:`mutant_pysim`): the engine elaborated from the copy in Amaranth's simulator on
   15 small cases (the saturating stress config and the shipped small config in both schedules,
   and corner configs: ROM vectors, sign rules, ragged lanes, three layers with clipped ReLU and
   RND_CONV, one lane, wrapping weights, one column, activation clip points, two weight-RAM
   banks; :data:`mutant_pysim.CASES`): predictions and cycles
   of every sample, weights (padding lanes too) at checkpoints, ``busy`` and a weight port that
   must ignore the host's writes and reads while busy. A design that does not elaborate is
   *invalid* (reported, not a kill).
2. ``--sim`` (Icarus by default): the full-engine cocotb benches, only for tier-1 survivors: the
   stress set (``golden/configs/small-stress.yaml``, 100 samples with the edge stimulus) and the
   committed golden set (``golden/small``, 200 samples), each with the ``dense`` and the ``event``
   schedule, streamed with stalls and backpressure, weights read back after every 5th sample,
   then their inference slices.

Before simulating a case, tier 1 compares the mutant's netlist (RTLIL without source locations)
with the unmutated design's: an identical netlist cannot behave differently, so that case is
skipped, and a mutant whose netlist is identical in every case is *equivalent* (provably, for
those configs). A mutant is *caught* (the bench and the first mismatch sentence are reported),
*timeout* (no result within ``--timeout`` seconds: a hang, counted as caught), *survived*,
*equivalent* or *invalid*. The score is (caught + timeout) / (caught + timeout + survived). The report is written atomically to
``build/mutate/report.json``. An unmutated copy runs first through each tier and must pass. A
hand-made edit whose anchor is gone is *stale* and makes the script exit 2; a score below
``--min-score`` or a surviving hand-made mutant exits 1.
"""

from __future__ import annotations

import argparse
import concurrent.futures as futures
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import mutants as gen  # beside this file
import pytest  # simsetup reports a bench that died as pytest.fail
from simsetup import BUILD, build, ensure_golden, generate_rtl, run_bench

from hwsim.cli import ArgParser, int_in, run_cli
from hwsim.fileio import write_json_atomic
from hwsim.formats import ConfigError

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent

OUT = BUILD.parent / "mutate"
STRESS = ROOT / "golden" / "configs" / "small-stress.yaml"
DEFAULT_COUNT, DEFAULT_SEED = 135, 2026


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
           (("rtl/layer.py", "self.o_rng_advance.eq(u5_valid)", "self.o_rng_advance.eq(u5_valid | f3_valid)"),)),
    Mutant("rng_not_on_done_work", "event: the lane RNG advances only on visits that write (not on every visit)",
           (("rtl/layer.py", "self.o_rng_advance.eq(u5_valid)", "self.o_rng_advance.eq(u5_valid & chg.o_nonzero)"),)),
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


@dataclass(frozen=True)
class Job:
    """One mutant to run: its id, what it does, its class and the files it replaces in the copy."""

    id: str
    what: str
    cls: str
    edits: tuple[tuple[str, bytes], ...]
    stale: str = ""


def handmade_job(m: Mutant) -> Job:
    out, why = {}, ""
    for rel, old, new in m.edits:
        text = out.get(rel, (ROOT / rel).read_bytes()).decode()
        if text.count(old) != 1:
            why = f"{rel} holds {text.count(old)} copies of {old!r}, not 1"
            break
        out[rel] = text.replace(old, new).encode()
    return Job(m.name, m.what, "handmade", tuple(out.items()), why)


def generated_job(m: gen.GenMutant) -> Job:
    return Job(m.id, m.what, m.cls, ((m.file, gen.apply((ROOT / m.file).read_bytes(), m)),))


def _folder(job_id: str) -> Path:
    return OUT / re.sub(r"[^A-Za-z0-9_.+-]", "_", job_id)


# -- tier 1: Amaranth's simulator ---------------------------------------------------------------
def pysim_tier(src: Path, expect: Path, timeout: float, cases: str | None = None, simulate_all: bool = False) -> dict:
    """Run :mod:`mutant_pysim` on the copy ``src`` in its own process (group, killed on a timeout).

    ``simulate_all`` simulates cases whose netlist is the unmutated one too (the unmutated copy's check).
    """
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(src), str(ROOT)]))
    proc = subprocess.Popen([sys.executable, str(HERE / "mutant_pysim.py"), "run", str(expect), "--src", str(src),
                             *(["--cases", cases] if cases else []), *(["--simulate-all"] if simulate_all else [])],
                            cwd=src, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"status": "timeout", "bench": "pysim", "detail": f"no result within {timeout:.0f} s (a hang)"}
    lines = [line for line in out.splitlines() if line.startswith("MUTANT-RESULT ")]
    if not lines:   # the copy did not even import: not a design
        tail = (out.strip().splitlines() or ["no output"])[-1]
        return {"status": "invalid", "bench": "pysim", "detail": f"the worker ended (exit {proc.returncode}) "
                                                                  f"without a result: {tail[:300]}"}
    r = json.loads(lines[-1][len("MUTANT-RESULT "):])
    status = {"hang": "caught", "identical": "equivalent"}.get(r["status"], r["status"])
    detail = r.get("detail", "")
    if status == "pass":
        same = r.get("identical", [])
        detail = "passes the pysim cases" + (f" ({len(same)} with the unmutated netlist: {', '.join(same)})"
                                             if same else "")
    return {"status": status, "bench": f"pysim:{r.get('case', 'all')}", "detail": detail}


# -- tier 2: the cocotb benches -----------------------------------------------------------------
def goldens() -> dict:
    return {None: ROOT / "golden" / "small",
            "stress": ensure_golden(STRESS, samples=100, infer=20, stimulus="edge"),
            "stress-event": ensure_golden(STRESS, samples=100, infer=20, schedule="event", stimulus="edge"),
            "small-event": ensure_golden("small", samples=200, infer=100, schedule="event")}


def hdl_tier(name: str, work: Path, src: Path, sim: str, gold: dict) -> dict:
    for label, config, schedule, gkey, tests in BENCHES:
        tag = Path(str(config)).stem + (f"-{schedule}" if schedule else "")
        try:
            design = generate_rtl(config, name=f"{name}-{tag}", rtl_src=src / "rtl", out=work / f"rtl-{tag}",
                                  schedule=schedule)
            runner = build(design, sim, build_dir=work / f"{sim}-{tag}", waves=False)
        except RuntimeError as exc:
            return {"status": "invalid", "bench": f"{sim}:{label}", "detail": str(exc)}
        try:
            reports, _ = run_bench(runner, design, sim, "test_engine", label.replace("/", "-"),
                                   {"DRTP_GOLDEN": str(gold[gkey]), "DRTP_READBACK": "checkpoints",
                                    "DRTP_CHECK_EVERY": str(CHECK_EVERY)},
                                   test_filter=tests)
        except (AssertionError, pytest.fail.Exception) as exc:   # no report: the bench died, so it did not pass
            return {"status": "caught", "bench": f"{sim}:{label}", "detail": str(exc)}
        bad = [r for r in reports if not r["ok"]]
        if bad:
            return {"status": "caught", "bench": f"{sim}:{label}", "detail": bad[0]["mismatch"]}
    return {"status": "survived", "bench": "", "detail": ""}


class BaselineFails(RuntimeError):
    """The unmutated copy fails a tier: no mutant can be judged."""


class Runner:
    """Runs jobs through the tiers; the unmutated copy's tier-2 pass runs once, when first needed."""

    def __init__(self, args, expect: Path):
        self.args, self.expect = args, expect
        self._gold, self._lock = None, threading.Lock()

    def _hdl_ready(self) -> dict:
        with self._lock:
            if self._gold is None:
                gold = goldens()
                base = hdl_tier("baseline", OUT / "baseline", gen.make_tree(OUT / "baseline"), self.args.sim, gold)
                if base["status"] != "survived":
                    raise BaselineFails(f"the unmutated design does not pass the {self.args.sim} benches "
                                       f"({base['status']} by {base['bench']}: {base['detail']}); fix that first")
                self._gold = gold
            return self._gold

    def run(self, job: Job) -> dict:
        t0 = time.perf_counter()
        result = {"id": job.id, "what": job.what, "class": job.cls}
        if job.stale:
            return {**result, "status": "stale", "bench": "", "detail": job.stale, "seconds": 0.0}
        work = _folder(job.id)
        src = gen.make_tree(work, job.edits)
        r = pysim_tier(src, self.expect, self.args.timeout)
        if r["status"] == "pass":
            r = ({**r, "status": "survived", "bench": ""} if self.args.no_hdl
                 else hdl_tier(job.id, work, src, self.args.sim, self._hdl_ready()))
        if r["status"] in ("caught", "timeout", "invalid", "equivalent") and work.exists():
            shutil.rmtree(work)      # ours; survivors keep their copy for a look
        return {**result, **r, "seconds": round(time.perf_counter() - t0, 1)}


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
    p.add_argument("--set", choices=("generated", "handmade", "all"), default="all")
    p.add_argument("--count", type=int_in(1, 100_000), default=DEFAULT_COUNT,
                   help="generated mutants drawn (balanced over the classes)")
    p.add_argument("--seed", type=int_in(0, 2**32 - 1), default=DEFAULT_SEED)
    p.add_argument("--only", nargs="+", default=None, metavar="ID",
                   help="mutant ids (any generated candidate, see --list) or hand-made names")
    p.add_argument("--list", action="store_true", help="list the chosen mutants and exit")
    p.add_argument("--sim", default="icarus", choices=("icarus", "verilator"), help="simulator of tier 2")
    p.add_argument("--no-hdl", action="store_true", help="tier 1 only: pysim survivors are reported as survived")
    p.add_argument("--jobs", type=int_in(1, 64), default=2)
    p.add_argument("--timeout", type=int_in(10, 86_400), default=900, help="seconds of tier 1 per mutant")
    p.add_argument("--min-score", type=_score, default=0.0)
    p.add_argument("-o", type=Path, default=OUT / "report.json", help="the JSON report")
    return p


def main(argv=None) -> int:
    return run_cli(_parser(), argv, _main, errors=(BaselineFails,))


def choose(args) -> tuple[list[Job], int]:
    """The jobs the options ask for, and the number of generated candidates."""
    candidates = gen.generate()
    if args.only:
        by_id = {m.id: m for m in candidates}
        by_name = {m.name: m for m in MUTANTS}
        unknown = [i for i in args.only if i not in by_id and i not in by_name]
        if unknown:
            raise ConfigError(f"--only: no mutant has the id {unknown[0]!r}; see --list")
        return ([generated_job(by_id[i]) if i in by_id else handmade_job(by_name[i]) for i in args.only],
                len(candidates))
    jobs = []
    if args.set in ("handmade", "all"):
        jobs += [handmade_job(m) for m in MUTANTS]
    if args.set in ("generated", "all"):
        jobs += [generated_job(m) for m in gen.select(candidates, args.count, args.seed)]
    return jobs, len(candidates)


def _main(args) -> int:
    start = time.perf_counter()
    jobs, n_candidates = choose(args)
    if args.list:
        for j in jobs:
            print(f"{j.id:55s} {j.what}")
        print(f"{len(jobs)} mutants ({n_candidates} generated candidates in rtl/)")
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    expect = OUT / "pysim-expect.json"
    subprocess.run([sys.executable, str(HERE / "mutant_pysim.py"), "expect", "-o", str(expect)], cwd=ROOT, check=True)
    runner = Runner(args, expect)
    base = pysim_tier(gen.make_tree(OUT / "baseline"), expect, args.timeout, simulate_all=True)
    if base["status"] != "pass":
        print(f"error: the unmutated design does not pass the pysim cases ({base['status']} by {base['bench']}: "
              f"{base['detail']}); fix that before counting mutants", file=sys.stderr)
        return 2
    print(f"baseline passes tier 1; running {len(jobs)} mutants with {args.jobs} jobs "
          f"(tier 2: {'off' if args.no_hdl else args.sim})", flush=True)
    results = []
    with futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for job in futures.as_completed([pool.submit(runner.run, j) for j in jobs]):
            r = job.result()
            results.append(r)
            print(f"  {r['status']:8s} {r['seconds']:6.1f} s {r['id']:50s} {r['bench']}: {r['detail'][:160]}",
                  flush=True)
    order = {j.id: n for n, j in enumerate(jobs)}
    results.sort(key=lambda r: order[r["id"]])
    report = summarize(results, args, n_candidates, time.perf_counter() - start)
    write_json_atomic(args.o, report)
    print_summary(report)
    print(f"report: {args.o}")
    if report["stale"]:
        return 2
    handmade_survivors = [r for r in results if r["class"] == "handmade" and r["status"] == "survived"]
    return 1 if handmade_survivors or report["score"] < args.min_score else 0


def summarize(results: list[dict], args, n_candidates: int, seconds: float) -> dict:
    def tally(rows):
        t = {s: sum(r["status"] == s for r in rows)
             for s in ("caught", "timeout", "survived", "equivalent", "invalid", "stale")}
        valid = t["caught"] + t["timeout"] + t["survived"]
        return {**t, "valid": valid, "score": (t["caught"] + t["timeout"]) / valid if valid else 0.0}
    classes = [c for c in (*gen.CLASSES, "handmade") if any(r["class"] == c for r in results)]
    generated = [r for r in results if r["class"] != "handmade"]
    return {"seed": args.seed, "count": args.count, "candidates": n_candidates, "sim": args.sim,
            "tier2": not args.no_hdl, "seconds": round(seconds), **tally(results),
            "generated": tally(generated), "per_class": {c: tally([r for r in results if r["class"] == c])
                                                         for c in classes},
            "results": results}


def print_summary(report: dict) -> None:
    print(f"\n{'class':12s} {'caught':>6s} {'timeout':>7s} {'survived':>8s} {'equiv':>5s} {'invalid':>7s} "
          f"{'score':>6s}")
    for c, t in report["per_class"].items():
        print(f"{c:12s} {t['caught']:6d} {t['timeout']:7d} {t['survived']:8d} {t['equivalent']:5d} "
              f"{t['invalid']:7d} {100 * t['score']:5.1f}%")
    survivors = [r for r in report["results"] if r["status"] == "survived"]
    if survivors:
        print("\nsurvivors:")
        for r in survivors:
            print(f"  {r['id']}  {r['what']}")
    g = report["generated"]
    print(f"\nMUTATION SCORE {report['caught'] + report['timeout']}/{report['valid']} "
          f"({100 * report['score']:.1f} %); generated {g['caught'] + g['timeout']}/{g['valid']} "
          f"({100 * g['score']:.1f} %), {report['equivalent']} with an identical netlist, {report['invalid']} "
          f"invalid, {report['stale']} stale; "
          f"{report['seconds']} s")


if __name__ == "__main__":
    sys.exit(main())
