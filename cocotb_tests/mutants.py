"""Generated mutants: small edits of the hardware description in rtl/, found by walking its Python AST.

Each mutant is one source splice (the replaced node's text, from its AST position, becomes the
parenthesised text of the mutated node), with a stable id ``<file>:<line>:<col>:<class>:<edit>``,
so a run is reproducible and ``mutate.py --only ID`` reruns one. The classes:

========== ==========================================================================================
operator   arithmetic / logic operator replaced (``+``->``-``, ``&``->``|``, ``<<``->``>>``), a unary
           ``-`` / ``~`` removed, a comparison's boundary moved (``<``->``<=``) or negated (``==``->``!=``)
constant   an integer literal +1 / -1
width      a width one bit narrower: the argument of ``unsigned``, ``signed``, ``Shape``, ``Signal(n)``,
           ``Const(v, n)``, ``.replicate(n)`` minus 1; ``index_shape(n)`` -> ``index_shape(2 ** (its width - 1))``
enable     an enable stuck at 0 or 1 (``m.If`` / ``m.Elif`` conditions; ``.eq`` of a ``*en``, ``*we``,
           ``*re``, ``*valid``, ``*advance``, ``*start*``, ``*next``, ``*clear`` target); a term of an
           ``&`` / ``|`` dropped
off_by_one a slice bound or a (non-constant) index +1 / -1; ``range(n)`` -> ``range(n - 1)``
swap       operands swapped: ``Mux`` arms, ``Cat``'s first two parts, a non-commutative operator's or
           a comparison's sides, ``saturate`` / ``inside`` bounds
statement  one assignment of an ``m.d.<domain> +=`` dropped
domain     ``m.d.sync +=`` <-> ``m.d.comb +=`` (a register added or lost)
========== ==========================================================================================

Not mutated: what is not hardware (docstrings, imports, ``__all__``, ``raise`` / ``assert``, signal and
submodule names, RAM synthesis attributes, function signatures' defaults, the reporting half of
rtl/schedule.py) and the files that are tools, not hardware (:data:`SKIP_FILES`).
"""

from __future__ import annotations

import ast
import random
import re
import shutil
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["GenMutant", "CLASSES", "HARDWARE_FILES", "generate", "select", "apply", "make_tree"]

ROOT = Path(__file__).resolve().parent.parent
CLASSES = ("operator", "constant", "width", "enable", "off_by_one", "swap", "statement", "domain")
SKIP_FILES = {"rtl/__init__.py", "rtl/flows.py", "rtl/generate.py", "rtl/testbench.py", "rtl/tools.py"}
"""rtl/ files that are tools around the hardware (and the folders estimate/, lint/ are not walked)."""
SKIP_FUNCTIONS = {"rtl/schedule.py": {"phases", "cycles", "scaling_formula"}}
"""Functions that only report (the manifest's cycle formula), not build, hardware."""
SKIP_NAMES = {"__all__", "RAM_ATTRS"}
"""Module-level assignments that are not hardware (RAM_ATTRS only tells synthesis it may skip bypass logic)."""
SKIP_KEYWORDS = {"name", "attrs", "origin"}
WIDTH_CALLS = {"unsigned", "signed", "Shape"}
ENABLE_NAME = re.compile(r"(^|_)(en|we|re|valid|advance|start|next|clear)(_|$)|^(en|we|re)$|(_en|_we|_re)$")

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^",
           ast.LShift: "<<", ast.RShift: ">>", ast.FloorDiv: "//", ast.Mod: "%"}
_BINOP_SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Add, ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd,
               ast.BitXor: ast.BitOr, ast.LShift: ast.RShift, ast.RShift: ast.LShift, ast.FloorDiv: ast.Mult,
               ast.Mod: ast.FloorDiv}
_NON_COMMUTATIVE = (ast.Sub, ast.LShift, ast.RShift, ast.FloorDiv, ast.Mod)
_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_CMP_SWAP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
             ast.NotEq: ast.Eq}


