"""Items you can follow: pause without deleting, next start, last run and result, one switch each."""

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import ATTR_ENTITY_ID, SERVICE_TURN_OFF, SERVICE_TURN_ON, STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError, Unauthorized
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.device.simulator import SimulatedBattery
from custom_components.battery_steward.engine.journal import Trigger

from .conftest import SERIAL, modbus_data
from .helpers import (
    controller,
    device_id,
    freeze_at,
    let_sockets_settle,
    move_to,
    setup_entry,
    window_item,
)
from .test_reliability_security import _non_admin

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 6, 15, 17, 0, tzinfo=PARIS)  # a Monday
DEFAULT = {"type": "default", "name": "Default", "setpoints": {"mode": "auto", "reserve_pct": 25}}
EVENING = window_item("Evening", "18:00", "19:00", reserve_pct=70)
ONCE = {
    "type": "one_off",
    "name": "Once",
    "at": (START + timedelta(minutes=30)).isoformat(),
    "setpoints": {"power_w": 0},
}


async def call(hass: HomeAssistant, name: str, data: dict[str, Any], response: bool = False) -> Any:
    return await hass.services.async_call(DOMAIN, name, data, blocking=True, return_response=response)


type Battery = Callable[..., Awaitable[MockConfigEntry]]


@pytest.fixture
async def battery(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery
) -> AsyncIterator[Battery]:
    """Set up batteries on the simulator at START (with items, options); unloaded at the end."""
    await freeze_at(hass, freezer, START)
    entries: list[MockConfigEntry] = []

    async def make(**kwargs: Any) -> MockConfigEntry:
        entry = await setup_entry(hass, modbus_data(simulator.port), wait="background", **kwargs)
        entries.append(entry)
        return entry

    yield make
    for entry in entries:
        await hass.config_entries.async_unload(entry.entry_id)
    await let_sockets_settle()


MORNING = {"type": "cron", "name": "Morning", "cron": "0 6 * * *", "mode": "auto"}


def iso(at: datetime) -> str:
    """How the attributes and list_items give an instant: ISO 8601 in UTC."""
    return at.astimezone(UTC).isoformat()


def switch_of(hass: HomeAssistant, subentry_id: str) -> str:
    found = er.async_get(hass).async_get_entity_id("switch", DOMAIN, f"{SERIAL}_item_{subentry_id}")
    assert found is not None
    return found


def ids_by_name(entry: Any) -> dict[str, str]:
    return {sub.title: sid for sid, sub in entry.subentries.items()}


