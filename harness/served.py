"""The run's side of the training data feed (harness.feed): the split as `ctx.train_dataset`,
whose samples come from the parent, and the harness's loader over it, which asks a few batches
ahead while the current one trains.
"""

from __future__ import annotations

import json
import mmap
import os
import socket
import struct
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from gg_research.harness.feed import (FIELDS, HEADER, ITEMS, ITEMSIZE, MAX_PENDING, META, OK, PREFETCH_DEPTH, SPENT,
                                      BudgetSpent, FeedBroken, image_bytes, numel, recv_exact, sample_shape)

if TYPE_CHECKING:
    from torch.utils.data import DataLoader, Dataset

    from gg_research.ggnet.dataset import Sample

    # A torch Dataset to the type checker (DataLoader, ConcatDataset and TrainContext take it as
    # one); at run time a plain class, so importing this module does not import torch.
    _DatasetBase = Dataset[Sample]
else:
    _DatasetBase = object


_SERVED_TO_OWN_PROCESS = ("ctx.train_dataset is served by the harness to train.py's own process: DataLoader "
                          "workers (num_workers > 0) cannot read it. The split is in memory already; use num_workers=0")


class ServedDataset(_DatasetBase):
    """The training split as train.py sees it: a torch Dataset whose samples come from the parent.

    Items are float, as a GGDataset's; `stored_batch(indices)` is the uint8 batch the harness's
    loader converts once. Safe to call from several threads of the run; not from DataLoader
    worker processes (the feed is one connection).
    """

    split = "train"

    def __init__(self, fd: int) -> None:
        self._sock = socket.socket(fileno=fd)
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self.fetched = 0  # images handed to train.py: ctx's count, which the parent's bounds
        self.spent = False  # the parent said the images budget is spent
        self._broken: str | None = None  # a request cut off mid-answer: the connection's order is lost
        self._sock.sendall(HEADER.pack(META, 0))
        head, fds, _, _ = socket.recv_fds(self._sock, HEADER.size, 1)
        if len(fds) != 1:
            raise FeedBroken("the harness sent no shared buffer")
        head = bytes(head) + bytes(recv_exact(self._sock, HEADER.size - len(head)))
        _, length = HEADER.unpack(head)
        meta = json.loads(bytes(recv_exact(self._sock, length)).decode())
        self._shared = mmap.mmap(fds[0], 0, prot=mmap.PROT_READ)
        os.close(fds[0])
        self.image_size, self._count = int(meta["size"]), int(meta["count"])
        self.max_request = int(meta["max_request"])
        self.budget = int(meta.get("budget", 0))
        self.ids: list[str] = [str(i) for i in meta["ids"]]
        self._pending: deque[tuple[tuple[int, ...], Future[dict[str, Any]]]] = deque()
        self._ahead: ThreadPoolExecutor | None = None

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, i: Any) -> dict[str, Any]:
        if isinstance(i, slice):  # a batch, as the in-memory split gives one
            from gg_research.ggnet.dataset import to_float

            return to_float(self.stored_batch(list(range(*i.indices(self._count)))))
        i = int(i)
        return self.__getitems__([i + self._count if i < 0 else i])[0]  # from the end, as a sequence

    def __add__(self, other: Any) -> Any:
        from torch.utils.data import ConcatDataset

        return ConcatDataset([self, other])

    def __copy__(self) -> ServedDataset:
        return self  # one feed: a copy of the split reads the same samples

    def __deepcopy__(self, memo: dict[int, object]) -> ServedDataset:
        return self

    def __getitems__(self, indices: list[int]) -> list[dict[str, Any]]:
        """Float items, fetched in one request (a DataLoader over this dataset asks a batch at once)."""
        from gg_research.ggnet.dataset import to_float

        batch = self.stored_batch(list(indices))
        return [to_float({key: value[j] for key, value in batch.items()}) for j in range(len(indices))]

    def __getstate__(self) -> None:
        raise TypeError(_SERVED_TO_OWN_PROCESS)

    def stored_batch(self, indices: list[int]) -> dict[str, Any]:
        """The samples at `indices`, stored (uint8 images); BudgetSpent once the images budget is spent."""
        key = tuple(int(i) for i in indices)
        asked = next((entry for entry in self._pending if entry[0] == key), None)
        if asked is not None:  # asked ahead by this batch's loader; other loaders' stay theirs
            self._pending.remove(asked)
            batch = asked[1].result()
        else:
            batch = self._fetch(key)
        self.fetched += len(batch["camera"])  # counted when handed over, not when asked ahead
        return batch

    def prefetch(self, indices: Iterable[int]) -> bool:
        """Ask for a batch now, while the current one trains (the harness's loader does); False,
        asking nothing, when under an images budget it would ask past what is left of it."""
        key = tuple(int(i) for i in indices)
        # Near the end of an images budget nothing is asked ahead: a batch in flight when a loader
        # ends (zip of two loaders, a loop that breaks) would be served, counted and never trained on.
        ahead = self.fetched + sum(len(k) for k, _ in self._pending) + (PREFETCH_DEPTH + 1) * len(key)
        if self.spent or (self.budget and ahead > self.budget):
            return False
        if self._ahead is None:
            self._ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gg-feed")
        if len(self._pending) >= MAX_PENDING:  # loaders left without closing: forget their oldest batch
            self._pending.popleft()
        self._pending.append((key, self._ahead.submit(self._fetch, key)))
        return True

    def cancel(self, keys: Iterable[Iterable[int]]) -> None:
        """Drop batches asked ahead that a loader left behind, those not yet sent for (so a loop that
        leaves the loader early does not spend its images budget on them)."""
        drop = {tuple(int(i) for i in k) for k in keys}
        for entry in [e for e in self._pending if e[0] in drop]:
            if entry[1].cancel():
                self._pending.remove(entry)

    def _fetch(self, key: tuple[int, ...]) -> dict[str, Any]:
        import torch

        if os.getpid() != self._pid:
            raise RuntimeError(_SERVED_TO_OWN_PROCESS)
        if not key:
            raise ValueError("ask for at least one training image")
        if any(not 0 <= i < self._count for i in key):
            raise IndexError(f"index out of range: the training split has {self._count} samples")
        chunks: list[dict[str, Any]] = []
        for at in range(0, len(key), self.max_request):
            try:
                chunks.append(self._request(key[at:at + self.max_request]))
            except BudgetSpent:
                if not chunks:
                    raise
                break
            if len(chunks[-1]["camera"]) < len(key[at:at + self.max_request]):
                break  # cut short by the budget: nothing more is served
        out = {name: torch.cat([c[name] for c in chunks]) if len(chunks) > 1 else chunks[0][name] for name, _, _ in FIELDS}
        out["id"] = [self.ids[i] for i in key[:len(out["camera"])]]
        return out

    def _request(self, key: tuple[int, ...]) -> dict[str, Any]:
        with self._lock:
            if self._broken:
                raise FeedBroken(self._broken)
            try:
                return self._exchange(key)
            except BaseException as exc:
                if not isinstance(exc, (BudgetSpent, IndexError)):
                    # Interrupted between asking and reading (a signal handler that raised, say):
                    # what is left on the socket belongs to this request, so none after it can be
                    # trusted to be its own samples.
                    self._broken = (f"the training data feed was interrupted mid-request "
                                    f"({type(exc).__name__}); it serves no more batches in this run")
                raise

    def _exchange(self, key: tuple[int, ...]) -> dict[str, Any]:
        import numpy as np
        import torch

        n, size = len(key), self.image_size
        self._sock.sendall(HEADER.pack(ITEMS, n) + struct.pack(f"<{n}I", *key))
        status, length = HEADER.unpack(recv_exact(self._sock, HEADER.size))
        if status == OK:
            n, odd = divmod(length, image_bytes(size))
            if odd or not 0 < n <= len(key):
                raise FeedBroken(f"the harness gave {length} bytes for {len(key)} images")
            if self.budget and n < len(key):
                self.spent = True
            out, at = {}, 0
            for name, dtype, shape in FIELDS:  # copied out before the next request reuses the buffer
                count = n * numel(shape, size)
                arr = np.frombuffer(self._shared, dtype=dtype, count=count, offset=at)
                out[name] = torch.from_numpy(arr.copy()).view(n, *sample_shape(shape, size))
                at += count * ITEMSIZE[dtype]
            return out
        reason = bytes(recv_exact(self._sock, length)).decode("utf-8", "replace") if length else ""
        if status == SPENT:
            self.spent = True
            raise BudgetSpent("the images budget is spent: the harness serves no more training images "
                              "(stop when ctx.done() says so)")
        raise IndexError(reason)


