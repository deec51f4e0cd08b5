"""Schedule item services, journal and plan preview: good and bad input."""

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import ServiceValidationError, Unauthorized
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser

from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.device.simulator import SimulatedBattery
from custom_components.battery_steward.schedule import SUBENTRY_ITEM
from custom_components.battery_steward.services import battery_keys

from .conftest import modbus_data
from .helpers import device_id, freeze_at, setup_entry

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 3, 28, 12, 0, tzinfo=PARIS)  # the day before spring-forward


@pytest.fixture
async def entry(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery
) -> AsyncIterator[MockConfigEntry]:
    await freeze_at(hass, freezer, START)
    entry = await setup_entry(hass, modbus_data(simulator.port), wait="background")
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.fixture
def device(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    return device_id(hass, entry)


async def call(hass: HomeAssistant, name: str, data: dict[str, Any], response: bool = False) -> Any:
    return await hass.services.async_call(DOMAIN, name, data, blocking=True, return_response=response)


async def test_add_list_update_remove(
    hass: HomeAssistant, entry: MockConfigEntry, device: str, simulator: SimulatedBattery
) -> None:
    result = await call(
        hass,
        "add_item",
        {
            "device_id": device,
            "type": "window",
            "name": "Night charge",
            "weekdays": ["0", "1", "2", "3", "4", "5", "6"],
            "start": "02:00",
            "end": "05:00",
            "mode": "force_charge",
            "power_w": -2000,
        },
        response=True,
    )
    item_id = result[entry.title]["item_id"]
    subentry = entry.subentries[item_id]
    assert subentry.subentry_type == SUBENTRY_ITEM
    assert subentry.title == "Night charge"
    assert subentry.data["tz"] == "Europe/Paris"
    listed = await call(hass, "list_items", {"device_id": device}, response=True)
    items = listed[entry.title]["items"]
    assert [i["id"] for i in items] == [item_id]
    assert items[0]["setpoints"] == {"mode": "force_charge", "power_w": -2000.0}

    # The plan follows at once: the next change is the window's start, in the DST gap.
    controller = entry.runtime_data.controller
    assert controller.next_change == datetime(2026, 3, 29, 3, 0, tzinfo=PARIS)

    await call(hass, "update_item", {"item_id": item_id, "power_w": -3000, "name": "Cheap night"})
    assert entry.subentries[item_id].data["setpoints"]["power_w"] == -3000
    assert entry.subentries[item_id].title == "Cheap night"

    preview = await call(hass, "preview_plan", {"device_id": device, "hours": 48}, response=True)
    changes = preview[entry.title]["changes"]
    assert [c["local"] for c in changes] == [
        "2026-03-29T03:00:00+02:00",  # 02:00 does not exist that night
        "2026-03-29T05:00:00+02:00",
        "2026-03-30T02:00:00+02:00",
        "2026-03-30T05:00:00+02:00",
    ]
    assert changes[0]["setpoints"] == {"mode": "force_charge", "power_w": -3000.0}
    assert preview[entry.title]["now"] == {}

    await call(hass, "remove_item", {"item_id": item_id})
    assert item_id not in entry.subentries
    assert controller.next_change is None


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"type": "cron", "cron": "61 * * * *", "mode": "idle"}, "item_bad_cron"),
        ({"type": "cron", "cron": "0 6 * * *"}, "item_no_setpoints"),
        ({"type": "cron", "cron": "0 6 * * *", "power_w": 99999}, "item_power_out_of_range"),
        ({"type": "cron", "cron": "0 6 * * *", "mode": "idle", "tz": "Mars/Base"}, "item_unknown_time_zone"),
        (
            {"type": "window", "start": "10:00", "end": "10:00", "weekdays": [1], "mode": "idle"},
            "item_end_before_start",
        ),
        (
            {"type": "window", "start": "10:00", "end": "11:00", "weekdays": [], "mode": "idle"},
            "item_empty_weekdays",
        ),
        ({"type": "window", "start": "10:00", "weekdays": [1], "mode": "idle"}, "invalid_item_field"),
        ({"type": "one_off", "mode": "idle"}, "invalid_item_field"),
        (
            {
                "type": "one_off",
                "at": "2026-03-29T10:00:00",
                "mode": "idle",
                "valid_from": "2026-03-30T00:00:00",
                "valid_until": "2026-03-29T00:00:00",
            },
            "item_end_before_start",
        ),
        (
            {
                "type": "ramp",
                "start_at": "2026-03-29T10:00:00",
                "duration_s": 600,
                "power_from_w": 0,
                "power_to_w": 9000,
            },
            "item_power_out_of_range",
        ),
    ],
)
async def test_add_item_refused(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    device: str,
    simulator: SimulatedBattery,
    data: dict[str, Any],
    key: str,
) -> None:
    writes = simulator.write_count
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "add_item", {"device_id": device, **data})
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == key
    assert not entry.subentries
    assert simulator.write_count == writes


