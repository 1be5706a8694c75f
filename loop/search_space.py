"""The search space declared on UPPERCASE constants of the mutable files.

    LR = 3e-4  # search: log(1e-5, 1e-2)
    BATCH_SIZE = 16  # search: choice(8, 16, 32)

Grammar: `log(lo, hi)` | `float(lo, hi)` | `int(lo, hi)` | `choice(a, b, ...)` with Python
literals. `ast` finds the module-level assignment and the exact span of its value, so an
edit replaces only the value and keeps the rest of the line (the comment included).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gg_research.ggnet.sources import AST_LOCK
from gg_research.loop.errors import ProposerError

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

_SPEC = re.compile(r"#\s*search:\s*(log|float|int|choice)\s*\((.*)\)\s*$")
_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


@dataclass(frozen=True)
class Param:
    key: str  # NAME, or path:NAME when two files declare the same name
    name: str
    path: str
    kind: str  # log | float | int | choice
    args: tuple[Any, ...]
    value: Any  # current value in the file
    line: str  # the whole current line (an edit's search text)
    col: int  # value span on the line
    end_col: int

    def distribution(self) -> BaseDistribution:
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "choice":
            return CategoricalDistribution(list(self.args))
        if self.kind == "int":
            return IntDistribution(int(self.args[0]), int(self.args[1]))
        return FloatDistribution(float(self.args[0]), float(self.args[1]), log=self.kind == "log")

    def contains(self, value: Any) -> bool:
        if self.kind == "choice":
            return value in self.args
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return bool(self.args[0] <= value <= self.args[1])

    def render(self, value: Any) -> str:
        if self.kind == "int":
            return str(int(value))
        if self.kind in ("log", "float"):
            return f"{float(value):.3g}" if self.kind == "log" else repr(round(float(value), 4))
        return repr(value)

    def replaced_line(self, value: Any) -> str:
        return self.line[: self.col] + self.render(value) + self.line[self.end_col :]


def parse_file(path: str, text: str) -> list[Param]:
    """The annotated constants of one file; a malformed annotation is a ProposerError."""
    with AST_LOCK:  # a parallel loop's flights parse sources meanwhile (see AST_LOCK)
        return _parse_file(path, text)


def _parse_file(path: str, text: str) -> list[Param]:
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as exc:
        raise ProposerError(f"{path}:{exc.lineno}: does not parse: {exc.msg}") from None
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string
    lines = text.splitlines()
    out = []
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        name = node.targets[0].id
        m = _SPEC.search(comments.get(node.lineno, ""))
        end_col = node.value.end_col_offset  # always set by ast.parse; None only in a hand-made tree
        if not m or not _NAME.match(name) or node.end_lineno != node.lineno or end_col is None:
            continue
        where = f"{path}:{node.lineno}"
        try:
            value = ast.literal_eval(node.value)
            args = ast.literal_eval(f"({m.group(2)},)")
        except (ValueError, SyntaxError):
            raise ProposerError(f"{where}: {name}: value or '# search:' arguments are not Python literals") from None
        kind = m.group(1)
        if kind == "choice":
            if len(args) < 2:
                raise ProposerError(f"{where}: {name}: choice(...) needs at least two options")
        elif len(args) != 2 or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args) or not args[0] < args[1]:
            raise ProposerError(f"{where}: {name}: {kind}(lo, hi) needs two numbers with lo < hi")
        elif kind == "log" and args[0] <= 0:
            raise ProposerError(f"{where}: {name}: log(lo, hi) needs lo > 0")
        out.append(Param(name, name, path, kind, tuple(args), value, lines[node.lineno - 1],
                         node.value.col_offset, end_col))
    return out


def parse_space(files: dict[str, str]) -> list[Param]:
    """Every annotated constant of the mutable Python files, with unique keys."""
    params = [p for path, text in files.items() if path.endswith(".py") for p in parse_file(path, text)]
    names = [p.name for p in params]
    return [p if names.count(p.name) == 1 else Param(**{**p.__dict__, "key": f"{p.path}:{p.name}"}) for p in params]
