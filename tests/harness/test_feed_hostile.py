"""Hostile and unusual uses of the training-data feed and the images budget (harness.feed), from a
red team that had not seen it: each was an attempt that once got through.

The first two run both ends of the feed here over a real socket pair (as tests/harness/test_feed.py
does); the others are runs of the real harness in its real box, reporting through stdout (run.log).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

from gg_research.ggnet.dataset import GGDataset
from gg_research.harness.runner import run_experiment
from gg_research.harness.sandbox import bwrap_works
from tests.harness.standin import make_workspace
from tests.harness.test_box import PROBE_HELPERS, _probe
from tests.harness.test_feed import _ctx, _serve

boxed = pytest.mark.skipif(bwrap_works() is not None, reason=f"no sandbox here: {bwrap_works()}")


@pytest.fixture(scope="module")
def split(dataset: Path) -> GGDataset:
    return GGDataset(dataset, "train", 64)


# -- honest train.py files that the feed breaks ----------------------------------------------------

def test_a_negative_index_reads_from_the_end_as_the_in_memory_split_does(split: GGDataset) -> None:
    """`ctx.train_dataset[-1]` (a peek at the last sample) works on the in-memory split and on any
    list; the served split refuses it as out of range."""
    server, ds = _serve(split)
    try:
        assert ds[-1]["id"] == split[-1]["id"] == split.ids[-1]
        assert torch.equal(ds[-1]["mask"], split[-1]["mask"])
    finally:
        server.close()


def test_a_slice_and_dataset_arithmetic_work_as_on_the_in_memory_split(split: GGDataset) -> None:
    """On the in-memory split `ds[:2]` is a batch (a fixed batch to watch, in a train.py an LLM
    writes) and the split is a torch Dataset (`ds + other` concatenates); the served split raises
    TypeError on both."""
    server, ds = _serve(split)
    try:
        assert ds[:2]["id"] == split[:2]["id"]
        assert torch.equal(ds[:2]["mask"], split[:2]["mask"])
        assert len(ds + ds) == 2 * len(split)
    finally:
        server.close()


def test_a_copy_of_the_served_split_reads_the_same_samples(split: GGDataset) -> None:
    """`copy.deepcopy(ctx.train_dataset)` (a second view to augment differently) works on the
    in-memory split; the served split refuses it with the DataLoader workers' message
    ("use num_workers=0"), which says nothing of what the train.py did."""
    import copy

    server, ds = _serve(split)
    try:
        for twin in (copy.copy(ds), copy.deepcopy(ds)):
            assert len(twin) == len(split) and twin[3]["id"] == split.ids[3]
    finally:
        server.close()


def test_a_request_interrupted_by_a_signal_never_mislabels_the_batches_after_it(split: GGDataset) -> None:
    """A train.py keeping its own time with SIGALRM (its handler raises to stop a step) can interrupt
    a request between asking and reading the answer. That answer stays in the socket and every later
    request reads the one before: batches whose ids are not their images, and items whose mask is
    another sample's (the parent rewrites the buffer as they are copied), with no error. Once a
    request is interrupted, a later one must give the right samples or fail, never wrong labels."""
    import random
    import signal
    import time

    class Tick(Exception):
        pass

    def tick(*_: object) -> None:
        raise Tick()

    server, ds = _serve(split)
    previous = signal.signal(signal.SIGALRM, tick)
    rng, interrupted, wrong, failed = random.Random(0), 0, 0, 0
    try:
        end = time.monotonic() + 10
        while time.monotonic() < end and (interrupted < 10 or wrong == 0):
            idx = [(rng.randrange(len(split)) + j) % len(split) for j in range(8)]
            try:
                signal.setitimer(signal.ITIMER_REAL, rng.uniform(5e-5, 2e-3))
                try:
                    batch = ds.stored_batch(idx)
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            except Tick:
                interrupted += 1
                continue
            except Exception:  # noqa: BLE001 - failing is allowed, mislabelling is not
                failed += 1
                if interrupted:
                    break  # the feed refuses from here on: nothing more to see
                continue
            if not (torch.equal(batch["mask"], split.mask[idx]) and torch.equal(batch["camera"], split.camera[idx])):
                wrong += 1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        server.close()
    assert interrupted > 0
    assert wrong == 0, f"{wrong} batches with other samples' data after {interrupted} interrupted requests ({failed} failed)"


def test_a_batch_peeked_before_training_neither_burns_the_budget_nor_leaves_done_false(split: GGDataset) -> None:
    """A train.py that takes one batch to see the shapes (`next(iter(ctx.loader(4)))`), then trains
    `while not ctx.done()`: the loader had asked three batches ahead, the parent served and counted
    them, and nobody was given them. The parent then says the budget is spent while ctx counts 4 of
    12 images, so `ctx.done()` stays False and every new loader ends at once: the honest loop spins
    to the time cap having trained on a third of its budget."""
    budget = 12
    server, ds = _serve(split, budget)
    try:
        ctx = _ctx(ds, budget)
        peek = next(iter(ctx.loader(4)))
        trained, loops = peek["camera"].shape[0], 0
        while not ctx.done() and loops < 50:
            loops += 1
            for batch in ctx.loader(4):
                trained += batch["camera"].shape[0]
        assert ctx.done(), f"ctx.done() still False after {loops} loaders; the parent served {server.served}"
        assert trained >= budget, f"trained on {trained} of a budget of {budget}; the parent served {server.served}"
    finally:
        server.close()


def test_two_loaders_side_by_side_train_on_the_whole_budget(split: GGDataset) -> None:
    """A mixup edit draws its partner batch from a second loader: `zip(ctx.loader(4),
    ctx.loader(4))`. Each loader's next batch discards the other's batches asked ahead (served and
    counted all the same): under a budget of 24 images the run trains on 8 and ctx.done() stays False."""
    budget = 24
    server, ds = _serve(split, budget)
    try:
        ctx = _ctx(ds, budget)
        trained = 0
        for _ in range(10):  # epochs, as `while not ctx.done()` would, bounded here
            for a, b in zip(ctx.loader(4), ctx.loader(4, shuffle=False)):
                trained += a["camera"].shape[0] + b["camera"].shape[0]
        assert trained >= budget and ctx.done(), (
            f"trained on {trained} of a budget of {budget} (done: {ctx.done()}); the parent served {server.served}")
    finally:
        server.close()


# -- runs of the real harness ----------------------------------------------------------------------

@pytest.mark.slow
@boxed
def test_one_request_cannot_take_the_whole_split_past_an_images_budget(tmp_path: Path, dataset: Path) -> None:
    """The parent serves "the batch begun under the budget whole", whatever its size (up to 2,726
    images at 64 px): under a budget of 4 images one request takes the whole training split (17),
    and the run, by lowering its own count, records num_images = 4, the budget, with status ok."""
    source = PROBE_HELPERS + textwrap.dedent('''
        def train(ctx):
            ds = ctx.train_dataset
            attempt("one_request", lambda: ds.stored_batch(list(range(len(ds))))["camera"].shape[0])
            ds.fetched = ctx.budget_images  # say it took the budget, not what it took
            report()
            return Still()
    ''')
    budget = 4
    ws = make_workspace(tmp_path / "ws", dataset, train_source=source, budget_s=30.0,
                        extra_run=f'budget = "images"\nbudget_images = {budget}')
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    probe = _probe(res)
    # Served whole, a batch may pass the budget by less than a batch; a batch larger than the
    # whole budget is no batch an images budget can mean (the honest overshoot is < 2 x budget).
    took_over = res.status == "ok" and res.metrics["images_served"] >= 2 * budget
    assert not took_over, (probe, res.status, {k: res.metrics.get(k) for k in ("images_served", "num_images")})
