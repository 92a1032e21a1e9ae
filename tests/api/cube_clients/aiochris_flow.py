"""The ChRIS flow with the real aiochris (run by tests/api/test_cube_api.py from its own venv).

usage: python aiochris_flow.py URL USERNAME PASSWORD LOCAL_FOLDER OUT_FOLDER [token]
With ``token``, PASSWORD is an API token (in hub mode a JupyterHub token): the client is made with
``ChrisClient.from_token``, and ``from_login`` is tried with the token as the password.
Prints one JSON object with what each step saw. Only aiochris's public API is used.
"""

import asyncio
import json
import sys
from pathlib import Path

from aiochris import ChrisClient, Search, acollect
from aiochris.errors import BadRequestError, IncorrectLoginError
from aiochris.models.logged_in import File


async def login(url: str, username: str, secret: str, token: bool, report: dict) -> ChrisClient:
    try:
        await ChrisClient.from_login(url=url, username=username, password=secret + "-wrong")
        report["wrong_password"] = "accepted"
    except IncorrectLoginError as e:
        report["wrong_password"] = str(e)
    if not token:
        return await ChrisClient.from_login(url=url, username=username, password=secret)
    try:
        await ChrisClient.from_token(url=url, token=secret + "-wrong")
        report["wrong_token"] = "accepted"
    except Exception as e:
        report["wrong_token"] = type(e).__name__
    async with await ChrisClient.from_login(url=url, username=username, password=secret) as by_login:
        report["token_as_password"] = (await by_login.user()).username
    return await ChrisClient.from_token(url=url, token=secret)


async def main(url: str, username: str, password: str, local: Path, out: Path, token: bool) -> dict:
    report: dict = {}
    chris = await login(url, username, password, token, report)
    async with chris:
        user = await chris.user()
        report["whoami"] = {"username": user.username, "id": user.id, "email": user.email}
        dircopy = await chris.search_plugins(name_exact="pl-dircopy").first()
        noop = await chris.search_plugins(name_exact="pl-noop").first()
        report["plugins"] = [dircopy.name, noop.name, dircopy.plugin_type.value, noop.plugin_type.value]
        report["dircopy_params"] = [(p.name, p.type) async for p in dircopy.get_parameters()]

        uploaded = []
        for f in sorted(local.rglob("*")):
            if f.is_file():
                up = await chris.upload_file(f, f"flow/{f.relative_to(local)}")
                uploaded.append(up.fname)
        report["uploaded"] = uploaded
        try:
            await chris.upload_file(next(local.rglob("*.txt")), "../../someone-else/uploads/x.txt")
            report["outside_upload"] = "accepted"
        except BadRequestError as e:
            report["outside_upload"] = [e.status, e.message]

        copy = await dircopy.create_instance(dir=f"{username}/uploads/flow", title="aiochris flow")
        report["copy_created"] = {"status": copy.status.value, "feed_id": copy.feed_id,
                                  "plugin_id": copy.plugin_id, "plugin_type": copy.plugin_type.value}
        _, copy = await copy.wait(timeout=300.0, interval=1.0)
        report["copy_done"] = {"status": copy.status.value, "output_path": copy.output_path}
        ds = await noop.create_instance(previous=copy, touch=True)
        _, ds = await ds.wait(timeout=300.0, interval=1.0)
        report["ds_done"] = {"status": ds.status.value, "previous_id": ds.previous_id,
                             "feed_id": ds.feed_id}

        files = await acollect(Search[File](base_url=copy.files, params={}, client=chris, Item=File,
                                            subpath=""))
        report["copy_files"] = sorted(f.fname for f in files)
        out.mkdir(parents=True, exist_ok=True)
        for f in files:
            async with chris.s.get(f.file_resource) as res:
                res.raise_for_status()
                (out / f.fname.rsplit("/", 1)[1]).write_bytes(await res.read())
        ds_files = await acollect(Search[File](base_url=ds.files, params={}, client=chris, Item=File,
                                               subpath=""))
        report["ds_files"] = [f.fname for f in ds_files]

        feed = await copy.get_feed()
        feed = await feed.set(name="renamed by aiochris")
        note = await feed.get_note()
        note = await note.set(content="a note from aiochris")
        feed_again = await chris.search_feeds(name="renamed by aiochris").first()
        report["feed"] = {"id": feed.id, "name": feed.name, "note": note.content,
                          "finished_jobs": feed_again.finished_jobs if feed_again else None}
        try:
            await chris.search_plugins(name_exact="pl-nothing-such").get_only()
            report["unknown_plugin"] = "found"
        except Exception as e:
            report["unknown_plugin"] = type(e).__name__
    return report


if __name__ == "__main__":
    url, username, password, local, out = sys.argv[1:6]
    token = sys.argv[6:7] == ["token"]
    print(json.dumps(asyncio.run(main(url, username, password, Path(local), Path(out), token)), default=str))
