"""Reports of a finished grid: the paper's table, CSV/JSON files and PNG figures.

Table form of the paper: per task, topology and algorithm, the test error (regression: test
loss) of each trial averaged over its last 10 epochs, then mean +- sample std over trials.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..fileio import save_figure_atomic, write_atomic, write_json_atomic
from .algorithms import ALGORITHMS

__all__ = ["summarize", "format_table", "format_angles", "format_claims", "write_outputs", "plot_curves",
           "plot_angles", "LAST"]

LAST = 10
_LABEL = {"bp": "BP", "fa": "FA", "dfa": "DFA", "sdfa": "sDFA", "drtp": "DRTP", "shallow": "shallow"}


def _natural(topology: str) -> tuple:
    """Sort key: 784-500-10 before 784-1000-10."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in topology.split("-"))


def _metric(record: dict) -> str:
    return "test_loss" if record["spec"]["task"] == "regression" else "test_err"


def _tail_mean(record: dict, field: str, last: int = LAST) -> float:
    vals = [e[field] for e in record["epochs"][-last:]]
    return float(np.mean(vals)) if vals else float("nan")


def _mean_std(values) -> tuple[float, float]:
    a = np.asarray(values, dtype=np.float64)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def _final_angles(record: dict, last: int = LAST) -> dict:
    """{layer: (signal, update)} averaged over the last epochs (None where undefined)."""
    out = {}
    for e in record["epochs"][-last:]:
        for k, (s, u) in e.get("angles", {}).items():
            out.setdefault(k, ([], []))
            if s is not None:
                out[k][0].append(s)
            if u is not None:
                out[k][1].append(u)
    return {k: (float(np.mean(s)) if s else None, float(np.mean(u)) if u else None) for k, (s, u) in out.items()}


def summarize(records: list[dict]) -> list[dict]:
    """One row per (task, topology, algorithm): tail-averaged metrics, mean and std over trials."""
    groups = defaultdict(list)
    for r in records:
        s = r["spec"]
        groups[(s["task"], s["topology"], s["algorithm"])].append(r)
    rows = []
    order = {a: i for i, a in enumerate(ALGORITHMS)}
    for (task, topo, alg), recs in sorted(groups.items(), key=lambda kv: (kv[0][0], _natural(kv[0][1]),
                                                                          order[kv[0][2]])):
        metric = _metric(recs[0])
        train_field = "train_loss" if metric == "test_loss" else "train_err"
        test = _mean_std([_tail_mean(r, metric) for r in recs])
        train = _mean_std([_tail_mean(r, train_field) for r in recs])
        row = {"task": task, "topology": topo, "algorithm": alg, "metric": metric, "trials": len(recs),
               "epochs": len(recs[0]["epochs"]), "lr": recs[0]["spec"]["lr"], "init": recs[0]["spec"]["init"],
               "test_mean": test[0], "test_std": test[1], "train_mean": train[0], "train_std": train[1],
               "s_per_epoch": float(np.mean([np.mean([e["seconds"] for e in r["epochs"]]) for r in recs]))}
        angles = defaultdict(lambda: ([], []))
        for r in recs:
            for k, (sa, ua) in _final_angles(r).items():
                if sa is not None:
                    angles[k][0].append(sa)
                if ua is not None:
                    angles[k][1].append(ua)
        for k, (sa, ua) in sorted(angles.items()):
            row[f"angle_signal_l{k}"] = float(np.mean(sa)) if sa else None
            row[f"angle_update_l{k}"] = float(np.mean(ua)) if ua else None
        rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    """Text table: algorithms down, task/topology across; cells 'mean +- std' (test error % or loss)."""
    cols = list(dict.fromkeys((r["task"], r["topology"]) for r in rows))
    algs = [a for a in ALGORITHMS if any(r["algorithm"] == a for r in rows)]
    cell = {(r["task"], r["topology"], r["algorithm"]): r for r in rows}
    heads = [f"{t} {p}" for t, p in cols]
    width = max([16] + [len(h) for h in heads])
    lines = []
    kinds = {r["metric"] for r in rows}
    what = " / ".join(sorted({"test_err": "test error %", "test_loss": "test loss"}[k] for k in kinds))
    trials = sorted({r["trials"] for r in rows})
    lines.append(f"{what}, mean of the last {LAST} epochs, mean +- std over {'/'.join(map(str, trials))} trial(s)")
    lines.append(f"{'':10}" + "".join(f"{h:>{width + 2}}" for h in heads))
    for a in algs:
        parts = []
        for c in cols:
            r = cell.get(c + (a,))
            if r is None:
                parts.append(f"{'-':>{width + 2}}")
            elif r["metric"] == "test_loss":
                parts.append(f"{r['test_mean']:.4f} +- {r['test_std']:.4f}".rjust(width + 2))
            else:
                parts.append(f"{r['test_mean']:.2f} +- {r['test_std']:.2f}".rjust(width + 2))
        lines.append(f"{_LABEL[a]:10}" + "".join(parts))
    return "\n".join(lines)


