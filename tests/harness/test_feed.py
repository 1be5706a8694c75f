"""The training split served by the parent (harness.feed): what the run gets, what the parent
counts, the images budget kept on the parent's side, and a run that breaks the protocol.

Both ends run here over a real socket pair (the server in its thread, as in the parent).
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import pytest
import torch

from gg_research.ggnet.dataset import GGDataset
from gg_research.harness.context import TrainContext
from gg_research.harness.feed import FIELDS, HEADER, ITEMS, BudgetSpent, FeedServer, pair
from gg_research.harness.served import ServedDataset


@pytest.fixture(scope="module")
def split(dataset: Path) -> GGDataset:
    return GGDataset(dataset, "train", 64)


def _serve(split: GGDataset, budget: int = 0) -> tuple[FeedServer, ServedDataset]:
    ours, theirs = pair()
    server = FeedServer(ours)
    server.serve(split, budget)
    return server, ServedDataset(theirs.detach())


def _ctx(ds, budget_images: int = 0) -> TrainContext:
    ctx = TrainContext(device=torch.device("cpu"), seed=3, image_size=64, train_dataset=ds, budget_s=60.0,
                       run_dir=Path("."), budget_images=budget_images)
    ctx.start_clock()
    return ctx


def test_the_run_gets_the_split_as_stored_and_the_parent_counts_every_image(split: GGDataset) -> None:
    server, ds = _serve(split)
    assert len(ds) == len(split) and ds.ids == split.ids and ds.image_size == 64
    batch = ds.stored_batch([2, 0, 2])
    for name, _, _ in FIELDS:
        assert torch.equal(batch[name], getattr(split, name)[[2, 0, 2]]), name
    assert batch["id"] == [split.ids[2], split.ids[0], split.ids[2]]
    item = ds[1]  # float, exactly as the in-memory split gives it
    for key, value in split[1].items():
        assert (value == item[key]) if key == "id" else torch.equal(torch.as_tensor(value), torch.as_tensor(item[key]))
    assert server.served == 4 and ds.fetched == 4
    server.close()


def test_the_harness_loader_gives_the_same_batches_served_as_in_memory(split: GGDataset) -> None:
    server, ds = _serve(split)
    local = [b["id"] for b in _ctx(split).loader(4)]
    served_batches = list(_ctx(ds).loader(4))
    assert [b["id"] for b in served_batches] == local  # same order: a run is the same run served or not
    assert served_batches[0]["camera"].dtype == torch.float32 and float(served_batches[0]["camera"].max()) <= 1.0
    assert server.served == sum(len(ids) for ids in local)
    server.close()


def test_an_images_budget_is_kept_by_the_parent_however_the_run_asks(split: GGDataset) -> None:
    """Past the budget the parent serves nothing: through the harness's loader, item by item, or
    through a DataLoader of the run's own."""
    budget = 6
    server, ds = _serve(split, budget)
    ctx = _ctx(ds, budget)
    seen = sum(b["camera"].shape[0] for _ in range(5) for b in ctx.loader(4))  # epochs past the budget
    # The parent gave the 2 images left, not a whole batch; the loader dropped them (drop_last).
    assert seen == 4 and server.served == 6
    assert ctx.done() and ctx.images_trained() == 6
    assert sum(1 for _ in ds) == 0  # iterating the dataset ends at once: its items are spent
    own = torch.utils.data.DataLoader(ds, batch_size=4)
    with pytest.raises(BudgetSpent):
        next(iter(own))
    assert server.served == 6 and server.refused_past_budget >= 2
    server.close()


def test_the_last_images_of_a_budget_reach_a_loader_that_keeps_short_batches(split: GGDataset) -> None:
    server, ds = _serve(split, 6)
    sizes = [b["camera"].shape[0] for b in _ctx(ds, 6).loader(4, drop_last=False)]
    assert sizes == [4, 2] and server.served == 6
    server.close()


def test_one_request_never_takes_more_than_the_budget_left(split: GGDataset) -> None:
    server, ds = _serve(split, 5)
    batch = ds.stored_batch(list(range(len(split))))
    assert len(batch["camera"]) == 5 == len(batch["id"]) and server.served == 5 and ds.spent
    with pytest.raises(BudgetSpent):
        ds.stored_batch([0])
    server.close()


