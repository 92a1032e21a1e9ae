"""Pipeline sources: YAML and JSON forms, one root, acyclic, ts edges."""

from __future__ import annotations

import json

import pytest

from chris_jupyter.compute.pipelines import PipelineError, PipelineStore, parse_pipeline

YAML = """
name: Convert and preview
authors: Team <team@example.org>
category: Imaging
plugin_tree:
  - title: convert
    plugin: pl-dcm2nifti v1.0.0
    previous: null
  - title: preview
    plugin: pl-dcm2png v1.0.0
    previous: convert
    plugin_parameter_defaults:
      every: 2
    memory_limit: 512Mi
  - title: join
    plugin: pl-topo v1.0
    previous: preview
    plugin_parameter_defaults:
      plugininstances: convert,preview
"""


def test_yaml_form():
    spec = parse_pipeline(YAML)
    assert spec.name == "Convert and preview" and spec.root.title == "convert"
    assert [p.title for p in spec.pipings] == ["convert", "preview", "join"]
    prev = spec.pipings[1]
    assert (prev.plugin_name, prev.plugin_version, prev.previous) == ("pl-dcm2png", "1.0.0", "convert")
    assert prev.params == {"every": 2} and prev.resources == {"memory_limit": "512Mi"}
    assert spec.pipings[2].joins == ["convert"]  # previous is not repeated


def test_json_rest_form_with_indices_and_string_tree():
    tree = [
        {"title": "b", "plugin_name": "pl-b", "plugin_version": "1.0", "previous_index": 1,
         "plugin_parameter_defaults": [{"name": "x", "default": 3}]},
        {"title": "a", "plugin_name": "pl-a", "plugin_version": "2.0", "previous_index": None},
    ]
    spec = parse_pipeline(json.dumps({"name": "p", "plugin_tree": json.dumps(tree)}))
    assert [p.title for p in spec.pipings] == ["a", "b"]  # parents first
    assert spec.pipings[1].params == {"x": 3} and spec.pipings[1].previous == "a"


@pytest.mark.parametrize("tree, message", [
    ([], "non-empty list"),
    ([{"title": "a", "plugin": "pl-a v1", "previous": None},
      {"title": "b", "plugin": "pl-b v1", "previous": None}], "exactly one root"),
    ([{"title": "a", "plugin": "pl-a v1", "previous": "b"},
      {"title": "b", "plugin": "pl-b v1", "previous": "a"}], "exactly one root"),
    ([{"title": "a", "plugin": "pl-a v1", "previous": None},
      {"title": "a", "plugin": "pl-b v1", "previous": "a"}], "repeated: a"),
    ([{"title": "a", "plugin": "pl-a v1", "previous": None},
      {"title": "b", "plugin": "pl-b v1", "previous": "zz"}], "no piping titled 'zz'"),
    ([{"title": "a", "plugin": "pl-a", "previous": None}], "name vVERSION"),
    ([{"title": "r", "plugin": "pl-r v1", "previous": None},
      {"title": "a", "plugin": "pl-a v1", "previous": "r",
       "plugin_parameter_defaults": {"plugininstances": "b"}},
      {"title": "b", "plugin": "pl-b v1", "previous": "a"}], "cycle: "),
])
def test_invalid(tree, message):
    with pytest.raises(PipelineError, match=message):
        parse_pipeline({"name": "p", "plugin_tree": tree})


def test_cycle_message_names_the_titles():
    tree = [{"title": "r", "plugin": "pl-r v1", "previous": None},
            {"title": "a", "plugin": "pl-a v1", "previous": "r",
             "plugin_parameter_defaults": {"plugininstances": "b"}},
            {"title": "b", "plugin": "pl-b v1", "previous": "a"}]
    with pytest.raises(PipelineError) as err:
        parse_pipeline({"name": "p", "plugin_tree": tree})
    assert "a -> b -> a" in str(err.value) or "b -> a -> b" in str(err.value)


def test_store(cdb):
    store = PipelineStore(cdb)
    row = store.save("alice", YAML)
    assert store.get(row.id).pipings[0]["title"] == "convert"
    with pytest.raises(PipelineError, match="already have"):
        store.save("alice", YAML)
    assert [p.name for p in store.list("alice")] == ["Convert and preview"]
    store.delete(row.id)
    assert store.list("alice") == []
