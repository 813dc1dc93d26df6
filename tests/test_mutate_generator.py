"""The mutant generator of ``make mutate`` (cocotb_tests/mutants.py) and its tier-1 classification.

Fast: the ids are stable, there are enough mutants of every class, a selection is reproducible, a
mutant edits a copy and never the real tree. Slow (a few small Amaranth simulations): an unmutated
copy passes tier 1, a real bug is caught and a design that does not elaborate is *invalid*.
"""

from __future__ import annotations

import ast
import hashlib
import subprocess
import sys
from pathlib import Path

import mutants as gen  # cocotb_tests/ is on pytest's pythonpath (pyproject.toml)
import mutate
import pytest

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "cocotb_tests"


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for f in sorted((root / "rtl").rglob("*.py")):
        h.update(f.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def candidates():
    return gen.generate()


def test_ids_are_stable_and_unique(candidates):
    again = gen.generate()
    assert [m.id for m in candidates] == [m.id for m in again]
    assert len({m.id for m in candidates}) == len(candidates)
    for m in candidates[:50]:
        file, line, col, cls, edit = m.id.split("#")[0].split(":")
        assert (file, int(line), int(col), cls) == (m.file, m.line, m.col, m.cls) and edit == m.edit


def test_enough_mutants_of_every_class(candidates):
    assert len(candidates) >= 100
    counts = {c: sum(m.cls == c for m in candidates) for c in gen.CLASSES}
    assert all(n >= 15 for n in counts.values()), counts


def test_only_hardware_files_are_mutated(candidates):
    files = {m.file for m in candidates}
    assert files <= set(gen.HARDWARE_FILES)
    assert not files & gen.SKIP_FILES
    assert {"rtl/layer.py", "rtl/engine.py", "rtl/arith.py", "rtl/mac.py", "rtl/update.py"} <= files
    # docstrings, names and error messages are never touched
    assert not any(m.old.startswith(('"', "'", "f'", 'f"')) for m in candidates)


def test_selection_is_reproducible_and_balanced(candidates):
    a, b = gen.select(candidates, 120, 2026), gen.select(candidates, 120, 2026)
    assert [m.id for m in a] == [m.id for m in b] and len(a) == 120
    assert [m.id for m in gen.select(candidates, 120, 7)] != [m.id for m in a]
    per = [sum(m.cls == c for m in a) for c in gen.CLASSES]
    assert max(per) - min(per) <= 1


def test_mutants_parse_and_change_their_file(candidates):
    """The default selection and every 8th candidate (parsing all 1,600 takes 10-20 s)."""
    sources = {f: (ROOT / f).read_bytes() for f in gen.HARDWARE_FILES}
    chosen = {m.id: m for m in gen.select(candidates, mutate.DEFAULT_COUNT, mutate.DEFAULT_SEED)}
    chosen.update((m.id, m) for m in candidates[::8])
    for m in chosen.values():
        new = gen.apply(sources[m.file], m)
        assert new != sources[m.file], m.id
        ast.parse(new)


def test_the_copy_is_mutated_and_the_source_untouched(candidates, tmp_path):
    m = next(c for c in candidates if c.file == "rtl/mac.py" and c.cls == "operator")
    before = _digest(ROOT)
    job = mutate.generated_job(m)
    src = gen.make_tree(tmp_path, job.edits)
    assert _digest(ROOT) == before
    copy, real = (src / m.file).read_bytes(), (ROOT / m.file).read_bytes()
    assert copy != real and copy == gen.apply(real, m)
    assert (src / "rtl" / "layer.py").read_bytes() == (ROOT / "rtl" / "layer.py").read_bytes()
    assert (src / "hwsim" / "reference.py").is_file()


def test_a_stale_source_is_refused(candidates):
    m = candidates[0]
    with pytest.raises(ValueError, match="no longer holds"):
        gen.apply(b"#" + (ROOT / m.file).read_bytes(), m)


def test_unknown_id_is_one_sentence(capsys):
    assert mutate.main(["--only", "rtl/nothing.py:1:0:operator:Add-Sub", "--list"]) == 2
    assert capsys.readouterr().err.strip() == \
        "error: --only: no mutant has the id 'rtl/nothing.py:1:0:operator:Add-Sub'; see --list"


# -- tier 1 on one small case: pass, caught, invalid ---------------------------------------------
CASE = "columns-equal-lanes"
# o_acc is driven from sync in MacLanes.elaborate: a comb driver as well does not elaborate
INVALID_EDIT = ("rtl/mac.py", "        return m\n", "        m.d.comb += self.o_acc.eq(0)\n        return m\n")


@pytest.fixture(scope="module")
def expect(tmp_path_factory):
    out = tmp_path_factory.mktemp("mutate") / "expect.json"
    subprocess.run([sys.executable, str(HERE / "mutant_pysim.py"), "expect", "-o", str(out), "--cases", CASE],
                   cwd=ROOT, check=True)
    return out


def _tier1(tmp_path, expect, edits=(), simulate_all=False) -> dict:
    return mutate.pysim_tier(gen.make_tree(tmp_path, edits), expect, timeout=300, cases=CASE,
                             simulate_all=simulate_all)


@pytest.mark.slow
def test_tier1_unmutated_passes(tmp_path, expect):
    assert _tier1(tmp_path, expect, simulate_all=True)["status"] == "pass"


def test_tier1_same_netlist_is_equivalent(tmp_path, expect):
    """An edit that changes no hardware (here: a comment) gives the unmutated netlist: nothing to simulate."""
    text = (ROOT / "rtl" / "mac.py").read_text()
    r = _tier1(tmp_path, expect, (("rtl/mac.py", (text + "\n# a comment\n").encode()),))
    assert r["status"] == "equivalent", r


@pytest.mark.slow
def test_tier1_catches_a_bug(tmp_path, expect):
    job = mutate.handmade_job(next(m for m in mutate.MUTANTS if m.name == "acc_not_cleared"))
    r = _tier1(tmp_path, expect, job.edits)
    assert r["status"] == "caught" and r["bench"] == f"pysim:{CASE}"
    assert r["detail"].startswith(f"{CASE} sample 0: ")


@pytest.mark.slow
def test_tier1_a_design_that_does_not_elaborate_is_invalid(tmp_path, expect):
    rel, old, new = INVALID_EDIT
    text = (ROOT / rel).read_text()
    assert text.count(old) == 1, f"{rel} changed: update INVALID_EDIT"
    r = _tier1(tmp_path, expect, ((rel, text.replace(old, new).encode()),))
    assert r["status"] == "invalid", r
    assert "DriverConflict" in r["detail"] or "driven from" in r["detail"], r["detail"]
