"""The spawner's rules that need no hub: per-group limits, and no Docker socket in any mount."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from chris_jupyter.hub.limits import GroupLimitsError, group_overrides


def test_group_limits_become_the_hubs_group_overrides_first_group_wins() -> None:
    got = group_overrides({"radiology": {"cpu_limit": 4, "mem_limit": "16G"}, "students": {"cpu_limit": "1"}})
    # the hub applies keys in sorted order, later ones winning: the first listed group sorts last
    ordered = [got[k] for k in sorted(got)]
    assert ordered == [{"groups": ["students"], "spawner_override": {"cpu_limit": 1.0}},
                       {"groups": ["radiology"], "spawner_override": {"cpu_limit": 4.0, "mem_limit": "16G"}}]


@pytest.mark.parametrize("bad", [[], {"g": "4G"}, {"g": {"memory": "4G"}}, {"g": {"cmd": ["sh"]}}])
def test_bad_group_limits_are_clear_errors(bad) -> None:
    with pytest.raises(GroupLimitsError, match="CHRIS_HUB_GROUP_LIMITS"):
        group_overrides(bad)


@pytest.mark.parametrize("volumes", [{"/var/run/docker.sock": "/var/run/docker.sock"}, {"/var/run": "/host-run"},
                                     {"/run": "/r"}, {"/": "/host"}])
def test_the_spawner_refuses_to_mount_the_docker_socket(volumes) -> None:
    pytest.importorskip("dockerspawner")
    from chris_jupyter.hub.spawner import ChrisDockerSpawner, SpawnError

    spawner = ChrisDockerSpawner(volumes=volumes)
    spawner.user = SimpleNamespace(name="mallory", groups=[])  # the check reads only the user's name
    with pytest.raises(SpawnError, match="Docker socket"):
        spawner._check_no_docker_access({})
    with pytest.raises(SpawnError, match="DOCKER_HOST"):
        ChrisDockerSpawner()._check_no_docker_access({"DOCKER_HOST": "tcp://127.0.0.1:2375"})


def test_a_harmless_mount_passes() -> None:
    pytest.importorskip("dockerspawner")
    from chris_jupyter.hub.spawner import ChrisDockerSpawner

    spawner = ChrisDockerSpawner(volumes={"/srv/data/{username}": "/data"})
    spawner.user = SimpleNamespace(name="mallory", groups=[])
    spawner._check_no_docker_access({"CHRIS_HUB_SERVICE_URL": "http://127.0.0.1/services/chris/"})
