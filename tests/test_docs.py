"""Every file, folder and module the docs name exists: README.md, ARCHITECTURE.md, pyproject.toml's
comments, and the docstrings, comments and messages of the product, the benchmarks and the scripts.

A name counts when its shape says it is ours:
- a relative path under one of the repository's folders (`loop/keep.py`, `tests/test_architecture.py`,
  `benchmarks/corpus/`), `gg_research/<package>/...` read through the package-dir mapping;
  `loop/records.mark_collapses` names the module `loop/records.py` and a name in it;
- a bare module file (`sections.py`): some file of the repository has that name;
- a dotted module (`gg_research.loop.keep`, `loop.keep.paired_verdict`, `results.pareto.sign`): the
  module exists, and a name after it appears in its source.
The code names README.md and ARCHITECTURE.md quote (`Trial.judge`, `run_collapses`, `LoopState`)
are words of the code, and a class's attribute is in the file of that class.
What is the user's is left alone: the workspace's `results/...` (its ledger, report and run folders;
only `results/*.py` is ours), `.gg/...`, `~/...`, absolute paths, and placeholders (`<id>`, `{tag}`, `*`).
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

from tests.conftest import PACKAGE_DIRS
from tests.conftest import REPO_ROOT as REPO

# gg_research.loop -> loop, ...: the short name a doc uses for each mapped package.
PACKAGES = {name.split(".", 1)[1]: folder for name, folder in PACKAGE_DIRS.items()}
ROOTS = {"gg_research", "tests", "benchmarks", "scripts", *PACKAGES.values()}
FILE_EXT = {"py", "md", "toml", "sh", "json", "jsonl", "tsv", "txt", "cfg", "yml", "yaml", "npz", "pt", "html",
            "csv", "gcode", "pdf", "png", "log", "ini", "pyc", "onnx", "sqlite", "db"}
# `config.EXPORTERS`: the ground's modules, named without their package.
GROUND = {"config", "errors", "workspace_map"}
PRODUCT = ["gg_research", *PACKAGES.values(), "benchmarks", "scripts"]
DOCS = ["README.md", "ARCHITECTURE.md", "pyproject.toml"]
# Files a doc names that are the user's, not ours: an autoresearch repo's frozen data preparation.
USERS_FILES = {"prepare.py"}
TOKEN = re.compile(r"[^\s`'\"()\[\],;|=]+")
PLACEHOLDER = re.compile(r"[<>{}*$~%\\]")


def _prose(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of what a file says in words: every line of a doc; a Python file's
    comments and strings (docstrings, messages), never its code."""
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".py":
        return list(enumerate(text.splitlines(), start=1))
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type in (tokenize.COMMENT, tokenize.STRING) or tok.type == getattr(tokenize, "FSTRING_MIDDLE", -1):
            words = _without_fields(tok.string) if re.match(r"[rRbB]*[fF]", tok.string) else tok.string
            for offset, line in enumerate(words.splitlines()):
                out.append((tok.start[0] + offset, line))
    return out


def _without_fields(fstring: str) -> str:
    """An f-string's words, its `{...}` fields (code) blanked; lines kept."""
    out, depth, i = [], 0, 0
    while i < len(fstring):
        c = fstring[i]
        if depth == 0 and fstring.startswith(("{{", "}}"), i):
            out.append(c)
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}" and depth:
            depth -= 1
            c = " "
        out.append(c if depth == 0 or c == "\n" else " ")
        i += 1
    return "".join(out)


def _named_files() -> list[Path]:
    files = [REPO / name for name in DOCS]
    for folder in PRODUCT:
        files += sorted(p for p in (REPO / folder).rglob("*") if p.suffix in (".py", ".sh") and "__pycache__" not in p.parts)
    return files


def _in_repo(parts: list[str]) -> Path:
    """The checkout's path of a path as a doc writes it, `gg_research/loop/x.py` being `loop/x.py`."""
    if parts[0] == "gg_research" and len(parts) > 1 and parts[1] in PACKAGES:
        parts = [PACKAGES[parts[1]], *parts[2:]]
    return REPO.joinpath(*parts)


def _module_names(module: Path) -> bool:
    return module.is_file() or (module.with_suffix("").is_dir() and (module.with_suffix("") / "__init__.py").is_file())


def _has_name(module: Path, name: str) -> bool:
    source = module if module.is_file() else module.with_suffix("") / "__init__.py"
    return re.search(rf"\b{re.escape(name)}\b", source.read_text(encoding="utf-8")) is not None


