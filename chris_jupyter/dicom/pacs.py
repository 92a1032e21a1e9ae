"""PACS query/retrieve: C-ECHO, C-FIND at the four levels, and C-GET / C-MOVE of a study or
series, with progress reporting, typed errors and retries.

Everything here is blocking (pynetdicom); async callers use ``asyncio.to_thread``.

Performance notes (300 CT slices of 512x512, loopback, 2 cores; ``bench/pacs_pull.py``)
-----------------------------------------------------------------------------------
Where the time of a pynetdicom C-GET goes, and what we do about it:

* **TCP_NODELAY** is the big one: without it each C-STORE round trip waits for the peer's
  delayed ACK (~40 ms), capping any DICOM transfer near 20 files/s. We set it in an
  ``EVT_CONN_OPEN`` handler; Orthanc and dcmtk need ``TCP_NODELAY=1`` in their environment.
* **Dataset decoding**: ``event.dataset`` parses the whole instance in Python. We never
  touch it: the SOP Instance/Class UIDs come from the C-STORE request itself, and the file
  is ``encoded_file_meta + request.DataSet`` written from a memory view (no extra copy).
  Only :class:`~chris_jupyter.dicom.netutil.LayoutWriter` (the receiver, which must place
  files by their tags) reads the header, with ``stop_before_pixels``.
* **pynetdicom's reactor** polls: the DUL thread sleeps ``_run_loop_delay`` (1 ms) whenever
  it found nothing to do, which adds up to a few ms per instance (a request/response round
  trip per file). :data:`RUN_LOOP_DELAY` shortens it for our associations only.
* **PDU size**: the peer splits each instance into PDUs of our announced maximum; every
  PDU costs a Python-level decode and queue hop. We announce 4 MiB (one PDU per CT slice).
* **fsync per file** costs more than the whole transfer on most disks: off by default
  (``fsync=True`` to get it); the atomic rename still guarantees no half-written file.
* **logging**: pynetdicom logs several INFO lines per sub-operation; we raise its logger
  to WARNING for the duration of a retrieve when nothing below WARNING is wanted.
* ACSE/DIMSE timeouts do not affect speed (they are only deadlines).

Measured figures are in the module's benchmark output and the project README.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydicom import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pydicom.valuerep import PersonName
from pynetdicom import AE, evt
from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

from chris_jupyter.dicom import ul
from chris_jupyter.dicom.netutil import (
    STATUS_CANNOT_UNDERSTAND,
    STATUS_OUT_OF_RESOURCES,
    TRANSFER_SYNTAXES,
    DirectoryWriter,
    Incoming,
    InstanceWriter,
    StoredInstance,
    enable_tcp_nodelay,
    storage_contexts,
)

log = logging.getLogger(__name__)

Level = Literal["PATIENT", "STUDY", "SERIES", "IMAGE"]
LEVELS: tuple[str, ...] = ("PATIENT", "STUDY", "SERIES", "IMAGE")
#: DUL reactor idle sleep for our associations (pynetdicom's default is 1 ms).
RUN_LOOP_DELAY = 0.0002
DEFAULT_MAX_PDU = 4 * 1024 * 1024

# Keys returned by default at each level when the query does not name them.
DEFAULT_KEYS: dict[str, tuple[str, ...]] = {
    "PATIENT": ("PatientID", "PatientName", "PatientBirthDate", "PatientSex"),
    "STUDY": (
        "PatientID", "PatientName", "StudyInstanceUID", "StudyDate", "StudyDescription",
        "AccessionNumber", "ModalitiesInStudy", "NumberOfStudyRelatedInstances",
    ),
    "SERIES": (
        "StudyInstanceUID", "SeriesInstanceUID", "Modality", "SeriesNumber",
        "SeriesDescription", "NumberOfSeriesRelatedInstances",
    ),
    "IMAGE": (
        "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID",
        "InstanceNumber",
    ),
}


# -- errors ------------------------------------------------------------------------------
class PacsError(Exception):
    """Any PACS failure; ``str(exc)`` is a message for a person. ``transient`` ones retry."""

    transient = False

    def __init__(self, message: str, node: PacsNode | None = None) -> None:
        super().__init__(message)
        self.node = node


class PacsUnreachable(PacsError):
    """No TCP connection (wrong host/port, PACS down)."""

    transient = True


class AssociationRejected(PacsError):
    """The PACS answered but refused the association (AE titles, contexts)."""


class PacsTimeout(PacsError):
    """The PACS stopped answering within the ACSE/DIMSE timeout."""

    transient = True


class PacsConnectionLost(PacsError):
    """The association broke off in the middle of an operation."""

    transient = True


class PacsFailureStatus(PacsError):
    """The PACS answered with a failure status."""

    def __init__(self, message: str, node: PacsNode | None = None, status: int = 0) -> None:
        super().__init__(message, node)
        self.status = status


_STATUS_TEXT = {
    0xA701: "out of resources: unable to calculate the number of matches",
    0xA702: "out of resources: unable to perform sub-operations",
    0xA801: "move destination unknown (is our receiver's AE title configured in the PACS?)",
    0xA900: "the query does not match the information model",
}


def status_text(code: int) -> str:
    """A short explanation of a Q/R failure status (PS3.4 C.4)."""
    if code in _STATUS_TEXT:
        return _STATUS_TEXT[code]
    if code & 0xF000 == 0xC000:
        return "unable to process (for example nothing matches the UIDs)"
    if code & 0xF000 == 0xA000:
        return "refused by the PACS"
    return "failure"


# -- value types -------------------------------------------------------------------------
@dataclass(frozen=True)
class PacsNode:
    """A remote DICOM node."""

    name: str
    ae_title: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.name} ({self.ae_title}@{self.host}:{self.port})"


@dataclass
class Progress:
    """Retrieve progress; ``expected`` is ``None`` until the PACS said how many."""

    received: int = 0
    expected: int | None = None
    failed: int = 0
    warning: int = 0
    state: str = "connecting"  # connecting | retrieving | retrying | done | failed
    attempt: int = 1
    message: str = ""


@dataclass
class RetrieveResult:
    received: int
    failed: int
    expected: int | None
    seconds: float
    attempts: int
    instances: list[StoredInstance] = field(default_factory=list)


def to_jsonable(value: Any) -> Any:
    """A pydicom element value as plain JSON data (str, int, float, list, dict, None)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):  # includes pydicom's IS
        return int(value)
    if isinstance(value, float):  # includes DSfloat
        return float(value)
    if isinstance(value, str):  # includes UID
        return str(value)
    if isinstance(value, PersonName):
        return str(value)
    if isinstance(value, MultiValue | list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return None
    if hasattr(value, "__iter__") and not isinstance(value, str):  # Sequence of datasets
        return [identifier_to_dict(item) for item in value]
    return str(value)


def identifier_to_dict(ds: Dataset) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for elem in ds:
        if elem.keyword:
            out[elem.keyword] = to_jsonable(elem.value) if elem.value != "" else None
    return out


# -- the client --------------------------------------------------------------------------
class PacsClient:
    """Talks to PACS nodes as ``calling_ae``; C-MOVE sends to ``receiver_ae``.

    Parameters
    ----------
    calling_ae
        Our AE title (the PACS must know it for C-MOVE destinations and may check it).
    receiver_ae
        AE title of our running :class:`~chris_jupyter.dicom.receiver.StoreReceiver`, as
        configured in the PACS; needed for ``method="move"``.
    fsync
        ``fsync`` every C-GET file before its rename.
    """

    def __init__(
        self,
        calling_ae: str,
        *,
        receiver_ae: str | None = None,
        acse_timeout: float = 15,
        dimse_timeout: float = 60,
        network_timeout: float = 60,
        max_pdu: int = DEFAULT_MAX_PDU,
        transfer_syntaxes: tuple[str, ...] = TRANSFER_SYNTAXES,
        fsync: bool = False,
        quiet_pynetdicom: bool = True,
    ) -> None:
        self.calling_ae = calling_ae
        self.receiver_ae = receiver_ae
        self.acse_timeout = acse_timeout
        self.dimse_timeout = dimse_timeout
        self.network_timeout = network_timeout
        self.max_pdu = max_pdu
        self.transfer_syntaxes = transfer_syntaxes
        self.fsync = fsync
        self.quiet_pynetdicom = quiet_pynetdicom
        self.backoff = 0.5

    # -- association plumbing ------------------------------------------------------------
    def _ae(self) -> AE:
        ae = AE(ae_title=self.calling_ae)
        ae.acse_timeout = self.acse_timeout
        ae.dimse_timeout = self.dimse_timeout
        ae.network_timeout = self.network_timeout
        ae.maximum_pdu_size = self.max_pdu
        return ae

    @contextmanager
    def _associate(
        self, node: PacsNode, ae: AE, *, ext_neg: list | None = None, handlers: list | None = None
    ) -> Iterator[Any]:
        opened: list[bool] = []

        def conn_open(event: Any) -> None:
            opened.append(True)
            enable_tcp_nodelay(event)
            event.assoc.dul._run_loop_delay = RUN_LOOP_DELAY

        t0 = time.monotonic()
        with self._quiet():
            assoc = ae.associate(
                node.host, node.port, ae_title=node.ae_title, ext_neg=ext_neg,
                evt_handlers=[(evt.EVT_CONN_OPEN, conn_open), *(handlers or [])],
            )
        if not assoc.is_established:
            if not opened:
                raise PacsUnreachable(
                    f"cannot connect to {node}: connection refused or host unreachable", node
                )
            if assoc.is_rejected:
                prim = assoc.acceptor.primitive
                why = prim.reason_str if prim is not None else "unknown reason"
                raise AssociationRejected(
                    f"{node} rejected the association from {self.calling_ae}: {why} "
                    "(check the AE titles configured on both sides)", node,
                )
            if time.monotonic() - t0 >= self.acse_timeout * 0.9:
                raise PacsTimeout(f"{node} did not answer the association request in time", node)
            raise PacsConnectionLost(f"{node} aborted the association request", node)
        try:
            yield assoc
        finally:
            if assoc.is_established:
                assoc.release()

    @contextmanager
    def _quiet(self) -> Iterator[None]:
        lg = logging.getLogger("pynetdicom")
        if not self.quiet_pynetdicom or lg.getEffectiveLevel() > logging.INFO:
            yield
            return
        old = lg.level
        lg.setLevel(logging.WARNING)
        try:
            yield
        finally:
            lg.setLevel(old)

    def _broken(self, node: PacsNode, assoc: Any, last_activity: float, what: str) -> PacsError:
        """The error for a response stream that ended without a final status."""
        if time.monotonic() - last_activity >= self.dimse_timeout * 0.9:
            return PacsTimeout(f"{node} stopped answering during {what} (DIMSE timeout)", node)
        return PacsConnectionLost(f"{node} went away during {what}", node)

    # -- services ------------------------------------------------------------------------
    def echo(self, node: PacsNode) -> float:
        """C-ECHO; returns the round trip in seconds or raises :class:`PacsError`."""
        ae = self._ae()
        ae.add_requested_context(Verification)
        t0 = time.monotonic()
        with self._associate(node, ae) as assoc:
            status = assoc.send_c_echo()
            if "Status" not in status:
                raise self._broken(node, assoc, t0, "C-ECHO")
            if status.Status != 0:
                raise PacsFailureStatus(
                    f"{node} answered C-ECHO with status 0x{status.Status:04X}", node,
                    status.Status,
                )
        return time.monotonic() - t0

    def find(self, node: PacsNode, level: Level, query: dict[str, Any]) -> list[dict[str, Any]]:
        """C-FIND at ``level``; ``query`` maps keywords to match values (``*``/``?``
        wildcards, ``"20240101-20241231"`` date ranges; ``None``/``""`` just asks for the
        key). Returns one dict (keyword -> JSON-friendly value) per match.
        """
        level = level.upper()  # type: ignore[assignment]
        if level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
        model = (
            PatientRootQueryRetrieveInformationModelFind
            if level == "PATIENT"
            else StudyRootQueryRetrieveInformationModelFind
        )
        ds = Dataset()
        ds.QueryRetrieveLevel = level
        for key in DEFAULT_KEYS[level]:
            setattr(ds, key, "")
        for key, value in query.items():
            try:
                setattr(ds, key, "" if value is None else value)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"bad query key {key!r}: {exc}") from None
        ae = self._ae()
        ae.add_requested_context(model)
        results: list[dict[str, Any]] = []
        t0 = time.monotonic()
        with self._associate(node, ae) as assoc, self._quiet():
            for status, identifier in assoc.send_c_find(ds, model):
                if "Status" not in status:
                    raise self._broken(node, assoc, t0, "C-FIND")
                t0 = time.monotonic()
                code = int(status.Status)
                if code in (0xFF00, 0xFF01):
                    if identifier is not None:
                        results.append(identifier_to_dict(identifier))
                elif code != 0x0000:
                    raise PacsFailureStatus(
                        f"{node} answered C-FIND with status 0x{code:04X}", node, code
                    )
        return results

    def retrieve(
        self,
        node: PacsNode,
        *,
        study_uid: str,
        series_uid: str | None = None,
        method: Literal["get", "move"] = "get",
        dest: Path | str | InstanceWriter | None = None,
        progress: Callable[[Progress], None] | None = None,
        retries: int = 2,
    ) -> RetrieveResult:
        """Fetch a study (or one series of it) by C-GET or C-MOVE.

        ``dest`` (C-GET only): a directory (files named ``<SOPInstanceUID>.dcm``) or an
        :class:`~chris_jupyter.dicom.netutil.InstanceWriter` such as ``LayoutWriter``.
        With C-MOVE the PACS sends to ``receiver_ae`` and the receiver files the data.
        ``progress`` is called after every instance (C-GET) or pending response (C-MOVE).
        Transient failures (unreachable, timeout, connection lost) are retried ``retries``
        times with exponential backoff; each attempt re-requests everything (files are
        replaced atomically, so a retry never leaves a half-written file).
        """
        if method not in ("get", "move"):
            raise ValueError("method must be 'get' or 'move'")
        if method == "get" and dest is None:
            raise ValueError("C-GET needs a dest (directory or writer)")
        if method == "move" and not self.receiver_ae:
            raise ValueError("C-MOVE needs receiver_ae (our StoreReceiver's AE title)")
        writer: InstanceWriter | None = None
        if method == "get":
            writer = (
                dest  # type: ignore[assignment]
                if hasattr(dest, "write")
                else DirectoryWriter(Path(dest), fsync=self.fsync)  # type: ignore[arg-type]
            )
        prog = Progress()
        emit = progress or (lambda p: None)
        t_start = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            prog.attempt = attempt
            prog.state = "connecting"
            try:
                if method == "get":
                    instances = self._get(node, study_uid, series_uid, writer, prog, emit)  # type: ignore[arg-type]
                else:
                    instances = self._move(node, study_uid, series_uid, prog, emit)
            except PacsError as exc:
                if exc.transient and attempt <= retries:
                    prog.state, prog.message = "retrying", str(exc)
                    emit(prog)
                    log.warning("retrieve from %s failed (%s); retry %d/%d", node, exc, attempt,
                                retries)
                    time.sleep(self.backoff * 2 ** (attempt - 1))
                    continue
                prog.state, prog.message = "failed", str(exc)
                emit(prog)
                raise
            prog.state = "done"
            emit(prog)
            return RetrieveResult(
                prog.received, prog.failed, prog.expected, time.monotonic() - t_start, attempt,
                instances,
            )

    def _identifier(self, level: str, study_uid: str, series_uid: str | None) -> Dataset:
        ds = Dataset()
        ds.QueryRetrieveLevel = "SERIES" if series_uid else "STUDY"
        ds.StudyInstanceUID = study_uid
        if series_uid:
            ds.SeriesInstanceUID = series_uid
        return ds

    def _handle_responses(
        self, node: PacsNode, assoc: Any, responses: Any, prog: Progress, emit: Callable,
        what: str, *, count_completed: bool, state: dict,
    ) -> None:
        for status, _ in responses:
            if "Status" not in status:
                raise self._broken(node, assoc, state["last"], what)
            state["last"] = time.monotonic()
            code = int(status.Status)
            remaining = int(status.get("NumberOfRemainingSuboperations", 0) or 0)
            completed = int(status.get("NumberOfCompletedSuboperations", 0) or 0)
            failed = int(status.get("NumberOfFailedSuboperations", 0) or 0)
            warning = int(status.get("NumberOfWarningSuboperations", 0) or 0)
            if code in (0xFF00, 0xFF01):
                prog.expected = remaining + completed + failed + warning
                if count_completed:
                    prog.received = completed + warning
                prog.failed = max(prog.failed, failed)
                prog.state = "retrieving"
                emit(prog)
                continue
            prog.failed = max(prog.failed, failed)
            if count_completed:
                prog.received = completed + warning
            if prog.expected is None:
                prog.expected = completed + failed + warning
            self._final_status(node, what, code, completed, failed, prog)
            return

    def _get(
        self, node: PacsNode, study_uid: str, series_uid: str | None, writer: InstanceWriter,
        prog: Progress, emit: Callable,
    ) -> list[StoredInstance]:
        """C-GET on :mod:`.ul`'s lean association (see the module notes for why)."""
        stored: list[StoredInstance] = []
        prog.received = 0
        contexts = [(StudyRootQueryRetrieveInformationModelGet, [ExplicitVRLittleEndian,
                                                                 ImplicitVRLittleEndian])]
        storage = storage_contexts(self.transfer_syntaxes, limit=127)
        contexts += [(cx.abstract_syntax, cx.transfer_syntax) for cx in storage]

        def on_store(item: Incoming) -> int:
            item.calling_ae = node.ae_title
            try:
                done = writer.write(item)
            except OSError as exc:
                log.error("C-GET: could not write %s: %s", item.sop_instance_uid, exc)
                return STATUS_OUT_OF_RESOURCES
            except Exception as exc:
                log.error("C-GET: could not place %s: %s", item.sop_instance_uid, exc)
                return STATUS_CANNOT_UNDERSTAND
            stored.append(done)
            prog.received += 1
            prog.state = "retrieving"
            emit(prog)
            return 0

        def on_status(st: ul.GetStatus) -> None:
            prog.expected = st.remaining + st.completed + st.failed + st.warning
            prog.failed = st.failed
            prog.warning = st.warning
            if st.pending:
                prog.state = "retrieving"
                emit(prog)

        try:
            assoc = ul.Association.request(
                node.host, node.port, calling_ae=self.calling_ae, called_ae=node.ae_title,
                contexts=contexts, scp_roles=[cx.abstract_syntax for cx in storage],
                max_pdu=self.max_pdu, connect_timeout=self.acse_timeout,
                timeout=self.dimse_timeout,
            )
        except ul.ULRejected as exc:
            raise AssociationRejected(
                f"{node} rejected the association from {self.calling_ae}: {exc} "
                "(check the AE titles configured on both sides)", node,
            ) from None
        except ul.ULAborted as exc:
            raise PacsConnectionLost(f"{node} aborted the association request: {exc}", node) from None
        except TimeoutError:
            raise PacsTimeout(f"{node} did not answer the association request in time", node) from None
        except OSError as exc:
            raise PacsUnreachable(f"cannot connect to {node}: {exc.strerror or exc}", node) from None
        ok = False
        try:
            final = ul.c_get(
                assoc, StudyRootQueryRetrieveInformationModelGet,
                self._identifier("", study_uid, series_uid), on_store, on_status,
            )
            ok = True
        except ul.ULRejected as exc:
            raise AssociationRejected(f"{node}: {exc}", node) from None
        except TimeoutError:
            raise PacsTimeout(
                f"{node} stopped answering during C-GET (no data for {self.dimse_timeout:g}s)", node
            ) from None
        except (ul.ULAborted, OSError) as exc:
            raise PacsConnectionLost(
                f"{node} went away during C-GET after {prog.received} instances: {exc}", node
            ) from None
        finally:
            if ok:
                assoc.release()
            else:
                assoc.abort()
        self._final_status(node, "C-GET", final.status, final.completed, final.failed, prog)
        return stored

    def _final_status(
        self, node: PacsNode, what: str, code: int, completed: int, failed: int, prog: Progress
    ) -> None:
        if code == 0x0000 or (code & 0xF000) == 0xB000:
            if failed:
                log.warning("%s from %s: %d sub-operations failed", what, node, failed)
            return
        if code == 0xFE00:
            raise PacsFailureStatus(f"{what} from {node} was cancelled", node, code)
        raise PacsFailureStatus(
            f"{node} answered {what} with failure status 0x{code:04X}: {status_text(code)}"
            f" ({failed} failed, {completed} completed)"
            + (f"; does the PACS know the move destination {self.receiver_ae!r}?"
               if what == "C-MOVE" else ""),
            node, code,
        )

    def _move(
        self, node: PacsNode, study_uid: str, series_uid: str | None, prog: Progress,
        emit: Callable,
    ) -> list[StoredInstance]:
        ae = self._ae()
        ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
        state = {"last": time.monotonic()}
        with self._associate(node, ae) as assoc, self._quiet():
            responses = assoc.send_c_move(
                self._identifier("", study_uid, series_uid),
                self.receiver_ae,  # type: ignore[arg-type]
                StudyRootQueryRetrieveInformationModelMove,
            )
            self._handle_responses(
                node, assoc, responses, prog, emit, "C-MOVE", count_completed=True, state=state
            )
        return []
