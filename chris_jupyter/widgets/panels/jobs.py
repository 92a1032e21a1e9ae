"""``JobMonitor``: the plugin instances of a feed, live, with logs and a cancel button.

State changes come from the server's event stream, read by a daemon thread in the kernel
(:class:`EventFollower`), which updates the widgets as they happen: no fixed-interval polling.
The thread stops with :meth:`JobMonitor.close` and never keeps a kernel or a notebook run alive.
"""

from __future__ import annotations

import html
import threading
from typing import Any

import ipywidgets as W

from ...states import CANCELLED, ERROR, FINAL, SUCCESS
from ._common import badge, get_client, message, row_layout
from .jobs_model import EventFollower, JobTracker, state_progress


def job_logs(client: Any, iid: int) -> str:
    """A job's log text. Read raw: ``Client.logs`` JSON-decodes it, because the server labels
    the text ``application/json`` (jupyter_server's ``APIHandler.finish`` overrides the type)."""
    from ...client.errors import raise_for

    r = client.http.get(f"instances/{iid}/logs")
    raise_for(r)
    return r.text


class JobMonitor(W.VBox):
    """Live job states of one feed (or all of the user's jobs), logs of the selected job, cancel.

    Parameters
    ----------
    client
        A :class:`chris_jupyter.Client`; by default ``Client()``.
    feed_id
        The feed to follow (``None``: every job of the user); :meth:`follow` switches.
    live
        Follow the event stream (default). ``False``: a snapshot only, refreshed by :meth:`refresh`.
    """

    def __init__(self, client: Any | None = None, feed_id: int | None = None, *, live: bool = True,
                 **kwargs: Any) -> None:
        self.client = get_client(client)
        self.tracker = JobTracker(feed_id)
        self.follower = EventFollower(self.client, self.tracker)
        self.selected: int | None = None
        self._lock = threading.RLock()
        self._drawn = threading.Condition(self._lock)  # notified once a change is on screen
        self._rows: dict[int, tuple[W.HBox, W.HTML, W.FloatProgress, W.Button]] = {}

        self.title = W.HTML()
        self.progress = W.FloatProgress(min=0.0, max=1.0, layout=W.Layout(width="240px"))
        self.summary = W.HTML()
        self.table = W.VBox(layout=W.Layout(max_height="260px", overflow_y="auto"))
        self.logs = W.Textarea(disabled=True, layout=W.Layout(width="100%", height="160px"))
        self.logs_title = W.HTML("<i>select a job to see its logs</i>")
        self.refresh_logs_button = W.Button(description="Refresh logs", icon="refresh", disabled=True)
        self.cancel_button = W.Button(description="Cancel", icon="stop", button_style="danger", disabled=True,
                                      tooltip="cancel the selected job and its descendants")
        self.status = W.HTML()
        self.refresh_logs_button.on_click(lambda _: self.show_logs())
        self.cancel_button.on_click(lambda _: self.cancel())
        super().__init__([self.title, W.HBox([self.progress, self.summary], layout=row_layout()), self.table,
                          W.HBox([self.logs_title, self.refresh_logs_button, self.cancel_button],
                                 layout=row_layout()),
                          self.logs, self.status], **kwargs)
        self.add_class("chris-job-monitor")
        self.tracker.on_change(self._changed)
        self._draw_all()
        if live:
            self.follower.start()
        else:
            self.refresh()

    # -- actions --------------------------------------------------------------------------------
    def _guard(self, action: Any) -> Any:
        try:
            return action()
        except Exception as e:
            self.status.value = message(str(e) or type(e).__name__, "error")
            return None

    def refresh(self) -> None:
        """Take a fresh snapshot (``GET instances``) now; the stream keeps it current after."""
        self._guard(self.follower.snapshot)

    def follow(self, feed_id: int | None, *, select: int | None = None) -> None:
        """Show another feed's jobs (and select one of them)."""
        with self._lock:
            self.tracker.follow(feed_id)
            self._rows.clear()
            self.selected = None
        self.refresh()
        self._draw_all()
        if select is not None:
            self.select(select)

    def select(self, iid: int) -> None:
        """Select a job: its logs are shown, and it is what "Cancel" cancels."""
        with self._lock:
            self.selected = iid
            for jid, (box, *_rest) in self._rows.items():
                box.layout.border = "1px solid #2563eb" if jid == iid else "1px solid transparent"
        self._update_controls()
        self.show_logs()

    def show_logs(self) -> None:
        iid = self.selected
        if iid is None:
            return

        def load() -> None:
            text = job_logs(self.client, iid)
            if self.selected == iid:
                self.logs.value = text
                self.logs_title.value = f"<b>Logs of job #{iid}</b>"

        self._guard(load)

    def cancel(self, iid: int | None = None) -> list[int] | None:
        """Cancel the selected job (or ``iid``) and its descendants; returns the cancelled ids."""
        target = self.selected if iid is None else iid
        if target is None:
            return None

        def do() -> list[int]:
            out = self.client.cancel(target)
            self.status.value = message(f"cancelled {', '.join(f'#{i}' for i in out) or 'nothing'}", "ok")
            return out

        return self._guard(do)

    def close(self) -> None:
        """Stop following the event stream and close the widgets."""
        self.follower.stop()
        super().close()

    # -- drawing (called from the event thread too) ---------------------------------------------
    def _changed(self, ids: list[int]) -> None:
        with self._lock:
            for iid in ids:
                self._draw_job(iid)
            self._draw_summary()
        if self.selected in ids:
            self._update_controls()
            self.show_logs()
        with self._drawn:
            self._drawn.notify_all()

    def _draw_all(self) -> None:
        with self._lock:
            jobs = self.tracker.ordered()
            for job in jobs:
                self._draw_job(job["id"])
            self.table.children = [self._rows[j["id"]][0] for j in jobs if j["id"] in self._rows]
            self._draw_summary()

    def _draw_summary(self) -> None:
        fid = self.tracker.feed_id
        self.title.value = f"<b>Jobs</b> {'of feed #' + str(fid) if fid is not None else '(all of yours)'}"
        s = self.tracker.summary()
        self.progress.value = s.fraction
        self.summary.value = (f"{s.finished}/{s.total} finished · {s.running} running · "
                              f"{s.succeeded} ok · {s.failed} failed · {s.cancelled} cancelled")

    def _draw_job(self, iid: int) -> None:
        job = self.tracker.jobs.get(iid)
        if job is None:
            return
        state = job.get("state") or "?"
        text = f"#{iid} {html.escape(job.get('plugin') or '')} {html.escape(job.get('title') or '')}"
        if job.get("error") and state == ERROR:
            text += f" <small style='color:#b91c1c'>{html.escape(str(job['error'])[:200])}</small>"
        if iid not in self._rows:
            pick = W.Button(description=f"#{iid}", tooltip=f"show the logs of job #{iid}",
                            layout=W.Layout(width="64px"))
            pick.on_click(lambda _, i=iid: self.select(i))
            label, state_html = W.HTML(layout=W.Layout(min_width="240px")), W.HTML()
            bar = W.FloatProgress(min=0.0, max=1.0, layout=W.Layout(width="120px"))
            box = W.HBox([pick, label, state_html, bar],
                         layout=row_layout(border="1px solid transparent"))
            box.add_class("chris-job")
            box.iid = iid  # type: ignore[attr-defined]
            self._rows[iid] = (box, state_html, bar, pick)
            box.children[1].value = text
            self.table.children = [*self.table.children, box]
        box, state_html, bar, _ = self._rows[iid]
        box.children[1].value = text
        state_html.value = badge(state)
        bar.value = state_progress(state)
        bar.bar_style = {SUCCESS: "success", ERROR: "danger", CANCELLED: "warning"}.get(state, "info")

    def _update_controls(self) -> None:
        state = self.tracker.state(self.selected) if self.selected is not None else None
        self.refresh_logs_button.disabled = self.selected is None
        self.cancel_button.disabled = state is None or state in FINAL

    # -- for tests and scripts ------------------------------------------------------------------
    def state_shown(self, iid: int) -> str | None:
        """The state drawn in job ``iid``'s row (what a person sees), or None."""
        row = self._rows.get(iid)
        if row is None:
            return None
        value = row[1].value
        start = value.find('data-state="') + len('data-state="')
        return html.unescape(value[start:value.index('"', start)])

    def wait_for(self, iid: int, states: frozenset[str] | set[str] = FINAL, timeout: float = 60) -> str | None:
        """Wait until the monitor *shows* job ``iid`` in one of ``states`` (default: final),
        summary and logs included; returns the state shown then."""
        with self._drawn:
            self._drawn.wait_for(lambda: self.state_shown(iid) in states, timeout)
            return self.state_shown(iid)
