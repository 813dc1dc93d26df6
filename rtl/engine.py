"""The whole DRTP learning engine: input buffer, layers, stochastic lanes, argmax and the controller."""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from hwsim.config import EngineConfig

from .argmax import Argmax
from .arith import RAM_ATTRS, fit, index_shape, shape_of
from .events import DenseColumns, EventBuffer
from .layer import Layer
from .rng import LaneRng
from .schedule import input_beats
from .weight_ram import WeightRam, WeightWrites

__all__ = ["DrtpEngine", "sample_layout", "weight_port_signature", "HOST_READ_LATENCY"]

HOST_READ_LATENCY = WeightRam.READ_LATENCY
"""Cycles from a host read (``wport.re``) to its word in ``wport.rdata`` (with ``rvalid``)."""


def sample_layout(cfg: EngineConfig) -> data.StructLayout:
    """One input beat: P pixels (pixel i of a sample is lane ``i % P`` of beat ``i // P``), label, mode."""
    return data.StructLayout({
        "pixels": data.ArrayLayout(shape_of(cfg.input), cfg.lanes),
        "label": index_shape(cfg.n_classes),
        "train": 1,
    })


def weight_port_signature(cfg: EngineConfig) -> wiring.Signature:
    """The host's weight load / read-back port (directions as seen by the engine)."""
    word = max(cfg.lanes * layer.weight.width for layer in cfg.layers)
    addr = max(index_shape(cfg.groups(k) * cfg.n_cols(k)).width for k in range(len(cfg.layers)))
    return wiring.Signature({
        "layer": In(index_shape(len(cfg.layers))), "addr": In(addr), "wdata": In(word),
        "we": In(1), "re": In(1), "rdata": Out(word), "rvalid": Out(1),
    })


