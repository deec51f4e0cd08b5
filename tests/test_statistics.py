"""Home Assistant's recorder compiles long-term statistics from our sensors, without complaints."""

from typing import cast

from homeassistant.components.energy.data import BatterySourceType, EnergyPreferencesUpdate, async_get_manager
from homeassistant.components.energy.validate import async_validate
from homeassistant.components.recorder.core import Recorder
from homeassistant.components.recorder.models import StatisticMeanType
from homeassistant.components.recorder.statistics import list_statistic_ids, statistics_during_period
from homeassistant.components.sensor.recorder import validate_statistics
from homeassistant.const import UnitOfEnergy
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
    get_start_time,
)

from custom_components.battery_steward.device.simulator import SimulatedBattery

from .helpers import entity_id


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(recorder_db_url: str, enable_custom_integrations: None) -> None:
    """The recorder's database must be chosen before Home Assistant starts."""


async def test_statistics_compile_for_energy_and_measurements(
    recorder_mock: Recorder, hass: HomeAssistant, simulator: SimulatedBattery, modbus_entry: MockConfigEntry
) -> None:
    """Home Assistant's recorder really compiles long-term statistics from our sensors."""
    modbus_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(modbus_entry.entry_id)
    await hass.async_block_till_done()
    await async_wait_recording_done(hass)
    # Compile the 5-minute period we are in: states recorded now belong to it.
    start = get_start_time(dt_util.utcnow())
    do_adhoc_statistics(hass, start=start)
    await async_wait_recording_done(hass)
    soc = entity_id(hass, "sensor", "state_of_charge")
    rows = await get_instance(hass).async_add_executor_job(
        statistics_during_period, hass, start, None, {soc}, "5minute", None, {"mean"}
    )
    assert rows[soc][0]["mean"] == pytest.approx(50.0)
    ids = await get_instance(hass).async_add_executor_job(list_statistic_ids, hass)
    found = {row["statistic_id"]: row for row in ids}
    for key in ("state_of_charge", "active_power", "reactive_power"):
        row = found[entity_id(hass, "sensor", key)]
        assert row["mean_type"] is StatisticMeanType.ARITHMETIC, key
        assert not row["has_sum"], key
    for key in ("charge_energy", "discharge_energy"):
        row = found[entity_id(hass, "sensor", key)]
        assert row["has_sum"], key
        assert row["statistics_unit_of_measurement"] == UnitOfEnergy.KILO_WATT_HOUR
    issues = await get_instance(hass).async_add_executor_job(validate_statistics, hass, {})
    ours = {sid: found_issues for sid, found_issues in issues.items() if sid.startswith("sensor.")}
    assert ours == {}
    await hass.config_entries.async_unload(modbus_entry.entry_id)


async def test_energy_dashboard_accepts_the_battery(
    recorder_mock: Recorder, hass: HomeAssistant, simulator: SimulatedBattery, modbus_entry: MockConfigEntry
) -> None:
    """Configured as a battery system (energy in, energy out, power), the energy dashboard finds no issue."""
    modbus_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(modbus_entry.entry_id)
    assert await async_setup_component(hass, "energy", {})
    await hass.async_block_till_done()
    await async_wait_recording_done(hass)
    do_adhoc_statistics(hass, start=get_start_time(dt_util.utcnow()))  # the first 5-minute compile
    await async_wait_recording_done(hass)
    manager = await async_get_manager(hass)
    battery: BatterySourceType = {
        "type": "battery",
        "stat_energy_from": entity_id(hass, "sensor", "discharge_energy"),
        "stat_energy_to": entity_id(hass, "sensor", "charge_energy"),
        "stat_rate": entity_id(hass, "sensor", "active_power"),  # + discharge, - charge, as HA expects
    }
    await manager.async_update(cast(EnergyPreferencesUpdate, {"energy_sources": [battery]}))
    result = await async_validate(hass)
    assert result.as_dict()["energy_sources"] == [[]]
    await hass.config_entries.async_unload(modbus_entry.entry_id)
