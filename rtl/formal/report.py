"""How the proof table is printed: one text line per row as it finishes, and Markdown for docs/verification.md."""

from __future__ import annotations

from collections import defaultdict

from .jobs import Proof

__all__ = ["RESULT_FILE", "table_header", "row_line", "markdown"]

RESULT_FILE = "formal.json"
"""The result table in the output folder; its presence marks the folder as one this tool wrote."""

_COLUMNS = "{:<13} {:>3}  {:<28} {:<40} {:<7} {:>7}"


def table_header(with_result: bool = True) -> str:
    cols = ("block", "W", "formats", "rule") + (("result", "seconds") if with_result else ("", ""))
    return _COLUMNS.format(*cols).rstrip()


def row_line(p: Proof, result: str = "", seconds: float | None = None) -> str:
    return _COLUMNS.format(p.block, p.width, p.formats, p.rule, result,
                           "" if seconds is None else f"{seconds:.1f}").rstrip()


def markdown(doc: dict) -> str:
    """Two tables: per block and width (rows, all proven?, seconds), then every row."""
    groups: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for r in doc["rows"]:
        groups[(r["block"], r["width"])].append(r)
    lines = [f"Solver: smtbmc + {doc['solver']}; {len(doc['rows'])} proofs in {doc['total_seconds']:.0f} s "
             f"on {doc['machine']}.", "",
             "| block | W | rules | proven | total s | slowest s |", "|---|---:|---:|---:|---:|---:|"]
    for (block, width), rows in groups.items():
        proven = sum(r["result"] == "PASS" for r in rows)
        lines.append(f"| {block} | {width} | {len(rows)} | {proven} | {sum(r['seconds'] for r in rows):.1f} | "
                     f"{max(r['seconds'] for r in rows):.1f} |")
    lines += ["", "| block | W | formats | rule | result | s |", "|---|---:|---|---|---|---:|"]
    for r in doc["rows"]:
        lines.append(f"| {r['block']} | {r['width']} | `{r['formats']}` | {r['rule']} | {r['result']} | "
                     f"{r['seconds']:.1f} |")
    return "\n".join(lines) + "\n"
