"""Per-group images and limits of user servers, in JupyterHub's own ``Spawner.group_overrides`` form.

A deployer writes ``CHRIS_HUB_GROUP_LIMITS='{"radiology": {"cpu_limit": 4, "mem_limit": "16G"}}'``;
:func:`group_overrides` turns it into the hub's format (``{key: {"groups": [...],
"spawner_override": {...}}}``, applied in sorted key order, later keys winning) so that for each
setting the first listed group a user belongs to wins.
"""

from __future__ import annotations

from typing import Any

OVERRIDABLE = ("image", "cpu_limit", "mem_limit")


class GroupLimitsError(ValueError):
    """The per-group settings are not what the hub can apply."""


def group_overrides(limits: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{group: {image?, cpu_limit?, mem_limit?}}`` → ``c.Spawner.group_overrides``."""
    if not isinstance(limits, dict):
        raise GroupLimitsError("CHRIS_HUB_GROUP_LIMITS must be a JSON object {group: {setting: value}}")
    out: dict[str, dict[str, Any]] = {}
    n = len(limits)
    for i, (group, over) in enumerate(limits.items()):
        if not isinstance(over, dict):
            raise GroupLimitsError(f"CHRIS_HUB_GROUP_LIMITS[{group!r}] must be an object of {', '.join(OVERRIDABLE)}")
        unknown = sorted(set(over) - set(OVERRIDABLE))
        if unknown:
            raise GroupLimitsError(f"CHRIS_HUB_GROUP_LIMITS[{group!r}]: unknown settings {unknown}; "
                                   f"allowed: {', '.join(OVERRIDABLE)}")
        if "cpu_limit" in over:
            over = {**over, "cpu_limit": float(over["cpu_limit"])}
        # the first listed group is applied last, so it wins
        out[f"chris-{n - i:04d}-{group}"] = {"groups": [group], "spawner_override": dict(over)}
    return out
