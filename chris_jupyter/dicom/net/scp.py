"""A lean C-STORE / C-ECHO SCP on :mod:`.ul` (the receiver's fast engine).

One thread per association, blocking sockets, TCP_NODELAY, command sets parsed by hand and
datasets written as received through the shared writer. It accepts every proposed
presentation context whose abstract syntax is a storage SOP class (or Verification) with
the first proposed transfer syntax we support, so the peer never has to transcode; other
contexts are refused (result 3 or 4). Compared with pynetdicom's SCP this is ~4x less CPU
per instance (see ``bench/pacs_pull.py``, C-MOVE line).

Who may associate, and for how long (every refusal is logged):

- The called AE title must be ours (``ae_title``; ``None`` accepts any) and, when
  ``calling_aes`` is given, the calling AE title one of them; otherwise A-ASSOCIATE-RJ
  (permanent, service user, reason 7 "called AE title not recognized" or 3 "calling AE title
  not recognized").
- The A-ASSOCIATE-RQ must arrive within ``artim_timeout`` seconds of the connection (the ARTIM
  timer of PS3.8 9.1.5); a connection that stays silent is closed. Only an association
  that was requested takes one of the ``max_associations`` slots (beyond them: A-ASSOCIATE-RJ,
  transient, local limit exceeded), so idle connections cannot lock senders out.
- One peer address may hold at most ``max_per_peer`` connections at once (pending or
  associated); further connections from it are closed at once, before a thread is spent on
  them.
- An association silent for ``timeout`` seconds is aborted.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from pynetdicom import AllStoragePresentationContexts

from . import ul
from .netutil import (
    IMPLEMENTATION_UID,
    IMPLEMENTATION_VERSION,
    STATUS_CANNOT_UNDERSTAND,
    STATUS_SUCCESS,
    Incoming,
)

log = logging.getLogger(__name__)

VERIFICATION = "1.2.840.10008.1.1"
STORAGE_CLASSES = frozenset(str(cx.abstract_syntax) for cx in AllStoragePresentationContexts)
# Storage SOP classes all live below 1.2.840.10008.5.1.4.1.1.; accept new/retired ones too.
STORAGE_PREFIX = "1.2.840.10008.5.1.4.1.1."
#: The largest A-ASSOCIATE-RQ we read (128 contexts with many transfer syntaxes fit easily).
MAX_REQUEST = 256 * 1024
#: A-ASSOCIATE-RJ (result, source, reason) and what the log says.
REJECT_CALLED_AE = (1, 1, 7)
REJECT_CALLING_AE = (1, 1, 3)
REJECT_LIMIT = (2, 3, 2)


def encode_associate_rj(result: int, source: int, reason: int) -> bytes:
    return struct.pack(">BxIxBBB", 0x03, 4, result, source, reason)


class RefusalLog:
    """Log refusals, at most one line per peer and kind every ``every`` seconds.

    A flood of connections from one address gives one line per ``every`` seconds that counts
    the refusals in between, not one line each.
    """

    def __init__(self, logger: logging.Logger, every: float = 10.0) -> None:
        self.log = logger
        self.every = every
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def __call__(self, peer: str, kind: str, message: str, *args: object) -> None:
        now = time.monotonic()
        with self._lock:
            last, hidden = self._seen.get((peer, kind), (-self.every, 0))
            if now - last < self.every:
                self._seen[(peer, kind)] = (last, hidden + 1)
                return
            self._seen[(peer, kind)] = (now, 0)
            if len(self._seen) > 10_000:  # forget old peers
                self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.every}
        more = f" ({hidden} more like it since the last report)" if hidden else ""
        self.log.warning("DICOM receiver: " + message + more, *args)


@dataclass
class Proposed:
    id: int
    abstract_syntax: str
    transfer_syntaxes: list[str]


@dataclass
class AssociateRequest:
    called_ae: str
    calling_ae: str
    contexts: list[Proposed]
    max_pdu: int


def parse_associate_rq(body: bytes) -> AssociateRequest:
    called = body[4:20].decode("ascii", "replace").strip()
    calling = body[20:36].decode("ascii", "replace").strip()
    contexts: list[Proposed] = []
    max_pdu = 0
    pos = 68
    while pos + 4 <= len(body):
        kind, length = body[pos], struct.unpack_from(">H", body, pos + 2)[0]
        payload = body[pos + 4 : pos + 4 + length]
        pos += 4 + length
        if kind == 0x20:
            p, abstract, tss = 4, "", []
            while p + 4 <= len(payload):
                sk, sl = payload[p], struct.unpack_from(">H", payload, p + 2)[0]
                uid = payload[p + 4 : p + 4 + sl].rstrip(b"\x00 ").decode("ascii", "replace")
                if sk == 0x30:
                    abstract = uid
                elif sk == 0x40:
                    tss.append(uid)
                p += 4 + sl
            contexts.append(Proposed(payload[0], abstract, tss))
        elif kind == 0x50:
            p = 0
            while p + 4 <= len(payload):
                sk, sl = payload[p], struct.unpack_from(">H", payload, p + 2)[0]
                if sk == 0x51 and sl == 4:
                    max_pdu = struct.unpack_from(">I", payload, p + 4)[0]
                p += 4 + sl
    return AssociateRequest(called, calling, contexts, max_pdu)


def encode_associate_ac(
    rq: AssociateRequest, results: list[tuple[int, int, str]], max_pdu: int
) -> bytes:
    """A-ASSOCIATE-AC; ``results`` are ``(context id, result, transfer syntax)``."""
    item = ul._item
    pcs = b"".join(
        item(0x21, bytes([cid, 0, result, 0]) + item(0x40, ts.encode()))
        for cid, result, ts in results
    )
    user = item(
        0x50,
        item(0x51, struct.pack(">I", max_pdu)) + item(0x52, IMPLEMENTATION_UID.encode())
        + item(0x55, IMPLEMENTATION_VERSION.encode()),
    )
    body = (
        struct.pack(">HH", 1, 0) + ul._ae16(rq.called_ae) + ul._ae16(rq.calling_ae)
        + bytes(32) + item(0x10, ul.APPLICATION_CONTEXT.encode()) + pcs + user
    )
    return struct.pack(">BxI", 0x02, len(body)) + body


class LeanStoreServer:
    """Listen on ``(host, port)``; call ``store(Incoming) -> status`` for every instance.

    ``on_open(assoc_key, calling_ae, peer)`` / ``on_close(assoc_key, aborted)`` report
    association boundaries (for statistics and batch flushing). ``ae_title``,
    ``calling_aes``, ``artim_timeout``, ``max_associations``, ``max_per_peer`` and ``timeout``
    decide who may associate and for how long (see the module notes).
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        store: Callable[[Any, Incoming], int],
        transfer_syntaxes: Sequence[str],
        on_open: Callable[[Any, str, str], None] | None = None,
        on_close: Callable[[Any, bool], None] | None = None,
        max_pdu: int = 4 * 1024 * 1024,
        timeout: float = 60,
        max_associations: int = 32,
        ae_title: str | None = None,
        calling_aes: Collection[str] = (),
        artim_timeout: float = 5,
        max_per_peer: int = 8,
    ) -> None:
        self.store = store
        self.ae_title = ae_title.strip() if ae_title else None
        self.calling_aes = frozenset(a.strip() for a in calling_aes)
        self.artim_timeout = artim_timeout
        self.max_per_peer = max(1, max_per_peer)
        self._per_peer: dict[str, int] = {}
        self._refused = RefusalLog(log)
        self.transfer_syntaxes = list(transfer_syntaxes)
        self.on_open = on_open
        self.on_close = on_close
        self.max_pdu = max_pdu
        self.timeout = timeout
        self.max_associations = max_associations
        self._slots = threading.BoundedSemaphore(max_associations)
        self._sock = socket.create_server((host, port), reuse_port=False)
        self.port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"dicom-scp-{self.port}", daemon=True
        )

    def start(self) -> LeanStoreServer:
        self._accept_thread.start()
        return self

    def shutdown(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._accept_thread.join(10)
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
        for t in list(self._threads):
            t.join(10)

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, addr = self._sock.accept()
            except OSError:
                return
            ip = str(addr[0])
            with self._lock:
                held = self._per_peer.get(ip, 0)
                if held < self.max_per_peer:
                    self._per_peer[ip] = held + 1
            if held >= self.max_per_peer:
                conn.close()
                self._refused(ip, "peer", "closed a connection from %s: it already holds %d "
                              "(limit per peer: %d)", ip, held, self.max_per_peer)
                continue
            try:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
            except OSError:  # reset before we got to it
                self._release_peer(ip)
                conn.close()
                continue
            t = threading.Thread(target=self._serve, args=(conn, addr), daemon=True,
                                 name=f"dicom-scp-assoc-{addr[1]}")
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
            t.start()

    def _release_peer(self, ip: str) -> None:
        with self._lock:
            left = self._per_peer.get(ip, 1) - 1
            if left > 0:
                self._per_peer[ip] = left
            else:
                self._per_peer.pop(ip, None)

    def _read_request(self, conn: socket.socket) -> tuple[int, bytes]:
        """The first PDU, whole, within ``artim_timeout`` seconds in all (``TimeoutError``)."""
        deadline = time.monotonic() + self.artim_timeout

        def exactly(n: int) -> bytes:
            buf = bytearray()
            while len(buf) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                conn.settimeout(left)
                chunk = conn.recv(min(n - len(buf), 65536))
                if not chunk:
                    raise ul.ULAborted("the peer closed the connection before associating")
                buf += chunk
            return bytes(buf)

        head = exactly(6)
        kind, length = head[0], struct.unpack_from(">I", head, 2)[0]
        if length > MAX_REQUEST:
            raise ul.ULAborted(f"a {length}-byte first PDU (limit {MAX_REQUEST})")
        return kind, exactly(length)

    def _refusal(self, rq: AssociateRequest) -> tuple[tuple[int, int, int], str] | None:
        """Why ``rq`` is refused (A-ASSOCIATE-RJ result, source, reason), or ``None``."""
        if self.ae_title is not None and rq.called_ae != self.ae_title:
            return REJECT_CALLED_AE, f"called AE title {rq.called_ae!r} is not ours ({self.ae_title!r})"
        if self.calling_aes and rq.calling_ae not in self.calling_aes:
            return REJECT_CALLING_AE, f"calling AE title {rq.calling_ae!r} is not allowed"
        return None

    def _negotiate(
        self, rq: AssociateRequest
    ) -> tuple[dict[int, str], list[tuple[int, int, str]]]:
        """Accepted ``{context id: transfer syntax}`` and the per-context results."""
        accepted: dict[int, str] = {}
        results: list[tuple[int, int, str]] = []
        for pc in rq.contexts:
            a = pc.abstract_syntax
            if not (a == VERIFICATION or a in STORAGE_CLASSES or a.startswith(STORAGE_PREFIX)):
                results.append((pc.id, 3, pc.transfer_syntaxes[0] if pc.transfer_syntaxes else ""))
                continue
            ts = next((t for t in pc.transfer_syntaxes if t in self.transfer_syntaxes), None)
            if ts is None:
                results.append((pc.id, 4, pc.transfer_syntaxes[0] if pc.transfer_syntaxes else ""))
            else:
                accepted[pc.id] = ts
                results.append((pc.id, 0, ts))
        return accepted, results

    def _serve(self, conn: socket.socket, addr: tuple) -> None:
        ip = str(addr[0])
        peer = f"{ip}:{addr[1]}"
        with self._lock:
            self._conns.add(conn)
        assoc = ul.Association(conn, {}, 0, "")
        key = object()
        opened = False
        aborted = True
        try:
            try:
                kind, body = self._read_request(conn)
            except TimeoutError:
                self._refused(ip, "artim", "closed a connection from %s: no A-ASSOCIATE-RQ "
                              "within %gs", peer, self.artim_timeout)
                return
            if kind != 0x01:
                return
            conn.settimeout(self.timeout)
            assoc.rfile = conn.makefile("rb", buffering=1024 * 1024)
            rq = parse_associate_rq(body)
            why = self._refusal(rq)
            if why is not None:
                conn.sendall(encode_associate_rj(*why[0]))
                self._refused(ip, f"ae{why[0]}", "refused an association from %s@%s: %s",
                              rq.calling_ae, peer, why[1])
                return
            if not self._slots.acquire(blocking=False):
                conn.sendall(encode_associate_rj(*REJECT_LIMIT))
                self._refused(ip, "limit", "refused an association from %s@%s: all %d "
                              "association slots are taken", rq.calling_ae, peer,
                              self.max_associations)
                return
            try:
                accepted, results = self._negotiate(rq)
                conn.sendall(encode_associate_ac(rq, results, self.max_pdu))
                assoc.peer_max_pdu = rq.max_pdu or (1 << 30)
                assoc.calling_ae = rq.calling_ae
                opened = True
                if self.on_open:
                    self.on_open(key, rq.calling_ae, peer)
                aborted = not self._dimse_loop(assoc, key, accepted, rq.calling_ae)
            finally:
                self._slots.release()
        except TimeoutError:
            log.warning("association from %s idle for %gs: aborting", peer, self.timeout)
            with contextlib.suppress(OSError):
                conn.sendall(struct.pack(">BxI2xBB", 0x07, 4, 2, 0))
        except (OSError, ul.ULError) as exc:
            log.debug("association from %s ended: %s", peer, exc)
        except Exception:
            log.exception("DICOM receiver: association from %s failed", peer)
            with contextlib.suppress(OSError):
                conn.sendall(struct.pack(">BxI2xBB", 0x07, 4, 2, 0))
        finally:
            if opened and self.on_close:
                self.on_close(key, aborted)
            with self._lock:
                self._conns.discard(conn)
            self._release_peer(ip)
            if assoc.rfile is None:
                conn.close()
            else:
                assoc.close()

    def _dimse_loop(self, assoc: ul.Association, key: Any, accepted: dict[int, str],
                    calling_ae: str) -> bool:
        """Serve messages until release (True) or abort/close (False)."""
        try:
            for ctx_id, cmd, data in assoc.messages():
                field_ = ul.us(cmd, 0x0100)
                ts = accepted.get(ctx_id)
                if ts is None:
                    log.warning("message on a context we did not accept; aborting")
                    assoc.sock.sendall(struct.pack(">BxI2xBB", 0x07, 4, 2, 0))
                    return False
                if field_ == ul.C_STORE_RQ:
                    sop_class, sop_inst = ul.ui(cmd, 0x0002), ul.ui(cmd, 0x1000)
                    try:
                        status = self.store(key, Incoming(sop_class, sop_inst, ts, data or [],
                                                          calling_ae))
                    except Exception:  # the writer reports its own errors; be defensive
                        log.exception("C-STORE of %s failed", sop_inst)
                        status = STATUS_CANNOT_UNDERSTAND
                    rsp = ul.encode_command([
                        (0x0002, "UI", sop_class), (0x0100, "US", ul.C_STORE_RSP),
                        (0x0120, "US", ul.us(cmd, 0x0110)), (0x0800, "US", ul.NO_DATASET),
                        (0x0900, "US", status), (0x1000, "UI", sop_inst),
                    ])
                    assoc.send_pdv(ctx_id, rsp, command=True)
                elif field_ == ul.C_ECHO_RQ:
                    rsp = ul.encode_command([
                        (0x0002, "UI", ul.ui(cmd, 0x0002)), (0x0100, "US", ul.C_ECHO_RSP),
                        (0x0120, "US", ul.us(cmd, 0x0110)), (0x0800, "US", ul.NO_DATASET),
                        (0x0900, "US", STATUS_SUCCESS),
                    ])
                    assoc.send_pdv(ctx_id, rsp, command=True)
                else:
                    log.warning("unsupported DIMSE command 0x%04x from %s", field_, calling_ae)
                    assoc.sock.sendall(struct.pack(">BxI2xBB", 0x07, 4, 2, 0))
                    return False
        except ul.ULReleased:
            return True
        return False  # pragma: no cover

