"""hwsim.profile against hand-counted tiny cases and against a counting twin of the slow reference."""

from __future__ import annotations

import copy
from fractions import Fraction

import numpy as np
import pytest

from hwsim.config import Overflow, UpdateRule, config_from_dict, load_config
from hwsim.datasets import Dataset, load_dataset
from hwsim.fast import Engine
from hwsim.formats import ConfigError, apply_overflow, requantize, shift_round
from hwsim.params import initial_weights
from hwsim.profile import QuantityStats, profile_run
from hwsim.reference import ReferenceEngine, activate, sign, stochastic_word_bits
from hwsim.train_loop import epoch_order


def _fmt(text, rounding="trn", overflow="sat"):
    return {"format": text, "rounding": rounding, "overflow": overflow}


def tiny_config(preact_overflow: str, input_fmt=("u0.8", "rnd")) -> object:
    """2-2-2, 1 lane; hidden pre-activations in s1.3 (-1.0..0.875) so that |z| near 2 must overflow."""
    return config_from_dict({
        "name": f"tiny-{preact_overflow}", "topology": [2, 2, 2], "lanes": 1,
        "input": _fmt(input_fmt[0], input_fmt[1]),
        "layers": [
            {"weight": {"format": "s1.7"}, "preact": _fmt("s1.3", "trn", preact_overflow),
             "activation": {"kind": "hard_tanh", **_fmt("s1.3")}, "update": {"rule": "shift", "shift": 4}},
            {"weight": {"format": "s1.7"}, "preact": _fmt("s2.3"),
             "activation": {"kind": "hard_sigmoid", **_fmt("u1.3")},
             "error": {"signal": "error", **_fmt("s2.2", "rnd")}, "update": {"rule": "shift", "shift": 4}},
        ]})


def tiny_data(pixels, labels) -> Dataset:
    x = np.array(pixels, dtype=np.uint8)
    y = np.array(labels, dtype=np.int64)
    return Dataset("tiny", x, y, x, y, (x.shape[1],), 2, "test")


# W0 row 0 = +0.99 on both inputs, row 1 = -1.0: with both pixels 255 the sums are +1.977 and -1.992.
TINY_W = [np.array([[127, 127, 0], [-128, -128, 0]]), np.zeros((2, 3), dtype=np.int64)]


def test_saturating_format_counts_exactly():
    cfg = tiny_config("sat")
    n = 5
    p = profile_run(cfg, tiny_data([[255, 255]] * n, [0] * n), TINY_W, n_samples=n, train=False)
    acc, z, y = p.get(0, "acc"), p.get(0, "preact"), p.get(0, "act")
    assert (acc.min_raw, acc.max_raw, acc.n) == (-65280, 64770, 2 * n)  # exact sums, nothing overflows
    assert acc.wrapped == 0
    # 64770 >> 12 = 15 (15.8 floored: down), -65280 >> 12 = -16 (-15.94 floored: down); s1.3 holds -8..7
    assert (z.sat_hi, z.sat_lo, z.wrapped, z.n) == (n, n, 0, 2 * n)
    assert (z.round_up, z.round_down, z.round_exact) == (0, 2 * n, 0)
    assert (z.min_raw, z.max_raw, z.pre_min_raw, z.pre_max_raw) == (-8, 7, -16, 15)
    assert (z.at_max, z.at_min) == (n, n)
    # hard_tanh: z = 7 is inside (-8, 8), z = -8 is clipped (derivative 0); y needs no rounding
    assert (y.clipped, y.saturated, y.round_exact) == (n, 0, 2 * n)
    assert p.most_saturating(1)[0].key == "L0.preact"
    assert p.columns()["prof.L0.preact.sat_hi"] == n


def test_wrapping_format_counts_exactly():
    cfg = tiny_config("wrap")
    n = 3
    p = profile_run(cfg, tiny_data([[255, 255]] * n, [1] * n), TINY_W, n_samples=n, train=False)
    z = p.get(0, "preact")
    # 15 wraps to -1 and -16 wraps to 0 in four bits
    assert (z.wrap_hi, z.wrap_lo, z.saturated) == (n, n, 0)
    assert (z.min_raw, z.max_raw) == (-1, 0)
    assert z.codes[[-1 + 8, 0 + 8]].tolist() == [n, n]
    assert "wrap" in p.table().splitlines()[4]


def test_input_rounding_and_saturation():
    """u0.4 rnd: pixel 255 (15.94 LSB) rounds up to 16 and saturates, 8 (0.5) rounds up, 7 down, 16 is exact."""
    cfg = tiny_config("sat", ("u0.4", "rnd"))
    data = tiny_data([[255, 8], [16, 7]], [0, 1])
    p = profile_run(cfg, data, TINY_W, n_samples=2, train=False)
    s = p.get(0, "input")
    assert (s.n, s.sat_hi, s.sat_lo) == (4, 1, 0)
    assert (s.round_up, s.round_down, s.round_exact) == (2, 1, 1)
    assert (s.min_raw, s.max_raw, s.pre_max_raw) == (0, 15, 16)