async def test_overlapping_windows_refused(hass: HomeAssistant, entry: MockConfigEntry, device: str) -> None:
    window = {"device_id": device, "type": "window", "weekdays": [5], "start": "22:00", "end": "02:00"}
    await call(hass, "add_item", {**window, "mode": "idle"})
    with pytest.raises(ServiceValidationError) as err:
        await call(
            hass, "add_item", {**window, "weekdays": [6], "start": "01:00", "end": "03:00", "mode": "auto"}
        )
    assert err.value.translation_key == "item_overlapping_windows"
    await call(
        hass,
        "add_item",
        {**window, "weekdays": [6], "start": "01:00", "end": "03:00", "mode": "auto", "priority": 1},
    )
    assert len(entry.subentries) == 2


async def test_unknown_items_and_batteries(hass: HomeAssistant, entry: MockConfigEntry, device: str) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "update_item", {"item_id": "nope", "mode": "idle"})
    assert err.value.translation_key == "unknown_item"
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "remove_item", {"item_id": ["nope"]})
    assert err.value.translation_key == "unknown_item"
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "list_items", {"device_id": "nope"}, response=True)
    assert err.value.translation_key == "unknown_battery"
    foreign_entry = MockConfigEntry(domain="other")
    foreign_entry.add_to_hass(hass)
    foreign = dr.async_get(hass).async_get_or_create(
        config_entry_id=foreign_entry.entry_id, identifiers={("other", "x")}
    )
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "clear_override", {"device_id": foreign.id})
    assert err.value.translation_key == "unknown_battery"


async def test_item_on_unloaded_battery(hass: HomeAssistant, entry: MockConfigEntry, device: str) -> None:
    result = await call(
        hass,
        "add_item",
        {"device_id": device, "type": "cron", "cron": "0 6 * * *", "mode": "auto"},
        response=True,
    )
    item_id = result[entry.title]["item_id"]
    await hass.config_entries.async_unload(entry.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "update_item", {"item_id": item_id, "mode": "idle"})
    assert err.value.translation_key == "battery_not_loaded"
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "reconcile_now", {"device_id": device})
    assert err.value.translation_key == "battery_not_loaded"
    assert await hass.config_entries.async_setup(entry.entry_id)


async def test_get_journal_filters(hass: HomeAssistant, entry: MockConfigEntry, device: str) -> None:
    await call(hass, "set_override", {"device_id": device, "reserve_pct": 40})
    await call(hass, "reconcile_now", {"device_id": device})
    journal = await call(hass, "get_journal", {"device_id": device}, response=True)
    records = journal[entry.title]["records"]
    assert [r["trigger"] for r in records] == ["startup", "override", "manual"]
    assert records[1]["fields"] == {"reserve_pct": {"old": 20.0, "new": 40.0}}
    assert journal[entry.title]["statistics"]["by_result"] == {"success": 3}
    limited = await call(hass, "get_journal", {"device_id": device, "limit": 1}, response=True)
    assert [r["trigger"] for r in limited[entry.title]["records"]] == ["manual"]
    failed = await call(hass, "get_journal", {"device_id": device, "result": ["failed"]}, response=True)
    assert failed[entry.title]["records"] == []
    later = (START + timedelta(hours=1)).replace(tzinfo=None).isoformat()
    since = await call(hass, "get_journal", {"device_id": device, "since": later}, response=True)
    assert since[entry.title]["records"] == []
    until = await call(hass, "get_journal", {"device_id": device, "until": START.isoformat()}, response=True)
    assert len(until[entry.title]["records"]) == 3


