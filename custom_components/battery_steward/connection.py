"""One connection per battery: the driver factory for each kind, and the one owner of the driver.

`async_connect` builds what an entry's kind needs (the built-in simulator started on loopback
first, a Modbus TCP driver with its register-map profile, or the entity bridge) and returns a
`Connection`. The connection is the only holder of the current driver: the coordinator reads
through `connection.driver`, the runner writes through it, and a transport switch swaps it here
(the emulator is the built-in simulated battery with the device's ratings: hardware-in-the-loop
rehearsal, seed 001's local/remote transport).
"""

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers.update_coordinator import REQUEST_REFRESH_DEFAULT_COOLDOWN

from .bridge import REFRESH_COOLDOWN_S, BridgeConfig, EntityBridgeDriver
from .const import (
    CONF_CAPACITY_KWH,
    CONF_KIND,
    CONF_SERIAL,
    CONF_UNIT,
    DEFAULT_CAPACITY_KWH,
    DOMAIN,
    KIND_BRIDGE,
    KIND_SIMULATOR,
    SIMULATOR_HOST,
    TRANSPORT_DEVICE,
)
from .device.driver import BatteryDriver, DeviceInfo
from .device.modbus import ModbusBatteryDriver
from .device.profiles import RegisterMapError
from .device.simulator import SimConfig, SimulatedBattery
from .register_map import async_profile
from .simulator_state import SimulatorState


class Connection:
    """The battery's driver (and the emulator's, once switched to), owned in one place."""

    def __init__(
        self,
        device: BatteryDriver,
        *,
        simulator: SimulatedBattery | None = None,
        bridge: EntityBridgeDriver | None = None,
        refresh_cooldown_s: float = REQUEST_REFRESH_DEFAULT_COOLDOWN,
    ) -> None:
        """Start on the device."""
        self.device = device
        self.driver: BatteryDriver = device
        self.simulator = simulator
        self.bridge = bridge
        self.refresh_cooldown_s = refresh_cooldown_s
        self.current = TRANSPORT_DEVICE  # the transport in use: device or emulator
        self.emulator: SimulatedBattery | None = None
        self._emulator_driver: ModbusBatteryDriver | None = None

    @property
    def keep_alive_s(self) -> float | None:
        """How often the device's profile must be polled to keep remote control (None: no limit)."""
        return self.device.profile.keep_alive_s if isinstance(self.device, ModbusBatteryDriver) else None

    @property
    def has_emulator(self) -> bool:
        """Only a Modbus battery can be swapped for an emulator (the simulator is one already)."""
        return isinstance(self.device, ModbusBatteryDriver) and self.simulator is None

    async def async_use(self, name: str, info: DeviceInfo) -> None:
        """Make `name` (device or emulator) the current transport, starting the emulator once."""
        self.driver = self.device if name == TRANSPORT_DEVICE else await self._async_emulator(info)
        self.current = name

    async def _async_emulator(self, info: DeviceInfo) -> ModbusBatteryDriver:
        if self.emulator is None or self._emulator_driver is None:
            limits = info.limits
            self.emulator = SimulatedBattery(
                SimConfig(
                    serial=f"{info.serial[:12]}-EMU",
                    model="Emulator",
                    capacity_kwh=info.capacity_kwh,
                    max_charge_w=round(limits.max_charge_w),
                    max_discharge_w=round(limits.max_discharge_w),
                    max_apparent_va=round(limits.max_apparent_va),
                )
            )
            await self.emulator.start(host=SIMULATOR_HOST, port=0)
            self._emulator_driver = ModbusBatteryDriver(SIMULATOR_HOST, self.emulator.port, 1)
            await self._emulator_driver.identify()
        return self._emulator_driver

    async def async_close(self) -> None:
        """Close every driver and stop the simulators this connection started."""
        await self.device.close()
        if self._emulator_driver is not None:
            await self._emulator_driver.close()
        for simulator in (self.simulator, self.emulator):
            if simulator is not None:
                await simulator.stop()


async def async_connect(hass: HomeAssistant, entry: ConfigEntry) -> Connection:
    """The connection for the entry's kind of battery (nothing is read yet)."""
    kind = entry.data[CONF_KIND]
    if kind == KIND_BRIDGE:
        bridge = EntityBridgeDriver(
            hass,
            BridgeConfig.from_data(entry.data),
            entry_id=entry.entry_id,
            serial=entry.data[CONF_SERIAL],
            name=entry.title,
        )
        return Connection(bridge, bridge=bridge, refresh_cooldown_s=REFRESH_COOLDOWN_S)
    if kind == KIND_SIMULATOR:
        simulator = SimulatedBattery(
            SimConfig(
                serial=entry.data[CONF_SERIAL],
                capacity_kwh=entry.data.get(CONF_CAPACITY_KWH, DEFAULT_CAPACITY_KWH),
            )
        )
        await SimulatorState(hass, entry.entry_id).async_restore(simulator)
        await simulator.start(host=SIMULATOR_HOST, port=0)
        return Connection(ModbusBatteryDriver(SIMULATOR_HOST, simulator.port, 1), simulator=simulator)
    try:
        profile = await async_profile(hass, entry.data, entry.options)
    except RegisterMapError as err:
        # Nothing is polled until the map is valid: fix it in the options.
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="invalid_register_map",
            translation_placeholders={"error": str(err)},
        ) from err
    driver = ModbusBatteryDriver(
        entry.data[CONF_HOST], entry.data[CONF_PORT], entry.data[CONF_UNIT], profile=profile
    )
    return Connection(driver)
