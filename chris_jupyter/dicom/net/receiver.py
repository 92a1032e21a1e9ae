"""C-STORE receiver: an SCP that files incoming instances into the library.

Two engines behind one class: ``"lean"`` (default, :mod:`.scp` on :mod:`.ul`: ~4x less
CPU per instance, at parity with dcmtk's storescp as a C-MOVE destination) and
``"pynetdicom"`` (pynetdicom's AE with an ``EVT_C_STORE`` handler; the full protocol
coverage of pynetdicom, ~200 instances/s). Both use the same writer and statistics.

Every storage SOP class is accepted with uncompressed and compressed transfer syntaxes
(JPEG baseline/extended/lossless, JPEG-LS, JPEG 2000, RLE, deflate). The bytes are stored
as sent (see :mod:`chris_jupyter.dicom.net.netutil`): a temp file renamed atomically to
``storage_root / path_for(header)``. Stored instances are handed to ``on_stored`` in
batches (``batch_size`` instances or ``batch_seconds`` after the first one of a batch,
and at the end of every association) from a separate thread, so slow indexing never
holds up the network.

Duplicate SOPInstanceUIDs: last one wins (the file at the same path is replaced
atomically); ``on_stored`` sees the instance again and the indexer updates its row.

Nothing is stored that is not a whole data set (:func:`.netutil.check_incoming` walks every
received data set, header and pixel data length, before it is written): a malformed data set
answers 0xC000 (cannot understand), one whose SOPInstanceUID or SOPClassUID is not that of the
request, or without a SeriesInstanceUID, 0xA900 (does not match SOP class); a failed write
answers 0xA700 (out of resources). Each is logged with the SOPInstanceUID and the sender.

Who may associate: the called AE title must be ours (unless ``accept_any_called_ae``), the
calling AE one of ``calling_aes`` when given (else A-ASSOCIATE-RJ, reason 7 or 3); the
A-ASSOCIATE-RQ must come within ``artim_timeout`` seconds; one peer address holds at most
``max_associations_per_peer`` connections; refusals are logged (see :mod:`.scp`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydicom import Dataset
from pynetdicom import AE, evt
from pynetdicom.sop_class import Verification
from pynetdicom.transport import ThreadedAssociationServer

from .netutil import (
    STATUS_SUCCESS,
    TRANSFER_SYNTAXES,
    Incoming,
    LayoutWriter,
    StoredInstance,
    enable_tcp_nodelay,
    log_failure,
    status_for,
    storage_contexts,
    store_handler,
)
from .scp import LeanStoreServer, RefusalLog
from .ul import check_ae_title

log = logging.getLogger(__name__)

#: Largest PDU we announce; bigger PDUs mean fewer Python-level reads per instance.
DEFAULT_MAX_PDU = 4 * 1024 * 1024


@dataclass
class AssociationStats:
    """What one association delivered."""

    calling_ae: str
    peer: str
    started: float
    ended: float | None = None
    received: int = 0
    failed: int = 0
    bytes: int = 0
    aborted: bool = False

    @property
    def seconds(self) -> float:
        return (self.ended or time.monotonic()) - self.started


class _Batcher:
    """Collect :class:`StoredInstance` s and hand them to ``sink`` in batches, off-thread."""

    def __init__(
        self, sink: Callable[[list[StoredInstance]], None], size: int, seconds: float
    ) -> None:
        self.sink = sink
        self.size = max(1, size)
        self.seconds = seconds
        self._items: list[StoredInstance] = []
        self._first: float | None = None
        self._cond = threading.Condition()
        self._flush_now = False
        self._stop = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="dicom-store-batcher", daemon=True)
        self._thread.start()

    def add(self, item: StoredInstance) -> None:
        with self._cond:
            if not self._items:
                self._first = time.monotonic()
            self._items.append(item)
            if len(self._items) >= self.size:
                self._cond.notify()

    def flush(self, wait: bool = False) -> None:
        """Ask for the current batch to go now; with ``wait`` block until it went."""
        with self._cond:
            self._flush_now = True
            self._cond.notify()
            if wait:
                self._cond.wait_for(lambda: not self._items and not self._busy, timeout=60)

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout=60)

    def _due(self) -> bool:
        if not self._items:
            return False
        if self._flush_now or self._stop or len(self._items) >= self.size:
            return True
        return self._first is not None and time.monotonic() - self._first >= self.seconds

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._due():
                    if self._stop:
                        return
                    timeout = None
                    if self._items and self._first is not None:
                        timeout = max(0.0, self.seconds - (time.monotonic() - self._first))
                    self._flush_now = False
                    self._cond.wait(timeout)
                batch, self._items = self._items[: self.size], self._items[self.size :]
                self._first = time.monotonic() if self._items else None
                if not self._items:
                    self._flush_now = False
                self._busy = True
            try:
                self.sink(batch)
            except Exception:
                log.exception("on_stored failed for a batch of %d instances", len(batch))
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


class _PeerLimitedServer(ThreadedAssociationServer):
    """pynetdicom's server with at most ``max_per_peer`` connections per peer address.

    Its listen backlog is the lean engine's (``socket.create_server``'s default, 128), not
    socketserver's 5: with 5, a burst of connections (a PACS opening associations in parallel,
    or connections a peer leaves idle) has the kernel drop SYNs, and each sender beyond the
    fifth waits for TCP's retransmission (1 s, 3 s, 7 s...) before it is even seen."""

    request_queue_size = 128
    max_per_peer = 8
    refused: RefusalLog

    def verify_request(self, request: Any, client_address: Any) -> bool:
        ip = client_address[0]
        held = sum(1 for a in self.active_associations if a.requestor.address == ip)
        if held < self.max_per_peer:
            return True
        self.refused(ip, "peer", "closed a connection from %s: it already holds %d "
                     "(limit per peer: %d)", ip, held, self.max_per_peer)
        return False

    def shutdown(self) -> None:
        with contextlib.suppress(ValueError):  # not in the AE's server list (not start_server's)
            super().shutdown()


