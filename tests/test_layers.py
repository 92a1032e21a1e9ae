"""The package's import layers: no module imports from a layer above its own, and no import cycles.

Every ``import`` and ``from … import`` in every module of ``chris_jupyter/`` counts — absolute or
relative, at module level or inside a function (a deferred import is the same arrow, only taken
later), under ``if TYPE_CHECKING:`` too. The layer list below is the one the README's
"Architecture" section shows; a new module must be placed in it.

Reading a failure: "A (layer x) imports B (layer y, above it)" means the arrow points up — move
the shared thing down to the lower layer, or move A up. An import cycle lists the modules in the
circle and the line of each import; give the dependency one direction.
"""

from __future__ import annotations

import ast
import functools
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "chris_jupyter"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

#: Lowest first. A module may import from its own layer and from the layers below it. An entry
#: names a module or a package (with everything in it), relative to ``chris_jupyter``; a module
#: belongs to its longest entry (``dicom.net.ul`` is in "services", ``dicom.volume`` in
#: "domain"). ``__init__`` is the package root, ``chris_jupyter/__init__.py``.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    # Standard library and third-party packages only, and each other.
    ("foundation", ("_version", "errors", "paths", "events", "db", "utils", "states", "nifti")),
    # Users, groups, tokens, the Principal every service takes.
    ("identity", ("identity",)),
    # The library store, permissions, sharing, the Library service.
    ("library", ("library",)),
    # The data-side subsystems on the library: DICOM data (headers, index, search, volumes,
    # de-identification, layout), plugin descriptors and registry, feeds.
    ("domain", ("dicom", "plugins", "feeds")),
    # Services that use the domain: the DICOM network side (upper layer, DIMSE, SCP, PACS client,
    # receiver, PacsService) and compute (coordinator, pipelines, runners).
    ("services", ("dicom.net", "compute")),
    # All services wired together, and the sample library built through them.
    ("backend", ("backend", "sample")),
    # The REST handlers (tornado starts here).
    ("api", ("api",)),
    # The remote compute resource's own server (``compute serve``): tornado on the runners.
    ("remote", ("remote",)),
    # The Jupyter server extension: configuration traits, builds the backend, registers handlers.
    ("app", ("app",)),
    # Hub mode: the managed service, hub-identity auth.
    ("hub", ("hub",)),
    # The HTTP client used by notebooks, widgets and the CLI (see CLIENT_MAY_IMPORT).
    ("client", ("client",)),
    # Notebook widgets and panels (on the client).
    ("widgets", ("widgets",)),
    # Entry points and tooling: the command line, the test server, the package root.
    ("tools", ("cli", "testing", "__init__")),
]

#: The client talks to the server over HTTP and never imports the server core: besides its own
#: layer it may import only these layers.
CLIENT_LAYER = "client"
CLIENT_MAY_IMPORT = {"foundation"}

#: Violations tolerated for now, each as the failure message prints its key. Empty since issue 9;
#: the test also fails for an entry that no longer occurs.
KNOWN_VIOLATIONS: set[str] = set()


