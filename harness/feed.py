"""The training data, served by the parent: the run asks for samples by index over a socket
pair, and the parent, which alone holds the training split, gives them and counts every image.

The training file is not in the run's box, so this feed is the only way to training images, and
the images a run trained on are the parent's count, not the run's word. Under an images budget
the parent serves no image past it: a request that would pass it gets only the images left.

One request, child to parent: a header (kind, count) and `count` uint32 indices. One answer: a
header (status, length). META's answer carries, on the socket, a JSON object (size, count, ids,
the images budget, the most images a request may ask) and, as the message's file descriptor, a shared buffer (a
sealed memfd: its size cannot change, so nothing the run does to it can fault the parent); an
ITEMS answer's `length` bytes are the stored tensors of the asked samples (of the first ones, when
the budget cut the request short), in FIELDS order, written by the parent at the start of that buffer (one round trip per batch, whatever its size; the run
copies them out before its next request). Everything the parent reads is checked against fixed
bounds before it is used; a request that breaks the protocol ends the feed and is the run's fault.
"""

from __future__ import annotations

import fcntl
import json
import mmap
import os
import socket
import struct
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Iterable, Iterator

if TYPE_CHECKING:
    from gg_research.ggnet.dataset import GGDataset

HEADER = struct.Struct("<II")
META, ITEMS = 1, 2
OK, SPENT, REFUSED = 0, 1, 2
MAX_REQUEST = 4096  # images in one request, at most (and no more than fit the shared buffer)
PREFETCH_DEPTH = 3  # batches the harness's loader asks ahead
MAX_PENDING = 32  # batches asked ahead and not yet taken, over all of a run's loaders
BUFFER_BYTES = 64 * 2**20  # the shared buffer: 680 images of 128 px in one answer; pages are used as written
# (name, dtype name, shape of one sample given the image size S); the order of an ITEMS answer.
FIELDS = (("camera", "uint8", (3, "S", "S")), ("render", "uint8", (1, "S", "S")), ("mask", "uint8", (1, "S", "S")),
          ("material", "uint8", (1, "S", "S")), ("theta", "float32", (3, 3)), ("has_theta", "bool", ()),
          ("has_material", "bool", ()))
_ITEMSIZE = {"uint8": 1, "float32": 4, "bool": 1}


class FeedBroken(Exception):
    """The run broke the feed's protocol (the parent stops serving it)."""


class BudgetSpent(IndexError):
    """The images budget is spent: the parent serves no more training images.

    An IndexError, so `for item in ctx.train_dataset` ends there as a sequence would."""


def _shape(shape: tuple, size: int) -> tuple[int, ...]:
    return tuple(size if d == "S" else d for d in shape)


def _numel(shape: tuple, size: int) -> int:
    n = 1
    for d in _shape(shape, size):
        n *= d
    return n


def image_bytes(size: int) -> int:
    """Bytes of one sample in an ITEMS answer."""
    return sum(_numel(shape, size) * _ITEMSIZE[dtype] for _, dtype, shape in FIELDS)


