"""One layer of the engine: its weight RAM, MAC lanes, post-processing, update lanes and sequencer."""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from hwsim.config import EngineConfig

from .activation import ActivationUnit
from .arith import fit, index_shape, shape_of
from .error import OutputError
from .mac import MacLanes
from .randvec import RandomVectorGen
from .requant import Requantizer
from .schedule import UPD_TAIL, fwd_tail
from .update import UpdateLanes

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
    flows infer block RAM / SRAM. Forward walks the addresses in order (group-major): read (F0),
    multiply-accumulate (F1), and after a group's last column hand its P sums to the post-processor
    (F2). That one requantizer / activation / modulatory-signal unit takes a lane per cycle while
    the next group accumulates (a layer needs at least P columns), and stores the group's
    activations and deltas as one word after its last lane. Update walks column-major: read (U0),
    modify and write back (U1). See :mod:`rtl.schedule` for the cycle counts.

    Parameters
    ----------
    cfg : EngineConfig
    k : int
        Layer index.
    weights : array-like or None
        Initial ``(n_out, n_cols)`` raw weights for the RAM (zeros if None).

    Ports
    -----
    i_start_fwd, i_start_upd : In(1)
        Start the forward pass / the update (honoured when idle).
    o_done : Out(1)
        Last cycle of the running phase.
    o_busy : Out(1)
        A phase is running.
    i_label : In(label bits)
        The sample's label (stable while busy).
    o_src_addr : Out(index_shape(ceil(n_in / P)))
        Read address into the input buffer (layer 0) or the previous layer's activations.
    i_src_data : In(ArrayLayout(shape_of(in_format(k)), P))
        The addressed word, one cycle later; input i is lane ``i % P`` of word ``i // P``.
    i_y_addr : In(index_shape(G)), o_y_data : Out(ArrayLayout(shape_of(act), P))
        Hidden layers: synchronous read port of this layer's activation buffer (for layer k+1).
    o_post_valid, o_post_first : Out(1)
        A neuron is post-processed this cycle (and it is neuron 0).
    o_post_index : Out(index_shape(n_out + P))
        Its index (lanes of a ragged last group count on past ``n_out``).
    o_post_z : Out(shape_of(preact)), o_post_real : Out(1)
        Its pre-activation; whether it is a real neuron (not a padding lane).
    o_rng_advance : Out(1), i_rng_words : In(ArrayLayout(unsigned(rng_lfsr_bits), P))
        Stochastic configs: the lane words were used this cycle; the words (if this layer uses them).
    i_host_addr : In(index_shape(G * n_cols)), i_host_wdata : In(ArrayLayout(weight, P)), i_host_we : In(1)
        Host access to the weight RAM while idle (write now; read data next cycle).
    o_host_rdata : Out(ArrayLayout(shape_of(weight), P))
        Weight RAM read data.
    """

    def __init__(self, cfg: EngineConfig, k: int, weights=None):
        self.cfg, self.k = cfg, k
        layer = cfg.layers[k]
        P, G = cfg.lanes, cfg.groups(k)
        self.hidden = not cfg.is_output(k)
        self.depth = G * cfg.n_cols(k)
        self.src_words = -(-layer.n_in // P)
        self.init_words = weight_words(cfg, k, weights)
        self.update_lanes = UpdateLanes(cfg, k)
        wlay = data.ArrayLayout(shape_of(layer.weight), P)
        members = {
            "i_start_fwd": In(1), "i_start_upd": In(1), "o_done": Out(1), "o_busy": Out(1),
            "i_label": In(index_shape(cfg.n_classes)),
            "o_src_addr": Out(index_shape(self.src_words)),
            "i_src_data": In(data.ArrayLayout(shape_of(cfg.in_format(k)), P)),
            "o_post_valid": Out(1), "o_post_first": Out(1),
            "o_post_index": Out(index_shape(layer.n_out + P)),
            "o_post_z": Out(shape_of(layer.preact)), "o_post_real": Out(1),
            "i_host_addr": In(index_shape(self.depth)), "i_host_wdata": In(wlay), "i_host_we": In(1),
            "o_host_rdata": Out(wlay),
        }
        if self.hidden:
            members["i_y_addr"] = In(index_shape(G))
            members["o_y_data"] = Out(data.ArrayLayout(shape_of(layer.act), P))
        if cfg.uses_stochastic():
            members["o_rng_advance"] = Out(1)
        if self.update_lanes.stochastic:
            members["i_rng_words"] = In(data.ArrayLayout(unsigned(cfg.rng_lfsr_bits), P))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cfg, k = self.cfg, self.k
        layer = cfg.layers[k]
        P, G, n_cols, n_in = cfg.lanes, cfg.groups(k), cfg.n_cols(k), layer.n_in
        dfmt = cfg.delta_format(k)

        m.submodules.weights = wmem = memory.Memory(
            shape=data.ArrayLayout(shape_of(layer.weight), P), depth=max(2, self.depth), init=self.init_words)
        w_rd, w_wr = wmem.read_port(), wmem.write_port()
        m.submodules.deltas = dmem = memory.Memory(
            shape=data.ArrayLayout(shape_of(dfmt), P), depth=max(2, G), init=[])
        d_rd, d_wr = dmem.read_port(), dmem.write_port()
        if self.hidden:
            m.submodules.acts = ymem = memory.Memory(
                shape=data.ArrayLayout(shape_of(layer.act), P), depth=max(2, G), init=[])
            y_rd, y_wr = ymem.read_port(), ymem.write_port()
            m.d.comb += [y_rd.addr.eq(self.i_y_addr), self.o_y_data.eq(y_rd.data)]

        # -- sequencer: column i (input word iw, lane il), group g, RAM address ---------------
        i = Signal(index_shape(n_cols))
        iw = Signal(index_shape(self.src_words + 1))
        il = Signal(index_shape(P))
        g = Signal(index_shape(G))
        addr = Signal(index_shape(self.depth))
        tail = Signal(index_shape(max(fwd_tail(cfg), UPD_TAIL)))
        last_i, last_g = i == n_cols - 1, g == G - 1
        is_bias = (i == n_in) if cfg.bias else Const(0, 1)
        fwd_issue, upd_issue = Signal(), Signal()

        def next_column():
            m.d.sync += i.eq(i + 1)
            with m.If(il == P - 1):
                m.d.sync += [il.eq(0), iw.eq(iw + 1)]
            with m.Else():
                m.d.sync += il.eq(il + 1)

        def first_column():
            m.d.sync += [i.eq(0), iw.eq(0), il.eq(0)]

        def start_or_idle():
            # a phase ends by honouring the next start in its done cycle, so phases run back to back
            m.d.sync += [g.eq(0), addr.eq(0), tail.eq(0)]
            first_column()
            with m.If(self.i_start_fwd):
                m.next = "FWD"
            with m.Elif(self.i_start_upd):
                m.next = "UPD"
            with m.Else():
                m.next = "IDLE"

        with m.FSM(name="phase") as fsm:
            with m.State("IDLE"):
                start_or_idle()
            with m.State("FWD"):  # group-major: address g * n_cols + i counts up by one
                m.d.comb += fwd_issue.eq(1)
                m.d.sync += addr.eq(addr + 1)
                with m.If(last_i):
                    first_column()
                    m.d.sync += g.eq(g + 1)
                    with m.If(last_g):
                        m.d.sync += tail.eq(fwd_tail(cfg) - 1)
                        m.next = "FWD_TAIL"
                with m.Else():
                    next_column()
            with m.State("FWD_TAIL"):
                m.d.sync += tail.eq(tail - 1)
                with m.If(tail == 0):
                    m.d.comb += self.o_done.eq(1)
                    start_or_idle()
            with m.State("UPD"):  # column-major: g steps the address by n_cols
                m.d.comb += upd_issue.eq(1)
                with m.If(last_g):
                    m.d.sync += [g.eq(0), addr.eq(i + 1)]
                    next_column()
                    with m.If(last_i):
                        m.d.sync += tail.eq(UPD_TAIL - 1)
                        m.next = "UPD_TAIL"
                with m.Else():
                    m.d.sync += [g.eq(g + 1), addr.eq(addr + n_cols)]
            with m.State("UPD_TAIL"):
                m.d.sync += tail.eq(tail - 1)
                with m.If(tail == 0):
                    m.d.comb += self.o_done.eq(1)
                    start_or_idle()
        idle = fsm.ongoing("IDLE")
        m.d.comb += self.o_busy.eq(~idle)

        # -- stage 0: issue reads -------------------------------------------------------------
        m.d.comb += [
            w_rd.addr.eq(Mux(fwd_issue | upd_issue, addr, self.i_host_addr)),
            d_rd.addr.eq(g),
            self.o_src_addr.eq(Mux(is_bias, 0, iw)),  # the bias column reads nothing: stay in range
            self.o_host_rdata.eq(w_rd.data),
        ]
        s1_fwd, s1_upd, s1_first, s1_last, s1_bias = Signal(), Signal(), Signal(), Signal(), Signal()
        s1_lane, s1_addr, s1_g = Signal.like(il), Signal.like(addr), Signal.like(g)
        m.d.sync += [
            s1_fwd.eq(fwd_issue), s1_upd.eq(upd_issue), s1_first.eq(i == 0), s1_last.eq(last_i),
            s1_bias.eq(is_bias), s1_lane.eq(il), s1_addr.eq(addr), s1_g.eq(g),
        ]
        act_in = self.i_src_data[s1_lane] if P > 1 else self.i_src_data[0]

        # -- stage 1 (forward): multiply-accumulate -------------------------------------------
        m.submodules.mac = mac = MacLanes(cfg, k)
        m.d.comb += [
            mac.i_en.eq(s1_fwd), mac.i_first.eq(s1_first), mac.i_bias.eq(s1_bias),
            mac.i_weights.eq(w_rd.data), mac.i_act.eq(act_in),
        ]

        # -- stage 2 (forward): hand the finished group to the post-processor -----------------
        s2_valid, s2_g = Signal(), Signal.like(g)
        m.d.sync += [s2_valid.eq(s1_fwd & s1_last), s2_g.eq(s1_g)]
        fwd_start = fwd_issue & (addr == 0)
        if self.hidden:
            m.submodules.rv = rv = RandomVectorGen(cfg, k)
            m.d.comb += [rv.i_label.eq(self.i_label), rv.i_start.eq(fwd_start), rv.i_next.eq(s2_valid)]

        # -- post-processing: one lane per cycle, in the P cycles after the hand-over ----------
        # One unit instead of P: the next group needs n_cols >= P cycles to accumulate anyway, and
        # a simulator evaluates every unit in every cycle (P units were most of the engine's cycle).
        acc_w = cfg.acc_format(k).width
        held = Signal(data.ArrayLayout(shape_of(cfg.acc_format(k)), P))  # sums; lane 0 is the next one
        busy, lane, post_g = Signal(), Signal(index_shape(P)), Signal.like(g)
        neuron = Signal(index_shape(layer.n_out + P))   # post_g * P + lane: counts on from 0 per pass
        if self.hidden:
            held_bits = Signal(P)                          # the group's DRTP random-vector bits
        with m.If(busy):
            m.d.sync += [held.eq(held.as_value() >> acc_w), lane.eq(lane + 1), neuron.eq(neuron + 1)]
            if self.hidden:
                m.d.sync += held_bits.eq(held_bits >> 1)
            with m.If(lane == P - 1):
                m.d.sync += busy.eq(0)
        with m.If(s2_valid):  # after the shift above: a hand-over in a group's last post cycle wins
            m.d.sync += [held.eq(mac.o_acc), busy.eq(1), lane.eq(0), post_g.eq(s2_g)]
            if self.hidden:
                m.d.sync += held_bits.eq(rv.o_bits)
        with m.If(fwd_start):
            m.d.sync += neuron.eq(0)

        acc_frac = cfg.acc_format(k).frac_bits
        m.submodules.requant = rq = Requantizer(shape_of(cfg.acc_format(k)), acc_frac, layer.preact)
        m.submodules.act = au = ActivationUnit(layer.activation, layer.preact, layer.act)
        m.d.comb += [rq.i_value.eq(held[0]), au.i_z.eq(rq.o_value)]
        real = neuron < layer.n_out
        if self.hidden:
            sign = Mux(held_bits[0], Const(1, signed(2)), Const(-1, signed(2)))
            delta = Mux(real & au.o_deriv, sign, 0)
        else:
            m.submodules.error = eu = OutputError(layer)
            m.d.comb += [eu.i_y.eq(au.o_y), eu.i_is_label.eq(neuron == self.i_label)]
            delta = Mux(real, eu.o_delta, 0)

        # the group's results enter their words from the top; after lane P-1, lane 0 is at the bottom
        last = busy & (lane == P - 1)
        d_word = Signal(data.ArrayLayout(shape_of(dfmt), P))
        d_next = Cat(d_word.as_value()[dfmt.width:], fit(delta, shape_of(dfmt)))
        with m.If(busy):
            m.d.sync += d_word.eq(d_next)
        m.d.comb += [d_wr.addr.eq(post_g), d_wr.en.eq(last), d_wr.data.eq(d_next)]
        if self.hidden:
            y_word = Signal(data.ArrayLayout(shape_of(layer.act), P))
            y_next = Cat(y_word.as_value()[layer.act.width:], fit(au.o_y, shape_of(layer.act)))
            with m.If(busy):
                m.d.sync += y_word.eq(y_next)
            m.d.comb += [y_wr.addr.eq(post_g), y_wr.en.eq(last), y_wr.data.eq(y_next)]
        m.d.comb += [
            self.o_post_valid.eq(busy), self.o_post_first.eq(neuron == 0), self.o_post_index.eq(neuron),
            self.o_post_z.eq(rq.o_value), self.o_post_real.eq(real),
        ]

        # -- stage 1 (update): modify and write back -----------------------------------------
        m.submodules.update = upd = self.update_lanes
        m.d.comb += [upd.i_weights.eq(w_rd.data), upd.i_deltas.eq(d_rd.data), upd.i_act.eq(act_in),
                     upd.i_bias.eq(s1_bias)]
        if upd.stochastic:
            m.d.comb += upd.i_words.eq(self.i_rng_words)
        if cfg.uses_stochastic():
            m.d.comb += self.o_rng_advance.eq(s1_upd)
        with m.If(s1_upd):
            m.d.comb += [w_wr.addr.eq(s1_addr), w_wr.data.eq(upd.o_weights), w_wr.en.eq(1)]
        with m.Elif(idle):
            m.d.comb += [w_wr.addr.eq(self.i_host_addr), w_wr.data.eq(self.i_host_wdata),
                         w_wr.en.eq(self.i_host_we)]
        return m

