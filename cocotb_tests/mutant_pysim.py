"""Tier 1 of ``make mutate``: the engine of an rtl/ copy in Amaranth's simulator against stored expectations.

    python cocotb_tests/mutant_pysim.py expect -o FILE [--cases a,b]                 (in the real tree)
    python cocotb_tests/mutant_pysim.py run FILE --src DIR [--cases a,b] [--simulate-all]  (PYTHONPATH=DIR first)

``expect`` builds the stimulus of every case of :data:`CASES` and runs :class:`hwsim.reference.ReferenceEngine`
(the real model) on it: predictions, cycle counts and weights at checkpoints, as raw integers in one
JSON file, with the digest of the unmutated design's netlist per case. ``run`` elaborates
:class:`rtl.engine.DrtpEngine` from the copy in ``DIR`` (it refuses to run on any other rtl/); a case
whose netlist digest is the unmutated one is skipped (the same netlist cannot behave differently),
the others stream the same samples in Amaranth's simulator, up to the first difference. It prints
one line ``MUTANT-RESULT {json}``: status ``pass``, ``identical`` (every case's netlist is the
unmutated one), ``caught`` (with the first mismatch sentence), ``hang`` (no ``done`` within three
times the expected cycles) or ``invalid`` (the design does not elaborate: an Amaranth or Python
error before the simulation starts).

The expectations come from a separate process in the real tree, so a mutant of hwsim/ (the
hand-made table edits the model's LFSR and parameters too) changes only the design, never what it
is compared with.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
STRESS = ROOT / "golden" / "configs" / "small-stress.yaml"
MARK = "MUTANT-RESULT "


@dataclass(frozen=True)
class Case:
    """One simulation: a config (a base plus changes), its stimulus and how the weights get in."""

    base: str | Path
    changes: dict = field(default_factory=dict)
    schedule: str = "dense"
    n_train: int = 4
    n_infer: int = 2
    stimulus: str = "data"      # data: 8x8 digits (or random pixels); edge: golden.generate's edge cases mixed in;
    #                             edge-last: edge, the one-pixel sample's pixel the last one;
    #                             zeros-first: data, the first two samples all zeros
    by_port: bool = False       # weights written through the weight port (the RAMs start at zero) instead of init
    edit: Callable[[dict], None] | None = None   # a change of the config dict that ``changes`` cannot say
    weights: Callable[[list], None] | None = None  # a change of the initial weights (raw, in place)


def _clip_biases(w: list) -> None:
    """Hidden biases (weight s2.6 times the bias input 1.0) of exactly +1.0, -1.0 and one LSB inside each."""
    w[0][:, -1] = [64, -64, 63, -63]


def _three_layer(d: dict) -> None:
    """Three layers, no bias, clipped ReLU, deterministic roundings (RND_CONV), saturating and wrapping sums."""
    hidden = dict(d["layers"][0])
    d.update(topology=[10, 6, 5, 4], lanes=2, bias=False,
             random_vectors={"source": "lfsr", "lfsr_bits": 12, "seeds": [91, 1234]})
    d["layers"] = [
        {**hidden, "activation": {"kind": "clipped_relu", "format": "u1.7", "rounding": "rnd", "overflow": "sat"},
         "update": {"rule": "shift", "shift": 6, "rounding": "rnd"}},
        {**hidden, "weight": {"format": "s1.7", "overflow": "sat"},
         "update": {"rule": "shift", "shift": 5, "rounding": "rnd_conv"}, "accumulator": {"bits": 24, "overflow": "sat"}},
        {**d["layers"][1], "accumulator": {"bits": 22, "overflow": "wrap"}},
    ]


ONE_LANE = {"topology": [5, 3, 2], "lanes": 1, "init": {"kind": "uniform", "scale": 4.0},
            "layer0.weight": {"format": "s2.10", "overflow": "wrap"},
            "layer0.accumulator": {"bits": 27, "overflow": "wrap"},
            "layer0.update": {"rule": "shift", "shift": 0, "rounding": "stoch"},
            "stochastic_rng": {"lfsr_bits": 11, "seed": 3}}
"""One lane; weights with more fraction bits than the update drops (a left shift), wrapping weights."""
TWO_BANKS = {"topology": [256, 16, 4], "lanes": 2,
             "layer0.update": {"rule": "shift", "shift": 4, "rounding": "stoch"}}
"""2,056 weight words in layer 0 (8 groups x 257 columns); a high learning rate, so weights in the second bank change too."""

# Ordered by what kills the most per second: the saturating stress config first (both schedules),
# then the shipped small config, then the corners the two do not reach (ROM vectors, sign rules,
# ragged lanes, clipped ReLU, RND_CONV, wrapping weights, one lane, no bias).
CASES: dict[str, Case] = {
    "stress": Case(STRESS, n_train=8, n_infer=2, stimulus="edge"),
    "stress-event": Case(STRESS, schedule="event", n_train=8, n_infer=2, stimulus="edge"),
    "small": Case("small", n_train=3, n_infer=2),
    "ragged-rom-sign": Case("small", {
        "topology": [12, 7, 3], "lanes": 5, "random_vectors": {"source": "rom", "seeds": [5]},
        "layer0.update": {"rule": "sign"}, "layer0.accumulator": {"bits": 18, "overflow": "sat"},
        "layer1.error": {"signal": "sign", "format": "s2.6", "rounding": "rnd", "overflow": "sat"}}, by_port=True),
    "three-layer-relu": Case("small", edit=_three_layer, by_port=True),
    "columns-equal-lanes": Case("small", {"topology": [4, 9, 3], "lanes": 4, "bias": False}, by_port=True),
    "one-lane-left-shift": Case("small", ONE_LANE, by_port=True),
    "small-event": Case("small", schedule="event", n_train=3, n_infer=1, stimulus="edge"),
    "ragged-rom-sign-event": Case("small", {
        "topology": [12, 7, 3], "lanes": 5, "random_vectors": {"source": "rom", "seeds": [5]},
        "layer0.update": {"rule": "sign"}, "layer0.accumulator": {"bits": 18, "overflow": "sat"},
        "layer1.error": {"signal": "sign", "format": "s2.6", "rounding": "rnd", "overflow": "sat"}},
        schedule="event", by_port=True, stimulus="edge"),
    "three-layer-relu-event": Case("small", edit=_three_layer, schedule="event", by_port=True, stimulus="edge"),
    # one lane, event: a sample whose only event is its last pixel has a group of 2 slots (event, bias),
    # and the forward pass starts the cycle after that event is written, so a layer that reads its
    # column count a cycle late ends the group after one slot
    "one-lane-event": Case("small", ONE_LANE, schedule="event", n_train=8, n_infer=2, stimulus="edge-last",
                           by_port=True),
    # layer 0 holds 8 groups x 257 columns = 2,056 words: two banks of rtl.weight_ram (2,048 + 8), which
    # none of the configs above reach (the paper-size engine does, but is too slow for this tier)
    # one input, no bias, one lane: a group's forward pass is one slot, so the post-processor takes a
    # group's sums (and the next random-vector bits) in every cycle: no slack for a late ROM word
    "one-column-rom": Case("small", {"topology": [1, 4, 2], "lanes": 1, "bias": False,
                                     "random_vectors": {"source": "rom", "seeds": [3]},
                                     "layer0.update": {"rule": "shift", "shift": 2, "rounding": "stoch"}},
                             n_train=6, by_port=True),
    # a sample with no input: each hidden pre-activation is its bias, set to the hard-tanh clip points
    # +-1.0 exactly (derivative 0: the clip points are outside the linear region) and one LSB inside
    "clip-points": Case("small", {"topology": [4, 4, 3], "lanes": 2,
                                  "layer0.weight": {"format": "s2.6", "overflow": "sat"},
                                  "layer0.update": {"rule": "shift", "shift": 2, "rounding": "stoch"}},
                        n_train=3, stimulus="zeros-first", weights=_clip_biases, by_port=True),
    "two-banks": Case("small", TWO_BANKS, n_train=2, n_infer=1),
    "two-banks-event": Case("small", TWO_BANKS, schedule="event", n_train=2, n_infer=1, by_port=True),
}


def case_config(case: Case):
    """The case's :class:`~hwsim.config.EngineConfig` (built by the hwsim that is imported)."""
    from hwsim.config import config_from_dict, load_config
    d = load_config(case.base).to_dict()
    if case.edit:
        case.edit(d)
    for key, value in case.changes.items():
        if key.startswith("layer"):
            idx, name = key[5:].split(".", 1)
            d["layers"][int(idx)][name] = value
        else:
            d[key] = value
    d["schedule"] = case.schedule
    return config_from_dict(d, origin="mutant case")


