"""The server behind `gg-research mcp`: MCP tools over one workspace (the official `mcp` SDK, stdio).

An experiment runs as a `gg-research step --json` process of its own (detached, output in
`.gg/agent-steps/`), so it has the step's signal handling and lock, and it
outlives a client's tool-call timeout and even a restart of this server. run_experiment waits
up to `wait_s` seconds with progress notifications; experiment_status waits again. A second
experiment while one runs is refused (this server's own job, or the loop lock held by another
process): experiments of one workspace never overlap and are never queued behind the agent's back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field, ValidationError

from gg_research.config import Config
from gg_research.errors import GGError
from gg_research.loop.agent_state import brief, loop_state
from gg_research.loop.grounding import Grounding
from gg_research.loop.records import citation
from gg_research.workspace_map import WorkspaceMap

WAIT_S = 45.0  # under the 60 s request timeout many MCP clients use
MAX_WAIT_S = 600.0
PROGRESS_EVERY_S = 5.0
MAX_PASSAGES = 20  # passages read since the last experiment, recorded with it
MAX_K = 20

# Every parameter an agent sees: typed, bounded and described, so it never has to guess.
Query = Annotated[str, Field(min_length=1, max_length=2000, description="What to look for, in words (a question or keywords).")]
K = Annotated[int, Field(ge=1, le=MAX_K, description=f"How many passages to return, best first (1 to {MAX_K}).")]
Include = Annotated[list[Literal["references", "contents", "figures"]], Field(
    max_length=3, description="Kinds of text left out by default to search as well: references, contents, figures.")]
Title = Annotated[str, Field(min_length=1, max_length=200, description="One line: what your edit changes (the commit message).")]
Rationale = Annotated[str, Field(max_length=4000, description="Why it should help, citing the passages' keys.")]
Citations = Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]], Field(
    max_length=20, description="Keys of the passages it rests on, as search_knowledge returned them (e.g. 'a1b2c3:17').")]
WaitS = Annotated[float, Field(ge=0, le=MAX_WAIT_S, description=(
    f"Seconds to wait for the result before answering 'running' (0 to {MAX_WAIT_S:g}; many clients time a call "
    f"out after 60 s, so the default is {WAIT_S:g})."))]

INSTRUCTIONS = """gg-research: experiments on this workspace under a fixed harness and a noise-aware Pareto keep rule.
Work loop: search_knowledge (the researcher's thesis) -> loop_state -> edit ONLY the mutable files ->
run_experiment(title, rationale, citations). A keep stays committed; anything else is reverted.
If run_experiment answers state "running", call experiment_status until it is "done"; do not
edit files while an experiment runs. Read program.md for the research brief."""


class StepJob:
    """One `gg-research step --json` process started by this server."""

    def __init__(self, ws: Path, tag: str, title: str, rationale: str, citations: list[str],
                 passages: list[dict[str, Any]]) -> None:
        gg = WorkspaceMap(ws).agent_steps
        gg.mkdir(parents=True, exist_ok=True)
        # Per server and job: a second server's job must not truncate this one's files.
        stem = f"{tag}-{os.getpid()}-{time.time_ns()}"
        self.out, self.log, pfile = gg / f"{stem}.json", gg / f"{stem}.log", gg / f"{stem}-passages.json"
        pfile.write_text(json.dumps(passages), encoding="utf-8")
        argv = [sys.executable, "-m", "gg_research", "step", "--json", f"--tag={tag}", f"--title={title}",
                f"--rationale={rationale}", "--via=mcp", f"--passages={pfile}", *[f"--cite={c}" for c in citations]]
        with open(self.out, "wb") as out, open(self.log, "wb") as log:
            # Its own session: a client that kills this server's process group leaves the experiment running.
            self.proc = subprocess.Popen(argv, cwd=ws, stdin=subprocess.DEVNULL, stdout=out, stderr=log,
                                         start_new_session=True, env=dict(os.environ))
        self.title = title
        self.started = time.monotonic()

    def remove_files(self) -> None:
        for path in (self.out, self.log, self.out.with_name(self.out.stem + "-passages.json")):
            path.unlink(missing_ok=True)

    def running(self) -> bool:
        return self.proc.poll() is None

    def last_line(self) -> str:
        try:
            lines = [ln for ln in self.log.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
        except OSError:
            return ""
        return lines[-1].strip() if lines else ""

    def result(self) -> dict[str, Any]:
        """The step's JSON result; ToolError with its one-line message when it refused or failed."""
        if self.proc.returncode == 0:
            return {"state": "done", **json.loads(self.out.read_text(encoding="utf-8"))}
        errors = [ln for ln in self.log.read_text(encoding="utf-8", errors="replace").splitlines()
                  if ln.startswith("gg-research step:")]
        why = errors[-1].split(": error: ", 1)[-1] if errors else (self.last_line() or f"exit code {self.proc.returncode}")
        raise ToolError(f"not run: {why}" if self.proc.returncode == 2 else f"the step failed: {why}")


class Lab:
    """The workspace this server serves, and the experiment it started (at most one at a time)."""

    def __init__(self, ws: Path, config: Config, tag: str) -> None:
        self.ws, self.cfg, self.tag = ws, config, tag
        self.names = [o.name for o in config.objectives]
        self.grounding = Grounding(ws, config, lambda text: print(text, file=sys.stderr))
        self._searcher_lock = threading.Lock()
        self.searched: list[dict[str, Any]] = []  # passages read since the last experiment
        self.shown: list[str] = []  # the keys of the passages this session returned, newest last
        self.job: StepJob | None = None
        self.last_result: dict[str, Any] | None = None  # how the job ended, once the agent was told
        # Loading the embedder takes seconds: start now, so the agent's first search is quick.
        threading.Thread(target=self._searcher, daemon=True).start()

    def _searcher(self) -> Any:
        with self._searcher_lock:
            return self.grounding.searcher()

    # -- tools -----------------------------------------------------------------------------------
    def search_knowledge(self, query: Query, k: K = 5, include: Include = []) -> dict[str, Any]:  # noqa: B006
        """Hybrid search of the researcher's knowledge base (dissertation, papers, notes). Each passage has a
        citation key (pass it in run_experiment's citations), document, page and section. References,
        contents lists and figure labels are left out unless `include` names them."""
        if not query.strip():
            raise ToolError("the query is empty: say what to look for")
        searcher = self._searcher()
        if searcher is None:
            return {"passages": [], "note": "the knowledge base is empty (gg-research ingest thesis.pdf adds documents)"}
        found = [citation(p) for p in searcher.search(query, k=k, include=tuple(include or ()))]
        self.searched = (self.searched + found)[-MAX_PASSAGES:]
        self.shown = list(dict.fromkeys(self.shown + [str(p.get("chunk_id")) for p in found]))[-MAX_PASSAGES:]
        # The document by its title or file name: its path on this machine is not the agent's business.
        keys = ("chunk_id", "document", "page", "page_end", "section", "kind", "score", "text")
        return {"passages": [{("key" if k_ == "chunk_id" else k_): p.get(k_) for k_ in keys} for p in found]}

    def check_citations(self, citations: list[str]) -> None:
        """Refuse citation keys the knowledge base does not hold, naming the ones the agent was shown."""
        if not citations:
            return
        searcher = self._searcher()
        known = {p.chunk_id for p in searcher.get(list(citations))} if searcher is not None else set()
        unknown = [c for c in citations if c not in known]
        if not unknown:
            return
        if searcher is None:
            raise ToolError(f"not run: citation {unknown[0]!r} is not in the knowledge base, which is empty; "
                            "cite nothing (citations=[]) or ingest documents first")
        seen = self.shown[-8:]
        hint = (f"keys search_knowledge gave you: {', '.join(seen)}" if seen
                else "search_knowledge returns passages with their keys")
        raise ToolError(f"not run: citation {unknown[0]!r} is not a passage of the knowledge base; {hint}")

    def loop_state(self) -> dict[str, Any]:
        """What the loop's own proposer sees: the Pareto front, kept and recent runs, near misses, collapses,
        the noise margins, the mutable files, and whether an experiment is running."""
        state = loop_state(self.ws, self.cfg, self.tag)
        state["experiment_in_progress"] = self._progress() if self.job and self.job.running() else None
        return state

    async def run_experiment(self, title: Title, rationale: Rationale = "", citations: Citations = [],  # noqa: B006
                             wait_s: WaitS = WAIT_S, ctx: Context | None = None) -> dict[str, Any]:
        """Run your working-tree edit of the mutable files as one experiment: checked like the loop's hypotheses
        (only mutable files changed, compiles, not a repeat), committed, run under the budget, judged by the keep
        rule, kept (tagged) or reverted, recorded in the ledger. Waits up to wait_s seconds; if it is still
        running then, the answer says so and experiment_status waits for the result."""
        if self.job is not None and self.job.running():
            raise ToolError(f"not run: an experiment ({self.job.title!r}) is still running; call experiment_status "
                            "for its result, then edit and call run_experiment again")
        try:
            await anyio.to_thread.run_sync(self.check_citations, list(citations or []))
        except ToolError as exc:
            self.last_result = {"state": "not run", "error": str(exc)}
            raise
        if self.job is not None:
            self.job.remove_files()
        self.job = StepJob(self.ws, self.tag, title, rationale, list(citations or []), self.searched)
        self.searched, self.last_result = [], None
        return await self._wait(wait_s, ctx)

    async def experiment_status(self, wait_s: WaitS = WAIT_S, ctx: Context | None = None) -> dict[str, Any]:
        """The running experiment's result: waits up to wait_s seconds for it (progress notifications meanwhile).
        When nothing runs, the state is "idle" and last_result holds how the last experiment ended (or why it
        was not run)."""
        if self.job is not None and (self.job.running() or self.last_result is None):
            return await self._wait(wait_s, ctx)  # its result, once; a refusal reaches the agent as an error
        # Nothing of ours runs: maybe one started by an earlier server (or a shell step); follow it in the ledger.
        deadline = time.monotonic() + _clamp(wait_s)
        while True:
            state = loop_state(self.ws, self.cfg, self.tag)
            if not state["running"]:
                last = state["recent"][-1] if state["recent"] else None
                return {"state": "idle", "last_result": self.last_result, "last_experiment": last}
            if time.monotonic() >= deadline:
                return {"state": "running", "experiment": state["running"][-1],
                        "message": "running in another process; call experiment_status again"}
            await anyio.sleep(0.5)

    def report(self) -> dict[str, Any]:
        """Refresh results/report.html (and .md, .json, the plots) and return its headline."""
        from gg_research.results.cards import headline_facts
        from gg_research.results.ledger import LedgerFile
        from gg_research.results.report import build_analysis, write_files

        if not any(e.tag == self.tag for e in LedgerFile(self.ws, self.names).read().experiments):
            return {"report": None, "headline": [], "warnings": [],
                    "message": "no experiments yet: edit train.py and call run_experiment (the first one also "
                               "measures the baseline); report() then writes results/report.html"}
        an = build_analysis(self.ws, self.cfg, self.tag)
        written = write_files(an, WorkspaceMap(self.ws).results)
        return {"report": str(written["html"]), "headline": [{"label": a, "value": b, "detail": c}
                                                             for a, b, c in headline_facts(an)],
                "warnings": list(an.ledger.warnings)}

    # -- waiting -----------------------------------------------------------------------------------
    def _progress(self) -> dict[str, Any]:
        assert self.job is not None
        running = loop_state(self.ws, self.cfg, self.tag)["running"]
        return {"title": self.job.title, "elapsed_s": round(time.monotonic() - self.job.started, 1),
                "experiment": running[-1]["id"] if running else None, "last_line": self.job.last_line()}

    def expected_s(self) -> float | None:
        """About how long the running experiment takes: its runs (the baseline's seeds first when there is
        no baseline yet) under a time budget; None under an images budget, whose length the load decides."""
        if self.cfg.run.budget != "time":
            return None
        state = loop_state(self.ws, self.cfg, self.tag)
        runs = 1 + (self.cfg.keep.baseline_seeds if state["baseline"] is None else 0)
        return runs * self.cfg.run.budget_s

    async def _wait(self, wait_s: float, ctx: Context | None) -> dict[str, Any]:
        job = self.job
        assert job is not None
        deadline, last = time.monotonic() + _clamp(wait_s), float("-inf")
        total = self.expected_s() if ctx is not None else None
        while job.running():
            now = time.monotonic()
            if now >= deadline:
                return {"state": "running", **self._progress(), "budget_s": self.cfg.run.budget_s,
                        "expected_s": self.expected_s(),
                        "message": "still running; call experiment_status to wait for the result, and do not "
                                   "edit the mutable files until it ends (the run reads them)"}
            if ctx is not None and now - last >= PROGRESS_EVERY_S:
                # Seconds since the experiment started (not since this call), out of its expected length.
                done = round(now - job.started, 1)
                await ctx.report_progress(min(done, total) if total else done, total,
                                          job.last_line() or f"running: {job.title}")
                last = now
            await anyio.sleep(min(0.2, max(deadline - now, 0.01)))
        try:
            result = job.result()
        except ToolError as exc:
            self.last_result = {"state": "not run" if job.proc.returncode == 2 else "failed", "error": str(exc)}
            raise
        self.last_result = result
        return result


def _clamp(wait_s: float) -> float:
    return max(0.0, min(float(wait_s), MAX_WAIT_S))


class _Server(MCPServer):
    """The SDK's server, with arguments checked the way an agent needs: an unknown argument is refused with
    the valid ones named, and a value out of its bounds is said in one plain sentence."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        tool = self._tool_manager.get_tool(name)
        if tool is not None:
            known = list(tool.parameters.get("properties", {}))
            unknown = [a for a in arguments or {} if a not in known]
            if unknown:
                raise ToolError(f"{name}: unknown argument {unknown[0]!r}; its arguments are "
                                f"{', '.join(known) if known else 'none'}")
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                raise ToolError(f"{name}: {_plain(exc.__cause__)}") from None
            if type(exc) is ToolError:  # an anticipated failure: its own sentence, without the SDK's prefix
                raise ToolError(str(exc).removeprefix(f"Error executing tool {name}: ")) from None
            raise


def _plain(exc: ValidationError) -> str:
    """A pydantic validation error as one sentence: the argument, what is wrong, what was given."""
    err = exc.errors(include_url=False)[0]
    loc = [str(p) if isinstance(p, str) else f"[{p}]" for p in err.get("loc", ())]
    where = "".join(p if i == 0 or p.startswith("[") else "." + p for i, p in enumerate(loc)) or "arguments"
    if err.get("type") == "missing":
        return f"argument {where} is missing"
    msg = str(err.get("msg") or "is invalid")
    for lead in ("Input should", "String should", "List should", "Value should"):
        msg = msg.replace(lead, "should")
    return f"argument {where} {msg[0].lower() + msg[1:]} (got {json.dumps(err.get('input'), default=str)[:60]})"


def build_server(ws: Path, config: Config, tag: str) -> MCPServer:
    lab = Lab(ws, config, tag)
    server = _Server("gg-research", instructions=INSTRUCTIONS, log_level="WARNING")
    for fn in (lab.search_knowledge, lab.loop_state, lab.run_experiment, lab.experiment_status, lab.report):
        server.add_tool(_user_errors(fn), name=fn.__name__, description=" ".join((fn.__doc__ or "").split()))
        tool = server._tool_manager.get_tool(fn.__name__)
        if tool is not None:  # the schema says what call_tool enforces: no other argument
            tool.parameters["additionalProperties"] = False
    return server


def _user_errors(fn: Any) -> Any:
    """GGError (a one-line message for the user) reaches the agent as a tool error, not a crash."""
    import functools
    import inspect

    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def wrapped_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except GGError as exc:
                raise ToolError(str(exc)) from None
        return wrapped_async

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GGError as exc:
            raise ToolError(str(exc)) from None
    return wrapped


def serve(ws: Path, config: Config, tag: str) -> None:
    """Serve over stdin/stdout until the client closes them, then leave at once.

    The embedder's native threads (onnxruntime) abort the interpreter's own shutdown ("terminate
    called without an active exception") once a search has loaded it; nothing is left to do when the
    client has gone (an experiment runs in its own process), so the process ends here, cleanly.
    """
    build_server(ws, config, tag).run("stdio")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


__all__ = ["Lab", "StepJob", "brief", "build_server", "serve"]
