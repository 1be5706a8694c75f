"""The workspace configuration, `gg-research.toml`: typed, validated, self-documenting.

Field descriptions double as help text (`gg-research init` writes them as comments).
A wrong key or value is a one-line `ConfigError` that names it and the file.

One section class per table of the file, with its help text: long (about 350 lines) because
the help is the documentation `init` writes, not because it does several jobs.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gg_research.errors import ConfigError  # noqa: F401  (callers of load_config catch it from here too)


CONFIG_NAME = "gg-research.toml"


# The figures the harness reports for every run of train.py: the objectives a harness-evaluated
# workspace may optimise. (A `[run] command` reports its own.) The harness's summary follows it.
# Files of a run folder that the harness writes and the loop and the report read (neither may
# import the harness): the per-image evidence of the validation split, the sealed test split's
# scores, the trained weights, and the training curves (the parent's record of what the run said
# while it trained: shown and read, never a measurement).
PER_IMAGE_FILE = "per_image.npz"
TEST_SCORES_FILE = "test_scores.json"
WEIGHTS_FILE = "model.pt"
CURVES_FILE = "curves.json"

HARNESS_METRICS: tuple[str, ...] = ("pbqc", "dice", "training_seconds", "total_seconds", "eval_seconds",
                                    "num_steps", "img_per_sec", "peak_memory_mb", "num_params_M")


class _Section(BaseModel):
    # extra="forbid" so a misspelt key is an error, not a silently ignored setting; no NaN or
    # infinity where a number is asked for (a budget of inf would never end).
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class WorkspaceSection(_Section):
    mutable: list[str] = Field(
        default_factory=lambda: ["train.py"],
        description="Files (relative to the workspace) the loop may edit; everything else is frozen.",
    )
    brief: str = Field("program.md", description="The research brief that goes into every prompt.")


class DataSection(_Section):
    dataset: str = Field(
        "",
        description="Dataset folder (manifest.jsonl, images/, masks/, gcode/); empty = the built-in synthetic set.",
    )
    image_size: int = Field(128, ge=32, le=2048, description="Side in pixels that images, renders and masks are resized to.")
    synth_n: int = Field(400, ge=8, description="Samples in the synthetic dataset (train/val/test split 70/20/10).")
    synth_size: int = Field(128, ge=32, le=2048, description="Side in pixels of generated synthetic images.")
    synth_seed: int = Field(0, description="Seed of the synthetic generator (same seed, same bytes).")
    synth_preset: Literal["easy", "realistic", "hard", "dimensional"] = Field(
        "easy",
        description="Synthetic camera: easy (flat colours, high-contrast defects), realistic (a photo of the top layer), "
                    "hard (realistic, wider misalignment, lower contrast), dimensional (realistic's camera; most defects "
                    "are edges printed a bead or two out of place, which only the aligned G-code reveals).",
    )
    bead_width_mm: float = Field(0.45, gt=0, le=5, description="Extrusion width used when rendering G-code.")


class RunSection(_Section):
    budget: Literal["time", "images"] = Field(
        "time",
        description="What a run's budget counts: time = train for budget_s seconds (a change that makes training "
                    "faster earns more steps, so speed is rewarded with quality; figures depend on how busy the machine "
                    "is); images = train on budget_images images (equal work whatever the load; budget_s is then the "
                    "time cap of training).",
    )
    budget_s: float = Field(300.0, gt=0, description="Training time budget in seconds (start-up and evaluation not counted).")
    budget_images: int = Field(0, ge=0, description="Images a run trains on when budget = images (batches are drawn until the count reaches it).")
    load_tolerance: float = Field(
        0.3, gt=0, lt=1,
        description="A run during which other processes used this share of the CPUs more than during the baseline "
                    "(measured by the harness, outside the run) is flagged as load-skewed; the loop re-runs it once.",
    )
    hard_limit_s: float = Field(
        0.0,
        ge=0,
        description="Wall-clock limit of one run, after which it is killed as a crash; 0 = 2x budget + 120 s.",
    )
    seed: int = Field(0, description="Seed of the first run; repeats use seed+1, seed+2, ...")
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N.")
    command: str = Field(
        "",
        description="Optional command that replaces train.py, run without a shell (no '> run.log': its output goes to the "
                    "run's run.log anyway). It writes $GG_RUN_DIR/last_run.json, or prints a summary: a line '---', then "
                    "one 'key: value' a line (val_bpb: 0.9979), the objectives among them.",
    )
    summary_log: str = Field(
        "",
        description="Where a command without last_run.json prints its '---' summary: the name of a file it writes in "
                    "$GG_RUN_DIR (no folder; a link is not followed); empty = its own output (run.log).",
    )
    eval_batch_size: int = Field(32, ge=1, description="Batch size of the harness's validation pass.")
    prestart: bool = Field(
        True,
        description="Loop only: start the next run's process (imports, data) while the current one trains, so start-up is off the critical path.",
    )

    sandbox: Literal["auto", "bwrap", "off"] = Field(
        "auto",
        description="Isolation of a run: auto = bubblewrap when it works here (no network, writes only to the run "
                    "folder, no workspace state or labels visible), else a warning; bwrap = refuse to run without it; "
                    "off = no isolation (warned).",
    )
    readable: list[str] = Field(
        default_factory=list,
        description="Extra folders a boxed run may read (read-only), e.g. a data cache a [run] command needs; "
                    "relative to the workspace or absolute. Nothing else of the machine is in the box.",
    )
    memory_gb: float = Field(0.0, ge=0, description="Memory limit of a run in GiB; 0 = 80 % of this machine's memory.")
    max_output_mb: float = Field(
        2048.0, gt=0,
        description="Most a run may write to its output folder (weights, predictions); a run over it is stopped as invalid.",
    )
    max_log_mb: float = Field(50.0, gt=0, description="run.log is cut at this size (the run goes on).")
    budget_grace_s: float = Field(0.0, ge=0, description="Training may end this late after its budget (a step in flight); 0 = max(5 s, 5 % of the budget).")
    eval_limit_s: float = Field(
        0.0, ge=0,
        description="Time the predictions may take after the budget and its grace; 0 = max(5 s, 10 % of the budget). "
                    "The parent's clock runs until it has the predictions: a run over budget + grace + this is invalid.",
    )

    @model_validator(mode="after")
    def _summary_log_inside_run_folder(self) -> "RunSection":
        # A plain name: a folder in the path could be a link the run made to somewhere else.
        if self.summary_log and (Path(self.summary_log).name != self.summary_log or self.summary_log in (".", "..")):
            raise ValueError(f"summary_log: {self.summary_log!r} must be a file name in the run folder ($GG_RUN_DIR), "
                             "without a folder")
        return self

    @model_validator(mode="after")
    def _images_budget_needs_a_count(self) -> "RunSection":
        if self.budget == "images" and self.budget_images <= 0:
            raise ValueError('budget = "images" needs budget_images > 0 (the images each run trains on)')
        return self

    def grace(self, budget_s: float) -> float:
        return self.budget_grace_s if self.budget_grace_s > 0 else max(5.0, 0.05 * budget_s)

    def eval_limit(self, budget_s: float) -> float:
        return self.eval_limit_s if self.eval_limit_s > 0 else max(5.0, 0.1 * budget_s)

    def effective_hard_limit(self, budget_s: float | None = None) -> float:
        """The wall-clock limit of a run under `budget_s` (the configured budget by default)."""
        budget = self.budget_s if budget_s is None else budget_s
        return self.hard_limit_s if self.hard_limit_s > 0 else 2 * budget + 120.0


class ObjectiveConfig(_Section):
    name: str = Field(description="Metric key in the run summary (e.g. pbqc, dice).")
    direction: Literal["maximize", "minimize"] = Field("maximize", description="Which way is better.")
    floor: float | None = Field(None, description="Absolute bound every kept run must respect (a minimum when maximising).")
    relative_floor: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Collapse guard: a kept run keeps at least this fraction of the baseline's value (maximising).",
    )
    epsilon: float | None = Field(None, ge=0, description="Noise margin; empty = 2x the baseline's measured sigma.")
    weight: float = Field(1.0, description="Weight in the scalar keep rule.")
    label: str | None = Field(None, description="Name shown in the report's tables and plots; empty = the name.")
    reference: float | None = Field(
        None, description="Hypervolume reference value in the report; empty = its collapse floor (the value a kept run "
                          "must not fall below), or the baseline's value under [report] hypervolume_reference = \"baseline\"."
    )

    def display(self) -> str:
        return self.label or self.name


def _default_objectives() -> list[ObjectiveConfig]:
    return [
        ObjectiveConfig(name="pbqc", direction="maximize", relative_floor=0.8, label="PBQC"),
        ObjectiveConfig(name="dice", direction="maximize", relative_floor=0.8, label="Dice"),
    ]


class KeepSection(_Section):
    rule: Literal["pareto", "scalar", "threshold"] = Field("pareto", description="How a run is judged against the kept ones.")
    primary: str = Field("dice", description="The objective the threshold rule maximises.")
    baseline_seeds: int = Field(3, ge=1, le=10, description="Runs of the unchanged baseline, to measure noise.")
    rerun_marginal: bool = Field(True, description="Re-run a win by less than 2 epsilon with another seed and judge the mean.")
    test: Literal["margin", "paired", "paired-all"] = Field(
        "margin",
        description="margin = a keep must beat the front by the seed-noise margin (epsilon); paired = that, and on the "
                    "same validation images it must beat its parent's first seed on some objective with the paired "
                    "bootstrap interval above 0 (at paired_level) and lose on none with the interval below 0; "
                    "paired-all = the same against every seed of its parent, so that one unlucky (collapsed) baseline "
                    "seed cannot make an unchanged train.py look better; its margin is min_epsilon (use it with 2 or more "
                    "baseline seeds: the demo uses 3 and paired_level 0.9).",
    )
    paired_level: float = Field(0.95, gt=0.5, lt=1, description="Confidence of the paired interval (keep.test and the report).")
    min_epsilon: float = Field(0.005, ge=0, description="Floor on the measured noise margin, so a lucky quiet baseline does not make eps zero.")
    max_slowdown: float | None = Field(
        None, gt=0, description="Largest allowed img_per_sec ratio baseline/run (e.g. 1.5); empty = unbounded."
    )
    max_memory_growth: float | None = Field(
        None, gt=0, description="Largest allowed peak-memory ratio run/baseline; empty = unbounded."
    )


class PriceConfig(_Section):
    input: float = Field(ge=0, description="USD per million input tokens.")
    output: float = Field(ge=0, description="USD per million output tokens.")
    cache_read: float = Field(ge=0, description="USD per million tokens read from the prompt cache.")
    cache_write: float = Field(ge=0, description="USD per million tokens written to the prompt cache (5-minute cache).")


def _default_prices() -> dict[str, PriceConfig]:
    # Anthropic's list prices per million tokens when this was written; a workspace overrides them.
    table = {
        "claude-opus-4-5": (5.0, 25.0, 0.50, 6.25),
        "claude-opus-4-1": (15.0, 75.0, 1.50, 18.75),
        "claude-sonnet-4-5": (3.0, 15.0, 0.30, 3.75),
        "claude-sonnet-4": (3.0, 15.0, 0.30, 3.75),
        "claude-haiku-4-5": (1.0, 5.0, 0.10, 1.25),
    }
    return {k: PriceConfig(input=a, output=b, cache_read=c, cache_write=d) for k, (a, b, c, d) in table.items()}


class ProposerSection(_Section):
    kind: Literal["auto", "claude", "optuna", "scripted"] = Field(
        "auto", description="auto = claude when ANTHROPIC_API_KEY is set, otherwise optuna."
    )
    sampler: Literal["tpe", "random"] = Field(
        "tpe", description="The offline proposer's sampler: tpe (Optuna's multi-objective TPE) or random (random search "
                           "over the declared space: the yardstick a proposer must beat)."
    )
    model: str = Field("claude-sonnet-4-5", description="Claude model id.")
    max_tokens: int = Field(4096, ge=256, description="Output token limit of one Claude reply.")
    base_url: str = Field("", description="Anthropic API base URL; empty = the SDK default.")
    max_retries: int = Field(5, ge=0, description="Retries with backoff on rate limits, 5xx and timeouts.")
    timeout_s: float = Field(120.0, gt=0, description="Timeout of one API request.")
    search_calls: int = Field(3, ge=0, le=10, description="search_knowledge calls Claude may make before proposing.")
    fallback: Literal["optuna", "wait"] = Field("optuna", description="What to do after repeated API failure.")
    script: str = Field("hypotheses.jsonl", description="JSONL file of hypotheses for the scripted proposer.")
    max_refusals: int = Field(3, ge=0, description="Times a refused hypothesis goes back to the proposer.")
    context_tokens: int = Field(1500, ge=100, description="Token budget of the retrieved-passages block.")
    memory_tokens: int = Field(
        2000, ge=200,
        description="Token budget of the whole-night memory in the prompt (a line per experiment of the tag; the oldest are shortened, then summarised).",
    )
    novelty_check: bool = Field(
        True, description="Refuse a Claude hypothesis whose title and rationale are too close to an earlier experiment's (before anything is committed or run).",
    )
    novelty_threshold: float = Field(
        0.8, gt=0, le=1,
        description="Cosine similarity (knowledge-base embedder) at or above which a hypothesis counts as a repeat.",
    )
    plateau_after: int = Field(
        6, ge=0, description="Experiments without a keep after which the prompt asks for a different kind of change; 0 = never.",
    )
    max_cost_usd: float = Field(
        0.0, ge=0,
        description="Estimated Claude cost of the tag (USD) at which Claude's part of the night ends (then as `fallback` says; wait = stop); 0 = no cap.",
    )
    prices: dict[str, PriceConfig] = Field(
        default_factory=_default_prices,
        description="USD per million tokens by model id (a dated id uses its longest matching prefix); list prices when written, check them.",
    )

    def price(self, model: str | None = None) -> PriceConfig | None:
        """The price of `model` (the configured one by default): an exact id, else the longest prefix."""
        model = model or self.model
        if model in self.prices:
            return self.prices[model]
        matches = [k for k in self.prices if model.startswith(k)]
        return self.prices[max(matches, key=len)] if matches else None

    @model_validator(mode="after")
    def _cap_needs_a_price(self) -> "ProposerSection":
        if self.max_cost_usd > 0 and self.price() is None:
            raise ValueError(f"max_cost_usd: no price for model {self.model!r} in proposer.prices, so the cost cannot be estimated")
        return self


class KnowledgeSection(_Section):
    store: str = Field(".gg/chroma", description="Chroma persistent folder (relative to the workspace) or http(s)://host:port of a server.")
    collection: str = Field("gg-research", description="Chroma collection name.")
    embedder: str = Field(
        "all-MiniLM-L6-v2",
        description="sentence-transformers model: a local path, or all-MiniLM-L6-v2 (packaged, offline).",
    )
    chunk_tokens: int = Field(220, ge=32, le=2048, description="Target chunk length in embedder tokens (fits its window).")
    overlap_tokens: int = Field(32, ge=0, description="Tokens shared by neighbouring chunks.")
    batch_size: int = Field(64, ge=1, description="Embedding batch size.")
    fusion: Literal["score", "rrf"] = Field(
        "score", description="How dense and BM25 hits are merged: by their scaled scores, or by reciprocal rank."
    )
    dense_weight: float = Field(0.5, ge=0.0, le=1.0, description="Share of the dense side in score fusion (the rest is BM25's).")
    synonyms: list[list[str]] = Field(
        default_factory=list,
        description="Your own groups of words or phrases that name one thing, e.g. [[\"GG-Net\", \"guided network\"]]: "
                    "a query naming one also searches the others by keyword, at half weight.",
    )
    builtin_synonyms: bool = Field(
        True, description="Also use the built-in glossary of printing and deep-learning terms (hot end = nozzle, ...)."
    )
    evidence: Literal["off", "model"] = Field(
        "off",
        description="model = with the Claude proposer, a small model scores each of the top evidence_candidates passages "
                    "for the state's question and summarises it, in parallel; the prompt carries the best evidence_keep "
                    "with their summaries (its tokens count in the night's cost and cap; a failure falls back to the "
                    "hybrid ranking with a warning). off = the hybrid ranking's top passages.",
    )
    evidence_model: str = Field("claude-haiku-4-5", description="The model of the evidence step (priced by proposer.prices).")
    evidence_candidates: int = Field(16, ge=1, le=40, description="Passages the evidence step scores.")
    evidence_keep: int = Field(5, ge=1, le=20, description="Scored passages the prompt carries, best first.")
    reranker: str = Field(
        "",
        description="A local sentence-transformers CrossEncoder folder (absolute, or relative to the workspace) that "
                    "re-scores the fused candidates before diversification; empty = none.",
    )

    @model_validator(mode="after")
    def _check_synonyms(self) -> "KnowledgeSection":
        for i, group in enumerate(self.synonyms):
            if len([w for w in group if w.strip()]) < 2:
                raise ValueError(f"synonyms[{i}]: a group needs at least two non-empty words or phrases, got {group}")
        return self


class ParallelSection(_Section):
    workers: int = Field(
        1, ge=1, le=256,
        description="Experiments in flight at once. 1 = the serial loop (no Ray needed); more runs them as Ray tasks, "
                    "each in its own git worktree (pip install 'gg-research[parallel]').",
    )
    address: str = Field(
        "",
        description="Ray cluster to run on (e.g. ray://head:10001 or auto); empty = RAY_ADDRESS if set, else a Ray "
                    "started inside the loop on this machine. Every node must see the workspace at the same path.",
    )
    gpus_per_run: float | None = Field(
        None, ge=0,
        description="GPUs each run reserves (0.5 packs two runs on one GPU); empty = the cluster's GPUs shared "
                    "evenly by the workers, at most 1 each, and 0 on a machine without one.",
    )
    cpus_per_run: float | None = Field(
        None, gt=0,
        description="CPU cores each run reserves (its torch threads); empty = the cluster's cores shared evenly.",
    )
    worktrees: str = Field(
        "",
        description="Folder of the experiments' worktrees; empty = WORKSPACE.worktrees beside the workspace (outside "
                    "it, so a run's box can hide the workspace's state and still show the worktree).",
    )


class ReportSection(_Section):
    hypervolume_reference: Literal["floors", "baseline"] = Field(
        "floors",
        description="The point the report's hypervolume is measured from, for objectives without their own "
                    "`reference`: floors = each objective's collapse floor (its floor or relative_floor against the "
                    "baseline; the baseline's value where it has none), so a kept trade-off adds area; baseline = the "
                    "baseline's values (a trade-off that loses on one objective then adds nothing).",
    )


EXPORTERS = ("mlflow", "tensorboard", "optuna")


class ExportSection(_Section):
    to: list[Literal["mlflow", "tensorboard", "optuna"]] = Field(
        default_factory=list,
        description="Trackers the loop logs each experiment to as the night goes (as `gg-research export` does); "
                    "empty = none. Each needs its extra installed (pip install 'gg-research[mlflow]', ...).",
    )
    mlflow_uri: str = Field("", description="MLflow tracking URI; empty = a local file store in results/mlflow.")
    tensorboard_dir: str = Field("", description="TensorBoard log folder; empty = results/tensorboard.")
    optuna_storage: str = Field("", description="Optuna storage URL; empty = sqlite:///results/optuna-export.db.")


class Config(_Section):
    workspace: WorkspaceSection = Field(default_factory=WorkspaceSection)
    data: DataSection = Field(default_factory=DataSection)
    run: RunSection = Field(default_factory=RunSection)
    objectives: list[ObjectiveConfig] = Field(default_factory=_default_objectives)
    keep: KeepSection = Field(default_factory=KeepSection)
    proposer: ProposerSection = Field(default_factory=ProposerSection)
    knowledge: KnowledgeSection = Field(default_factory=KnowledgeSection)
    parallel: ParallelSection = Field(default_factory=ParallelSection)
    report: ReportSection = Field(default_factory=ReportSection)
    export: ExportSection = Field(default_factory=ExportSection)

    @model_validator(mode="after")
    def _check_objectives(self) -> "Config":
        names = [o.name for o in self.objectives]
        if not names:
            raise ValueError("objectives: at least one objective is needed")
        if len(set(names)) != len(names):
            raise ValueError(f"objectives: duplicate names {names}")
        if self.keep.rule == "threshold" and self.keep.primary not in names:
            raise ValueError(f"keep.primary: {self.keep.primary!r} is not one of the objectives {names}")
        unknown = [n for n in names if n not in HARNESS_METRICS]
        if unknown and not self.run.command:
            # Found now, not after a night of runs that all "lack" the objective.
            raise ValueError(f"objectives: the harness does not report {', '.join(map(repr, unknown))} "
                             f"(it reports {', '.join(HARNESS_METRICS)}); a [run] command may report its own")
        return self

    def objective(self, name: str) -> ObjectiveConfig:
        for o in self.objectives:
            if o.name == name:
                return o
        raise KeyError(name)


def _describe(err: ValidationError, path: Path) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = first["msg"].removeprefix("Value error, ")  # a validator's own message says enough
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    elif first["type"] == "value_error":  # our own validators' sentences, without pydantic's prefix
        msg = msg.removeprefix("Value error, ")
    return f"{path}: {loc}: {msg}"


def load_config(path: Path) -> Config:
    """Read and validate a gg-research.toml; raise ConfigError with a one-line reason."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file (run 'gg-research init DIR' to make a workspace)")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None