class PrefetchingBatches:
    """A batch sampler that, from a loader's second batch on, keeps the next DEPTH batches asked of
    the feed while the loader works on the current one: the transfers, and the wait for the parent
    to be scheduled on a busy machine, overlap the training steps. A loader's first batch is asked
    when it is wanted (a look at one batch asks for no more), and the batches asked ahead of a
    loop that leaves the loader early are dropped if not yet sent for."""

    def __init__(self, inner: Iterable[list[int]], dataset: ServedDataset) -> None:
        self._inner, self._dataset = inner, dataset

    def __len__(self) -> int:
        return len(self._inner)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[list[int]]:
        it = iter(self._inner)
        first = next(it, None)
        if first is None:
            return
        yield first
        window: deque[list[int]] = deque()
        try:
            for indices in it:
                if not self._dataset.prefetch(indices):  # past what is left of an images budget
                    while window:
                        yield window.popleft()
                    yield indices
                    continue
                window.append(indices)
                if len(window) > PREFETCH_DEPTH:
                    yield window.popleft()
            while window:
                yield window.popleft()
        finally:
            self._dataset.cancel(window)


class _ServedBatches:
    """The served split read a batch at a time, stored (uint8) until the loader's to_float."""

    def __init__(self, dataset: ServedDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitems__(self, indices: list[int]) -> dict[str, Any]:
        return self.dataset.stored_batch(indices)


# Options of a DataLoader that start worker processes: a served split is read by this process only.
_WORKER_OPTIONS = ("num_workers", "persistent_workers", "prefetch_factor", "worker_init_fn", "multiprocessing_context")


def served_loader(dataset: ServedDataset, batch_size: int, *, shuffle: bool, drop_last: bool, **kw: Any) -> DataLoader[Any]:
    """A DataLoader of float batches over the served split, one request per batch and the next
    batch on its way while this one trains. Worker options are dropped (the split is in memory
    in the parent; a worker process cannot share the feed). A caller's own collate_fn gets the
    float items, as from any Dataset."""
    from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

    from gg_research.ggnet.dataset import to_float

    for key in _WORKER_OPTIONS:
        kw.pop(key, None)
    sampler = kw.pop("sampler", None) or (RandomSampler(dataset, generator=kw.get("generator")) if shuffle
                                          else SequentialSampler(dataset))
    batches = PrefetchingBatches(kw.pop("batch_sampler", None) or BatchSampler(sampler, batch_size, drop_last), dataset)
    if "collate_fn" in kw:
        return DataLoader(dataset, batch_sampler=batches, **kw)
    return DataLoader(_ServedBatches(dataset), batch_sampler=batches, collate_fn=to_float, **kw)  # type: ignore[arg-type]
