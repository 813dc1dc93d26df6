"""``python -m rtl.formal``: prove each engine block equal to its specification at widths simulation cannot sweep.

Every row of the table (:mod:`rtl.formal.jobs`) is one SymbiYosys job (smtbmc + Boolector): the block
and its spec in a miter, proven for all inputs. Prints block / widths / rule / result / seconds as
each job ends, and OUT/formal.json atomically after each row ("complete": true at the end; then
OUT/formal.md); the jobs' files stay in
OUT/<row>/ (a counterexample's VCD under OUT/<row>/proof/engine_0/).

    python -m rtl.formal                                   # the whole table (240 rows, 8-12 minutes)
    python -m rtl.formal --block mac,requant --width 24    # some rows
    python -m rtl.formal --list                            # the rows, without running them

Exit 0 when every row is proven, 1 when one is not (FAIL, ERROR, UNKNOWN or TIMEOUT); a bad option,
an unusable -o or a missing tool: one sentence, exit 2.
"""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

from hwsim.cli import ArgParser, comma_subset, int_in, int_list, run_cli
from hwsim.fileio import OutputError, check_output_dir, write_json_atomic, write_text_atomic

from ..tools import FlowError, find_tool
from .jobs import BLOCKS, WIDTHS, proofs
from .report import RESULT_FILE, markdown, row_line, table_header
from .sby import SOLVER, run_sby


def _body(args) -> int:
    rows = proofs(args.block or None, args.width or WIDTHS)
    if args.list:
        print(table_header(with_result=False))
        for p in rows:
            print(row_line(p))
        return 0
    out = check_output_dir(args.out, "-o", empty_or_ours=RESULT_FILE)
    for tool in ("sby", "yosys", SOLVER):
        find_tool(tool)
    results, t0 = [], time.monotonic()
    doc = {"solver": SOLVER, "machine": platform.processor() or platform.machine(), "complete": False,
           "total_seconds": 0.0, "rows": results}
    write_json_atomic(out / RESULT_FILE, doc)   # first: marks the folder as ours, even if the run is stopped
    print(table_header(), flush=True)
    for p in rows:
        verdict = run_sby(p.miter(), out / p.name, timeout=args.timeout)
        result = {"block": p.block, "width": p.width, "formats": p.formats, "rule": p.rule, "name": p.name,
                  "result": verdict.status, "seconds": round(verdict.seconds, 2), "detail": verdict.detail}
        results.append(result)
        print(row_line(p, verdict.status, verdict.seconds), flush=True)
        doc["total_seconds"] = round(time.monotonic() - t0, 1)
        write_json_atomic(out / RESULT_FILE, doc)   # the rows so far
    doc["complete"] = True
    write_json_atomic(out / RESULT_FILE, doc)
    write_text_atomic(out / "formal.md", markdown(doc))
    bad = [r for r in results if r["result"] != "PASS"]
    print(f"{len(results) - len(bad)} of {len(results)} proven in {doc['total_seconds']:.0f} s; "
          f"table in {out / RESULT_FILE}", file=sys.stderr)
    for r in bad:
        print(f"{r['name']}: {r['result']} {r['detail']}".rstrip(), file=sys.stderr)
    return 1 if bad else 0


def main(argv=None) -> int:
    parser = ArgParser("python -m rtl.formal", __doc__)
    parser.add_argument("--block", type=comma_subset(tuple(BLOCKS)), default=(),
                        help=f"blocks to prove (comma-separated subset of {','.join(BLOCKS)}; default all)")
    parser.add_argument("--width", type=int_list(min(WIDTHS), max(WIDTHS)), default=(),
                        help=f"widths W (default {','.join(map(str, WIDTHS))})")
    parser.add_argument("--timeout", type=int_in(1, 86400), default=600, help="seconds per proof (default 600)")
    parser.add_argument("-o", "--out", type=Path, default=Path("build/formal"), help="output folder (build/formal)")
    parser.add_argument("--list", action="store_true", help="print the rows and exit")
    return run_cli(parser, argv, _body, errors=(OutputError, FlowError))


if __name__ == "__main__":
    sys.exit(main())
