"""Argmax: the first index of the largest output pre-activation, one lane group per strobe."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Shape, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .arith import index_shape

__all__ = ["Argmax"]


class Argmax(wiring.Component):
    """Running ``argmax_first`` over groups of P values (twin: :func:`hwsim.twins.argmax_first`).

    Lanes are scanned in order and only a strictly larger value replaces the best, so ties keep
    the lowest index, as the reference's prediction does.

    Parameters
    ----------
    value_shape : Shape
        Shape of the compared values (the output pre-activation).
    lanes : int
        Values per group (P).
    count : int
        Number of real values; indices ``count`` and above are padding and never win.

    Ports
    -----
    i_valid : In(1)
        A group is presented this cycle.
    i_first : In(1)
        It is group 0 (forget the previous sample).
    i_base : In(index_shape(count + lanes))
        Index of lane 0 of the group (``g * P``).
    i_values : In(ArrayLayout(value_shape, lanes))
    i_mask : In(lanes)
        Lane p holds a real value.
    o_index : Out(index_shape(count))
        Index of the maximum including the presented group (combinational), or of all groups so
        far when ``i_valid`` is low.
    """

    def __init__(self, value_shape, lanes: int, count: int):
        self.value_shape, self.lanes, self.count = Shape.cast(value_shape), lanes, count
        super().__init__({
            "i_valid": In(1), "i_first": In(1), "i_base": In(index_shape(count + lanes)),
            "i_values": In(data.ArrayLayout(self.value_shape, lanes)), "i_mask": In(lanes),
            "o_index": Out(index_shape(count)),
        })

    def elaborate(self, platform):
        m = Module()
        best_val = Signal(self.value_shape)
        best_idx = Signal(index_shape(self.count))
        val, idx, have = best_val, best_idx, ~self.i_first
        for p in range(self.lanes):
            # named wires per lane: the chain reuses `val` twice, so bare expressions would grow 2**P
            take = Signal(name=f"take{p}")
            m.d.comb += take.eq(self.i_mask[p] & (~have | (self.i_values[p] > val)))
            val_p, idx_p = Signal.like(best_val, name=f"val{p}"), Signal.like(best_idx, name=f"idx{p}")
            m.d.comb += [val_p.eq(Mux(take, self.i_values[p], val)), idx_p.eq(Mux(take, self.i_base + p, idx))]
            val, idx, have = val_p, idx_p, have | self.i_mask[p]
        with m.If(self.i_valid):
            m.d.sync += [best_val.eq(val), best_idx.eq(idx)]
            m.d.comb += self.o_index.eq(idx)
        with m.Else():
            m.d.comb += self.o_index.eq(best_idx)
        return m