def _stimulus(cfg, case: Case, count: int, seed: int):
    rng = np.random.default_rng(seed)
    n_in = cfg.layers[0].n_in
    if n_in == 64:
        from sklearn.datasets import load_digits
        data = load_digits()
        idx = rng.choice(len(data.target), count, replace=False)
        xs = np.asarray(cfg.input.from_float(data.data[idx] / 16.0), dtype=np.int64)
        labels = data.target[idx]
    else:
        xs = rng.integers(cfg.input.min_raw, cfg.input.max_raw + 1, (count, n_in))
        if n_in > 2:
            xs[:, ::3] = 0   # digits are mostly zero: exercise zero inputs too
        labels = rng.integers(0, cfg.n_classes, count)
    if case.stimulus in ("edge", "edge-last"):
        from golden.generate import edge_stimulus
        xs = edge_stimulus(cfg, xs, seed)
    if case.stimulus == "zeros-first":   # only the bias column does work in the first two samples
        xs[:2] = 0
    if case.stimulus == "edge-last":   # the one-pixel sample's pixel in the last beat: its event is the last one
        xs[5] = 0
        xs[5, -1] = cfg.input.max_raw
    return xs, [int(v) for v in labels]


def _checkpoint(n: int, n_train: int) -> bool:
    """Weights are read back after training samples 0, 1, every third one and the last."""
    return n < n_train and (n < 2 or n % 3 == 2 or n == n_train - 1)


