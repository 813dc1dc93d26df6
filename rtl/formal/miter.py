"""Miters: a block and its specification side by side, with an ``Assert`` that their outputs agree.

A miter's top-level ports are the block's inputs only, so the solver picks them freely in every
cycle. Combinational blocks need one step (``bmc`` depth 1 covers every input). The two blocks
with registers get a harness that delays the spec's inputs by the block's ``LATENCY`` and feeds
the spec the block's own previous output where the block has feedback (the MAC's accumulator);
their assertions are proven for every input sequence by k-induction (``prove``).

The two multiplier blocks (:func:`mac`, :func:`weight_change` rule ``shift``) are proven in parts,
because no solver here shows two different multiplier circuits equal at 16-24 bits: each lane's
operand registers are cut points. (P1) they hold the delayed column; (P2) the block's output is the
spec's back end (accumulate and overflow, or round) of the exact product of those very registers;
product lemmas (two tiny jobs, :func:`_product_lemmas`) turn (P1) into "that product is the spec's".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from amaranth.hdl import Assert, Assume, Fragment, Module, Shape, Signal, Value
from amaranth.back import rtlil
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hwsim.config import UpdateRule
from rtl.lfsr import Gf2Map
from rtl.mac import MacLanes
from rtl.update import WeightChange

__all__ = ["Miter", "combinational", "weight_change", "mac", "linear", "Gf2Block", "OPERAND_STAGE"]


@dataclass
class Miter:
    """A module to prove, its free inputs, and how: ``mode`` (``bmc`` / ``prove``) and ``depth``.

    ``lemmas``: further miters the proof rests on, each proven in a job of its own (``name``: its
    folder); the row is proven when the miter and every lemma are.
    """

    module: Module
    ports: list[Signal]
    mode: str
    depth: int
    lemmas: tuple["Miter", ...] = ()
    name: str = ""

    def rtlil(self) -> str:
        return rtlil.convert(self.module, ports=self.ports, name="top")


def _members(component: wiring.Component, flow) -> dict[str, Value]:
    return {name: Value.cast(getattr(component, name))
            for name, member in component.signature.members.items() if member.flow is flow}


def _inputs(m: Module, block: wiring.Component, spec: wiring.Component) -> list[Signal]:
    """One free top-level signal per block input, driving the block and the spec's input of that name."""
    ins, spec_ins = _members(block, In), _members(spec, In)
    if set(ins) != set(spec_ins):
        raise ValueError(f"block inputs {sorted(ins)} differ from its spec's {sorted(spec_ins)}")
    ports = []
    for name, port in ins.items():
        free = Signal(port.shape(), name=name)
        m.d.comb += [port.eq(free), spec_ins[name].eq(free)]
        ports.append(free)
    return ports


def _agree(m: Module, block: wiring.Component, spec: wiring.Component, outputs: list[str] | None = None):
    """The assertions: every output (or the named ones), lane by lane for arrays, compared as integers."""
    for name in outputs or _members(spec, Out):
        got, want = getattr(block, name), getattr(spec, name)
        shape = want.shape()
        pairs = [(got[p], want[p]) for p in range(shape.length)] if hasattr(shape, "elem_shape") else [(got, want)]
        for got_p, want_p in pairs:
            m.d.comb += Assert(Value.cast(got_p) == Value.cast(want_p), f"{name} differs from the spec")


def combinational(block: wiring.Component, spec: wiring.Component) -> Miter:
    """Block and spec share every input; one step covers all of them."""
    m = Module()
    m.submodules.block, m.submodules.spec = block, spec
    ports = _inputs(m, block, spec)
    _agree(m, block, spec)
    return Miter(m, ports, "bmc", 1)


def _cycles(m: Module, latency: int) -> Signal:
    """Cycles since the start, counting up to ``latency`` and staying there: from ``latency`` on, every
    value the block shows was computed from inputs the harness saw."""
    count = Signal(range(latency + 1), name="cycles")
    with m.If(count != latency):
        m.d.sync += count.eq(count + 1)
    return count


def _delay(m: Module, value, cycles: int, name: str) -> Value:
    held = Value.cast(value)
    for n in range(cycles):
        reg = Signal(held.shape(), name=f"{name}_d{n + 1}")
        m.d.sync += reg.eq(held)
        held = reg
    return held


