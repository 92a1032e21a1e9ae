"""``viewer/<name>``: the viewer's browser bundle for the JupyterLab extension's viewer tab."""

from __future__ import annotations

from chris_jupyter.utils.assets import STATIC, asset


async def test_viewer_bundle_served_with_its_type_and_etag(api) -> None:
    r = await api.owner.get("viewer/viewer.js")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.content == (STATIC / "viewer.js").read_bytes()
    again = await api.owner.get("viewer/viewer.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    css = await api.owner.get("viewer/viewer.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


async def test_viewer_assets_refuse_other_names_and_strangers(api) -> None:
    r = await api.owner.get("viewer/harness.py")
    assert r.status_code == 404
    assert "no such viewer asset" in r.json()["message"]
    assert (await api.anonymous.get("viewer/viewer.js")).status_code in (401, 403)


async def test_versioned_bundle_is_cached_and_another_version_refused(api) -> None:
    """The notebook widget's loader asks for its kernel's version: the same bytes may stay in the
    browser's cache; another version is a 404 (the loader then takes the kernel's copy)."""
    data, version = asset("viewer.js")
    r = await api.owner.get(f"viewer/viewer.js?v={version}")
    assert r.status_code == 200 and r.content == data
    assert "immutable" in r.headers["cache-control"]
    other = await api.owner.get("viewer/viewer.js?v=0123456789abcdef")
    assert other.status_code == 404
    assert version in other.json()["message"]
