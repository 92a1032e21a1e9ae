"""bench/hub_api: the ChRIS API through the hub service vs the same calls in embedded mode.

Hub: the repository's ``jupyterhub_config.py`` (SQLite, configurable-http-proxy, the service at
``/services/chris/``), an admin's hub token (``Authorization: token …``) through the hub's proxy.
Embedded: one Jupyter server with the extension and its own token, no proxy. Both with the Docker
runner and the same data: a folder of ``--files`` files and the reference ``pl-dircopy`` plugin.
Timed: a page of 100 of the folder's listing (``GET files``), and a job submit (``POST`` an
``fs`` job of pl-dircopy; the job's run is waited for outside the clock). Alternating, medians. The
hub's answer for a token is cached by the service (HubAuth), so a call costs no hub round trip: the
difference is the proxy hop and the hub identity.

Last line: ``hub_api: listing <ms> ms, submit <ms> ms (ratio <x> vs embedded)`` (x: the worse of the two).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from _hub import Hub
from _stack import build

from chris_jupyter import Client
from chris_jupyter.testing import ChrisServer


def _prepare(c: Client, files: int) -> str:
    me = c.me()["username"]
    folder = f"home/{me}/uploads/many"
    for i in range(files):
        c.request("PUT", "files/content", params={"path": f"{folder}/f{i:05d}.txt"}, content=b"x")
    c.request("PUT", "files/content", params={"path": f"home/{me}/uploads/in/in.txt"}, content=b"x")
    c.register_plugin(image=build("pl-dircopy", "chris-jupyter/pl-dircopy:2.1.2"))
    return folder


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--listings", type=int, default=50)
    ap.add_argument("--submits", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        srv = ChrisServer(work / "embedded", f"sqlite:///{work / 'embedded.db'}", ["--ChrisApp.runner=docker"])
        srv.start()
        hub = Hub(work / "hub")
        try:
            hub.add_user("admin")
            token = hub.user_token("admin")
            clients = {"embedded": Client(srv.url, srv.token, timeout=600),
                       "hub": Client(hub.url + "services/chris/", token, timeout=600)}
            folders = {k: _prepare(c, args.files) for k, c in clients.items()}
            http = {"embedded": httpx.Client(base_url=srv.api, headers={"Authorization": f"token {srv.token}"},
                                             timeout=60),
                    "hub": httpx.Client(base_url=hub.url + "services/chris/chris/api/v1/",
                                        headers={"Authorization": f"token {token}"}, timeout=60)}
            listing: dict[str, list[float]] = {"embedded": [], "hub": []}
            submit: dict[str, list[float]] = {"embedded": [], "hub": []}
            for mode, h in http.items():  # warm up (the hub side: the first call asks the hub for the token)
                for _ in range(5):
                    h.get("files", params={"path": folders[mode], "limit": 100}).raise_for_status()
            for i in range(args.listings):
                for mode, h in http.items():
                    def page() -> None:
                        r = h.get("files", params={"path": folders[mode], "limit": 100, "offset": (i * 7) % 200})  # noqa: B023
                        r.raise_for_status()
                        assert len(r.json()["items"]) == 100
                    listing[mode].append(_timed(page))
            for i in range(args.submits):
                for mode, c in clients.items():
                    me = c.me()["username"]
                    ids: list[int] = []
                    submit[mode].append(_timed(lambda: ids.append(  # noqa: B023
                        c.run("pl-dircopy", {"dir": f"home/{me}/uploads/in"})["id"])))  # noqa: B023
                    state = c.wait(ids[0], timeout=600)["state"]
                    if state != "finishedSuccessfully":
                        raise SystemExit(f"a {mode} job ended {state}")
                print(f"submit {i + 1:2d}: hub {submit['hub'][-1] * 1000:.1f} ms   "
                      f"embedded {submit['embedded'][-1] * 1000:.1f} ms", flush=True)
        finally:
            hub.close()
            srv.stop()
    ms = {k: {m: statistics.median(v[m]) * 1000 for m in v} for k, v in (("listing", listing), ("submit", submit))}
    ratios = {k: ms[k]["hub"] / ms[k]["embedded"] for k in ms}
    for k in ms:
        print(f"{k}: hub {ms[k]['hub']:.1f} ms, embedded {ms[k]['embedded']:.1f} ms (ratio {ratios[k]:.2f})")
    print(f"hub_api: listing {ms['listing']['hub']:.1f} ms, submit {ms['submit']['hub']:.1f} ms "
          f"(ratio {max(ratios.values()):.2f} vs embedded)")


if __name__ == "__main__":
    main()
