"""The compiled pass's disk cache (hwsim.fast.cache): a warm start loads it, and never a wrong one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hwsim.config import config_for_bits, load_config
from hwsim.fast import compiled_kernels
from hwsim.fast.cache import _imported_files, source_digest

# One process: train the small engine on a few samples with each listed layout knob (dots_max_pad),
# report a digest of each engine's state and whether its pass came from the disk cache.
CHILD = """
import hashlib, json, sys, numpy as np
from hwsim.config import load_config
from hwsim.fast import Engine, compiled_kernels
from hwsim.params import initial_weights
cfg = load_config("small")
x = np.random.default_rng(0).integers(0, 256, size=(40, 64))
out = {}
for pad in map(int, sys.argv[1].split(",")):
    eng = Engine(cfg, initial_weights(cfg, 0), dots_max_pad=pad)
    eng.train(x, np.arange(40) % 10)
    h = hashlib.sha256(b"".join(w.tobytes() for w in eng.weights()) + str(eng.rng_word).encode()).hexdigest()
    out[pad] = [h, sum(compiled_kernels(cfg, dots_max_pad=pad).run.stats.cache_hits.values())]
print(json.dumps(out))
"""


def _spawn(cache_dir: Path, pads: str) -> subprocess.Popen:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    return subprocess.Popen([sys.executable, "-c", CHILD, pads], env=env, stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])


def _result(p: subprocess.Popen) -> dict:
    out, _ = p.communicate(timeout=600)
    assert p.returncode == 0
    return json.loads(out.strip().splitlines()[-1])


def test_concurrent_cold_processes_then_a_warm_one_agree(tmp_path):
    """Three processes compile into an empty cache at once, two of them the same pass; each compiles
    first, so numba gives their kernels the same per-process numbers. A fourth loads both passes
    (dots layout, rows layout): each must run its own kernels and equal the cold results."""
    cold = [_spawn(tmp_path, "64"), _spawn(tmp_path, "64"), _spawn(tmp_path, "0")]
    dots1, dots2, rows = [_result(p) for p in cold]
    warm = _result(_spawn(tmp_path, "64,0"))
    assert dots1["64"][1] == dots2["64"][1] == rows["0"][1] == 0
    assert warm["64"][1] == warm["0"][1] == 1, "the warm process compiled again instead of loading the cache"
    assert dots1["64"][0] == dots2["64"][0] == warm["64"][0]
    assert rows["0"][0] == warm["0"][0]


def test_the_key_names_the_config_and_the_knobs():
    small, paper = load_config("small"), config_for_bits(8)
    keys = {compiled_kernels(small).cache_key, compiled_kernels(paper).cache_key,
            compiled_kernels(small, dots_max_pad=0).cache_key, compiled_kernels(paper, vnni=False).cache_key,
            compiled_kernels(paper, simd_rows=False).cache_key, compiled_kernels(paper, sparse_lanes=1).cache_key}
    assert len(keys) == 6
    assert compiled_kernels(small).cache_key == compiled_kernels(load_config("small")).cache_key


def test_the_key_covers_the_imported_sources():
    """Every hwsim module the kernels import is hashed, so editing one invalidates the cache."""
    fast = Path(compiled_kernels.__code__.co_filename).parent
    files = {p.relative_to(fast.parent).as_posix() for p in _imported_files(fast / "plan.py")}
    assert {"config.py", "formats.py", "fast/vnni.py"} <= files
    assert len(source_digest()) == 64
