"""The client is one package that never imports the server core, and shares one set of job
state names with it (a kernel or a script far from the server runs it)."""

from __future__ import annotations

import ast
from pathlib import Path

import chris_jupyter
from chris_jupyter import states

PACKAGE = Path(chris_jupyter.__file__).parent
#: The server core and the front ends above the client: nothing under client/ imports them.
FORBIDDEN = ("library", "dicom", "compute", "plugins", "feeds", "db", "api", "hub", "identity", "backend",
             "app", "cli", "widgets")


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at module level or inside a function, absolute."""
    here = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = here[:-1] if here[-1] != "__init__" else here[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            out |= {mod} | {f"{mod}.{a.name}" for a in node.names}
    return out


def test_client_is_a_package_that_never_imports_the_core():
    client = PACKAGE / "client"
    assert (client / "__init__.py").is_file(), "chris_jupyter.client is one package"
    assert not (PACKAGE / "client.py").exists() and not list(PACKAGE.glob("client_*.py"))
    bad = {}
    for path in sorted(client.rglob("*.py")):
        found = sorted(m for m in _imports(path)
                       if m.startswith("chris_jupyter.") and m.split(".")[1] in FORBIDDEN)
        if found:
            bad[path.relative_to(PACKAGE).as_posix()] = found
    assert bad == {}


def test_one_set_of_job_state_names():
    from chris_jupyter.compute import states as core
    from chris_jupyter.widgets.panels import jobs_model

    assert core.FINAL is states.FINAL and core.TRANSITIONS is states.TRANSITIONS
    assert jobs_model.FINAL is states.FINAL and jobs_model.EVENT_TYPE == core.EVENT_TYPE
    # No module keeps a copy of the final states' names as text.
    names = [f'"{s}"' for s in states.FINAL]
    copies = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
              if p != PACKAGE / "states.py" and sum(n in p.read_text() for n in names) == len(names)]
    assert copies == []