def find_workspace(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` holding gg-research.toml."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    raise ConfigError(f"{here}: not inside a gg-research workspace (no {CONFIG_NAME} here or above; run 'gg-research init DIR')")


def render_default_toml() -> str:
    """The commented gg-research.toml that `init` writes: every field with its description."""
    lines = ["# gg-research workspace configuration. Every key is optional; shown are the defaults.", ""]
    cfg = Config()
    for section_name, section in cfg:
        if section_name == "objectives":
            continue
        lines.append(f"[{section_name}]")
        tables: list[str] = []
        for name, field in type(section).model_fields.items():
            value = getattr(section, name)
            if isinstance(value, dict):
                # A table of tables (e.g. the price table) follows the section's plain keys.
                tables += [f"# {field.description}"] + [
                    line for key, sub in value.items()
                    for line in (f"[{section_name}.{name}.{toml_value(key)}]",
                                 *(f"{k} = {toml_value(v)}" for k, v in sub.model_dump().items()))]
                continue
            lines.append(f"# {field.description}")
            lines.append(f"# {name} =" if value is None else f"{name} = {toml_value(value)}")
        lines += tables
        lines.append("")
    lines.append("# Objectives of the keep rule and the report, in order.")
    for obj in cfg.objectives:
        lines.append("[[objectives]]")
        for name, field in ObjectiveConfig.model_fields.items():
            value = getattr(obj, name)
            if value is None:
                lines.append(f"# {name} =   # {field.description}")
            else:
                lines.append(f"{name} = {toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def toml_value(value: object) -> str:
    """A Python value as TOML source (the config writers' one formatter)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")
