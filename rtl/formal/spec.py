"""Specifications of the engine's combinational blocks, written from docs/engine.md in wide integers.

Each class here is the *contract* of one ``rtl/`` block as hardware a solver can read: the same
input ports as the block (names and shapes), outputs that are plain integers of the contract's
result. They use none of :mod:`rtl.arith` and none of the blocks' tricks (pruned comparisons,
sliced shifts, remainders taken from low bits, lookup tables): every value is first made a signed
integer wide enough to be exact, then the formulas of docs/engine.md are applied as written
(``rem = v - (q << d)``, ``clamp``, ``sign``, one LFSR step after another). So a proof that a block
equals its spec is a proof against the document, and :mod:`tests.test_formal_blocks` ties each spec
to the Python twin (:mod:`hwsim.twins`) by simulation on the shared edge-case table.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Shape, Signal, Value, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hwsim.config import Activation, EngineConfig, ErrorSignal, LayerConfig, UpdateRule
from hwsim.formats import FixedFormat, Overflow, Rounding
from hwsim.lfsr import TAPS

__all__ = ["RequantSpec", "ActivationSpec", "OutputErrorSpec", "WeightProductSpec", "WeightRoundSpec",
           "WeightChangeSpec", "WeightAddSpec", "MacProductSpec", "MacAddSpec", "MacSpec", "LfsrLeapSpec",
           "LfsrStreamSpec"]


# ---------------------------------------------------------------------------------------------
# docs/engine.md section 1, on exact signed integers
# ---------------------------------------------------------------------------------------------

def _raw(fmt: FixedFormat) -> Shape:
    return signed(fmt.width) if fmt.signed else unsigned(fmt.width)


def _exact(m: Module, value, bits: int, name: str) -> Signal:
    """``value`` as a signed integer of ``bits`` bits (callers give enough: nothing is lost)."""
    wire = Signal(signed(bits), name=name)
    m.d.comb += wire.eq(value)
    return wire


def _round(m: Module, v: Signal, d: int, rounding: Rounding, r=None) -> Value:
    """Drop ``d`` bits of the exact value ``v`` (section 1, Rounding); ``d <= 0`` is a left shift."""
    if d <= 0:
        return v << -d
    half = 1 << (d - 1)
    if rounding is Rounding.TRN:
        return v >> d
    if rounding is Rounding.RND:
        return (v + half) >> d
    if rounding is Rounding.RND_CONV:
        bits = len(v) + 2
        q = _exact(m, v >> d, bits, "q")
        rem = _exact(m, v - (q << d), bits, "rem")
        odd = (q % 2) == 1
        return Mux((rem > half) | ((rem == half) & odd), q + 1, q)
    if rounding is Rounding.STOCH:
        return (v + r) >> d
    raise ValueError(rounding)


def _overflow(m: Module, v, fmt: FixedFormat) -> Value:
    """Section 1, Overflow: ``sat`` clamps to ``[min_raw, max_raw]``; ``wrap`` keeps the low W bits."""
    v = _exact(m, v, len(Value.cast(v)) + 2, "unbounded")
    if fmt.overflow is Overflow.SAT:
        return Mux(v > fmt.max_raw, fmt.max_raw, Mux(v < fmt.min_raw, fmt.min_raw, v))
    low = v[:fmt.width]
    return low.as_signed() if fmt.signed else low


def _requantize(m: Module, v, from_frac: int, fmt: FixedFormat, rounding: Rounding, r=None) -> Value:
    d = from_frac - fmt.frac_bits
    v = Value.cast(v)
    exact = _exact(m, v, len(v) + 2 + max(0, -d), "exact")
    return _overflow(m, _round(m, exact, d, rounding, r), fmt)


def _one(fmt: FixedFormat) -> int:
    """1.0 in ``fmt``'s scale: ``2^F``, or 0 when ``F < 0`` (section 1; restated here on purpose)."""
    return 1 << fmt.frac_bits if fmt.frac_bits >= 0 else 0


