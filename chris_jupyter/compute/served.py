"""The jobs of a remote compute resource (``chris-jupyter compute serve``), without the web part.

Each job has a folder ``<data_dir>/jobs/<jid>/`` holding ``incoming/`` (the pushed data,
extracted there and nowhere else), ``outgoing/`` (the plugin's output) and ``job.json``. It
runs with any runner that runs container images: the plugin sees ``/share/incoming`` read-only
and ``/share/outgoing`` read-write, as in ChRIS's pfcon, whose API this serves.

Submitting is idempotent per ``jid``, as in pfcon: a job that exists and has not failed is
returned as it is; a failed or lost one is removed and started again.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
from pathlib import Path
from typing import Any

from .runners.base import JobSpec, Mount, Runner
from .runners.docker import INCOMING, OUTGOING
from .transfer import FORMATS, TarExtraction, extract_tar, extract_zip

_JID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
LABEL = "chris_jupyter.remote_jid"


class JobRequestError(ValueError):
    """A bad job request (HTTP 400); the message says which field."""


def localize_path_args(args: list[str], flags: set[str], input_dir: str) -> list[str]:
    """The value after each path flag becomes the input folder (where the pushed data is)."""
    out, i = [], 0
    while i < len(args):
        out.append(args[i])
        if args[i] in flags and i + 1 < len(args):
            out.append(input_dir)
            i += 2
            continue
        i += 1
    return out


def _int(form: dict[str, list[str]], name: str, default: int) -> int:
    v = (form.get(name) or [""])[-1].strip()
    if not v:
        return default
    try:
        n = int(v)
    except ValueError:
        raise JobRequestError(f"{name}: must be an integer, not {v!r}") from None
    if n < 0:
        raise JobRequestError(f"{name}: must not be negative")
    return n


class ServedJobs:
    """Job folders and their runner jobs. Methods block; the server calls them from threads."""

    def __init__(self, data_dir: Path, runner: Runner) -> None:
        if not runner.runs_images:
            raise ValueError(f"the {runner.name!r} runner does not run container images; a remote "
                             "compute resource needs one that does (docker, swarm, slurm, kubernetes)")
        self.root = Path(data_dir) / "jobs"
        self.root.mkdir(parents=True, exist_ok=True)
        self.uploads = Path(data_dir) / "uploads"
        self.uploads.mkdir(parents=True, exist_ok=True)
        for left in self.uploads.iterdir():  # from a run that stopped mid-upload
            if left.is_dir() and not left.is_symlink():
                shutil.rmtree(left, ignore_errors=True)
            else:
                left.unlink(missing_ok=True)
        self.runner = runner
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    # -- naming --------------------------------------------------------------------------------
    @staticmethod
    def check_jid(jid: str) -> str:
        jid = (jid or "").strip().lstrip("/")
        if not _JID.match(jid):
            raise JobRequestError(f"jid: {jid!r} is not a job id (1-100 of A-Z a-z 0-9 _ . -)")
        return jid

    def folder(self, jid: str) -> Path:
        return self.root / self.check_jid(jid)

    @staticmethod
    def runner_id(jid: str) -> str:
        return f"rc-{jid}"

    def _lock(self, jid: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(jid, threading.Lock())

    def exists(self, jid: str) -> bool:
        return (self.folder(jid) / "job.json").is_file()

    # -- jobs -------------------------------------------------------------------------------------
    def submit(self, form: dict[str, list[str]], upload: Path | None, fmt: str = "zip",
               extracted: TarExtraction | None = None) -> dict[str, Any]:
        """Start the job a pluginjobs POST describes (``upload``: the spooled ``data_file``, or the
        folder ``extracted`` unpacked it into while it arrived; either is moved or removed here)."""
        jid = self.check_jid((form.get("jid") or [""])[-1])
        image = (form.get("image") or [""])[-1].strip()
        entrypoint = [e for e in form.get("entrypoint", []) if e]
        ptype = (form.get("type") or [""])[-1]
        if not image:
            raise JobRequestError("image: field is required")
        if not entrypoint:
            raise JobRequestError("entrypoint: cannot be empty")
        if ptype not in ("ds", "fs", "ts"):
            raise JobRequestError("type: must be one of ds, fs, ts")
        env = {}
        for pair in form.get("env", []):
            k, sep, v = pair.partition("=")
            if not sep or not k:
                raise JobRequestError('env: must be a list of "key=value" strings')
            env[k] = v
        if fmt not in FORMATS:
            raise JobRequestError(f"data_format: one of {', '.join(FORMATS)}")
        limits = {n: _int(form, n, 0) for n in ("cpu_limit", "memory_limit", "gpu_limit")}
        _int(form, "number_of_workers", 1)
        cmd = [*entrypoint, *localize_path_args(form.get("args", []), set(form.get("args_path_flags", [])),
                                                INCOMING)]
        if ptype == "ds":
            cmd.append(INCOMING)
        cmd.append(OUTGOING)
        with self._lock(jid):
            existing = self._existing(jid)
            if existing is not None:
                return existing
            if upload is None:
                raise JobRequestError("data_file: field is required")
            folder = self.folder(jid)
            if folder.exists():
                shutil.rmtree(folder)
            incoming, outgoing = folder / "incoming", folder / "outgoing"
            try:
                if extracted is not None:  # unpacked as it arrived: check, then move into place
                    nfiles = extracted.result()
                    folder.mkdir(parents=True)
                    upload.rename(incoming)
                elif fmt == "tar":
                    incoming.mkdir(parents=True)
                    with open(upload, "rb") as f:
                        nfiles = extract_tar(f, incoming)
                else:
                    incoming.mkdir(parents=True)
                    nfiles = extract_zip(upload, incoming)
            except ValueError as e:  # UnsafeArchive
                shutil.rmtree(folder, ignore_errors=True)
                raise JobRequestError(f"data_file: {e}") from None
            self.runner.prepare_output(outgoing)
            spec = JobSpec(
                job_id=self.runner_id(jid), argv=cmd, output_dir=outgoing, image=image,
                mounts=(Mount(incoming, INCOMING), Mount(outgoing, OUTGOING, read_only=False)),
                env=env, cpu_millicores=limits["cpu_limit"] or None,
                memory_mib=limits["memory_limit"] or None, gpus=limits["gpu_limit"],
                labels={LABEL: jid},
            )
            record = {"jid": jid, "image": image, "cmd": cmd, "nfiles": nfiles}
            (folder / "job.json").write_text(json.dumps(record))
            try:
                self.runner.submit(spec)
            except Exception as e:  # RunnerError: the message is for the caller
                shutil.rmtree(folder, ignore_errors=True)
                raise JobRequestError(f"the job could not start: {e}") from None
            return {"data": {"jid": jid, "nfiles": nfiles, "path": f"key-{jid}/incoming"},
                    "compute": self.compute(jid)}

    def _existing(self, jid: str) -> dict[str, Any] | None:
        """A job of this jid that runs or succeeded (returned as is); a failed one is removed."""
        if not self.exists(jid):
            return None
        compute = self.compute(jid)
        if compute["status"] in ("finishedWithError", "undefined"):
            self.delete(jid)
            return None
        return {"data": {}, "compute": compute}

    def compute(self, jid: str, wait: float = 0.0) -> dict[str, Any]:
        """pfcon's ``compute`` object of a job; ``wait``: first block up to that long while it
        runs (the long-poll this server adds to the API)."""
        if not self.exists(jid):
            raise LookupError(f"no job {jid!r}")
        record = json.loads((self.folder(jid) / "job.json").read_text())
        rid = self.runner_id(jid)
        st = self.runner.wait(rid, wait) if wait > 0 else self.runner.status(rid)
        if st.state == "running":
            status, message = "started", "running"
        elif st.state == "missing":
            status, message = "undefined", st.error or "the job is gone"
        elif st.exit_code == 0:
            status, message = "finishedSuccessfully", "finished"
        else:
            status = "finishedWithError"
            message = ("out of memory" if st.oom_killed else st.error or f"exit code {st.exit_code}")
        return {"jid": jid, "image": record["image"], "cmd": " ".join(record["cmd"]), "status": status,
                "message": message, "timestamp": "", "logs": self.runner.logs(rid),
                "exit_code": st.exit_code, "oom_killed": st.oom_killed}

    def outputs(self, jid: str) -> Path:
        folder = self.folder(jid)
        if not (folder / "job.json").is_file():
            raise LookupError(f"no job {jid!r}")
        out = folder / "outgoing"
        out.mkdir(exist_ok=True)
        return out

    def delete(self, jid: str) -> None:
        """Stop the job if it runs and remove it with its folder (no error if unknown)."""
        rid = self.runner_id(jid)
        self.runner.cancel(rid)
        self.runner.cleanup(rid)
        shutil.rmtree(self.folder(jid), ignore_errors=True)
