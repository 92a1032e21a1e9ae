"""Run plugins on a remote compute resource: PUSH the inputs, EXEC, wait, PULL the outputs, DELETE.

The resource is anything that speaks ChRIS pfcon's v6 API in its no-shared-storage ("zipfile")
mode: ``chris-jupyter compute serve`` on another machine, or a real pfcon. For each job:

PUSH + EXEC
    ``POST pluginjobs/`` with the job's fields and its inputs — only the folders the job reads
    (its parents' outputs, or an fs plugin's path values) — as a zip written while it is sent
    (``data_format="tar"``: an uncompressed tar stream, for ``compute serve``). The POST is
    idempotent per job id, so a retried or repeated one never starts a second job.
WAIT
    ``GET pluginjobs/<jid>/?wait=…``: ``compute serve`` answers when the job ends (a long-poll);
    a server that answers at once (pfcon) is asked again with a growing pause.
PULL
    ``GET pluginjobs/<jid>/file/``, streamed to disk and extracted into the instance's output
    folder only after every entry is checked: a path outside it, a link or any other special
    entry refuses the whole archive.
DELETE
    at cleanup.

Each step is written to the job's log (``[remote <name>] PUSH …``) and to a small record in
the runner's folder, so a restarted backend resumes: a job whose PUSH did not finish is
"missing" (the coordinator starts it again, and the POST's idempotence makes that safe), a job
pushed is waited for and pulled. When the resource stops answering, every call is retried with
a growing pause; then the job ends with an error that names the resource and the step.
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from traitlets import Bool, Enum, Float, Int, TraitError, Unicode, validate

from ... import states
from ...utils.pipe import ChunkReader
from .. import multipart
from ..transfer import UnsafeArchive, archive_stream, empty_folder, extract_tar, extract_zip, total_size
from .base import JobSpec, JobStatus, Mount, Placement, Runner, RunnerError
from .docker import INCOMING, OUTGOING, share_mounts

MiB = 1 << 20


class Unreachable(RuntimeError):
    """The resource did not answer after every retry."""


class RemoteRunner(Runner):
    """A runner whose jobs run on a pfcon-compatible remote compute resource.

    Settings: ``c.RemoteRunner.<trait>`` or a compute resource's ``settings``
    (``{"url": "https://far:5005/api/v1/", "user": "chris", "password": "…"}``).
    """

    name = "remote"
    confines_jobs = True  # the job sees only what is pushed, on another machine
    runs_images = True

    url = Unicode("", help="""The resource's API, e.g. ``https://compute.example.org:5005/api/v1/``
        (``/api/v1/`` is added when the path is empty).""").tag(config=True)
    user = Unicode("chris", help="""User name to log in with (pfcon's ``pfcon_user``).""").tag(config=True)
    password = Unicode("", help="""Password to log in with (pfcon's ``pfcon_password``). Stored with
        the compute resource's settings; readable by administrators.""").tag(config=True)
    verify_tls = Bool(True, help="""Check the resource's TLS certificate (https URLs).""").tag(config=True)
    ca_bundle = Unicode("", help="""A CA bundle (PEM) to check the resource's certificate with.""").tag(config=True)
    data_format = Enum(["zip", "tar"], "zip", help="""How inputs and outputs travel: ``zip`` (what
        pfcon takes) or ``tar`` (an uncompressed stream; ``chris-jupyter compute serve`` only).""").tag(config=True)
    compress = Bool(False, help="""Deflate the pushed zip (worth it on a slow link with data that
        compresses; costs CPU on both ends).""").tag(config=True)
    retries = Int(5, help="""Times a call is retried when the resource does not answer, each after
        a pause twice the last (from ``backoff``), before the job ends with an error.""").tag(config=True)
    backoff = Float(0.5, help="""First pause before a retry, in seconds.""").tag(config=True)
    max_backoff = Float(15.0, help="""Longest pause between retries or status requests, in s.""").tag(config=True)
    long_poll = Float(20.0, help="""Seconds one status request may wait for the job to end.""").tag(config=True)
    request_timeout = Float(60.0, help="""Seconds to wait for the resource's answer to a call
        (on top of a long-poll).""").tag(config=True)
    resource_name = Unicode("", help="""The compute resource's name, for messages (set by the backend).""")

    @validate("url")
    def _check_url(self, proposal: dict[str, Any]) -> str:
        url = proposal["value"].strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise TraitError(f"RemoteRunner.url must be an http(s) URL, not {url!r}")
        if parts.path in ("", "/"):
            url = url.rstrip("/") + "/api/v1/"
        return url if url.endswith("/") else url + "/"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not self.url:
            raise TraitError("a remote compute resource needs a 'url' (e.g. http://host:5005/api/v1/)")
        import httpx

        self._httpx = httpx
        verify: Any = self.ca_bundle or self.verify_tls
        self._client = httpx.Client(verify=verify, timeout=httpx.Timeout(self.request_timeout))
        self._token = ""
        self._lock = threading.Lock()
        self._jobs: dict[str, dict[str, Any]] = {}
        self._placed: dict[str, str] = {}  # job id -> pfcon type it is sent as
        self._idle = threading.Condition()
        self._deleting, self._closed = 0, False

    # -- records ---------------------------------------------------------------------------------
    @property
    def label(self) -> str:
        return f"compute resource {self.resource_name!r} ({self.url})" if self.resource_name else \
            f"compute resource {self.url}"

    def _dir(self) -> Path:
        d = Path(self.state_dir or ".") / "remote"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def _record(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            if job_id in self._jobs:
                return self._jobs[job_id]
        path = self._dir() / f"{job_id}.json"
        try:
            rec = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        with self._lock:
            return self._jobs.setdefault(job_id, rec)

    def _save(self, job_id: str, rec: dict[str, Any]) -> None:
        with self._lock:
            self._jobs[job_id] = rec
            path = self._dir() / f"{job_id}.json"
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(rec))
            tmp.replace(path)

    def _note(self, job_id: str, rec: dict[str, Any], step: str, text: str) -> None:
        rec["step"] = step
        rec.setdefault("journal", []).append(f"[remote {self.resource_name or self.url}] {step}: {text}")
        self._save(job_id, rec)

    def _step(self, job_id: str, state: str) -> None:
        """Tell the coordinator the job's data travels (its instance shows ``copying`` or
        ``uploading``); a failure there never stops the transfer."""
        if self.on_step is not None:
            try:
                self.on_step(job_id, state)
            except Exception:
                self.log.exception("reporting %s of job %s failed", state, job_id)

    # -- HTTP --------------------------------------------------------------------------------------
    def _login(self) -> str:
        r = self._client.post(self.url + "auth-token/", json={"pfcon_user": self.user,
                                                               "pfcon_password": self.password})
        if r.status_code != 200:
            raise RunnerError(f"{self.label} refused the login of {self.user!r}: {self._message(r)}")
        self._token = r.json()["token"]
        return self._token

    @staticmethod
    def _message(r: Any) -> str:
        try:
            return str(r.json().get("message") or r.text[:300])
        except ValueError:
            return f"HTTP {r.status_code}: {r.text[:300]}"

    def _retrying(self, step: str, job_id: str | None, fn: Any, attempts: int | None = None) -> Any:
        """``fn(headers)`` with a fresh login on 401 and retries (with a growing pause) while the
        resource does not answer or answers 5xx; :class:`Unreachable` after the last."""
        attempts = (self.retries + 1) if attempts is None else attempts
        last: Exception | None = None
        relogged = False
        i = 0
        while i < attempts:
            try:
                token = self._token or self._login()
                r = fn({"Authorization": f"Bearer {token}"})
                if r.status_code == 401 and not relogged:
                    relogged, self._token = True, ""
                    continue
                if r.status_code < 500:
                    return r
                last = RuntimeError(f"HTTP {r.status_code}: {self._message(r)}")
            except (self._httpx.TransportError, OSError) as e:
                last = e
            i += 1
            if i < attempts:
                pause = min(self.backoff * 2 ** (i - 1), self.max_backoff)
                rec = self._record(job_id) if job_id else None
                if rec is not None:
                    self._note(job_id, rec, step, f"no answer ({last}); retry {i} of {attempts - 1} in {pause:g} s")
                time.sleep(pause)
        raise Unreachable(f"{self.label} did not answer during {step} after {attempts} attempt(s): {last}")

    # -- placement -------------------------------------------------------------------------------
    def place(self, job_id: str, *, inputs: list[tuple[str, Path]], single_input: bool, output: Path,
              paths: dict[str, Path]) -> Placement:
        """The pfcon layout: inputs at ``/share/incoming`` (ts: one folder per parent), outputs at
        ``/share/outgoing``. Path values are pushed into the input folder, each under its name,
        and the argument names that place (``/share/incoming/<name>``), so no ``args_path_flags``
        are sent (pfcon would make such a value the whole input folder) and the plugin's output
        is the same as with the other runners. Only for plugins without parents, whose input
        folder is free."""
        if inputs and paths:
            raise RunnerError(f"{self.label} cannot take path parameters of a plugin with parents "
                              "(pfcon makes a path value the job's input folder)")
        mounts, input_dir = share_mounts(inputs, single_input, output)
        names: set[str] = set()
        path_args = {}
        for i, (lib, host) in enumerate(paths.items()):
            name = PurePosixPath(lib).name or f"path{i}"
            name = name if name not in names else f"{i}_{name}"
            names.add(name)
            mounts.append(Mount(host, f"{INCOMING}/{name}"))
            path_args[lib] = f"{INCOMING}/{name}"
        self._placed[job_id] = "ds" if input_dir else "fs"
        return Placement(input_dir, OUTGOING, path_args, tuple(mounts))

    # -- jobs ----------------------------------------------------------------------------------------
    def submit(self, spec: JobSpec) -> str:
        if not spec.image:
            raise RunnerError("this plugin was registered without an image; a remote compute resource "
                              "runs plugin images")
        ptype = self._placed.pop(spec.job_id, None)
        if ptype is None:
            ptype = "ds" if len(spec.argv) > 2 and spec.argv[-2] == INCOMING and any(
                m.target.startswith(INCOMING + "/") or m.target == INCOMING for m in spec.mounts) else "fs"
        argv = spec.argv
        args = argv[1:-2] if ptype == "ds" else argv[1:-1]
        sources = [(m.source, str(PurePosixPath(m.target).relative_to(INCOMING)).strip("."))
                   for m in spec.mounts
                   if m.read_only and (m.target == INCOMING or m.target.startswith(INCOMING + "/"))]
        fields = [("jid", spec.job_id), ("auid", "chris"), ("image", spec.image), ("type", ptype),
                  ("entrypoint", argv[0]), *(("args", a) for a in args),
                  *(("env", f"{k}={v}") for k, v in spec.env.items()),
                  ("number_of_workers", "1"), ("cpu_limit", str(spec.cpu_millicores or 0)),
                  ("memory_limit", str(spec.memory_mib or 0)), ("gpu_limit", str(spec.gpus or 0)),
                  ("input_dirs", "incoming"), ("output_dir", f"key-{spec.job_id}/outgoing")]
        if self.data_format != "zip":
            fields.append(("data_format", self.data_format))
        rec = self._record(spec.job_id) or {}
        rec.update({"output": str(spec.output_dir), "pushed": False, "final": None, "deleted": False})
        size = total_size(sources)
        self._note(spec.job_id, rec, "PUSH", f"{size / MiB:.1f} MiB from {len(sources)} folder(s) as "
                   f"{self.data_format} to {self.url}")
        self._step(spec.job_id, states.COPYING)
        sent = [0, 0]

        def progress(n: int) -> None:
            sent[0] += n
            if sent[0] - sent[1] >= max(64 * MiB, size // 10):
                sent[1] = sent[0]
                self._note(spec.job_id, rec, "PUSH", f"{sent[0] / MiB:.0f} of {size / MiB:.0f} MiB")

        def post(headers: dict[str, str]) -> Any:
            sent[0] = sent[1] = 0
            bound = multipart.boundary()
            body = multipart.encode(fields, [("data_file", f"{spec.job_id}.{self.data_format}",
                                              archive_stream(sources, self.data_format, compress=self.compress,
                                                             progress=progress))], bound)
            return self._client.post(self.url + "pluginjobs/", content=body, headers={
                **headers, "Content-Type": f"multipart/form-data; boundary={bound}"})

        try:
            r = self._retrying("PUSH", spec.job_id, post)
        except (Unreachable, RunnerError) as e:
            raise RunnerError(str(e)) from None
        if r.status_code != 201:
            raise RunnerError(f"{self.label} refused the job at PUSH: {self._message(r)}")
        compute = r.json().get("compute", {})
        rec["pushed"] = True
        self._note(spec.job_id, rec, "EXEC", f"{compute.get('status', '?')} on the resource")
        return spec.job_id

    def _finish(self, job_id: str, rec: dict[str, Any], st: JobStatus) -> JobStatus:
        rec["final"] = {"state": st.state, "exit_code": st.exit_code, "oom_killed": st.oom_killed,
                        "error": st.error}
        self._save(job_id, rec)
        return st

    def _final(self, rec: dict[str, Any]) -> JobStatus | None:
        f = rec.get("final")
        return JobStatus(**f) if f else None

    def status(self, job_id: str) -> JobStatus:
        rec = self._record(job_id)
        if rec is None or not rec.get("pushed"):
            return JobStatus("missing", error="the job was never pushed to the resource")
        if (done := self._final(rec)) is not None:
            return done
        try:
            r = self._retrying("WAIT", None, lambda h: self._client.get(
                self.url + f"pluginjobs/{job_id}/", headers=h), attempts=1)
        except (Unreachable, RunnerError):
            return JobStatus("running")  # wait() retries, then says so
        if r.status_code == 404:
            return JobStatus("missing", error=f"{self.label} no longer knows the job")
        return JobStatus("running")  # wait() pulls the outputs of an ended job

    def wait(self, job_id: str, timeout: float | None = None) -> JobStatus:
        rec = self._record(job_id)
        if rec is None or not rec.get("pushed"):
            return JobStatus("missing", error="the job was never pushed to the resource")
        if (done := self._final(rec)) is not None:
            return done
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.2
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            poll = self.long_poll if left is None else min(self.long_poll, left)
            t0 = time.monotonic()
            try:
                r = self._retrying("WAIT", job_id, lambda h, p=poll: self._client.get(
                    self.url + f"pluginjobs/{job_id}/", params={"wait": f"{p:g}"}, headers=h,
                    timeout=self.request_timeout + p))
            except (Unreachable, RunnerError) as e:
                return self._finish(job_id, rec, JobStatus("exited", None, error=str(e)))
            if r.status_code == 404:
                return JobStatus("missing", error=f"{self.label} no longer knows the job")
            if r.status_code != 200:
                return self._finish(job_id, rec, JobStatus("exited", None, error=(
                    f"{self.label} failed at WAIT: {self._message(r)}")))
            compute = r.json().get("compute", {})
            rec["remote_logs"] = compute.get("logs") or ""
            status = compute.get("status")
            if status in ("finishedSuccessfully", "finishedWithError"):
                return self._ended(job_id, rec, compute)
            if status == "undefined":
                return JobStatus("missing", error=f"{self.label}: {compute.get('message') or 'the job is gone'}")
            if deadline is not None and time.monotonic() >= deadline:
                self._save(job_id, rec)
                return JobStatus("running")
            if time.monotonic() - t0 < poll / 2:  # no long-poll there (pfcon): ask again later
                time.sleep(pause if left is None else min(pause, left))
                pause = min(pause * 2, self.max_backoff)

    def _ended(self, job_id: str, rec: dict[str, Any], compute: dict[str, Any]) -> JobStatus:
        ok = compute.get("status") == "finishedSuccessfully"
        code = compute.get("exit_code")
        code = (0 if ok else 1) if code is None else code
        self._note(job_id, rec, "EXEC", f"{compute.get('status')} (exit code {code})")
        if not ok:
            err = "" if compute.get("exit_code") is not None else str(compute.get("message") or "")
            return self._finish(job_id, rec, JobStatus("exited", code, oom_killed=bool(compute.get("oom_killed")),
                                                       error=err))
        try:
            n = self._pull(job_id, rec)
        except (Unreachable, RunnerError) as e:
            return self._finish(job_id, rec, JobStatus("exited", None, error=str(e)))
        except UnsafeArchive as e:
            with contextlib.suppress(OSError):
                empty_folder(Path(rec["output"]))
            return self._finish(job_id, rec, JobStatus("exited", None, error=(
                f"{self.label} sent outputs that were refused at PULL: {e}; nothing of them was kept")))
        self._note(job_id, rec, "PULL", f"{n} file(s) into the output folder")
        return self._finish(job_id, rec, JobStatus("exited", code))

    def _pull(self, job_id: str, rec: dict[str, Any]) -> int:
        """Fetch the outputs (streamed) into the output folder, emptied first (a PULL cut short
        by a restart is done again from the start)."""
        out = Path(rec["output"])
        out.mkdir(parents=True, exist_ok=True)
        self._note(job_id, rec, "PULL", f"outputs as {self.data_format}")
        self._step(job_id, states.UPLOADING)
        tmp = self._dir() / f"{job_id}.pull"
        got = [0, 0]

        def progress(n: int) -> None:
            got[0] += n
            if got[0] - got[1] >= 256 * MiB:
                got[1] = got[0]
                self._note(job_id, rec, "PULL", f"{got[0] / MiB:.0f} MiB")

        def fetch(headers: dict[str, str]) -> Any:
            empty_folder(out)
            params = {"format": "tar"} if self.data_format == "tar" else None
            with self._client.stream("GET", self.url + f"pluginjobs/{job_id}/file/", params=params,
                                     headers=headers) as r:
                if r.status_code != 200:
                    r.read()
                    return r
                if self.data_format == "tar":
                    r.n = extract_tar(io.BufferedReader(ChunkReader(r.iter_bytes()), 1 << 20), out,
                                      progress=progress)  # type: ignore[attr-defined]
                    return r
                with open(tmp, "wb") as f:
                    for chunk in r.iter_bytes(1 << 20):
                        f.write(chunk)
            r.n = extract_zip(tmp, out, progress=progress)  # type: ignore[attr-defined]
            return r

        try:
            r = self._retrying("PULL", job_id, fetch)
        finally:
            tmp.unlink(missing_ok=True)
        if r.status_code != 200:
            raise RunnerError(f"{self.label} failed at PULL: {self._message(r)}")
        return r.n

    def logs(self, job_id: str) -> str:
        rec = self._record(job_id)
        if rec is None:
            return ""
        if rec.get("pushed") and not rec.get("final") and not rec.get("deleted"):
            with contextlib.suppress(Exception):
                r = self._client.get(self.url + f"pluginjobs/{job_id}/", timeout=5,
                                     headers={"Authorization": f"Bearer {self._token or self._login()}"})
                if r.status_code == 200:
                    rec["remote_logs"] = r.json().get("compute", {}).get("logs") or ""
        journal = "\n".join(rec.get("journal", []))
        return journal + "\n" + (rec.get("remote_logs") or "")

    def _delete(self, job_id: str, rec: dict[str, Any]) -> None:
        if rec.get("deleted") or not rec.get("pushed"):
            return
        with self._idle:
            if self._closed:
                self._note(job_id, rec, "DELETE", "skipped: the backend was stopping")
                return
            self._deleting += 1
        try:
            self._retrying("DELETE", job_id, lambda h: self._client.delete(
                self.url + f"pluginjobs/{job_id}/", headers=h), attempts=2)
        except (Unreachable, RunnerError) as e:
            self._note(job_id, rec, "DELETE", f"failed: {e}")
            return
        finally:
            with self._idle:
                self._deleting -= 1
                self._idle.notify_all()
        rec["deleted"] = True
        self._note(job_id, rec, "DELETE", "done")

    def cancel(self, job_id: str) -> None:
        """pfcon has no cancel: the job is deleted on the resource (which stops it)."""
        rec = self._record(job_id)
        if rec is None or rec.get("final"):
            return
        self._delete(job_id, rec)
        self._finish(job_id, rec, JobStatus("exited", None, error="cancelled: deleted on the compute resource"))

    def cleanup(self, job_id: str) -> None:
        rec = self._record(job_id)
        if rec is None:
            return
        self._delete(job_id, rec)
        with self._lock:
            self._jobs.pop(job_id, None)
        (self._dir() / f"{job_id}.json").unlink(missing_ok=True)
        (self._dir() / f"{job_id}.pull").unlink(missing_ok=True)

    def close(self) -> None:
        """Close the connection, after the DELETEs under way (a job finishing as the backend
        stops would otherwise stay on the resource)."""
        with self._idle:
            self._closed = True
            self._idle.wait_for(lambda: self._deleting == 0, timeout=self.request_timeout)
        self._client.close()