def test_profile_leaves_the_engine_alone_and_refuses_float():
    cfg = tiny_config("sat")
    eng = Engine(cfg, TINY_W)
    profile_run(cfg, tiny_data([[255, 255]] * 4, [0, 1, 0, 1]), eng, n_samples=4)
    assert eng.rng_word == 0 and all(np.array_equal(a, b) for a, b in zip(eng.weights(), TINY_W))
    with pytest.raises(ConfigError, match="fixed-point Engine or a list of raw weight arrays"):
        profile_run(cfg, tiny_data([[1, 2]], [0]), object())


# ---------------------------------------------------------------------------------------------
# The counting twin: the slow reference, with every quantity's value recorded in scalar Python.

class CountingReference(ReferenceEngine):
    """ReferenceEngine that records (stored, pre-overflow, rounding direction, hi, lo) of every value."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.rec: dict[tuple[int, str], list] = {}
        self.clipped: dict[int, int] = {}

    def note(self, k, name, stored, pre=None, direction=None, hi=None, lo=None):
        self.rec.setdefault((k, name), []).append((stored, stored if pre is None else pre, direction, hi, lo))

    @staticmethod
    def direction(v: int, d: int, q: int) -> int:
        """Rounded q against the exact rational v / 2**d (independent of the shift formula)."""
        exact = Fraction(v, 2 ** d) if d > 0 else Fraction(v * 2 ** -d)
        return (q > exact) - (q < exact)

    def _forward_layer(self, k, a):
        cfg, layer = self.cfg, self.cfg.layers[k]
        acc_fmt = cfg.acc_format(k)
        a_ext = a + ([cfg.bias_input(k)] if cfg.bias else [])
        z, y, d = [], [], []
        for j in range(layer.n_out):
            acc = exact = 0
            hi = lo = False
            for i, ai in enumerate(a_ext):
                step = acc + self.W[k][j][i] * ai
                exact += self.W[k][j][i] * ai
                hi, lo = hi or step > acc_fmt.max_raw, lo or step < acc_fmt.min_raw
                acc = apply_overflow(step, acc_fmt)
            if acc_fmt.overflow is Overflow.WRAP:
                hi, lo = exact > acc_fmt.max_raw, exact < acc_fmt.min_raw
            self.note(k, "acc", acc, exact, None, hi, lo)
            dz = acc_fmt.frac_bits - layer.preact.frac_bits
            q = shift_round(acc, dz, layer.preact.rounding)
            zj = requantize(acc, acc_fmt.frac_bits, layer.preact)
            self.note(k, "preact", zj, q, self.direction(acc, dz, q))
            clipped, dj = activate(layer.activation, zj, layer.preact.frac_bits)
            self.clipped[k] = self.clipped.get(k, 0) + (1 - dj)
            da = layer.preact.frac_bits - layer.act.frac_bits
            q = shift_round(clipped, da, layer.act.rounding)
            yj = requantize(clipped, layer.preact.frac_bits, layer.act)
            self.note(k, "act", yj, q, self.direction(clipped, da, q))
            z.append(zj)
            y.append(yj)
            d.append(dj)
        return a_ext, z, y, d

    def _delta(self, k, y, d, label):
        deltas = super()._delta(k, y, d, label)
        layer = self.cfg.layers[k]
        if self.cfg.is_output(k):
            one = layer.target_one()
            de = layer.act.frac_bits - layer.error.frac_bits
            for j in range(layer.n_out):
                v = y[j] - (one if j == label else 0)
                q = shift_round(v, de, layer.error.rounding)
                self.note(k, "error", requantize(v, layer.act.frac_bits, layer.error), q, self.direction(v, de, q))
        if self.cfg.delta_is_ternary(k):
            for dj in deltas:
                self.note(k, "delta", dj)
        return deltas

    def _update_layer(self, k, a_ext, delta):
        """The dense update (the configs here are dense), noting every change; returns the reference's counts."""
        cfg, layer = self.cfg, self.cfg.layers[k]
        assert not cfg.is_event, "the counting twin walks the dense schedule"
        drop = cfg.update_drop_bits(k)
        stochastic = cfg.uses_stochastic()
        for i, ai in enumerate(a_ext):
            for g in range(cfg.groups(k)):
                for p in range(cfg.lanes):
                    j = g * cfg.lanes + p
                    word = self._next_word() if stochastic else 0
                    if j >= layer.n_out or delta[j] * ai == 0:
                        continue
                    if layer.update_rule is UpdateRule.SIGN:
                        dw = -sign(delta[j]) * sign(ai)
                        self.note(k, "update", dw)
                    else:
                        rand = stochastic_word_bits(word, drop, cfg.rng_lfsr_bits)
                        dw = shift_round(-delta[j] * ai, drop, layer.update_rounding, rand)
                        self.note(k, "update", dw, dw, self.direction(-delta[j] * ai, drop, dw))
                    pre = self.W[k][j][i] + dw
                    self.W[k][j][i] = apply_overflow(pre, layer.weight)
                    self.note(k, "weight", self.W[k][j][i], pre)
        self.rng_word += cfg.words_per_update(k)
        visits = cfg.n_cols(k) * cfg.groups(k)
        return cfg.groups(k), visits, visits, 0   # counts are not what this test compares


