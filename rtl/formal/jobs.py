"""The table of proofs: which block, at which widths, under which rule, against which spec.

Each :class:`Proof` builds a fresh block (the ``rtl/`` component the engine instantiates) and its
specification (:mod:`rtl.formal.spec`) from the same parameters. ``width`` W sets every format
of the row (a stored quantity of W bits, internal registers what they need), so one function per
block gives the rows for W = 8 (also swept exhaustively by simulation in tests/test_rtl_blocks.py)
and 16, 20, 24, where simulation can only sample. Configs are built through
:func:`hwsim.config.config_from_dict`, so every row is a config the kit accepts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from amaranth.lib import wiring

from hwsim.config import Activation, EngineConfig, config_from_dict, load_config
from hwsim.formats import FixedFormat, Overflow, Rounding
from rtl.activation import ActivationUnit
from rtl.arith import shape_of
from rtl.error import OutputError
from rtl.lfsr import leap_rows, stream_rows
from rtl.mac import MacLanes
from rtl.requant import Requantizer
from rtl.update import UpdateLanes, WeightChange, change_shape

from . import miter, spec

__all__ = ["Proof", "WIDTHS", "BLOCKS", "proofs", "engine"]

WIDTHS = (8, 16, 20, 24)
"""The widths of the table: 8 (small: also exhaustively simulated) and three beyond simulation."""

RAND_BITS = 16


@dataclass(frozen=True)
class Proof:
    """One row of the table: ``make_block() == make_spec()`` for all inputs, by :data:`how` (a miter builder).

    ``params`` are the parameters both were built from (formats, config, layer), for the twin tests.
    """

    block: str
    width: int
    formats: str
    rule: str
    make_block: Callable[[], wiring.Component]
    make_spec: Callable[[], wiring.Component]
    how: Callable[[Any, Any], miter.Miter] = miter.combinational
    params: dict = field(default_factory=dict, compare=False)

    @property
    def name(self) -> str:
        """A file-name-safe id: ``requant-w24-rnd_conv-sat``."""
        return re.sub(r"[^A-Za-z0-9_.=-]+", "-", f"{self.block}-w{self.width}-{self.rule}").strip("-")

    def miter(self) -> miter.Miter:
        if self.how is miter.linear:        # several copies of the block
            return miter.linear(self.make_block, self.make_spec())
        return self.how(self.make_block(), self.make_spec())


def engine(width: int, **changes) -> EngineConfig:
    """configs/small.yaml (64-32-10) with 2 lanes, exact accumulators and ``changes`` (``layer1__error={...}``), validated."""
    d = load_config("small").to_dict()
    d["lanes"] = 2
    for layer in d["layers"]:       # exact accumulators unless a row names a width
        layer["accumulator"].pop("bits")
    for key, value in changes.items():
        node, path = d, key.split("__")
        if path[0].startswith("layer"):
            node, path = d["layers"][int(path[0][5:])], path[1:]
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = value
    return config_from_dict(d, origin=f"formal-w{width}")


def _fmt(text: str, rounding: str = "trn", overflow: str = "sat") -> dict:
    return {"format": text, "rounding": rounding, "overflow": overflow}


# ---------------------------------------------------------------------------------------------
# one function per block: its rows at width W
# ---------------------------------------------------------------------------------------------

def _requant(W: int) -> list[Proof]:
    d = max(1, W // 4)
    src = FixedFormat(W - W // 2, W // 2, True)
    frac = W // 2 - d
    rows = []

    def row(src: FixedFormat, dst: FixedFormat, rule: str) -> Proof:
        args = (shape_of(src), src.frac_bits, dst, None, RAND_BITS)
        return Proof("requant", W, f"{src} -> {dst}", rule, lambda: Requantizer(*args), lambda: spec.RequantSpec(*args),
                     params={"src": src, "dst": dst})

    for rounding in Rounding:
        for ovf in Overflow:
            dst = FixedFormat(W - d - 2 - frac, frac, True, rounding, ovf)
            rows.append(row(src, dst, f"{rounding.value}/{ovf.value} d={d}"))
    for rounding, ovf in ((Rounding.RND_CONV, Overflow.SAT), (Rounding.TRN, Overflow.WRAP)):
        dst = FixedFormat(W - d - 2 - frac, frac, False, rounding, ovf)
        rows.append(row(src, dst, f"{rounding.value}/{ovf.value} d={d} to unsigned"))
    for ovf in Overflow:
        dst = FixedFormat(W - 2 - (W // 2 + 2), W // 2 + 2, True, Rounding.TRN, ovf)
        rows.append(row(src, dst, f"{ovf.value} d=-2"))
    pixel = FixedFormat(0, W, False)
    rows.append(row(pixel, FixedFormat(0, W - d, False, Rounding.RND, Overflow.SAT), f"rnd/sat d={d} unsigned"))
    return rows


def _activation(W: int) -> list[Proof]:
    preact = FixedFormat(3, W + 1, True)  # two fraction bits more than the activation: rounding matters
    rows = []
    for kind in Activation:
        s = kind is Activation.HARD_TANH
        natural = [(FixedFormat(1, W - 1, s, r, o), f"{r.value}/{o.value}") for r, o in (
            (Rounding.TRN, Overflow.SAT), (Rounding.RND, Overflow.SAT), (Rounding.RND_CONV, Overflow.SAT),
            (Rounding.RND, Overflow.WRAP))]
        if s:   # 1.0 above the format: saturates to max; wraps to -1.0 is the natural wrap row
            odd = [(FixedFormat(0, W, True, Rounding.TRN, Overflow.SAT), "trn/sat no 1.0"),
                   (FixedFormat(0, W, True, Rounding.TRN, Overflow.WRAP), "trn/wrap no 1.0")]
        else:   # section 1: 1.0 wraps to -1.0 in s1.F, to 0 in u0.F
            odd = [(FixedFormat(1, W - 1, True, Rounding.TRN, Overflow.WRAP), "trn/wrap s1 1.0 wraps"),
                   (FixedFormat(0, W, False, Rounding.RND, Overflow.WRAP), "rnd/wrap u0 1.0 wraps")]
        for act, rule in natural + odd:
            args = (kind, preact, act)
            rows.append(Proof("activation", W, f"{preact} -> {act}", f"{kind.value} {rule}",
                              lambda args=args: ActivationUnit(*args), lambda args=args: spec.ActivationSpec(*args),
                              params={"kind": kind, "preact": preact, "act": act}))
    return rows


def _output_error(W: int) -> list[Proof]:
    rows = []
    variants = [(f"u1.{W - 1}", f"s2.{W - 3}", r, o, "error") for r, o in
                (("trn", "sat"), ("rnd", "sat"), ("rnd_conv", "sat"), ("rnd", "wrap"), ("trn", "wrap"))]
    variants += [(f"u1.{W - 1}", f"s2.{W - 3}", "rnd", "sat", "sign"), (f"u0.{W}", f"s2.{W - 3}", "rnd", "sat", "error")]
    for act, err, r, o, signal in variants:
        cfg = engine(W, layer1__activation={"kind": "hard_sigmoid", **_fmt(act)},
                     layer1__error={"signal": signal, **_fmt(err, r, o)})
        layer = cfg.layers[-1]
        rows.append(Proof("output_error", W, f"{layer.act} -> {layer.error}", f"{r}/{o} signal={signal}"
                          + (" no 1.0" if act.startswith("u0") else ""),
                          lambda layer=layer: OutputError(layer), lambda layer=layer: spec.OutputErrorSpec(layer),
                          params={"layer": layer}))
    return rows


def _update_cfg(W: int, **changes) -> EngineConfig:
    base = {"input": _fmt(f"u0.{W}"), "layer0__weight": {"format": f"s0.{W}", "overflow": "sat"},
            "layer0__activation": {"kind": "hard_tanh", **_fmt(f"s1.{W - 1}")},
            "layer1__weight": {"format": f"s1.{W - 1}", "overflow": "sat"},
            "layer1__error": {"signal": "error", **_fmt(f"s2.{W - 2}", "rnd")}}
    base.update(changes)
    return engine(W, **base)


def _weight_change(W: int) -> list[Proof]:
    rows = []
    variants = [(1, f"shift {r}", {"layer1__update": {"rule": "shift", "shift": 6, "rounding": r}})
                for r in ("trn", "rnd", "rnd_conv", "stoch")]
    variants += [
        (1, "sign", {"layer1__update": {"rule": "sign"}}),
        (1, "shift stoch signal=sign", {"layer1__update": {"rule": "shift", "shift": 6, "rounding": "stoch"},
                                        "layer1__error": {"signal": "sign", **_fmt(f"s2.{W - 2}", "rnd")}}),
        (0, "shift stoch", {"layer0__update": {"rule": "shift", "shift": 10, "rounding": "stoch"}}),
        (0, "shift trn d<0", {"layer0__update": {"rule": "shift", "shift": 0, "rounding": "trn"},
                              "input": _fmt(f"u0.{W - 2}")}),
        (0, "sign", {"layer0__update": {"rule": "sign"}}),
    ]
    for k, rule, changes in variants:
        cfg = _update_cfg(W, **changes)
        d = cfg.update_drop_bits(k)
        L = cfg.rng_lfsr_bits
        note = f" d={d}" + (f">L={L}" if d > L and cfg.update_is_stochastic(k) else "")
        fmts = f"{cfg.delta_format(k)} x {cfg.in_format(k)} -> {cfg.layers[k].weight}"
        rows.append(Proof("weight_change", W, fmts, f"L{k} {rule}{note if 'shift' in rule else ''}",
                          lambda cfg=cfg, k=k: WeightChange(cfg, k), lambda cfg=cfg, k=k: spec.WeightChangeSpec(cfg, k),
                          miter.weight_change, params={"cfg": cfg, "k": k}))
    return rows


def _weight_add(W: int) -> list[Proof]:
    rows = []
    for ovf in Overflow:
        cfg = _update_cfg(W, layer1__weight={"format": f"s1.{W - 1}", "overflow": ovf.value},
                          layer1__update={"rule": "shift", "shift": 6, "rounding": "stoch"})
        k, weight = 1, cfg.layers[1].weight
        dw = change_shape(cfg, k)
        rows.append(Proof("weight_add", W, f"{weight} + dW({dw.width} bits)", ovf.value,
                          lambda cfg=cfg: UpdateLanes(cfg, 1),
                          lambda weight=weight, dw=dw, P=cfg.lanes: spec.WeightAddSpec(weight, dw, P),
                          params={"cfg": cfg, "k": k}))
    return rows


def _mac(W: int) -> list[Proof]:
    rows = []
    for k, w_fmt, in_fmt in ((0, f"s0.{W}", f"u0.{W}"), (1, f"s1.{W - 1}", f"s1.{W - 1}")):
        for ovf, extra in (("sat", 1), ("wrap", 1), ("wrap", None)):
            signed_in = in_fmt.startswith("s")
            product = 2 * W + (0 if signed_in else 1)
            acc = {"bits": product + extra, "overflow": ovf} if extra else {"overflow": ovf}
            changes = {f"layer{k}__weight": {"format": w_fmt, "overflow": "sat"}, f"layer{k}__accumulator": acc}
            changes["input" if k == 0 else "layer0__activation"] = (
                _fmt(in_fmt) if k == 0 else {"kind": "hard_tanh", **_fmt(in_fmt)})
            if extra is None:
                d = engine(W, **changes).to_dict()          # the exact default width, recorded explicitly
                changes[f"layer{k}__accumulator"] = {"bits": d["layers"][k]["accumulator"]["bits"], "overflow": ovf}
            cfg = engine(W, **changes)
            acc_fmt = cfg.acc_format(k)
            rule = f"L{k} {ovf} acc {acc_fmt.width}b" + (" exact" if extra is None else " narrow")
            rows.append(Proof("mac", W, f"{cfg.layers[k].weight} x {cfg.in_format(k)} -> acc{acc_fmt.width}", rule,
                              lambda cfg=cfg, k=k: MacLanes(cfg, k), lambda cfg=cfg, k=k: spec.MacSpec(cfg, k),
                              miter.mac, params={"cfg": cfg, "k": k}))
    return rows


def _lfsr(W: int) -> list[Proof]:
    rows = []
    for P in (1, 4, 16):
        n = P * W
        rows.append(Proof("lfsr_leap", W, f"L={W}", f"leap {n} steps (P={P})",
                          lambda n=n: miter.Gf2Block(leap_rows(W, n), W), lambda n=n: spec.LfsrLeapSpec(W, n),
                          miter.linear, params={"width": W, "steps": n}))
    for P in (4, 16):
        rows.append(Proof("lfsr_stream", W, f"L={W}", f"stream {P} bits",
                          lambda P=P: miter.Gf2Block(stream_rows(W, P), W), lambda P=P: spec.LfsrStreamSpec(W, P),
                          miter.linear, params={"width": W, "count": P}))
    return rows


BLOCKS: dict[str, Callable[[int], list[Proof]]] = {
    "requant": _requant, "activation": _activation, "output_error": _output_error,
    "weight_change": _weight_change, "weight_add": _weight_add, "mac": _mac, "lfsr": _lfsr,
}
"""Row builders by block (``lfsr`` gives the ``lfsr_leap`` and ``lfsr_stream`` rows)."""


def proofs(blocks=None, widths=WIDTHS) -> list[Proof]:
    """The table's rows for ``blocks`` (keys of :data:`BLOCKS`, default all) at ``widths``, block-major."""
    return [p for b in (blocks or BLOCKS) for W in widths for p in BLOCKS[b](W)]
