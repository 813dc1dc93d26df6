"""``python -m hwsim.paper``: a small grid end to end, resuming, the report files, and one-sentence errors."""

import json
import subprocess
import sys

import pytest

from hwsim.paper.__main__ import main

SMALL = ["--tasks", "digits8x8", "--topologies", "64-16-10", "--epochs", "2", "--batch", "50", "--no-progress",
         "--angle-every", "3"]


def test_grid_runs_reports_and_resumes(tmp_path, capsys):
    out = tmp_path / "grid"
    assert main(SMALL + ["--out", str(out), "--algorithms", "bp,drtp,shallow", "--trials", "2"]) == 0
    text = capsys.readouterr().out
    assert "6 runs in the grid, 0 already finished" in text
    assert "DRTP" in text and "shallow" in text and "+-" in text
    assert "DRTP better than shallow: " in text and "DRTP signal within 90 deg of BP: " in text
    runs = sorted((out / "runs").glob("*.json"))
    assert len(runs) == 6
    for name in ("summary.csv", "summary.json", "epochs.csv", "table.txt", "curves_digits8x8_64-16-10.png",
                 "angles_digits8x8_64-16-10.png"):
        assert (out / name).stat().st_size > 0, name
    record = json.loads(runs[0].read_text())
    assert len(record["epochs"]) == 2 and {"train_err", "test_err", "seconds"} <= set(record["epochs"][0])
    stamps = [p.stat().st_mtime_ns for p in runs]
    assert main(SMALL + ["--out", str(out), "--algorithms", "bp,drtp,shallow", "--trials", "2"]) == 0
    assert "6 runs in the grid, 6 already finished" in capsys.readouterr().out
    assert [p.stat().st_mtime_ns for p in runs] == stamps
    assert main(["--out", str(out), "--report-only", "--no-figures"]) == 0


def test_two_grids_sharing_a_folder(tmp_path, capsys):
    """A second grid run last-first (--reverse) over the same folder skips what the first finished."""
    out = tmp_path / "shared"
    args = SMALL + ["--out", str(out), "--algorithms", "bp,drtp", "--no-figures"]
    assert main(args + ["--reverse", "--trials", "1"]) == 0
    first = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")}
    assert main(args + ["--trials", "2"]) == 0
    assert "4 runs in the grid, 2 already finished" in capsys.readouterr().out
    after = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")}
    assert len(after) == 4 and all(after[name] == stamp for name, stamp in first.items())


def test_drtp_records_angles_and_bp_does_not(tmp_path):
    out = tmp_path / "a"
    assert main(SMALL + ["--out", str(out), "--algorithms", "bp,drtp", "--no-figures"]) == 0
    recs = {json.loads(p.read_text())["spec"]["algorithm"]: json.loads(p.read_text())
            for p in (out / "runs").glob("*.json")}
    assert "angles" not in recs["bp"]["epochs"][0]
    signal, update = recs["drtp"]["epochs"][-1]["angles"]["0"]
    assert 0 <= signal <= 180 and 0 <= update <= 180


def test_conv_net_runs(tmp_path):
    out = tmp_path / "c"
    assert main(["--tasks", "digits8x8", "--topologies", "8x8-4c3-2p-16-10", "--epochs", "1", "--algorithms",
                 "bp,fa,drtp", "--train-conv", "--no-progress", "--no-figures", "--out", str(out)]) == 0
    assert len(list((out / "runs").glob("*.json"))) == 3


@pytest.mark.parametrize("args, words", [
    (["--tasks", "svhn", "--topologies", "64-10"], "error: data set must be one of regression, classification"),
    (["--tasks", "digits8x8", "--topologies", "784-500-10"],
     "error: topology '784-500-10' takes inputs of shape (784,), but data set 'digits8x8' has inputs of shape "
     "(1, 8, 8)"),
    (["--tasks", "digits8x8", "--topologies", "64-16-5"], "has 5 outputs, but data set 'digits8x8' has 10 classes"),
    (["--tasks", "digits8x8", "--topologies", "64-x-10"], "error: topology '64-x-10' has a token 'x'"),
    (["--tasks", "digits8x8", "--topologies", "64-10", "--algorithms", "bp,hebb"],
     "error: algorithm must be one of bp, fa, dfa, sdfa, drtp, shallow, not 'hebb'"),
    (["--tasks", "digits8x8", "--topologies", "64-10", "--lr", "bp=fast"],
     "error: --lr must be a number or a list like bp=1,drtp=1e-3, not 'fast'"),
    (["--tasks", "digits8x8", "--topologies", "64-10", "--lr", "xx=1"], "error: --lr names algorithm 'xx'"),
    (["--tasks", "digits8x8", "--topologies", "64-10", "--init", "orthogonal"],
     "error: --init must be one of default, he, zero, not 'orthogonal'"),
    (["--tasks", "digits8x8", "--topologies", "64-10", "--loss", "hinge"], "error: loss must be one of bce, ce, mse"),
    (["--tasks", "digits8x8", "--topologies", "64-10", "--output-act", "none"],
     "error: loss bce needs output activation sigmoid"),
    (["--tasks", "digits8x8", "--topologies", "64-10", "--scaling", "odd"],
     "error: scaling must be one of paper, consistent, not 'odd'"),
    (["--tasks", "digits8x8", "--topologies", "64-10", "--epochs", "0"], "error: epochs must be an integer >= 1"),
    (["--tasks", "digits8x8", "--topologies", "64-10", "--trials", "0"], "error: trials must be an integer >= 1"),
    (["--tasks", "digits8x8", "--topologies", "64-10", "--dropout", "1.5"],
     "error: dropout must be a probability in [0, 1), not 1.5"),
    (["--tasks", "regression", "--topologies", "256-10", "--loss", "bce", "--output-act", "sigmoid"],
     "error: the regression task needs loss mse, not 'bce'"),
    (["--tasks", "mnist", "--topologies", "784-10", "--data-dir", "/nonexistent/mnist"], "error: "),
    (["--preset", "imagenet"], "error: preset must be one of synthetic, table, cnn-mnist, cifar10, not 'imagenet'"),
    (["--epochs", "3"], "error: give --preset, or both --tasks and --topologies"),
])
def test_errors_are_one_sentence_exit_2(args, words, tmp_path, capsys):
    assert main(args + ["--out", str(tmp_path / "e"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert words in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_module_entry_point_exit_code_and_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "hwsim.paper", "--tasks", "digits8x8", "--topologies", "64-7",
                           "--out", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: topology '64-7' has 7 outputs") and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_drtp_learns_beats_shallow_and_aligns_with_bp(tmp_path, capsys):
    """MNIST 5k subset, 784-200-10, 8 epochs: DRTP well above shallow, hidden signal within 90 deg of BP."""
    out = tmp_path / "learn"
    assert main(["--tasks", "mnist5k", "--topologies", "784-200-10", "--epochs", "8", "--algorithms",
                 "drtp,shallow", "--scaling", "consistent", "--angle-every", "10", "--no-progress", "--no-figures",
                 "--out", str(out)]) == 0
    recs = {json.loads(p.read_text())["spec"]["algorithm"]: json.loads(p.read_text())
            for p in (out / "runs").glob("*.json")}
    drtp, shallow = recs["drtp"]["epochs"][-1], recs["shallow"]["epochs"][-1]
    assert drtp["test_err"] < 11
    assert drtp["test_err"] < shallow["test_err"] - 1
    assert drtp["angles"]["0"][0] < 90
