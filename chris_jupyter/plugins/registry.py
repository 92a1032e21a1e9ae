"""Register, list, look up and delete plugins.

Three ways in: (a) a descriptor (dict, JSON text or file), (b) a Docker image — its own
``chris_plugin_info`` or ``<selfexec> --json`` runs inside it (no network) and its output is the
descriptor, (c) an installed console script, for the local runner. Several versions of a plugin
coexist; ``(name, version)`` is unique.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ..db import Database
from ..db.models.compute import Plugin, PluginInstance
from .descriptor import DescriptorError, PluginDescriptor, parse_descriptor, version_key

PluginRef = int | str | tuple[str, str] | Mapping[str, Any]


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
        dock_image: str | None = None,
        execshell: str | None = None,
        selfpath: str | None = None,
        selfexec: str | None = None,
    ) -> Plugin:
        """Register a descriptor (dict, JSON text or path of a JSON file).

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
            dock_image=dock_image,
            execshell=execshell,
            selfpath=selfpath,
            selfexec=selfexec,
        )
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
        selfexec: str | None = None,
        timeout: float = 60,
    ) -> Plugin:
        """Register a plugin from a local Docker image by asking the image itself.

        Tries ``chris_plugin_info --dock-image <image>`` first (``chris_plugin`` plugins), then
        ``<selfexec> --json`` (``chrisapp`` plugins; ``selfexec`` defaults to the first word of
        the image's CMD). The container has no network and is removed afterwards.
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
            try:
                out = client.containers.run(
                    image,
                    entrypoint=argv[:1],
                    command=argv[1:],
                    network_mode="none",
                    remove=True,
                    stdout=True,
                    stderr=False,
                )
            except (docker.errors.ContainerError, docker.errors.APIError) as exc:
                errors.append(f"{' '.join(argv)}: {str(exc)[:300]}")
                continue
            data = extract_json(out.decode(errors="replace"), f"{' '.join(argv)} in {image}")
            selfpath = None
            if fill_exec and not data.get("selfpath"):
                selfpath = self._which_in_image(client, image, fill_exec)
            # chrisapp descriptors carry no name: default to the image's repository name
            default_name = image.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]
            return self.register(
                data, name=name or data.get("name") or default_name, dock_image=image,
                selfexec=fill_exec, selfpath=selfpath,
            )
        raise RegistrationError(
            f"could not get a descriptor from image {image!r}: " + "; ".join(errors)
        )

    @staticmethod
    def _which_in_image(client: Any, image: str, exe: str) -> str | None:
        script = "import shutil,sys; p=shutil.which(sys.argv[1]); print(p or '')"
        try:
            out = client.containers.run(
                image, entrypoint=["python3", "-c", script], command=[exe],
                network_mode="none", remove=True,
            ).decode().strip()
        except Exception:  # noqa: BLE001  (no python in the image: the bare name still works)
            return None
        return os.path.dirname(out) or None

    def register_executable(self, script: str, *, name: str | None = None, timeout: float = 180) -> Plugin:
        """Register an installed console script for the local runner.

        ``script`` is a name on ``PATH`` or a path. The script's own interpreter (its ``#!``
        line) runs ``chris_plugin_info`` for a ``chris_plugin`` plugin; otherwise
        ``<script> --json`` (``chrisapp``) must print the descriptor.
        """
        path = shutil.which(script) or (script if os.access(script, os.X_OK) else None)
        if path is None:
            raise RegistrationError(f"executable not found: {script}")
        path = os.path.abspath(path)
        bindir, exe = os.path.dirname(path), os.path.basename(path)
        env = {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", "")}
        attempts: list[list[str]] = []
        python = _interpreter_of(path)
        if python:
            dist = _run([python, "-c", _FIND_DIST, exe], env, timeout)
            if dist and dist[0] == 0 and dist[1].strip():
                dist_name = dist[1].strip()
                attempts.append([python, "-m", "chris_plugin.tool.chris_plugin_info",
                                 "--name", name or dist_name,
                                 "--dock-image", f"local/{name or dist_name}", dist_name])
        attempts.append([path, "--json"])
        errors = []
        for argv in attempts:
            res = _run(argv, env, timeout)
            if res is None or res[0] != 0:
                errors.append(f"{' '.join(argv)}: " + (res[2][-300:] if res else "did not run"))
                continue
            data = dict(extract_json(res[1], " ".join(argv)))
            # the local runner calls this very file with its own interpreter
            data["selfpath"], data["selfexec"] = bindir, exe
            data["execshell"] = python or ""
            return self.register(
                data, source="local", name=name, dock_image=data.get("dock_image") or f"local/{exe}"
            )
        raise RegistrationError(f"could not get a descriptor from {path}: " + "; ".join(errors))

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


_FIND_DIST = (
    "import sys, importlib.metadata as m\n"
    "print(next((e.dist.name for e in m.entry_points(group='console_scripts')"
    " if e.name == sys.argv[1] and e.dist), ''))"
)


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


def _run(argv: list[str], env: dict[str, str], timeout: float) -> tuple[int, str, str] | None:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                           stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return p.returncode, p.stdout, p.stderr
