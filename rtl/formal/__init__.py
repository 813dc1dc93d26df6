"""Formal equivalence of the engine's blocks with their specifications (SymbiYosys, smtbmc, Boolector).

* :mod:`.spec` — each block's contract (docs/engine.md) as plain wide-integer hardware;
* :mod:`.miter` — block and spec side by side, an ``Assert`` that they agree;
* :mod:`.jobs` — the table: block x width x rule;
* :mod:`.sby` — one proof run with the pinned tools; :mod:`.report` — the printed and Markdown table.

``python -m rtl.formal`` (``make formal``) runs the table. The specs are tied to the Python twins
(:mod:`hwsim.twins`) by simulation in tests/test_formal_blocks.py, so twin == spec is tested and
spec == block is proven.
"""

from .jobs import BLOCKS, WIDTHS, Proof, proofs
from .sby import Verdict, run_sby

__all__ = ["BLOCKS", "WIDTHS", "Proof", "proofs", "Verdict", "run_sby"]
