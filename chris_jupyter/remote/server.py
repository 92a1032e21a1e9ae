"""``chris-jupyter compute serve``: a remote compute resource that speaks ChRIS pfcon's v6 API.

It is pfcon in its no-shared-storage mode (``storage_env`` "zipfile"): a job's inputs come in
the pluginjobs POST as a zip (``data_file``), its outputs go back as a zip. So ChRIS itself can
use it as a compute resource, and this project's ``remote`` runner can use either it or a real
pfcon. Beyond pfcon: ``data_format=tar`` takes an uncompressed tar stream instead of the zip,
``GET pluginjobs/<jid>/file/?format=tar`` returns one, and ``GET pluginjobs/<jid>/?wait=<s>``
answers when the job ends or after that many seconds (a long-poll).

Uploads are spooled to disk as they arrive (a tar ``data_file`` that comes after its
``data_format`` field, as our runner sends it, is unpacked as it arrives: written once) and
archives are written as streams: no request or answer is ever whole in memory. Jobs run with a
configurable runner (Docker by default).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from tornado import httpserver, ioloop, web
from traitlets import Float, Int, Type, Unicode, default
from traitlets.config import Application

from .._version import __version__
from ..compute.multipart import MultipartError, MultipartParser, boundary_of
from ..compute.runners.base import Runner
from ..compute.runners.docker import DockerRunner
from ..compute.served import JobRequestError, ServedJobs
from ..compute.transfer import FORMATS, TarExtraction, archive_stream

API = "/api/v1/"
log = logging.getLogger("chris_jupyter.remote")


class Tokens:
    """Opaque bearer tokens: ``<user>.<expiry>.<HMAC>`` signed with a secret of this process."""

    def __init__(self, lifetime: float) -> None:
        self._key = secrets.token_bytes(32)
        self.lifetime = lifetime

    def _sig(self, body: str) -> str:
        return base64.urlsafe_b64encode(hmac.new(self._key, body.encode(), hashlib.sha256).digest()).decode()

    def issue(self, user: str) -> str:
        body = f"{base64.urlsafe_b64encode(user.encode()).decode()}.{int(time.time() + self.lifetime)}"
        return f"{body}.{self._sig(body)}"

    def check(self, token: str) -> bool:
        body, _, sig = token.rpartition(".")
        if not body or not hmac.compare_digest(sig, self._sig(body)):
            return False
        try:
            return int(body.rpartition(".")[2]) > time.time()
        except ValueError:
            return False


class Base(web.RequestHandler):
    """JSON answers, pfcon-style errors (``{"message": …}``), bearer-token checks."""

    needs_token = True

    def initialize(self, app: ComputeServer) -> None:
        self.app = app
        self.jobs = app.jobs

    def prepare(self) -> None:
        if not self.needs_token:
            return
        auth = self.request.headers.get("Authorization", "")
        if not auth:
            raise web.HTTPError(401, reason="Missing authorization header.")
        scheme, _, token = auth.partition(" ")
        if scheme != "Bearer" or not self.app.tokens.check(token.strip()):
            raise web.HTTPError(401, reason="Invalid or expired authorization token.")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": self._reason}))

    def reply(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def run(self, fn, *args):
        return asyncio.get_running_loop().run_in_executor(self.app.pool, fn, *args)


class Health(Base):
    needs_token = False

    def get(self) -> None:
        self.reply({"health": "OK"})


class Auth(Base):
    needs_token = False

    def post(self) -> None:
        ctype = self.request.headers.get("Content-Type", "")
        try:
            if ctype.startswith("application/json"):
                body = json.loads(self.request.body or b"{}")
            else:
                body = {k: v[-1] for k, v in parse_qs(self.request.body.decode()).items()}
        except (ValueError, UnicodeDecodeError):
            raise web.HTTPError(400, reason="the body must be JSON or a form") from None
        user, password = str(body.get("pfcon_user", "")), str(body.get("pfcon_password", ""))
        ok_user = hmac.compare_digest(user.encode(), self.app.pfcon_user.encode())
        ok_pw = hmac.compare_digest(password.encode(), self.app.pfcon_password.encode())
        if not (ok_user and ok_pw):
            raise web.HTTPError(400, reason="Unable to log in with provided credentials.")
        self.reply({"token": self.app.tokens.issue(user)})


@web.stream_request_body
class PluginJobs(Base):
    """GET: server info; POST: a new job, its multipart body spooled (or unpacked) as it arrives."""

    def initialize(self, app: ComputeServer) -> None:
        super().initialize(app)
        self.parser: MultipartParser | None = None
        self.spool: Path | None = None
        self.extraction: TarExtraction | None = None
        self._pending = bytearray()

    def prepare(self) -> None:
        super().prepare()
        if self.request.method != "POST":
            return
        self.request.connection.set_max_body_size(self.app.max_upload_bytes)
        try:
            bound = boundary_of(self.request.headers.get("Content-Type", ""))
        except MultipartError as e:
            raise web.HTTPError(400, reason=str(e)) from None
        self.spool = self.jobs.uploads / f"{secrets.token_hex(8)}.part"

        def open_file(name: str, filename: str):
            if name != "data_file":
                raise MultipartError(f"unexpected file field {name!r}")
            assert self.parser is not None and self.spool is not None
            if (self.parser.fields.get("data_format") or [""])[-1] == "tar":
                # the format came before the file (our runner sends it so): unpack as it arrives
                self.spool = self.spool.with_suffix(".d")
                self.spool.mkdir()
                self.extraction = TarExtraction(self.spool)
                return self.extraction
            return open(self.spool, "wb")

        self.parser = MultipartParser(bound, open_file)

    async def data_received(self, chunk: bytes) -> None:
        if self.parser is None:
            return
        self._pending += chunk
        if len(self._pending) >= 1 << 20:  # handed over whole, not copied
            data, self._pending = self._pending, bytearray()
            await self._feed(data)

    async def _feed(self, data: bytes | bytearray) -> None:
        try:
            await self.run(self.parser.feed, data)
        except MultipartError as e:
            self.parser.close()
            raise web.HTTPError(400, reason=str(e)) from None

    def get(self) -> None:
        runner = self.jobs.runner
        self.reply({"server_version": f"chris-jupyter {__version__}", "pfcon_innetwork": False,
                    "storage_env": "zipfile", "requires_copy_job": False, "requires_upload_job": False,
                    "container_env": runner.name, "compute_volume_type": "host",
                    "data_formats": list(FORMATS), "long_poll": True})

    async def post(self) -> None:
        try:
            await self._feed(bytes(self._pending))
            if not self.parser.done:
                raise web.HTTPError(400, reason="the multipart body ended early")
            form = self.parser.fields
            fmt = (form.get("data_format") or ["zip"])[-1]
            upload = self.spool if "data_file" in self.parser.files else None
            try:
                out = await self.run(self.jobs.submit, form, upload, fmt, self.extraction)
            except JobRequestError as e:
                raise web.HTTPError(400, reason=str(e)) from None
            self.reply(out, 201)
        finally:
            self._drop_spool()

    def _drop_spool(self) -> None:
        if self.extraction is not None:
            self.extraction.close()
        if self.spool is not None:
            if self.spool.is_dir():
                shutil.rmtree(self.spool, ignore_errors=True)
            else:
                self.spool.unlink(missing_ok=True)

    def on_connection_close(self) -> None:
        if self.parser is not None:
            self.parser.close()
        self._drop_spool()


class PluginJob(Base):
    async def get(self, jid: str) -> None:
        try:
            wait = min(float(self.get_query_argument("wait", "0") or 0), self.app.max_wait)
        except ValueError:
            raise web.HTTPError(400, reason="wait: a number of seconds") from None
        try:
            compute = await self.run(self.jobs.compute, ServedJobs.check_jid(jid), max(wait, 0.0))
        except JobRequestError as e:
            raise web.HTTPError(400, reason=str(e)) from None
        except LookupError:
            raise web.HTTPError(404, reason=f"no job {jid!r}") from None
        self.reply({"compute": compute})

    async def delete(self, jid: str) -> None:
        try:
            await self.run(self.jobs.delete, ServedJobs.check_jid(jid))
        except JobRequestError as e:
            raise web.HTTPError(400, reason=str(e)) from None
        self.set_status(204)
        self.finish()


class PluginJobFile(Base):
    """The job's outputs as a zip (``?format=tar``: a tar), written as it is sent."""

    async def get(self, jid: str) -> None:
        fmt = self.get_query_argument("format", "zip")
        if fmt not in FORMATS:
            raise web.HTTPError(400, reason=f"format: one of {', '.join(FORMATS)}")
        try:
            out = self.jobs.outputs(ServedJobs.check_jid(jid))
        except JobRequestError as e:
            raise web.HTTPError(400, reason=str(e)) from None
        except LookupError:
            raise web.HTTPError(404, reason=f"no job {jid!r}") from None
        self.set_header("Content-Type", "application/zip" if fmt == "zip" else "application/x-tar")
        self.set_header("Content-Disposition", f'attachment; filename="{jid}.{fmt}"')
        chunks = archive_stream([(out, "")], fmt)
        try:
            while (chunk := await self.run(next, chunks, None)) is not None:
                self.write(chunk)
                await self.flush()
        finally:
            chunks.close()
        self.finish()