def expect(out: Path, names: list[str] | None = None) -> None:
    """Write the stimulus and the reference's results of the cases (default all) to ``out`` (JSON, atomically)."""
    from hwsim.cycles import SampleCounts
    from hwsim.fileio import write_json_atomic
    from hwsim.params import initial_weights
    from hwsim.reference import ReferenceEngine
    cases = {}
    for name in names or list(CASES):
        case = CASES[name]
        cfg = case_config(case)
        count = case.n_train + case.n_infer
        xs, labels = _stimulus(cfg, case, count, seed=len(name))
        w0 = initial_weights(cfg, seed=7)
        if case.weights:
            case.weights(w0)
        ref = ReferenceEngine(cfg, w0)
        samples = []
        for n in range(count):
            train = n < case.n_train
            trace = ref.run(xs[n], labels[n], train)
            samples.append({"x": [int(v) for v in xs[n]], "label": labels[n], "train": train,
                            "pred": int(trace.prediction),
                            "cycles": int(SampleCounts.from_traces(cfg, [trace], [train]).cycles[0]),
                            "weights": [w.tolist() for w in ref.weights()] if _checkpoint(n, case.n_train) else None})
        cases[name] = {"config": cfg.to_dict(), "by_port": case.by_port, "weights": [w.tolist() for w in w0],
                       "samples": samples}
        cases[name]["netlist"] = netlist_digest(_design(cases[name]))
    write_json_atomic(out, {"cases": cases}, indent=None)


def netlist_digest(dut) -> str:
    """SHA-256 of ``dut``'s RTLIL without its ``src`` attributes (a copy's paths and line numbers differ).

    Two designs with the same digest are the same netlist, so they cannot behave differently.
    """
    from amaranth.back import rtlil
    text = rtlil.convert(dut)
    return hashlib.sha256("\n".join(line for line in text.splitlines()
                                     if not line.lstrip().startswith("attribute \\src")).encode()).hexdigest()


def _design(spec: dict):
    from hwsim.config import config_from_dict
    from rtl.engine import DrtpEngine
    cfg = config_from_dict(spec["config"], origin="mutant case")
    w0 = [np.asarray(w, dtype=np.int64) for w in spec["weights"]]
    return DrtpEngine(cfg, None if spec["by_port"] else w0)


class Mismatch(Exception):
    pass


class Invalid(Exception):
    pass


class Identical(Exception):
    pass


