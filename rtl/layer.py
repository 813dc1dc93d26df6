"""One layer of the engine: its weight RAM, MAC lanes, post-processing, update lanes and sequencer (both schedules)."""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from hwsim.config import EngineConfig

from .activation import ActivationUnit
from .arith import RAM_ATTRS, fit, index_shape, shape_of
from .error import OutputError
from .events import COLUMN_LATENCY
from .mac import MacLanes
from .randvec import RandomVectorGen
from .requant import Requantizer
from .schedule import UPD_TAIL, fwd_tail
from .update import UpdateLanes, WeightChange, change_shape
from .weight_ram import WeightRam, WeightWrites, lane_enables

__all__ = ["Layer", "weight_words"]


def weight_words(cfg: EngineConfig, k: int, weights) -> list[list[int]]:
    """Canonical ``(n_out, n_cols)`` weights -> RAM words: address ``g * n_cols + i``, lane p = neuron g*P+p.

    Padding lanes (neurons past n_out) hold 0.
    """
    P, G, n_cols = cfg.lanes, cfg.groups(k), cfg.n_cols(k)
    w = np.zeros((G * P, n_cols), dtype=np.int64)
    if weights is not None:
        w[: cfg.layers[k].n_out] = np.asarray(weights, dtype=np.int64)
    return [[int(v) for v in w[g * P:(g + 1) * P, i]] for g in range(G) for i in range(n_cols)]


