"""Files over real HTTP: upload streaming, ranges, zip, move, delete, clear 4xx errors."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import zipfile

import httpx
import pytest

from chris_jupyter.testing import ChrisServer
from tests.fixtures.server import DATABASES


@pytest.fixture(scope="module", params=DATABASES)
def chris_server(request: pytest.FixtureRequest) -> ChrisServer:
    """This module runs against the shared SQLite server and a PostgreSQL-backed one."""
    return request.getfixturevalue(f"chris_server_{request.param}")


async def test_extension_loaded_and_me(api) -> None:
    r = await api.owner.get("me")
    assert r.json() == {"username": "owner", "is_admin": True, "groups": [], "auth": "jupyter"}


async def test_upload_download_range_zip(api) -> None:
    me, alice = await api.new_user("alice")
    data = os.urandom(3 * 1024 * 1024 + 17)
    final = api.server.data_dir / "library" / f"home/{me}/uploads/x/big.bin"
    tmp = api.server.data_dir / "tmp"
    seen: list[int] = []

    async def body():
        half = 2 * 1024 * 1024  # more than the store's write buffer, so some reaches the disk
        for i in range(0, half, 65536):
            yield data[i : i + 65536]
        # mid-body: the bytes so far sit in the store's tmp area; nothing at the final path yet
        for _ in range(100):
            partial = [p.stat().st_size for p in tmp.iterdir()]
            if partial and partial[0] > 0:
                break
            await asyncio.sleep(0.05)
        seen.extend(partial)
        assert not final.exists()
        for i in range(half, len(data), 65536):
            yield data[i : i + 65536]

    r = await alice.put("files/content", params={"path": f"home/{me}/uploads/x/big.bin"}, content=body(),
                        headers={"Content-Length": str(len(data))})
    assert r.status_code == 201, r.text
    assert r.json()["size"] == len(data)
    assert len(seen) == 1 and 0 < seen[0] <= 2 * 1024 * 1024, seen  # one partial file in tmp/
    assert not any(tmp.iterdir()) and final.read_bytes() == data  # renamed into place
    r = await alice.get("files/content", params={"path": f"home/{me}/uploads/x/big.bin"})
    assert r.content == data and r.headers["content-type"] == "application/octet-stream"
    r = await alice.head("files/content", params={"path": f"home/{me}/uploads/x/big.bin"})
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-length"] == str(len(data))
    r = await alice.get("files/content", params={"path": f"home/{me}/uploads/x/big.bin"},
                        headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == data[100:200]
    assert r.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    r = await alice.get("files/content", params={"path": f"home/{me}/uploads/x/big.bin"},
                        headers={"Range": "bytes=-10"})
    assert r.content == data[-10:]
    r = await alice.get("files/content", params={"path": f"home/{me}/uploads/x/big.bin"},
                        headers={"Range": f"bytes={len(data)}-"})
    assert r.status_code == 416
    r = await alice.get("files/zip", params={"path": f"home/{me}/uploads/x"})
    assert r.status_code == 200
    assert zipfile.ZipFile(io.BytesIO(r.content)).read("x/big.bin") == data


async def test_listing_move_delete_and_errors(api) -> None:
    me, alice = await api.new_user("alice")
    for i in range(5):
        r = await alice.put("files/content", params={"path": f"home/{me}/uploads/d/f{i}"}, content=b"z")
        assert r.status_code == 201
    r = await alice.get("files", params={"path": f"home/{me}/uploads/d", "limit": 2, "offset": 2})
    body = r.json()
    assert body["total"] == 5 and [e["name"] for e in body["items"]] == ["f2", "f3"]
    r = await alice.post("files/move", json={"src": f"home/{me}/uploads/d", "dst": f"home/{me}/uploads/e"})
    assert r.status_code == 200 and r.json()["path"] == f"home/{me}/uploads/e"
    r = await alice.post("files/folders", json={"path": f"home/{me}/uploads/new/deep"})
    assert r.status_code == 201
    r = await alice.delete("files", params={"path": f"home/{me}/uploads/e"})
    assert r.status_code == 204
    assert (await alice.get("files/stat", params={"path": f"home/{me}/uploads/e"})).status_code == 404
    # clear 4xx for bad input, with a message
    for params, code, word in [
        ({"path": "../etc"}, 400, "'..'"),
        ({"path": "/etc"}, 400, "absolute"),
        ({"path": f"home/{me}/uploads", "limit": "x"}, 400, "whole number"),
        ({"path": f"home/{me}/uploads", "limit": "5000"}, 400, "between"),
    ]:
        r = await alice.get("files", params=params)
        assert r.status_code == code and word in r.json()["message"], r.text
    r = await alice.put("files/content", params={"path": f"home/{me}/uploads/new/deep"}, content=b"x")
    assert r.status_code == 409
    r = await alice.post("files/move", content=b"{not json")
    assert r.status_code == 400 and "JSON" in r.json()["message"]


async def test_disconnect_mid_upload_leaves_nothing(api) -> None:
    me, alice = await api.new_user("alice")
    lib = api.server.data_dir / "library"
    tmp = api.server.data_dir / "tmp"

    async def body():
        yield b"a" * 100000
        raise RuntimeError("client dies")

    with contextlib.suppress(RuntimeError, httpx.HTTPError):
        await alice.put("files/content", params={"path": f"home/{me}/uploads/half.bin"}, content=body(),
                        headers={"Content-Length": "10000000"})
    for _ in range(50):
        if not any(tmp.iterdir()):
            break
        await asyncio.sleep(0.1)
    assert not any(tmp.iterdir())
    assert not (lib / f"home/{me}/uploads/half.bin").exists()
    r = await alice.get("files/stat", params={"path": f"home/{me}/uploads/half.bin"})
    assert r.status_code == 404


async def test_openapi_lists_every_route(api) -> None:
    from chris_jupyter.api import all_handlers

    doc = (await api.owner.get("openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    import re

    for pattern, _cls in all_handlers():
        route = "/" + pattern.split("chris/api/v1/", 1)[1]
        route = re.sub(r"\(\\d\+\)", "{id}", route)
        route = re.sub(r"\(chrislink_[^)]*\)", "{token}", route)
        route = route.replace("([0-9.]+)", "{uid}").replace("(.+)", "{id}").replace(r"([\w.\-]+)", "{name}")
        assert route in doc["paths"], route


async def test_move_and_delete_treat_underscore_and_percent_literally(api) -> None:
    """``_`` and ``%`` are SQL LIKE wildcards: a folder named with them must not take its look-alike
    siblings along (``a_b`` vs ``axb``, ``50%`` vs ``50%x``/``500``) when it is moved or deleted."""
    me, alice = await api.new_user("alice")
    up = f"home/{me}/uploads"
    names = ["a_b/one", "axb/two", "50%/three", "50%x/four", "500/five", "a_b_c/six"]
    for n in names:
        assert (await alice.put("files/content", params={"path": f"{up}/{n}"}, content=n.encode())).status_code == 201

    async def tree() -> list[str]:
        r = await alice.get("search/files", params={"under": up, "limit": 100})
        assert r.status_code == 200, r.text
        return sorted(e["path"].removeprefix(up + "/") for e in r.json()["items"])

    r = await alice.post("files/move", json={"src": f"{up}/a_b", "dst": f"{up}/moved_1"})
    assert r.status_code == 200, r.text
    r = await alice.post("files/move", json={"src": f"{up}/50%", "dst": f"{up}/moved%2"})
    assert r.status_code == 200, r.text
    assert await tree() == sorted(["moved_1/one", "axb/two", "moved%2/three", "50%x/four", "500/five", "a_b_c/six"])
    for n, want in [("moved%2/three", b"50%/three"), ("axb/two", b"axb/two"), ("50%x/four", b"50%x/four")]:
        assert (await alice.get("files/content", params={"path": f"{up}/{n}"})).content == want
    assert (await alice.delete("files", params={"path": f"{up}/moved_1"})).status_code == 204
    assert (await alice.delete("files", params={"path": f"{up}/moved%2"})).status_code == 204
    assert await tree() == sorted(["axb/two", "50%x/four", "500/five", "a_b_c/six"])
    for n in ["axb/two", "50%x/four", "500/five", "a_b_c/six"]:
        assert (await alice.get("files/content", params={"path": f"{up}/{n}"})).status_code == 200


async def test_max_upload_size_refuses_larger_uploads_and_leaves_nothing(small_upload_server) -> None:
    srv = small_upload_server
    async with httpx.AsyncClient(base_url=srv.api, headers=srv.headers, timeout=60) as owner:
        path = "home/owner/uploads/limit"
        r = await owner.put("files/content", params={"path": f"{path}/exact.bin"}, content=b"x" * 1000)
        assert r.status_code == 201, r.text
        r = await owner.put("files/content", params={"path": f"{path}/big.bin"}, content=b"x" * 1001)
        assert r.status_code == 413 and "exceeds the limit of 1000 bytes" in r.json()["message"], r.text

        async def chunks():  # no Content-Length: the limit applies to what arrives
            for _ in range(4):
                yield b"y" * 500

        with contextlib.suppress(httpx.TransportError):  # the server may close the connection early
            r = await owner.put("files/content", params={"path": f"{path}/chunked.bin"}, content=chunks())
            assert r.status_code in (400, 413), r.text
        names = [e["name"] for e in (await owner.get("files", params={"path": path})).json()["items"]]
        assert names == ["exact.bin"]
        assert list((srv.data_dir / "tmp").iterdir()) == []  # refused bodies were not kept
