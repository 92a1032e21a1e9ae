"""Async helpers: the one way handlers call blocking core code."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

# DB and disk calls of the core are short; a small dedicated pool keeps them off the event loop
# without competing with the default executor used by other extensions.
_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="chris-core")


async def run_blocking(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``func(*args, **kwargs)`` in the core thread pool and await its result."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_POOL, functools.partial(func, *args, **kwargs))