@dataclass(frozen=True)
class Import:
    """One arrow: ``source`` imports ``target`` (both dotted module names) at ``path:line``."""

    source: str
    target: str
    path: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def modules(root: Path | None = None) -> dict[str, tuple[Path, bool]]:
    """Every module of the package: dotted name -> (file, is a package ``__init__``)."""
    root = root or ROOT
    found: dict[str, tuple[Path, bool]] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        found[".".join(parts)] = (path, is_package)
    return found


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool,
             known: dict[str, tuple[Path, bool]]) -> Iterator[str]:
    """The package modules an import statement loads, resolved like the interpreter does."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        origin = ".".join(base + ([node.module] if node.module else []))
    else:
        origin = node.module or ""
    names_a_module = False
    for alias in node.names:
        if f"{origin}.{alias.name}" in known:  # from pkg import submodule
            yield f"{origin}.{alias.name}"
        else:
            names_a_module = True  # from module import name: the module itself
    if names_a_module:
        yield origin


def imports() -> list[Import]:
    """All imports between modules of the package (anywhere in a module's code)."""
    return _imports(ROOT)


@functools.cache
def _imports(root: Path) -> list[Import]:
    known = modules(root)
    found = []
    for module, (path, is_package) in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        rel = str(path.relative_to(root.parent))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in _targets(node, module, is_package, known):
                if target != PACKAGE and not target.startswith(PACKAGE + "."):
                    continue  # standard library or third party
                while target not in known and "." in target:
                    target = target.rsplit(".", 1)[0]  # `import a.b.c` of a name, not a module
                if target != module:
                    found.append(Import(module, target, rel, node.lineno))
    return found


def layer_of(module: str) -> tuple[int, str] | None:
    """(index, name) of the layer a dotted module name belongs to, by its longest entry."""
    rel = module.removeprefix(PACKAGE).removeprefix(".") or "__init__"
    best: tuple[int, int, str] | None = None
    for index, (name, entries) in enumerate(LAYERS):
        for entry in entries:
            matches = rel == entry or rel.startswith(entry + ".")
            if matches and (best is None or len(entry) > best[0]):
                best = (len(entry), index, name)
    return None if best is None else (best[1], best[2])


def layer_violations(arrows: list[Import]) -> dict[str, str]:
    """Arrows up the layer list, and client imports of the server: key -> message."""
    found: dict[str, str] = {}
    client_index = next(i for i, (name, _) in enumerate(LAYERS) if name == CLIENT_LAYER)
    for arrow in arrows:
        source, target = layer_of(arrow.source), layer_of(arrow.target)
        if source is None or target is None:
            continue  # reported by test_every_module_has_a_layer
        if target[0] > source[0]:
            key = f"layer: {arrow.source} -> {arrow.target}"
            found.setdefault(key, f"{arrow.source} (layer {source[1]}) imports {arrow.target} "
                                  f"(layer {target[1]}, above it) at {arrow.where}")
        elif source[0] == client_index and target[0] != client_index and target[1] not in CLIENT_MAY_IMPORT:
            key = f"client: {arrow.source} -> {arrow.target}"
            found.setdefault(key, f"{arrow.source} (layer {source[1]}) imports {arrow.target} "
                                  f"(layer {target[1]}) at {arrow.where}: the client may import only "
                                  f"from {', '.join(sorted(CLIENT_MAY_IMPORT))} (it reaches the "
                                  "server over HTTP)")
    return found


def cycles(arrows: list[Import]) -> dict[str, str]:
    """One shortest circle through each module that is on one: key -> message.

    The key names the circle starting at its alphabetically first module, so it is stable."""
    graph: dict[str, dict[str, Import]] = {}
    for arrow in arrows:
        graph.setdefault(arrow.source, {}).setdefault(arrow.target, arrow)
    found: dict[str, str] = {}
    for start in sorted(graph):
        # Breadth-first from start's targets back to start: the shortest circle through it.
        parents: dict[str, str] = {}
        frontier = [start]
        while frontier and start not in parents:
            following = []
            for node in frontier:
                for nxt in sorted(graph.get(node, {})):
                    if nxt not in parents:
                        parents[nxt] = node
                        following.append(nxt)
            frontier = following
        if start not in parents:
            continue
        circle = [start]
        while len(circle) == 1 or circle[-1] != start:
            circle.append(parents[circle[-1]])
        circle.reverse()  # start -> ... -> start
        first = circle.index(min(circle[:-1]))
        circle = circle[first:-1] + circle[:first] + [circle[first]]
        key = "cycle: " + " -> ".join(circle)
        steps = [graph[a][b] for a, b in zip(circle, circle[1:], strict=False)]
        found.setdefault(key, "import cycle: " + "; ".join(
            f"{s.source} imports {s.target} at {s.where}" for s in steps))
    return found


def _check(found: dict[str, str]) -> list[str]:
    """Messages for violations not in KNOWN_VIOLATIONS (those for the given kind only)."""
    return [message for key, message in sorted(found.items()) if key not in KNOWN_VIOLATIONS]


def test_every_module_has_a_layer():
    missing = [m for m in modules() if layer_of(m) is None]
    assert not missing, (
        "modules in no layer (add them to LAYERS in tests/test_layers.py and to the README's "
        "Architecture section): " + ", ".join(missing))


def test_every_layer_entry_exists():
    names = {m.removeprefix(PACKAGE).removeprefix(".") or "__init__" for m in modules()}
    stale = [f"{entry} (layer {layer})" for layer, entries in LAYERS for entry in entries
             if entry not in names]
    assert not stale, "LAYERS names modules that do not exist (remove or rename them): " + ", ".join(stale)


def test_no_module_imports_from_a_layer_above():
    problems = _check(layer_violations(imports()))
    assert not problems, "imports that go up the layers:\n  " + "\n  ".join(problems)


def test_no_import_cycles():
    problems = _check(cycles(imports()))
    assert not problems, "import cycles (give each dependency one direction):\n  " + "\n  ".join(problems)


def test_known_violations_still_occur():
    arrows = imports()
    current = set(layer_violations(arrows)) | set(cycles(arrows))
    gone = sorted(KNOWN_VIOLATIONS - current)
    assert not gone, "fixed, remove from KNOWN_VIOLATIONS in tests/test_layers.py:\n  " + "\n  ".join(gone)


def test_the_checker_sees_relative_deferred_and_cyclic_imports(tmp_path, monkeypatch):
    """The walk itself: a relative import inside a function that goes up, and a circle."""
    pkg = tmp_path / PACKAGE
    (pkg / "library").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "library" / "__init__.py").write_text("")
    (pkg / "paths.py").write_text("def f():\n    from .library import store\n")
    (pkg / "library" / "store.py").write_text("from .. import paths\nfrom ..library import service\n")
    (pkg / "library" / "service.py").write_text("from chris_jupyter.library.store import x\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", pkg)
    arrows = imports()
    assert layer_violations(arrows) == {
        "layer: chris_jupyter.paths -> chris_jupyter.library.store":
            "chris_jupyter.paths (layer foundation) imports chris_jupyter.library.store "
            "(layer library, above it) at chris_jupyter/paths.py:2",
    }
    assert set(cycles(arrows)) == {
        "cycle: chris_jupyter.library.service -> chris_jupyter.library.store -> chris_jupyter.library.service",
        "cycle: chris_jupyter.library.store -> chris_jupyter.paths -> chris_jupyter.library.store",
    }
