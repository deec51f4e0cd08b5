"""What a loaded entry owns (core's `models.py` / `runtime.py` pattern), in one place.

Kept apart from the coordinator so that the coordinator imports no higher module: this module
may name every object an entry owns, the coordinator only its connection.
"""

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant

from .api.fetcher import ScheduleFetcher
from .confirm import SwitchConfirmation
from .connection import Connection
from .controller import BatteryController
from .coordinator import BatteryCoordinator
from .device.driver import BatteryDriver
from .device.simulator import SimulatedBattery
from .recording import MeasurementRecording
from .remote.poster import MeasurementPoster


@dataclass(kw_only=True)
class BatteryRuntimeData:
    """What a loaded entry owns; closed and stopped on unload."""

    connection: Connection
    coordinator: BatteryCoordinator
    controller: BatteryController
    recording: MeasurementRecording
    fetcher: ScheduleFetcher | None = None
    poster: MeasurementPoster | None = None
    confirmation: SwitchConfirmation | None = None  # confirm.py: source and transport switches

    @property
    def driver(self) -> BatteryDriver:
        """The configured device's driver (the connection owns it)."""
        return self.connection.device

    @property
    def simulator(self) -> SimulatedBattery | None:
        """The built-in simulator, for a simulated battery."""
        return self.connection.simulator

    @property
    def transports(self) -> Connection | None:
        """The connection, where it offers a choice of transport (device or emulator)."""
        return self.connection if self.connection.has_emulator else None


type BatteryConfigEntry = ConfigEntry[BatteryRuntimeData]


def confirmation(hass: HomeAssistant, entry: BatteryConfigEntry) -> SwitchConfirmation:
    """The battery's confirmation (made by the first platform that needs it, dropped on unload)."""
    runtime = entry.runtime_data
    if runtime.confirmation is None:
        made = runtime.confirmation = SwitchConfirmation(hass, entry.entry_id)
        unload: Callable[[], None] = made._clear
        entry.async_on_unload(unload)
    return runtime.confirmation
