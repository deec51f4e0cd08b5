"""Moving frozen time forward when some work may be waiting for simulated time itself.

hass.async_block_till_done() waits for every task; a request stuck behind a dropped frame waits
for a timeout that only moving the clock fires, so it would wait forever. settle() waits until
Home Assistant is idle or until a short real-time limit, whichever comes first: what is left then
is waiting for the clock.
"""

import asyncio
import contextlib
from datetime import timedelta
import threading
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import async_fire_time_changed

REAL_LIMIT_S = 0.25


async def settle(hass: HomeAssistant, real_limit_s: float = REAL_LIMIT_S) -> bool:
    """Run until idle (True) or until real_limit_s of real time passed (False)."""
    loop = asyncio.get_running_loop()
    idle: asyncio.Future[None] = asyncio.ensure_future(hass.async_block_till_done(wait_background_tasks=True))
    wake = threading.Event()
    idle.add_done_callback(lambda _: wake.set())
    timer: asyncio.Future[bool] = loop.run_in_executor(None, wake.wait, real_limit_s)
    waiting: list[asyncio.Future[Any]] = [idle, timer]
    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    finished = idle.done()
    if not finished:
        idle.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await idle
    wake.set()
    await timer
    return finished


async def advance(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float, *, step_s: float = 1.0
) -> None:
    """Move the clock forward in steps, firing timers and settling after each."""
    left = seconds
    while left > 1e-9:
        step = min(step_s, left)
        freezer.tick(timedelta(seconds=step))
        async_fire_time_changed(hass)
        await settle(hass)
        left -= step