async def test_each_item_has_a_switch_that_pauses_it(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery, battery: Battery
) -> None:
    entry = await battery(items=[DEFAULT, EVENING, ONCE])
    ids = ids_by_name(entry)
    registry = er.async_get(hass)
    for title, subentry_id in ids.items():
        entity = registry.async_get(switch_of(hass, subentry_id))
        assert entity is not None
        assert entity.config_subentry_id == subentry_id, title
    evening = hass.states.get(switch_of(hass, ids["Evening"]))
    assert evening is not None
    assert evening.state == STATE_ON
    assert evening.name == "Evening"
    assert evening.attributes["item_type"] == "window"
    assert evening.attributes["next_start"] == iso(START + timedelta(hours=1))
    # Yesterday's evening ran before this battery was set up: nothing in the journal served it.
    assert evening.attributes["last_run"] == iso(START + timedelta(hours=1, days=-1))
    assert evening.attributes["last_result"] is None

    await move_to(hass, freezer, START + timedelta(hours=1, minutes=1))
    assert simulator.read_register("reserve_pct") == 70
    # The run's record names the item whose value it wrote.
    written = [r for r in controller(entry).journal.query() if r.fields]
    # (The one-off's 0 W, due at 18:30 and caught up in the same pass, is written with it: 0 W is
    # 0 W, and the simulator starts at its full rate.)
    assert written[-1].items == {"reserve_pct": ids["Evening"], "power_w": ids["Once"]}
    evening = hass.states.get(switch_of(hass, ids["Evening"]))
    assert evening is not None
    assert evening.attributes["last_run"] == iso(START + timedelta(hours=1))
    assert evening.attributes["last_result"] == "success"
    assert evening.attributes["next_start"] == iso(START + timedelta(hours=1, days=1))
    once = hass.states.get(switch_of(hass, ids["Once"]))
    assert once is not None
    assert (once.attributes["last_run"], once.attributes["last_result"], once.attributes["next_start"]) == (
        iso(START + timedelta(minutes=30)),
        "success",
        None,
    )

    # Paused: kept, but plans nothing; the reserve returns to the default.
    await hass.services.async_call(
        "switch", SERVICE_TURN_OFF, {ATTR_ENTITY_ID: switch_of(hass, ids["Evening"])}, blocking=True
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.subentries[ids["Evening"]].data["enabled"] is False
    assert simulator.read_register("reserve_pct") == 25
    paused = hass.states.get(switch_of(hass, ids["Evening"]))
    assert paused is not None
    assert (paused.state, paused.attributes["next_start"]) == (STATE_OFF, None)
    await hass.services.async_call(
        "switch", SERVICE_TURN_ON, {ATTR_ENTITY_ID: switch_of(hass, ids["Evening"])}, blocking=True
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert simulator.read_register("reserve_pct") == 70


async def test_switches_come_and_go_with_their_items(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery, battery: Battery
) -> None:
    entry = await battery(items=[DEFAULT])
    device = device_id(hass, entry)
    added = await call(hass, "add_item", {"device_id": device, **MORNING}, response=True)
    await hass.async_block_till_done()
    item_id = added[entry.title]["item_id"]
    morning = switch_of(hass, item_id)
    assert hass.states.get(morning) is not None
    # Renaming the item renames its device, and so its switch.
    await call(hass, "update_item", {"item_id": item_id, "name": "Early"})
    await hass.async_block_till_done()
    renamed = hass.states.get(morning)
    assert renamed is not None
    assert renamed.name == "Early"
    await call(hass, "remove_item", {"item_id": item_id})
    await hass.async_block_till_done()
    assert hass.states.get(morning) is None
    assert er.async_get(hass).async_get(morning) is None


async def test_list_items_filters_and_gets_one(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery, battery: Battery
) -> None:
    paused = {**EVENING, "name": "Paused", "enabled": False, "start": "20:00", "end": "21:00"}
    entry = await battery(items=[DEFAULT, EVENING, paused])
    device = device_id(hass, entry)
    ids = ids_by_name(entry)

    def names(response: dict[str, Any]) -> list[str]:
        return [item["name"] for item in response[entry.title]["items"]]

    everything = await call(hass, "list_items", {"device_id": device}, response=True)
    assert names(everything) == ["Default", "Evening", "Paused"]
    evening = everything[entry.title]["items"][1]
    assert (evening["enabled"], evening["next_start"], evening["last_result"]) == (
        True,
        iso(START + timedelta(hours=1)),
        None,
    )
    windows = await call(hass, "list_items", {"device_id": device, "type": ["window"]}, response=True)
    assert names(windows) == ["Evening", "Paused"]
    enabled = await call(hass, "list_items", {"device_id": device, "enabled": True}, response=True)
    assert names(enabled) == ["Default", "Evening"]
    off = await call(hass, "list_items", {"device_id": device, "enabled": False}, response=True)
    assert names(off) == ["Paused"]
    assert off[entry.title]["items"][0]["next_start"] is None  # a paused item plans nothing
    one = await call(hass, "list_items", {"item_id": ids["Evening"]}, response=True)
    assert names(one) == ["Evening"]
    assert one[entry.title]["items"][0]["id"] == ids["Evening"]
    with pytest.raises(ServiceValidationError) as unknown:
        await call(hass, "list_items", {"item_id": "nope"}, response=True)
    assert unknown.value.translation_key == "unknown_item"


async def test_remove_item_named_twice_is_refused_translated(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery, battery: Battery
) -> None:
    """It used to remove the item, then fail with an empty, untranslated UnknownSubEntry."""
    entry = await battery(items=[EVENING])
    (item_id,) = entry.subentries
    with pytest.raises(ServiceValidationError) as twice:
        await call(hass, "remove_item", {"item_id": [item_id, item_id]})
    assert (twice.value.translation_key, twice.value.translation_placeholders) == (
        "item_repeated",
        {"item_id": item_id},
    )
    assert str(twice.value).startswith(f"The schedule item {item_id} is named more than once")
    assert item_id in entry.subentries  # nothing removed
    await call(hass, "remove_item", {"item_id": item_id})
    with pytest.raises(ServiceValidationError) as again:
        await call(hass, "remove_item", {"item_id": item_id})
    assert again.value.translation_key == "unknown_item"


async def test_run_item_applies_it_now_until_its_own_end(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery, battery: Battery
) -> None:
    late = window_item("Late", "20:00", "20:30", reserve_pct=70)
    cron = {
        "type": "cron",
        "name": "Idle at 6",
        "cron": "0 6 * * *",
        "tz": "Europe/Paris",
        "setpoints": {"mode": "idle"},
    }
    ramp = {
        "type": "ramp",
        "name": "Ramp",
        "start_at": "2026-06-20T10:00:00+02:00",
        "duration_s": 600,
        "power_from_w": 0,
        "power_to_w": 1000,
        "setpoints": {"mode": "force_discharge"},
    }
    entry = await battery(items=[DEFAULT, late, cron, ramp])
    ids = ids_by_name(entry)
    assert simulator.read_register("mode") == 3  # the cron's idle, in force since 06:00
    # A window run outside its occurrence holds as long as one lasts: 30 minutes.
    await call(hass, "run_item", {"item_id": ids["Late"]})
    assert simulator.read_register("reserve_pct") == 70
    record = controller(entry).journal.last_run
    assert record is not None
    # The record names the item run, not just "override".
    assert (record.trigger, record.items) == (Trigger.OVERRIDE, {"reserve_pct": ids["Late"]})
    await move_to(hass, freezer, START + timedelta(minutes=29))
    assert simulator.read_register("reserve_pct") == 70
    await move_to(hass, freezer, START + timedelta(minutes=30))
    assert simulator.read_register("reserve_pct") == 25
    # Until cleared.
    await call(hass, "run_item", {"item_id": ids["Late"], "until_cleared": True})
    await move_to(hass, freezer, START + timedelta(hours=2))
    assert simulator.read_register("reserve_pct") == 70
    await call(hass, "clear_override", {"device_id": device_id(hass, entry)})
    assert simulator.read_register("reserve_pct") == 25
    # The default, run by hand, holds until the next scheduled change (tomorrow's 06:00 idle).
    await call(hass, "run_item", {"item_id": ids["Default"]})
    assert simulator.read_register("mode") == 0
    override = entry.runtime_data.controller.override
    assert override is not None
    assert override.expires == START.replace(hour=20)  # the Late window's start: the next event
    with pytest.raises(ServiceValidationError) as ramp_refused:
        await call(hass, "run_item", {"item_id": ids["Ramp"]})
    assert ramp_refused.value.translation_key == "item_cannot_run"


def one_off(name: str, at: datetime) -> dict[str, Any]:
    return {"type": "one_off", "name": name, "at": at.isoformat(), "setpoints": {"reserve_pct": 40}}


async def test_finished_items_are_removed_after_the_retention(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery, battery: Battery
) -> None:
    expired = {**EVENING, "name": "Expired", "valid_until": (START - timedelta(days=10)).isoformat()}
    items = [
        DEFAULT,
        EVENING,
        expired,
        one_off("Long ago", START - timedelta(days=8)),
        one_off("Recent", START - timedelta(days=2)),
        one_off("Ahead", START + timedelta(days=1)),
    ]
    entry = await battery(items=items)
    # Default retention, 7 days: what finished more than 7 days ago is gone at set-up.
    assert sorted(sub.title for sub in entry.subentries.values()) == ["Ahead", "Default", "Evening", "Recent"]
    notes = [r.note or "" for r in entry.runtime_data.controller.journal.query(results=None)]
    assert any(n.startswith("removed Long ago: done since") for n in notes)
    assert any(n.startswith("removed Expired: done since") for n in notes)
    # Checked every hour: "Recent" goes 7 days after it ran, "Ahead" 7 days after it runs.
    await move_to(hass, freezer, START + timedelta(days=5, hours=1))
    assert sorted(sub.title for sub in entry.subentries.values()) == ["Ahead", "Default", "Evening"]
    await move_to(hass, freezer, START + timedelta(days=8, hours=1))
    assert sorted(sub.title for sub in entry.subentries.values()) == ["Default", "Evening"]


async def test_retention_zero_keeps_finished_items(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery, battery: Battery
) -> None:
    items = [one_off("Long ago", START - timedelta(days=80))]
    entry = await battery(options={"item_retention_days": 0}, items=items)
    assert [sub.title for sub in entry.subentries.values()] == ["Long ago"]


async def test_item_changes_are_journaled(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery, battery: Battery
) -> None:
    entry = await battery(items=[DEFAULT, EVENING])
    ids = ids_by_name(entry)
    device = device_id(hass, entry)
    added = await call(hass, "add_item", {"device_id": device, **MORNING}, response=True)
    morning = added[entry.title]["item_id"]
    await call(hass, "update_item", {"item_id": morning, "cron": "0 7 * * *"})
    await hass.services.async_call(
        "switch", SERVICE_TURN_OFF, {ATTR_ENTITY_ID: switch_of(hass, ids["Evening"])}, blocking=True
    )
    await hass.services.async_call(
        "switch", SERVICE_TURN_ON, {ATTR_ENTITY_ID: switch_of(hass, ids["Evening"])}, blocking=True
    )
    await call(hass, "remove_item", {"item_id": morning})
    await hass.async_block_till_done()
    notes = [
        r.note for r in entry.runtime_data.controller.journal.query() if (r.note or "").startswith("item ")
    ]
    assert notes == [
        f"item added: Morning ({morning})",
        f"item edited: Morning ({morning})",
        f"item paused: Evening ({ids['Evening']})",
        f"item resumed: Evening ({ids['Evening']})",
        f"item removed: Morning ({morning})",
    ]


async def test_item_switches_refuse_non_admin_users(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery, battery: Battery
) -> None:
    entry = await battery(items=[EVENING])
    (item_id,) = entry.subentries
    with pytest.raises(Unauthorized):
        await hass.services.async_call(
            "switch",
            SERVICE_TURN_OFF,
            {ATTR_ENTITY_ID: switch_of(hass, item_id)},
            blocking=True,
            context=await _non_admin(hass),
        )
    assert entry.subentries[item_id].data.get("enabled", True) is True