async def stream_sample(ctx, dut, s: dict, timeout: int, where: str) -> tuple[int | None, int]:
    """Stream one sample (never stalling) and wait for ``done``, like :meth:`rtl.testbench.EngineBench.run_sample`
    (the same cycle count), and check the host side of the protocol on the way.

    While ``busy`` the host writes garbage and reads on the weight port in every cycle: the engine must
    ignore both (the weights are compared later; ``rvalid`` must stay low). ``busy`` must be low while a
    beat is accepted, high in ``done``'s cycle and, once high after the last beat, stay high until then.
    """
    cfg = dut.cfg
    P, n_in, beats = cfg.lanes, cfg.layers[0].n_in, -(-cfg.layers[0].n_in // cfg.lanes)
    x = [int(v) for v in s["x"]] + [0] * (beats * P - n_in)
    port, junk = dut.wport, (1 << len(dut.wport.wdata)) - 1
    cycle, beat, pred, rose = 0, 0, None, False
    while True:
        if beat < beats:
            ctx.set(dut.sample.valid, 1)
            ctx.set(dut.sample.payload, {"pixels": x[beat * P:(beat + 1) * P], "label": s["label"],
                                         "train": int(s["train"])})
            accepted = ctx.get(dut.sample.ready)
        else:
            ctx.set(dut.sample.valid, 0)
            accepted = False
        busy, done = ctx.get(dut.busy), ctx.get(dut.done)
        if accepted and busy:
            raise Mismatch(f"{where}: busy is high while beat {beat} is accepted")
        rose = rose or (beat == beats and busy)     # event: the last beat's events are still loading first
        if (rose or done) and not busy:
            raise Mismatch(f"{where}: busy is low {cycle} cycles into the sample, before the end of done")
        if ctx.get(port.rvalid):
            raise Mismatch(f"{where}: rvalid is high {cycle} cycles into the sample (a read while busy)")
        # garbage on the weight port while busy (busy is the state of this cycle, so the write cannot land)
        ctx.set(port.we, busy)
        ctx.set(port.re, busy)
        ctx.set(port.wdata, junk ^ (cycle * 0x9E3779B1 & junk))
        ctx.set(port.addr, cycle % (1 << len(port.addr)))
        ctx.set(port.layer, cycle % len(cfg.layers))
        if ctx.get(dut.pred_valid):
            pred = ctx.get(dut.pred)
        if beat or accepted:
            cycle += 1
        beat += int(accepted)
        await ctx.tick()
        if done:
            ctx.set(port.we, 0)
            ctx.set(port.re, 0)
            return pred, cycle
        if cycle > timeout:
            raise TimeoutError(f"no done after {timeout} cycles")


async def read_all_lanes(ctx, dut, k: int, lag: int) -> np.ndarray:
    """Layer k's RAM as ``(G * P, n_cols)`` raw weights, padding lanes (neurons past n_out) included.

    Like :meth:`rtl.testbench.EngineBench.read_weights`, which drops the padding lanes; here they are
    checked too: they start at 0 and must stay 0.
    """
    cfg, port = dut.cfg, dut.wport
    P, G, n_cols, width = cfg.lanes, cfg.groups(k), cfg.n_cols(k), cfg.layers[k].weight.width
    out = np.zeros((G * P, n_cols), dtype=np.int64)
    ctx.set(port.layer, k)
    n = G * n_cols
    for cycle in range(n + lag):
        ctx.set(port.re, cycle < n)
        ctx.set(port.addr, min(cycle, n - 1))
        await ctx.tick()
        addr = cycle + 1 - lag
        if 0 <= addr < n:
            if not ctx.get(port.rvalid):
                raise Mismatch(f"rvalid is low at read {addr} of layer {k}")
            g, i = divmod(addr, n_cols)
            word = ctx.get(port.rdata)
            for p in range(P):
                v = (word >> (p * width)) & ((1 << width) - 1)
                out[g * P + p, i] = v - (1 << width) if v >> (width - 1) else v
    ctx.set(port.re, 0)
    return out


def run_case(name: str, spec: dict, skip_identical: bool = True) -> str | None:
    """Simulate one case of an expectation file; None when it matches, else the first mismatch sentence.

    Raises :class:`Invalid` when the design does not elaborate and :class:`Identical` when its netlist
    is the unmutated design's (then there is nothing to simulate).
    """
    try:
        digest = netlist_digest(_design(spec))
    except Exception as exc:  # noqa: BLE001 - any error before simulating means the design is not valid
        raise Invalid(f"{name}: {type(exc).__name__}: {_line(exc)}") from None
    if digest == spec["netlist"] and skip_identical:
        raise Identical(name)
    from amaranth.sim import Simulator

    from hwsim.config import config_from_dict

    cfg = config_from_dict(spec["config"], origin=name)
    w0 = [np.asarray(w, dtype=np.int64) for w in spec["weights"]]
    try:
        from rtl.engine import DrtpEngine     # a mutant of a module's top level fails here
        from rtl.engine import HOST_READ_LATENCY as read_latency
        from rtl.testbench import EngineBench
        dut = DrtpEngine(cfg, None if spec["by_port"] else w0)
        sim = Simulator(dut)
    except Exception as exc:  # noqa: BLE001 - any error before simulating means the design is not valid
        raise Invalid(f"{name}: {type(exc).__name__}: {_line(exc)}") from None
    bench = EngineBench(dut)
    state = {"done": False}

    async def tb(ctx):
        if spec["by_port"]:
            for k, w in enumerate(w0):
                await bench.write_weights(ctx, k, w)
        for n, s in enumerate(spec["samples"]):
            pred, cycles = await stream_sample(ctx, dut, s, timeout=3 * s["cycles"] + 100, where=f"{name} sample {n}")
            if pred != s["pred"]:
                raise Mismatch(f"{name} sample {n}: prediction {pred}, expected {s['pred']}")
            if cycles != s["cycles"]:
                raise Mismatch(f"{name} sample {n}: {cycles} cycles, expected {s['cycles']}")
            if s["weights"] is not None:
                for k, want in enumerate(s["weights"]):
                    got = await read_all_lanes(ctx, dut, k, read_latency)
                    n_out = cfg.layers[k].n_out
                    pad = np.argwhere(got[n_out:] != 0)
                    if len(pad):
                        i, j = pad[0].tolist()
                        raise Mismatch(f"{name} sample {n}: layer {k} padding lane (neuron {n_out + i}) weight "
                                       f"[{n_out + i}, {j}] is {got[n_out + i, j]}, expected 0 (padding lanes do "
                                       f"nothing)")
                    got = got[:n_out]
                    diff = np.argwhere(got != np.asarray(want))
                    if len(diff):
                        i, j = diff[0].tolist()
                        raise Mismatch(f"{name} sample {n}: layer {k} has {len(diff)} weights that differ, the "
                                       f"first at [{i}, {j}]: {got[i, j]}, expected {want[i][j]}")
        state["done"] = True

    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    # a hang (no done, a stuck ready) ends at a deadline: 3x the expected cycles plus the weight traffic
    budget = 3 * sum(s["cycles"] for s in spec["samples"]) + 4 * sum(len(s["weights"] or ()) for s in spec["samples"]) \
        * max(cfg.groups(k) * cfg.n_cols(k) + 16 for k in range(len(cfg.layers))) + 10_000
    try:
        sim.run_until(budget * 1e-8)
    except Mismatch as exc:
        return str(exc)
    except TimeoutError as exc:
        return f"{name}: hang: {exc}"
    except Exception as exc:  # noqa: BLE001 - the bench died on the design's outputs: it did not pass
        return f"{name}: the bench died: {type(exc).__name__}: {_line(exc)}"
    if not state["done"]:
        return f"{name}: hang: the samples did not finish within {budget} cycles"
    return None


def _line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:300]


