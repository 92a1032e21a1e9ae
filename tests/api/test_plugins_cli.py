"""The CLI with plugins: parameters typed by the descriptor, one clear line for every error."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

from chris_jupyter.cli import build_parser, typed_params


def cli(url: str, token: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CHRIS_URL": url, "CHRIS_TOKEN": token}
    return subprocess.run([sys.executable, "-m", "chris_jupyter.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_run_parameters_are_typed_by_the_descriptor_not_guessed() -> None:
    args = build_parser().parse_args(["run", "pl-simpledsapp", "-p", "sleepLength=0", "-p", "n=3",
                                      "-p", "ratio=2", "-p", "loud=yes", "-p", "prefix=[1]"])
    plugin = {"name": "pl-simpledsapp", "parameters": [
        {"name": "sleepLength", "type": "str"}, {"name": "n", "type": "int"},
        {"name": "ratio", "type": "float"}, {"name": "loud", "type": "bool"},
        {"name": "prefix", "type": "str"}]}
    assert typed_params(plugin, dict(args.param)) == {
        "sleepLength": "0", "n": 3, "ratio": 2.0, "loud": True, "prefix": "[1]"}


def test_a_server_that_does_not_answer_gives_one_line_and_exit_1() -> None:
    """A request that times out (e.g. a plugin whose --json hangs) is no traceback."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        held: list[socket.socket] = []
        stop = threading.Event()

        def accept() -> None:
            srv.settimeout(0.2)
            while not stop.is_set():
                try:
                    held.append(srv.accept()[0])  # and never answer
                except TimeoutError:
                    continue

        t = threading.Thread(target=accept, daemon=True)
        t.start()
        try:
            url = f"http://127.0.0.1:{srv.getsockname()[1]}/"
            r = cli(url, "chris_x", "--timeout", "1", "plugin", "add", "--executable", "hangs")
        finally:
            stop.set()
            t.join()
            for c in held:
                c.close()
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "did not answer within 1 s" in r.stderr


def test_an_unreachable_server_gives_one_line_and_exit_1() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    r = cli(f"http://127.0.0.1:{port}/", "chris_x", "plugin", "ls")
    assert r.returncode == 1 and "Traceback" not in r.stderr and "cannot reach the server" in r.stderr


def test_plugin_add_of_a_program_that_is_no_plugin_says_so(chris_server, tmp_path: Path) -> None:
    prog = tmp_path / "notaplugin"
    prog.write_text("#!/bin/sh\necho 'usage: notaplugin FILE' >&2\nexit 2\n")
    prog.chmod(0o755)
    r = cli(chris_server.url, chris_server.token, "plugin", "add", "--executable", str(prog))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "is not a ChRIS plugin" in r.stderr and "Wrapping a program as a ChRIS plugin" in r.stderr


def test_plugin_add_takes_name_and_version(chris_server, tmp_path: Path) -> None:
    """A chrisapp 1.0.x style program: --json without name or version, no --version."""
    prog = tmp_path / "oldstyle"
    prog.write_text("#!/bin/sh\n[ \"$1\" = --json ] || exit 2\n"
                    "echo '{\"type\": \"ds\", \"parameters\": [], \"selfexec\": \"oldstyle\"}'\n")
    prog.chmod(0o755)
    r = cli(chris_server.url, chris_server.token, "plugin", "add", "--executable", str(prog))
    assert r.returncode == 1 and "version" in r.stderr and "--version" in r.stderr
    r = cli(chris_server.url, chris_server.token, "plugin", "add", "--executable", str(prog),
            "--name", "pl-oldstyle", "--version", "1.0.3")
    assert r.returncode == 0, r.stderr
    assert "registered pl-oldstyle 1.0.3" in r.stdout


def test_ls_of_a_failed_instances_output_path_works(chris_server, tmp_path: Path) -> None:
    from chris_jupyter import Client

    prog = tmp_path / "failing"
    prog.write_text("#!/bin/sh\nif [ \"$1\" = --json ]; then\n"
                    "  echo '{\"type\": \"fs\", \"parameters\": [], \"selfexec\": \"failing\"}'; exit 0\nfi\n"
                    "exit 1\n")
    prog.chmod(0o755)
    r = cli(chris_server.url, chris_server.token, "plugin", "add", "--executable", str(prog),
            "--name", "pl-failing", "--version", "1.0.0")
    assert r.returncode == 0, r.stderr
    r = cli(chris_server.url, chris_server.token, "run", "pl-failing", "--wait", "90")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    c = Client(chris_server.url, chris_server.token)
    inst = next(i for i in c.instances() if i["plugin"] == "pl-failing")
    assert inst["state"] == "finishedWithError"
    r = cli(chris_server.url, chris_server.token, "ls", inst["output_path"])
    assert r.returncode == 0, r.stderr
