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
the budget cut the request short), in FIELDS order, written by the parent at the start of that
buffer (one round trip per batch, whatever its size; the run copies them out before its next
request). Everything the parent reads is checked against fixed bounds before it is used; a request
that breaks the protocol ends the feed and is the run's fault.
"""

from __future__ import annotations

import fcntl
import json
import mmap
import os
import socket
import struct
import threading
from typing import TYPE_CHECKING, Literal

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
Dim = int | Literal["S"]
FIELDS: tuple[tuple[str, str, tuple[Dim, ...]], ...] = (
    ("camera", "uint8", (3, "S", "S")), ("render", "uint8", (1, "S", "S")), ("mask", "uint8", (1, "S", "S")),
    ("material", "uint8", (1, "S", "S")), ("theta", "float32", (3, 3)), ("has_theta", "bool", ()),
    ("has_material", "bool", ()))
ITEMSIZE = {"uint8": 1, "float32": 4, "bool": 1}


class FeedBroken(Exception):
    """The run broke the feed's protocol (the parent stops serving it)."""


class BudgetSpent(IndexError):
    """The images budget is spent: the parent serves no more training images.

    An IndexError, so `for item in ctx.train_dataset` ends there as a sequence would."""


def sample_shape(shape: tuple[Dim, ...], size: int) -> tuple[int, ...]:
    return tuple(size if d == "S" else d for d in shape)


def numel(shape: tuple[Dim, ...], size: int) -> int:
    n = 1
    for d in sample_shape(shape, size):
        n *= d
    return n


def image_bytes(size: int) -> int:
    """Bytes of one sample in an ITEMS answer."""
    return sum(numel(shape, size) * ITEMSIZE[dtype] for _, dtype, shape in FIELDS)


def max_request(size: int) -> int:
    return max(1, min(MAX_REQUEST, BUFFER_BYTES // image_bytes(size)))


def recv_exact(sock: socket.socket, n: int) -> bytearray:
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
                    kind, count = HEADER.unpack(recv_exact(self._sock, HEADER.size))
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
        idx = np.frombuffer(recv_exact(self._sock, 4 * count), dtype="<u4").astype(np.int64)
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
            n = count * numel(shape, size)
            out = np.frombuffer(view, dtype=dtype, count=n, offset=at).reshape(count, *sample_shape(shape, size))
            # Straight into the shared buffer, in this thread alone: torch's parallel gather waits on
            # its thread pool, which on a busy machine costs a time slice per field.
            np.take(getattr(dataset, name).numpy(), idx, axis=0, out=out)
            at += n * ITEMSIZE[dtype]
        self.served += count
        self._sock.sendall(HEADER.pack(OK, at))

    def _send(self, status: int, payload: bytes = b"") -> None:
        self._sock.sendall(HEADER.pack(status, len(payload)) + payload)