def run(expect_file: Path, src: Path, cases: list[str] | None, skip_identical: bool = True) -> dict:
    import rtl
    where = Path(rtl.__file__).resolve().parent.parent
    if where != src.resolve():
        raise SystemExit(f"error: rtl was imported from {where}, not from the mutant copy {src}; "
                         f"put {src} first on PYTHONPATH")
    spec = json.loads(expect_file.read_text())["cases"]
    t0 = time.perf_counter()
    times, identical = {}, []
    names = cases or list(spec)
    for name in names:
        times[name] = -time.perf_counter()
        try:
            detail = run_case(name, spec[name], skip_identical)
        except Identical:
            identical.append(name)
            detail = None
        except Invalid as exc:
            return {"status": "invalid", "case": name, "detail": str(exc), "seconds": time.perf_counter() - t0}
        if detail is not None:
            status = "hang" if ": hang:" in detail else "caught"
            return {"status": status, "case": name, "detail": detail, "seconds": time.perf_counter() - t0}
        times[name] = round(times[name] + time.perf_counter(), 2)
    if len(identical) == len(names):
        return {"status": "identical", "detail": f"the netlist is the unmutated design's in all {len(names)} "
                                                 f"configs", "seconds": time.perf_counter() - t0}
    return {"status": "pass", "seconds": time.perf_counter() - t0, "case_seconds": times, "identical": identical}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python cocotb_tests/mutant_pysim.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("expect")
    e.add_argument("-o", type=Path, required=True)
    e.add_argument("--cases", default=None)
    r = sub.add_parser("run")
    r.add_argument("file", type=Path)
    r.add_argument("--src", type=Path, required=True)
    r.add_argument("--cases", default=None)
    r.add_argument("--simulate-all", action="store_true", help="simulate a case even when its netlist is the "
                                                               "unmutated one (the unmutated copy's check)")
    args = p.parse_args(argv)
    if args.cmd == "expect":
        expect(args.o, args.cases.split(",") if args.cases else None)
        return 0
    result = run(args.file, args.src, args.cases.split(",") if args.cases else None, not args.simulate_all)
    print(MARK + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
