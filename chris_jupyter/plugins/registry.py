"""Register, list, look up and delete plugins.

Three ways in: (a) a descriptor (dict, JSON text or file), (b) a Docker image — its own
``chris_plugin_info`` or ``<selfexec> --json`` runs inside it (no network) and its output is the
descriptor, (c) an installed console script, for the local runner. Several versions of a plugin
coexist; ``(name, version)`` is unique.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ..db import Database
from ..db.models.compute import Plugin, PluginInstance
from .descriptor import DescriptorError, PluginDescriptor, is_version, parse_descriptor, version_key

PluginRef = int | str | tuple[str, str] | Mapping[str, Any]

#: Seconds a plugin may take to print its descriptor (``--json``, ``chris_plugin_info``).
REGISTRATION_TIMEOUT = 30.0


class PluginNotFound(LookupError):
    """No plugin matches the reference."""


class PluginExists(ValueError):
    """Another descriptor is already registered under this name and version."""


class PluginInUse(ValueError):
    """The plugin has instances and cannot be deleted."""


class RegistrationError(RuntimeError):
    """The descriptor could not be obtained from an image or an executable."""


def descriptor_of(plugin: Plugin) -> PluginDescriptor:
    """The validated descriptor stored with a plugin row."""
    return parse_descriptor(plugin.descriptor)


def extract_json(text: str, origin: str) -> dict[str, Any]:
    """The JSON object in a program's output (tolerates banners before and after)."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise RegistrationError(f"{origin} printed no JSON descriptor: {text[:300]!r}")
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError as exc:
        raise RegistrationError(f"{origin} printed invalid JSON ({exc}): {text[:300]!r}") from None
    if not isinstance(data, dict):
        raise RegistrationError(f"{origin} printed JSON that is not an object")
    return data