def twin_counts(cfg, data, weights, n, train=True) -> dict:
    """The counting twin's statistics for the samples profile_run(n_samples=n, epoch=0, seed=0) takes."""
    twin = CountingReference(cfg, weights)
    plain = ReferenceEngine(cfg, weights)
    order = epoch_order(0, 0, len(data.x_train))[:n]
    inputs = []
    for s in order:
        x = [requantize(int(p), 8, cfg.input) for p in data.x_train[s]]
        for p in data.x_train[s]:
            q = shift_round(int(p), 8 - cfg.input.frac_bits, cfg.input.rounding)
            inputs.append((requantize(int(p), 8, cfg.input), q,
                           CountingReference.direction(int(p), 8 - cfg.input.frac_bits, q), None, None))
        t = twin.run(x, int(data.y_train[s]), train)
        r = plain.run(x, int(data.y_train[s]), train)
        assert (t.z, t.y, t.delta) == (r.z, r.y, r.delta)  # the twin is the reference
    assert twin.W == plain.W
    out = {}
    twin.rec[(0, "input")] = inputs
    for (k, name), rows in twin.rec.items():
        fmt = {"input": cfg.input, "acc": cfg.acc_format(k), "preact": cfg.layers[k].preact,
               "act": cfg.layers[k].act, "error": cfg.layers[k].error, "weight": cfg.layers[k].weight,
               "delta": cfg.delta_format(k), "update": None}[name]
        st = QuantityStats(k, name, fmt)
        stored, pre, dirs, hi, lo = zip(*rows)
        st.add(np.array(stored), np.array(pre), None if dirs[0] is None else np.array(dirs),
               None if hi[0] is None else np.array(hi), None if lo[0] is None else np.array(lo))
        if name == "act":
            st.clipped = twin.clipped[k]
        out[(k, name)] = st
    return out


def narrow_config():
    """small.yaml with a sat accumulator that clamps, wrapping output pre-activations, rnd_conv, sign rules."""
    d = copy.deepcopy(load_config("configs/small.yaml").to_dict())
    d["name"] = "narrow"
    l0, l1 = d["layers"]
    l0["accumulator"] = {"bits": 17, "overflow": "sat"}
    l0["preact"] = _fmt("s1.6", "rnd_conv", "sat")
    l0["activation"].update(_fmt("s1.5", "rnd_conv", "sat"))
    l0["update"] = {"rule": "shift", "shift": 9, "rounding": "rnd"}
    l1["accumulator"] = {"bits": 16, "overflow": "wrap"}
    l1["preact"] = _fmt("s0.7", "rnd", "wrap")
    l1["update"] = {"rule": "sign", "shift": 0, "rounding": "trn"}
    l1["error"] = {"signal": "sign", **_fmt("s1.3", "trn", "wrap")}
    return config_from_dict(d)


@pytest.mark.parametrize("which", ["small", "narrow"])
def test_profile_equals_the_counting_reference(which):
    cfg = load_config("configs/small.yaml") if which == "small" else narrow_config()
    data = load_dataset("digits8x8")
    weights = initial_weights(cfg, 3)
    n = 12
    want = twin_counts(cfg, data, weights, n)
    got = profile_run(cfg, data, weights, n_samples=n)
    assert {(s.layer, s.name) for s in got.stats} == set(want)
    for s in got.stats:
        w = want[(s.layer, s.name)]
        assert s.counts() == w.counts(), s.key
        assert np.array_equal(s.msb, w.msb), s.key
        if s.codes is not None:
            assert np.array_equal(s.codes, w.codes), s.key
    if which == "narrow":  # the config exercises what it is meant to
        assert got.get(0, "acc").saturated > 0 and got.get(1, "preact").wrapped > 0


def test_table_and_plot(tmp_path):
    cfg = load_config("configs/small.yaml")
    p = profile_run(cfg, load_dataset("digits8x8"), initial_weights(cfg, 0), n_samples=50)
    text = p.table()
    assert "L0    preact" in text and "most saturating:" in text
    p.plot(tmp_path / "profile.png")
    assert (tmp_path / "profile.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cols = p.columns()
    assert cols["prof.samples"] == 50 and cols["prof.L0.acc.n"] == 50 * 32
