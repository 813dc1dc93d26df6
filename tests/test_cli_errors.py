"""Every CLI's edges: one sentence and exit 2 for bad options and output paths, nothing deleted, no traceback.

Each row of ``CASES`` is a command as a user types it, the exit code and the start of the one
line it must print on stderr. The table is the issue's list of bad inputs, kept as a test.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from hwsim.cli import ArgParser, progress_bar, run_cli
from hwsim.fileio import OutputError, check_output_dir, write_atomic

ROOT = Path(__file__).resolve().parent.parent
SEED = "must be an integer in 0..4294967295, not -1"


def _run(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _one_sentence(proc: subprocess.CompletedProcess, code: int, start: str) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == code, proc.stderr
    assert len(lines) == 1 and lines[0].startswith(start), proc.stderr


@pytest.fixture
def place(tmp_path):
    """A working folder with a file ``a-file`` and a foreign folder ``mine`` holding a user's file."""
    (tmp_path / "a-file").write_text("not a folder\n")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("the user's work\n")
    return tmp_path


CASES = [
    # negative seeds
    (["hwsim.train", "--seed", "-1"], f"error: argument --seed: {SEED}"),
    (["rtl.generate", "--config", "small", "--seed", "-1", "-o", "out"], f"error: argument --seed: {SEED}"),
    (["golden.generate", "--config", "small", "--samples", "2", "--seed", "-1", "-o", "out"],
     f"error: argument --seed: {SEED}"),
    (["hwsim.paper", "--preset", "synthetic", "--seed", "-1"], f"error: argument --seed: {SEED}"),
    # hidden layer sizes: no silent reading of a malformed list
    (["hwsim.train", "--hidden=-5"], "error: --hidden must be layer sizes like 500 or 500-500 (positive integers "
                                     "joined by '-'), not '-5'"),
    (["hwsim.train", "--hidden", "20-"], "error: --hidden must be layer sizes like 500 or 500-500"),
    (["hwsim.train", "--hidden", "20--20"], "error: --hidden must be layer sizes like 500 or 500-500"),
    (["hwsim.train", "--hidden", "0"], "error: --hidden must be layer sizes like 500 or 500-500"),
    (["hwsim.train", "--config", "small", "--hidden", "7"],
     "error: --hidden applies to --bits only; with --config the topology is the config's"),
    (["rtl.generate", "--config", "small", "--hidden", "7", "-o", "out"],
     "error: --hidden applies to --bits only"),
    # lanes: what trains is what the RTL generator builds
    (["hwsim.train", "--config", "small", "--lanes", "200"],
     "error: --lanes must be in 1..32 for topology [64, 32, 10]"),
    (["hwsim.train", "--bits", "8", "--hidden", "100", "--lanes", "0"],
     "error: --lanes must be in 1..100 for topology [784, 100, 10]"),
    (["hwsim.train", "--bits", "24", "--lanes", "200"],
     "error: layers[0].weight.format s0.24 with 200 lanes makes a 4800-bit weight-memory word"),
    (["hwsim.train", "--bits", "16", "--lanes", "300"],
     "error: --lanes must be an integer in 1..256, not 300"),
    (["hwsim.train", "--epochs", "0"], "error: argument --epochs: must be an integer in 1..10000, not 0"),
    (["hwsim.train", "--float", "--with-float"], "error: --float and --with-float exclude each other"),
    # output paths: checked before any work
    (["hwsim.train", "--bits", "4", "--hidden", "8", "--dataset", "digits8x8", "--out", "a-file"],
     "error: --out 'a-file' is a file, not a folder; give a folder path"),
    (["hwsim.train", "--bits", "4", "--hidden", "8", "--dataset", "digits8x8", "--out", "a-file/sub"],
     "error: --out 'a-file/sub' lies under"),
    (["rtl.generate", "--config", "small", "-o", "a-file"], "error: -o 'a-file' is a file, not a folder"),
    (["hwsim.sweep", "--bits", "4", "--hidden", "8", "--dataset", "digits8x8", "--epochs", "1", "--no-float",
      "--out", "a-file"], "error: --out 'a-file' is a file, not a folder"),
    (["hwsim.paper", "--preset", "synthetic", "--out", "a-file"], "error: --out 'a-file' is a file, not a folder"),
    (["golden.generate", "--config", "small", "--samples", "2", "-o", "a-file"],
     "error: -o 'a-file' is a file, not a folder"),
    # golden.generate never deletes what it did not write
    (["golden.generate", "--config", "small", "--samples", "2", "-o", "mine"],
     "error: -o 'mine' is a non-empty folder that this tool did not write (no meta.json); give a new or empty "
     "folder, so nothing of yours is deleted"),
    (["golden.generate", "--config", "small", "--samples", "2", "-o", "."],
     "error: -o '.' is a non-empty folder that this tool did not write (no meta.json)"),
    # sweeps
    (["hwsim.sweep", "--bits", "4", "--grid", "weight_bits=2,4", "--grid", "weight_bits=8", "--dry-run"],
     "error: --grid names the knob 'weight_bits' twice; give all its values in one --grid weight_bits=A,B,..."),
    (["hwsim.sweep", "--workers", "0"], "error: argument --workers: must be an integer >= 1, not 0"),
]


