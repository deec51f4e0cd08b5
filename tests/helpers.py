"""Small test helpers."""

import asyncio
from collections.abc import Iterable
from datetime import datetime
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, cast

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigFlowResult, ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.battery_steward.config_flow import SECTIONS
from custom_components.battery_steward.const import (
    CONF_CAPACITY_KWH,
    CONF_KIND,
    CONF_SERIAL,
    DOMAIN,
    KIND_SIMULATOR,
)
from custom_components.battery_steward.controller import BatteryController
from custom_components.battery_steward.default_item import MINOR_VERSION_WITH_DEFAULT
from custom_components.battery_steward.schedule import SUBENTRY_ITEM

from .conftest import SERIAL
from .support.simclock import settle

# How set-up waits once the entry has loaded: until Home Assistant is idle, idle with background
# tasks done too, or settled (idle or a short real-time limit, for work waiting on frozen time).
type Wait = Literal["idle", "background", "settle"]

EVERY_DAY = [0, 1, 2, 3, 4, 5, 6]


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


async def freeze_at(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, when: datetime, zone: str | None = None
) -> None:
    """Home Assistant's time zone is `zone` (by default `when`'s own) and the frozen clock reads `when`."""
    await hass.config.async_set_time_zone(zone or str(when.tzinfo))
    freezer.move_to(when)


async def move_to(hass: HomeAssistant, freezer: FrozenDateTimeFactory, when: datetime) -> None:
    """Move the frozen clock to `when`, fire the timers due and wait for all the work, background too."""
    freezer.move_to(when)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


def item(data: dict[str, Any]) -> ConfigSubentryData:
    """A schedule item as a config subentry."""
    return ConfigSubentryData(data=data, subentry_type=SUBENTRY_ITEM, title=data["name"], unique_id=None)


def window_item(
    name: str,
    start: str,
    end: str,
    *,
    tz: str = "Europe/Paris",
    weekdays: list[int] = EVERY_DAY,
    **setpoints: Any,
) -> dict[str, Any]:
    """A window schedule item: the setpoints hold from start to end (wall-clock times in tz)."""
    return {
        "type": "window",
        "name": name,
        "weekdays": list(weekdays),
        "start": start,
        "end": end,
        "tz": tz,
        "setpoints": setpoints,
    }


def cron_item(name: str, cron: str, *, tz: str = "Europe/Paris", **setpoints: Any) -> dict[str, Any]:
    """A cron schedule item: the setpoints from each instant the cron expression names (in tz)."""
    return {"type": "cron", "name": name, "cron": cron, "tz": tz, "setpoints": setpoints}


def simulator_data(serial: str, capacity_kwh: float = 10.0) -> dict[str, Any]:
    """Config entry data for a built-in simulated battery."""
    return {CONF_KIND: KIND_SIMULATOR, CONF_SERIAL: serial, CONF_CAPACITY_KWH: capacity_kwh}


async def load(hass: HomeAssistant, entry: MockConfigEntry, *, wait: Wait = "idle") -> MockConfigEntry:
    """Add the entry to Home Assistant, set it up (it must load) and wait as told."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    if wait == "settle":
        await settle(hass)
    else:
        await hass.async_block_till_done(wait_background_tasks=wait == "background")
    return entry


async def setup_entry(
    hass: HomeAssistant,
    data: dict[str, Any],
    *,
    title: str = "Battery",
    unique_id: str = SERIAL,
    options: dict[str, Any] | None = None,
    items: Iterable[dict[str, Any]] = (),
    wait: Wait = "idle",
    minor_version: int = MINOR_VERSION_WITH_DEFAULT,
) -> MockConfigEntry:
    """A config entry of ours with these data, options and schedule items, set up (see `load`).

    By default its items are exactly `items` (it is past the set-up that gives a battery its
    default item); minor_version 1 is a battery from before default items, 2 a new one.
    """
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=title,
        unique_id=unique_id,
        data=data,
        options=options,
        subentries_data=[item(d) for d in items],
        minor_version=minor_version,
    )
    return await load(hass, entry, wait=wait)


def controller(entry: MockConfigEntry) -> BatteryController:
    """The entry's controller."""
    return entry.runtime_data.controller  # type: ignore[no-any-return]


def device_id(hass: HomeAssistant, entry: MockConfigEntry, serial: str = SERIAL) -> str:
    """The device registry id of the entry's battery."""
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, serial), entry.entry_id)
    assert device is not None
    return device.id


async def add_cron_item(hass: HomeAssistant, device: str) -> list[str]:
    """Add a cron item (reserve 30 % at 03:00) through the add_item action; the new items' ids."""
    created = await hass.services.async_call(
        DOMAIN,
        "add_item",
        {"device_id": device, "type": "cron", "cron": "0 3 * * *", "reserve_pct": 30},
        blocking=True,
        return_response=True,
    )
    assert created is not None
    return [str(answer["item_id"]) for answer in cast(dict[str, Any], created).values()]


def settings_input(options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Flat options as the Configure → Settings form sends them: one dict per form section."""
    return {name: {k: v for k, v in options.items() if k in keys} for name, keys in SECTIONS.items()}


async def options_step(
    hass: HomeAssistant, entry_id: str, step: Literal["settings", "api"]
) -> ConfigFlowResult:
    """Open Configure and choose settings or the schedule API from its menu."""
    result = await hass.config_entries.options.async_init(entry_id)
    assert result["step_id"] == "init"
    assert result["menu_options"] == ["settings", "api"]
    return await hass.config_entries.options.async_configure(result["flow_id"], {"next_step_id": step})


async def confirm_switching(hass: HomeAssistant, serial: str = SERIAL) -> None:
    """Turn on Confirm switching: the next schedule source or transport change from a select goes ahead."""
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": entity_id(hass, "switch", "switch_confirm", serial)}, blocking=True
    )


def develop_bootstrap() -> ModuleType:
    """scripts/develop_bootstrap.py as a module (what scripts/develop runs to prepare config/)."""
    path = Path(__file__).parent.parent / "scripts" / "develop_bootstrap.py"
    spec = importlib.util.spec_from_file_location("develop_bootstrap", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
