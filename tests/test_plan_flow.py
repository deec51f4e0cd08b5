"""Plans from other integrations through the UI: the subentry forms, and the Entity source."""

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.device.registers import MODE_CODES
from custom_components.battery_steward.device.simulator import SimConfig, SimulatedBattery
from custom_components.battery_steward.plan_feeds import SUBENTRY_PEAK, SUBENTRY_PRICE, SUBENTRY_SERIES

from .conftest import SERIAL, modbus_data
from .helpers import confirm_switching, controller, device_id, entity_id, freeze_at, setup_entry
from .plan_fixtures import emhass_battery_scheduled_power, local_slots, nordpool_custom

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=PARIS)


@pytest.fixture
def sim_config() -> SimConfig:
    """Fast physics: a safe stop (switching the source) finishes at once."""
    return SimConfig(serial=SERIAL, noise_w=0.0, tau_s=0.05)


@pytest.fixture
async def entry(hass: HomeAssistant, simulator: SimulatedBattery) -> AsyncIterator[MockConfigEntry]:
    await hass.config.async_set_time_zone("Europe/Paris")
    entry = await setup_entry(hass, modbus_data(simulator.port), wait="background")
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)


async def submit(
    hass: HomeAssistant, entry: MockConfigEntry, kind: str, data: dict[str, Any]
) -> dict[str, Any]:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, kind), context={"source": "user"}
    )
    if result["type"] is FlowResultType.ABORT:
        return dict(result)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return dict(await hass.config_entries.subentries.async_configure(result["flow_id"], data))


def forecast(start: datetime, watts: list[float]) -> dict[str, Any]:
    return emhass_battery_scheduled_power(local_slots(start, timedelta(minutes=30), len(watts)), watts)


