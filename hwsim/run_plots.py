"""The pictures of one training run's folder: learning curves and the test set's confusion matrix."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .fileio import save_figure_atomic, write_json_atomic
from .formats import ConfigError

__all__ = ["learning_curve", "confusion_counts", "confusion"]

_LABELS = {"fixed": "fixed-point", "float": "float DRTP twin"}


def learning_curve(records: dict[str, dict], path: str | Path, title: str = "") -> None:
    """Train and test accuracy per epoch, one color per mode, written atomically as a PNG.

    Parameters
    ----------
    records : dict of str to dict
        Mode name (``"fixed"``, ``"float"``, or any label) to a run record holding lists
        ``train_acc`` and ``test_acc`` (fractions, one per epoch; ``RunResult.to_dict()`` or a
        run's ``results.json``). Modes without epochs are left out.
    path : str or Path
        The PNG to write.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawn = {m: r for m, r in records.items() if r and (r.get("train_acc") or r.get("test_acc"))}
    if not drawn:
        raise ConfigError("learning_curve needs at least one record with train_acc or test_acc")
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (mode, rec) in enumerate(drawn.items()):
        color, label = colors[i % len(colors)], _LABELS.get(mode, mode)
        for key, style, what in (("train_acc", "--", "train"), ("test_acc", "-", "test")):
            acc = rec.get(key) or []
            if acc:
                ax.plot(range(1, len(acc) + 1), [100 * a for a in acc], style, marker="o", ms=3, color=color,
                        label=f"{label} {what} (final {100 * acc[-1]:.2f} %)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title or "learning curve", fontsize=10)
    fig.tight_layout()
    save_figure_atomic(fig, path)
    plt.close(fig)


def confusion_counts(y_true, y_pred, n_classes: int) -> np.ndarray:
    """``C[t, p]``: how many samples of true class t were predicted as p (int64, n_classes x n_classes)."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.shape != p.shape or t.ndim != 1:
        raise ConfigError(f"y_true and y_pred must be 1-D arrays of one length, not shapes {t.shape} and {p.shape}")
    if t.size and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= n_classes):
        raise ConfigError(f"labels and predictions must be integers in 0..{n_classes - 1}")
    return np.bincount(t.astype(np.int64) * n_classes + p.astype(np.int64),
                       minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def confusion(y_true, y_pred, n_classes: int, path: str | Path, title: str = "") -> np.ndarray:
    """The confusion matrix as a PNG at ``path`` and its counts as JSON beside it (same stem, ``.json``).

    The JSON holds ``counts`` (rows: true class, columns: predicted), ``n``, ``accuracy`` and
    per-class ``recall``. Returns the counts.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    C = confusion_counts(y_true, y_pred, n_classes)
    n = int(C.sum())
    rows = C.sum(axis=1)
    recall = [float(C[c, c] / rows[c]) if rows[c] else None for c in range(n_classes)]
    acc = float(np.trace(C) / n) if n else float("nan")
    path = Path(path)
    write_json_atomic(path.with_suffix(".json"), {"n_classes": n_classes, "n": n, "accuracy": acc,
                                                  "recall": recall, "counts": C.tolist()})
    fig, ax = plt.subplots(figsize=(1.5 + 0.5 * n_classes, 1.2 + 0.5 * n_classes), dpi=110)
    frac = C / np.maximum(rows, 1)[:, None]
    ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    if n_classes <= 30:
        for t in range(n_classes):
            for p in range(n_classes):
                if C[t, p]:
                    ax.text(p, t, str(C[t, p]), ha="center", va="center", fontsize=7,
                            color="white" if frac[t, p] > 0.5 else "black")
    ax.set_xticks(range(n_classes))
    ax.set_yticks(range(n_classes))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"{title + ': ' if title else ''}{n} samples, accuracy {100 * acc:.2f} %", fontsize=9)
    fig.tight_layout()
    save_figure_atomic(fig, path)
    plt.close(fig)
    return C
