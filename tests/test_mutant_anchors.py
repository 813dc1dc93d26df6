"""The hand-made mutants of cocotb_tests/mutate.py still apply: every edit's anchor text occurs exactly once.

A refactor of rtl/ that moves an anchor makes its mutant *stale* (reported, never run), which only
``make mutate`` would show; this catches it in ``make test``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _mutants():
    sys.path.insert(0, str(ROOT / "cocotb_tests"))
    try:
        spec = importlib.util.spec_from_file_location("mutate", ROOT / "cocotb_tests" / "mutate.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["mutate"] = module
        spec.loader.exec_module(module)
        return module.MUTANTS
    finally:
        sys.path.pop(0)


MUTANTS = _mutants()


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_every_anchor_occurs_once(mutant):
    for path, old, new in mutant.edits:
        assert (ROOT / path).read_text().count(old) == 1, f"{mutant.name}: {path} holds {old!r} not exactly once"
        assert old != new, f"{mutant.name}: an edit that changes nothing"