def _free_inputs(m: Module, block: wiring.Component) -> list[Signal]:
    """One free top-level signal per block input, driving it (read the block's ports for typed lanes)."""
    ports = []
    for name, port in _members(block, In).items():
        free = Signal(port.shape(), name=name)
        m.d.comb += port.eq(free)
        ports.append(free)
    return ports


# ---------------------------------------------------------------------------------------------
# the two multiplier blocks: a compositional proof with the operand registers as cut points
# ---------------------------------------------------------------------------------------------

OPERAND_STAGE = 1
"""Cycles from a column at the inputs of :class:`~rtl.mac.MacLanes` / :class:`~rtl.update.WeightChange` to
its lane operand registers (both register them first). A block that changed this fails its proof (P1)."""


def _lane_registers(block: wiring.Component, names: tuple[str, ...]) -> tuple[Fragment, list[dict[str, Signal]]]:
    """The block elaborated once, and each lane p's registers named ``f"{name}{p}"`` (the cut points).

    The multiplier blocks name their operand registers ``weight{p}`` / ``delta{p}`` and ``operand{p}``;
    the miter adds the fragment itself as a submodule, so it reads those very signals. Which
    signals they are does not matter for soundness: (P1) and (P2) are stated on the same ones.
    """
    fragment = Fragment.get(block, None)
    found: dict[str, list[Signal]] = {}
    for stmt in fragment.statements.get("sync", ()):
        for sig in stmt._lhs_signals():     # Amaranth 0.5 (pinned): the signals a statement drives
            if all(sig is not seen for seen in found.get(sig.name, ())):
                found.setdefault(sig.name, []).append(sig)
    lanes = []
    for p in range(block.cfg.lanes):
        lane = {}
        for name in names:
            hits = found.get(f"{name}{p}", [])
            if len(hits) != 1:
                raise ValueError(f"{type(block).__name__} has {len(hits)} registers named {name}{p}, "
                                 "not one: the proof reads each lane's operand registers by name")
            lane[name] = hits[0]
        lanes.append(lane)
    return fragment, lanes


def _operands_agree(m: Module, cycles: Signal, lanes: list[dict[str, Signal]], first: str,
                    columns: list[Value], a_ext: Value) -> None:
    """(P1) each lane's registers hold the column of ``OPERAND_STAGE`` cycles ago: its own ``first``
    operand exactly, and ``a_ext``, or 0 where the first operand is 0 (the same product)."""
    a_then = _delay(m, a_ext, OPERAND_STAGE, "a_ext")     # delays outside the If: they run every cycle
    x_then = [_delay(m, x, OPERAND_STAGE, f"{first}_in{p}") for p, x in enumerate(columns)]
    with m.If(cycles >= OPERAND_STAGE):
        for p, lane in enumerate(lanes):
            x_op, a_op = lane[first], lane["operand"]
            m.d.comb += [
                Assert(x_op == x_then[p], f"lane {p}: the {first} register is not the column's {first}"),
                Assert((x_op == 0) | (a_op == a_then), f"lane {p}: the input register is not the column's a_ext"),
            ]


def _product(x: Value, y: Value, port: Value, cycles: int, name: str, m: Module) -> Value:
    """The exact product ``x * y`` of the block's own operand registers, ``cycles`` later; it must fit ``port``."""
    product = x * y      # Amaranth sizes it to hold every value: the integer product
    if len(product) > len(Value.cast(port)):
        raise ValueError(f"{name}: the product of the operands needs {len(product)} bits, the spec's port has "
                         f"{len(Value.cast(port))}")
    return _delay(m, product, cycles, name)


