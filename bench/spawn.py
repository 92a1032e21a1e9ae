"""bench/spawn: spawn-to-ready of the ChRIS spawner vs plain DockerSpawner, same single-user image.

Two real hubs from the repository's ``jupyterhub_config.py`` (configurable-http-proxy, the ChRIS
service, SQLite), one with ``chris-docker`` and one with DockerSpawner (the host-network override
of its documentation, nothing else: no library mounts, no folder preparation, no checks). The clock
runs from the hub API's spawn request until the hub reports the server ready (the progress
stream's ``ready`` event), the time a user waits after clicking "Start"; stopping is outside it.
Alternating runs, median of ``--runs`` (>= 10) each. Then ``--concurrent`` ChRIS servers spawned at
once: all must become ready; the time to the last one.

Last line: ``spawn: <median> s (ratio <x> vs dockerspawner)``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _hub import Hub, build_singleuser_image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--concurrent", type=int, default=10)
    args = ap.parse_args()
    runs = max(10, args.runs)
    build_singleuser_image()
    with tempfile.TemporaryDirectory() as tmp:
        ours_hub = Hub(Path(tmp) / "chris", "chris-docker")
        plain_hub = Hub(Path(tmp) / "plain", "_hub.HostDockerSpawner")
        try:
            for h in (ours_hub, plain_hub):  # warm up: first spawn pays for cold caches
                h.add_user("warm")
                h.spawn("warm")
                h.stop_server("warm")
            ours, plain = [], []
            for i in range(runs):
                for h, times in ((ours_hub, ours), (plain_hub, plain)):
                    user = f"u{i}"
                    h.add_user(user)
                    times.append(h.spawn(user))
                    h.stop_server(user)
                print(f"run {i + 1:2d}: chris-docker {ours[-1]:.2f} s   dockerspawner {plain[-1]:.2f} s", flush=True)
            plain_hub.close()
            users = [f"c{i}" for i in range(args.concurrent)]
            for u in users:
                ours_hub.add_user(u)
            t0 = time.perf_counter()
            with ThreadPoolExecutor(len(users)) as pool:
                each = list(pool.map(ours_hub.spawn, users))
            last = time.perf_counter() - t0
            print(f"{len(users)} concurrent chris-docker spawns: all ready, the last after {last:.2f} s "
                  f"(median {statistics.median(each):.2f} s)", flush=True)
            with ThreadPoolExecutor(len(users)) as pool:
                list(pool.map(ours_hub.stop_server, users))
        finally:
            ours_hub.close()
            plain_hub.close()
    m_ours, m_plain = statistics.median(ours), statistics.median(plain)
    print(f"dockerspawner median: {m_plain:.2f} s over {runs} runs")
    print(f"spawn: {m_ours:.2f} s (ratio {m_ours / m_plain:.2f} vs dockerspawner)")


if __name__ == "__main__":
    main()