def _check_path(token: str) -> str | None:
    """Why a slash path of ours is missing, or None (also for a path that is not ours)."""
    parts = token.split("/")
    if parts[0] not in ROOTS or token.startswith("/"):
        return None
    folder = token.endswith("/")
    parts = [p for p in parts if p]
    last = parts[-1]
    stem, dot, ext = last.partition(".")
    if parts[0] == "results" and not (ext == "py" or (dot and ext.isidentifier() and ext not in FILE_EXT)):
        return None  # the workspace's results/ folder (ledger, report, runs), not results/*.py
    if folder or not dot:
        return None if _in_repo(parts).exists() else f"{token} (no such {'folder' if folder else 'file or folder'})"
    if ext in FILE_EXT or ext.split(".")[-1] in FILE_EXT:
        return None if _in_repo(parts).exists() else f"{token} (no such file)"
    # `loop/records.mark_collapses`: a module and a name in it.
    module = _in_repo([*parts[:-1], stem + ".py"])
    if not _module_names(module):
        return f"{token} (no module {module.relative_to(REPO)})"
    attr = ext.split(".")[0]
    return None if _has_name(module, attr) else f"{token} (no name {attr!r} in {module.relative_to(REPO)})"


def _check_dotted(token: str) -> str | None:
    """Why a dotted module name of ours (`gg_research.loop.keep`, `loop.keep.decide`) is missing, or None."""
    parts = token.split(".")
    if parts[0] == "gg_research":
        parts = parts[1:]
        if not parts:
            return None
        base = REPO / "gg_research"
        if parts[0] in PACKAGES:
            base, parts = REPO / PACKAGES[parts[0]], parts[1:]
    elif parts[0] in PACKAGES and len(parts) > 1 and parts[-1] not in FILE_EXT:
        base, parts = REPO / PACKAGES[parts[0]], parts[1:]
    elif parts[0] in GROUND and len(parts) == 2 and parts[1] not in FILE_EXT:
        base = REPO / "gg_research"
    else:
        return None
    if not all(p.isidentifier() for p in parts):
        return None
    while parts and (base / parts[0]).is_dir():
        base, parts = base / parts[0], parts[1:]
    if not parts:
        return None
    if (base / f"{parts[0]}.py").is_file():
        module, names = base / f"{parts[0]}.py", parts[1:2]
    elif (base / "__init__.py").is_file():
        module, names = base / "__init__.py", parts[:1]
    else:
        return f"{token} (no module {base.relative_to(REPO)}/{parts[0]}.py)"
    missing = [n for n in names if not _has_name(module, n)]
    if not missing:
        return None
    lacks = f"no name {missing[0]!r} in {module.relative_to(REPO)}"
    if module.name == "__init__.py":
        return f"{token} (no module {base.relative_to(REPO)}/{parts[0]}.py, {lacks})"
    return f"{token} ({lacks})"


def stale_names(files: list[Path], shown_from: Path = REPO) -> list[str]:
    """`file:line: name (why)` for each name of ours in `files` that the repository does not hold
    (each file named relative to `shown_from`)."""
    basenames = {p.name for p in REPO.rglob("*.py") if ".venv" not in p.parts}
    out = []
    for path in files:
        for number, line in _prose(path):
            for token in TOKEN.findall(line):
                token = token.rstrip(".:!?").lstrip("-:")
                if not token or PLACEHOLDER.search(token) or token.startswith(("./", "../", ".", "-")):
                    continue
                if "/" in token:
                    why = _check_path(token)
                elif token.endswith(".py") and token.count(".") == 1:
                    why = None if token in basenames or token in USERS_FILES else f"{token} (no file of that name)"
                elif "." in token:
                    why = _check_dotted(token)
                else:
                    why = None
                if why:
                    out.append(f"{path.relative_to(shown_from)}:{number}: {why}")
    return out


def test_every_path_and_module_the_docs_name_exists() -> None:
    stale = stale_names(_named_files())
    assert not stale, "names in the docs that the repository does not hold:\n" + "\n".join(stale)


@pytest.mark.parametrize("line, why", [
    ("see `loop/steps.py` for the cycle", "loop/steps.py (no such file)"),
    ("built by `gg_research/loop/recordz.py`", "gg_research/loop/recordz.py (no such file)"),
    ("the suite in tests/loop/test_nothing.py.", "tests/loop/test_nothing.py (no such file)"),
    ("`benchmarks/bench_nothing.py` prints it", "benchmarks/bench_nothing.py (no such file)"),
    ("the folder `harness/gone/`", "harness/gone/ (no such folder)"),
    ("`loop/records.no_such_function`", "loop/records.no_such_function (no name 'no_such_function' in loop/records.py)"),
    ("(`results/nothing.read_it`)", "results/nothing.read_it (no module results/nothing.py)"),
    ("`gg_research.loop.no_module` does it",
     "gg_research.loop.no_module (no module loop/no_module.py, no name 'no_module' in loop/__init__.py)"),
    ("`results.pareto.no_such_sign`", "results.pareto.no_such_sign (no name 'no_such_sign' in results/pareto.py)"),
    ("`trial_judge.py` judges", "trial_judge.py (no file of that name)"),
    ("named in `config.NO_SUCH_CONSTANT`",
     "config.NO_SUCH_CONSTANT (no module gg_research/config/NO_SUCH_CONSTANT.py, no name 'NO_SUCH_CONSTANT' in gg_research/config/__init__.py)"),
])
def test_a_stale_name_is_reported_with_its_file_and_line(tmp_path: Path, line: str, why: str) -> None:
    doc = tmp_path / "stale.md"
    doc.write_text(f"# a doc\n\n{line}\n", encoding="utf-8")
    assert stale_names([doc], tmp_path) == [f"stale.md:3: {why}"]


