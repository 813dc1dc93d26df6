"""Sweep specs: a base engine, a grid of knob values and seeds, expanded into validated points.

A spec is read from YAML (``configs/sweeps/*.yaml``) or built from the command line; either way
:func:`expand` turns it into :class:`Point` objects and validates every one of them (config,
data set, topology) before a single run starts. Every problem is a :class:`SweepError` sentence.

YAML form::

    name: weight-bits-mnist5k
    base: {bits: 8, hidden: 100, dataset: mnist5k}   # or base: {config: configs/small.yaml}
    epochs: 20
    seeds: 3                                        # 0, 1, 2 (or a list)
    grid:
      weight_bits: [2, 3, 4, 5, 6, 8, 10, 12, 16]   # a list, or a range "2..16" / "2..16:2"
    float_baseline: true                            # the float twin per seed, plotted as a line
    profile: 0                                      # profile N samples per engine point: prof.* columns
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..config import EngineConfig, config_for_bits, config_from_dict, load_config
from ..formats import ConfigError
from .knobs import HIDDEN_ACTIVATIONS, KNOBS, RECIPE_KNOBS, SweepError, get_knob

__all__ = ["SweepSpec", "Point", "parse_values", "spec_from_dict", "read_spec_file", "load_spec", "expand", "float_view",
           "point_id", "SweepError"]

SPEC_KEYS = ("name", "base", "grid", "seeds", "epochs", "data_dir", "float_baseline", "fixed", "profile")
BASE_RECIPE_KEYS = ("bits", "hidden", "topology", "dataset", "lanes", "activation")
MAX_POINTS = 100_000


@dataclass(frozen=True)
class SweepSpec:
    """What to run: ``base`` (a recipe or ``{"config": path}``), ``grid`` (knob -> values), seeds."""

    name: str
    base: dict
    grid: tuple[tuple[str, tuple], ...]
    seeds: tuple[int, ...] = (0,)
    epochs: int | None = None
    data_dir: str | None = None
    float_baseline: bool = True
    fixed: bool = True
    profile: int = 0  # samples profiled after training (hwsim.profile), recorded as columns; 0: none

    def to_dict(self) -> dict:
        return {"name": self.name, "base": dict(self.base), "epochs": self.epochs, "seeds": list(self.seeds),
                "grid": {k: list(v) for k, v in self.grid}, "data_dir": self.data_dir,
                "float_baseline": self.float_baseline, "fixed": self.fixed, "profile": self.profile}

    @property
    def knobs(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.grid)


@dataclass(frozen=True)
class Point:
    """One training run: ``mode`` is ``fixed`` (the engine) or ``float`` (its float twin).

    ``knobs`` are the grid values that made it (float points carry none: they are shared by every
    fixed point whose :func:`float_view` is the same, found through ``float_key``).
    """

    id: str
    mode: str
    knobs: tuple[tuple[str, Any], ...]
    seed: int
    epochs: int
    dataset: str
    data_dir: str | None
    config: dict = field(repr=False, compare=False)
    digest: str = ""
    float_key: str = ""
    profile: int = field(default=0, compare=False)  # not part of the id: it adds columns, not results

    def task(self) -> dict:
        """What a worker needs (plain data: it crosses process and machine boundaries)."""
        return {"id": self.id, "mode": self.mode, "config": self.config, "seed": self.seed,
                "epochs": self.epochs, "dataset": self.dataset, "data_dir": self.data_dir,
                "profile": self.profile if self.mode == "fixed" else 0}

    def label(self) -> str:
        kn = ", ".join(f"{k}={v}" for k, v in self.knobs)
        return f"{self.mode} {kn + ', ' if kn else ''}seed={self.seed}"


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------

def _range(name: str, text: str) -> list[int] | None:
    """'2..8' / '2..16:2' (inclusive) -> ints; None when ``text`` is not a range."""
    body, _, step_text = text.partition(":")
    lo_text, sep, hi_text = body.partition("..")
    if not sep:
        return None
    try:
        lo, hi, step = int(lo_text), int(hi_text), int(step_text or 1)
    except ValueError:
        raise SweepError(f"knob {name} has a malformed range {text!r}; write it like 2..8 or 2..16:2") from None
    if step < 1:
        raise SweepError(f"knob {name} has range {text!r} with step {step}; the step must be at least 1")
    values = list(range(lo, hi + 1, step))
    if not values:
        raise SweepError(f"knob {name} has an empty range {text!r}; write it low..high like {hi}..{lo}")
    return values


def parse_values(name: str, raw: Any) -> tuple:
    """A knob's raw values -> parsed, deduplicated, in order.

    ``raw`` is a list, a range string ``lo..hi[:step]`` (inclusive), comma-separated text from the
    command line (each item read as YAML: ``4`` is an int, ``trn`` a string) or one scalar.
    """
    knob = get_knob(name)
    if isinstance(raw, str) and ".." in raw:
        items = _range(name, raw.strip())
    elif isinstance(raw, str):
        items = [yaml.safe_load(s) for s in raw.split(",") if s.strip()]
    elif isinstance(raw, (list, tuple)):
        items = list(raw)
    elif raw is None:
        items = []
    else:
        items = [raw]
    if not items:
        raise SweepError(f"knob {name} has an empty range; give at least one value")
    values = []
    for item in items:
        try:
            v = knob.parse(item)
        except SweepError as exc:
            raise SweepError(f"invalid value {item!r} for knob {name}: {exc}") from None
        if v not in values:
            values.append(v)
    return tuple(values)


def _seeds(raw: Any) -> tuple[int, ...]:
    if isinstance(raw, int) and not isinstance(raw, bool):
        if not 1 <= raw <= 10000:
            raise SweepError(f"seeds must be a count in 1..10000 or a list of seeds, not {raw}")
        return tuple(range(raw))
    return parse_values("seed", raw)


def spec_from_dict(d: Any, origin: str = "sweep spec", default_name: str | None = None) -> SweepSpec:
    """Validate the YAML form of a spec (the knobs and values; configs are checked by :func:`expand`)."""
    if not isinstance(d, dict):
        raise SweepError(f"{origin} must be a mapping with keys {', '.join(SPEC_KEYS)}")
    unknown = sorted(set(d) - set(SPEC_KEYS))
    if unknown:
        raise SweepError(f"unknown key {unknown[0]!r} in {origin}; allowed keys are {', '.join(SPEC_KEYS)}")
    base = d.get("base", {"bits": 8})
    if not isinstance(base, dict):
        raise SweepError(f"{origin} base must be a mapping like {{bits: 8, hidden: 100}} or {{config: FILE}}")
    base = dict(base)
    if "config" in base:
        if set(base) - {"config"}:
            raise SweepError(f"{origin} base with a config file takes no other keys; put "
                             f"{sorted(set(base) - {'config'})[0]} in the grid instead")
    else:
        bad = sorted(set(base) - set(BASE_RECIPE_KEYS))
        if bad:
            raise SweepError(f"unknown key {bad[0]!r} in {origin} base; allowed keys are config or "
                             f"{', '.join(BASE_RECIPE_KEYS)}")
        for key in set(base) - {"activation"}:
            try:
                base[key] = KNOBS[key].parse(base[key])
            except SweepError as exc:
                where = f"--{key}" if origin == "command line" else f"{key} in {origin} base"
                raise SweepError(f"invalid value {base[key]!r} for {where}: {exc}") from None
        act = base.get("activation", "hard_tanh")
        if act not in HIDDEN_ACTIVATIONS:
            raise SweepError(f"{origin} base activation must be one of {', '.join(HIDDEN_ACTIVATIONS)}, "
                             f"not {act!r}")
    grid_in = d.get("grid", {})
    if not isinstance(grid_in, dict):
        raise SweepError(f"{origin} grid must map knob names to value lists, like weight_bits: [2, 4, 8]")
    grid, seeds = [], d.get("seeds")
    for name, raw in grid_in.items():
        get_knob(name)
        if name == "seed":
            if seeds is not None:
                raise SweepError(f"{origin} gives seeds twice (grid seed and seeds); keep one")
            seeds = list(parse_values("seed", raw))
            continue
        grid.append((name, parse_values(name, raw)))
    recipe_in_grid = [n for n, _ in grid if n in RECIPE_KNOBS and n not in ("dataset", "lanes", "topology")]
    if "config" in base and recipe_in_grid:
        raise SweepError(f"knob {recipe_in_grid[0]} rebuilds the engine and needs a derived base like "
                         f"{{bits: 8, hidden: 100}}, not a config file")
    epochs = d.get("epochs")
    if epochs is not None:
        epochs = parse_values("epochs", epochs)[0]
    data_dir = d.get("data_dir")
    if data_dir is not None and not isinstance(data_dir, str):
        raise SweepError(f"{origin} data_dir must be a directory path, not {data_dir!r}")
    flags = {}
    for key, default in (("float_baseline", True), ("fixed", True)):
        flags[key] = d.get(key, default)
        if not isinstance(flags[key], bool):
            raise SweepError(f"{origin} {key} must be true or false, not {flags[key]!r}")
    if not flags["float_baseline"] and not flags["fixed"]:
        raise SweepError(f"{origin} runs nothing: fixed and float_baseline are both false")
    profile = d.get("profile", 0)
    if isinstance(profile, bool) or not isinstance(profile, int) or not 0 <= profile <= 1_000_000:
        raise SweepError(f"{origin} profile must be a sample count in 0..1000000 (0: no profiling), not {profile!r}")
    spec = SweepSpec("", base, tuple(grid), _seeds(seeds if seeds is not None else 1), epochs, data_dir,
                     flags["float_baseline"], flags["fixed"], profile)
    name = d.get("name", default_name)
    if name is None:
        name = "sweep-" + hashlib.sha256(json.dumps(spec.to_dict(), sort_keys=True).encode()).hexdigest()[:8]
    if not isinstance(name, str) or not name or "/" in name:
        raise SweepError(f"{origin} name must be a non-empty string without '/', not {name!r}")
    return dataclasses.replace(spec, name=name)


def read_spec_file(path: str | Path) -> tuple[dict, str, str]:
    """A spec file's dict (by path, or by name from configs/sweeps/), its origin text and its stem."""
    from ..config import CONFIG_DIR
    p = Path(path)
    if not p.exists() and not p.suffix:
        p = CONFIG_DIR / "sweeps" / f"{path}.yaml"
    if not p.is_file():
        names = ", ".join(sorted(q.stem for q in (CONFIG_DIR / "sweeps").glob("*.yaml")))
        raise SweepError(f"sweep spec {str(path)!r} does not exist; give a YAML path or one of: {names}")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise SweepError(f"sweep spec {str(p)!r} is not valid YAML"
                         f"{f' at line {mark.line + 1}' if mark else ''}") from None
    if not isinstance(data, dict):
        raise SweepError(f"sweep spec {str(p)!r} must be a mapping with keys {', '.join(SPEC_KEYS)}")
    return data, f"sweep spec {p.name}", p.stem


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a YAML spec by path, or by name from configs/sweeps/."""
    data, origin, stem = read_spec_file(path)
    return spec_from_dict(data, origin=origin, default_name=stem)


# ---------------------------------------------------------------------------------------------
# Expansion and validation
# ---------------------------------------------------------------------------------------------

def float_view(cfg: EngineConfig) -> dict:
    """The parts of a config that hwsim/float_baseline.py reads. Fixed points with equal views share
    one float run per seed (the float twin ignores every width, rounding and update rule)."""
    return {
        "topology": list(cfg.topology), "bias": cfg.bias, "dataset": cfg.dataset,
        "activations": [layer.activation.value for layer in cfg.layers],
        "shifts": [layer.update_shift for layer in cfg.layers],
        "error_signal": cfg.layers[-1].error_signal.value,
        "random_vectors": [cfg.random_source.value, cfg.random_lfsr_bits, list(cfg.random_seeds)],
        "init": [cfg.init.value, cfg.init_scale],
    }


def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def point_id(mode: str, digest: str, dataset: str, epochs: int, seed: int) -> str:
    """The file name of a point's result: a hash of what determines it."""
    return _hash([mode, digest, dataset, epochs, seed])