def _product_lemmas(lanes: list[dict[str, Signal]], first: str, column: Shape, a_ext: Shape) -> tuple[Miter, ...]:
    """From (P1) to the spec's product, for the shapes at hand: ``x_op * a_op == x * a_ext`` (all exact)
    whenever (P1) holds, i.e. when ``x_op == 0 == x`` (case ``zero``) or ``x_op == x`` and
    ``a_op == a_ext`` (case ``equal``; these are the two cases of P1's disjunction).

    Each case is a job of its own with its condition as an ``Assume``: a conjunction of equalities,
    which the solver substitutes away (24-bit operands in about a second). Stated as one assertion
    with the disjunction inside, Boolector did not finish in 2 minutes even at W = 8.
    """
    shapes = {(lane[first].shape(), lane["operand"].shape()) for lane in lanes}
    lemmas = []
    for x_shape, a_shape in sorted(shapes, key=repr):
        for case in ("zero", "equal"):
            m = Module()
            x_op, a_op = Signal(x_shape, name=f"{first}_op"), Signal(a_shape, name="a_op")
            x, a = Signal(column, name=first), Signal(a_ext, name="a_ext")
            when = ((x_op == 0) & (x == 0)) if case == "zero" else ((x_op == x) & (a_op == a))
            m.d.comb += [Assume(when), Assert(x_op * a_op == x * a, f"the products differ (case {case})")]
            m._MustUse__silence = True     # not elaborated when the main proof fails first (no warning then)
            name = f"lemma-{case}" + (f"-{len(lemmas) // 2}" if len(shapes) > 1 else "")
            lemmas.append(Miter(m, [x_op, a_op, x, a], "bmc", 1, name=name))
    return tuple(lemmas)


def weight_change(block: WeightChange, spec) -> Miter:
    """``o_dw`` in cycle t: the spec of the column of t - LATENCY, rounded with the words of t.

    Rule ``shift``, in two parts proven together (one induction, one job), with the lane operand
    registers ``delta{p}`` / ``operand{p}`` as cut points:

    * (P1) they hold the column of t - ``OPERAND_STAGE``: ``delta{p} == i_deltas[p]`` and
      (``delta{p} == 0`` or ``operand{p} == a_ext``);
    * (P2) ``o_dw`` equals :class:`~rtl.formal.spec.WeightRoundSpec` of ``-(delta{p} * operand{p})``
      taken ``LATENCY - OPERAND_STAGE`` cycles earlier (one ``*`` of the same registers as the
      block's, so the solver never compares two multipliers), with the words of t.

    Since ``d * 0 == 0 == 0 * a`` and ``*`` is the exact product, (P1) makes that product the spec's
    ``-(delta * a_ext)`` of the column, so (P1) and (P2) give ``o_dw == WeightChangeSpec``.
    Rule ``sign`` (2-bit products) is proven directly: the spec's products of the inputs,
    registered by the harness, then its rounding half.
    """
    spec._MustUse__silence = True       # only its halves are used (Amaranth would warn)
    if block.cfg.layers[block.k].update_rule is UpdateRule.SIGN:
        m = Module()
        m.submodules.block = block
        m.submodules.spec_product, m.submodules.spec_round = spec.product, spec.round
        ports = _free_inputs(m, block)
        for name in _members(block, In):
            target = spec.round if name == "i_words" else spec.product   # words: read in the output cycle
            m.d.comb += getattr(target, name).eq(getattr(block, name))
        m.d.comb += spec.round.i_products.eq(_delay(m, spec.product.o_products, block.LATENCY, "products"))
        with m.If(_cycles(m, block.LATENCY) == block.LATENCY):
            _agree(m, block, spec.round)
        return Miter(m, ports, "prove", block.LATENCY + 2)
    fragment, lanes = _lane_registers(block, ("delta", "operand"))
    m = Module()
    spec.product._MustUse__silence = True     # the proof uses its input_ext, not its multiplier
    m.submodules.block, m.submodules.spec_round = fragment, spec.round
    ports = _free_inputs(m, block)
    cycles = _cycles(m, block.LATENCY)
    a_ext = spec.product.input_ext(block.i_bias, block.i_act)
    _operands_agree(m, cycles, lanes, "delta", [block.i_deltas[p] for p in range(block.cfg.lanes)], a_ext)
    for p, lane in enumerate(lanes):
        held = _product(lane["delta"], lane["operand"], spec.round.i_products[p],
                        block.LATENCY - OPERAND_STAGE, f"product{p}", m)
        m.d.comb += spec.round.i_products[p].eq(-held)
    if block.stochastic:
        m.d.comb += spec.round.i_words.eq(block.i_words)
    with m.If(cycles == block.LATENCY):     # (P2)
        _agree(m, block, spec.round)
    lemmas = _product_lemmas(lanes, "delta", spec.product.i_deltas[0].shape(), Value.cast(a_ext).shape())
    return Miter(m, ports, "prove", block.LATENCY + 2, lemmas)