class Layer(wiring.Component):
    """Layer ``k``: forward pass (group by group) and DRTP update (column by column) on one weight RAM.

    Weight RAM: ``G * n_cols`` words of P weights, address ``g * n_cols + i``; one synchronous read
    port (forward, update, host read-back) and one write port (update, host load), so FPGA and ASIC
    flows infer block RAM / SRAM.

    The layer works on **columns** that its input source hands it by slot (:mod:`rtl.events`):
    with ``schedule: dense`` every input column, with ``event`` only the non-zero ones (the bias
    column last in both, when it does work: docs/engine.md §11). Forward, per group, one slot per
    cycle, at least P slots (extra slots are bubbles that add nothing): read the column (F0), read
    the weight word, multiply-accumulate, after the group's last slot hand the P sums to the
    post-processor (the steps are listed in ``elaborate``). That one requantizer / activation / modulatory-signal unit takes a
    lane per cycle while the next group accumulates, stores the group's deltas as one word and,
    with ``event``, appends the group to the active list when any delta is non-zero and each
    non-zero activation to the next layer's events. Update, one visit per cycle, column-major
    over the active groups (dense: all groups). Both are pipelines with a register after every
    step (listed in ``elaborate``), so the weight RAM's address, data and enables always come
    from registers; ``event`` stops a visit whose P changes are all zero before the RAM read.
    See :mod:`hwsim.cycles` for the cycle counts.

    Parameters
    ----------
    cfg : EngineConfig
    k : int
        Layer index.
    weights : array-like or None
        Initial ``(n_out, n_cols)`` raw weights for the RAM (zeros if None).
    weight_writes : WeightWrites
        ``event``: write only the changed lanes of a word (``LANES``, one write enable per lane) or
        the whole word (``WORD``, what the FPGA flows build); the same values either way.

    Ports
    -----
    i_start_fwd, i_start_upd : In(1)
        Start the forward pass / the update (honoured when idle or in a phase's done cycle).
    o_done : Out(1)
        Last cycle of the running phase.
    o_busy : Out(1)
        A phase is running.
    i_label : In(label bits)
        The sample's label (stable while busy).
    o_src_index, o_src_word, o_src_lane : Out
        The input column slot to read (and, for dense word sources, its word and lane); 0 when the
        slot is the bias or a bubble, so addresses stay in range.
    i_src_count : In(index_shape(n_in + 1))
        The number of input columns before the bias (dense: ``n_in``; event: the events).
    i_src_addr : In(index_shape(n_in)), i_src_value : In(shape_of(in_format(k)))
        The slot's column and value, one cycle later.
    o_ev_clear, o_ev_we, o_ev_addr, o_ev_value : Out
        Hidden layers, ``event``: the next layer's events (clear at the forward start, append a
        non-zero activation).
    i_y_addr : In(index_shape(G)), o_y_data : Out(ArrayLayout(shape_of(act), P))
        Hidden layers, ``dense``: synchronous read port of this layer's activation words.
    o_post_valid, o_post_first : Out(1)
        A neuron is post-processed this cycle (and it is neuron 0).
    o_post_index : Out(index_shape(n_out + P))
        Its index (lanes of a ragged last group count on past ``n_out``).
    o_post_z : Out(shape_of(preact)), o_post_real : Out(1)
        Its pre-activation; whether it is a real neuron (not a padding lane).
    o_rng_advance : Out(1), i_rng_words : In(ArrayLayout(unsigned(rng_lfsr_bits), P))
        Stochastic configs: the lane words were used by a visit this cycle; the words (if this layer uses them).
    i_host_addr : In(index_shape(G * n_cols)), i_host_wdata : In(ArrayLayout(weight, P)), i_host_we : In(1)
    i_host_re : In(1)
        Host access to the weight RAM while idle, through the RAM's own pipelines: a write is seen by
        every read issued after it; a read's word is in ``o_host_rdata``
        :data:`rtl.weight_ram.WeightRam.READ_LATENCY` cycles later.
    o_host_rdata : Out(ArrayLayout(shape_of(weight), P))
        Weight RAM read data (the pipeline's word register).
    """

    def __init__(self, cfg: EngineConfig, k: int, weights=None, weight_writes: WeightWrites = WeightWrites.LANES):
        self.cfg, self.k = cfg, k
        self.lane_enables = lane_enables(cfg, weight_writes)
        layer = cfg.layers[k]
        P, G = cfg.lanes, cfg.groups(k)
        self.hidden = not cfg.is_output(k)
        self.event = cfg.is_event
        # the bias column does work unless it is 0 (F_in < 0) and zero columns are skipped
        self.bias_column = cfg.bias and (not cfg.is_event or cfg.bias_input(k) != 0)
        self.depth = G * cfg.n_cols(k)
        self.src_words = -(-layer.n_in // P)
        self.init_words = weight_words(cfg, k, weights)
        self.change = WeightChange(cfg, k)
        wlay = data.ArrayLayout(shape_of(layer.weight), P)
        members = {
            "i_start_fwd": In(1), "i_start_upd": In(1), "o_done": Out(1), "o_busy": Out(1),
            "i_label": In(index_shape(cfg.n_classes)),
            "o_src_index": Out(index_shape(layer.n_in)), "o_src_word": Out(index_shape(self.src_words + 1)),
            "o_src_lane": Out(index_shape(P)), "i_src_count": In(index_shape(layer.n_in + 1)),
            "i_src_addr": In(index_shape(layer.n_in)), "i_src_value": In(shape_of(cfg.in_format(k))),
            "o_post_valid": Out(1), "o_post_first": Out(1),
            "o_post_index": Out(index_shape(layer.n_out + P)),
            "o_post_z": Out(shape_of(layer.preact)), "o_post_real": Out(1),
            "i_host_addr": In(index_shape(self.depth)), "i_host_wdata": In(wlay), "i_host_we": In(1),
            "i_host_re": In(1),
            "o_host_rdata": Out(wlay),
        }
        if self.hidden and self.event:
            members.update({"o_ev_clear": Out(1), "o_ev_we": Out(1), "o_ev_addr": Out(index_shape(layer.n_out)),
                            "o_ev_value": Out(shape_of(layer.act))})
        elif self.hidden:
            members["i_y_addr"] = In(index_shape(G))
            members["o_y_data"] = Out(data.ArrayLayout(shape_of(layer.act), P))
        if cfg.uses_stochastic():
            members["o_rng_advance"] = Out(1)
        if self.change.stochastic:
            members["i_rng_words"] = In(data.ArrayLayout(unsigned(cfg.rng_lfsr_bits), P))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cfg, k = self.cfg, self.k
        layer = cfg.layers[k]
        P, G, n_cols, n_in = cfg.lanes, cfg.groups(k), cfg.n_cols(k), layer.n_in
        dfmt = cfg.delta_format(k)
        event = self.event

        # event with lane enables: a word write drives only the lanes whose weight changes
        lanes_we = self.lane_enables
        m.submodules.weights = ram = WeightRam(self.depth, shape_of(layer.weight), P, lanes_we, self.init_words)
        m.submodules.deltas = dmem = memory.Memory(
            shape=data.ArrayLayout(shape_of(dfmt), P), depth=max(2, G), init=[], attrs=RAM_ATTRS)
        d_rd, d_wr = dmem.read_port(), dmem.write_port()
        if self.hidden and not event:
            m.submodules.acts = ymem = memory.Memory(
                shape=data.ArrayLayout(shape_of(layer.act), P), depth=max(2, G), init=[], attrs=RAM_ATTRS)
            y_rd, y_wr = ymem.read_port(), ymem.write_port()
            m.d.comb += [y_rd.addr.eq(self.i_y_addr), self.o_y_data.eq(y_rd.data)]
        base_shape = index_shape(self.depth + n_cols)
        if event:
            # the groups with a non-zero modulatory signal, and their first weight address g * n_cols
            alay = data.StructLayout({"g": index_shape(G), "base": base_shape})
            m.submodules.active = amem = memory.Memory(shape=alay, depth=max(2, G), init=[], attrs=RAM_ATTRS)
            a_rd, a_wr = amem.read_port(), amem.write_port()
            a_count = Signal(index_shape(G + 1))

        # -- sequencer ------------------------------------------------------------------------
        # slot s: forward, the group's s-th column slot; update, the visit's column (event) index.
        s = Signal(index_shape(max(n_cols, P) + 1))
        g = Signal(index_shape(G + 1))           # forward group
        base = Signal(base_shape)                 # forward: g * n_cols
        a = Signal(index_shape(G + 1))           # update: index into the active groups (dense: the group)
        abase = Signal(base_shape)               # dense update: a * n_cols
        tail = Signal(index_shape(max(fwd_tail(cfg), UPD_TAIL)))
        n_data = self.i_src_count
        n_cols_now = Signal(index_shape(n_cols + 1))  # columns this sample: data then the bias
        m.d.comb += n_cols_now.eq(n_data + int(self.bias_column))
        last_slot = Mux(n_cols_now > P, n_cols_now - 1, P - 1)
        is_data = s < n_data
        is_bias = (s == n_data) if self.bias_column else Const(0, 1)
        fwd_issue, upd_issue, fwd_start = Signal(), Signal(), Signal()
        act_we = Signal()
        if event:
            n_groups = a_count
            groups_after = a_count + act_we       # counts an append in this very cycle (the forward's last)
        else:
            n_groups = groups_after = Const(G, index_shape(G + 1))
        last_a, last_e = a == n_groups - 1, s == n_cols_now - 1
        if not event:
            iw = Signal(index_shape(self.src_words + 1))
            il = Signal(index_shape(P))

        def next_column():
            m.d.sync += s.eq(s + 1)
            if not event:
                with m.If(il == P - 1):
                    m.d.sync += [il.eq(0), iw.eq(iw + 1)]
                with m.Else():
                    m.d.sync += il.eq(il + 1)

        def first_column():
            m.d.sync += s.eq(0)
            if not event:
                m.d.sync += [iw.eq(0), il.eq(0)]

        def start_or_idle():
            # a phase ends by honouring the next start in its done cycle, so phases run back to back
            m.d.sync += [g.eq(0), base.eq(0), a.eq(0), abase.eq(0), tail.eq(0)]
            first_column()
            with m.If(self.i_start_fwd):
                m.next = "FWD"
            with m.Elif(self.i_start_upd):
                with m.If((n_cols_now == 0) | (groups_after == 0)):   # no visits: only the pipeline tail
                    m.d.sync += tail.eq(UPD_TAIL - 1)
                    m.next = "UPD_TAIL"
                with m.Else():
                    m.next = "UPD"
            with m.Else():
                m.next = "IDLE"

        with m.FSM(name="phase") as fsm:
            with m.State("IDLE"):
                start_or_idle()
            with m.State("FWD"):  # group-major: every group runs the same column slots
                m.d.comb += [fwd_issue.eq(1), fwd_start.eq((g == 0) & (s == 0))]
                with m.If(s == last_slot):
                    first_column()
                    m.d.sync += [g.eq(g + 1), base.eq(base + n_cols)]
                    with m.If(g == G - 1):
                        m.d.sync += tail.eq(fwd_tail(cfg) - 1)
                        m.next = "FWD_TAIL"
                with m.Else():
                    next_column()
            with m.State("FWD_TAIL"):
                m.d.sync += tail.eq(tail - 1)
                with m.If(tail == 0):
                    m.d.comb += self.o_done.eq(1)
                    start_or_idle()
            with m.State("UPD"):  # column-major: every (active) group of one column, then the next column
                m.d.comb += upd_issue.eq(1)
                with m.If(last_a):
                    m.d.sync += [a.eq(0), abase.eq(0)]
                    next_column()
                    with m.If(last_e):
                        m.d.sync += tail.eq(UPD_TAIL - 1)
                        m.next = "UPD_TAIL"
                with m.Else():
                    m.d.sync += [a.eq(a + 1), abase.eq(abase + n_cols)]
            with m.State("UPD_TAIL"):
                m.d.sync += tail.eq(tail - 1)
                with m.If(tail == 0):
                    m.d.comb += self.o_done.eq(1)
                    start_or_idle()
        idle = fsm.ongoing("IDLE")
        m.d.comb += self.o_busy.eq(~idle)

        # -- the pipelines (docs/engine.md §5.2, hwsim.cycles): a register after every step --------
        # Forward, per slot: F0 column read, F1 the read data registered (nothing before it: an
        # FPGA block RAM's output register), F2 column registered, F3 weight address added and
        # registered in its bank group, F4 in its bank, F5 weight RAM read, F6 bank output
        # registered, F7 group output, F8 word (rtl.weight_ram.READ_LATENCY = 6 from F3), F9 each
        # lane's operands registered (MacLanes stage 1), F10 products (2), F11 accumulate (3), F12
        # hand-over, then the post-processor Q1 requantize, Q2 activation, Q3 modulatory signal,
        # Q4 writes. Update, per visit: U0 column and group read, U1 their data registered, U2
        # registered (and the group's delta read), U3 each lane's operands (WeightChange stage 1)
        # and the word's address, U4 products (2), U5 rounding with the lane words, U6 address
        # registered in its bank group (a word with no change stops here), U7 in its bank, U8
        # weight RAM read, U9 bank output, U10 group output, U11 word, U12 add and overflow into
        # the group's write registers, U13 the bank's, U14 write (WeightRam.WRITE_LATENCY = 2).
        # Each step's logic is one of: a RAM access, a multiply, an add, or a compare/select, and
        # the weight RAM (chip-wide on an FPGA: 196 block RAMs for the paper size) only ever sees
        # registers.
        m.d.comb += [
            self.o_src_index.eq(Mux(is_data, s, 0)),
            self.o_src_lane.eq(Mux(is_data, il, 0) if not event else 0),
            self.o_src_word.eq(Mux(is_data, iw, 0) if not event else 0),
            self.o_host_rdata.eq(ram.o_rdata),
        ]
        if event:
            m.d.comb += a_rd.addr.eq(a)

        def stage(*signals, name: str, steps: int = 1, reset_less: bool = False):
            """Registered copies of ``signals``, ``steps`` pipeline steps later."""
            out = list(signals)
            for step in range(steps):
                regs = [Signal(v.shape() if isinstance(v, data.View) else Value.cast(v).shape(),
                               name=f"{name}_{step}_{i}", reset_less=reset_less) for i, v in enumerate(out)]
                m.d.sync += [r.eq(v) for r, v in zip(regs, out)]
                out = regs
            return out if len(out) > 1 else out[0]

        # F1 / U1: the source RAM's data register (rtl.events.COLUMN_LATENCY); the slot's controls wait
        c_fwd, c_data, c_bias, c_first, c_last, c_base, c_g, c_upd, c_a, c_abase = stage(
            fwd_issue, is_data, is_bias, s == 0, s == last_slot, base, g, upd_issue, a, abase,
            name="col", steps=COLUMN_LATENCY - 1)
        # F2 / U2: the column's address and value arrive; registered
        f2_valid, f2_data, f2_bias, f2_first, f2_last = Signal(), Signal(), Signal(), Signal(), Signal()
        f2_base, f2_g = Signal.like(base), Signal.like(g)
        u2_valid, u2_data, u2_bias = Signal(), Signal(), Signal()
        u2_a, u2_abase = Signal.like(a), Signal.like(abase)
        m.d.sync += [
            f2_valid.eq(c_fwd), f2_data.eq(c_data), f2_bias.eq(c_bias), f2_first.eq(c_first),
            f2_last.eq(c_last), f2_base.eq(c_base), f2_g.eq(c_g),
            u2_valid.eq(c_upd), u2_data.eq(c_data), u2_bias.eq(c_bias), u2_a.eq(c_a), u2_abase.eq(c_abase),
        ]
        column, value = Signal(index_shape(n_in + 1)), Signal(shape_of(cfg.in_format(k)))
        # bubbles and the bias column carry 0
        m.d.sync += [column.eq(Mux(f2_bias | u2_bias, n_in, self.i_src_addr)),
                     value.eq(Mux(f2_data | u2_data, self.i_src_value, 0))]
        f3_valid, f3_read, f3_first, f3_last, f3_bias, f3_g, f3_base = stage(
            f2_valid, f2_valid & (f2_data | f2_bias), f2_first, f2_last, f2_bias, f2_g, f2_base, name="f3")

        # the weight RAM's read requests: forward words (F3) or update words (U6); the word is
        # in ram.o_rdata WeightRam.READ_LATENCY cycles later (F9 / U12)
        u6_we = Signal()
        u6_addr = Signal(index_shape(self.depth))
        m.d.comb += [ram.i_re.eq(f3_read | u6_we | (idle & self.i_host_re)),
                     ram.i_raddr.eq(Mux(f3_read, f3_base + column, Mux(u6_we, u6_addr, self.i_host_addr)))]
        word = ram.o_rdata

        # F4 .. F8: the RAM's read pipeline; F9: the word and the input enter the MAC lanes
        f9_valid, f9_first, f9_last, f9_bias, f9_value, f9_g, f9_base = stage(
            f3_valid, f3_first, f3_last, f3_bias, value, f3_g, f3_base, name="f9", steps=WeightRam.READ_LATENCY)
        m.submodules.mac = mac = MacLanes(cfg, k)
        m.d.comb += [
            mac.i_en.eq(f9_valid), mac.i_first.eq(f9_first), mac.i_bias.eq(f9_bias),
            mac.i_weights.eq(word), mac.i_act.eq(f9_value),   # a bubble adds w * 0
        ]
        # F9 operands (MacLanes stage 1), F10 products (stage 2), F11 accumulate (stage 3); F12 hands
        # the finished group's sums to the post-processor
        hand = Signal()
        hand_g, hand_base = Signal.like(g), Signal.like(base)
        f11_valid, f11_last, f11_g, f11_base = stage(f9_valid, f9_last, f9_g, f9_base, name="f11",
                                                     steps=MacLanes.LATENCY - 1)
        m.d.sync += [hand.eq(f11_valid & f11_last), hand_g.eq(f11_g), hand_base.eq(f11_base)]
        if self.hidden:
            m.submodules.rv = rv = RandomVectorGen(cfg, k)
            m.d.comb += [rv.i_label.eq(self.i_label), rv.i_start.eq(fwd_start), rv.i_next.eq(hand)]

        # -- post-processing: one lane per cycle, in the P cycles after the hand-over ----------
        # One unit instead of P: the next group needs at least P slots to accumulate anyway, and
        # a simulator evaluates every unit in every cycle (P units were most of the engine's cycle).
        # Four steps, registered: Q1 requantize, Q2 activation (and derivative), Q3 the
        # modulatory signal (output layer: the error), Q4 the writes.
        acc_w = cfg.acc_format(k).width
        held = Signal(data.ArrayLayout(shape_of(cfg.acc_format(k)), P))  # sums; lane 0 is the next one
        busy, lane, post_g, post_base = Signal(), Signal(index_shape(P)), Signal.like(g), Signal.like(base)
        neuron = Signal(index_shape(layer.n_out + P))   # post_g * P + lane: counts on from 0 per pass
        if self.hidden:
            held_bits = Signal(P)                          # the group's DRTP random-vector bits
        with m.If(busy):
            m.d.sync += [held.eq(held.as_value() >> acc_w), lane.eq(lane + 1), neuron.eq(neuron + 1)]
            if self.hidden:
                m.d.sync += held_bits.eq(held_bits >> 1)
            with m.If(lane == P - 1):
                m.d.sync += busy.eq(0)
        with m.If(hand):  # after the shift above: a hand-over in a group's last post cycle wins
            m.d.sync += [held.eq(mac.o_acc), busy.eq(1), lane.eq(0), post_g.eq(hand_g), post_base.eq(hand_base)]
            if self.hidden:
                m.d.sync += held_bits.eq(rv.o_bits)
        with m.If(fwd_start):
            m.d.sync += neuron.eq(0)

        acc_frac = cfg.acc_format(k).frac_bits
        m.submodules.requant = rq = Requantizer(shape_of(cfg.acc_format(k)), acc_frac, layer.preact)
        m.d.comb += rq.i_value.eq(held[0])
        bit = held_bits[0] if self.hidden else Const(0, 1)
        q = (busy, lane, neuron, post_g, post_base, bit)
        z2 = stage(rq.o_value, name="q2")                          # Q1 -> Q2: the pre-activation
        q2 = stage(*q, name="q2")
        m.submodules.act = au = ActivationUnit(layer.activation, layer.preact, layer.act)
        m.d.comb += au.i_z.eq(z2)
        z3, y3, deriv3 = stage(z2, au.o_y, au.o_deriv, name="q3")   # Q2 -> Q3: the activation
        q_valid, q_lane, q_neuron, q_g, q_base, q_bit = stage(*q2, name="q3")
        real = q_neuron < layer.n_out
        if self.hidden:
            sign = Mux(q_bit, Const(1, signed(2)), Const(-1, signed(2)))
            delta = Mux(real & deriv3, sign, 0)
        else:
            m.submodules.error = eu = OutputError(layer)
            m.d.comb += [eu.i_y.eq(y3), eu.i_is_label.eq(q_neuron == self.i_label)]
            delta = Mux(real, eu.o_delta, 0)

        # Q3 -> Q4: the modulatory signal registered, then written
        delta = stage(fit(delta, shape_of(dfmt)), name="q4")
        q_valid, q_lane, q_neuron, q_g, q_base, z3, y3 = stage(q_valid, q_lane, q_neuron, q_g, q_base, z3, y3,
                                                               name="q4")
        real = q_neuron < layer.n_out
        # the group's results enter their words from the top; after lane P-1, lane 0 is at the bottom
        last = q_valid & (q_lane == P - 1)
        d_word = Signal(data.ArrayLayout(shape_of(dfmt), P))
        d_next = Cat(d_word.as_value()[dfmt.width:], fit(delta, shape_of(dfmt)))
        with m.If(q_valid):
            m.d.sync += d_word.eq(d_next)
        m.d.comb += [d_wr.addr.eq(q_g), d_wr.en.eq(last), d_wr.data.eq(d_next)]
        if self.hidden and not event:
            y_word = Signal(data.ArrayLayout(shape_of(layer.act), P))
            y_next = Cat(y_word.as_value()[layer.act.width:], fit(y3, shape_of(layer.act)))
            with m.If(q_valid):
                m.d.sync += y_word.eq(y_next)
            m.d.comb += [y_wr.addr.eq(q_g), y_wr.en.eq(last), y_wr.data.eq(y_next)]
        if self.hidden and event:
            m.d.comb += [self.o_ev_clear.eq(fwd_start), self.o_ev_we.eq(q_valid & real & y3.any()),
                         self.o_ev_addr.eq(fit(q_neuron, self.o_ev_addr.shape())), self.o_ev_value.eq(y3)]
        if event:
            # active list: a group whose P deltas are not all zero, appended after its last lane
            any_delta = Signal()
            nonzero = fit(delta, shape_of(dfmt)).any()
            any_next = Mux(q_lane == 0, nonzero, any_delta | nonzero)
            with m.If(q_valid):
                m.d.sync += any_delta.eq(any_next)
            m.d.comb += [act_we.eq(last & any_next), a_wr.en.eq(act_we), a_wr.addr.eq(a_count),
                         a_wr.data.g.eq(q_g), a_wr.data.base.eq(q_base)]
            with m.If(fwd_start):
                m.d.sync += a_count.eq(0)
            with m.Elif(act_we):
                m.d.sync += a_count.eq(a_count + 1)
        m.d.comb += [
            self.o_post_valid.eq(q_valid), self.o_post_first.eq(q_neuron == 0), self.o_post_index.eq(q_neuron),
            self.o_post_z.eq(z3), self.o_post_real.eq(real),
        ]

        # -- U2: the visit's group reads its deltas; U3: the word's address ----------------------
        if event:   # the active list's read data registered, like the column's (COLUMN_LATENCY)
            active = stage(a_rd.data, name="active", steps=COLUMN_LATENCY - 1, reset_less=True)
            u_group, u_base = active.g, active.base
        else:
            u_group, u_base = u2_a, u2_abase
        m.d.comb += d_rd.addr.eq(u_group)
        u3_valid, u3_bias, u3_base = stage(u2_valid, u2_bias, u_base, name="u3")
        u5_valid = stage(u3_valid, name="u5", steps=WeightChange.LATENCY)    # the rounding step
        u4_addr = Signal(index_shape(self.depth))
        m.d.sync += u4_addr.eq(u3_base + column)
        u5_addr = stage(u4_addr, name="u5_addr", steps=WeightChange.LATENCY - 1)

        # -- U3 .. U5: the P weight changes (they do not need the old weights) ----------------
        m.submodules.change = chg = self.change
        m.d.comb += [chg.i_deltas.eq(d_rd.data), chg.i_act.eq(value), chg.i_bias.eq(u3_bias)]
        if chg.stochastic:
            m.d.comb += chg.i_words.eq(self.i_rng_words)
        if cfg.uses_stochastic():
            m.d.comb += self.o_rng_advance.eq(u5_valid)   # every visit draws its P words, in U5
        u6_dw = Signal(data.ArrayLayout(change_shape(cfg, k), P))
        u6_lanes = Signal(P)                        # event: the lanes whose change is non-zero
        m.d.sync += [u6_we.eq(u5_valid & (chg.o_nonzero if event else 1)), u6_addr.eq(u5_addr),
                     u6_dw.eq(chg.o_dw), u6_lanes.eq(Cat(*(chg.o_dw[p] != 0 for p in range(P))))]

        # -- U6 .. U11: the RAM's read pipeline (address registered in its bank group above) --
        u12_we, u12_addr, u12_dw, u12_lanes = stage(u6_we, u6_addr, u6_dw, u6_lanes, name="u12",
                                                steps=WeightRam.READ_LATENCY)
        # U12: add and overflow, into the group's write registers; U13 the bank's; U14: the write
        m.submodules.update = upd = UpdateLanes(cfg, k)
        # while idle the host's writes take the same path (the update is never running then)
        all_lanes = (1 << P) - 1 if lanes_we else 1
        m.d.comb += [upd.i_weights.eq(word), upd.i_dw.eq(u12_dw),
                     ram.i_we.eq(Mux(idle, Mux(self.i_host_we, all_lanes, 0),
                                     Mux(u12_we, u12_lanes if lanes_we else 1, 0))),
                     ram.i_waddr.eq(Mux(idle, self.i_host_addr, u12_addr)),
                     ram.i_wdata.eq(Mux(idle, self.i_host_wdata, upd.o_weights))]
        return m