class PluginRegistry:
    """The plugin catalogue in the metadata DB."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- registration ---------------------------------------------------------------------
    def register(
        self,
        descriptor: Mapping[str, Any] | str | Path,
        *,
        source: str = "image",
        name: str | None = None,
        version: str | None = None,
        dock_image: str | None = None,
        execshell: str | None = None,
        selfpath: str | None = None,
        selfexec: str | None = None,
    ) -> Plugin:
        """Register a descriptor (dict, JSON text or path of a JSON file).

        ``name``, ``version`` and ``dock_image`` given here win over the descriptor's. A plugin
        without an image is registered for the local runner (``source="local"``).
        Registering the same descriptor twice returns the existing row; a *different* descriptor
        under an existing name and version raises :class:`PluginExists`.
        """
        if isinstance(descriptor, Path) or (
            isinstance(descriptor, str) and not descriptor.lstrip().startswith("{")
        ):
            try:
                descriptor = Path(descriptor).read_text()
            except OSError as exc:
                raise RegistrationError(f"cannot read descriptor file {descriptor}: {exc}") from None
        if isinstance(descriptor, str):
            try:
                descriptor = json.loads(descriptor)
            except json.JSONDecodeError as exc:
                raise DescriptorError("descriptor", descriptor[:80], f"invalid JSON: {exc}") from None
        desc = parse_descriptor(
            descriptor,  # type: ignore[arg-type]
            name=name,
            version=version,
            dock_image=dock_image,
            execshell=execshell,
            selfpath=selfpath,
            selfexec=selfexec,
        )
        if not desc.dock_image:
            source = "local"  # nothing to run in a container: only the local runner can run it
        data = desc.to_dict()
        with self.db.session() as s:
            old = s.execute(
                select(Plugin).where(Plugin.name == desc.name, Plugin.version == desc.version)
            ).scalar_one_or_none()
            if old is not None:
                if old.descriptor == data and old.source == source:
                    return old
                raise PluginExists(
                    f"plugin {desc.name} {desc.version} is already registered with another "
                    "descriptor; bump the version or delete the old one"
                )
            row = Plugin(
                name=desc.name,
                version=desc.version,
                type=desc.type,
                title=desc.title,
                category=desc.category,
                dock_image=desc.dock_image,
                source=source,
                descriptor=data,
                parameters=data["parameters"],
            )
            s.add(row)
            s.flush()
            return row

    def register_image(
        self,
        image: str,
        *,
        client: Any = None,
        name: str | None = None,
        version: str | None = None,
        selfexec: str | None = None,
        timeout: float = REGISTRATION_TIMEOUT,
    ) -> Plugin:
        """Register a plugin from a local Docker image by asking the image itself.

        Tries ``chris_plugin_info --dock-image <image>`` first (``chris_plugin`` plugins), then
        ``<selfexec> --json`` (``chrisapp`` plugins; ``selfexec`` defaults to the first word of
        the image's CMD). Each call runs in a container without network, bounded by ``timeout``
        seconds, and removed afterwards whatever happens. Name and version: the arguments, else
        the descriptor's, else (version) ``--version``/``--meta`` of the program, else the tag.
        """
        import docker

        client = client or docker.from_env()
        try:
            img = client.images.get(image)
        except docker.errors.ImageNotFound:
            raise RegistrationError(
                f"image {image!r} is not on this Docker engine (images are never pulled)"
            ) from None
        cmd = (img.attrs.get("Config") or {}).get("Cmd") or []
        candidates: list[tuple[list[str], str | None]] = [
            (["chris_plugin_info", "--dock-image", image], None)
        ]
        exe = selfexec or (os.path.basename(cmd[0]) if cmd else None)
        if exe:
            candidates.append(([exe, "--json"], exe))
        errors = []
        for argv, fill_exec in candidates:
            what = f"{' '.join(argv)} in {image}"
            try:
                code, out, err = _run_in_image(client, image, argv, timeout)
                if code != 0:
                    raise RegistrationError(f"{what}: exit {code}: {(err or out)[-300:].strip()}")
                data = extract_json(out, what)
            except RegistrationError as exc:
                errors.append(str(exc))
                continue
            selfpath = None
            if fill_exec and not data.get("selfpath"):
                selfpath = self._which_in_image(client, image, fill_exec, timeout)
            if not version and not data.get("version"):
                asks = functools.partial(_flag_in_image, client, image, fill_exec, timeout)
                version = (_probe_version(asks) if fill_exec else None) or tag_version(image)
            return self.register(
                data, name=name or data.get("name") or image_name(image), version=version,
                dock_image=image, selfexec=fill_exec, selfpath=selfpath,
            )
        raise RegistrationError(not_a_plugin(f"image {image!r}", exe, errors))

    @staticmethod
    def _which_in_image(client: Any, image: str, exe: str, timeout: float) -> str | None:
        script = "import shutil,sys; p=shutil.which(sys.argv[1]); print(p or '')"
        try:
            code, out, _ = _run_in_image(client, image, ["python3", "-c", script, exe], timeout)
        except RegistrationError:
            return None
        # no python in the image: the bare name still works
        return (os.path.dirname(out.strip()) or None) if code == 0 else None

    def register_executable(
        self,
        script: str,
        *,
        name: str | None = None,
        version: str | None = None,
        timeout: float = REGISTRATION_TIMEOUT,
    ) -> Plugin:
        """Register an installed console script for the local runner.

        ``script`` is a name on ``PATH`` or a path. The script's own interpreter (its ``#!``
        line) runs ``chris_plugin_info`` for a ``chris_plugin`` plugin; otherwise
        ``<script> --json`` (``chrisapp``) must print the descriptor. Name and version: the
        arguments, else the descriptor's, else (version) the program's ``--version``/``--meta``,
        else the installed distribution's; the name falls back to the distribution's, then the
        script's (without ``.py``).
        """
        path = shutil.which(script) or (script if os.access(script, os.X_OK) else None)
        if path is None:
            raise RegistrationError(f"executable not found: {script}")
        path = os.path.abspath(path)
        bindir, exe = os.path.dirname(path), os.path.basename(path)
        env = {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", "")}
        attempts: list[list[str]] = []
        python = _interpreter_of(path)
        dist_name = dist_version = ""
        if python:
            found = _run([python, "-c", _FIND_DIST, exe], env, timeout)
            if found[0] == 0 and found[1].split():
                dist_name, dist_version, kind = (found[1].split() + ["", ""])[:3]
                if kind == "entry_point":
                    attempts.append([python, "-m", "chris_plugin.tool.chris_plugin_info",
                                     "--name", name or dist_name,
                                     "--dock-image", f"local/{name or dist_name}", dist_name])
        attempts.append([path, "--json"])
        errors = []
        for argv in attempts:
            code, out, err = _run(argv, env, timeout)
            try:
                if code != 0:
                    raise RegistrationError(f"{' '.join(argv)}: exit {code}: {(err or out)[-300:].strip()}")
                data = dict(extract_json(out, " ".join(argv)))
            except RegistrationError as exc:
                errors.append(str(exc))
                continue
            # the local runner calls this very file with its own interpreter
            data["selfpath"], data["selfexec"] = bindir, exe
            data["execshell"] = python or ""
            if not version and not data.get("version"):
                asks = functools.partial(_flag_of, path, env, timeout)
                version = _probe_version(asks) or dist_version or None
            plugin_name = name or data.get("name") or dist_name or exe.removesuffix(".py")
            return self.register(
                data, source="local", name=plugin_name, version=version,
                dock_image=data.get("dock_image") or "",
            )
        raise RegistrationError(not_a_plugin(path, exe, errors))

    # -- queries --------------------------------------------------------------------------
    def list(self, name: str | None = None) -> list[Plugin]:
        with self.db.session() as s:
            q = select(Plugin)
            if name:
                q = q.where(Plugin.name == name)
            rows = list(s.execute(q).scalars())
        return sorted(rows, key=lambda p: (p.name, version_key(p.version)))

    def get(self, ref: PluginRef) -> Plugin:
        """Resolve ``id``, ``"name"`` (newest version), ``"name@1.2"``, ``(name, version)`` or
        ``{"name":…, "version":…}``."""
        if isinstance(ref, bool):
            raise PluginNotFound(f"no plugin {ref!r}")
        if isinstance(ref, int):
            with self.db.session() as s:
                row = s.get(Plugin, ref)
            if row is None:
                raise PluginNotFound(f"no plugin with id {ref}")
            return row
        if isinstance(ref, Mapping):
            name, version = ref.get("name"), ref.get("version")
        elif isinstance(ref, tuple):
            name, version = ref
        elif isinstance(ref, str):
            name, _, version = ref.partition("@")
        else:
            raise PluginNotFound(f"no plugin {ref!r}")
        rows = self.list(str(name))
        if version:
            rows = [r for r in rows if r.version == version]
        if not rows:
            what = f"{name} {version}" if version else str(name)
            raise PluginNotFound(f"no plugin {what} is registered")
        return rows[-1]

    def delete(self, plugin_id: int) -> None:
        with self.db.session() as s:
            row = s.get(Plugin, plugin_id)
            if row is None:
                raise PluginNotFound(f"no plugin with id {plugin_id}")
            n = s.execute(
                select(func.count()).where(PluginInstance.plugin_id == plugin_id)
            ).scalar_one()
            if n:
                raise PluginInUse(f"plugin {row.name} {row.version} has {n} instances")
            s.delete(row)


# Prints "<distribution> <version> entry_point|script" for the distribution that installed the
# script (a console_scripts entry point, or a file of its RECORD such as setuptools' scripts=).
_FIND_DIST = """
import sys, importlib.metadata as m
exe = sys.argv[1]
for e in m.entry_points(group='console_scripts'):
    if e.name == exe and e.dist:
        print(e.dist.name, e.dist.version, 'entry_point'); sys.exit()
