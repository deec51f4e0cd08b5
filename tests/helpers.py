"""Small test helpers."""

import asyncio

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er

from custom_components.battery_steward.const import DOMAIN

from .conftest import SERIAL


def entity_id(hass: HomeAssistant, platform: str, key: str, serial: str = SERIAL) -> str:
    """The entity id of one of our entities, found by its unique id."""
    found = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{serial}_{key}")
    assert found is not None, f"{platform} {key} not registered"
    return found


async def let_sockets_settle() -> None:
    """Give the event loop a few turns so sockets closed by a peer are noticed.

    hass.async_block_till_done() returns at once when no task is pending, before the selector has
    delivered the peer's FIN; under a frozen clock a request on that dead connection would wait
    for a timeout that never comes.
    """
    for _ in range(20):
        await asyncio.sleep(0)
