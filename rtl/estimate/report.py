"""One config's estimate as a JSON-able dict, a Markdown table of several, and the sweep's cost function."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from hwsim.config import EngineConfig
from hwsim.cycles import dense_counts

from . import area, energy, ops, synth as synth_mod

if TYPE_CHECKING:
    from .workload import Workload

__all__ = ["SPOON", "CLOSED_FORM", "estimate", "sweep_cost", "markdown_table", "per_sample_markdown",
           "overhead_markdown"]

SPOON = {"node_nm": 28, "vdd": 0.6, "area_mm2": 0.32, "energy_nj_per_classification": 313,
         "learning_area_overhead_pct": 11.8, "learning_power_overhead_pct": 16.8,
         "source": "Frenkel et al., SPOON, 28 nm FDSOI, ISCAS 2020"}


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _stats(values: np.ndarray, nd: int) -> dict[str, float]:
    """Mean, median and 99th percentile (numpy's linear interpolation) of per-sample values."""
    v = np.asarray(values, dtype=np.float64)
    return {"mean": round(float(v.mean()), nd), "p50": round(float(np.percentile(v, 50)), nd),
            "p99": round(float(np.percentile(v, 99)), nd)}


CLOSED_FORM = ("closed form: one sample doing every column, group and word (exact for dense; for event "
               "the upper bound with no input, group or write skipped)")


def estimate(cfg: EngineConfig, synth: dict | None = None, node_nm: float = 45.0, vdd: float = 0.9,
             workload: Workload | None = None) -> dict:
    """Op counts, cycles, energy, memory, modelled area and learning overhead; synthesis figures when given.

    ``workload`` (:func:`rtl.estimate.workload.run_workload`): per-sample counts of a test set; the
    figures are then means over its samples, with p50 and p99 in ``per_sample``. Without it, the
    closed form (:data:`CLOSED_FORM`). ``synth`` is what :func:`rtl.estimate.flow.run_synthesis`
    returns for the same config.
    """
    escale = energy.node_scale(node_nm, vdd)
    res: dict = {"config": cfg.name, "digest": cfg.digest(), "topology": list(cfg.topology),
                 "lanes": cfg.lanes, "schedule": cfg.schedule.value,
                 "weight_bits": [l.weight.width for l in cfg.layers],
                 "node_nm": node_nm, "vdd": vdd, "cycles": {}, "per_sample": {}}
    if workload is None:
        res["basis"] = CLOSED_FORM
        counts = {"inference": dense_counts(cfg, 1, False), "train": dense_counts(cfg, 1, True)}
    else:
        res["basis"] = f"{workload.dataset} test set, {workload.samples:,} samples"
        res["workload"] = {"dataset": workload.dataset, "samples": workload.samples, "seed": workload.seed,
                           "start": workload.start, "accuracy": round(workload.accuracy, 4),
                           "online_accuracy": round(workload.online_accuracy, 4),
                           "activity": workload.activity()}
        counts = {"inference": workload.inference, "train": workload.train}
    per_mode = {}
    for mode, c in counts.items():
        per = ops.sample_ops(cfg, c)
        cyc = c.cycles
        e_pj = energy.energy_pj(per, escale)
        per_mode[mode] = (c, cyc, e_pj)
        if workload is None:
            res["cycles"][mode] = int(cyc[0])
            res[f"ops_{mode}"] = ops.summarize(ops.op_counts(cfg, mode == "train"))
        else:
            res["cycles"][mode] = round(float(cyc.mean()), 1)
            res[f"ops_{mode}"] = {k: round(v, 1) for k, v in ops.summarize(per).items()}
        res[f"energy_pj_{mode}"] = {k: round(float(np.mean(v)), 2)
                                    for k, v in energy.energy_breakdown_pj(per, escale).items()}
        res[f"energy_nj_{mode}"] = round(float(np.mean(e_pj)) / 1000, 3)
        res["per_sample"][mode] = {"cycles": _stats(cyc, 1), "energy_nj": _stats(e_pj / 1000, 3)}
    res["memory_bits"] = ops.memory_bits(cfg)
    sram = area.sram_bits(cfg)
    res["sram_bits"] = sram
    model = area.logic_ge_model(cfg)
    res["model"] = {"logic_ge": round(model["inference"] + model["learning"], 1),
                    "learning_ge": model["learning"],
                    **area.area_mm2(model["inference"] + model["learning"], sram, node_nm)}
    total = res["model"]["total_mm2"]
    inf_area = area.area_mm2(model["inference"], sram, node_nm)["total_mm2"]
    # means before rounding (equal sample counts: power = total energy / total cycles of each pass)
    (e_inf, c_inf), (e_trn, c_trn) = ((float(np.mean(per_mode[m][2])) / 1000, float(np.mean(per_mode[m][1])))
                                      for m in ("inference", "train"))
    res["learning_overhead"] = {
        "area_pct_model": _pct(total - inf_area, inf_area),
        "logic_pct_model": _pct(model["learning"], model["inference"]),
        "energy_ratio": round(e_trn / e_inf, 3) if e_inf else None,
        "energy_pct_per_sample": _pct(e_trn - e_inf, e_inf),
        "power_pct_same_clock": _pct(e_trn / c_trn - e_inf / c_inf, e_inf / c_inf),
        "note": "area: learning-only blocks (update lanes, delta memories, active-group lists, lane RNG, "
                "DRTP random-vector generators, error units) over an inference-only engine with the same "
                "weight RAMs; energy: a training sample over an inference (forward) sample, means; power: "
                "energy per cycle while training over energy per cycle while inferring, same clock",
    }
    if synth:
        g = synth.get("gates")
        if g:
            if g.get("blocks_nand2_eq"):   # the learning rule of today, also for results cached before it
                g = {**g, "learning_nand2_eq": synth_mod.learning_blocks(g["blocks_nand2_eq"])}
            a = area.area_mm2(g["nand2_eq"], sram, node_nm)
            res["synth"] = {"nand2_eq": g["nand2_eq"], "flip_flops": g["flip_flops"],
                            "learning_nand2_eq": g["learning_nand2_eq"], **a}
            inf = area.area_mm2(g["nand2_eq"] - g["learning_nand2_eq"], sram, node_nm)["total_mm2"]
            res["learning_overhead"]["area_pct_synth"] = _pct(a["total_mm2"] - inf, inf)
            res["learning_overhead"]["logic_pct_synth"] = _pct(
                g["learning_nand2_eq"], g["nand2_eq"] - g["learning_nand2_eq"])
            res["synth_energy"] = synth_energy(cfg, g, escale, per_mode)
            se = res["synth_energy"]
            res["learning_overhead"]["energy_pct_per_sample_synth"] = _pct(
                se["train_nj"] - se["inference_nj"], se["inference_nj"])
            res["learning_overhead"]["power_pct_same_clock_synth"] = _pct(
                se["train_nj"] / c_trn - se["inference_nj"] / c_inf, se["inference_nj"] / c_inf)
        if synth.get("ecp5"):
            res["ecp5"] = synth["ecp5"]
        if synth.get("fmax"):
            res["fmax"] = synth["fmax"]
        if synth.get("ice40"):
            res["ice40"] = synth["ice40"]
        if synth.get("ice40-fmax"):
            res["ice40-fmax"] = synth["ice40-fmax"]
        res["flow_seconds"] = synth.get("wall_seconds")
    return res


def _is_learning(path: str) -> bool:
    return synth_mod.learning_blocks({path: 1.0}) == 1.0


def synth_energy(cfg: EngineConfig, gates: dict, escale: float, per_mode: dict) -> dict:
    """Energy per sample (means) with the logic part from the synthesized gates (busy blocks per phase,
    :func:`energy.logic_energy_pj`) and the SRAM part from the op count.

    ``per_mode``: ``{"inference"|"train": (SampleCounts, cycles, energy_pj)}`` as :func:`estimate` has them.
    """
    out: dict = {"ge_cycle_fj": energy.GE_CYCLE_FJ}
    for mode, (c, _, _) in per_mode.items():
        logic = energy.logic_energy_pj(ops.phases(cfg, c), gates["blocks_nand2_eq"], gates["nand2_eq"],
                                       _is_learning, escale)
        logic_pj = float(np.mean(sum(logic.values())))
        per = ops.sample_ops(cfg, c)
        sram = float(np.mean(sum(n * energy.op_pj(op) * escale for op, n in per.items()
                                 if op.kind in (ops.OpKind.SRAM_READ, ops.OpKind.SRAM_WRITE))))
        out[f"logic_{mode}_nj"] = round(logic_pj / 1000, 3)
        out[f"sram_{mode}_nj"] = round(sram / 1000, 3)
        out[f"{mode}_nj"] = round((logic_pj + sram) / 1000, 3)
    return out


def sweep_cost(cfg: EngineConfig) -> dict[str, float]:
    """The sweep's cost estimator (no synthesis, no data, ~ms): area and energy from widths and the closed-form
    op counts (for ``event`` configs the no-skipping upper bound)."""
    res = estimate(cfg)
    return {"area_mm2": res["model"]["total_mm2"], "sram_kbit": res["sram_bits"] / 1024,
            "logic_kge": res["model"]["logic_ge"] / 1000,
            "energy_nj_inference": res["energy_nj_inference"], "energy_nj_train": res["energy_nj_train"],
            "cycles_train": float(res["cycles"]["train"])}


def _fmt(v, nd=1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def _signed(v) -> str:
    return "-" if v is None else f"{v:+,.1f}"


def _ice40_cell(ice: dict | None) -> str:
    if not ice:
        return "-"
    fits = ", ".join(ice.get("fits", [])) or "no part"
    return f"{ice['lut4']:,}/{ice['ff']:,}/{ice['ebr']:,}/{ice['mac16']:,} ({fits})"


def _ice40_fmax_cell(pnr: dict | None) -> str:
    """nextpnr-ice40 Fmax and the part (with "no DSP" when the multipliers were placed as logic)."""
    if not pnr:
        return "-"
    if pnr.get("fmax_mhz") is None:
        return "n/a"
    nodsp = ", no DSP" if pnr.get("netlist", "").endswith("_nodsp.json") else ""
    return f"{pnr['fmax_mhz']:,.1f} ({pnr['device'].split('-')[0].removeprefix('iCE40')}{nodsp})"


def markdown_table(results: list[dict]) -> str:
    """One row per estimate: ECP5 resources, Fmax, gate equivalents, area, energy per sample."""
    head = ("| config | bits | LUT4 | FF | BRAM | DSP | Fmax ECP5 (MHz) | GE (synth) | GE (model) | SRAM kbit "
            "| area mm2 | E inference nJ | E train nJ | E inference nJ (gates) | E train nJ (gates) "
            "| learning area % | learning power % | learning power % (gates) | iCE40 LUT4/FF/EBR/MAC16 (fits) "
            "| Fmax iCE40 (MHz) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        e, f, s = r.get("ecp5", {}), r.get("fmax", {}), r.get("synth", {})
        area_v = s.get("total_mm2", r["model"]["total_mm2"])
        lo = r["learning_overhead"]
        fmax = f.get("fmax_mhz") if f else None
        if fmax is None and f.get("skipped"):
            fmax = "n/a"
        lines.append("| " + " | ".join([
            r["config"], "/".join(map(str, r["weight_bits"])), _fmt(e.get("lut4")), _fmt(e.get("ff")),
            _fmt(e.get("bram_dp16kd")), _fmt(e.get("dsp_mult18")),
            _fmt(fmax) if not isinstance(fmax, str) else fmax,
            _fmt(s.get("nand2_eq"), 0), _fmt(r["model"]["logic_ge"], 0), _fmt(r["sram_bits"] / 1024, 1),
            _fmt(area_v, 3) + ("" if s else " (model)"),
            _fmt(r["energy_nj_inference"], 1), _fmt(r["energy_nj_train"], 1),
            _fmt(r.get("synth_energy", {}).get("inference_nj"), 1),
            _fmt(r.get("synth_energy", {}).get("train_nj"), 1),
            _fmt(lo.get("area_pct_synth", lo["area_pct_model"])), _fmt(lo["power_pct_same_clock"]),
            _fmt(lo.get("power_pct_same_clock_synth")), _ice40_cell(r.get("ice40")),
            _ice40_fmax_cell(r.get("ice40-fmax")),
        ]) + " |")
    return "\n".join(lines) + "\n"


def _triple(st: dict, nd: int | None = None) -> str:
    """mean / p50 / p99; ``nd`` None: 1 decimal from 100 up, else 3 (a small engine's nJ)."""
    nd = nd if nd is not None else 1 if st["mean"] >= 100 else 3
    return " / ".join(_fmt(float(st[k]), nd) for k in ("mean", "p50", "p99"))


def per_sample_markdown(results: list[dict]) -> str:
    """One row per estimate: cycles and energy per inference and per training sample (mean / p50 / p99)."""
    head = ("| config | schedule | P | basis | cycles / inference | nJ / inference | cycles / training sample "
            "| nJ / training sample | train / inference energy | learning power % "
            "| learning area % (with weight SRAM / logic only) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        ps, lo = r["per_sample"], r["learning_overhead"]
        basis = r["basis"] if "workload" in r else "closed form"
        lines.append("| " + " | ".join([
            r["config"], r["schedule"], str(r["lanes"]), basis,
            _triple(ps["inference"]["cycles"], 0), _triple(ps["inference"]["energy_nj"]),
            _triple(ps["train"]["cycles"], 0), _triple(ps["train"]["energy_nj"]),
            _fmt(lo["energy_ratio"], 2), _signed(lo["power_pct_same_clock"]),
            _signed(lo.get("area_pct_synth", lo["area_pct_model"])) + " / "
            + _signed(lo.get("logic_pct_synth", lo["logic_pct_model"])),
        ]) + " |")
    note = ("mean / p50 / p99 per sample; learning power: energy per cycle training vs inferring at the same "
            "clock; area: learning-only blocks over the inference engine, with its weight SRAM and logic only "
            f"(synthesis when run, else the model). SPOON: +{SPOON['learning_power_overhead_pct']} % power, "
            f"+{SPOON['learning_area_overhead_pct']} % area.")
    return "\n".join(lines) + "\n\n" + note + "\n"


def overhead_markdown(r: dict) -> str:
    """The learning overhead of one config next to SPOON's."""
    lo = r["learning_overhead"]
    where = r["basis"] if "workload" in r else "closed form"
    return "\n".join([
        f"| | this kit ({r['config']}, {r['schedule']}, {where}) | SPOON (28 nm) |", "|---|---|---|",
        f"| area overhead of learning | {_signed(lo.get('area_pct_synth'))} % (synthesis), "
        f"{_signed(lo['area_pct_model'])} % (model); logic only {_signed(lo.get('logic_pct_synth'))} % "
        f"(synthesis), {_signed(lo['logic_pct_model'])} % (model) | +{SPOON['learning_area_overhead_pct']} % |",
        f"| power while training vs inferring (same clock, datapath + SRAM) | "
        f"{_signed(lo['power_pct_same_clock'])} % | +{SPOON['learning_power_overhead_pct']} % |",
        f"| energy per training sample vs per inference | {_signed(lo['energy_pct_per_sample'])} % "
        f"(x{_fmt(lo['energy_ratio'], 2)}) | - |",
        *([f"| power, logic from synthesized gates + SRAM | {_signed(lo['power_pct_same_clock_synth'])} % "
           f"| +{SPOON['learning_power_overhead_pct']} % |",
           f"| energy per training sample vs per inference, logic from synthesized gates | "
           f"{_signed(lo['energy_pct_per_sample_synth'])} % | - |"] if "power_pct_same_clock_synth" in lo else []),
        ""])
