"""One definition of a load-skewed run (results.throughput), and the report's img/s column built on it."""

from __future__ import annotations

from pathlib import Path

from gg_research.config import load_config
from gg_research.results.report import write_report
from gg_research.results.throughput import load_skew, reference
from tests.results.night import night_records, write_workspace

IDLE = {"img_per_sec": 60.0, "cpu_share": 0.95}


def test_the_reference_is_the_fastest_baseline_seed():
    seeds = [{"img_per_sec": 40.0, "cpu_share": 0.5}, IDLE, {"pbqc": 0.3}]
    assert reference(seeds) == IDLE
    assert reference([{"pbqc": 0.3}]) == {}


def test_slow_and_starved_is_load_skewed():
    why = load_skew({"img_per_sec": 20.0, "cpu_share": 0.4}, IDLE, 0.3)
    assert why == ("load-skewed: 20.0 img/s against the baseline's 60.0 while the machine was busy "
                   "(its processes got 40% of the CPU they asked for, the baseline's 95%)")


def test_slow_by_its_own_code_is_not_load_skewed():
    # A bigger model trains slower but still gets the CPU it asks for: judged as it is.
    assert load_skew({"img_per_sec": 20.0, "cpu_share": 0.93}, IDLE, 0.3) is None


def test_a_small_slowdown_or_a_faster_run_is_not_flagged():
    assert load_skew({"img_per_sec": 50.0, "cpu_share": 0.4}, IDLE, 0.3) is None
    assert load_skew({"img_per_sec": 90.0, "cpu_share": 0.4}, IDLE, 0.3) is None


def test_other_processes_on_the_gpu_explain_a_slowdown():
    why = load_skew({"img_per_sec": 20.0, "cpu_share": 0.9, "gpu_other_procs": 2.0}, {**IDLE, "gpu_other_procs": 0.0}, 0.3)
    assert why is not None and "2 other process(es) on the GPU" in why


def test_without_figures_nothing_is_claimed():
    assert load_skew({}, IDLE, 0.3) is None
    assert load_skew({"img_per_sec": 20.0, "cpu_share": 0.4}, {}, 0.3) is None


def test_the_report_shows_throughput_and_marks_a_skewed_run(tmp_path: Path):
    records = night_records()
    for seed in records[0]["seeds"]:
        seed["aux"] = dict(IDLE)
    records[1]["aux"] = {"img_per_sec": 58.2, "cpu_share": 0.94}
    records[2]["aux"] = {"img_per_sec": 14.5, "cpu_share": 0.35}
    ws = write_workspace(tmp_path / "ws", records)
    write_report(ws, load_config(ws / "gg-research.toml"), formats=("md", "html"))
    md = (ws / "results" / "report.md").read_text()
    assert "| 1 | e0002 ★ | c0ffee2 | 0.6600 | 0.5500 | 58.2 | keep |" in md
    row = next(line for line in md.splitlines() if line.startswith("| (") and "e0003" in line)
    assert "| 14.5 ⚠ | discard |" in row and "[load-skewed: 14.5 img/s against the baseline's 60.0" in row
    html = (ws / "results" / "report.html").read_text()
    assert 'title="load-skewed: 14.5 img/s' in html and ">14.5 ⚠</td>" in html


def test_the_parents_view_of_a_busy_machine_decides_and_the_runs_own_figures_do_not():
    quiet = {"machine_busy": 0.02, "img_per_sec": 60.0}
    assert reference([{"machine_busy": 0.4, "img_per_sec": 90.0}, quiet]) == quiet  # the quietest, not the fastest
    why = load_skew({"machine_busy": 0.7, "img_per_sec": 59.0}, quiet, 0.3)
    assert why is not None and "other processes used 70% of the CPUs" in why
    # A run claiming a tiny throughput and a starved CPU share on a quiet machine is not re-run.
    assert load_skew({"machine_busy": 0.05, "img_per_sec": 0.1, "cpu_share": 0.01}, quiet, 0.3) is None


def test_the_report_and_status_say_when_runs_were_not_boxed(tmp_path: Path):
    from gg_research.loop.agent_state import loop_state

    records = night_records()
    for seed in records[0]["seeds"]:
        seed["aux"] = {"boxed": 1.0}
    records[2]["aux"] = {"boxed": 0.0}
    ws = write_workspace(tmp_path / "ws", records)
    config = load_config(ws / "gg-research.toml")
    write_report(ws, config, formats=("md",))
    md = (ws / "results" / "report.md").read_text()
    assert "were NOT isolated" in md and "sudo apt install bubblewrap" in md
    tag = records[0].get("tag") or "t"
    assert any("NOT isolated" in w for w in loop_state(ws, config, tag)["warnings"])


def test_a_run_the_time_cap_cut_short_of_its_images_is_skewed_whatever_the_load():
    from gg_research.results.throughput import short_of_images

    quiet = {"machine_busy": 0.0}
    short = {"budget_images": 2000.0, "images_served": 548.0, "machine_busy": 0.0}
    assert short_of_images(short) == "cut short: trained 548 of its 2000 images before the time cap"
    assert load_skew(short, quiet, 0.3) == "load-skewed: cut short: trained 548 of its 2000 images before the time cap"
    full = {**short, "images_served": 2000.0}
    assert short_of_images(full) is None and load_skew(full, quiet, 0.3) is None
    # A time budget, or a ledger from before the parent counted images, claims nothing.
    assert short_of_images({"budget_images": 0.0, "images_served": 10.0}) is None
    assert short_of_images({"budget_images": 2000.0}) is None
