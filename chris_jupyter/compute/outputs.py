"""What a finished job leaves in its output folder, checked before it is registered.

A plugin writes what it likes into its output folder, symbolic links included. A link that
leads outside that folder (``linkdir -> ../../../../../../home/alice/uploads``, or an absolute
``/etc``) would hand whoever reads the output, and every child plugin that is given the folder
as its input, data the plugin's owner may not read. Such links are *removed* before the
outputs are registered: leaving them on disk unregistered would still expose them to child
plugins, which read the parent's folder from disk and not from the DB. Links that stay inside
the output folder are harmless and are kept, but, like every link, they are neither
registered nor listed: the library lists folders and regular files only
(:func:`chris_jupyter.library.store.walk_disk`), and so does the provenance's ``output_files``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .. import paths
from ..library.store import walk_disk


@dataclass
class LinkReport:
    removed: list[str] = field(default_factory=list)  # paths relative to the output folder
    failed: list[str] = field(default_factory=list)  # could not be removed (reason appended)

    def note(self) -> str:
        """The line added to the instance's log (empty when nothing was found)."""
        if not self.removed and not self.failed:
            return ""
        parts = []
        if self.removed:
            parts.append(f"removed {len(self.removed)} symbolic link(s) that pointed outside this "
                         f"instance's output folder (not registered): {', '.join(self.removed[:20])}"
                         + (" …" if len(self.removed) > 20 else ""))
        if self.failed:
            parts.append(f"could not remove symbolic link(s) that point outside the output folder: "
                         f"{', '.join(self.failed[:20])}")
        return "[chris_jupyter] " + "; ".join(parts)


def remove_outside_links(root: Path) -> LinkReport:
    """Remove every symbolic link below ``root`` that resolves outside ``root``.

    The tree is walked without following links; a link to a link is judged by where the chain
    ends. An output folder that is itself a link is replaced by an empty folder.
    """
    report = LinkReport()
    if root.is_symlink():
        _remove(root, ".", report)
        root.mkdir()
        return report
    base = os.path.realpath(root)
    for d, dirnames, filenames in os.walk(root):  # followlinks=False: links show up, unentered
        for name in (*dirnames, *filenames):
            full = os.path.join(d, name)
            if not os.path.islink(full):
                continue
            real = os.path.realpath(full)
            if real != base and not real.startswith(base + os.sep):
                _remove(Path(full), os.path.relpath(full, root).replace(os.sep, "/"), report)
    return report


def _remove(link: Path, rel: str, report: LinkReport) -> None:
    try:
        link.unlink()
        report.removed.append(rel)
    except OSError as e:
        report.failed.append(f"{rel} ({e.strerror})")


def output_files(root: Path, output_path: str) -> list[str]:
    """The library paths of the files the library registers and lists below an output folder."""
    return sorted(e.path for e in walk_disk(root, paths.normalize(output_path)) if not e.is_dir)
