"""The built-in simulated battery keeps its state (SoC, mode, reserve, ...) across reloads and restarts.

Without this, saving *Configure* or restarting Home Assistant put a simulated battery back to 50 %
and its default mode and reserve, which a real battery never does.
"""

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .const import DOMAIN
from .device.simulator import SimulatedBattery

STORAGE_VERSION = 1


class SimulatorState:
    """One store per simulated battery (entry)."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Nothing is read until async_restore."""
        self._store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.simulator")

    async def async_restore(self, simulator: SimulatedBattery) -> None:
        """Put the simulated battery back where it was (before it starts)."""
        if (state := await self._store.async_load()) is not None:
            simulator.model.restore(state)

    async def async_save(self, simulator: SimulatedBattery) -> None:
        """Save now: at every unload (a reload too) and when Home Assistant stops."""
        await self._store.async_save(_state(simulator))

    async def async_remove(self) -> None:
        """The battery was deleted."""
        await self._store.async_remove()


def _state(simulator: SimulatedBattery) -> dict[str, Any]:
    simulator.sync()  # the physics up to now
    return dict(simulator.model.snapshot())
