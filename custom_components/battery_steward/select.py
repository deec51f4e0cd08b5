"""Operating mode of a battery."""

from typing import override

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import BatteryConfigEntry
from .engine.state import Mode, Setpoints
from .entity import BatteryEntity

PARALLEL_UPDATES = 1

OPERATING_MODE = SelectEntityDescription(
    key="operating_mode",
    translation_key="operating_mode",
    options=[mode.value for mode in Mode],
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BatteryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the operating mode select."""
    async_add_entities([OperatingModeSelect(entry.runtime_data.coordinator, OPERATING_MODE)])


class OperatingModeSelect(BatteryEntity, SelectEntity):
    """Auto, force charge, force discharge or idle."""

    @property
    @override
    def current_option(self) -> str:
        return self.coordinator.data.mode.value

    @override
    async def async_select_option(self, option: str) -> None:
        await self.controller.async_set_override(Setpoints(mode=Mode(option)))
