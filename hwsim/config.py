"""The engine configuration: topology, every quantity's format, activations, update rules, seeds.

An :class:`EngineConfig` is built once (from YAML, from ``--bits N`` or in code), validated, and
then handed unchanged to the golden model, the slow reference, the RTL generator, the golden
writer and the estimators. docs/engine.md says what every field means to the datapath.
Rules derived from a config (a layer's delta format, its bias input, whether it rounds
stochastically, which lanes the RTL builds) are methods here, written once for all of them.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from . import lfsr
from .formats import ConfigError, FixedFormat, Overflow, Rounding, parse_format

__all__ = ["Activation", "UpdateRule", "ErrorSignal", "Schedule", "LayerConfig", "EngineConfig", "TERNARY",
           "DEFAULT_LANES", "MAX_LANES", "MAX_WORD_BITS", "MAX_ACC_BITS", "product_bits", "default_acc_bits",
           "load_config", "config_from_dict", "config_for_bits", "CONFIG_DIR"]

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


class Activation(str, enum.Enum):
    """Activations with a 0/1 derivative (the derivative is 1 strictly inside the linear region)."""

    CLIPPED_RELU = "clipped_relu"  # y = clamp(z, 0, 1)
    HARD_TANH = "hard_tanh"        # y = clamp(z, -1, 1)
    HARD_SIGMOID = "hard_sigmoid"  # y = clamp(z + 1/2, 0, 1)


class UpdateRule(str, enum.Enum):
    SHIFT = "shift"  # dW = round(-delta * a * 2**-shift) with the update rounding
    SIGN = "sign"    # dW = -sign(delta) * sign(a) LSB


class ErrorSignal(str, enum.Enum):
    """What the output layer learns from."""

    ERROR = "error"  # delta = e = y - y*, quantized to the error format
    SIGN = "sign"    # delta = sign(e) in {-1, 0, +1}


class RandomSource(str, enum.Enum):
    LFSR = "lfsr"  # DRTP vectors regenerated on chip from per-layer LFSR seeds
    ROM = "rom"    # DRTP vectors stored in a ROM (filled from a seeded host RNG)


class Schedule(str, enum.Enum):
    """Which work the engine does (docs/engine.md §11): every column and group, or only the events."""
    DENSE = "dense"
    EVENT = "event"


class InitKind(str, enum.Enum):
    UNIFORM = "uniform"  # U(+-scale / sqrt(fan_in)), quantized, clipped to the weight format
    ZERO = "zero"


MAX_ACC_BITS = 64
"""Cap of every accumulator, and of the default (exact) width: the fast model sums in int64."""
MAX_NEURONS = 1 << 16
DEFAULT_LANES = 16
"""``lanes`` when a config does not say: 16, or fewer when the topology allows fewer (:meth:`EngineConfig.max_lanes`)."""
MAX_LANES = 256
MAX_WORD_BITS = 4096
"""Widest weight-memory word (P lanes x one weight) the RTL builds: wider RAMs are not inferred."""

TERNARY = FixedFormat(2, 0, True)
"""The format of a ternary modulatory signal {-1, 0, +1} (hidden layers, or output ``signal: sign``)."""


def product_bits(weight: FixedFormat, in_fmt: FixedFormat) -> int:
    """Bits of one ``weight x input`` product: ``W_w + W_in``, plus 1 when the input is unsigned."""
    return weight.width + in_fmt.width + (0 if in_fmt.signed else 1)


def default_acc_bits(weight: FixedFormat, in_fmt: FixedFormat, n_in: int) -> int:
    """The exact accumulator width (docs/engine.md section 2), capped at :data:`MAX_ACC_BITS`.

    ``product_bits + ceil(log2(n_in + 1)) + 1``: room for ``n_in + 1`` products whether or not the
    bias column is on.
    """
    return min(product_bits(weight, in_fmt) + math.ceil(math.log2(n_in + 1)) + 1, MAX_ACC_BITS)


@dataclass(frozen=True)
class LayerConfig:
    """One fully connected layer ``y = f(W a + b)`` and its learning rule.

    The accumulator has ``weight.frac_bits + in_format.frac_bits`` fraction bits and ``acc_bits``
    bits in all. ``error`` and ``error_signal`` are used by the output layer only.
    """

    n_in: int
    n_out: int
    weight: FixedFormat
    acc_bits: int
    acc_overflow: Overflow
    preact: FixedFormat
    activation: Activation
    act: FixedFormat
    update_rule: UpdateRule
    update_shift: int
    update_rounding: Rounding
    error: FixedFormat | None = None
    error_signal: ErrorSignal = ErrorSignal.ERROR

    @property
    def rounds_stochastically(self) -> bool:
        """The update is ``shift`` with ``stoch`` rounding (it draws words when it drops bits)."""
        return self.update_rule is UpdateRule.SHIFT and self.update_rounding is Rounding.STOCH

    @property
    def sends_error(self) -> bool:
        """Output layer: the modulatory signal is the error itself (``signal: error``), not its sign."""
        return self.error_signal is ErrorSignal.ERROR

    def target_one(self) -> int:
        """Output layer: the label neuron's target, 1.0 in ``act``'s scale saturated to ``act.max_raw``."""
        return min(self.act.one_raw(), self.act.max_raw)


@dataclass(frozen=True)
class EngineConfig:
    """A whole learning engine. ``layers[-1]`` is the output layer; the others are hidden (DRTP)."""

    name: str
    input: FixedFormat
    layers: tuple[LayerConfig, ...]
    lanes: int = DEFAULT_LANES
    bias: bool = True
    random_source: RandomSource = RandomSource.LFSR
    random_lfsr_bits: int = 16
    random_seeds: tuple[int, ...] = ()
    rng_lfsr_bits: int = 16
    rng_seed: int = 0xACE1
    init: InitKind = InitKind.UNIFORM
    init_scale: float = 1.0
    dataset: str = "mnist5k"
    epochs: int = 10
    schedule: Schedule = Schedule.DENSE
    source: dict = field(default=None, compare=False, repr=False)

    @property
    def topology(self) -> tuple[int, ...]:
        return (self.layers[0].n_in,) + tuple(layer.n_out for layer in self.layers)

    @property
    def n_classes(self) -> int:
        return self.layers[-1].n_out

    def in_format(self, k: int) -> FixedFormat:
        return self.input if k == 0 else self.layers[k - 1].act

    def acc_format(self, k: int) -> FixedFormat:
        layer = self.layers[k]
        frac = layer.weight.frac_bits + self.in_format(k).frac_bits
        return FixedFormat(layer.acc_bits - frac, frac, True, Rounding.TRN, layer.acc_overflow)

    def is_output(self, k: int) -> bool:
        """Layer k is the output layer (the others are hidden DRTP layers)."""
        return k == len(self.layers) - 1

    @property
    def hidden_layers(self) -> range:
        """Indices of the hidden layers (those with DRTP random vectors)."""
        return range(len(self.layers) - 1)

    def delta_is_ternary(self, k: int) -> bool:
        """Layer k's modulatory signal is in {-1, 0, +1}: hidden layers, and the output with ``signal: sign``."""
        return not (self.is_output(k) and self.layers[k].sends_error)

    def delta_format(self, k: int) -> FixedFormat:
        """Format of layer k's stored modulatory signal: the error format, or :data:`TERNARY`."""
        return TERNARY if self.delta_is_ternary(k) else self.layers[k].error

    def delta_frac(self, k: int) -> int:
        """Fraction bits of layer k's modulatory signal (0 for ternary signals)."""
        return self.delta_format(k).frac_bits

    def bias_input(self, k: int) -> int:
        """The constant input of layer k's bias column: 1.0 in the input format's scale (a wire, not stored)."""
        return self.in_format(k).one_raw()

    def update_drop_bits(self, k: int) -> int:
        """Bits the shifted update drops: delta_frac + in_frac + shift - w_frac (may be <= 0)."""
        layer = self.layers[k]
        return (self.delta_frac(k) + self.in_format(k).frac_bits + layer.update_shift
                - layer.weight.frac_bits)

    def groups(self, k: int) -> int:
        """Lane groups of layer k: ceil(n_out / lanes)."""
        return -(-self.layers[k].n_out // self.lanes)

    def n_cols(self, k: int) -> int:
        """Weight columns of layer k: its inputs, plus the bias column when biases are on."""
        return self.layers[k].n_in + (1 if self.bias else 0)

    def words_per_update(self, k: int) -> int:
        """Stochastic-rounding words layer k's update consumes: n_cols * groups * lanes."""
        return self.n_cols(k) * self.groups(k) * self.lanes

    @property
    def is_event(self) -> bool:
        """``schedule: event``: zero inputs, inactive groups and all-zero weight changes are skipped (§11)."""
        return self.schedule is Schedule.EVENT

    def update_is_stochastic(self, k: int) -> bool:
        """Layer k's update adds random words: it rounds stochastically and drops at least one bit."""
        return self.layers[k].rounds_stochastically and self.update_drop_bits(k) > 0

    def uses_stochastic(self) -> bool:
        """Some layer rounds its update stochastically (the engine then has the lane LFSRs)."""
        return any(layer.rounds_stochastically for layer in self.layers)

    def max_lanes(self) -> int:
        """The most lanes the RTL builds for this topology and these weights (see :meth:`check_lanes`)."""
        return min(MAX_LANES, max(layer.n_out for layer in self.layers),
                   min(self.n_cols(k) for k in range(len(self.layers))),
                   min(MAX_WORD_BITS // layer.weight.width for layer in self.layers))

    def check_lanes(self, field: str = "lanes") -> None:
        """Raise a one-sentence :class:`ConfigError` unless ``lanes`` is one the RTL builds.

        The single home of the rule: the loader, ``--lanes`` of every CLI and ``rtl.generate`` use it.
        ``field`` names the offending input (``small.lanes``, ``--lanes``); layer names get its prefix.
        """
        P = self.lanes
        pre = field[: -len("lanes")] if field.endswith(".lanes") else ""
        widest = max(layer.n_out for layer in self.layers)
        if isinstance(P, bool) or not isinstance(P, int) or (widest > MAX_LANES and not 1 <= P <= MAX_LANES):
            raise ConfigError(f"{field} must be an integer in 1..{MAX_LANES}, not {P!r}")
        if not 1 <= P <= widest:
            raise ConfigError(f"{field} must be in 1..{widest} for topology {list(self.topology)} (each lane "
                              f"computes one neuron and the widest layer has {widest}), not {P}")
        for k, layer in enumerate(self.layers):
            if self.n_cols(k) < P:
                raise ConfigError(f"{pre}layers[{k}] has {self.n_cols(k)} columns (n_in + bias) but {P} lanes; "
                                  f"the RTL post-processes a group's {P} neurons one per cycle while the next "
                                  f"group accumulates, so it needs at least as many columns as lanes: use at "
                                  f"most {self.n_cols(k)} lanes")
            bits = P * layer.weight.width
            if bits > MAX_WORD_BITS:
                raise ConfigError(f"{pre}layers[{k}].weight.format {layer.weight} with {P} lanes makes a "
                                  f"{bits}-bit weight-memory word; the RTL builds words of at most "
                                  f"{MAX_WORD_BITS} bits, so use fewer lanes or narrower weights")

    def with_lanes(self, lanes: int, field: str = "lanes") -> "EngineConfig":
        """This config with ``lanes`` lanes, checked by :meth:`check_lanes` (``--lanes`` flags use it)."""
        cfg = replace(self, lanes=lanes)
        cfg.check_lanes(field)
        return cfg

    def with_schedule(self, schedule: str | Schedule, field: str = "schedule") -> "EngineConfig":
        """This config with another schedule (``--schedule`` flags use it)."""
        return replace(self, schedule=_enum(Schedule, getattr(schedule, "value", schedule), field))

    def check_weights(self, weights) -> None:
        """Raise a one-sentence :class:`ConfigError` unless ``weights`` are this engine's raw weights.

        One ``(n_out, n_cols)`` integer array per layer (bias column last), every value within the
        layer's weight format: what :func:`hwsim.params.initial_weights` returns and the engine,
        the RTL generator and run folders hold.
        """
        if len(weights) != len(self.layers):
            raise ConfigError(f"weights must list {len(self.layers)} arrays (one per layer), not {len(weights)}")
        for k, w in enumerate(weights):
            w, fmt, want = np.asarray(w), self.layers[k].weight, (self.layers[k].n_out, self.n_cols(k))
            if w.shape != want:
                raise ConfigError(f"weights[{k}] must have shape {want} (n_out, n_cols), not {w.shape}")
            if not np.issubdtype(w.dtype, np.integer) or not fmt.contains(w):
                raise ConfigError(f"weights[{k}] must be raw integers within the weight format {fmt} "
                                  f"({fmt.min_raw}..{fmt.max_raw})")

    def check_buildable(self) -> None:
        """Raise a one-sentence :class:`ConfigError` for an engine the RTL generator cannot build.

        Today that is the lanes rule (:meth:`check_lanes`), which the loader already applies; a
        config changed after loading (``dataclasses.replace``) is checked again here.
        """
        self.check_lanes("lanes")

    def to_dict(self) -> dict:
        """The canonical YAML-able form (what :func:`config_from_dict` reads back)."""
        layers = []
        for k, layer in enumerate(self.layers):
            entry: dict[str, Any] = {
                "weight": _fmt_dict(layer.weight, rounding=False),
                "accumulator": {"bits": layer.acc_bits, "overflow": layer.acc_overflow.value},
                "preact": _fmt_dict(layer.preact),
                "activation": {"kind": layer.activation.value, **_fmt_dict(layer.act)},
                "update": {"rule": layer.update_rule.value, "shift": layer.update_shift,
                           "rounding": layer.update_rounding.value},
            }
            if k == len(self.layers) - 1:
                entry["error"] = {"signal": layer.error_signal.value, **_fmt_dict(layer.error)}
            layers.append(entry)
        return {
            "name": self.name,
            "topology": list(self.topology),
            "dataset": self.dataset,
            "epochs": self.epochs,
            "lanes": self.lanes,
            "bias": self.bias,
            "input": _fmt_dict(self.input),
            "layers": layers,
            "random_vectors": {"source": self.random_source.value, "lfsr_bits": self.random_lfsr_bits,
                               "seeds": list(self.random_seeds)},
            "stochastic_rng": {"lfsr_bits": self.rng_lfsr_bits, "seed": self.rng_seed},
            "init": {"kind": self.init.value, "scale": self.init_scale},
            # only when not the default, so dense configs keep the digests they had before schedules
            **({"schedule": self.schedule.value} if self.is_event else {}),
        }

    def digest(self) -> str:
        """A short hash of the canonical form: names a config in golden files and results."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def dump_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def _fmt_dict(fmt: FixedFormat, rounding: bool = True) -> dict:
    out = {"format": str(fmt)}
    if rounding:
        out["rounding"] = fmt.rounding.value
    out["overflow"] = fmt.overflow.value
    return out


# ---------------------------------------------------------------------------------------------
# Reading and validating
# ---------------------------------------------------------------------------------------------

def _take(d: Any, where: str, required: set[str], optional: set[str]) -> dict:
    if not isinstance(d, dict):
        raise ConfigError(f"{where} must be a mapping, not {type(d).__name__}")
    unknown = sorted(set(d) - required - optional)
    if unknown:
        allowed = ", ".join(sorted(required | optional))
        raise ConfigError(f"unknown config key '{where}.{unknown[0]}'; allowed keys there are: {allowed}")
    missing = sorted(required - set(d))
    if missing:
        raise ConfigError(f"config key '{where}.{missing[0]}' is missing")
    return d


def _int(value: Any, where: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"{where} must be an integer in {lo}..{hi}, not {value!r}")
    return value


def _enum(cls, value: Any, where: str):
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in cls)
        raise ConfigError(f"{where} must be one of {allowed}, not {value!r}") from None


def _format(d: Any, where: str, extra: set[str] = frozenset(), rounding: bool = True) -> FixedFormat:
    keys = {"rounding", "overflow"} | set(extra) if rounding else {"overflow"} | set(extra)
    d = _take(d, where, {"format"}, keys)
    return parse_format(d["format"], d.get("rounding", "trn"), d.get("overflow", "sat"),
                        field=f"{where}.format")


def config_from_dict(d: Any, origin: str = "config") -> EngineConfig:
    """Build and validate a config; every error is one :class:`ConfigError` sentence."""
    d = _take(d, origin, {"topology", "input", "layers"},
              {"name", "dataset", "epochs", "lanes", "bias", "random_vectors", "stochastic_rng", "init",
               "schedule"})
    topo = d["topology"]
    if (not isinstance(topo, list) or len(topo) < 2
            or not all(isinstance(n, int) and not isinstance(n, bool) for n in topo)):
        raise ConfigError(f"{origin}.topology must be a list of at least 2 layer sizes like [784, 500, 10], "
                          f"not {topo!r}")
    for n in topo:
        _int(n, f"{origin}.topology entries", 1, MAX_NEURONS)
    if topo[-1] < 2:
        raise ConfigError(f"{origin}.topology must end in at least 2 classes, not {topo[-1]}")
    input_fmt = _format(d["input"], f"{origin}.input")
    if input_fmt.signed:
        raise ConfigError(f"{origin}.input.format must be unsigned (pixels are >= 0), not {input_fmt}")
    if input_fmt.rounding is Rounding.STOCH:
        raise ConfigError(f"{origin}.input.rounding 'stoch' is allowed only for updates; use trn, rnd or rnd_conv")
    layers_in = d["layers"]
    if not isinstance(layers_in, list) or len(layers_in) != len(topo) - 1:
        raise ConfigError(f"{origin}.layers must list {len(topo) - 1} layers (one per weight layer of "
                          f"topology {topo}), not {len(layers_in) if isinstance(layers_in, list) else layers_in!r}")
    layers = []
    in_fmt = input_fmt
    for k, ld in enumerate(layers_in):
        last = k == len(layers_in) - 1
        where = f"{origin}.layers[{k}]"
        ld = _take(ld, where, {"weight", "preact", "activation", "update"},
                   {"accumulator"} | ({"error"} if last else set()))
        weight = _format(ld["weight"], f"{where}.weight", rounding=False)
        if not weight.signed:
            raise ConfigError(f"{where}.weight.format must be signed, not {weight}")
        acc_d = _take(ld.get("accumulator", {}), f"{where}.accumulator", set(), {"bits", "overflow"})
        need = product_bits(weight, in_fmt)
        acc_bits = _int(acc_d.get("bits", default_acc_bits(weight, in_fmt, topo[k])), f"{where}.accumulator.bits",
                        2, MAX_ACC_BITS)
        if acc_bits < need:
            raise ConfigError(f"{where}.accumulator.bits is {acc_bits}, too narrow for its {weight.width}-bit x "
                              f"{in_fmt.width}-bit products, which need {need} bits")
        acc_overflow = _enum(Overflow, acc_d.get("overflow", "wrap"), f"{where}.accumulator.overflow")
        preact = _format(ld["preact"], f"{where}.preact")
        if not preact.signed:
            raise ConfigError(f"{where}.preact.format must be signed, not {preact}")
        if preact.frac_bits < 0:
            raise ConfigError(f"{where}.preact.format needs at least 0 fraction bits (1.0 must be "
                              f"an integer), not {preact}")
        act_d = _take(ld["activation"], f"{where}.activation", {"kind", "format"}, {"rounding", "overflow"})
        kind = _enum(Activation, act_d["kind"], f"{where}.activation.kind")
        act = _format({k2: v for k2, v in act_d.items() if k2 != "kind"}, f"{where}.activation")
        if kind is Activation.HARD_TANH and not act.signed:
            raise ConfigError(f"{where}.activation.format must be signed for hard_tanh, not {act}")
        if preact.frac_bits < 1 and kind is Activation.HARD_SIGMOID:
            raise ConfigError(f"{where}.preact.format needs at least 1 fraction bit for hard_sigmoid's +1/2, "
                              f"not {preact}")
        up = _take(ld["update"], f"{where}.update", {"rule"}, {"shift", "rounding"})
        rule = _enum(UpdateRule, up["rule"], f"{where}.update.rule")
        shift = _int(up.get("shift", 0), f"{where}.update.shift", 0, 40)
        up_round = _enum(Rounding, up.get("rounding", "trn"), f"{where}.update.rounding")
        for fmt, name in ((preact, "preact"), (act, "activation")):
            if fmt.rounding is Rounding.STOCH:
                raise ConfigError(f"{where}.{name}.rounding 'stoch' is allowed only for updates; "
                                  f"use trn, rnd or rnd_conv")
        error, signal = None, ErrorSignal.ERROR
        if last:
            if "error" not in ld:
                raise ConfigError(f"config key '{where}.error' is missing (the output layer needs it)")
            err_d = _take(ld["error"], f"{where}.error", {"format"}, {"signal", "rounding", "overflow"})
            signal = _enum(ErrorSignal, err_d.get("signal", "error"), f"{where}.error.signal")
            error = _format({k2: v for k2, v in err_d.items() if k2 != "signal"}, f"{where}.error")
            if not error.signed:
                raise ConfigError(f"{where}.error.format must be signed, not {error}")
            if error.rounding is Rounding.STOCH:
                raise ConfigError(f"{where}.error.rounding 'stoch' is allowed only for updates; "
                                  f"use trn, rnd or rnd_conv")
        elif kind is Activation.HARD_SIGMOID:
            raise ConfigError(f"{where}.activation.kind hard_sigmoid is for the output layer; "
                              f"hidden layers use clipped_relu or hard_tanh")
        layers.append(LayerConfig(topo[k], topo[k + 1], weight, acc_bits, acc_overflow, preact, kind, act,
                                  rule, shift, up_round, error, signal))
        in_fmt = act

    if "lanes" in d:
        lanes = _int(d["lanes"], f"{origin}.lanes", 1, MAX_LANES)
    bias = d.get("bias", True)
    if not isinstance(bias, bool):
        raise ConfigError(f"{origin}.bias must be true or false, not {bias!r}")
    rv = _take(d.get("random_vectors", {}), f"{origin}.random_vectors", set(), {"source", "lfsr_bits", "seeds"})
    source = _enum(RandomSource, rv.get("source", "lfsr"), f"{origin}.random_vectors.source")
    rv_bits = rv.get("lfsr_bits", 16)
    lfsr.check_width(rv_bits, f"{origin}.random_vectors.lfsr_bits")
    n_hidden = len(layers) - 1
    seeds = rv.get("seeds", [0x1D3 + 0x2F1 * k for k in range(n_hidden)])
    if not isinstance(seeds, list) or len(seeds) != n_hidden:
        raise ConfigError(f"{origin}.random_vectors.seeds must list one seed per hidden layer ({n_hidden}), "
                          f"not {seeds!r}")
    for s in seeds:
        _int(s, f"{origin}.random_vectors.seeds entries", 1, (1 << rv_bits) - 1)
    rng = _take(d.get("stochastic_rng", {}), f"{origin}.stochastic_rng", set(), {"lfsr_bits", "seed"})
    rng_bits = rng.get("lfsr_bits", 16)
    lfsr.check_width(rng_bits, f"{origin}.stochastic_rng.lfsr_bits")
    rng_seed = _int(rng.get("seed", 0xACE1 & ((1 << rng_bits) - 1) or 1), f"{origin}.stochastic_rng.seed",
                    1, (1 << rng_bits) - 1)
    init = _take(d.get("init", {}), f"{origin}.init", set(), {"kind", "scale"})
    init_kind = _enum(InitKind, init.get("kind", "uniform"), f"{origin}.init.kind")
    scale = init.get("scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale <= 16:
        raise ConfigError(f"{origin}.init.scale must be a number in (0, 16], not {scale!r}")
    name = d.get("name", "engine")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{origin}.name must be a non-empty string, not {name!r}")
    dataset = d.get("dataset", "mnist5k")
    if not isinstance(dataset, str):
        raise ConfigError(f"{origin}.dataset must be a data set name, not {dataset!r}")
    epochs = _int(d.get("epochs", 10), f"{origin}.epochs", 1, 10000)
    schedule = _enum(Schedule, d.get("schedule", "dense"), f"{origin}.schedule")
    cfg = EngineConfig(name, input_fmt, tuple(layers), 1, bias, source, rv_bits, tuple(seeds),
                       rng_bits, rng_seed, init_kind, float(scale), dataset, epochs, schedule, source=d)
    if "lanes" not in d:
        return replace(cfg, lanes=min(DEFAULT_LANES, cfg.max_lanes()))
    return cfg.with_lanes(lanes, f"{origin}.lanes")


def load_config(path: str | Path) -> EngineConfig:
    """Load a YAML config by path, or by name from configs/ (``small`` -> configs/small.yaml)."""
    p = Path(path)
    if not p.exists() and not p.suffix:
        p = CONFIG_DIR / f"{path}.yaml"
    if not p.is_file():
        names = ", ".join(sorted(q.stem for q in CONFIG_DIR.glob("*.yaml")))
        raise ConfigError(f"config file {str(path)!r} does not exist; give a YAML path or one of: {names}")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config file {str(p)!r} is not valid YAML{where}") from None
    return config_from_dict(data, origin=p.stem)


def config_for_bits(bits: int, topology: tuple[int, ...] = (784, 500, 10), lanes: int | None = None,
                    dataset: str = "mnist5k", hidden: str = "hard_tanh", schedule: str = "event") -> EngineConfig:
    """A sensible full engine whose stored quantities (weights, activations, errors) have ``bits`` bits.

    Internal datapath registers get what they need: exact accumulators, pre-activations one bit
    wider than activations (so the derivative at the clip points is exact). Learning rates are
    the shifts tuned on MNIST 5k (hidden 2**-11, output 2**-7); updates round stochastically.
    The schedule is ``event`` (docs/engine.md §11) unless ``schedule="dense"``.
    """
    _int(bits, "--bits", 2, 24)
    n = bits
    in_bits = min(n, 8)
    hidden_layers = []
    for k in range(len(topology) - 2):
        act_fmt = f"s1.{n - 1}" if hidden == "hard_tanh" else f"u1.{n - 1}"
        hidden_layers.append({
            "weight": {"format": f"s0.{n}", "overflow": "sat"},
            "preact": {"format": f"s2.{n - 1}", "rounding": "rnd", "overflow": "sat"},
            "activation": {"kind": hidden, "format": act_fmt, "rounding": "trn", "overflow": "sat"},
            "update": {"rule": "shift", "shift": 11, "rounding": "stoch"},
        })
    out = {
        "weight": {"format": f"s1.{n - 1}", "overflow": "sat"},
        "preact": {"format": f"s2.{n - 1}", "rounding": "rnd", "overflow": "sat"},
        "activation": {"kind": "hard_sigmoid", "format": f"u1.{n - 1}", "rounding": "trn", "overflow": "sat"},
        "error": {"signal": "error", "format": f"s2.{max(n - 2, 0)}", "rounding": "rnd", "overflow": "sat"},
        "update": {"rule": "shift", "shift": 7, "rounding": "stoch"},
    }
    d = {
        "name": f"bits{bits}-{'-'.join(map(str, topology))}",
        "topology": list(topology),
        "dataset": dataset,
        "input": {"format": f"u0.{in_bits}", "rounding": "rnd", "overflow": "sat"},
        "layers": hidden_layers + [out],
        "stochastic_rng": {"lfsr_bits": 16, "seed": 0xACE1},
        "schedule": schedule,
    }
    cfg = config_from_dict(d, origin=f"--bits {bits}")
    return cfg if lanes is None else cfg.with_lanes(lanes)