def _a_ext(fmt: FixedFormat, bias, act) -> Value:
    """``a_ext`` (sections 3 and 5): the column's input, or 1.0 (:func:`_one`) for the bias column."""
    return Mux(bias, _one(fmt), act)


def _sign(v) -> Value:
    return Mux(v > 0, 1, Mux(v < 0, -1, 0))


# ---------------------------------------------------------------------------------------------
# blocks
# ---------------------------------------------------------------------------------------------

class RequantSpec(wiring.Component):
    """``o_value = overflow(round(i_value, from_frac - fmt.F))`` (section 1), ports of :class:`rtl.requant.Requantizer`.

    ``i_rand`` exists when the rounding is ``stoch`` and bits are dropped; its low ``d`` bits are the addend.
    """

    def __init__(self, in_shape, from_frac: int, fmt: FixedFormat, rounding: Rounding | None = None,
                 rand_bits: int = 16):
        self.in_shape, self.from_frac, self.fmt = Shape.cast(in_shape), from_frac, fmt
        self.rounding = Rounding(rounding or fmt.rounding)
        self.drop = from_frac - fmt.frac_bits
        members = {"i_value": In(self.in_shape), "o_value": Out(_raw(fmt))}
        if self.rounding is Rounding.STOCH and self.drop > 0:
            members["i_rand"] = In(unsigned(rand_bits))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        r = None
        if "i_rand" in self.signature.members:
            r = self.i_rand % (1 << self.drop)
        m.d.comb += self.o_value.eq(_requantize(m, self.i_value, self.from_frac, self.fmt, self.rounding, r))
        return m


class ActivationSpec(wiring.Component):
    """Section 3 steps 3-4: clip ``i_z`` in its own scale, requantize into ``act``; ``o_deriv`` per the table."""

    def __init__(self, kind: Activation, preact: FixedFormat, act: FixedFormat):
        self.kind, self.preact, self.act = Activation(kind), preact, act
        super().__init__({"i_z": In(_raw(preact)), "o_y": Out(_raw(act)), "o_deriv": Out(1)})

    def elaborate(self, platform):
        m = Module()
        z = _exact(m, self.i_z, self.preact.width + 3, "z")
        one = 1 << self.preact.frac_bits          # ONE = 2^F_z
        half = one // 2                           # HALF = 2^(F_z - 1)

        def clamp(v, lo, hi):
            return Mux(v < lo, lo, Mux(v > hi, hi, v))

        if self.kind is Activation.CLIPPED_RELU:
            c, deriv = clamp(z, 0, one), (0 < z) & (z < one)
        elif self.kind is Activation.HARD_TANH:
            c, deriv = clamp(z, -one, one), (-one < z) & (z < one)
        else:
            c, deriv = clamp(z + half, 0, one), (-half < z) & (z < half)
        clipped = _exact(m, c, self.preact.width + 3, "clipped")
        m.d.comb += [
            self.o_y.eq(_requantize(m, clipped, self.preact.frac_bits, self.act, self.act.rounding)),
            self.o_deriv.eq(deriv),
        ]
        return m


class OutputErrorSpec(wiring.Component):
    """Section 4, output layer: ``e = requantize(y - t, F_y, error)``; ``o_delta`` is ``e`` or ``sign(e)``.

    The target ``t = min(2^F_y, max_raw(y))`` for the label's neuron is restated from the document
    (not :meth:`LayerConfig.target_one`), so the proof also checks the config's rule.
    """

    def __init__(self, layer: LayerConfig):
        self.layer = layer
        out = signed(2) if layer.error_signal is ErrorSignal.SIGN else _raw(layer.error)
        super().__init__({"i_y": In(_raw(layer.act)), "i_is_label": In(1), "o_delta": Out(out)})

    def elaborate(self, platform):
        m = Module()
        act, err = self.layer.act, self.layer.error
        target = min(_one(act), act.max_raw)
        diff = _exact(m, self.i_y - Mux(self.i_is_label, target, 0), act.width + 3, "diff")
        e = _exact(m, _requantize(m, diff, act.frac_bits, err, err.rounding), err.width + 1, "e")
        m.d.comb += self.o_delta.eq(_sign(e) if self.layer.error_signal is ErrorSignal.SIGN else e)
        return m


