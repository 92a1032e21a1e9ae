"""A backend whose runner does not confine jobs (the local runner) serves one person: jobs queued by
others under an earlier configuration do not start after a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from chris_jupyter.backend import Backend, Settings
from chris_jupyter.compute import states as st
from chris_jupyter.identity import NotServed


def _settings(tmp_path: Path, db_url: str, **kw: object) -> Settings:
    return Settings(data_root=tmp_path / "data", db_url=db_url, runner="local", start_services=True,
                    embedded_user="owner", **kw)


def test_jobs_queued_by_others_do_not_start_after_a_restart_with_the_local_runner(
    tmp_path: Path, db_url: str, plugin_bin: Path
) -> None:
    first = Backend(_settings(tmp_path, db_url, unsafe_unconfined_jobs_for_all_users=True))
    try:
        owner = first.principal("owner", is_admin=True)
        bob = first.principal("bob")
        for exe in ("dircopy", "testbox"):
            first.compute.register(owner, executable=str(plugin_bin / exe))
        root = first.compute.run(bob, "pl-dircopy", {"dir": "home/bob/uploads"})
        assert first.compute.c.wait_for(root["id"], timeout=60) == st.SUCCESS
        first.compute.stop()  # the server goes down before bob's next job starts
        # a job without library-path parameters: nothing but the owner check can stop it
        queued = first.compute.run(bob, "pl-testbox", {"text": "x"}, previous_id=root["id"])
        mine = first.compute.run(owner, "pl-dircopy", {"dir": "home/owner/uploads"})
        assert first.compute.c.get(queued["id"]).state == st.CREATED
    finally:
        first.close()

    again = Backend(_settings(tmp_path, db_url))  # the default: only the embedded user and admins
    try:
        c = again.compute.c
        assert c.wait_for(queued["id"], timeout=60) == st.ERROR
        assert "not served" in c.get(queued["id"]).error and "local" in c.get(queued["id"]).error
        assert c.wait_for(mine["id"], timeout=60) == st.SUCCESS, c.get(mine["id"]).error
        with pytest.raises(NotServed):
            again.principal("bob")
        with pytest.raises(NotServed):
            again.principal("carol")
        assert again.users.get("carol") is None  # refused before anything was created
    finally:
        again.close()
