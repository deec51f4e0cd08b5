"""Schedule items through the UI: subentry add and reconfigure flows."""

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.device.simulator import SimulatedBattery
from custom_components.battery_steward.item_flow import window_defaults
from custom_components.battery_steward.schedule import SUBENTRY_ITEM

from .conftest import modbus_data
from .helpers import device_id, freeze_at, setup_entry

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
async def entry(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery
) -> AsyncIterator[MockConfigEntry]:
    await freeze_at(hass, freezer, datetime(2026, 6, 1, 12, tzinfo=PARIS))
    entry = await setup_entry(hass, modbus_data(simulator.port), wait="background")
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)


async def start(hass: HomeAssistant, entry: MockConfigEntry, kind: str) -> str:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_ITEM), context={"source": "user"}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["window", "cron", "interval", "one_off", "ramp", "default", "preset"]
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {"next_step_id": kind})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == kind
    return str(result["flow_id"])


@pytest.mark.parametrize(
    ("kind", "data", "stored"),
    [
        (
            "window",
            {
                "name": "Peak",
                "weekdays": ["0", "4"],
                "start": "19:00:00",
                "end": "22:00:00",
                "reserve_pct": 80,
            },
            {"weekdays": [0, 4], "start": "19:00:00", "setpoints": {"reserve_pct": 80.0}},
        ),
        ("cron", {"name": "Morning", "cron": "0 6 * * *", "mode": "auto"}, {"cron": "0 6 * * *"}),
        (
            "interval",
            {
                "name": "Pulse",
                "anchor": "2026-06-01 12:00:00",
                "every_s": 3600,
                "duration_s": 600,
                "power_w": 500,
            },
            {"anchor": "2026-06-01T12:00:00+02:00", "every_s": 3600.0, "duration_s": 600.0},
        ),
        (
            "one_off",
            {"name": "Once", "at": "2026-06-02 08:00:00", "mode": "idle", "misfire_grace_s": 60},
            {"at": "2026-06-02T08:00:00+02:00", "misfire_grace_s": 60.0},
        ),
        (
            "ramp",
            {
                "name": "Ramp",
                "start_at": "2026-06-02 08:00:00",
                "duration_s": 600,
                "power_from_w": 0,
                "power_to_w": 2000,
                "mode": "force_discharge",
            },
            {"power_to_w": 2000.0, "step_s": 60.0},
        ),
        (
            "default",
            {"name": "Default", "mode": "auto", "reserve_pct": 30},
            {"setpoints": {"mode": "auto", "reserve_pct": 30.0}, "enabled": True},
        ),
    ],
)
async def test_add_each_type(
    hass: HomeAssistant, entry: MockConfigEntry, kind: str, data: dict[str, Any], stored: dict[str, Any]
) -> None:
    flow_id = await start(hass, entry, kind)
    result = await hass.config_entries.subentries.async_configure(flow_id, data)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    subentry = next(iter(entry.subentries.values()))
    assert subentry.title == data["name"]
    assert subentry.data["type"] == kind
    assert subentry.data["tz"] == "Europe/Paris"
    for key, value in stored.items():
        assert subentry.data[key] == value
    # The controller planned with it at once.
    await hass.async_block_till_done()
    assert [i.id for i in entry.runtime_data.controller.items] == [subentry.subentry_id]


async def test_default_form_has_no_times_and_one_default_per_battery(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    flow_id = await start(hass, entry, "default")
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"name": "Default", "mode": "auto", "enabled": True}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_ITEM), context={"source": "user"}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "default"}
    )
    schema = result["data_schema"]
    assert schema is not None
    assert set(map(str, schema.schema)) == {
        "name",
        "mode",
        "reserve_pct",
        "power_w",
        "reactive_var",
        "enabled",
    }
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "Another", "mode": "idle", "enabled": True}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "item_second_default"}