async def test_series_from_an_entity_set_up_in_the_ui_then_chosen_as_source(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    data = {"name": "EMHASS", "entity_id": "sensor.p_batt_forecast", "format": "emhass", "unit": "W"}
    result = await submit(hass, entry, SUBENTRY_SERIES, data)
    assert result["errors"] == {"base": "plan_entity_missing"}
    hass.states.async_set("sensor.p_batt_forecast", "0", {"battery_scheduled_power": "soon"})
    result = await submit(hass, entry, SUBENTRY_SERIES, data)
    assert result["errors"] == {"base": "plan_attribute_invalid"}
    assert "expected a non-empty list" in result["description_placeholders"]["detail"]
    now = datetime.now(PARIS).replace(microsecond=0)
    hass.states.async_set(
        "sensor.p_batt_forecast", "-1200", forecast(now - timedelta(minutes=1), [-1200.0, 800.0])
    )
    result = await submit(hass, entry, SUBENTRY_SERIES, data)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {
        "entity_id": "sensor.p_batt_forecast",
        "format": "emhass",
        "unit": "W",
        "sign": "discharge_positive",
    }
    await hass.async_block_till_done(wait_background_tasks=True)
    assert (await submit(hass, entry, SUBENTRY_SERIES, data))["reason"] == "single_series"
    # Manual still rules until the user picks the Entity source (a safe stop first).
    assert int(simulator.read_register("mode")) != MODE_CODES["force_charge"]
    select = entity_id(hass, "select", "schedule_source")
    await confirm_switching(hass)
    await hass.services.async_call(
        "select", "select_option", {"entity_id": select, "option": "entity"}, blocking=True
    )
    assert controller(entry).source == "entity"
    assert hass.states.get(select).state == "entity"  # type: ignore[union-attr]
    await hass.services.async_call(
        "battery_steward", "restore", {"device_id": device_id(hass, entry)}, blocking=True
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert int(simulator.read_register("mode")) == MODE_CODES["force_charge"]
    assert float(simulator.read_register("power_setpoint_w")) == -1200
    # Reconfigure to a generic format that cannot read the attribute: refused, kept as it was.
    [sub] = [s for s in entry.subentries.values() if s.subentry_type == SUBENTRY_SERIES]
    flow = await entry.start_subentry_reconfigure_flow(hass, sub.subentry_id)
    assert flow["type"] is FlowResultType.FORM
    generic = {**data, "format": "generic", "value_key": "kw", "unit": "kW", "sign": "charge_positive"}
    step = await hass.config_entries.subentries.async_configure(flow["flow_id"], generic)
    assert step["errors"] == {"base": "plan_attribute_invalid"}
    step = await hass.config_entries.subentries.async_configure(
        step["flow_id"], {**generic, "time_key": "date", "value_key": "p_batt_forecast", "unit": "W"}
    )
    assert step["type"] is FlowResultType.ABORT
    assert step["reason"] == "reconfigure_successful"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert float(simulator.read_register("power_setpoint_w")) == 1200  # now + charges
    # Removing the subentry: no series any more, the entity source dispatches zero.
    hass.states.async_set("sensor.p_batt_forecast", "0", {"battery_scheduled_power": "broken"})
    await hass.async_block_till_done(wait_background_tasks=True)
    assert ir.async_get(hass).async_get_issue(
        "battery_steward", f"plan_entity_{entry.entry_id}_{sub.subentry_id}"
    )
    assert hass.config_entries.async_remove_subentry(entry, sub.subentry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert not ir.async_get(hass).async_get_issue(
        "battery_steward", f"plan_entity_{entry.entry_id}_{sub.subentry_id}"
    )
    assert int(simulator.read_register("mode")) == MODE_CODES["idle"]


async def test_price_and_peak_forms(
    hass: HomeAssistant, entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    await freeze_at(hass, freezer, NOW)
    today = NOW.replace(hour=0)
    hours = local_slots(today, timedelta(hours=1), 24)
    hass.states.async_set(
        "sensor.prices",
        "0.1",
        {
            **nordpool_custom([(s, s + timedelta(hours=1), 0.1) for s in hours], []),
            "unit_of_measurement": "EUR/kWh",  # custom-components/nordpool: currency/price type
        },
    )
    hass.states.async_set("sensor.no_prices", "0.1", {"unit": "kWh"})
    price = {
        "name": "Night",
        "entity_id": "sensor.prices",
        "window_start": "22:00:00",
        "window_end": "06:00:00",
        "charge_hours": 3,
        "charge_w": 99999,
        "discharge_w": 0,
        "priority": 2,
    }
    form = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_PRICE), context={"source": "user"}
    )
    assert (form.get("description_placeholders") or {})["unit"] == ""  # no entity chosen yet
    hass.config_entries.subentries.async_abort(form["flow_id"])
    result = await submit(hass, entry, SUBENTRY_PRICE, price)
    assert result["errors"] == {"base": "plan_power_out_of_range"}
    # Price thresholds are in the price entity's own unit: the form says which.
    assert result["description_placeholders"]["unit"] == " (EUR/kWh)"
    result = await submit(
        hass, entry, SUBENTRY_PRICE, {**price, "charge_w": 2000, "entity_id": "sensor.no_prices"}
    )
    assert result["errors"] == {"base": "plan_attribute_invalid"}
    result = await submit(hass, entry, SUBENTRY_PRICE, {**price, "charge_w": 2000})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["priority"] == 2
    [sub] = [s for s in entry.subentries.values() if s.subentry_type == SUBENTRY_PRICE]
    flow = await entry.start_subentry_reconfigure_flow(hass, sub.subentry_id)
    assert flow["type"] is FlowResultType.FORM
    assert flow["description_placeholders"]["unit"] == " (EUR/kWh)"
    step = await hass.config_entries.subentries.async_configure(
        flow["flow_id"], {**price, "charge_w": 1500, "name": "Nuit"}
    )
    assert step["reason"] == "reconfigure_successful"
    assert entry.subentries[sub.subentry_id].title == "Nuit"
    hass.states.async_set("sensor.tempo", "Bleu")
    peak = {
        "name": "Tempo",
        "entity_id": "sensor.tempo",
        "states": ["Rouge"],
        "window_start": "22:00:00",
        "window_end": "06:00:00",
        "charge_w": 3000,
        "target_soc_pct": 90,
        "priority": 0,
    }
    result = await submit(hass, entry, SUBENTRY_PEAK, peak)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["target_soc_pct"] == 90
    await hass.async_block_till_done(wait_background_tasks=True)
    # The peak entity vanishes: a repair issue, nothing decided changes.
    hass.states.async_remove("sensor.tempo")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert any(i.translation_key == "plan_entity_invalid" for i in ir.async_get(hass).issues.values())