def format_angles(rows: list[dict]) -> str:
    """Hidden-layer angles to BP (signal / update, degrees), mean of the last epochs."""
    lines = ["angles to BP in degrees (signal / weight update), mean of the last "
             f"{LAST} epochs; < 90 = descent direction"]
    for r in rows:
        keys = sorted(k for k in r if k.startswith("angle_signal_l"))
        if not keys or r["algorithm"] in ("bp",):
            continue
        parts = []
        for k in keys:
            layer = k.rsplit("_l", 1)[1]
            s, u = r[k], r.get(f"angle_update_l{layer}")
            parts.append(f"layer {int(layer) + 1}: " + (f"{s:5.1f} / {u:5.1f}" if s is not None and u is not None else "n/a"))
        lines.append(f"  {r['task']:15} {r['topology']:18} {_LABEL[r['algorithm']]:8} " + "   ".join(parts))
    return "\n".join(lines)


def format_claims(rows: list[dict]) -> str:
    """The paper's checkable claims per task and topology, answered from the table."""
    lines = ["the paper's claims (test metric as in the table; angles of every hidden layer):"]
    cell = {(r["task"], r["topology"], r["algorithm"]): r for r in rows}
    for task, topo in dict.fromkeys((r["task"], r["topology"]) for r in rows):
        get = lambda a: cell.get((task, topo, a))  # noqa: E731
        parts = []
        for a in ("drtp", "dfa"):
            r = get(a)
            if r is None:
                continue
            sig = [v for k, v in r.items() if k.startswith("angle_signal_l") and v is not None]
            if sig:
                parts.append(f"{_LABEL[a]} signal within 90 deg of BP: {'yes' if max(sig) < 90 else 'NO'} "
                             f"(max {max(sig):.1f})")
        d = get("drtp")
        for other in ("sdfa", "shallow"):
            o = get(other)
            if d is not None and o is not None:
                better = d["test_mean"] < o["test_mean"]
                parts.append(f"DRTP better than {_LABEL[other]}: {'yes' if better else 'NO'} "
                             f"({d['test_mean']:.4g} vs {o['test_mean']:.4g})")
        if parts:
            lines.append(f"  {task} {topo}: " + "; ".join(parts))
    return "\n".join(lines)


def _curves(records: list[dict]) -> dict:
    groups = defaultdict(list)
    for r in records:
        s = r["spec"]
        groups[(s["task"], s["topology"])].append(r)
    return groups


