"""A layer's input columns as the layer reads them: an event list (``event``) or P-wide words (``dense``).

Both give the layer the same read interface: it presents a column slot ``index`` (and, for dense
words, the slot's word and lane), and :data:`COLUMN_LATENCY` cycles later gets the column's address
and value: the RAM read, then a plain register of the RAM's data before any logic (an FPGA block RAM
holds it in its own output register, 1 ns after the clock instead of 5.8 on an ECP5; see
rtl.estimate.bram_outreg).
``event`` (docs/engine.md §11): the non-zero inputs in ascending column order, appended one per
cycle by whoever produces them (the input serializer for layer 0, the previous layer's
post-processor otherwise). ``dense``: every column, read out of the words the producer wrote.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from hwsim.formats import FixedFormat

from .arith import RAM_ATTRS, index_shape, shape_of

__all__ = ["EventBuffer", "DenseColumns", "event_layout", "COLUMN_LATENCY"]

COLUMN_LATENCY = 2
"""Cycles from a column slot presented to its address and value: the read, the read data's register."""


def event_layout(n_in: int, fmt: FixedFormat) -> data.StructLayout:
    """One event: its column address and its (non-zero) value."""
    return data.StructLayout({"addr": index_shape(n_in), "value": shape_of(fmt)})


class EventBuffer(wiring.Component):
    """The events of one layer's input: ``n_in`` entries, appended in order, read back by index.

    Twin: the non-zero entries of the layer input (``ReferenceEngine._columns`` without the bias).

    Ports
    -----
    i_clear : In(1)
        Empty the list (the producer starts a new sample's inputs).
    i_we : In(1), i_waddr : In(index_shape(n_in)), i_wvalue : In(shape_of(fmt))
        Append the event (column ``i_waddr``, value ``i_wvalue``).
    o_count : Out(index_shape(n_in + 1))
        Events appended since the last clear (counts an append of the previous cycle).
    i_index : In(index_shape(n_in))
        Read the event with this index ...
    o_addr : Out(index_shape(n_in)), o_value : Out(shape_of(fmt))
        ... here, :data:`COLUMN_LATENCY` cycles later.
    """

    def __init__(self, n_in: int, fmt: FixedFormat):
        self.n_in, self.fmt = n_in, fmt
        super().__init__({
            "i_clear": In(1), "i_we": In(1), "i_waddr": In(index_shape(n_in)), "i_wvalue": In(shape_of(fmt)),
            "o_count": Out(index_shape(n_in + 1)), "i_index": In(index_shape(n_in)),
            "o_addr": Out(index_shape(n_in)), "o_value": Out(shape_of(fmt)),
        })

    def elaborate(self, platform):
        m = Module()
        layout = event_layout(self.n_in, self.fmt)
        m.submodules.mem = mem = memory.Memory(shape=layout, depth=max(2, self.n_in), init=[], attrs=RAM_ATTRS)
        rd, wr = mem.read_port(), mem.write_port()
        m.d.comb += [
            wr.addr.eq(self.o_count), wr.data.addr.eq(self.i_waddr), wr.data.value.eq(self.i_wvalue),
            wr.en.eq(self.i_we),
            rd.addr.eq(self.i_index),
        ]
        held = Signal(layout, reset_less=True)      # the read data's register: no logic, no reset
        m.d.sync += held.eq(rd.data)
        m.d.comb += [self.o_addr.eq(held.addr), self.o_value.eq(held.value)]
        with m.If(self.i_clear):
            m.d.sync += self.o_count.eq(0)
        with m.Elif(self.i_we):
            m.d.sync += self.o_count.eq(self.o_count + 1)
        return m


class DenseColumns(wiring.Component):
    """Dense columns out of a memory of P-wide words: slot ``i`` is column ``i``, lane ``i % P`` of word ``i // P``.

    Ports
    -----
    i_index, i_word, i_lane : In
        The slot, its word and its lane (the layer counts all three, so no division is built).
    o_mem_addr : Out(index_shape(words)), i_mem_data : In(ArrayLayout(shape_of(fmt), P))
        The word memory's synchronous read port.
    o_addr : Out(index_shape(n_in)), o_value : Out(shape_of(fmt))
        The column and its value, :data:`COLUMN_LATENCY` cycles after the slot (the word is
        registered as read, then its lane selected).
    """

    def __init__(self, n_in: int, lanes: int, fmt: FixedFormat):
        self.n_in, self.lanes, self.fmt = n_in, lanes, fmt
        words = -(-n_in // lanes)
        super().__init__({
            "i_index": In(index_shape(n_in)), "i_word": In(index_shape(words + 1)), "i_lane": In(index_shape(lanes)),
            "o_mem_addr": Out(index_shape(words)), "i_mem_data": In(data.ArrayLayout(shape_of(fmt), lanes)),
            "o_addr": Out(index_shape(n_in)), "o_value": Out(shape_of(fmt)),
        })

    def elaborate(self, platform):
        m = Module()
        lane1, lane = Signal.like(self.i_lane), Signal.like(self.i_lane)
        index1 = Signal.like(self.i_index)
        held = Signal.like(self.i_mem_data, reset_less=True)     # no logic before it, no reset
        m.d.sync += [index1.eq(self.i_index), self.o_addr.eq(index1), lane1.eq(self.i_lane), lane.eq(lane1),
                     held.eq(self.i_mem_data)]      # the word's register, nothing before it
        m.d.comb += [self.o_mem_addr.eq(self.i_word),
                     self.o_value.eq(held[lane] if self.lanes > 1 else held[0])]
        return m
