"""DIMSE services on :mod:`.ul`'s lean association: C-ECHO, C-FIND, C-GET (serving the
C-STORE sub-operations) and C-MOVE, for :mod:`.pacs`.

Everything is blocking and single-threaded. The C-MOVE control association is lean too:
pynetdicom's reader thread polling while the data streams into our receiver (same
process) competes with it for the GIL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from pydicom import Dataset
from pydicom.filebase import DicomFileLike
from pydicom.filereader import read_dataset
from pydicom.filewriter import write_dataset
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from .netutil import Incoming
from .ul import (
    C_ECHO_RQ,
    C_ECHO_RSP,
    C_GET_RQ,
    C_GET_RSP,
    C_MOVE_RQ,
    C_MOVE_RSP,
    C_STORE_RQ,
    C_STORE_RSP,
    NO_DATASET,
    PENDING,
    Association,
    ULAborted,
    ULRejected,
    encode_command,
    ui,
    us,
)

C_FIND_RQ, C_FIND_RSP = 0x0020, 0x8020


def encode_identifier(ds: Dataset, transfer_syntax: str) -> bytes:
    fp = BytesIO()
    f = DicomFileLike(fp)
    f.is_little_endian = transfer_syntax != ExplicitVRBigEndian
    f.is_implicit_VR = transfer_syntax == ImplicitVRLittleEndian
    write_dataset(f, ds)
    return fp.getvalue()


def decode_identifier(data: list[Any], transfer_syntax: str) -> Dataset:
    return read_dataset(
        BytesIO(b"".join(data)),
        transfer_syntax == ImplicitVRLittleEndian,
        transfer_syntax != ExplicitVRBigEndian,
    )


def _request(assoc: Association, model: str, command: int, identifier: Dataset | None,
             what: str, extra: list[tuple[int, str, Any]] = ()) -> tuple[int, str]:
    ctx = assoc.context_for(model)
    if ctx is None:
        raise ULRejected(f"the peer did not accept the {what} presentation context")
    elements: list[tuple[int, str, Any]] = [
        (0x0002, "UI", model), (0x0100, "US", command), (0x0110, "US", assoc.next_message_id()),
        (0x0800, "US", NO_DATASET if identifier is None else 0x0000), *extra,
    ]
    assoc.send_pdv(ctx.id, encode_command(elements), command=True)
    ts = ctx.accepted or ExplicitVRLittleEndian
    if identifier is not None:
        assoc.send_pdv(ctx.id, encode_identifier(identifier, ts), command=False)
    return ctx.id, ts


def c_echo(assoc: Association, model: str = "1.2.840.10008.1.1") -> int:
    """C-ECHO; returns the status."""
    _request(assoc, model, C_ECHO_RQ, None, "C-ECHO")
    for _, cmd, _data in assoc.messages():
        if us(cmd, 0x0100) == C_ECHO_RSP:
            return us(cmd, 0x0900)
        raise ULAborted(f"unexpected DIMSE command 0x{us(cmd, 0x0100):04x} during C-ECHO")
    raise ULAborted("the message stream ended")  # pragma: no cover


def c_find(
    assoc: Association, model: str, identifier: Dataset
) -> Iterator[tuple[int, Dataset | None]]:
    """C-FIND; yields ``(status, identifier or None)`` per response, the final one last."""
    _, ts = _request(assoc, model, C_FIND_RQ, identifier, "C-FIND", [(0x0700, "US", 0)])
    for _, cmd, data in assoc.messages():
        if us(cmd, 0x0100) != C_FIND_RSP:
            raise ULAborted(f"unexpected DIMSE command 0x{us(cmd, 0x0100):04x} during C-FIND")
        status = us(cmd, 0x0900)
        yield status, (decode_identifier(data, ts) if data else None)
        if status not in PENDING:
            return


# -- C-GET / C-MOVE ---------------------------------------------------------------------------------
@dataclass
class GetStatus:
    status: int
    remaining: int
    completed: int
    failed: int
    warning: int

    @property
    def pending(self) -> bool:
        return self.status in PENDING


def c_get(
    assoc: Association,
    model: str,
    identifier: Dataset,
    on_store: Callable[[Incoming], int],
    on_status: Callable[[GetStatus], None],
) -> GetStatus:
    """Send a C-GET and serve the C-STORE sub-operations until the final response.

    ``on_store`` writes one instance and returns the C-STORE status to answer;
    ``on_status`` sees every C-GET response. Returns the final response.
    """
    return _retrieve(assoc, model, identifier, on_status, on_store=on_store)


def c_move(
    assoc: Association,
    model: str,
    identifier: Dataset,
    destination: str,
    on_status: Callable[[GetStatus], None],
) -> GetStatus:
    """Send a C-MOVE to ``destination`` and follow its responses to the final one."""
    return _retrieve(assoc, model, identifier, on_status, destination=destination)


def _retrieve(
    assoc: Association,
    model: str,
    identifier: Dataset,
    on_status: Callable[[GetStatus], None],
    *,
    on_store: Callable[[Incoming], int] | None = None,
    destination: str | None = None,
) -> GetStatus:
    what = "C-MOVE" if destination is not None else "C-GET"
    request, response = (C_MOVE_RQ, C_MOVE_RSP) if destination is not None else (C_GET_RQ, C_GET_RSP)
    extra: list[tuple[int, str, Any]] = [(0x0700, "US", 0)]
    if destination is not None:
        extra.append((0x0600, "AE", destination))
    _request(assoc, model, request, identifier, what, extra)
    for ctx_id, cmd, data in assoc.messages():
        field_ = us(cmd, 0x0100)
        if field_ == C_STORE_RQ and on_store is not None:
            sop_class, sop_inst = ui(cmd, 0x0002), ui(cmd, 0x1000)
            sub = assoc.contexts.get(ctx_id)
            incoming = Incoming(sop_class, sop_inst, (sub.accepted if sub else None) or "",
                                data or [], "")
            status = on_store(incoming)
            rsp = encode_command([
                (0x0002, "UI", sop_class), (0x0100, "US", C_STORE_RSP),
                (0x0120, "US", us(cmd, 0x0110)), (0x0800, "US", NO_DATASET),
                (0x0900, "US", status), (0x1000, "UI", sop_inst),
            ])
            assoc.send_pdv(ctx_id, rsp, command=True)
        elif field_ == response:
            st = GetStatus(us(cmd, 0x0900), us(cmd, 0x1020), us(cmd, 0x1021), us(cmd, 0x1022),
                           us(cmd, 0x1023))
            on_status(st)
            if not st.pending:
                return st
        elif field_ == C_ECHO_RQ:
            rsp = encode_command([
                (0x0002, "UI", ui(cmd, 0x0002)), (0x0100, "US", C_ECHO_RSP),
                (0x0120, "US", us(cmd, 0x0110)), (0x0800, "US", NO_DATASET), (0x0900, "US", 0),
            ])
            assoc.send_pdv(ctx_id, rsp, command=True)
        else:
            raise ULAborted(f"unexpected DIMSE command 0x{field_:04x} during {what}")
    raise ULAborted("the message stream ended")  # pragma: no cover
