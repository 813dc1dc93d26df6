"""Miters: a block and its specification side by side, with an ``Assert`` that their outputs agree.

A miter's top-level ports are the block's inputs only, so the solver picks them freely in every
cycle. Combinational blocks need one step (``bmc`` depth 1 covers every input). The two blocks
with registers get a harness that delays the spec's inputs by the block's ``LATENCY`` and feeds
the spec the block's own previous output where the block has feedback (the MAC's accumulator);
their assertions are proven for every input sequence by k-induction (``prove``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from amaranth.hdl import Assert, Module, Signal, Value
from amaranth.back import rtlil
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtl.lfsr import Gf2Map
from rtl.mac import MacLanes
from rtl.update import WeightChange

__all__ = ["Miter", "combinational", "weight_change", "mac", "linear", "Gf2Block"]


@dataclass
class Miter:
    """A module to prove, its free inputs, and how: ``mode`` (``bmc`` / ``prove``) and ``depth``."""

    module: Module
    ports: list[Signal]
    mode: str
    depth: int

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


def _warm(m: Module, latency: int) -> Signal:
    """1 from cycle ``latency`` on: every value the block shows was computed from inputs the harness saw."""
    count = Signal(range(latency + 1), name="cycles")
    with m.If(count != latency):
        m.d.sync += count.eq(count + 1)
    return count == latency


def _delay(m: Module, value, cycles: int, name: str) -> Value:
    held = Value.cast(value)
    for n in range(cycles):
        reg = Signal(held.shape(), name=f"{name}_d{n + 1}")
        m.d.sync += reg.eq(held)
        held = reg
    return held


def weight_change(block: WeightChange, spec) -> Miter:
    """``o_dw`` in cycle t: the spec's products of the column of t - LATENCY, rounded with the words of t.

    The spec's two halves (:class:`rtl.formal.spec.WeightChangeSpec`) sit around a register of the
    harness: its multipliers see the same inputs in the same cycle as the block's.
    """
    m = Module()
    spec._MustUse__silence = True       # only its halves are used (Amaranth would warn)
    m.submodules.block = block
    m.submodules.spec_product, m.submodules.spec_round = spec.product, spec.round
    ports = []
    for name, port in _members(block, In).items():
        free = Signal(port.shape(), name=name)
        m.d.comb += port.eq(free)
        ports.append(free)
        target = spec.round if name == "i_words" else spec.product   # words: read in the output cycle
        m.d.comb += getattr(target, name).eq(free)
    m.d.comb += spec.round.i_products.eq(_delay(m, spec.product.o_products, block.LATENCY, "products"))
    with m.If(_warm(m, block.LATENCY)):
        _agree(m, block, spec.round)
    return Miter(m, ports, "prove", block.LATENCY + 2)


def mac(block: MacLanes, spec) -> Miter:
    """``o_acc`` in cycle t: the spec's sum of ``o_acc`` of t - 1 and the column of t - LATENCY.

    The accumulator is fed back, so this is proven for every reachable sum by induction (any
    ``o_acc`` the solver likes as a start), not only the sums a bounded run could build up. The
    spec's product half sees the block's inputs in the same cycle; its terms are delayed.
    """
    m = Module()
    spec._MustUse__silence = True       # only its halves are used (Amaranth would warn)
    m.submodules.block = block
    m.submodules.spec_product, m.submodules.spec_add = spec.product, spec.add
    ports = []
    for name, port in _members(block, In).items():
        free = Signal(port.shape(), name=name)
        m.d.comb += port.eq(free)
        ports.append(free)
        if name in _members(spec.product, In):
            m.d.comb += getattr(spec.product, name).eq(free)
        else:
            m.d.comb += getattr(spec.add, name).eq(_delay(m, free, block.LATENCY, name))
    m.d.comb += spec.add.i_products.eq(_delay(m, spec.product.o_products, block.LATENCY, "products"))
    m.d.comb += spec.add.i_acc.eq(_delay(m, block.o_acc, 1, "acc_before"))
    with m.If(_warm(m, block.LATENCY)):
        _agree(m, block, spec.add)
    return Miter(m, ports, "prove", block.LATENCY + 2)


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