class StoreReceiver:
    """A C-STORE SCP writing into the library and reporting batches for indexing.

    Parameters
    ----------
    ae_title, host, port
        Where to listen (``port=0`` picks a free port; read :attr:`port` after start).
    storage_root
        The library data root; ``path_for`` results are relative to it.
    path_for
        Maps the received header (read without pixel data) to a library path.
    on_stored
        Called with lists of :class:`StoredInstance` from a background thread.
    batch_size, batch_seconds
        A batch goes when it holds ``batch_size`` instances, ``batch_seconds`` after its
        first instance, or when an association ends.
    transfer_syntaxes
        Accepted transfer syntaxes (default: uncompressed and the common compressed ones).
    fsync
        ``fsync`` each file before the rename (durable, but ~2x slower on most disks).
    engine
        ``"lean"`` (default): our own SCP on :mod:`.ul` (:mod:`.scp`), ~4x less CPU per
        instance; ``"pynetdicom"``: pynetdicom's AE (full protocol coverage, slower).
    accept_any_called_ae
        Accept associations whatever called AE title they name (default: only ``ae_title``).
    calling_aes
        If not empty, only these calling AE titles may associate.
    artim_timeout
        Seconds a new connection has to send its A-ASSOCIATE-RQ before it is closed.
    max_associations, max_associations_per_peer
        Associations at once in all, connections at once from one peer address.
    idle_timeout
        Seconds an association may stay silent before it is aborted.
    """

    def __init__(
        self,
        ae_title: str,
        host: str,
        port: int,
        *,
        storage_root: Path,
        path_for: Callable[[Dataset], str],
        on_stored: Callable[[list[StoredInstance]], None],
        batch_size: int = 200,
        batch_seconds: float = 1.0,
        transfer_syntaxes: Sequence[str] = TRANSFER_SYNTAXES,
        fsync: bool = False,
        max_pdu: int = DEFAULT_MAX_PDU,
        history: int = 100,
        engine: Literal["lean", "pynetdicom"] = "lean",
        accept_any_called_ae: bool = False,
        calling_aes: Sequence[str] = (),
        artim_timeout: float = 5,
        max_associations: int = 32,
        max_associations_per_peer: int = 8,
        idle_timeout: float = 60,
    ) -> None:
        if engine not in ("lean", "pynetdicom"):
            raise ValueError("engine must be 'lean' or 'pynetdicom'")
        self.engine = engine
        self.ae_title = check_ae_title(ae_title)
        self.host = host
        self.port = port
        self.writer = LayoutWriter(Path(storage_root), path_for, fsync=fsync)
        self._on_stored = on_stored
        self._batch_size = batch_size
        self._batch_seconds = batch_seconds
        self.transfer_syntaxes = list(transfer_syntaxes)
        self.max_pdu = max_pdu
        self.accept_any_called_ae = accept_any_called_ae
        self.calling_aes = [check_ae_title(a) for a in calling_aes]
        self.artim_timeout = artim_timeout
        self.max_associations = max_associations
        self.max_associations_per_peer = max_associations_per_peer
        self.idle_timeout = idle_timeout
        self._server: Any = None
        self._refused = RefusalLog(log)
        self._batcher: _Batcher | None = None
        self._lock = threading.Lock()
        self._active: dict[int, AssociationStats] = {}
        self.finished: deque[AssociationStats] = deque(maxlen=history)

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> StoreReceiver:
        """Start listening in background threads (non-blocking); returns ``self``."""
        if self._server is not None:
            return self
        self._batcher = _Batcher(self._on_stored, self._batch_size, self._batch_seconds)
        if self.engine == "lean":
            self._server = LeanStoreServer(
                self.host, self.port, store=self._lean_store,
                transfer_syntaxes=self.transfer_syntaxes, on_open=self._lean_open,
                on_close=self._lean_close, max_pdu=self.max_pdu, timeout=self.idle_timeout,
                max_associations=self.max_associations,
                ae_title=None if self.accept_any_called_ae else self.ae_title,
                calling_aes=self.calling_aes, artim_timeout=self.artim_timeout,
                max_per_peer=self.max_associations_per_peer,
            ).start()
            self.port = self._server.port
            log.info("DICOM receiver %s listening on %s:%d", self.ae_title, self.host, self.port)
            return self
        ae = AE(ae_title=self.ae_title)
        ae.maximum_pdu_size = self.max_pdu
        ae.network_timeout = self.idle_timeout
        ae.dimse_timeout = 60
        ae.acse_timeout = self.artim_timeout  # also the wait for the A-ASSOCIATE-RQ
        ae.maximum_associations = self.max_associations
        ae.require_called_aet = not self.accept_any_called_ae
        ae.require_calling_aet = list(self.calling_aes)
        for cx in storage_contexts(self.transfer_syntaxes):
            ae.add_supported_context(cx.abstract_syntax, cx.transfer_syntax)
        ae.add_supported_context(Verification)
        handle_store = store_handler(self.writer, self._stored, self._failed)
        handlers = [
            (evt.EVT_CONN_OPEN, enable_tcp_nodelay),
            (evt.EVT_C_STORE, handle_store),
            (evt.EVT_ESTABLISHED, self._assoc_started),
            (evt.EVT_RELEASED, self._assoc_ended),
            (evt.EVT_ABORTED, self._assoc_ended),
            (evt.EVT_CONN_CLOSE, self._assoc_ended),
            (evt.EVT_REJECTED, self._assoc_rejected),
        ]
        server = ae.make_server((self.host, self.port), evt_handlers=handlers,
                                server_class=_PeerLimitedServer)
        server.max_per_peer = max(1, self.max_associations_per_peer)
        server.refused = self._refused
        threading.Thread(target=server.serve_forever, daemon=True,
                         name=f"dicom-receiver-{self.ae_title}").start()
        self._server = server
        self.port = int(server.server_address[1])
        log.info("DICOM receiver %s listening on %s:%d", self.ae_title, self.host, self.port)
        return self

    def stop(self) -> None:
        """Stop listening, end open associations and deliver the last batch."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server = None
        if self._batcher is not None:
            self._batcher.close()
            self._batcher = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def flush(self) -> None:
        """Deliver the pending batch now and wait until ``on_stored`` returned."""
        if self._batcher is not None:
            self._batcher.flush(wait=True)

    def __enter__(self) -> StoreReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- statistics ------------------------------------------------------------------
    def stats(self) -> list[AssociationStats]:
        """Finished associations (most recent last) followed by the active ones."""
        with self._lock:
            return list(self.finished) + list(self._active.values())

    def _stats_for(self, event: Any) -> AssociationStats:
        key = id(event.assoc)
        with self._lock:
            st = self._active.get(key)
            if st is None:
                st = AssociationStats(
                    calling_ae=str(event.assoc.requestor.ae_title).strip(),
                    peer=f"{event.assoc.requestor.address}:{event.assoc.requestor.port}",
                    started=time.monotonic(),
                )
                self._active[key] = st
            return st

    def _assoc_started(self, event: Any) -> None:
        self._stats_for(event)

    def _assoc_rejected(self, event: Any) -> None:
        rq = event.assoc.requestor
        called = getattr(rq.primitive, "called_ae_title", "")
        self._refused(str(rq.address), "rejected", "refused an association from %s@%s:%s "
                      "(called AE title %r; ours %r)", str(rq.ae_title).strip(), rq.address,
                      rq.port, str(called).strip(), self.ae_title)

    def _assoc_ended(self, event: Any) -> None:
        # EVT_CONN_CLOSE may come first; whatever comes, "not released" means aborted
        released = event.event is evt.EVT_RELEASED or bool(event.assoc.is_released)
        self._end(id(event.assoc), not released)

    def _end(self, key: int, aborted: bool) -> None:
        with self._lock:
            st = self._active.pop(key, None)
        if st is None:
            return
        st.ended = time.monotonic()
        st.aborted = aborted
        self.finished.append(st)
        log.info(
            "association from %s ended: %d stored, %d failed, %.1f MB in %.2fs",
            st.calling_ae, st.received, st.failed, st.bytes / 1e6, st.seconds,
        )
        if self._batcher is not None:
            self._batcher.flush()

    def _stored(self, event: Any, item: StoredInstance) -> None:
        # Called on the association's thread; the batcher hands it on off-thread.
        st = self._stats_for(event)
        st.received += 1
        st.bytes += item.size
        if self._batcher is not None:
            self._batcher.add(item)

    def _failed(self, event: Any, exc: BaseException) -> None:
        self._stats_for(event).failed += 1

    # -- lean engine callbacks ---------------------------------------------------------
    def _lean_open(self, key: Any, calling_ae: str, peer: str) -> None:
        with self._lock:
            self._active[id(key)] = AssociationStats(calling_ae, peer, time.monotonic())

    def _lean_close(self, key: Any, aborted: bool) -> None:
        self._end(id(key), aborted)

    def _lean_store(self, key: Any, item: Incoming) -> int:
        st = self._active.get(id(key))
        try:
            stored = self.writer.write(item)
        except Exception as exc:
            log_failure(item.sop_instance_uid, item.calling_ae, exc)
            status = status_for(exc)
        else:
            if st is not None:
                st.received += 1
                st.bytes += stored.size
            if self._batcher is not None:
                self._batcher.add(stored)
            return STATUS_SUCCESS
        if st is not None:
            st.failed += 1
        return status