def _dw_bits(cfg: EngineConfig, k: int) -> int:
    """Bits that hold any exact ``delta * a_ext`` of layer k, shifted left by a negative drop."""
    a_bits = max(cfg.in_format(k).width, _one(cfg.in_format(k)).bit_length()) + 1
    return cfg.delta_format(k).width + a_bits + 2 + max(0, -cfg.update_drop_bits(k))


class WeightProductSpec(wiring.Component):
    """Section 5, first half: each lane's exact ``-delta * a_ext`` (rule ``shift``) or ``-sign(delta) * sign(a_ext)``.

    ``a_ext`` (:func:`_a_ext`) is ``2^F_in`` for the bias column. The proof of rule ``shift``
    (:func:`rtl.formal.miter.weight_change`) uses :meth:`input_ext` and the exactness of ``*``, not
    this multiplier: a solver cannot show two different multiplier circuits equal at 16-24 bits.
    """

    def __init__(self, cfg: EngineConfig, k: int):
        self.cfg, self.k = cfg, k
        super().__init__({
            "i_deltas": In(data.ArrayLayout(_raw(cfg.delta_format(k)), cfg.lanes)),
            "i_act": In(_raw(cfg.in_format(k))), "i_bias": In(1),
            "o_products": Out(data.ArrayLayout(signed(2 * _dw_bits(cfg, k)), cfg.lanes)),
        })

    def input_ext(self, bias, act) -> Value:
        """This layer's ``a_ext`` of ``bias`` / ``act`` (also what the miter's operand check expects)."""
        return _a_ext(self.cfg.in_format(self.k), bias, act)

    def elaborate(self, platform):
        m = Module()
        a_ext = self.input_ext(self.i_bias, self.i_act)
        for p in range(self.cfg.lanes):
            delta = self.i_deltas[p]
            if self.cfg.layers[self.k].update_rule is UpdateRule.SIGN:
                m.d.comb += self.o_products[p].eq(-(_sign(delta) * _sign(a_ext)))
            else:   # exact: Amaranth sizes a product of raw operands to hold every value
                m.d.comb += self.o_products[p].eq(-(delta * a_ext))
        return m


class WeightRoundSpec(wiring.Component):
    """Section 5 and 5.2, second half: ``dW = round(product, d)`` per lane (rule ``sign``: ``dW = product``).

    The ``stoch`` addend is the lane word's low ``min(d, L)`` bits shifted left by ``max(0, d - L)``.
    ``o_nonzero``: some lane's ``dW`` is not 0.
    """

    def __init__(self, cfg: EngineConfig, k: int):
        self.cfg, self.k = cfg, k
        P = cfg.lanes
        layer = cfg.layers[k]
        self.stochastic = (layer.update_rule is UpdateRule.SHIFT and layer.update_rounding is Rounding.STOCH
                           and cfg.update_drop_bits(k) > 0)
        members = {"i_products": In(data.ArrayLayout(signed(2 * _dw_bits(cfg, k)), P)),
                   "o_dw": Out(data.ArrayLayout(signed(_dw_bits(cfg, k)), P)), "o_nonzero": Out(1)}
        if self.stochastic:
            members["i_words"] = In(data.ArrayLayout(unsigned(cfg.rng_lfsr_bits), P))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cfg, k = self.cfg, self.k
        layer, L, d = cfg.layers[k], cfg.rng_lfsr_bits, cfg.update_drop_bits(k)
        for p in range(cfg.lanes):
            product = _exact(m, self.i_products[p], len(self.i_products[p]), f"product{p}")
            if layer.update_rule is UpdateRule.SIGN:
                dw = product
            else:
                r = None
                if self.stochastic:
                    r = (self.i_words[p] % (1 << min(d, L))) * (1 << max(0, d - L))
                dw = _round(m, product, d, layer.update_rounding, r)
            m.d.comb += self.o_dw[p].eq(dw)
        m.d.comb += self.o_nonzero.eq(Cat(*(self.o_dw[p] != 0 for p in range(cfg.lanes))).any())
        return m