def mac(block: MacLanes, spec) -> Miter:
    """``o_acc`` in cycle t: the spec's sum of ``o_acc`` of t - 1 and the column of t - LATENCY.

    In two parts proven together, with the lane operand registers ``weight{p}`` / ``operand{p}``
    as cut points: (P1) they hold the column of t - ``OPERAND_STAGE`` (``weight{p} == i_weights[p]``,
    and ``operand{p} == a_ext`` unless ``weight{p} == 0``); (P2) ``o_acc`` equals
    :class:`~rtl.formal.spec.MacAddSpec` (add, then sat / wrap) of the block's ``o_acc`` of t - 1 and
    the exact ``weight{p} * operand{p}`` of ``LATENCY - OPERAND_STAGE`` cycles earlier, one ``*`` of
    the block's own registers. (P1) makes that product the spec's ``W * a_ext`` (``w * 0 == 0``).
    The accumulator is fed back, so this is proven for every reachable sum by induction (any
    ``o_acc`` the solver likes as a start), not only the sums a bounded run could build up.
    """
    fragment, lanes = _lane_registers(block, ("weight", "operand"))
    m = Module()
    spec._MustUse__silence = spec.product._MustUse__silence = True   # only the halves' parts are used
    m.submodules.block, m.submodules.spec_add = fragment, spec.add
    ports = _free_inputs(m, block)
    cycles = _cycles(m, block.LATENCY)
    a_ext = spec.product.input_ext(block.i_bias, block.i_act)
    _operands_agree(m, cycles, lanes, "weight", [block.i_weights[p] for p in range(block.cfg.lanes)], a_ext)
    for name in ("i_en", "i_first"):
        m.d.comb += getattr(spec.add, name).eq(_delay(m, getattr(block, name), block.LATENCY, name))
    m.d.comb += spec.add.i_acc.eq(_delay(m, block.o_acc, 1, "acc_before"))
    for p, lane in enumerate(lanes):
        m.d.comb += spec.add.i_products[p].eq(_product(lane["weight"], lane["operand"], spec.add.i_products[p],
                                                       block.LATENCY - OPERAND_STAGE, f"product{p}", m))
    with m.If(cycles == block.LATENCY):     # (P2)
        _agree(m, block, spec.add)
    lemmas = _product_lemmas(lanes, "weight", spec.product.i_weights[0].shape(), Value.cast(a_ext).shape())
    return Miter(m, ports, "prove", block.LATENCY + 2, lemmas)


def linear(make_block: Callable[[], wiring.Component], spec: wiring.Component) -> Miter:
    """A GF(2)-linear spec (XORs and wiring only, so linear by construction) against a block, in two asserts.

    Comparing two deep XOR networks over all inputs is what CDCL solvers do worst (a 96-step leap
    of a 24-bit LFSR did not finish in 10 minutes with Boolector or Yices). Instead: (1) the block
    is linear, ``f(x ^ y) == f(x) ^ f(y)`` for all x, y; (2) it equals the spec on every unit
    vector ``z`` (one bit set). A linear map is fixed by its images of the unit vectors, and both
    are linear, so (1) and (2) prove ``f == spec`` for every input.
    """
    m = Module()
    copies = [make_block() for _ in range(4)]
    for n, c in enumerate(copies):
        m.submodules[f"block{n}"] = c
    m.submodules.spec = spec
    width = len(Value.cast(spec.i_state))
    x, y, z = (Signal(width, name=n) for n in "xyz")
    out = [Value.cast(c.o_bits) for c in copies]
    m.d.comb += [copies[0].i_state.eq(x ^ y), copies[1].i_state.eq(x), copies[2].i_state.eq(y),
                 copies[3].i_state.eq(z), spec.i_state.eq(z)]
    m.d.comb += Assert(out[0] == (out[1] ^ out[2]), "the block is not linear")
    one_hot = (z != 0) & ((z & (z - 1)) == 0)
    with m.If(one_hot):
        m.d.comb += Assert(out[3] == Value.cast(spec.o_bits), "o_bits differs from the spec on a unit vector")
    return Miter(m, [x, y, z], "bmc", 1)


class Gf2Block(wiring.Component):
    """:class:`rtl.lfsr.Gf2Map` as a component (``o_bits = rows x i_state`` over GF(2)), as the engine builds it."""

    def __init__(self, rows: list[int], width: int):
        self.rows, self.width = rows, width
        super().__init__({"i_state": In(width), "o_bits": Out(len(rows))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.o_bits.eq(Gf2Map(m, self.rows, self.width, "map")(self.i_state))
        return m
