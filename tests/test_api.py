"""The public API: docs/api.md's worked example runs as written, and `import hwsim` stays light."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import hwsim

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def test_worked_example_runs_and_prints_what_the_doc_says(capsys):
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S).group(1)
    exec(compile(code, str(DOC), "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    printed = re.search(r"It prints.*?```\n(.*?)```", DOC.read_text(), re.S).group(1).splitlines()
    assert lines == printed  # bit-exact: the documented output is the output


def test_every_public_name_resolves():
    for name in hwsim.__all__:
        assert getattr(hwsim, name) is not None, name
    with pytest.raises(AttributeError, match="module 'hwsim' has no attribute 'nope'"):
        hwsim.nope


def test_import_does_not_load_numba():
    out = subprocess.run([sys.executable, "-c", "import sys, hwsim; print('numba' in sys.modules)"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("rounding, values, raw", [
    ("trn", [0.0, 0.49 / 8, 0.5 / 8, 1.5 / 8, 0.999, 2.0, -1.0], [0, 0, 0, 1, 7, 7, 0]),
    ("rnd", [0.5 / 8, 1.5 / 8, 2.5 / 8, 0.999], [1, 2, 3, 7]),
    ("rnd_conv", [0.5 / 8, 1.5 / 8, 2.5 / 8], [0, 2, 2]),
])
def test_float_inputs_round_and_saturate_like_requantize(rounding, values, raw):
    fmt = hwsim.FixedFormat(0, 3, False).with_(rounding=hwsim.formats.Rounding(rounding))
    assert hwsim.quantize_float_inputs(np.array(values), fmt).tolist() == raw


def test_float_inputs_agree_with_pixels_for_every_pixel():
    cfg = hwsim.load_config("small")
    pixels = np.arange(256, dtype=np.uint8)
    assert np.array_equal(hwsim.quantize_float_inputs(pixels / 256.0, cfg.input),
                          hwsim.quantize_inputs(pixels, cfg.input))


def test_nan_inputs_are_refused():
    with pytest.raises(hwsim.ConfigError, match="float inputs must be finite numbers"):
        hwsim.quantize_float_inputs(np.array([np.nan]), hwsim.load_config("small").input)
