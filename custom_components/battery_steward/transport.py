"""Transport per battery: the configured device, or an emulator standing in for it.

The emulator is the built-in simulated battery with the device's ratings: hardware-in-the-loop
rehearsal, seed 001's local/remote transport.
"""

from .const import SIMULATOR_HOST
from .device.driver import DeviceInfo
from .device.modbus import ModbusBatteryDriver
from .device.simulator import SimConfig, SimulatedBattery

TRANSPORT_DEVICE = "device"
TRANSPORT_EMULATOR = "emulator"
TRANSPORTS = (TRANSPORT_DEVICE, TRANSPORT_EMULATOR)


class Transports:
    """The device's driver and, once asked for, an emulator with the device's ratings."""

    def __init__(self, device: ModbusBatteryDriver) -> None:
        """Start on the device."""
        self.device = device
        self.current = TRANSPORT_DEVICE
        self.emulator: SimulatedBattery | None = None
        self._emulator_driver: ModbusBatteryDriver | None = None

    async def async_driver(self, name: str, info: DeviceInfo) -> ModbusBatteryDriver:
        """The driver for `name`, starting the emulator (on loopback) the first time."""
        if name == TRANSPORT_DEVICE:
            return self.device
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
        """Close the emulator's connection and stop it."""
        if self._emulator_driver is not None:
            await self._emulator_driver.close()
        if self.emulator is not None:
            await self.emulator.stop()
