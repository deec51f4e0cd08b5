"""The default item: what holds whenever no other item sets a field (simulator over TCP, frozen clock).

A window's field returns to the default when the window ends; removing an item returns its fields
to the default; the night_idle preset alone gives idle at night and automatic by day, across DST
days in two zones. A new battery gets its default from its state at set-up, silently; one
configured before default items existed gets one at its first start and a repair notice.
"""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.default_item import (
    MINOR_VERSION_NEW,
    MINOR_VERSION_WITH_DEFAULT,
    default_subentry,
)
from custom_components.battery_steward.device.registers import MODE_CODES
from custom_components.battery_steward.device.simulator import SimulatedBattery

from .conftest import modbus_data
from .helpers import controller, device_id, freeze_at, let_sockets_settle, move_to, setup_entry, window_item

PARIS = "Europe/Paris"
START = datetime(2026, 6, 15, 17, 0, tzinfo=ZoneInfo(PARIS))
UPGRADED = 1  # a config entry from before default items existed


async def call(hass: HomeAssistant, name: str, data: dict[str, Any], response: bool = False) -> Any:
    return await hass.services.async_call(DOMAIN, name, data, blocking=True, return_response=response)


def mode(simulator: SimulatedBattery) -> str:
    code = simulator.read_register("mode")
    return next(name for name, value in MODE_CODES.items() if value == code)


async def unload(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await hass.config_entries.async_unload(entry.entry_id)
    await let_sockets_settle()


async def test_new_battery_gets_its_state_at_set_up_as_default_silently(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery
) -> None:
    simulator.set_control("reserve_pct", 35)
    await freeze_at(hass, freezer, START)
    entry = await setup_entry(hass, modbus_data(simulator.port), minor_version=MINOR_VERSION_NEW)
    default = default_subentry(entry)
    assert default is not None
    assert (default.title, default.data["type"], dict(default.data["setpoints"])) == (
        "Default",
        "default",
        {"mode": "auto", "reserve_pct": 35.0},
    )
    assert entry.minor_version == MINOR_VERSION_WITH_DEFAULT
    assert not ir.async_get(hass).issues
    listed = await call(hass, "list_items", {"device_id": device_id(hass, entry)}, response=True)
    assert [i["type"] for i in listed[entry.title]["items"]] == ["default"]
    # Deleting it is the user's choice: the next start does not bring it back.
    hass.config_entries.async_remove_subentry(entry, default.subentry_id)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert default_subentry(entry) is None
    await unload(hass, entry)


async def test_upgraded_battery_gets_a_default_and_is_told(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery
) -> None:
    await freeze_at(hass, freezer, START)
    window = window_item("Evening", "18:00", "19:00", reserve_pct=60)
    entry = await setup_entry(hass, modbus_data(simulator.port), items=[window], minor_version=UPGRADED)
    default = default_subentry(entry)
    assert default is not None
    assert dict(default.data["setpoints"]) == {"mode": "auto", "reserve_pct": 20.0}
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"default_item_added_{entry.entry_id}")
    assert issue is not None
    assert issue.translation_key == "default_item_added"
    assert issue.translation_placeholders == {"battery": "Battery", "setpoints": "mode auto, reserve 20 %"}
    # The evening window now ends where it should: back to the default reserve.
    await move_to(hass, freezer, START + timedelta(hours=1, minutes=1))
    assert simulator.read_register("reserve_pct") == 60
    await move_to(hass, freezer, START + timedelta(hours=2, minutes=1))
    assert simulator.read_register("reserve_pct") == 20
    await unload(hass, entry)


async def test_window_reserve_returns_to_the_default_at_its_end(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery
) -> None:
    """The 17:06-17:07 window of the issue: the reserve does not stay where the window left it."""
    await freeze_at(hass, freezer, START)
    default = {"type": "default", "name": "Default", "setpoints": {"mode": "auto", "reserve_pct": 25}}
    window = window_item("One minute", "17:06", "17:07", reserve_pct=70)
    entry = await setup_entry(hass, modbus_data(simulator.port), items=[default, window], wait="background")
    assert simulator.read_register("reserve_pct") == 25
    await move_to(hass, freezer, START + timedelta(minutes=6))
    assert simulator.read_register("reserve_pct") == 70
    await move_to(hass, freezer, START + timedelta(minutes=7))
    assert simulator.read_register("reserve_pct") == 25
    journal = controller(entry).journal.query()
    assert journal[-1].fields == {"reserve_pct": (70.0, 25.0)}
    await unload(hass, entry)


