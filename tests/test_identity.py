"""Device identity: the battery at an entry's address must be the one the entry was made for."""

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward import async_remove_config_entry_device
from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.device.simulator import SimConfig, SimulatedBattery

from .conftest import SERIAL, modbus_data
from .helpers import let_sockets_settle


async def test_another_battery_at_the_address_is_refused_with_a_repair(
    hass: HomeAssistant, simulator: SimulatedBattery
) -> None:
    other = SimulatedBattery(SimConfig(serial="SIM-OTHER002", noise_w=0.0))
    await other.start(host="127.0.0.1", port=0)
    entry = MockConfigEntry(domain=DOMAIN, title="Garage", unique_id=SERIAL, data=modbus_data(other.port))
    entry.add_to_hass(hass)
    try:
        assert not await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.SETUP_ERROR
        assert entry.reason is not None
        assert "SIM-OTHER002" in entry.reason
        issue = ir.async_get(hass).async_get_issue(DOMAIN, f"another_battery_{entry.entry_id}")
        assert issue is not None
        assert issue.translation_key == "another_battery"
        assert issue.translation_placeholders == {
            "battery": "Garage",
            "expected": SERIAL,
            "found": "SIM-OTHER002",
        }
        # No device was made for the other battery: the entry's own stays the only one.
        devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
        assert not [d for d in devices if (DOMAIN, "SIM-OTHER002") in d.identifiers]
        assert other.write_count == 0
    finally:
        await other.stop()
        await let_sockets_settle()
    # The right battery back at the address: it loads and the issue clears.
    hass.config_entries.async_update_entry(entry, data=modbus_data(simulator.port))
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"another_battery_{entry.entry_id}") is None
    await hass.config_entries.async_unload(entry.entry_id)


async def test_only_a_device_the_entry_no_longer_drives_can_be_removed(
    hass: HomeAssistant, loaded: MockConfigEntry
) -> None:
    registry = dr.async_get(hass)
    current = registry.async_get_device_by_identifier((DOMAIN, SERIAL), loaded.entry_id)
    assert current is not None
    stale = registry.async_get_or_create(config_entry_id=loaded.entry_id, identifiers={(DOMAIN, "OLD-0001")})
    assert not await async_remove_config_entry_device(hass, loaded, current)
    assert await async_remove_config_entry_device(hass, loaded, stale)