def plot_curves(records: list[dict], out: Path) -> list[Path]:
    """Per task and topology: train/test loss (and error, for classification) per epoch, one line per rule."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    paths = []
    for (task, topo), recs in _curves(records).items():
        rows = [("train_loss", "test_loss")]
        if _metric(recs[0]) == "test_err":
            rows.insert(0, ("train_err", "test_err"))
        fig, axes = plt.subplots(len(rows), 2, figsize=(11, 3.8 * len(rows)), squeeze=False)
        for alg in ALGORITHMS:
            rs = [r for r in recs if r["spec"]["algorithm"] == alg]
            if not rs:
                continue
            n = min(len(r["epochs"]) for r in rs)
            for ax_row, fields in zip(axes, rows):
                for ax, f in zip(ax_row, fields):
                    y = np.mean([[e[f] for e in r["epochs"][:n]] for r in rs], axis=0)
                    ax.plot(np.arange(1, n + 1), y, label=_LABEL[alg])
        for ax_row, fields in zip(axes, rows):
            for ax, f in zip(ax_row, fields):
                ax.set_xlabel("epoch")
                ax.set_ylabel(f.replace("_err", " error (%)").replace("_loss", " loss").replace("_", " "))
                ax.set_yscale("log")
                ax.grid(True, which="both", alpha=0.3)
        axes[0][1].legend()
        fig.suptitle(f"{task} {topo} (mean over trials)")
        fig.tight_layout()
        p = Path(out) / f"curves_{task}_{topo}.png"
        save_figure_atomic(fig, p, dpi=110)
        plt.close(fig)
        paths.append(p)
    return paths


def plot_angles(records: list[dict], out: Path) -> list[Path]:
    """Per task and topology: signal and update angles to BP per hidden layer and epoch."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    paths = []
    for (task, topo), recs in _curves(records).items():
        layers = sorted({k for r in recs for e in r["epochs"] for k in e.get("angles", {})}, key=int)
        if not layers:
            continue
        fig, axes = plt.subplots(2, len(layers), figsize=(5.5 * len(layers), 7), squeeze=False)
        for col, k in enumerate(layers):
            for row, (idx, what) in enumerate(((0, "modulatory signal"), (1, "weight update"))):
                ax = axes[row][col]
                for alg in ALGORITHMS:
                    rs = [r for r in recs if r["spec"]["algorithm"] == alg]
                    if not rs or alg == "bp":
                        continue
                    n = min(len(r["epochs"]) for r in rs)
                    ys = []
                    for r in rs:
                        ys.append([np.nan if e.get("angles", {}).get(k) is None or e["angles"][k][idx] is None
                                   else e["angles"][k][idx] for e in r["epochs"][:n]])
                    y = np.nanmean(np.array(ys, dtype=float), axis=0) if not np.all(np.isnan(ys)) else None
                    if y is not None:
                        ax.plot(np.arange(1, n + 1), y, label=_LABEL[alg])
                ax.axhline(90, color="k", lw=0.8, ls="--")
                ax.set_ylim(0, 120)
                ax.set_xlabel("epoch")
                ax.set_ylabel("angle to BP (deg)")
                ax.set_title(f"hidden layer {int(k) + 1}: {what}")
                ax.grid(True, alpha=0.3)
        axes[0][-1].legend()
        fig.suptitle(f"{task} {topo}: alignment with BP")
        fig.tight_layout()
        p = Path(out) / f"angles_{task}_{topo}.png"
        save_figure_atomic(fig, p, dpi=110)
        plt.close(fig)
        paths.append(p)
    return paths


def write_outputs(records: list[dict], out: Path, figures: bool = True) -> tuple[str, list[Path]]:
    """Write summary.csv/json, epochs.csv and figures; return (printed text, files written)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = summarize(records)
    files = []
    write_json_atomic(out / "summary.json", rows)
    files.append(out / "summary.json")
    keys = list(dict.fromkeys(k for r in rows for k in r))
    f = io.StringIO(newline="")
    w = csv.DictWriter(f, fieldnames=keys)
    w.writeheader()
    w.writerows(rows)
    write_atomic(out / "summary.csv", f.getvalue())
    files.append(out / "summary.csv")
    f = io.StringIO(newline="")
    w = csv.writer(f)
    w.writerow(["task", "topology", "algorithm", "trial", "epoch", "train_loss", "train_err", "test_loss",
                "test_err", "seconds", "layer", "angle_signal", "angle_update"])
    for r in records:
        s = r["spec"]
        for e in r["epochs"]:
            base = [s["task"], s["topology"], s["algorithm"], s["trial"], e["epoch"], e["train_loss"],
                    e["train_err"], e["test_loss"], e["test_err"], e["seconds"]]
            angles = e.get("angles") or {"": [None, None]}
            for k, (sa, ua) in angles.items():
                w.writerow(base + [k, sa, ua])
    write_atomic(out / "epochs.csv", f.getvalue())
    files.append(out / "epochs.csv")
    if figures:
        files += plot_curves(records, out)
        files += plot_angles(records, out)
    text = format_table(rows) + "\n\n" + format_angles(rows) + "\n\n" + format_claims(rows)
    write_atomic(out / "table.txt", text + "\n")
    files.append(out / "table.txt")
    return text, files