class DrtpEngine(wiring.Component):
    """An on-chip DRTP learning engine built from one :class:`~hwsim.config.EngineConfig`.

    Computes exactly :class:`hwsim.reference.ReferenceEngine.run`: per sample, layer by layer, the
    forward pass and then (training) that layer's update, then the next layer.

    Parameters
    ----------
    cfg : EngineConfig
        Topology, formats, rules, lanes (P) and seeds.
    weights : list of arrays or None
        Initial raw weights per layer, canonical ``(n_out, n_cols)`` (zeros if None).
    rng_word : int
        Stochastic-rounding word counter that reset stands for (0: a fresh engine; a trained
        run's counter to continue its random stream, as ``hwsim.fast.Engine(cfg, w, rng_word)``).
    weight_writes : WeightWrites
        ``event``: the update writes only a word's changed lanes (``LANES``, the default: an ASIC
        SRAM's bit-write mask) or the whole word (``WORD``: FPGA block RAMs). Same results.

    Ports
    -----
    sample : In(stream.Signature(sample_layout(cfg)))
        Input stream (valid/ready). ``ceil(n_in / P)`` beats per sample, ``payload.pixels[p]`` of
        beat b is input pixel ``b * P + p`` (raw, input format; lanes past n_in are ignored);
        ``payload.label`` and ``payload.train`` (1 = train, 0 = inference only) are taken from the
        sample's last beat. Ready is high only between samples (while ``busy`` is low).
    pred : Out(label bits)
        Prediction (first index of the largest output pre-activation); held until the next one.
    pred_valid : Out(1)
        One-cycle strobe: ``pred`` is new (after the output layer's forward pass, before its update).
    busy : Out(1)
        A sample is being computed; the weight port is ignored.
    done : Out(1)
        One-cycle strobe: the sample (and its updates) is finished.
    wport : Out(weight_port_signature(cfg))
        Weight load / read-back while not busy. ``layer`` selects the RAM, ``addr`` = ``g * n_cols + i``,
        a word holds neuron ``g * P + p`` in lane p (``weight.width`` bits each, lane 0 lowest).
        ``we`` writes ``wdata`` (seen by every read issued after it); ``re`` returns the word in ``rdata`` with ``rvalid``
        :data:`HOST_READ_LATENCY` cycles later (reads may be issued every cycle).
    """

    def __init__(self, cfg: EngineConfig, weights=None, rng_word: int = 0,
                 weight_writes: WeightWrites = WeightWrites.LANES):
        cfg.check_buildable()
        self.cfg = cfg
        self.rng_word = rng_word
        self.weight_writes = WeightWrites(weight_writes)
        self.layers = [Layer(cfg, k, None if weights is None else weights[k], self.weight_writes)
                       for k in range(len(cfg.layers))]
        super().__init__({
            "sample": In(stream.Signature(sample_layout(cfg))),
            "pred": Out(index_shape(cfg.n_classes)), "pred_valid": Out(1),
            "busy": Out(1), "done": Out(1),
            "wport": Out(weight_port_signature(cfg)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, layers = self.cfg, self.layers
        beats = input_beats(cfg)
        for k, layer in enumerate(layers):
            m.submodules[f"layer{k}"] = layer

        # -- each layer's input columns: event lists or dense words (rtl.events) ----------------
        sources = []
        for k, layer in enumerate(layers):
            n_in, fmt = cfg.layers[k].n_in, cfg.in_format(k)
            if cfg.is_event:
                src = EventBuffer(n_in, fmt)
                m.d.comb += [src.i_index.eq(layer.o_src_index), layer.i_src_count.eq(src.o_count)]
                if k:
                    prev = layers[k - 1]
                    m.d.comb += [src.i_clear.eq(prev.o_ev_clear), src.i_we.eq(prev.o_ev_we),
                                 src.i_waddr.eq(prev.o_ev_addr), src.i_wvalue.eq(prev.o_ev_value)]
            else:
                src = DenseColumns(n_in, cfg.lanes, fmt)
                m.d.comb += [src.i_index.eq(layer.o_src_index), src.i_word.eq(layer.o_src_word),
                             src.i_lane.eq(layer.o_src_lane), layer.i_src_count.eq(n_in)]
                if k:
                    m.d.comb += [layers[k - 1].i_y_addr.eq(src.o_mem_addr),
                                 src.i_mem_data.eq(layers[k - 1].o_y_data)]
            m.d.comb += [layer.i_src_addr.eq(src.o_addr), layer.i_src_value.eq(src.o_value)]
            m.submodules[f"src{k}"] = src
            sources.append(src)
        if not cfg.is_event:
            m.submodules.inbuf = inbuf = memory.Memory(
                shape=data.ArrayLayout(shape_of(cfg.input), cfg.lanes), depth=max(2, beats), init=[], attrs=RAM_ATTRS)
            in_rd, in_wr = inbuf.read_port(), inbuf.write_port()
            m.d.comb += [in_rd.addr.eq(sources[0].o_mem_addr), sources[0].i_mem_data.eq(in_rd.data)]

        label, train = Signal.like(self.sample.payload.label), Signal()
        for layer in layers:
            m.d.comb += layer.i_label.eq(label)

        if cfg.uses_stochastic():
            m.submodules.rng = rng = LaneRng(cfg, self.rng_word)
            advance = 0
            for layer in layers:
                advance = advance | layer.o_rng_advance
                if layer.change.stochastic:
                    m.d.comb += layer.i_rng_words.eq(rng.o_words)
            m.d.comb += rng.i_advance.eq(advance)

        out = layers[-1]
        # the output layer post-processes one neuron per cycle, so the argmax compares one value per cycle
        m.submodules.argmax = argmax = Argmax(shape_of(cfg.layers[-1].preact), 1, cfg.n_classes)
        m.d.comb += [argmax.i_valid.eq(out.o_post_valid), argmax.i_first.eq(out.o_post_first),
                     argmax.i_base.eq(fit(out.o_post_index, argmax.i_base.shape())),
                     argmax.i_values[0].eq(out.o_post_z), argmax.i_mask.eq(out.o_post_real)]
        m.d.sync += self.pred_valid.eq(0)

        # -- controller: load, then per layer forward (and update), then finish ---------------
        beat = Signal(index_shape(beats))
        last_beat = beat == beats - 1
        accept = Signal()
        m.d.comb += accept.eq(self.sample.valid & self.sample.ready)
        with m.If(accept):
            m.d.sync += beat.eq(beat + 1)
            with m.If(last_beat):
                m.d.sync += [beat.eq(0), label.eq(self.sample.payload.label), train.eq(self.sample.payload.train)]
        if cfg.is_event:
            loaded = self._serializer(m, sources[0], beat, last_beat, accept)
        else:
            # ``ready`` is a register of its own that mirrors the LOAD state: decoding the state
            # first put the handshake, the beat count and the state change in one long path
            in_load = Signal(init=1)
            m.d.comb += self.sample.ready.eq(in_load)
        with m.FSM(name="ctrl") as fsm:
            with m.State("LOAD"):
                if cfg.is_event:
                    with m.If(loaded):
                        m.d.comb += layers[0].i_start_fwd.eq(1)
                        m.next = "FWD0"
                else:
                    with m.If(accept):
                        m.d.comb += [in_wr.addr.eq(beat), in_wr.data.eq(self.sample.payload.pixels), in_wr.en.eq(1)]
                        with m.If(last_beat):
                            m.d.comb += layers[0].i_start_fwd.eq(1)
                            m.d.sync += in_load.eq(0)
                            m.next = "FWD0"
            for k, layer in enumerate(layers):
                last = cfg.is_output(k)

                def go_next():
                    if last:
                        m.next = "FINISH"
                    else:
                        m.d.comb += layers[k + 1].i_start_fwd.eq(1)
                        m.next = f"FWD{k + 1}"

                with m.State(f"FWD{k}"):
                    with m.If(layer.o_done):
                        if last:
                            m.d.sync += [self.pred.eq(argmax.o_index), self.pred_valid.eq(1)]
                        with m.If(train):
                            m.d.comb += layer.i_start_upd.eq(1)
                            m.next = f"UPD{k}"
                        with m.Else():
                            go_next()
                with m.State(f"UPD{k}"):
                    with m.If(layer.o_done):
                        go_next()
            with m.State("FINISH"):
                m.d.comb += self.done.eq(1)
                if not cfg.is_event:
                    m.d.sync += in_load.eq(1)
                if cfg.is_event:
                    m.d.comb += sources[0].i_clear.eq(1)   # the next sample's events start at 0
                m.next = "LOAD"
        host = fsm.ongoing("LOAD")
        m.d.comb += self.busy.eq(~host)

        # -- host weight port ------------------------------------------------------------------
        # reads go through the weight RAM's read pipeline: rvalid and the layer select follow them
        port = self.wport
        valid, rsel = host & port.re, port.layer
        for step in range(HOST_READ_LATENCY):
            valid_q, rsel_q = Signal(name=f"rvalid{step + 1}"), Signal.like(port.layer, name=f"rsel{step + 1}")
            m.d.sync += [valid_q.eq(valid), rsel_q.eq(rsel)]
            valid, rsel = valid_q, rsel_q
        m.d.comb += self.wport.rvalid.eq(valid)
        for k, layer in enumerate(layers):
            m.d.comb += [
                layer.i_host_addr.eq(fit(port.addr, layer.i_host_addr.shape())),
                layer.i_host_wdata.eq(fit(port.wdata, len(layer.i_host_wdata.as_value()))),
                layer.i_host_we.eq(host & port.we & (port.layer == k)),
                layer.i_host_re.eq(host & port.re & (port.layer == k)),
            ]
        rdata = Array(fit(layer.o_host_rdata.as_value(), len(port.rdata)) for layer in layers)
        m.d.comb += port.rdata.eq(rdata[rsel])
        return m

    def _serializer(self, m: Module, events: EventBuffer, beat, last_beat, accept) -> Value:
        """``event`` load: each beat's non-zero pixels become events, lowest lane first, one per cycle.

        A beat is taken when the previous one has no events left to write, and its first event is
        written in the same cycle, so a beat with n non-zero pixels takes max(n, 1) cycles. Returns
        the signal that the sample's last event is written (the forward pass starts next cycle).
        """
        cfg = self.cfg
        P, n_in = cfg.lanes, cfg.layers[0].n_in
        pixels = self.sample.payload.pixels
        held_mask, held_last = Signal(P), Signal()
        held_pix = Signal.like(pixels)
        held_base = Signal(index_shape(n_in + P))
        beat_base = Signal.like(held_base)           # beat * P
        loading = Signal()
        m.d.comb += [loading.eq(self.busy == 0), self.sample.ready.eq(loading & (held_mask == 0))]
        # lanes past n_in in the last beat are not pixels
        real = Mux(last_beat, Const((1 << (n_in - (-(-n_in // P) - 1) * P)) - 1, P), Const((1 << P) - 1, P))
        pay_mask = Cat(*(pixels[p] != 0 for p in range(P))) & real
        mask = Mux(accept, pay_mask, held_mask)
        pix = Mux(accept, pixels.as_value(), held_pix.as_value())
        base = Mux(accept, beat_base, held_base)
        rest = mask & (mask - 1)                      # without the lowest set bit
        lowest = Signal(index_shape(P))
        for p in reversed(range(P)):                  # priority: the lowest set lane wins
            with m.If(mask[p]):
                m.d.comb += lowest.eq(p)
        width = cfg.input.width
        m.d.comb += [
            events.i_we.eq(mask.any()), events.i_waddr.eq(fit(base + lowest, events.i_waddr.shape())),
            events.i_wvalue.eq(pix.word_select(lowest, width)),
        ]
        with m.If(loading & (accept | (held_mask != 0))):
            m.d.sync += held_mask.eq(rest)
        with m.If(accept):
            m.d.sync += [held_pix.eq(pixels), held_base.eq(beat_base), held_last.eq(last_beat),
                         beat_base.eq(Mux(last_beat, 0, beat_base + P))]
        loaded = Signal()
        m.d.comb += loaded.eq(loading & (rest == 0) & Mux(accept, last_beat, (held_mask != 0) & held_last))
        return loaded
