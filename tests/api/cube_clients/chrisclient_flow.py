"""The ChRIS flow with the real python-chrisclient (run by tests/api/test_cube_api.py from its
own venv). It speaks Collection+JSON, CUBE 6 paths (home/<user>/…) and sends HTTP Basic on
every request.

usage: python chrisclient_flow.py URL USERNAME PASSWORD LOCAL_FOLDER OUT_FOLDER [token]
With ``token``, PASSWORD is an API token (in hub mode a JupyterHub token): the client is made with
``Client(url, token=…)`` and sends ``Authorization: Token …`` instead of HTTP Basic.
"""

import json
import sys
import time
from pathlib import Path

import requests
from chrisclient.client import Client
from chrisclient.exceptions import ChrisRequestException
from chrisclient.request import Request


def main(url: str, username: str, password: str, local: Path, out: Path, by_token: bool) -> dict:
    report: dict = {}
    try:
        Client(url, username, password + "-wrong").get_user()
        report["wrong_password"] = "accepted"
    except ChrisRequestException as e:
        report["wrong_password"] = str(e)
    token = Client.get_auth_token(url + "auth-token/", username, password)
    report["token_prefix"] = token[:6]
    report["token_is_password"] = token == password
    if by_token:
        try:
            Client(url, token=password + "-wrong").get_user()
            report["wrong_token"] = "accepted"
        except ChrisRequestException as e:
            report["wrong_token"] = str(e)
        cl = Client(url, token=password)
        auth = {"token": password}
        http_auth: dict = {"headers": {"Authorization": f"Token {password}"}}
    else:
        cl = Client(url, username, password)
        auth = {"username": username, "password": password}
        http_auth = {"auth": (username, password)}
    report["whoami"] = cl.get_user()["username"]
    dircopy = cl.get_plugins({"name_exact": "pl-dircopy"})["data"][0]
    noop = cl.get_plugins({"name_exact": "pl-noop"})["data"][0]
    report["plugins"] = [dircopy["name"], dircopy["type"], noop["name"], noop["type"]]
    report["dircopy_params"] = [(p["name"], p["type"])
                                for p in cl.get_plugin_parameters(dircopy["id"])["data"]]

    uploaded = []
    for f in sorted(local.rglob("*")):
        if f.is_file():
            up = cl.upload_file(f"home/{username}/uploads/pcc/{f.relative_to(local)}", str(f))
            uploaded.append(up["fname"])
    report["uploaded"] = uploaded
    try:
        cl.upload_file("home/someone-else/uploads/x.txt", str(next(local.rglob("*.txt"))))
        report["outside_upload"] = "accepted"
    except ChrisRequestException as e:
        report["outside_upload"] = str(e)
    try:
        cl.create_plugin_instance(dircopy["id"], {"dir": "home/someone-else/uploads"})
        report["outside_dir"] = "accepted"
    except ChrisRequestException as e:
        report["outside_dir"] = str(e)

    copy = cl.create_plugin_instance(dircopy["id"], {"dir": f"home/{username}/uploads/pcc",
                                                     "title": "chrisclient flow"})
    report["copy_created"] = {k: copy[k] for k in ("status", "feed_id", "plugin_id", "plugin_type")}
    ds = cl.create_plugin_instance(noop["id"], {"previous_id": copy["id"], "touch": True})
    final = ("finishedSuccessfully", "finishedWithError", "cancelled")
    deadline = time.monotonic() + 300
    while (ds := cl.get_plugin_instance_by_id(ds["id"]))["status"] not in final and time.monotonic() < deadline:
        time.sleep(1)
    copy = cl.get_plugin_instance_by_id(copy["id"])
    report["copy_done"] = {"status": copy["status"], "output_path": copy["output_path"]}
    report["ds_done"] = {"status": ds["status"], "previous_id": ds["previous_id"]}

    files = cl.get_user_files({"fname": copy["output_path"], "limit": 100})
    report["copy_files"] = sorted(f["fname"] for f in files["data"])
    # python-chrisclient has no download call: follow each item's file_resource link
    req = Request(auth)
    coll = req.get(cl.user_files_url + "search/", {"fname": copy["output_path"], "limit": 100})
    out.mkdir(parents=True, exist_ok=True)
    for item in coll.items:
        href = Request.get_link_relation_urls(item, "file_resource")[0]
        r = requests.get(href, timeout=60, **http_auth)
        r.raise_for_status()
        (out / href.rsplit("/", 1)[1]).write_bytes(r.content)
    report["ds_files"] = [f["fname"] for f in cl.get_user_files({"fname": ds["output_path"]})["data"]]

    feed_coll = req.get(url + "search/", {"id": copy["feed_id"]})
    feed_url = feed_coll.items[0].href
    req.put(feed_url, {"name": "renamed by chrisclient"})
    note_url = Request.get_link_relation_urls(feed_coll.items[0], "note")[0]
    req.put(note_url, {"content": "a note from chrisclient"})
    feed = cl.get_feed_by_id(copy["feed_id"])
    note = Request.get_item_descriptors(req.get(note_url).items[0])
    report["feed"] = {"name": feed["name"], "note": note["content"], "finished_jobs": feed["finished_jobs"]}
    report["unknown_plugin"] = cl.get_plugins({"name_exact": "pl-nothing-such"})["total"]
    return report


if __name__ == "__main__":
    url, username, password, local, out = sys.argv[1:6]
    by_token = sys.argv[6:7] == ["token"]
    print(json.dumps(main(url, username, password, Path(local), Path(out), by_token), default=str))