class ComputeServer(Application):
    """The remote compute resource's server (``chris-jupyter compute serve``)."""

    name = "chris-jupyter-compute-serve"
    description = __doc__
    aliases = {"ip": "ComputeServer.ip", "port": "ComputeServer.port", "data-dir": "ComputeServer.data_dir",
               "user": "ComputeServer.pfcon_user", "runner": "ComputeServer.runner_class",
               "config": "ComputeServer.config_file"}

    ip = Unicode("127.0.0.1", help="""Address to listen on. Put it behind TLS (``certfile``, or a
        reverse proxy) when it is reachable from other machines.""").tag(config=True)
    port = Int(5005, help="""Port to listen on (pfcon's usual port).""").tag(config=True)
    data_dir = Unicode("chris-compute-data", help="""This resource's own folder: pushed inputs,
        outputs, job records. Nothing outside it is written for a job.""").tag(config=True)
    pfcon_user = Unicode("chris", help="""The user name clients log in with
        (``POST auth-token/``: ``pfcon_user``).""").tag(config=True)
    pfcon_password = Unicode(help="""The password clients log in with. Default: the
        CHRIS_COMPUTE_PASSWORD environment variable; if that is empty too, a random one is made
        at start and printed (there is no default password).""").tag(config=True)
    token_lifetime = Float(2 * 86400, help="""Seconds a token from auth-token/ is valid (tokens also
        end when the server restarts; clients log in again).""").tag(config=True)
    runner_class = Type(DockerRunner, klass=Runner, help="""The runner that runs the jobs: any
        Runner class that runs container images (DockerRunner, SwarmRunner, SlurmRunner,
        KubernetesRunner or your own), configured in its own section (c.DockerRunner.…).""").tag(config=True)
    max_upload_bytes = Int(1 << 40, help="""Largest pluginjobs POST body accepted, in bytes.""").tag(
        config=True)
    max_wait = Float(30.0, help="""Longest long-poll (``?wait=``) a status request may ask for, in
        s.""").tag(config=True)
    certfile = Unicode("", help="""TLS certificate (PEM) to serve HTTPS with.""").tag(config=True)
    keyfile = Unicode("", help="""TLS private key (PEM) of ``certfile``.""").tag(config=True)
    config_file = Unicode("", help="""A Python configuration file (c.ComputeServer.…,
        c.DockerRunner.…).""").tag(config=True)

    @default("pfcon_password")
    def _password_default(self) -> str:
        return os.environ.get("CHRIS_COMPUTE_PASSWORD", "")

    def initialize(self, argv: list[str] | None = None) -> None:
        super().initialize(argv)
        if self.config_file:
            self.load_config_file(self.config_file)
        if not self.pfcon_password:
            self.pfcon_password = secrets.token_urlsafe(18)
            print(f"compute serve: no password configured; generated one for user {self.pfcon_user!r}: "
                  f"{self.pfcon_password}", flush=True)
        data = Path(self.data_dir).resolve()
        runner = self.runner_class(parent=self, state_dir=str(data / "runner"))
        self.jobs = ServedJobs(data, runner)
        self.tokens = Tokens(self.token_lifetime)
        self.pool = ThreadPoolExecutor(64, thread_name_prefix="compute-serve")

    def web_app(self) -> web.Application:
        kw = {"app": self}
        return web.Application([
            (API + "health/", Health, kw),
            (API + "auth-token/", Auth, kw),
            (API + "pluginjobs/", PluginJobs, kw),
            (API + r"pluginjobs/([^/]+)/", PluginJob, kw),
            (API + r"pluginjobs/([^/]+)/file/", PluginJobFile, kw),
        ])

    def start(self) -> None:
        ssl = {"certfile": self.certfile, "keyfile": self.keyfile} if self.certfile else None
        server = httpserver.HTTPServer(self.web_app(), ssl_options=ssl, max_body_size=self.max_upload_bytes,
                                       chunk_size=1 << 20, idle_connection_timeout=3600)
        server.listen(self.port, self.ip)
        scheme = "https" if ssl else "http"
        print(f"compute serve: listening on {scheme}://{self.ip}:{self.port}{API} "
              f"(runner {self.jobs.runner.name}, data {Path(self.data_dir).resolve()})", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            ioloop.IOLoop.current().start()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    app = ComputeServer()
    try:
        app.initialize(argv)
    except ValueError as e:  # a runner that cannot serve, a bad setting
        print(f"compute serve: {e}", file=sys.stderr)
        return 2
    app.start()
    return 0