async def test_control_services_need_admin(
    hass: HomeAssistant, entry: MockConfigEntry, device: str, hass_read_only_user: MockUser
) -> None:
    with pytest.raises(Unauthorized):
        await hass.services.async_call(
            DOMAIN,
            "set_override",
            {"device_id": device, "mode": "idle"},
            blocking=True,
            context=Context(user_id=hass_read_only_user.id),
        )


async def test_add_presets(hass: HomeAssistant, entry: MockConfigEntry, device: str) -> None:
    result = await call(hass, "add_preset", {"device_id": device, "preset": "peak_window"}, response=True)
    await call(hass, "add_preset", {"device_id": device, "preset": "night_idle"})
    item_id = result[entry.title]["item_id"]
    assert entry.subentries[item_id].data["start"] == "19:00:00"
    assert entry.subentries[item_id].data["tz"] == "Europe/Paris"
    assert len(entry.subentries) == 3
    titles = sorted(sub.title for sub in entry.subentries.values())
    assert titles == ["Default", "Night idle 22:00-06:00", "On-peak 19:00-22:00 weekdays"]
    # Complete on their own: the battery had no default, so one holds what they set outside them.
    (default,) = (sub for sub in entry.subentries.values() if sub.data["type"] == "default")
    assert dict(default.data["setpoints"]) == {"mode": "auto", "reserve_pct": 20.0}


async def test_responses_are_keyed_by_battery_name(
    hass: HomeAssistant, entry: MockConfigEntry, device: str
) -> None:
    """Not by an opaque entry id (df0c133b…): the battery's name, its entry id inside."""
    listed = await call(hass, "list_items", {"device_id": device}, response=True)
    assert listed == {entry.title: {"entry_id": entry.entry_id, "items": []}}
    added = await call(hass, "add_preset", {"device_id": device, "preset": "night_idle"}, response=True)
    assert added[entry.title]["entry_id"] == entry.entry_id
    assert added[entry.title]["item_id"] in entry.subentries
    for name in ("get_journal", "preview_plan"):
        answer = await call(hass, name, {"device_id": device}, response=True)
        assert list(answer) == [entry.title]
        assert answer[entry.title]["entry_id"] == entry.entry_id


def test_two_batteries_with_one_name_keep_both_answers() -> None:
    first = MockConfigEntry(domain=DOMAIN, title="Garage", entry_id="aaa")
    second = MockConfigEntry(domain=DOMAIN, title="Garage", entry_id="bbb")
    other = MockConfigEntry(domain=DOMAIN, title="Attic", entry_id="ccc")
    assert battery_keys([first, second, other]) == {
        "aaa": "Garage (aaa)",
        "bbb": "Garage (bbb)",
        "ccc": "Attic",
    }


@pytest.mark.parametrize("hours", [1, 168])
async def test_preview_accepts_its_whole_range(
    hass: HomeAssistant, entry: MockConfigEntry, device: str, hours: int
) -> None:
    answer = await call(hass, "preview_plan", {"device_id": device, "hours": hours}, response=True)
    assert answer[entry.title]["changes"] == []


@pytest.mark.parametrize("hours", [0, 200])
async def test_preview_out_of_range_is_refused_with_a_translated_message(
    hass: HomeAssistant, entry: MockConfigEntry, device: str, hours: int
) -> None:
    """200 used to fail with "value must be at most 168 at 'hours'. Got None"."""
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "preview_plan", {"device_id": device, "hours": hours}, response=True)
    assert err.value.translation_key == "preview_hours"
    assert str(err.value) == (
        f"The preview covers 1 to 168 hours (7 days, as the Plan calendar); {hours} is outside that range"
    )