class WeightChangeSpec(wiring.Component):
    """Section 5: each lane's ``dW`` from its ``delta``, the column's ``a_ext`` and its word (ports of
    :class:`rtl.update.WeightChange`, without its register): :class:`WeightProductSpec` then
    :class:`WeightRoundSpec`, which :mod:`rtl.formal.miter` also uses apart, around its own register.
    """

    def __init__(self, cfg: EngineConfig, k: int):
        self.product, self.round = WeightProductSpec(cfg, k), WeightRoundSpec(cfg, k)
        self.stochastic = self.round.stochastic
        members = dict(self.product.signature.members)
        del members["o_products"]
        members.update({n: v for n, v in self.round.signature.members.items() if n != "i_products"})
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.product, m.submodules.round = self.product, self.round
        for name in ("i_deltas", "i_act", "i_bias"):
            m.d.comb += getattr(self.product, name).eq(getattr(self, name))
        m.d.comb += [self.round.i_products.eq(self.product.o_products),
                     self.o_dw.eq(self.round.o_dw), self.o_nonzero.eq(self.round.o_nonzero)]
        if self.stochastic:
            m.d.comb += self.round.i_words.eq(self.i_words)
        return m


class WeightAddSpec(wiring.Component):
    """Section 5: ``W' = overflow_w(W + dW)`` per lane, for every ``dW`` the port can carry (:class:`rtl.update.UpdateLanes`)."""

    def __init__(self, weight: FixedFormat, dw_shape, lanes: int):
        self.weight, self.lanes = weight, lanes
        super().__init__({"i_weights": In(data.ArrayLayout(_raw(weight), lanes)),
                          "i_dw": In(data.ArrayLayout(Shape.cast(dw_shape), lanes)),
                          "o_weights": Out(data.ArrayLayout(_raw(weight), lanes))})

    def elaborate(self, platform):
        m = Module()
        for p in range(self.lanes):
            total = _exact(m, self.i_weights[p] + self.i_dw[p], self.weight.width + len(self.i_dw[p]) + 2, f"sum{p}")
            m.d.comb += self.o_weights[p].eq(_overflow(m, total, self.weight))
        return m


def _mac_product_bits(cfg: EngineConfig, k: int) -> int:
    return cfg.layers[k].weight.width + cfg.in_format(k).width + 3


class MacProductSpec(wiring.Component):
    """Section 3 step 1, the term: each lane's exact ``W * a_ext`` (:func:`_a_ext`: 1.0 for the bias column)."""

    def __init__(self, cfg: EngineConfig, k: int):
        self.cfg, self.k = cfg, k
        super().__init__({"i_bias": In(1), "i_weights": In(data.ArrayLayout(_raw(cfg.layers[k].weight), cfg.lanes)),
                          "i_act": In(_raw(cfg.in_format(k))),
                          "o_products": Out(data.ArrayLayout(signed(_mac_product_bits(cfg, k)), cfg.lanes))})

    def input_ext(self, bias, act) -> Value:
        """This layer's ``a_ext`` of ``bias`` / ``act`` (also what the miter's operand check expects)."""
        return _a_ext(self.cfg.in_format(self.k), bias, act)

    def elaborate(self, platform):
        m = Module()
        a_ext = self.input_ext(self.i_bias, self.i_act)
        for p in range(self.cfg.lanes):   # exact product of the raw operands (see WeightProductSpec)
            m.d.comb += self.o_products[p].eq(self.i_weights[p] * a_ext)
        return m