async def test_invalid_input_shows_error_then_succeeds(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    flow_id = await start(hass, entry, "cron")
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"name": "Bad", "cron": "nope", "mode": "idle"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "item_bad_cron"}
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"name": "Bad", "cron": "0 6 * * *"}
    )
    assert result["errors"] == {"base": "item_no_setpoints"}
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"name": "Good", "cron": "0 6 * * *", "power_w": 99999}
    )
    assert result["errors"] == {"base": "item_power_out_of_range"}
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"name": "Good", "cron": "0 6 * * *", "mode": "idle"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_reconfigure_item(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    flow_id = await start(hass, entry, "window")
    await hass.config_entries.subentries.async_configure(
        flow_id,
        {
            "name": "All day",
            "weekdays": [str(d) for d in range(7)],
            "start": "00:00:00",
            "end": "23:59:00",
            "reserve_pct": 60,
        },
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert simulator.read_register("reserve_pct") == 60
    subentry_id = next(iter(entry.subentries))
    result = await entry.start_subentry_reconfigure_flow(hass, subentry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {"name": "All day", "weekdays": ["0"], "start": "00:00:00", "end": "00:00:00", "reserve_pct": 70},
    )
    assert result["errors"] == {"base": "item_end_before_start"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            "name": "Whole day",
            "weekdays": [str(d) for d in range(7)],
            "start": "00:00:00",
            "end": "23:59:00",
            "reserve_pct": 70,
        },
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.subentries[subentry_id].title == "Whole day"
    assert entry.subentries[subentry_id].data["setpoints"] == {"reserve_pct": 70.0}
    await hass.async_block_till_done(wait_background_tasks=True)
    assert simulator.read_register("reserve_pct") == 70
    # Deleting the item (the UI's native delete) re-plans too.
    hass.config_entries.async_remove_subentry(entry, subentry_id)
    await hass.async_block_till_done()
    assert entry.runtime_data.controller.items == []


def suggested(result: Any) -> dict[str, Any]:
    """The values a form shows, by field."""
    return {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description and "suggested_value" in key.description
    }


async def test_preset_creates_what_the_action_creates(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    flow_id = await start(hass, entry, "preset")
    result = await hass.config_entries.subentries.async_configure(flow_id, {"preset": "night_idle"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Night idle 22:00-06:00"
    from_flow = next(sub for sub in entry.subentries.values() if sub.data["type"] == "window")
    response = await hass.services.async_call(
        DOMAIN,
        "add_preset",
        {"device_id": device_id(hass, entry), "preset": "night_idle"},
        blocking=True,
        return_response=True,
    )
    assert isinstance(response, dict)
    created = response[entry.title]
    assert isinstance(created, dict)
    from_action = entry.subentries[str(created["item_id"])]
    assert from_flow.title == from_action.title
    assert dict(from_flow.data) == dict(from_action.data)
    assert from_flow.data["tz"] == "Europe/Paris"
    # It is a window from then on: reconfigure shows the window form with its values.
    result = await entry.start_subentry_reconfigure_flow(hass, from_flow.subentry_id)
    shown = suggested(result)
    assert (shown["start"], shown["end"], shown["mode"], shown["tz"]) == (
        "22:00:00",
        "06:00:00",
        "idle",
        "Europe/Paris",
    )


async def test_preset_in_another_zone_with_validity(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    flow_id = await start(hass, entry, "preset")
    result = await hass.config_entries.subentries.async_configure(
        flow_id,
        {
            "preset": "peak_window",
            "tz": "America/New_York",
            "valid_from": "2026-06-01 00:00:00",
            "valid_until": "2026-09-01 00:00:00",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    data = next(sub.data for sub in entry.subentries.values() if sub.data["type"] == "window")
    assert (data["start"], data["tz"], data["setpoints"]) == (
        "19:00:00",
        "America/New_York",
        {"mode": "auto", "reserve_pct": 20.0},
    )
    assert data["valid_from"] == "2026-06-01T00:00:00+02:00"  # Home Assistant's zone
    assert data["valid_until"] == "2026-09-01T00:00:00+02:00"


async def test_time_zone_and_validity_fields(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    flow_id = await start(hass, entry, "cron")
    base = {"name": "Tokyo morning", "cron": "0 7 * * 1-5", "mode": "auto"}
    result = await hass.config_entries.subentries.async_configure(flow_id, {**base, "tz": "Mars/Base"})
    assert result["errors"] == {"tz": "item_unknown_time_zone"}
    result = await hass.config_entries.subentries.async_configure(
        flow_id,
        {
            **base,
            "tz": "Asia/Tokyo",
            "valid_from": "2026-07-01 00:00:00",
            "valid_until": "2026-06-30 00:00:00",
        },
    )
    assert result["errors"] == {"valid_until": "item_end_before_start"}
    result = await hass.config_entries.subentries.async_configure(
        flow_id,
        {
            **base,
            "tz": "Asia/Tokyo",
            "valid_from": "2026-07-01 00:00:00",
            "valid_until": "2026-08-01 00:00:00",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    subentry = next(iter(entry.subentries.values()))
    assert subentry.data["tz"] == "Asia/Tokyo"
    # The plan starts with the validity, at 07:00 in Tokyo.
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.runtime_data.controller.next_change == datetime(2026, 7, 1, 7, tzinfo=ZoneInfo("Asia/Tokyo"))

    # Reconfigure shows the stored zone and dates (in Home Assistant's time zone).
    result = await entry.start_subentry_reconfigure_flow(hass, subentry.subentry_id)
    shown = suggested(result)
    assert shown["tz"] == "Asia/Tokyo"
    assert (shown["valid_from"], shown["valid_until"]) == ("2026-07-01 00:00:00", "2026-08-01 00:00:00")
    # Leaving a date empty removes it; the zone is kept as chosen.
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**base, "tz": "Asia/Tokyo", "valid_from": "2026-07-01 00:00:00"}
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.subentries[subentry.subentry_id].data.get("valid_until") is None


@pytest.mark.parametrize("kind", ["interval", "one_off"])
async def test_validity_on_instant_items_and_no_zone_field(
    hass: HomeAssistant, entry: MockConfigEntry, kind: str
) -> None:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_ITEM), context={"source": "user"}
    )
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {"next_step_id": kind})
    schema = result["data_schema"]
    assert schema is not None
    fields = {str(key) for key in schema.schema}
    assert {"valid_from", "valid_until"} <= fields
    assert "tz" not in fields  # their instants are absolute


async def test_ramp_every_day_through_the_form(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    flow_id = await start(hass, entry, "ramp")
    base = {"name": "Morning ramp", "duration_s": 600, "power_from_w": 0, "power_to_w": 1000}
    # No start, or two of them, is refused.
    result = await hass.config_entries.subentries.async_configure(flow_id, base)
    assert result["errors"] == {"base": "item_ramp_start"}
    both = {**base, "daily_at": "07:00:00", "cron": "0 7 * * *"}
    result = await hass.config_entries.subentries.async_configure(flow_id, both)
    assert result["errors"] == {"base": "item_ramp_start"}
    daily = {**base, "daily_at": "07:00:00", "tz": "Asia/Tokyo", "mode": "force_discharge"}
    result = await hass.config_entries.subentries.async_configure(flow_id, daily)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    data = next(iter(entry.subentries.values())).data
    assert (data["daily_at"], data["tz"], data["start_at"], data["cron"]) == (
        "07:00:00",
        "Asia/Tokyo",
        None,
        None,
    )


async def test_new_window_is_every_day_from_the_next_quarter_hour(
    hass: HomeAssistant, entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """It defaulted to Monday only and 00:00-00:00, and every day took seven trips to a picker."""
    freezer.move_to(datetime(2026, 6, 1, 23, 52, 30, tzinfo=PARIS))
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_ITEM), context={"source": "user"}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "window"}
    )
    schema = result["data_schema"]
    assert schema is not None
    fields = {str(key): key for key in schema.schema}
    suggested = {name: (key.description or {}).get("suggested_value") for name, key in fields.items()}
    assert suggested["weekdays"] == ["0", "1", "2", "3", "4", "5", "6"]
    assert (suggested["start"], suggested["end"]) == ("00:00:00", "01:00:00")  # crosses midnight fine
    # The days are one control: a list of check boxes, not a picker opened once per day.
    weekdays = schema.schema[fields["weekdays"]].config
    assert weekdays["multiple"] is True
    assert weekdays["mode"] == "list"
    # Saving the form as offered gives a window every day.
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {"name": "Evening", **{k: suggested[k] for k in ("weekdays", "start", "end")}, "reserve_pct": 50},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["weekdays"] == [0, 1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        ("12:00:00", "12:15:00", "13:15:00"),
        ("12:14:59", "12:15:00", "13:15:00"),
        ("12:15:00", "12:30:00", "13:30:00"),
    ],
)
def test_window_defaults_start_at_the_next_quarter_hour(now: str, start: str, end: str) -> None:
    at = datetime.fromisoformat(f"2026-06-01T{now}+02:00")
    assert window_defaults(at) == {
        "weekdays": ["0", "1", "2", "3", "4", "5", "6"],
        "start": start,
        "end": end,
    }


async def test_item_form_on_a_battery_that_is_not_loaded_aborts(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    """Items are checked against the loaded battery: without it the form says so instead of crashing."""
    flow_id = await start(hass, entry, "cron")
    await hass.config_entries.async_unload(entry.entry_id)
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"name": "Morning", "cron": "0 6 * * *", "mode": "auto"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "entry_not_loaded"
    assert not entry.subentries
    # Starting a new one aborts at its form too.
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_ITEM), context={"source": "user"}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "window"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "entry_not_loaded"