def test_a_loader_left_early_leaves_its_batches_asked_ahead_unsent(split: GGDataset) -> None:
    """Leaving a loop early (or a look at one batch) spends no images on the batches asked ahead."""
    server, ds = _serve(split, 12)
    ctx = _ctx(ds, 12)
    for i, _ in enumerate(ctx.loader(2)):
        if i == 1:
            break
    import time

    time.sleep(0.5)  # a request already sent is served; none is sent after the loop left
    assert server.served <= 2 + 2 + 2  # the two taken, at most one in flight
    left = sum(b["camera"].shape[0] for _ in range(10) for b in ctx.loader(2))
    assert ctx.done() and server.served == 12 and left + 4 >= 12 - 2
    server.close()


def test_a_time_budget_serves_on_and_counts(split: GGDataset) -> None:
    server, ds = _serve(split, 0)
    n = sum(b["camera"].shape[0] for _ in range(3) for b in _ctx(ds).loader(4, drop_last=False))
    assert n == 3 * len(split) and server.served == n
    server.close()


def test_worker_processes_are_refused_with_a_reason_and_dropped_from_the_harness_loader(split: GGDataset) -> None:
    server, ds = _serve(split)
    batches = list(_ctx(ds).loader(4, num_workers=2, persistent_workers=True))  # the options are dropped
    assert batches and server.served == sum(b["camera"].shape[0] for b in batches)
    own = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=1)
    with pytest.raises(Exception, match="num_workers=0"):
        next(iter(own))
    server.close()


def test_an_index_out_of_range_is_refused_and_not_counted(split: GGDataset) -> None:
    server, ds = _serve(split)
    with pytest.raises(IndexError):
        ds[len(split)]
    with pytest.raises(IndexError):
        ds.stored_batch([-1])
    assert server.served == 0 and ds[0]["camera"].shape == (3, 64, 64)  # the feed still works
    server.close()


@pytest.mark.parametrize("request_bytes, problem", [
    (HEADER.pack(7, 0), "unknown request kind"),
    (HEADER.pack(ITEMS, 10**6), "a request for 1000000 images"),
    (HEADER.pack(ITEMS, 0), "a request for 0 images"),
    (HEADER.pack(1, 3), "META request with 3"),
])
def test_a_request_that_breaks_the_protocol_ends_the_feed_with_the_reason(
        split: GGDataset, request_bytes: bytes, problem: str) -> None:
    ours, theirs = pair()
    server = FeedServer(ours)
    server.serve(split, 0)
    theirs.sendall(request_bytes)
    theirs.settimeout(10)
    assert theirs.recv(64) == b""  # the parent hung up
    server.close()
    assert server.problem is not None and problem in server.problem, server.problem
    assert server.served == 0


def test_a_run_out_of_range_by_raw_request_is_refused_not_served(split: GGDataset) -> None:
    ours, theirs = pair()
    server = FeedServer(ours)
    server.serve(split, 0)
    theirs.sendall(HEADER.pack(ITEMS, 1) + struct.pack("<I", 2**31 + 5))  # a negative int32 index
    theirs.settimeout(10)
    status, length = HEADER.unpack(theirs.recv(HEADER.size))
    assert status != 0 and b"out of range" in theirs.recv(length)
    assert server.served == 0 and server.problem is None
    server.close()
    theirs.close()


def test_a_run_that_hangs_up_mid_request_ends_the_feed_quietly(split: GGDataset) -> None:
    ours, theirs = pair()
    server = FeedServer(ours)
    server.serve(split, 0)
    theirs.sendall(HEADER.pack(ITEMS, 4) + b"\0\0")  # half a request, then gone
    theirs.close()
    server.close()
    assert server.problem is None and server.served == 0


def test_a_served_dataset_is_never_pickled_to_another_process(split: GGDataset) -> None:
    import pickle

    server, ds = _serve(split)
    with pytest.raises(TypeError, match="num_workers=0"):
        pickle.dumps(ds)
    server.close()


def test_the_context_counts_images_taken_from_the_split_directly(split: GGDataset) -> None:
    """A train.py that indexes the split itself still reaches an images budget by ctx's count."""
    server, ds = _serve(split, 5)
    ctx = _ctx(ds, 5)
    i = 0
    while not ctx.done():
        ds[i % len(ds)]
        i += 1
    assert i == 5 and server.served == 5 and math.isclose(ctx.progress(), 1.0)
    server.close()

