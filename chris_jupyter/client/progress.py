"""Progress bars for the client that stay readable in a saved notebook.

``tqdm.auto`` draws an ipywidgets bar in a notebook; once the kernel is gone, a reopened notebook
shows "Error displaying widget: model not found" in its place. In a notebook kernel this module
draws the bar as plain HTML output, updated in place through a display id, and leaves its final
line (``upload ct.nii.gz: 100% 1.20M/1.20M [00:01]``) as ordinary output that every viewer can
show. Elsewhere it is tqdm's own text bar.
"""

from __future__ import annotations

import html
import io
import uuid
from typing import Any

from tqdm.std import tqdm as _text_tqdm


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where a display can be updated in place)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class HtmlProgress(_text_tqdm):
    """tqdm drawn as an HTML ``<progress>`` and a text line, in one updatable display."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._display_id = f"chris-progress-{uuid.uuid4().hex}"
        self._shown = False
        kwargs["file"] = io.StringIO()  # tqdm's text goes nowhere; display() publishes HTML
        kwargs.setdefault("leave", True)
        super().__init__(*args, **kwargs)

    def _publish(self, text: str, done: bool = False) -> None:
        from IPython.display import display, update_display

        total = self.total
        bar = "" if done else (f'<progress value="{float(self.n)}" max="{float(total)}"></progress> '
                               if total else "<progress></progress> ")
        data = {"text/plain": text,
                "text/html": f'<div class="chris-progress">{bar}<code>{html.escape(text)}</code></div>'}
        if self._shown:
            update_display(data, raw=True, display_id=self._display_id)
        else:
            display(data, raw=True, display_id=self._display_id)
            self._shown = True

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        if msg == "":  # tqdm clearing its line: keep what is shown
            return True
        self._publish(msg if msg is not None else str(self))
        return True

    def close(self) -> None:
        if self.disable:
            return
        final = str(self)
        super().close()
        self._publish(final, done=True)


def progress_bar(**kwargs: Any) -> _text_tqdm:
    """A tqdm bar: HTML in a notebook kernel (survives saving), text elsewhere."""
    if in_notebook() and not kwargs.get("disable"):
        return HtmlProgress(**kwargs)
    kwargs.setdefault("leave", False)
    return _text_tqdm(**kwargs)


def byte_progress(total: int | None, desc: str, enabled: bool) -> _text_tqdm:
    """A bar counting bytes (an upload or a download)."""
    return progress_bar(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
                        disable=not enabled)