for d in m.distributions():
    if any(f.name == exe and f.parent.name == 'bin' for f in (d.files or ())):
        print(d.metadata['Name'], d.version, 'script'); sys.exit()
"""

WRAPPING_HELP = 'see "Wrapping a program as a ChRIS plugin" in the README'


def not_a_plugin(what: str, exe: str | None, errors: list[str]) -> str:
    """The plain-words message for a program that gave no descriptor."""
    ask = f"`{exe} --json` printed no descriptor and " if exe else ""
    return (f"{what} is not a ChRIS plugin: {ask}it has no chris_plugin_info "
            f"(to make a program a plugin, {WRAPPING_HELP}). Details: " + "; ".join(errors))


def image_name(image: str) -> str:
    """The repository name of an image reference (``fnndsc/pl-x:1.0`` -> ``pl-x``)."""
    return image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]


def tag_version(image: str) -> str | None:
    """The version an image's tag spells (``pl-x:1.2.0`` or ``:v1.2.0``), if it spells one."""
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    _, sep, tag = last.partition(":")
    tag = tag.removeprefix("v")
    return tag if sep and is_version(tag) else None


_META_VERSION = re.compile(r"^\s*VERSION\s*:\s*(\S+)\s*$", re.MULTILINE)


def _probe_version(run: Callable[[str], tuple[int, str, str]]) -> str | None:
    """The version a chrisapp program prints for ``--version`` (the bare version, or after the
    program's name) or ``--meta`` (a ``VERSION: x`` line); ``None`` when neither tells."""
    for flag in ("--version", "--meta"):
        try:
            code, out, _ = run(flag)
        except RegistrationError:
            continue
        if code != 0:
            continue
        m = _META_VERSION.search(out)
        words = [m.group(1)] if m else (out.strip().splitlines() or [""])[-1].split()
        for word in reversed(words):
            if is_version(word.removeprefix("v")):
                return word.removeprefix("v")
    return None


