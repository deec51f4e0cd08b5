"""Battery Steward: keeps home and lab batteries on plan."""

from homeassistant.const import CONF_HOST, CONF_PORT, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady

from .const import (
    CONF_CAPACITY_KWH,
    CONF_KIND,
    CONF_SERIAL,
    CONF_UNIT,
    DEFAULT_CAPACITY_KWH,
    KIND_SIMULATOR,
    SIMULATOR_HOST,
)
from .coordinator import BatteryConfigEntry, BatteryCoordinator, BatteryRuntimeData
from .device.modbus import ModbusBatteryDriver
from .device.simulator import SimConfig, SimulatedBattery

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
]


async def async_setup_entry(hass: HomeAssistant, entry: BatteryConfigEntry) -> bool:
    """Connect to the battery (starting the built-in simulator first if chosen) and poll it."""
    simulator: SimulatedBattery | None = None
    if entry.data[CONF_KIND] == KIND_SIMULATOR:
        simulator = SimulatedBattery(
            SimConfig(
                serial=entry.data[CONF_SERIAL],
                capacity_kwh=entry.data.get(CONF_CAPACITY_KWH, DEFAULT_CAPACITY_KWH),
            )
        )
        await simulator.start(host=SIMULATOR_HOST, port=0)
        driver = ModbusBatteryDriver(SIMULATOR_HOST, simulator.port, 1)
    else:
        driver = ModbusBatteryDriver(entry.data[CONF_HOST], entry.data[CONF_PORT], entry.data[CONF_UNIT])
    coordinator = BatteryCoordinator(hass, entry, driver)
    try:
        await coordinator.async_config_entry_first_refresh()
    except ConfigEntryNotReady:
        await _async_close(driver, simulator)
        raise
    entry.runtime_data = BatteryRuntimeData(driver=driver, coordinator=coordinator, simulator=simulator)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: BatteryConfigEntry) -> bool:
    """Unload platforms, close the connection and stop the built-in simulator."""
    if unloaded := await hass.config_entries.async_unload_platforms(entry, PLATFORMS):
        await _async_close(entry.runtime_data.driver, entry.runtime_data.simulator)
    return unloaded


async def _async_close(driver: ModbusBatteryDriver, simulator: SimulatedBattery | None) -> None:
    await driver.close()
    if simulator is not None:
        await simulator.stop()
