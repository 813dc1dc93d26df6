"""What a finished sweep says: every point as CSV/JSON, a mean ± std table over seeds, PNG plots.

Files written to ``OUT/``: ``results.csv`` and ``results.json`` (one row per point: knobs, seed,
accuracy per epoch, wall and CPU time, hardware cost when an estimator is installed),
``summary.csv`` and ``summary.md`` (mean ± sample std over seeds per knob combination, float
baselines included), ``plots/acc_vs_<knob>.png`` (final test accuracy vs the knob, error bars,
the float baseline as a horizontal line) and, with costs, ``plots/pareto_<metric>.png``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..fileio import save_figure_atomic, write_atomic, write_json_atomic
from .cost import hardware_cost
from .spec import Point, SweepSpec

__all__ = ["point_rows", "summarize", "Group", "format_table", "write_reports", "plot_knob"]


def point_rows(points: list[Point], records: dict[str, dict]) -> list[dict]:
    """One flat row per finished point, in spec order (float baselines first)."""
    from ..config import config_from_dict

    rows = []
    for p in points:
        rec = records.get(p.id)
        if rec is None:
            continue
        res = rec["result"]
        row = {"id": p.id, "mode": p.mode, **dict(p.knobs), "seed": p.seed, "dataset": p.dataset,
               "epochs": p.epochs, "config_name": res.get("config"), "config_digest": p.digest,
               "float_key": p.float_key, "final_test_acc": res["final_test_acc"],
               "final_train_acc": res["train_acc"][-1] if res["train_acc"] else float("nan"),
               "best_test_acc": max(res["test_acc"]) if res["test_acc"] else float("nan"),
               "test_acc": res["test_acc"], "train_acc": res["train_acc"], "online_acc": res["online_acc"],
               "wall_seconds": res["wall_seconds"], "cpu_seconds": rec.get("cpu_seconds"),
               "samples_per_s": res["samples_per_s"], "host": rec.get("host")}
        row.update(rec.get("profile") or {})  # hwsim.profile columns, when the spec asks for them
        if p.mode == "fixed":
            cost = hardware_cost(config_from_dict(p.config))
            for metric, value in (cost or {}).items():
                row[f"cost_{metric}"] = value
        rows.append(row)
    return rows


@dataclass
class Group:
    """The points of one knob combination (or one float baseline) over seeds."""

    mode: str
    knobs: dict
    float_key: str
    n: int
    test_mean: float
    test_std: float
    train_mean: float
    train_std: float
    wall_mean: float
    costs: dict
    label: str = ""
    shared: dict = field(default_factory=dict)  # float baselines: the knob values their fixed points share


def _stats(values) -> tuple[float, float]:
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0


def summarize(spec: SweepSpec, rows: list[dict]) -> list[Group]:
    """Mean ± sample std (ddof=1) over seeds: fixed points per knob combination, float per baseline."""
    knobs = list(spec.knobs)
    by_key: dict[tuple, list[dict]] = {}
    for r in rows:
        key = (r["mode"], r["float_key"]) if r["mode"] == "float" and spec.fixed else \
            (r["mode"],) + tuple(r.get(k) for k in knobs)
        by_key.setdefault(key, []).append(r)
    groups = []
    for key, rs in by_key.items():
        mode = key[0]
        kn = {} if mode == "float" and spec.fixed else {k: rs[0].get(k) for k in knobs}
        tm, ts = _stats([r["final_test_acc"] for r in rs])
        rm, rsd = _stats([r["final_train_acc"] for r in rs])
        costs = {k[5:]: rs[0][k] for k in rs[0] if k.startswith("cost_")}
        groups.append(Group(mode, kn, rs[0]["float_key"], len(rs), tm, ts, rm, rsd,
                            float(np.mean([r["wall_seconds"] for r in rs])), costs))
    fixed_rows = [r for r in rows if r["mode"] == "fixed"]
    for g in groups:
        if g.mode == "float" and spec.fixed:
            g.shared = _common_knobs(knobs, [r for r in fixed_rows if r["float_key"] == g.float_key])
            g.label = "float DRTP" + (f" ({', '.join(f'{k}={v}' for k, v in g.shared.items())})"
                                      if g.shared and len(g.shared) < len(knobs) else "")
        else:
            g.label = ", ".join(f"{k}={v}" for k, v in g.knobs.items()) or g.mode
    return groups


def _common_knobs(knobs, rows) -> dict:
    """The knob values that all fixed points sharing one float baseline agree on."""
    if not rows:
        return {}
    return {k: rows[0].get(k) for k in knobs if len({repr(r.get(k)) for r in rows}) == 1}


def _pct(mean: float, std: float) -> str:
    return f"{100 * mean:.2f} ± {100 * std:.2f}"


def format_table(spec: SweepSpec, groups: list[Group]) -> str:
    """A Markdown table: one row per combination, float baselines first."""
    knobs = list(spec.knobs)
    cost_names = sorted({c for g in groups for c in g.costs})
    head = ["run", *knobs, "seeds", "test acc % (mean ± std)", "train acc % (mean ± std)", "wall s/run", *cost_names]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in sorted(groups, key=lambda g: g.mode != "float"):
        run = "float DRTP" if g.mode == "float" else "engine"
        values = g.shared if g.mode == "float" and spec.fixed else g.knobs
        cells = [run] + [str(values[k]) if k in values else "any" for k in knobs]
        cells += [str(g.n), _pct(g.test_mean, g.test_std), _pct(g.train_mean, g.train_std), f"{g.wall_mean:.1f}"]
        cells += [f"{g.costs[c]:.4g}" if c in g.costs else "" for c in cost_names]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _csv(rows: list[dict], first=()) -> bytes:
    cols: list[str] = list(first)
    for r in rows:
        cols += [k for k in r if k not in cols]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in r.items()})
    return buf.getvalue().encode()


# ---------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------

def _numeric(values) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name.replace("*", "all"))


def plot_knob(spec: SweepSpec, groups: list[Group], knob: str, path: Path, title: str) -> None:
    """Final test accuracy vs ``knob``: one line per combination of the other knobs, float as a line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = list(dict(spec.grid)[knob])
    numeric = _numeric(values)
    xpos = {v: (v if numeric else i) for i, v in enumerate(values)}
    others = [k for k in spec.knobs if k != knob]
    main_mode = "fixed" if spec.fixed else "float"
    floats = {g.float_key: g for g in groups if g.mode == "float" and spec.fixed}
    lines: dict[tuple, list[Group]] = {}  # one line per combination of the other knobs
    for g in groups:
        if g.mode == main_mode:
            lines.setdefault(tuple(g.knobs.get(k) for k in others), []).append(g)
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=120)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    baselines = {}  # the float baselines of each line, in x order; lines may share them
    for combo, gs in lines.items():
        gs.sort(key=lambda g: values.index(g.knobs[knob]))
        baselines[combo] = tuple(floats[g.float_key] for g in gs if g.float_key in floats)
    users: dict[tuple, list] = {}
    for combo, fgs in baselines.items():
        users.setdefault(tuple(f.float_key for f in fgs), []).append(combo)
    drawn = set()
    for i, (combo, gs) in enumerate(lines.items()):
        color = colors[i % len(colors)]
        label = ", ".join(f"{k}={v}" for k, v in zip(others, combo)) or ("fixed-point engine" if spec.fixed else "float DRTP")
        xs = [xpos[g.knobs[knob]] for g in gs]
        ax.errorbar(xs, [100 * g.test_mean for g in gs], yerr=[100 * g.test_std for g in gs], marker="o",
                    ms=4, capsize=3, color=color, label=f"{label} (n={gs[0].n})")
        fgs = baselines[combo]
        seq = tuple(f.float_key for f in fgs)
        if not fgs or seq in drawn:
            continue
        drawn.add(seq)
        shared = len(users[seq]) > 1 or len(lines) == 1  # one baseline for several lines: black
        fcolor = "black" if shared else color
        if len(set(seq)) == 1:
            f = fgs[0]
            ax.axhline(100 * f.test_mean, color=fcolor, ls="--", lw=1.2,
                       label=f"{f.label} {_pct(f.test_mean, f.test_std)} % (n={f.n})")
            ax.axhspan(100 * (f.test_mean - f.test_std), 100 * (f.test_mean + f.test_std), color=fcolor,
                       alpha=0.08, lw=0)
        else:  # the float twin changes with this knob too (a learning-rate shift, a topology)
            ax.errorbar(xs, [100 * f.test_mean for f in fgs], yerr=[100 * f.test_std for f in fgs], ls="--",
                        marker="s", ms=3, capsize=3, color=fcolor, alpha=0.8,
                        label="float DRTP" + ("" if shared else f", {label}"))
    ax.set_xlabel(knob)
    ax.set_ylabel("final test accuracy (%)")
    if numeric:
        ax.set_xticks(values)
        ax.set_xticklabels([str(v) for v in values])
    else:
        ax.set_xticks(range(len(values)))
        ax.set_xticklabels([str(v) for v in values])
    ax.grid(True, alpha=0.3)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    save_figure_atomic(fig, path)
    plt.close(fig)