class _Datasets:
    """Each data set loaded once in the parent: shapes for derived bases, and early errors."""

    def __init__(self, data_dir):
        self.data_dir, self.cache = data_dir, {}

    def get(self, name: str):
        if name not in self.cache:
            from ..datasets import load_dataset
            builtin = name in ("mnist5k", "digits8x8")
            self.cache[name] = load_dataset(name, None if builtin else self.data_dir)
        return self.cache[name]


def _build(spec: SweepSpec, knobs: dict, epochs: int | None, datasets: _Datasets) -> EngineConfig:
    """The config of one grid point: the base (rebuilt by recipe knobs), then the dict knobs."""
    base = spec.base
    if "config" in base:
        d = copy.deepcopy(load_config(base["config"]).source)
        for name in ("dataset", "lanes"):
            if name in knobs:
                d[name] = knobs[name]
        if "topology" in knobs:
            d["topology"] = [int(s) for s in knobs["topology"].split("-")]
    else:
        recipe = {**base, **{k: v for k, v in knobs.items() if k in RECIPE_KNOBS}}
        dataset = recipe.get("dataset", "mnist5k")
        if "topology" in recipe:
            topology = tuple(int(s) for s in recipe["topology"].split("-"))
        else:
            data = datasets.get(dataset)
            hidden = tuple(int(s) for s in str(recipe.get("hidden", "500")).split("-"))
            topology = (data.n_inputs,) + hidden + (data.n_classes,)
        cfg = config_for_bits(recipe.get("bits", 8), topology, lanes=recipe.get("lanes"), dataset=dataset,
                              hidden=base.get("activation", "hard_tanh"))
        d = copy.deepcopy(cfg.source)  # the recipe's dict: accumulators unset, so derived for new widths
    for name, value in knobs.items():
        knob = get_knob(name)
        if knob.kind == "dict":
            knob.apply(d, value)
    if epochs is not None:
        d["epochs"] = epochs
    return config_from_dict(d, origin="config")