@pytest.mark.parametrize("args,start", CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_bad_input_is_one_sentence(args, start, place):
    proc = _run(args, place)
    _one_sentence(proc, 2, start)
    assert (place / "a-file").read_text() == "not a folder\n"
    assert (place / "mine" / "notes.txt").read_text() == "the user's work\n"
    assert sorted(p.name for p in place.iterdir()) == ["a-file", "mine"], "a refused command wrote something"


def test_golden_generate_replaces_only_its_own_set(place):
    out = place / "set"
    assert _run(["golden.generate", "--config", "small", "--samples", "2", "--infer", "2", "-o", "set"],
                place).returncode == 0
    first = (out / "meta.json").read_bytes()
    proc = _run(["golden.generate", "--config", "small", "--samples", "3", "--infer", "2", "-o", "set"], place)
    assert proc.returncode == 0, proc.stderr
    assert (out / "meta.json").read_bytes() != first
    assert sorted(p.name for p in place.iterdir()) == ["a-file", "mine", "set"]  # no temp folder left
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o644 for f in out.iterdir())


def test_train_writes_everything_under_out_with_plain_modes(place):
    proc = _run(["hwsim.train", "--bits", "4", "--hidden", "8", "--dataset", "digits8x8", "--epochs", "1",
                 "--with-float", "--no-progress", "--out", "run"], place)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in place.iterdir()) == ["a-file", "mine", "run"]
    files = sorted(str(p.relative_to(place)) for p in (place / "run").rglob("*") if p.is_file())
    assert files == ["run/config.yaml", "run/confusion.json", "run/confusion.png", "run/float/config.yaml",
                     "run/float/confusion.json", "run/float/confusion.png", "run/float/results.json",
                     "run/learning_curve.png", "run/results.json", "run/weights.npz"]
    assert all(stat.S_IMODE((place / f).stat().st_mode) == 0o644 for f in files)
    assert "\r" not in proc.stdout + proc.stderr  # no progress bar drawn into a pipe


def test_closed_pipe_ends_quietly(tmp_path):
    """`python -m hwsim.sweep --list-knobs | head -0`: no BrokenPipeError traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "hwsim.sweep", "--list-knobs"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and err == "", err


def test_run_cli_exit_codes(capsys):
    parser = ArgParser("prog", "Doc line.")

    def interrupted(_args):
        raise KeyboardInterrupt

    assert run_cli(parser, [], interrupted, interrupted="stopped; rerun to resume") == 130
    assert capsys.readouterr().err.strip() == "stopped; rerun to resume"

    def bad(_args):
        raise OutputError("--out 'x' is a file, not a folder; give a folder path")

    assert run_cli(parser, [], bad) == 2
    assert capsys.readouterr().err == "error: --out 'x' is a file, not a folder; give a folder path\n"


def test_read_only_output_is_refused(tmp_path, monkeypatch):
    """Read-only folders (root ignores modes, so the permission check is simulated)."""
    target = tmp_path / "ro"
    target.mkdir()
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != target)
    with pytest.raises(OutputError, match=r"^--out '.*ro' is not writable \('.*ro' is read-only\); choose a folder "
                                          r"you can write$"):
        check_output_dir(target, "--out")
    with pytest.raises(OutputError, match=r"is not writable"):
        check_output_dir(target / "new", "--out")


def test_atomic_writes_get_the_umask_mode(tmp_path):
    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_no_progress_bar_without_a_terminal(monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert progress_bar(True, total=10) is None


def test_sweep_without_a_grid_promises_no_plots(tmp_path):
    """`grid: {}` runs the base point; the closing line names only the reports it wrote."""
    (tmp_path / "spec.yaml").write_text("name: one-point\nbase: {bits: 4, hidden: 8, dataset: digits8x8}\n"
                                        "epochs: 1\nseeds: 1\nfloat_baseline: false\ngrid: {}\n")
    proc = _run(["hwsim.sweep", "spec.yaml", "--backend", "local", "--workers", "1", "--out", "s"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last == "reports: s/summary.md, results.csv, results.json", last  # and no "plots:" line
    assert not (tmp_path / "s" / "plots").exists()