@pytest.mark.parametrize("line", [
    "the ledger `results/experiments.jsonl` and `results/runs/<id>/last_run.json`",
    "`.gg/notes.jsonl`, `~/.local/share/gg-research/`, `/usr/bin/bwrap`, `results/report.html`",
    "a tracker `loop/export/<kind>_out.py`, `gg/{tag}/{id}`, `benchmarks/qa/*.tsv`",
    "`gg_research/loop/keep.py`, `loop/records.mark_collapses`, `gg_research.results.pareto.sign`, `harness/`",
    "an autoresearch repo's `prepare.py` and `train.py`; A/A runs at 300/h",
])
def test_what_is_the_users_or_exists_is_not_reported(tmp_path: Path, line: str) -> None:
    doc = tmp_path / "fine.md"
    doc.write_text(line + "\n", encoding="utf-8")
    assert stale_names([doc], tmp_path) == []


def test_code_is_not_read_as_prose(tmp_path: Path) -> None:
    module = tmp_path / "code.py"
    module.write_text('"""See `loop/nothing.py`."""\nx = loop.nothing.y  # and tests/nothing.py\n'
                      'print(f"{loop.gone.z} in loop/gone.py")\n', encoding="utf-8")
    assert stale_names([module], tmp_path) == ["code.py:1: loop/nothing.py (no such file)",
                                               "code.py:2: tests/nothing.py (no such file)",
                                               "code.py:3: loop/gone.py (no such file)"]


CODE_NAME = re.compile(r"`([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?:\(\))?`")
CAMEL = re.compile(r"^_?[A-Z][a-z]+[A-Z]\w*$")


def _code_texts() -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in _named_files() if p.suffix in (".py", ".sh")}


def _defines(text: str, attr: str) -> bool:
    """The source defines `attr` as a method, a field or an instance attribute (in some class of it)."""
    return re.search(rf"\bdef {attr}\b|\bself\.{attr}\s*[:=]|^\s+{attr}\s*[:=]", text, re.MULTILINE) is not None


def stale_code_names(docs: list[Path], texts: dict[Path, str], shown_from: Path = REPO) -> list[str]:
    """`file:line: name (why)` for each quoted code name of `docs` that the code does not hold: a
    dotted name (`Trial.judge`, `pareto.sign`), a snake_case or CONSTANT name, a CamelCase one."""
    words = set(re.findall(r"\b\w+\b", "\n".join(texts.values())))
    classes: dict[str, list[Path]] = {}
    for path, text in texts.items():
        for name in re.findall(r"^\s*class (\w+)", text, re.MULTILINE):
            classes.setdefault(name, []).append(path)
    out = []
    for doc in docs:
        for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), start=1):
            for match in CODE_NAME.finditer(line):
                name = match.group(1)
                parts = name.split(".")
                if parts[-1] in FILE_EXT or not ("." in name or "_" in name.strip("_") or CAMEL.match(name)):
                    continue
                missing = [p for p in parts if p not in words]
                why = f"no {missing[0]!r} in the code" if missing else None
                if not why and len(parts) > 1 and parts[0] in classes and not any(
                        _defines(texts[p], parts[1]) for p in classes[parts[0]]):
                    why = f"class {parts[0]} has no {parts[1]!r}"
                if why:
                    out.append(f"{doc.relative_to(shown_from)}:{number}: {name} ({why})")
    return out


def test_every_code_name_the_docs_quote_exists() -> None:
    stale = stale_code_names([REPO / "README.md", REPO / "ARCHITECTURE.md"], _code_texts())
    assert not stale, "code names in README.md and ARCHITECTURE.md that the code does not hold:\n" + "\n".join(stale)


def test_a_stale_code_name_is_reported(tmp_path: Path) -> None:
    code = {tmp_path / "trial.py": "class Trial:\n    def judge(self):\n        # measure then verdict\n"
                                   "        return run_collapses()\n",
            tmp_path / "other.py": "def measure():\n    pass\n"}
    doc = tmp_path / "doc.md"
    doc.write_text("`Trial.judge` and `run_collapses()`, `Trial.measure` and `seed_run`,\n"
                   "`LoopEngine` and `MAX_POINTS`, but `socat` and `G1X10E1` are not code.\n", encoding="utf-8")
    assert stale_code_names([doc], code, tmp_path) == [
        "doc.md:1: Trial.measure (class Trial has no 'measure')", "doc.md:1: seed_run (no 'seed_run' in the code)",
        "doc.md:2: LoopEngine (no 'LoopEngine' in the code)", "doc.md:2: MAX_POINTS (no 'MAX_POINTS' in the code)"]