async def test_removing_an_item_returns_its_fields_to_the_default(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery
) -> None:
    await freeze_at(hass, freezer, START)
    entry = await setup_entry(hass, modbus_data(simulator.port), minor_version=MINOR_VERSION_NEW)
    device = device_id(hass, entry)
    added = await call(
        hass,
        "add_item",
        {
            "device_id": device,
            "type": "window",
            "name": "All day",
            "weekdays": list(range(7)),
            "start": "00:00",
            "end": "23:59",
            "mode": "force_charge",
            "power_w": -1500,
            "reserve_pct": 80,
        },
        response=True,
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert (mode(simulator), simulator.read_register("reserve_pct")) == ("force_charge", 80)
    await call(hass, "remove_item", {"item_id": added[entry.title]["item_id"]})
    await hass.async_block_till_done(wait_background_tasks=True)
    # Mode and reserve return to the default; power, which the default does not set, is left.
    assert (mode(simulator), simulator.read_register("reserve_pct")) == ("auto", 20)
    await unload(hass, entry)


async def test_the_default_reserve_holds_under_the_day_ahead_series(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery
) -> None:
    """The series sets mode and power at every instant; the reserve, which it never sets, is the default's."""
    await freeze_at(hass, freezer, START)
    default = {"type": "default", "name": "Default", "setpoints": {"mode": "auto", "reserve_pct": 25}}
    entry = await setup_entry(hass, modbus_data(simulator.port), items=[default], wait="background")
    default_id = next(iter(entry.subentries))
    device = device_id(hass, entry)
    assert simulator.read_register("reserve_pct") == 25
    rows = [{"start": START.isoformat(), "period_s": 3600, "power_w": -1500}]
    await call(hass, "set_series", {"device_id": device, "rows": rows})
    await call(hass, "set_source", {"device_id": device, "source": "api"})
    await call(hass, "restore", {"device_id": device})  # the switch safe-stopped the plant
    await hass.async_block_till_done(wait_background_tasks=True)
    assert (mode(simulator), simulator.read_register("power_setpoint_w")) == ("force_charge", -1500)
    assert controller(entry).sources_at(dt_util.utcnow()) == {
        "mode": "series",  # the series pushed with set_series
        "power_w": "series",
        "reactive_var": "series",
        "reserve_pct": default_id,
    }
    # Someone lowers the reserve: it is corrected back to the default's, and the journal says so.
    simulator.set_control("reserve_pct", 60)
    freezer.tick(timedelta(minutes=1))
    await call(hass, "reconcile_now", {"device_id": device})
    assert simulator.read_register("reserve_pct") == 25
    record = controller(entry).journal.last_run
    assert record is not None
    assert (record.fields, record.items) == ({"reserve_pct": (60.0, 25.0)}, {"reserve_pct": default_id})
    # Editing the default's reserve applies under the series too; its mode does not (the series sets it).
    await call(hass, "update_item", {"item_id": default_id, "reserve_pct": 30})
    await hass.async_block_till_done(wait_background_tasks=True)
    assert (mode(simulator), simulator.read_register("reserve_pct")) == ("force_charge", 30)
    await unload(hass, entry)


async def test_default_through_the_actions_one_per_battery(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery
) -> None:
    await freeze_at(hass, freezer, START)
    entry = await setup_entry(hass, modbus_data(simulator.port), wait="background")
    device = device_id(hass, entry)
    added = await call(
        hass,
        "add_item",
        {"device_id": device, "type": "default", "mode": "idle", "reserve_pct": 50},
        response=True,
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert (mode(simulator), simulator.read_register("reserve_pct")) == ("idle", 50)
    with pytest.raises(ServiceValidationError) as refused:
        await call(hass, "add_item", {"device_id": device, "type": "default", "mode": "auto"})
    assert refused.value.translation_key == "item_second_default"
    item_id = added[entry.title]["item_id"]
    await call(hass, "update_item", {"item_id": item_id, "mode": "auto"})
    await hass.async_block_till_done(wait_background_tasks=True)
    assert (mode(simulator), simulator.read_register("reserve_pct")) == ("auto", 50)
    with pytest.raises(ServiceValidationError) as dated:
        await call(hass, "update_item", {"item_id": item_id, "valid_until": "2026-07-01T00:00:00+02:00"})
    assert dated.value.translation_key == "item_default_dates"
    await unload(hass, entry)


# The night before (and of) each transition: idle from 22:00, automatic again at 06:00.
NIGHTS = [
    (PARIS, date(2026, 3, 28)),  # spring forward in the night
    (PARIS, date(2026, 10, 24)),  # fall back in the night
    ("America/New_York", date(2026, 3, 7)),
    ("America/New_York", date(2026, 10, 31)),
]


@pytest.mark.parametrize(("zone", "evening"), NIGHTS, ids=[f"{z}-{d}" for z, d in NIGHTS])
async def test_night_idle_alone_idle_at_night_auto_by_day(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    zone: str,
    evening: date,
) -> None:
    tz = ZoneInfo(zone)
    await freeze_at(hass, freezer, datetime.combine(evening, time(12), tzinfo=tz), zone)
    # A battery whose user deleted its default: the preset completes one on its own.
    simulator.set_control("mode", MODE_CODES["force_discharge"])
    entry = await setup_entry(hass, modbus_data(simulator.port), wait="background")
    await call(hass, "add_preset", {"device_id": device_id(hass, entry), "preset": "night_idle"})
    await hass.async_block_till_done(wait_background_tasks=True)
    assert mode(simulator) == "auto"
    await move_to(hass, freezer, datetime.combine(evening, time(23), tzinfo=tz))
    assert mode(simulator) == "idle"
    morning = evening + timedelta(days=1)
    noon_before, noon_after = (datetime.combine(d, time(12), tzinfo=tz) for d in (evening, morning))
    assert noon_before.utcoffset() != noon_after.utcoffset()  # the clocks change in this night
    await move_to(hass, freezer, datetime.combine(morning, time(5, 30), tzinfo=tz))
    assert mode(simulator) == "idle"
    await move_to(hass, freezer, datetime.combine(morning, time(10), tzinfo=tz))
    assert mode(simulator) == "auto"
    at_six = [r for r in controller(entry).journal.query() if r.fields.get("mode") == ("idle", "auto")]
    assert at_six[-1].scheduled == datetime.combine(morning, time(6), tzinfo=tz)
    await unload(hass, entry)


async def test_a_preset_completes_an_existing_default(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery
) -> None:
    await freeze_at(hass, freezer, START)
    reserve_only = {"type": "default", "name": "Keep 30 %", "setpoints": {"reserve_pct": 30}}
    entry = await setup_entry(hass, modbus_data(simulator.port), items=[reserve_only], wait="background")
    device = device_id(hass, entry)
    await call(hass, "add_preset", {"device_id": device, "preset": "night_idle"})
    default = default_subentry(entry)
    assert default is not None
    # Its own reserve kept, the mode the preset needs outside its window added.
    assert (default.title, dict(default.data["setpoints"])) == (
        "Keep 30 %",
        {"reserve_pct": 30, "mode": "auto"},
    )
    # A second preset that needs nothing more leaves it as it is.
    await call(hass, "add_preset", {"device_id": device, "preset": "peak_window"})
    assert dict(default.data["setpoints"]) == {"reserve_pct": 30, "mode": "auto"}
    assert len([s for s in entry.subentries.values() if s.data["type"] == "default"]) == 1
    await unload(hass, entry)


async def test_a_battery_added_through_the_config_flow_gets_its_default(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery
) -> None:
    await freeze_at(hass, freezer, START)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "modbus"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": "127.0.0.1", "port": simulator.port, "unit_id": 1, "profile": "steward"}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    entry = result["result"]
    default = default_subentry(entry)
    assert default is not None
    assert dict(default.data["setpoints"]) == {"mode": "auto", "reserve_pct": 20.0}
    assert entry.minor_version == MINOR_VERSION_WITH_DEFAULT
    assert not ir.async_get(hass).issues  # a new battery: nothing to be told
    await unload(hass, entry)


# A day on each side of the clocks going back, with the default under a night window.
@pytest.mark.parametrize("zone", [PARIS, "America/New_York"])
async def test_calendar_shows_the_default_between_windows_across_fall_back(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery, zone: str
) -> None:
    tz = ZoneInfo(zone)
    day = date(2026, 10, 24) if zone == PARIS else date(2026, 10, 31)
    await freeze_at(hass, freezer, datetime.combine(day, time(12), tzinfo=tz), zone)
    default = {"type": "default", "name": "Default", "setpoints": {"mode": "auto"}}
    night = window_item("Night", "22:00", "06:00", tz=zone, mode="idle")
    entry = await setup_entry(hass, modbus_data(simulator.port), items=[default, night], wait="background")
    response: Any = await hass.services.async_call(
        "calendar",
        "get_events",
        {"entity_id": "calendar.battery_plan", "duration": {"hours": 36}},
        blocking=True,
        return_response=True,
    )
    events = [(e["start"], e["end"], e["summary"]) for e in response["calendar.battery_plan"]["events"]]
    evening, morning = (
        datetime.combine(day, time(22), tzinfo=tz),
        datetime.combine(day + timedelta(days=1), time(6), tzinfo=tz),
    )
    assert morning.astimezone(UTC) - evening.astimezone(UTC) == timedelta(hours=9)  # an hour longer
    assert [(datetime.fromisoformat(s), datetime.fromisoformat(e), t) for s, e, t in events][1:3] == [
        (evening, morning, "Idle"),
        (morning, morning.replace(hour=22), "Automatic"),
    ]
    assert events[0][2] == "Automatic"  # the default running now
    await unload(hass, entry)