class MacAddSpec(wiring.Component):
    """Section 3 step 1, the sum: ``acc' = overflow_acc((0 if first else acc) + term)``, ``acc`` when not enabled."""

    def __init__(self, cfg: EngineConfig, k: int):
        self.cfg, self.k = cfg, k
        self.acc_fmt = cfg.acc_format(k)
        P = cfg.lanes
        super().__init__({
            "i_acc": In(data.ArrayLayout(_raw(self.acc_fmt), P)), "i_en": In(1), "i_first": In(1),
            "i_products": In(data.ArrayLayout(signed(_mac_product_bits(cfg, k)), P)),
            "o_acc": Out(data.ArrayLayout(_raw(self.acc_fmt), P)),
        })

    def elaborate(self, platform):
        m = Module()
        bits = self.acc_fmt.width + _mac_product_bits(self.cfg, self.k) + 2
        for p in range(self.cfg.lanes):
            acc = _exact(m, self.i_acc[p], bits, f"acc{p}")
            total = _exact(m, Mux(self.i_first, 0, acc) + self.i_products[p], bits, f"total{p}")
            m.d.comb += self.o_acc[p].eq(Mux(self.i_en, _overflow(m, total, self.acc_fmt), acc))
        return m


class MacSpec(wiring.Component):
    """Section 3 step 1, one column of one lane group: :class:`MacProductSpec` then :class:`MacAddSpec`.

    Combinational: ``i_acc`` is the sum so far. :func:`rtl.formal.miter.mac` proves the block
    against the two halves apart (the operands of :meth:`MacProductSpec.input_ext`, then
    :class:`MacAddSpec` of their exact product) and feeds ``i_acc`` the block's previous output.
    """

    def __init__(self, cfg: EngineConfig, k: int):
        self.product, self.add = MacProductSpec(cfg, k), MacAddSpec(cfg, k)
        members = {n: v for n, v in self.product.signature.members.items() if n != "o_products"}
        members.update({n: v for n, v in self.add.signature.members.items() if n != "i_products"})
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.product, m.submodules.add = self.product, self.add
        for name in ("i_bias", "i_weights", "i_act"):
            m.d.comb += getattr(self.product, name).eq(getattr(self, name))
        for name in ("i_acc", "i_en", "i_first"):
            m.d.comb += getattr(self.add, name).eq(getattr(self, name))
        m.d.comb += [self.add.i_products.eq(self.product.o_products), self.o_acc.eq(self.add.o_acc)]
        return m


def _lfsr_step(state: Value, width: int) -> Value:
    """Section 6: ``new = XOR of bits (t - 1) for t in TAPS[L]``, ``state' = ((state << 1) | new) mod 2^L``."""
    new = state[TAPS[width][0] - 1]
    for t in TAPS[width][1:]:
        new = new ^ state[t - 1]
    return Cat(new, state[:width - 1])


def _held(m: Module, value: Value, name: str) -> Signal:
    """``value`` through a wire: each step reads the last one's wires, not its whole expression tree."""
    wire = Signal(len(value), name=name)
    m.d.comb += wire.eq(value)
    return wire


class LfsrLeapSpec(wiring.Component):
    """``o_bits`` = ``i_state`` after ``steps`` LFSR steps, one step after another (section 6)."""

    def __init__(self, width: int, steps: int):
        self.width, self.steps = width, steps
        super().__init__({"i_state": In(unsigned(width)), "o_bits": Out(unsigned(width))})

    def elaborate(self, platform):
        m = Module()
        state = Value.cast(self.i_state)
        for n in range(self.steps):
            state = _held(m, _lfsr_step(state, self.width), f"step{n + 1}")
        m.d.comb += self.o_bits.eq(state)
        return m


class LfsrStreamSpec(wiring.Component):
    """``o_bits[q]`` = LSB of the state ``q + 1`` steps after ``i_state`` (bit stream, sections 5.1 and 6)."""

    def __init__(self, width: int, count: int):
        self.width, self.count = width, count
        super().__init__({"i_state": In(unsigned(width)), "o_bits": Out(unsigned(count))})

    def elaborate(self, platform):
        m = Module()
        state, bits = Value.cast(self.i_state), []
        for n in range(self.count):
            state = _held(m, _lfsr_step(state, self.width), f"step{n + 1}")
            bits.append(state[0])
        m.d.comb += self.o_bits.eq(Cat(*bits))
        return m