@dataclass(frozen=True)
class GenMutant:
    """One generated edit of one file: bytes ``start:end`` of ``file`` become ``new``."""

    id: str
    file: str          # relative to the repository
    line: int
    col: int
    cls: str           # one of CLASSES
    edit: str          # short name of the replacement, part of the id
    old: str
    new: str
    start: int         # byte offsets into the file
    end: int
    desc: str = ""     # what the edit does, when ``old -> new`` does not say it shortly

    @property
    def what(self) -> str:
        return f"{self.file}:{self.line}: " + (self.desc or f"{_short(self.old)} -> {_short(self.new)}")

    def to_dict(self) -> dict:
        return {**asdict(self), "what": self.what}


def _short(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _name_of(node: ast.AST) -> str:
    """The last name of ``a.b.c`` / ``c`` / ``x[i].c`` (an assignment target), or ''."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Subscript):
        return _name_of(node.value)
    return ""


def _func_name(call: ast.Call) -> str:
    return _name_of(call.func)


def _is_int(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int


def _is_domain(node: ast.AST) -> str | None:
    """``m.d.sync`` / ``m.d.comb`` -> the domain name."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr == "d" \
            and node.attr in ("sync", "comb"):
        return node.attr
    return None


class _Walker(ast.NodeVisitor):
    def __init__(self, rel: str, source: bytes):
        self.rel, self.source = rel, source
        self.line_starts = [0]
        for n, byte in enumerate(source):
            if byte == 0x0A:
                self.line_starts.append(n + 1)
        self.found: list[GenMutant] = []
        self.width_args: set[int] = set()     # ids of constants already mutated as widths

    # -- emitting -----------------------------------------------------------------------------
    def _span(self, node: ast.AST) -> tuple[int, int]:
        return (self.line_starts[node.lineno - 1] + node.col_offset,
                self.line_starts[node.end_lineno - 1] + node.end_col_offset)

    def text(self, node: ast.AST) -> str:
        a, b = self._span(node)
        return self.source[a:b].decode()

    def emit(self, node: ast.AST, cls: str, edit: str, new: str, paren: bool = True, desc: str = "") -> None:
        start, end = self._span(node)
        old = self.source[start:end].decode()
        if new == old:
            return
        self.found.append(GenMutant(f"{self.rel}:{node.lineno}:{node.col_offset}:{cls}:{edit}", self.rel,
                                    node.lineno, node.col_offset, cls, edit, old,
                                    f"({new})" if paren else new, start, end, desc))

    def emit_node(self, node: ast.AST, cls: str, edit: str, new: ast.AST) -> None:
        self.emit(node, cls, edit, ast.unparse(new))

    # -- contexts that are not hardware ---------------------------------------------------------
    def visit_Import(self, node):
        pass

    visit_ImportFrom = visit_Import
    visit_Raise = visit_Import
    visit_Assert = visit_Import
    visit_JoinedStr = visit_Import

    def visit_FunctionDef(self, node):
        if node.name in SKIP_FUNCTIONS.get(self.rel, ()):
            return
        for stmt in node.body:             # not the decorators, annotations or defaults
            self.visit(stmt)

    def visit_ClassDef(self, node):
        if self.rel == "rtl/schedule.py" and node.name == "Phase":
            return
        for stmt in node.body:
            self.visit(stmt)

    def visit_Assign(self, node):
        if any(isinstance(t, ast.Name) and t.id in SKIP_NAMES for t in node.targets):
            return
        self.visit(node.value)

    def visit_AnnAssign(self, node):
        if node.value is not None:
            self.visit(node.value)

    def visit_keyword(self, node):
        if node.arg not in SKIP_KEYWORDS:
            self.visit(node.value)

    def visit_Subscript(self, node):
        if _name_of(node.value) == "submodules":      # m.submodules[...] names a submodule
            self.visit(node.value)
            return
        sl = node.slice
        if isinstance(sl, ast.Slice):
            for bound, which in ((sl.lower, "lo"), (sl.upper, "hi"), (sl.step, None)):
                if bound is not None and which and not _is_int(bound) and isinstance(node.ctx, ast.Load):
                    for d in (1, -1):
                        self._off(node, bound, f"{which}{d:+d}", d)
        elif not _is_int(sl) and not isinstance(sl, (ast.Constant, ast.Tuple)) and isinstance(node.ctx, ast.Load):
            for d in (1, -1):
                self._off(node, sl, f"idx{d:+d}", d)
        self.generic_visit(node)

    def _off(self, node: ast.Subscript, part: ast.AST, edit: str, d: int) -> None:
        new = f"{self.text(part)} {'+' if d > 0 else '-'} 1"
        self.emit(part, "off_by_one", edit, new, desc=f"in {_short(self.text(node), 60)}: {self.text(part)} -> {new}")

    # -- statements ----------------------------------------------------------------------------
    def visit_AugAssign(self, node):
        dom = _is_domain(node.target)
        if dom and isinstance(node.op, ast.Add):
            other = "comb" if dom == "sync" else "sync"
            self.emit(node.target, "domain", f"{dom}-{other}", self.text(node.target)[:-len(dom)] + other,
                      paren=False)
            items = node.value.elts if isinstance(node.value, ast.List) else None
            if items and len(items) > 1:
                for i in range(len(items)):
                    rest = [self.text(e) for j, e in enumerate(items) if j != i]
                    self.emit(node.value, "statement", f"drop{i}", "[" + ", ".join(rest) + "]", paren=False,
                              desc=f"m.d.{dom} += {_short(self.text(items[i]))} dropped")
            else:
                self.emit(node, "statement", "drop", "pass", paren=False,
                          desc=f"{_short(self.text(node))} dropped")
        self.visit(node.value)

    def visit_With(self, node):
        for item in node.items:
            call = item.context_expr
            if isinstance(call, ast.Call) and _func_name(call) in ("If", "Elif") and call.args:
                self.emit(call.args[0], "enable", "stuck1", "1", paren=False)
        self.generic_visit(node)

    # -- expressions ---------------------------------------------------------------------------
    def visit_BinOp(self, node):
        op = type(node.op)
        if op in _BINOP_SWAP:
            new = _BINOP_SWAP[op]
            self.emit_node(node, "operator", f"{op.__name__}-{new.__name__}",
                           ast.BinOp(node.left, new(), node.right))
        if op in _NON_COMMUTATIVE:
            self.emit_node(node, "swap", "operands", ast.BinOp(node.right, node.op, node.left))
        if op in (ast.BitAnd, ast.BitOr):
            self.emit(node, "enable", "keep-left", self.text(node.left))
            self.emit(node, "enable", "keep-right", self.text(node.right))
        self.generic_visit(node)

    def visit_UnaryOp(self, node):
        if isinstance(node.op, (ast.USub, ast.Invert, ast.Not)) and not _is_int(node.operand):
            self.emit(node, "operator", f"drop-{type(node.op).__name__}", self.text(node.operand))
        self.generic_visit(node)

    def visit_Compare(self, node):
        if len(node.ops) == 1:
            op = type(node.ops[0])
            if op in _CMP_SWAP:
                new = _CMP_SWAP[op]
                self.emit_node(node, "operator", f"{op.__name__}-{new.__name__}",
                               ast.Compare(node.left, [new()], node.comparators))
                if op not in (ast.Eq, ast.NotEq):
                    self.emit_node(node, "swap", "operands", ast.Compare(node.comparators[0], node.ops,
                                                                          [node.left]))
        self.generic_visit(node)

    def visit_Call(self, node):
        name = _func_name(node)
        args = node.args
        if name == "index_shape" and args:
            # index_shape(n) is ceil(log2(n)) bits: n - 1 is mostly the same width, so ask for one bit less
            self.emit(args[0], "width", "minus1bit", f"1 << (index_shape({self.text(args[0])}).width - 1)",
                      desc=f"{_short(self.text(node))} one bit narrower")
        elif name in WIDTH_CALLS and args:
            self._width(args[0])
        elif name == "Signal" and args and _is_int(args[0]):
            self._width(args[0])
        elif name == "Const" and len(args) >= 2:
            self._width(args[1])
        elif name == "replicate" and args:
            self._width(args[0])
        if name == "Mux" and len(args) == 3:
            self.emit(node, "swap", "mux-arms",
                      f"{self.text(node.func)}({self.text(args[0])}, {self.text(args[2])}, {self.text(args[1])})")
        if name == "Cat" and len(args) >= 2 and not any(isinstance(a, ast.Starred) for a in args[:2]):
            parts = [self.text(a) for a in args]
            parts[0], parts[1] = parts[1], parts[0]
            self.emit(node, "swap", "cat-parts", f"{self.text(node.func)}({', '.join(parts)})")
        if name in ("saturate", "inside") and len(args) >= 3:
            parts = [self.text(a) for a in args]
            parts[1], parts[2] = parts[2], parts[1]
            self.emit(node, "swap", "bounds", f"{self.text(node.func)}({', '.join(parts)})")
        if name == "range" and len(args) == 1:
            self.emit(args[0], "off_by_one", "range-1", f"{self.text(args[0])} - 1")
        if name == "eq" and len(args) == 1 and isinstance(node.func, ast.Attribute):
            target = _name_of(node.func.value)
            if ENABLE_NAME.search(target):
                for v in ("0", "1"):
                    if not (_is_int(args[0]) and str(args[0].value) == v):
                        self.emit(args[0], "enable", f"stuck{v}", v, paren=False)
        self.generic_visit(node)

    def _width(self, arg: ast.AST) -> None:
        if _is_int(arg):
            self.width_args.add(id(arg))
            if arg.value <= 1:
                return
        self.emit(arg, "width", "minus1", f"{self.text(arg)} - 1")

    def visit_Constant(self, node):
        if type(node.value) is not int or id(node) in self.width_args:
            return
        for d in (1, -1):
            v = node.value + d
            if v >= 0:
                self.emit(node, "constant", f"{d:+d}", str(v), paren=False)


def hardware_files(root: Path = ROOT) -> list[str]:
    """The rtl/*.py files that describe hardware, relative to ``root``, sorted."""
    return sorted(str(p.relative_to(root)) for p in (root / "rtl").glob("*.py")
                  if str(p.relative_to(root)) not in SKIP_FILES)


HARDWARE_FILES = hardware_files()


def generate(root: Path = ROOT, files: Iterable[str] | None = None) -> list[GenMutant]:
    """Every candidate mutant of the hardware files under ``root``, in file and position order."""
    out: list[GenMutant] = []
    for rel in files or hardware_files(root):
        source = (root / rel).read_bytes()
        walker = _Walker(rel, source)
        walker.visit(ast.parse(source, filename=rel))
        out.extend(sorted(walker.found, key=lambda m: (m.start, m.end, m.cls, m.edit)))
    seen: dict[str, int] = {}
    unique = []
    for m in out:
        n = seen.get(m.id, 0)
        seen[m.id] = n + 1
        unique.append(m if not n else GenMutant(**{**asdict(m), "id": f"{m.id}#{n}"}))
    return unique


def select(mutants: list[GenMutant], count: int, seed: int) -> list[GenMutant]:
    """``count`` mutants drawn with ``seed``, balanced over the classes (round robin over shuffled classes).

    Depends only on the ids and the seed, so the same source tree gives the same selection.
    """
    by_cls = {c: sorted((m for m in mutants if m.cls == c), key=lambda m: m.id) for c in CLASSES}
    rng = random.Random(seed)
    for c in CLASSES:
        rng.shuffle(by_cls[c])
    picked: list[GenMutant] = []
    while len(picked) < min(count, len(mutants)):
        for c in CLASSES:
            if by_cls[c] and len(picked) < count:
                picked.append(by_cls[c].pop())
    return sorted(picked, key=lambda m: (m.file, m.start, m.id))


def apply(source: bytes, mutant: GenMutant) -> bytes:
    """``source`` with the mutant's splice (the source must be the one the mutant was generated from)."""
    old = source[mutant.start:mutant.end].decode()
    if old != mutant.old:
        raise ValueError(f"{mutant.id}: {mutant.file} no longer holds {mutant.old!r} there")
    return source[:mutant.start] + mutant.new.encode() + source[mutant.end:]


def make_tree(dst: Path, edits: Iterable[tuple[str, bytes]] = (), root: Path = ROOT) -> Path:
    """A copy of ``root``'s rtl/ and hwsim/ in ``dst/src`` with files replaced by ``edits`` ((rel, bytes))."""
    src = dst / "src"
    if src.exists():
        shutil.rmtree(src)
    for pkg in ("rtl", "hwsim"):
        shutil.copytree(root / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    for rel, data in edits:
        (src / rel).write_bytes(data)
    return src
