"""One config's estimate as a JSON-able dict, a Markdown table of several, and the sweep's cost function."""

from __future__ import annotations

from hwsim.config import EngineConfig
from rtl.schedule import cycles, phases

from . import area, energy, ops, synth as synth_mod

__all__ = ["SPOON", "estimate", "sweep_cost", "markdown_table", "overhead_markdown"]

SPOON = {"node_nm": 28, "vdd": 0.6, "area_mm2": 0.32, "energy_nj_per_classification": 313,
         "learning_area_overhead_pct": 11.8, "learning_power_overhead_pct": 16.8,
         "source": "Frenkel et al., SPOON, 28 nm FDSOI, ISCAS 2020"}


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def estimate(cfg: EngineConfig, synth: dict | None = None, node_nm: float = 45.0, vdd: float = 0.9) -> dict:
    """Op counts, energy, memory, modelled area and learning overhead; synthesis figures when given.

    ``synth`` is what :func:`rtl.estimate.flow.run_synthesis` returns for the same config.
    """
    escale = energy.node_scale(node_nm, vdd)
    res: dict = {"config": cfg.name, "digest": cfg.digest(), "topology": list(cfg.topology),
                 "lanes": cfg.lanes, "weight_bits": [l.weight.width for l in cfg.layers],
                 "node_nm": node_nm, "vdd": vdd,
                 "cycles": {"inference": cycles(cfg, False), "train": cycles(cfg, True)}}
    for mode, train in (("inference", False), ("train", True)):
        counts = ops.op_counts(cfg, train)
        res[f"ops_{mode}"] = ops.summarize(counts)
        res[f"energy_pj_{mode}"] = {k: round(v, 2) for k, v in energy.energy_breakdown_pj(counts, escale).items()}
        res[f"energy_nj_{mode}"] = round(energy.energy_pj(counts, escale) / 1000, 3)
    res["memory_bits"] = ops.memory_bits(cfg)
    sram = area.sram_bits(cfg)
    res["sram_bits"] = sram
    model = area.logic_ge_model(cfg)
    res["model"] = {"logic_ge": round(model["inference"] + model["learning"], 1),
                    "learning_ge": model["learning"],
                    **area.area_mm2(model["inference"] + model["learning"], sram, node_nm)}
    total = res["model"]["total_mm2"]
    inf_area = area.area_mm2(model["inference"], sram, node_nm)["total_mm2"]
    res["learning_overhead"] = {
        "area_pct_model": _pct(total - inf_area, inf_area),
        "energy_pct_per_sample": _pct(res["energy_nj_train"] - res["energy_nj_inference"],
                                      res["energy_nj_inference"]),
        "power_pct_same_clock": _pct(res["energy_nj_train"] / res["cycles"]["train"]
                                     - res["energy_nj_inference"] / res["cycles"]["inference"],
                                     res["energy_nj_inference"] / res["cycles"]["inference"]),
        "note": "area: learning-only blocks over an inference-only engine with the same weight RAMs; "
                "energy: a training sample over an inference (forward) sample; power: energy per cycle "
                "while training over energy per cycle while inferring, same clock",
    }
    if synth:
        g = synth.get("gates")
        if g:
            a = area.area_mm2(g["nand2_eq"], sram, node_nm)
            res["synth"] = {"nand2_eq": g["nand2_eq"], "flip_flops": g["flip_flops"],
                            "learning_nand2_eq": g["learning_nand2_eq"], **a}
            inf = area.area_mm2(g["nand2_eq"] - g["learning_nand2_eq"], sram, node_nm)["total_mm2"]
            res["learning_overhead"]["area_pct_synth"] = _pct(a["total_mm2"] - inf, inf)
            res["learning_overhead"]["logic_pct_synth"] = _pct(
                g["learning_nand2_eq"], g["nand2_eq"] - g["learning_nand2_eq"])
            res["synth_energy"] = synth_energy(cfg, g, escale, res)
            se = res["synth_energy"]
            res["learning_overhead"]["energy_pct_per_sample_synth"] = _pct(
                se["train_nj"] - se["inference_nj"], se["inference_nj"])
            res["learning_overhead"]["power_pct_same_clock_synth"] = _pct(
                se["train_nj"] / res["cycles"]["train"] - se["inference_nj"] / res["cycles"]["inference"],
                se["inference_nj"] / res["cycles"]["inference"])
        if synth.get("ecp5"):
            res["ecp5"] = synth["ecp5"]
        if synth.get("fmax"):
            res["fmax"] = synth["fmax"]
        if synth.get("ice40"):
            res["ice40"] = synth["ice40"]
        res["flow_seconds"] = synth.get("wall_seconds")
    return res


