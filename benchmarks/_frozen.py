"""Simulated time for a benchmark, set up the way the test suite's `freezer` fixture has it.

pytest-homeassistant-custom-component makes Home Assistant's clocks patchable by freezegun (its
patch_time module must be imported before anything else of Home Assistant) and adapts freezegun
(its pytest_runtest_setup). This module does the same outside pytest; import it first.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from pytest_homeassistant_custom_component import patch_time  # isort: skip  (before Home Assistant)

import freezegun
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import async_fire_time_changed


def _adapt_freezegun() -> None:
    """freezegun as pytest-homeassistant-custom-component adapts it before every test."""
    api: Any = freezegun.api  # its module attributes are replaced, as the plugin does
    api.FakeDate = patch_time.HAFakeDate
    api.datetime_to_fakedatetime = patch_time.ha_datetime_to_fakedatetime
    api.FakeDatetime = patch_time.HAFakeDatetime
    api._get_module_attributes = patch_time.ha_get_module_attributes
    api._get_module_attributes_hash = patch_time.ha_get_module_attributes_hash
    api._should_use_real_time = patch_time.ha_should_use_real_time
    api.get_current_time = patch_time.ha_get_current_time


@contextmanager
def frozen(start: datetime) -> Iterator[FrozenDateTimeFactory]:
    """Freeze every clock (wall, monotonic, the event loop's) at start until the block ends."""
    _adapt_freezegun()
    with freezegun.freeze_time(start) as factory:
        assert isinstance(factory, FrozenDateTimeFactory)  # neither ticking nor stepping
        yield factory


async def tick(hass: HomeAssistant, clock: FrozenDateTimeFactory, seconds: float) -> None:
    """Move the clock on and run everything that became due (the tests' tick fixture)."""
    clock.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
