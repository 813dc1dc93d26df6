"""The board core: the DRTP engine behind a UART host link (framing of :mod:`rtl.board.protocol`).

Receive path: UART -> FIFO (9 bits: the byte and a "bytes were lost before this one" mark) -> parser.
The parser turns ``S`` frames into the engine's input beats as the bytes arrive, but holds the last
beat until the CRC byte: a frame that is bad (CRC, argument) or broken (a byte lost: framing error or
overrun) is finished with ``train = 0`` (so it never changes a weight) and its prediction is dropped;
the host gets an ``E`` frame instead of a ``P``. ``W`` writes one word after its CRC checks (waiting
while the engine is busy), ``R`` hands a read to the responder and waits for it, ``Q`` asks for a
status frame, ``Z`` resets the engine (weights stay: RAM contents are not reset).

Transmit path: the responder sends, in this order of priority, a pending error, a pending prediction,
a status frame, read data (through the weight port's read pipeline: it waits for ``rvalid``, so no
latency constant is built in). Every error is counted; one ``E`` frame per error while the link keeps
up, else the count in the next ``E`` / ``T`` frame says how many there were.

No model twin of its own: the host (:mod:`rtl.board.host`) is the other end, and the cocotb bench
(``cocotb_tests/test_board.py``) runs the host's code against this core in simulation.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, ResetInserter, Signal
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out

from hwsim.config import EngineConfig

from ..arith import fit
from ..engine import DrtpEngine
from ..weight_ram import WeightWrites
from . import protocol as pr
from .uart import UartRx, UartTx

__all__ = ["BoardCore", "DEFAULT_FIFO_DEPTH"]

DEFAULT_FIFO_DEPTH = 64
"""Receive FIFO bytes: what arrives while the parser waits (the engine busy, a read response going out)."""


def crc8_next(crc, byte):
    """The gateware's CRC-8 step: XORs given by :func:`protocol.crc8_matrix` (the host's function)."""
    bits = []
    for crc_mask, byte_mask in pr.crc8_matrix():
        terms = [crc[j] for j in range(8) if crc_mask >> j & 1] + [byte[j] for j in range(8) if byte_mask >> j & 1]
        acc = Const(0, 1)
        for t in terms:
            acc = acc ^ t
        bits.append(acc)
    return Cat(*bits)


class BoardCore(wiring.Component):
    """Engine + UART link + status outputs; clock and reset are the ``sync`` domain's.

    Parameters
    ----------
    cfg : EngineConfig
    clocks_per_bit : int
        UART bit time in clock cycles (clock / baud rate).
    fifo_depth : int
        Receive FIFO bytes.
    rng_word : int
        The engine's stochastic-rounding reset position (reported in the status frame).
    stretch_bits : int
        The activity LEDs stay on for ``2**stretch_bits`` cycles after a byte.

    Ports
    -----
    rx : In(1), tx : Out(1)        the UART lines (idle high)
    led_busy, led_error, led_rx, led_tx : Out(1)
        engine busy; an error since reset; a byte received / sent recently
    """

    def __init__(self, cfg: EngineConfig, clocks_per_bit: int, fifo_depth: int = DEFAULT_FIFO_DEPTH,
                 rng_word: int = 0, stretch_bits: int = 20):
        self.cfg, self.fmt = cfg, pr.LinkFormat(cfg)
        self.clocks_per_bit, self.fifo_depth = clocks_per_bit, fifo_depth
        self.rng_word, self.stretch_bits = rng_word, stretch_bits
        # whole-word weight writes: on an FPGA, lane write enables cost a block RAM per lane (rtl.weight_ram)
        self.engine = DrtpEngine(cfg, rng_word=rng_word, weight_writes=WeightWrites.WORD)
        self.uart_rx, self.uart_tx = UartRx(clocks_per_bit), UartTx(clocks_per_bit)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "led_busy": Out(1), "led_error": Out(1),
                          "led_rx": Out(1), "led_tx": Out(1)})

    def elaborate(self, platform):
        m = Module()
        cfg, fmt, eng = self.cfg, self.fmt, self.engine
        P, W = cfg.lanes, cfg.input.width
        eng_rst = Signal()
        m.submodules.engine = ResetInserter(eng_rst)(eng)
        m.submodules.uart_rx = urx = self.uart_rx
        m.submodules.uart_tx = utx = self.uart_tx
        m.submodules.fifo = rxf = fifo.SyncFIFOBuffered(width=9, depth=self.fifo_depth)
        m.d.comb += [urx.i.eq(self.rx), self.tx.eq(utx.o)]

        # -- errors: counted, the latest code sent in an E frame ------------------------------
        err_count, err_sticky = Signal(16), Signal()
        err_pend, err_code = Signal(), Signal(8)
        parse_err = Signal(8)        # a parser error code this cycle (0: none)
        resp_err = Signal()
        overrun = Signal()
        events = [(urx.ferr, pr.ERR_FRAMING), (overrun, pr.ERR_OVERRUN), (parse_err != 0, None),
                  (resp_err, pr.ERR_RESPONSE)]
        n_events = urx.ferr + overrun + (parse_err != 0) + resp_err
        clear_counts = Signal()

        # -- receive: UART -> FIFO, with a mark on the first byte after a lost one --------------
        lost = Signal()
        m.d.comb += [overrun.eq(urx.valid & ~rxf.w_rdy), rxf.w_data.eq(Cat(urx.data, lost)),
                     rxf.w_en.eq(urx.valid)]
        with m.If(urx.valid & rxf.w_rdy):
            m.d.sync += lost.eq(0)
        with m.If(urx.ferr | overrun):
            m.d.sync += lost.eq(1)

        # -- the parser's byte source: the FIFO, or zeros while a broken sample is flushed -----
        flush = Signal()
        have, byte, marked, pop = Signal(), Signal(8), Signal(), Signal()
        m.d.comb += [have.eq(flush | rxf.r_rdy), byte.eq(Mux(flush, 0, rxf.r_data[:8])),
                     marked.eq(~flush & rxf.r_rdy & rxf.r_data[8]), rxf.r_en.eq(pop & ~flush)]
        abort = Signal()
        m.d.comb += abort.eq(have & marked)

        kind, length, idx = Signal(8), Signal(16), Signal(16)
        crc = Signal(8)
        crc_in = crc8_next(crc, byte)
        args = Array(Signal(8, name=f"arg{i}") for i in range(5))
        a_layer, a_addr, a_count = args[0], Cat(args[1], args[2]), Cat(args[3], args[4])
        wdata = Signal(8 * fmt.word_bytes)

        n_layers = fmt.n_layers
        words = Array(Const(fmt.layer_words(k), 16) for k in range(n_layers))
        layer_ok = a_layer < n_layers
        layer_words = Mux(layer_ok, words[fit(a_layer, range(n_layers))], 0)
        write_ok = layer_ok & (a_addr < layer_words)
        read_ok = layer_ok & (a_count != 0) & (a_count <= fmt.max_read) & (a_addr + a_count <= layer_words)

        # sample assembly: P pixels per beat, the last beat held until the CRC
        train_f, label_r, label_ok, ok_r, broken = Signal(), Signal(8), Signal(), Signal(), Signal()
        beat, beat_full = Signal(P * W), Signal()
        lane = Signal(range(P))
        pix = Signal(8 * fmt.pixel_bytes)
        pix_byte = Signal(range(max(2, fmt.pixel_bytes)))
        suppress = Signal()        # the sample in the engine is a bad one: no P frame for its done

        sample = eng.sample
        m.d.comb += [sample.payload.pixels.eq(beat), sample.payload.label.eq(0), sample.payload.train.eq(0)]

        rd_req, rd_layer, rd_addr, rd_count = Signal(), Signal(8), Signal(16), Signal(16)
        stat_req = Signal()
        we = Signal()
        m.d.comb += [eng.wport.wdata.eq(fit(wdata, len(eng.wport.wdata))), eng.wport.we.eq(we)]

        def take(next_crc=True):
            m.d.comb += pop.eq(1)
            m.d.sync += idx.eq(idx + 1)
            if next_crc:
                m.d.sync += crc.eq(crc_in)

        with m.FSM(name="parser"):
            for state in ("IDLE", "HUNT"):
                with m.State(state):
                    with m.If(have):
                        m.d.comb += pop.eq(1)
                        with m.If(byte == pr.SYNC):
                            m.d.sync += [crc.eq(0), idx.eq(0)]
                            m.next = "TYPE"
                        with m.Else():
                            if state == "IDLE":
                                with m.If(~marked):
                                    m.d.comb += parse_err.eq(pr.ERR_SYNC)
                            m.next = "HUNT"
            with m.State("TYPE"):
                with m.If(abort):
                    m.next = "HUNT"
                with m.Elif(have):
                    take()
                    m.d.sync += kind.eq(byte)
                    m.next = "LEN0"
            with m.State("LEN0"):
                with m.If(abort):
                    m.next = "HUNT"
                with m.Elif(have):
                    take()
                    m.d.sync += length[:8].eq(byte)
                    m.next = "LEN1"
            with m.State("LEN1"):
                with m.If(abort):
                    m.next = "HUNT"
                with m.Elif(have):
                    take()
                    got = Cat(length[:8], byte)
                    m.d.sync += [length[8:].eq(byte), idx.eq(0), lane.eq(0), pix_byte.eq(0), beat.eq(0),
                                 beat_full.eq(0), label_ok.eq(0), broken.eq(0)]
                    known = [(t, fmt.request_len(t)) for t in (pr.T_SAMPLE, pr.T_WRITE, pr.T_READ, pr.T_STATUS,
                                                               pr.T_RESET)]
                    with m.Switch(kind):
                        for t, n in known:
                            with m.Case(t):
                                with m.If(got != n):
                                    m.d.comb += parse_err.eq(pr.ERR_LENGTH)
                                    m.next = "HUNT"
                                with m.Else():
                                    m.next = "S_PAY" if t == pr.T_SAMPLE else ("PAY" if n else "CRC")
                        with m.Default():
                            m.d.comb += parse_err.eq(pr.ERR_TYPE)
                            m.next = "HUNT"

            # -- S: pixels into beats; the last beat waits for the CRC --------------------------
            with m.State("S_PAY"):
                last_byte = idx == fmt.sample_len - 1
                with m.If(beat_full):
                    m.d.comb += sample.valid.eq(1)
                    with m.If(sample.ready):
                        m.d.sync += [beat_full.eq(0), beat.eq(0)]
                with m.Elif(abort):
                    m.d.sync += [flush.eq(1), broken.eq(1)]
                with m.Elif(have):
                    take(next_crc=True)
                    with m.If(idx == 0):
                        m.d.sync += train_f.eq(byte[0])
                    with m.Elif(idx == 1):
                        m.d.sync += [label_r.eq(byte), label_ok.eq(byte < cfg.n_classes)]
                    with m.Else():
                        value = Cat(pix[:8 * (fmt.pixel_bytes - 1)], byte)[:W] if fmt.pixel_bytes > 1 else byte[:W]
                        if fmt.pixel_bytes > 1:
                            m.d.sync += pix.word_select(pix_byte, 8).eq(byte)
                        pixel_done = (pix_byte == fmt.pixel_bytes - 1) if fmt.pixel_bytes > 1 else Const(1)
                        with m.If(pixel_done):
                            m.d.sync += [beat.word_select(lane, W).eq(value), pix_byte.eq(0)]
                            with m.If(last_byte):
                                m.next = "S_CRC"
                            with m.Elif(lane == P - 1):
                                m.d.sync += [lane.eq(0), beat_full.eq(1)]
                            with m.Else():
                                m.d.sync += lane.eq(lane + 1)
                        with m.Else():
                            m.d.sync += pix_byte.eq(pix_byte + 1)
            with m.State("S_CRC"):
                with m.If(flush | abort):
                    m.d.sync += [ok_r.eq(0), broken.eq(1), flush.eq(0)]
                    m.next = "S_LAST"
                with m.Elif(have):
                    m.d.comb += pop.eq(1)
                    m.d.sync += ok_r.eq((byte == crc) & label_ok)
                    with m.If(byte != crc):
                        m.d.comb += parse_err.eq(pr.ERR_CRC)
                    with m.Elif(~label_ok):
                        m.d.comb += parse_err.eq(pr.ERR_ARG)
                    m.next = "S_LAST"
            with m.State("S_LAST"):
                m.d.comb += [sample.valid.eq(1), sample.payload.train.eq(train_f & ok_r),
                             sample.payload.label.eq(fit(label_r, len(sample.payload.label)))]
                with m.If(sample.ready):
                    m.d.sync += [suppress.eq(~ok_r), beat.eq(0)]
                    m.next = "AFTER_S"
            with m.State("AFTER_S"):
                m.next = "IDLE"
                with m.If(broken):
                    m.next = "HUNT"

            # -- W, R, Q, Z: arguments, then the CRC, then the action ---------------------------
            with m.State("PAY"):
                with m.If(abort):
                    m.next = "HUNT"
                with m.Elif(have):
                    take()
                    with m.If(idx < 5):
                        m.d.sync += args[idx[:3]].eq(byte)
                    m.d.sync += wdata.eq(Cat(wdata[8:], byte))
                    with m.If(idx == length - 1):
                        m.next = "CRC"
            with m.State("CRC"):
                with m.If(abort):
                    m.next = "HUNT"
                with m.Elif(have):
                    m.d.comb += pop.eq(1)
                    m.next = "IDLE"
                    with m.If(byte != crc):
                        m.d.comb += parse_err.eq(pr.ERR_CRC)
                    with m.Else():
                        with m.Switch(kind):
                            with m.Case(pr.T_WRITE):
                                with m.If(write_ok):
                                    m.next = "W_ACT"
                                with m.Else():
                                    m.d.comb += parse_err.eq(pr.ERR_ARG)
                            with m.Case(pr.T_READ):
                                with m.If(read_ok):
                                    m.d.sync += [rd_req.eq(1), rd_layer.eq(a_layer), rd_addr.eq(a_addr),
                                                 rd_count.eq(a_count)]
                                    m.next = "R_WAIT"
                                with m.Else():
                                    m.d.comb += parse_err.eq(pr.ERR_ARG)
                            with m.Case(pr.T_STATUS):
                                m.d.sync += stat_req.eq(1)
                            with m.Case(pr.T_RESET):
                                m.next = "Z_ACT"
            with m.State("W_ACT"):
                with m.If(~eng.busy):
                    m.d.comb += we.eq(1)
                    m.next = "IDLE"
            with m.State("R_WAIT"):
                with m.If(~rd_req):
                    m.next = "IDLE"
            with m.State("Z_ACT"):
                with m.If(~eng.busy):
                    m.d.comb += [eng_rst.eq(1), clear_counts.eq(1)]
                    m.d.sync += [stat_req.eq(1), suppress.eq(0)]
                    m.next = "IDLE"

        # -- samples done: a P frame each, unless the sample was a bad one ---------------------
        samples = Signal(16)
        pred_pend, pred_val, pred_n = Signal(), Signal(8), Signal(16)
        pred_taken = Signal()
        with m.If(eng.done):
            with m.If(suppress):
                m.d.sync += suppress.eq(0)
            with m.Else():
                m.d.sync += [samples.eq(samples + 1), pred_pend.eq(1), pred_val.eq(eng.pred),
                             pred_n.eq(samples + 1)]
                with m.If(pred_pend & ~pred_taken):
                    m.d.comb += resp_err.eq(1)
        with m.Elif(pred_taken):
            m.d.sync += pred_pend.eq(0)

        # -- error bookkeeping -------------------------------------------------------------------
        code = Signal(8)
        for cond, c in reversed(events):
            with m.If(cond):
                m.d.comb += code.eq(parse_err if c is None else c)
        err_taken = Signal()
        with m.If(code != 0):
            m.d.sync += [err_pend.eq(1), err_code.eq(code), err_sticky.eq(1),
                         err_count.eq(Mux(err_count > 0xFFFF - 4, 0xFFFF, err_count + n_events))]
        with m.Elif(err_taken):
            m.d.sync += err_pend.eq(0)
        with m.If(clear_counts):
            m.d.sync += [samples.eq(0), err_count.eq(0), err_sticky.eq(0)]

        # -- responder ---------------------------------------------------------------------------
        n_pay = fmt.STATUS_LEN
        pay = Array(Signal(8, name=f"pay{i}") for i in range(n_pay))
        r_kind, r_len, r_pay_len = Signal(8), Signal(16), Signal(range(n_pay + 1))
        bi = Signal(range(max(4, n_pay)))
        r_crc = Signal(8)
        word_i, wbuf = Signal(16), Signal(8 * fmt.word_bytes)
        wb = Signal(range(max(2, fmt.word_bytes)))
        reading = Signal()
        m.d.comb += [utx.valid.eq(0)]
        sent = Signal()
        m.d.comb += sent.eq(utx.valid & utx.ready)
        with m.If(sent):
            m.d.sync += r_crc.eq(crc8_next(r_crc, utx.data))

        def load(kind_code, fields):
            data = []
            for value, nbytes in fields:
                for b in range(nbytes):
                    data.append(value[8 * b:8 * b + 8] if not isinstance(value, int) else (value >> 8 * b) & 0xFF)
            m.d.sync += [r_kind.eq(kind_code), r_pay_len.eq(len(data)), bi.eq(0), r_crc.eq(0)]
            m.d.sync += [pay[i].eq(d) for i, d in enumerate(data)]
            return len(data)

        digest = int(cfg.digest()[:8], 16)
        rng_report = self.rng_word & 0xFFFFFFFF      # the host checks it is below 2**32
        with m.FSM(name="responder"):
            with m.State("IDLE"):
                with m.If(err_pend):
                    n = load(pr.R_ERROR, [(err_code, 1), (Mux(code != 0, err_count + n_events, err_count), 2)])
                    m.d.comb += err_taken.eq(1)
                    m.d.sync += r_len.eq(n)
                    m.next = "HDR"
                with m.Elif(pred_pend):
                    n = load(pr.R_PRED, [(pred_val, 1), (pred_n, 2)])
                    m.d.comb += pred_taken.eq(1)
                    m.d.sync += r_len.eq(n)
                    m.next = "HDR"
                with m.Elif(stat_req):
                    flags = Cat(eng.busy, err_sticky)
                    n = load(pr.R_STATUS, [(pr.STATUS_VERSION, 1), (digest, 4), (rng_report, 4), (samples, 2),
                                           (err_count, 2), (flags, 1), (self.clocks_per_bit, 2),
                                           (self.fifo_depth, 2)])
                    m.d.sync += [stat_req.eq(0), r_len.eq(n)]
                    m.next = "HDR"
                with m.Elif(rd_req & ~eng.busy):
                    n = load(pr.R_DATA, [(rd_layer, 1), (rd_addr, 2)])
                    m.d.sync += [r_len.eq(n + rd_count * fmt.word_bytes), word_i.eq(0)]
                    m.next = "HDR"
            with m.State("HDR"):
                m.d.comb += [utx.valid.eq(1),
                             utx.data.eq(Array([Const(pr.SYNC, 8), r_kind, r_len[:8], r_len[8:]])[bi[:2]])]
                with m.If(utx.ready):
                    m.d.sync += bi.eq(bi + 1)
                    with m.If(bi == 0):
                        m.d.sync += r_crc.eq(0)      # the start byte is not in the CRC
                    with m.If(bi == 3):
                        m.d.sync += bi.eq(0)
                        m.next = "PAY"
            with m.State("PAY"):
                m.d.comb += [utx.valid.eq(1), utx.data.eq(pay[bi])]
                with m.If(utx.ready):
                    m.d.sync += bi.eq(bi + 1)
                    with m.If(bi == r_pay_len - 1):
                        m.next = "AFTER_PAY"
            with m.State("AFTER_PAY"):
                m.next = "CRC"
                with m.If(r_kind == pr.R_DATA):
                    m.next = "RD_ISSUE"
            with m.State("RD_ISSUE"):
                m.d.comb += reading.eq(1)
                m.d.comb += eng.wport.re.eq(1)
                m.next = "RD_WAIT"
            with m.State("RD_WAIT"):
                m.d.comb += reading.eq(1)
                with m.If(eng.wport.rvalid):
                    m.d.sync += [wbuf.eq(fit(eng.wport.rdata, len(wbuf))), wb.eq(0)]
                    m.next = "RD_SEND"
            with m.State("RD_SEND"):
                m.d.comb += [utx.valid.eq(1), utx.data.eq(wbuf[:8])]
                with m.If(utx.ready):
                    m.d.sync += [wbuf.eq(wbuf >> 8), wb.eq(wb + 1)]
                    with m.If(wb == fmt.word_bytes - 1):
                        m.d.sync += word_i.eq(word_i + 1)
                        m.next = "RD_ISSUE"
                        with m.If(word_i == rd_count - 1):
                            m.next = "CRC"
            with m.State("CRC"):
                m.d.comb += [utx.valid.eq(1), utx.data.eq(r_crc)]
                with m.If(utx.ready):
                    with m.If(r_kind == pr.R_DATA):
                        m.d.sync += rd_req.eq(0)
                    m.next = "IDLE"

        m.d.comb += [eng.wport.layer.eq(fit(Mux(reading, rd_layer, a_layer), len(eng.wport.layer))),
                     eng.wport.addr.eq(fit(Mux(reading, rd_addr + word_i, a_addr), len(eng.wport.addr)))]

        # -- LEDs ----------------------------------------------------------------------------------
        act_rx, act_tx = Signal(self.stretch_bits), Signal(self.stretch_bits)
        for act, strobe in ((act_rx, urx.valid | urx.ferr), (act_tx, sent)):
            with m.If(strobe):
                m.d.sync += act.eq(-1)
            with m.Elif(act != 0):
                m.d.sync += act.eq(act - 1)
        m.d.comb += [self.led_busy.eq(eng.busy), self.led_error.eq(err_sticky), self.led_rx.eq(act_rx != 0),
                     self.led_tx.eq(act_tx != 0)]
        return m