def _is_learning(path: str) -> bool:
    return synth_mod.learning_blocks({path: 1.0}) == 1.0


def synth_energy(cfg: EngineConfig, gates: dict, escale: float, res: dict) -> dict:
    """Energy per sample with the logic part from the synthesized gates (busy blocks per phase,
    :func:`energy.logic_energy_pj`) and the SRAM part from the op count."""
    out: dict = {"ge_cycle_fj": energy.GE_CYCLE_FJ}
    for mode, train in (("inference", False), ("train", True)):
        logic = energy.logic_energy_pj(phases(cfg, train), gates["blocks_nand2_eq"], gates["nand2_eq"],
                                       _is_learning, escale)
        sram = sum(v for k, v in res[f"energy_pj_{mode}"].items() if k.startswith("sram"))
        out[f"logic_{mode}_nj"] = round(sum(logic.values()) / 1000, 3)
        out[f"sram_{mode}_nj"] = round(sram / 1000, 3)
        out[f"{mode}_nj"] = round((sum(logic.values()) + sram) / 1000, 3)
    return out


def sweep_cost(cfg: EngineConfig) -> dict[str, float]:
    """The sweep's cost estimator (no synthesis, ~ms): area and energy from widths and op counts."""
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


def _ice40_cell(ice: dict | None) -> str:
    if not ice:
        return "-"
    fits = ", ".join(ice.get("fits", [])) or "no part"
    return f"{ice['lut4']:,}/{ice['ff']:,}/{ice['ebr']:,}/{ice['mac16']:,} ({fits})"


def markdown_table(results: list[dict]) -> str:
    """One row per estimate: ECP5 resources, Fmax, gate equivalents, area, energy per sample."""
    head = ("| config | bits | LUT4 | FF | BRAM | DSP | Fmax ECP5 (MHz) | GE (synth) | GE (model) | SRAM kbit "
            "| area mm2 | E inference nJ | E train nJ | E inference nJ (gates) | E train nJ (gates) "
            "| learning area % | learning power % | learning power % (gates) | iCE40 LUT4/FF/EBR/MAC16 (fits) |")
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
        ]) + " |")
    return "\n".join(lines) + "\n"


def overhead_markdown(r: dict) -> str:
    """The learning overhead of one config next to SPOON's."""
    lo = r["learning_overhead"]
    return "\n".join([
        "| | this kit (" + r["config"] + ") | SPOON (28 nm) |", "|---|---|---|",
        f"| area overhead of learning | {_fmt(lo.get('area_pct_synth'))} % (synthesis), "
        f"{_fmt(lo['area_pct_model'])} % (model); logic only {_fmt(lo.get('logic_pct_synth'))} % "
        f"| +{SPOON['learning_area_overhead_pct']} % |",
        f"| power while training vs inferring (same clock, datapath + SRAM) | "
        f"+{_fmt(lo['power_pct_same_clock'])} % | +{SPOON['learning_power_overhead_pct']} % |",
        f"| energy per training sample vs per inference | +{_fmt(lo['energy_pct_per_sample'])} % | - |",
        *([f"| power, logic from synthesized gates + SRAM | +{_fmt(lo['power_pct_same_clock_synth'])} % "
           f"| +{SPOON['learning_power_overhead_pct']} % |",
           f"| energy per training sample vs per inference, logic from synthesized gates | "
           f"+{_fmt(lo['energy_pct_per_sample_synth'])} % | - |"] if "power_pct_same_clock_synth" in lo else []),
        ""])