def _check(spec: SweepSpec, knobs: dict, epochs: int | None, datasets: _Datasets, what: str) -> EngineConfig:
    from ..datasets import DataError, check_topology
    try:
        cfg = _build(spec, knobs, epochs, datasets)
        check_topology(datasets.get(cfg.dataset), cfg.topology[0], cfg.n_classes)
        cfg.check_buildable()
    except (ConfigError, DataError) as exc:  # SweepError is a ConfigError
        raise SweepError(f"{what}: {exc}") from None
    return cfg


def expand(spec: SweepSpec) -> list[Point]:
    """Every point of the sweep, validated; float points (if any) first, then the grid in order."""
    names = [n for n, _ in spec.grid]
    n_combos = 1
    for _, values in spec.grid:
        n_combos *= len(values)
    if n_combos * len(spec.seeds) > MAX_POINTS:
        raise SweepError(f"the sweep has {n_combos * len(spec.seeds)} points; at most {MAX_POINTS} are allowed")
    datasets = _Datasets(spec.data_dir)
    base_cfg = _check(spec, {}, spec.epochs, datasets, "the base config")
    default_epochs = base_cfg.epochs
    # each value alone first, so a bad value is named as such rather than as a bad combination
    for name, values in spec.grid:
        for v in values:
            knobs = {name: v}
            _check(spec, knobs, knobs.get("epochs", default_epochs), datasets,
                   f"invalid value {v!r} for knob {name}")
    fixed, floats = [], {}
    for combo in itertools.product(*[values for _, values in spec.grid]):
        knobs = dict(zip(names, combo))
        epochs = knobs.get("epochs", default_epochs)
        what = "invalid combination " + ", ".join(f"{k}={v}" for k, v in knobs.items())
        cfg = _check(spec, knobs, epochs, datasets, what)
        config, digest, fkey = cfg.to_dict(), cfg.digest(), _hash(float_view(cfg))
        for seed in spec.seeds:
            if spec.fixed:
                fixed.append(Point(point_id("fixed", digest, cfg.dataset, epochs, seed), "fixed",
                                   tuple(knobs.items()), seed, epochs, cfg.dataset, spec.data_dir,
                                   config, digest, fkey, spec.profile))
            if spec.float_baseline:
                fid = point_id("float", fkey, cfg.dataset, epochs, seed)
                if fid not in floats:  # float points are shared; they carry knobs only when alone
                    floats[fid] = Point(fid, "float", () if spec.fixed else tuple(knobs.items()), seed,
                                        epochs, cfg.dataset, spec.data_dir, config, digest, fkey)
    return list(floats.values()) + fixed
