"""How a :class:`hwsim.profile.Profile` is shown: a text table and a PNG of value ranges against formats."""

from __future__ import annotations

import numpy as np

from .fileio import save_figure_atomic

__all__ = ["table", "plot"]


def _pct(count: int, n: int) -> str:
    if not n:
        return "-"
    if count == 0:
        return "0"
    p = 100.0 * count / n
    return f"{p:.2f}" if p >= 0.01 else "<0.01"


def _real(raw, frac: int) -> str:
    return "-" if raw is None else f"{raw * 2.0 ** -frac:.4g}"


def _fmt_name(s) -> str:
    if s.fmt is None:
        return "W LSBs"
    if s.name == "acc":
        return f"{s.fmt} {s.fmt.overflow.value}"
    if s.name == "delta":
        return "ternary"
    return f"{s.fmt} {s.fmt.overflow.value}"


def table(profile) -> str:
    """One row per (layer, quantity): saturation and wrap rates, rounding directions, ranges."""
    head = (f"{'layer':<5} {'quantity':<8} {'format':<12} {'rnd':<8} {'values':>11} {'sat %':>7} {'(hi/lo)':>15} "
            f"{'wrap %':>7} {'up %':>6} {'down %':>6} {'exact %':>7} {'stored raw':>17} {'exact range (real)':>22}")
    lines = [f"numerical profile of {profile.config} on {profile.dataset}: {profile.samples} samples "
             f"({'training' if profile.train else 'forward only'})", head, "-" * len(head)]
    for s in profile.stats:
        rounded = s.round_up + s.round_down + s.round_exact
        clamps = s.fmt is not None and s.name != "delta"  # a ternary signal is never requantized
        sat = f"{s.sat_hi}/{s.sat_lo}" if clamps and s.fmt.overflow.value == "sat" else ""
        stored = "-" if s.min_raw is None else f"{s.min_raw}..{s.max_raw}"
        exact = "-" if s.pre_min_raw is None else f"{_real(s.pre_min_raw, s.frac_bits)}..{_real(s.pre_max_raw, s.frac_bits)}"
        lines.append(
            f"L{s.layer:<4} {s.name:<8} {_fmt_name(s):<12} {s.rounding or '-':<8} {s.n:>11,} "
            f"{_pct(s.saturated, s.n) if sat else '-':>7} {sat:>15} "
            f"{_pct(s.wrapped, s.n) if clamps and s.fmt.overflow.value == 'wrap' else '-':>7} "
            f"{_pct(s.round_up, rounded):>6} {_pct(s.round_down, rounded):>6} {_pct(s.round_exact, rounded):>7} "
            f"{stored:>17} {exact:>22}")
    acts = [s for s in profile.stats if s.name == "act" and s.n]
    if acts:
        lines.append("activation clipped (derivative 0): " + ", ".join(
            f"L{s.layer} {_pct(s.clipped, s.n)} %" for s in acts))
    top = profile.most_saturating(3)
    lines.append("most saturating: " + (", ".join(
        f"L{s.layer} {s.name} {_pct(s.saturated + s.wrapped, s.n)} %" for s in top) if top else "nothing saturated or wrapped"))
    return "\n".join(lines)


def plot(profile, path) -> None:
    """Left: distribution of log2|value| per quantity (before overflow) over the format's range (grey).
    Right: saturated and wrapped fraction per quantity."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    stats = [s for s in profile.stats if s.n][::-1]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 0.38 * len(stats) + 1.8), dpi=110,
                                 gridspec_kw={"width_ratios": [3, 1]}, sharey=True)
    lo_x = min(-s.frac_bits for s in stats) - 2
    hi_x = max(max(int(np.flatnonzero(s.msb).max()) if s.msb.any() else 0, s.fmt.width if s.fmt else 1)
               - s.frac_bits for s in stats) + 1
    cmap = plt.get_cmap("viridis")
    norm = LogNorm(vmin=1e-5, vmax=1.0)
    for row, s in enumerate(stats):
        F = s.frac_bits
        if s.fmt is not None and s.name != "delta":
            top = int(s.fmt.max_raw).bit_length() - F
            ax.add_patch(plt.Rectangle((-F, row - 0.42), top + F, 0.84, color="0.85", zorder=0))
        frac = s.msb / s.n
        if frac[0]:
            ax.add_patch(plt.Rectangle((lo_x, row - 0.3), 1, 0.6, color=cmap(norm(max(frac[0], 1e-5))), zorder=2))
        for b in np.flatnonzero(frac[1:]) + 1:
            ax.add_patch(plt.Rectangle((b - 1 - F, row - 0.3), 1, 0.6, color=cmap(norm(max(frac[b], 1e-5))),
                                       zorder=2))
        sat, wrap = s.saturated / s.n, s.wrapped / s.n
        bx.barh(row, 100 * sat, color="tab:red", height=0.6)
        bx.barh(row, 100 * wrap, left=100 * sat, color="tab:purple", height=0.6)
        if sat + wrap:
            bx.text(100 * (sat + wrap), row, f" {100 * (sat + wrap):.2g}%", va="center", fontsize=7)
    ax.set_xlim(lo_x, hi_x)
    ax.set_ylim(-0.7, len(stats) - 0.3)
    ax.set_yticks(range(len(stats)))
    ax.set_yticklabels([f"L{s.layer} {s.name} ({_fmt_name(s).split()[0]})" for s in stats], fontsize=8)
    step = max(1, (hi_x - lo_x) // 12)
    ticks = list(range(lo_x + 1 + step, hi_x + 1, step))
    ax.set_xticks([lo_x + 0.5] + ticks)
    ax.set_xticklabels(["0"] + [str(t) for t in ticks], fontsize=8)
    ax.set_xlabel("log2 |value| (bin b: [2^b, 2^(b+1))); grey: the format's range; left column: zeros")
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(sm, ax=ax, fraction=0.03, pad=0.01, label="fraction of values")
    bx.set_xlabel("saturated (red) / wrapped (purple) %")
    bx.set_xlim(0, max(1.0, 1.3 * max(100 * (s.saturated + s.wrapped) / s.n for s in stats)))
    ax.set_title(f"{profile.config} on {profile.dataset}: {profile.samples} samples "
                 f"({'training' if profile.train else 'forward'})", fontsize=10)
    fig.tight_layout()
    save_figure_atomic(fig, path)
    plt.close(fig)
