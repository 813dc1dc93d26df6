"""The knobs a sweep may turn: named conveniences and dotted paths into the config dict.

A knob value is applied to the *dict form* of an engine config (what :func:`hwsim.config.config_from_dict`
reads); validating the result is :mod:`hwsim.sweep.spec`'s job, so every invalid value is caught
before any training starts. Two kinds of knobs:

* **recipe** knobs (``bits``, ``hidden``, ``topology``, ``dataset``, ``lanes``) choose how the base
  config is built (``config_for_bits``) or which data set feeds it;
* **dict** knobs edit the built dict: widths of one kind of quantity (the integer bits stay, the
  fraction bits follow), update rule/rounding/shifts, the error signal, the init scale, or any
  dotted path such as ``layers.*.update.shift`` or ``layers.0.weight.format`` (``*`` = every entry).

``seed`` and ``epochs`` are run knobs: they do not touch the config's arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..config import MAX_LANES, MAX_NEURONS, Activation, ErrorSignal, UpdateRule
from ..datasets import DATASETS
from ..formats import ConfigError, Rounding, parse_format

__all__ = ["SweepError", "Knob", "KNOBS", "RECIPE_KNOBS", "RUN_KNOBS", "get_knob", "is_path_knob",
           "apply_path", "knob_names"]


class SweepError(ConfigError):
    """A sweep spec the kit cannot run. The message is one sentence for the user."""


@dataclass(frozen=True)
class Knob:
    """One named knob.

    Parameters
    ----------
    name : str
        What the spec calls it (``weight_bits``).
    doc : str
        One line for ``--list-knobs``.
    kind : str
        ``recipe`` (how the base is built), ``dict`` (edits the config dict) or ``run``.
    parse : callable
        Raw value (YAML scalar or CLI text) -> normalized value; raises :class:`SweepError` with
    the reason only ("it takes integers in 2..32"): the caller names the knob and the value.
    apply : callable or None
        ``apply(d, value)`` edits config dict ``d`` in place (dict knobs only).
    numeric : bool
        Whether plots may put the values on a numeric axis.
    """

    name: str
    doc: str
    kind: str
    parse: Callable[[Any], Any]
    apply: Callable[[dict, Any], None] | None = None
    numeric: bool = False


# ---------------------------------------------------------------------------------------------
# Value parsers
# ---------------------------------------------------------------------------------------------

def _int_parser(name: str, lo: int, hi: int):
    def parse(v):
        if isinstance(v, str) and v.strip().lstrip("-").isdigit():
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise SweepError(f"it takes integers in {lo}..{hi}")
        return v
    return parse


def _float_parser(name: str, lo: float, hi: float):
    def parse(v):
        if isinstance(v, str):
            try:
                v = float(v)
            except ValueError:
                pass
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo < v <= hi:
            raise SweepError(f"it takes numbers in ({lo:g}, {hi:g}]")
        return float(v)
    return parse


def _enum_parser(name: str, enum_cls):
    allowed = [m.value for m in enum_cls]

    def parse(v):
        if v not in allowed:
            raise SweepError(f"it takes one of {', '.join(allowed)}")
        return v
    return parse


def _sizes_parser(name: str, min_len: int, example: str):
    """'100' / '500-500' / 100 / [784, 100, 10] -> a dash-joined string (hashable, prints well)."""
    def parse(v):
        if isinstance(v, bool):
            sizes = None
        elif isinstance(v, int):
            sizes = [v]
        elif isinstance(v, (list, tuple)):
            sizes = list(v)
        elif isinstance(v, str):
            try:
                sizes = [int(s) for s in v.replace(",", "-").split("-")]
            except ValueError:
                sizes = None
        else:
            sizes = None
        if (sizes is None or len(sizes) < min_len
                or not all(isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= MAX_NEURONS
                           for s in sizes)):
            raise SweepError(f"it takes layer sizes like {example}")
        return "-".join(str(s) for s in sizes)
    return parse


def _dataset_parse(v):
    if v not in DATASETS:
        raise SweepError(f"it takes one of {', '.join(DATASETS)}")
    return v


# ---------------------------------------------------------------------------------------------
# Dict editors
# ---------------------------------------------------------------------------------------------

def _resize(entry: dict, bits: int, where: str) -> int:
    """Give format ``entry['format']`` a width of ``bits``, keeping its integer bits; returns its new frac."""
    fmt = parse_format(entry["format"], field=where)
    frac = bits - fmt.int_bits
    entry["format"] = f"{'s' if fmt.signed else 'u'}{fmt.int_bits}.{frac}"
    return frac


def _layers(d: dict, which: str) -> list[dict]:
    layers = d["layers"]
    if which == "hidden":
        return layers[:-1]
    if which == "output":
        return layers[-1:]
    return layers


def _set_weight_bits(which: str):
    def apply(d, bits):
        for layer in _layers(d, which):
            _resize(layer["weight"], bits, "weight.format")
    return apply


def _set_act_bits(d, bits):
    # the pre-activation keeps its integer bits and takes the activation's fraction bits, as
    # config_for_bits does (one bit wider than the activation: exact derivative at the clip points)
    for layer in d["layers"]:
        frac = _resize(layer["activation"], bits, "activation.format")
        pre = parse_format(layer["preact"]["format"], field="preact.format")
        layer["preact"]["format"] = f"s{pre.int_bits}.{frac}"


def _set_error_bits(d, bits):
    _resize(d["layers"][-1]["error"], bits, "error.format")


def _set_input_bits(d, bits):
    _resize(d["input"], bits, "input.format")


def _set_update(key: str, which: str = "all"):
    def apply(d, value):
        for layer in _layers(d, which):
            layer["update"][key] = value
    return apply


def _set_error_signal(d, value):
    d["layers"][-1]["error"]["signal"] = value


def _set_init_scale(d, value):
    d.setdefault("init", {})["scale"] = value


def is_path_knob(name: str) -> bool:
    return isinstance(name, str) and "." in name


def apply_path(d: dict, path: str, value: Any) -> None:
    """Set ``value`` at dotted ``path`` (``layers.*.update.shift``); ``*`` walks every list entry."""
    parts = path.split(".")
    nodes = [d]
    for depth, part in enumerate(parts[:-1]):
        nxt = []
        for node in nodes:
            here = ".".join(parts[:depth + 1])
            if isinstance(node, list):
                if part == "*":
                    nxt.extend(node)
                elif part.isdigit() and int(part) < len(node):
                    nxt.append(node[int(part)])
                else:
                    raise SweepError(f"the config has no {here} (it lists {len(node)} entries; "
                                     f"use 0..{len(node) - 1} or *)")
            elif isinstance(node, dict):
                if part not in node:
                    node[part] = {}  # optional sections (accumulator, init ...) may be absent
                nxt.append(node[part])
            else:
                raise SweepError(f"{here} in the config is a value, not a section")
        nodes = nxt
    for node in nodes:
        if not isinstance(node, dict):
            raise SweepError(f"{'.'.join(parts[:-1])} in the config is not a section")
        node[parts[-1]] = value


# ---------------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------------

_WIDTH = (2, 32)

KNOBS: dict[str, Knob] = {k.name: k for k in [
    # recipe
    Knob("bits", "every stored quantity has N bits (rebuilds the engine with config_for_bits)", "recipe",
         _int_parser("bits", 2, 24), numeric=True),
    Knob("hidden", "hidden layer sizes, e.g. 100 or 500-500 (derived base only)", "recipe",
         _sizes_parser("hidden", 1, "100 or 500-500")),
    Knob("topology", "whole topology, e.g. 784-100-10", "recipe",
         _sizes_parser("topology", 2, "784-100-10")),
    Knob("dataset", "data set name", "recipe", _dataset_parse),
    Knob("lanes", "parallel MAC lanes P (changes the random-word layout)", "recipe",
         _int_parser("lanes", 1, MAX_LANES), numeric=True),
    # run
    Knob("seed", "weight init and shuffling seed (same as `seeds`)", "run", _int_parser("seed", 0, 2**32 - 1),
         numeric=True),
    Knob("epochs", "training epochs", "run", _int_parser("epochs", 1, 10000), numeric=True),
    # dict: widths (the integer bits of each format stay; the fraction bits follow)
    Knob("weight_bits", "width of every layer's weights", "dict", _int_parser("weight_bits", *_WIDTH),
         _set_weight_bits("all"), numeric=True),
    Knob("hidden_weight_bits", "width of the hidden layers' weights", "dict",
         _int_parser("hidden_weight_bits", *_WIDTH), _set_weight_bits("hidden"), numeric=True),
    Knob("output_weight_bits", "width of the output layer's weights", "dict",
         _int_parser("output_weight_bits", *_WIDTH), _set_weight_bits("output"), numeric=True),
    Knob("act_bits", "width of every activation (pre-activations take the same fraction bits)", "dict",
         _int_parser("act_bits", *_WIDTH), _set_act_bits, numeric=True),
    Knob("error_bits", "width of the output error", "dict", _int_parser("error_bits", *_WIDTH),
         _set_error_bits, numeric=True),
    Knob("input_bits", "width of the input pixels", "dict", _int_parser("input_bits", 1, 16),
         _set_input_bits, numeric=True),
    # dict: learning rule
    Knob("update_rounding", "rounding of every weight update", "dict",
         _enum_parser("update_rounding", Rounding), _set_update("rounding")),
    Knob("update_rule", "update rule of every layer", "dict", _enum_parser("update_rule", UpdateRule),
         _set_update("rule")),
    Knob("hidden_shift", "learning-rate shift of the hidden layers (eta = 2**-shift)", "dict",
         _int_parser("hidden_shift", 0, 40), _set_update("shift", "hidden"), numeric=True),
    Knob("output_shift", "learning-rate shift of the output layer", "dict",
         _int_parser("output_shift", 0, 40), _set_update("shift", "output"), numeric=True),
    Knob("error_signal", "what the output layer learns from", "dict", _enum_parser("error_signal", ErrorSignal),
         _set_error_signal),
    Knob("init_scale", "initial weights U(+-scale/sqrt(fan_in))", "dict", _float_parser("init_scale", 0, 16),
         _set_init_scale, numeric=True),
]}

RECIPE_KNOBS = tuple(n for n, k in KNOBS.items() if k.kind == "recipe")
RUN_KNOBS = tuple(n for n, k in KNOBS.items() if k.kind == "run")
HIDDEN_ACTIVATIONS = tuple(a.value for a in Activation if a is not Activation.HARD_SIGMOID)


def _path_knob(name: str) -> Knob:
    return Knob(name, "a dotted path into the config dict", "dict", lambda v: v,
                lambda d, v, _p=name: apply_path(d, _p, v), numeric=True)


def get_knob(name: Any) -> Knob:
    """The knob called ``name``; any dotted name is a path knob."""
    if isinstance(name, str) and name in KNOBS:
        return KNOBS[name]
    if is_path_knob(name):
        if any(part == "" for part in name.split(".")):
            raise SweepError(f"knob {name!r} is not a dotted path like layers.*.update.shift")
        return _path_knob(name)
    raise SweepError(f"unknown knob {name!r}; knobs are {knob_names()}, "
                     f"or a dotted path into the config such as layers.*.update.shift")


def knob_names() -> str:
    return ", ".join(KNOBS)
