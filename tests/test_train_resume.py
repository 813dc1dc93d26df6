"""Saved runs: resuming is bit-identical to one longer run; evaluation reads and writes nothing; bad runs are one sentence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hwsim.train import main

SMALL = ["--config", "small", "--no-progress"]


def _weights(path):
    with np.load(path / "weights.npz") as z:
        return {k: np.array(z[k]) for k in z.files}


def test_two_then_two_epochs_equal_four(tmp_path, capsys):
    assert main([*SMALL, "--epochs", "4", "--out", str(tmp_path / "whole")]) == 0
    assert main([*SMALL, "--epochs", "2", "--out", str(tmp_path / "split")]) == 0
    assert main(["--resume", str(tmp_path / "split"), "--epochs", "2", "--no-progress"]) == 0
    whole, split = _weights(tmp_path / "whole"), _weights(tmp_path / "split")
    assert whole.keys() == split.keys() and all(np.array_equal(whole[k], split[k]) for k in whole)
    a = json.loads((tmp_path / "whole" / "results.json").read_text())
    b = json.loads((tmp_path / "split" / "results.json").read_text())
    assert b["epochs"] == a["epochs"] == 4
    for key in ("train_acc", "test_acc", "online_acc"):
        assert a[key] == b[key], key
    out = capsys.readouterr().out
    assert f"resuming {tmp_path / 'split'} after epoch 2" in out and "epoch   4/4" in out


def test_profile_flag_prints_the_table_and_writes_its_files(tmp_path, capsys):
    assert main([*SMALL, "--epochs", "1", "--profile", "50", "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "numerical profile of small on digits8x8: 50 samples (training)" in out and "most saturating:" in out
    assert (tmp_path / "run" / "profile.png").stat().st_size > 1000
    assert json.loads((tmp_path / "run" / "profile.json").read_text())


def test_eval_only_reports_the_saved_accuracy_and_writes_nothing(tmp_path, capsys):
    run = tmp_path / "run"
    assert main([*SMALL, "--epochs", "1", "--out", str(run)]) == 0
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    capsys.readouterr()
    assert main(["--eval-only", str(run)]) == 0
    test_acc = json.loads((run / "results.json").read_text())["test_acc"][-1]
    assert f"test {100 * test_acc:.2f}%" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


@pytest.mark.parametrize("extra, message", [
    (["--bits", "8"], "--resume takes the engine, seed and data set from the saved run, so --bits cannot be given"),
    (["--seed", "3"], "--resume takes the engine, seed and data set from the saved run, so --seed cannot be given"),
    (["--with-float"], "--resume takes the engine, seed and data set from the saved run, so --with-float cannot"),
])
def test_resume_refuses_what_the_run_already_fixes(extra, message, tmp_path, capsys):
    (tmp_path / "run").mkdir()
    assert main(["--resume", str(tmp_path / "run"), *extra]) == 2
    assert capsys.readouterr().err.startswith(f"error: {message}")


@pytest.mark.parametrize("setup, message", [
    (lambda run: None, "has no config.yaml"),
    (lambda run: (run / "config.yaml").write_text("x: 1\n"), "has no results.json"),
])
def test_bad_run_folder_is_one_sentence(setup, message, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    setup(run)
    assert main(["--eval-only", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_edited_config_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    assert main([*SMALL, "--epochs", "1", "--out", str(run)]) == 0
    (run / "config.yaml").write_text((run / "config.yaml").read_text().replace("epochs: 10", "epochs: 11"))
    capsys.readouterr()
    assert main(["--resume", str(run)]) == 2
    assert "config.yaml does not match results.json" in capsys.readouterr().err


def test_a_list_of_widths_runs_the_sweep(tmp_path, capsys):
    code = main(["--bits", "3..4", "--hidden", "8", "--dataset", "digits8x8", "--epochs", "1", "--no-progress",
                 "--out", str(tmp_path / "sweep")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "accuracy vs precision: 2 widths (3,4) through python -m hwsim.sweep" in out
    assert f"plots: {tmp_path / 'sweep' / 'plots' / 'acc_vs_bits.png'}" in out
    assert (tmp_path / "sweep" / "plots" / "acc_vs_bits.png").stat().st_size > 1000


@pytest.mark.parametrize("bits", ["1,8", "2..30", "8..4", "4,x"])
def test_bad_width_lists(bits, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--bits", bits])
    assert exc.value.code == 2
    assert capsys.readouterr().err == (f"error: argument --bits: must be integers in 2..24 like 8, 4,6,8 or 2..16, "
                                       f"not {bits!r} (see --help)\n")