def _pareto(points: list[tuple[float, float]]) -> list[int]:
    """Indices of points no other point beats on both (lower cost, higher accuracy)."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], -math.inf
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def plot_pareto(groups: list[Group], metric: str, path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gs = [g for g in groups if g.mode == "fixed" and metric in g.costs]
    pts = [(g.costs[metric], 100 * g.test_mean) for g in gs]
    front = _pareto(pts)
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=120)
    ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[100 * g.test_std for g in gs], fmt="o",
                ms=4, capsize=3, color="tab:gray", label="points")
    fp = sorted((pts[i], gs[i].label) for i in front)
    ax.plot([p[0] for p, _ in fp], [p[1] for p, _ in fp], "-o", color="tab:red", ms=5, label="Pareto front")
    for (x, y), label in fp:
        ax.annotate(label, (x, y), fontsize=7, xytext=(4, -10), textcoords="offset points")
    ax.set_xlabel(metric)
    ax.set_ylabel("final test accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    save_figure_atomic(fig, path)
    plt.close(fig)


def write_reports(spec: SweepSpec, points: list[Point], records: dict[str, dict], out: Path,
                  plots: bool = True) -> tuple[list[Group], str, list[Path]]:
    """Write every report file to ``out``; returns the groups, the Markdown table and the plots written."""
    out = Path(out)
    rows = point_rows(points, records)
    groups = summarize(spec, rows)
    table = format_table(spec, groups)
    write_json_atomic(out / "results.json", {"spec": spec.to_dict(), "points": [
        records[p.id] for p in points if p.id in records]})
    write_atomic(out / "results.csv", _csv(rows, ["id", "mode", *spec.knobs, "seed"]))
    summary_rows = [{"label": g.label, "mode": g.mode, **g.knobs, "seeds": g.n, "test_acc_mean": g.test_mean,
                     "test_acc_std": g.test_std, "train_acc_mean": g.train_mean, "train_acc_std": g.train_std,
                     "wall_seconds_mean": g.wall_mean, **{f"cost_{k}": v for k, v in g.costs.items()}}
                    for g in groups]
    write_atomic(out / "summary.csv", _csv(summary_rows, ["label", "mode", *spec.knobs]))
    write_atomic(out / "summary.md", table)
    written: list[Path] = []
    if plots and rows:
        title = _title(spec, points, records)
        for knob, values in spec.grid:
            if len(values) > 1:
                written.append(out / "plots" / f"acc_vs_{_safe(knob)}.png")
                plot_knob(spec, groups, knob, written[-1], title)
        for metric in sorted({c for g in groups for c in g.costs}):
            written.append(out / "plots" / f"pareto_{_safe(metric)}.png")
            plot_pareto(groups, metric, written[-1], title)
    return groups, table, written


def _title(spec: SweepSpec, points: list[Point], records: dict) -> str:
    """'name: 784-100-10 on mnist5k, 20 epochs, 3 seeds' (each part only when the sweep holds it fixed)."""
    done = [p for p in points if p.id in records]
    parts = []
    for what, fmt in (("topology", lambda p: "-".join(map(str, p.config["topology"]))),
                      ("dataset", lambda p: f"on {p.dataset}"), ("epochs", lambda p: f"{p.epochs} epochs")):
        seen = {fmt(p) for p in done}
        if len(seen) == 1:
            parts.append(seen.pop())
    return f"{spec.name}: {' '.join(parts[:2])}{', ' if len(parts) > 2 else ''}{''.join(parts[2:])}, " \
           f"{len(spec.seeds)} seed{'s' if len(spec.seeds) > 1 else ''}"