def max_request(size: int) -> int:
    return max(1, min(MAX_REQUEST, BUFFER_BYTES // image_bytes(size)))


def _recv_exact(sock: socket.socket, n: int) -> bytearray:
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise EOFError("the other side closed the feed")
        got += k
    return buf


def pair() -> tuple[socket.socket, socket.socket]:
    """(the parent's end, the child's end); the child's is inheritable, for the child's process."""
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    child.set_inheritable(True)
    return parent, child


def _shared_buffer() -> tuple[int, mmap.mmap]:
    fd = os.memfd_create("gg-feed", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        os.ftruncate(fd, BUFFER_BYTES)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL)
        return fd, mmap.mmap(fd, BUFFER_BYTES)
    except BaseException:
        os.close(fd)
        raise


# -- the parent's side ----------------------------------------------------------------------------
class FeedServer:
    """Serves one run's training images from the parent's copy of the split, counting them."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._thread: threading.Thread | None = None
        self._buffer: tuple[int, mmap.mmap] | None = None
        self.served = 0  # training images given to the run
        self.requests = 0
        self.refused_past_budget = 0  # requests answered "spent"
        self.problem: str | None = None  # set when the run broke the protocol

    def serve(self, dataset: GGDataset, budget_images: int) -> None:
        """Start answering the run's requests (at go: the budget is known then)."""
        self._buffer = _shared_buffer()
        self._thread = threading.Thread(target=self._loop, args=(dataset, int(budget_images)), daemon=True,
                                        name="gg-feed")
        self._thread.start()

    def close(self) -> None:
        """End the feed (the run is over); the serving thread stops."""
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._sock.close()
        if self._buffer is not None and (self._thread is None or not self._thread.is_alive()):
            fd, view = self._buffer
            self._buffer = None
            view.close()
            os.close(fd)

    def _loop(self, dataset: GGDataset, budget: int) -> None:
        try:
            while True:
                try:
                    kind, count = HEADER.unpack(_recv_exact(self._sock, HEADER.size))
                except (EOFError, OSError):
                    return  # the run ended or the parent closed the feed
                self._answer(dataset, budget, kind, count)
        except FeedBroken as exc:
            self.problem = str(exc)
        except (EOFError, OSError):
            return
        finally:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _answer(self, dataset: GGDataset, budget: int, kind: int, count: int) -> None:
        import numpy as np

        self.requests += 1
        size = dataset.image_size
        if kind == META:
            if count:
                raise FeedBroken(f"a META request with {count} indices")
            meta = json.dumps({"size": size, "count": len(dataset), "ids": list(dataset.ids), "budget": budget,
                               "max_request": max_request(size)}).encode()
            assert self._buffer is not None
            socket.send_fds(self._sock, [HEADER.pack(OK, len(meta))], [self._buffer[0]])
            self._sock.sendall(meta)
            return
        if kind != ITEMS:
            raise FeedBroken(f"an unknown request kind {kind}")
        if not 0 < count <= max_request(size):
            raise FeedBroken(f"a request for {count} images (1 to {max_request(size)} allowed)")
        idx = np.frombuffer(_recv_exact(self._sock, 4 * count), dtype="<u4").astype(np.int64)
        if int(idx.max()) >= len(dataset):
            self._send(REFUSED, f"index out of range: the training split has {len(dataset)} samples".encode())
            return
        if budget and self.served >= budget:
            self.refused_past_budget += 1
            self._send(SPENT)
            return
        if budget:
            count = min(count, budget - self.served)  # the images left, never one past the budget
            idx = idx[:count]
        assert self._buffer is not None
        at, view = 0, self._buffer[1]
        for name, dtype, shape in FIELDS:
            n = count * _numel(shape, size)
            out = np.frombuffer(view, dtype=dtype, count=n, offset=at).reshape(count, *_shape(shape, size))
            # Straight into the shared buffer, in this thread alone: torch's parallel gather waits on
            # its thread pool, which on a busy machine costs a time slice per field.
            np.take(getattr(dataset, name).numpy(), idx, axis=0, out=out)
            at += n * _ITEMSIZE[dtype]
        self.served += count
        self._sock.sendall(HEADER.pack(OK, at))

    def _send(self, status: int, payload: bytes = b"") -> None:
        self._sock.sendall(HEADER.pack(status, len(payload)) + payload)


# -- the run's side -------------------------------------------------------------------------------
_SERVED_TO_OWN_PROCESS = ("ctx.train_dataset is served by the harness to train.py's own process: DataLoader "
                          "workers (num_workers > 0) cannot read it. The split is in memory already; use num_workers=0")


class ServedDataset:
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
        head = bytes(head) + bytes(_recv_exact(self._sock, HEADER.size - len(head)))
        _, length = HEADER.unpack(head)
        meta = json.loads(bytes(_recv_exact(self._sock, length)).decode())
        self._shared = mmap.mmap(fds[0], 0, prot=mmap.PROT_READ)
        os.close(fds[0])
        self.image_size, self._count = int(meta["size"]), int(meta["count"])
        self.max_request = int(meta["max_request"])
        self.budget = int(meta.get("budget", 0))
        self.ids: list[str] = [str(i) for i in meta["ids"]]
        self._pending: deque[tuple[tuple[int, ...], Future]] = deque()
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

    def __deepcopy__(self, memo: dict) -> ServedDataset:
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
        status, length = HEADER.unpack(_recv_exact(self._sock, HEADER.size))
        if status == OK:
            n, odd = divmod(length, image_bytes(size))
            if odd or not 0 < n <= len(key):
                raise FeedBroken(f"the harness gave {length} bytes for {len(key)} images")
            if self.budget and n < len(key):
                self.spent = True
            out, at = {}, 0
            for name, dtype, shape in FIELDS:  # copied out before the next request reuses the buffer
                numel = n * _numel(shape, size)
                arr = np.frombuffer(self._shared, dtype=dtype, count=numel, offset=at)
                out[name] = torch.from_numpy(arr.copy()).view(n, *_shape(shape, size))
                at += numel * _ITEMSIZE[dtype]
            return out
        reason = bytes(_recv_exact(self._sock, length)).decode("utf-8", "replace") if length else ""
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


def served_loader(dataset: ServedDataset, batch_size: int, *, shuffle: bool, drop_last: bool, **kw: Any):
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
        return DataLoader(dataset, batch_sampler=batches, **kw)  # type: ignore[arg-type]
    return DataLoader(_ServedBatches(dataset), batch_sampler=batches, collate_fn=to_float, **kw)  # type: ignore[arg-type]