def _flag_in_image(client: Any, image: str, exe: str, timeout: float, flag: str) -> tuple[int, str, str]:
    return _run_in_image(client, image, [exe, flag], timeout)


def _run_in_image(client: Any, image: str, argv: list[str], timeout: float) -> tuple[int, str, str]:
    """Run ``argv`` in a fresh container of ``image`` (no network); (exit code, stdout, stderr).

    The container is removed in every case (a program the image lacks leaves a ``Created``
    container behind otherwise); a program that runs longer than ``timeout`` is killed and
    raises :class:`RegistrationError`.
    """
    import docker
    import requests

    try:
        container = client.containers.create(image, entrypoint=argv[:1], command=argv[1:],
                                              network_mode="none")
    except docker.errors.APIError as exc:
        return 127, "", str(exc.explanation or exc)
    try:
        try:
            container.start()
        except docker.errors.APIError as exc:
            return 127, "", str(exc.explanation or exc)
        try:
            code = container.wait(timeout=timeout)["StatusCode"]
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            raise RegistrationError(
                f"`{' '.join(argv)}` in {image} did not finish within {timeout:g} s"
            ) from None
        out = container.logs(stdout=True, stderr=False).decode(errors="replace")
        err = container.logs(stdout=False, stderr=True).decode(errors="replace")
        return code, out, err
    finally:
        with contextlib.suppress(docker.errors.APIError):
            container.remove(force=True)


def _interpreter_of(script: str) -> str | None:
    """The Python named on a script's ``#!`` line, if it is one."""
    try:
        with open(script, "rb") as f:
            first = f.readline(500).decode(errors="replace")
    except OSError:
        return None
    if not first.startswith("#!"):
        return None
    words = first[2:].split()
    if not words:
        return None
    if os.path.basename(words[0]) == "env" and len(words) > 1:
        return shutil.which(words[1])
    return words[0] if "python" in os.path.basename(words[0]) else None


def _flag_of(path: str, env: dict[str, str], timeout: float, flag: str) -> tuple[int, str, str]:
    return _run([path, flag], env, timeout)


def _run(argv: list[str], env: dict[str, str], timeout: float) -> tuple[int, str, str]:
    """(exit code, stdout, stderr); a program that cannot start or outlives ``timeout`` gets a
    negative code and the reason as its stderr."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return -1, "", f"did not finish within {timeout:g} s"
    except OSError as exc:
        return -1, "", f"could not start: {exc}"
    return p.returncode, p.stdout, p.stderr
