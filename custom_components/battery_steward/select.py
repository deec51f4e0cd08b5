"""Operating mode of a battery."""

from typing import Any, override

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import SOURCES, TRANSPORTS
from .coordinator import BatteryCoordinator, PollInterest
from .engine.state import Mode, Setpoints
from .entity import BatteryEntity, ControllerEntity
from .runtime import BatteryConfigEntry, confirmation

PARALLEL_UPDATES = 1

OPERATING_MODE = SelectEntityDescription(
    key="operating_mode",
    translation_key="operating_mode",
    options=[mode.value for mode in Mode],
)

SCHEDULE_SOURCE = SelectEntityDescription(
    key="schedule_source", translation_key="schedule_source", options=list(SOURCES)
)

TRANSPORT = SelectEntityDescription(key="transport", translation_key="transport", options=list(TRANSPORTS))


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BatteryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the operating mode select."""
    coordinator = entry.runtime_data.coordinator
    entities: list[SelectEntity] = [ScheduleSourceSelect(coordinator, SCHEDULE_SOURCE)]
    info = coordinator.info
    if "mode" in info.writable:  # offered with the modes the device can be told (see below)
        entities.insert(0, OperatingModeSelect(coordinator, OPERATING_MODE))
    if entry.runtime_data.transports is not None:  # offered when a device and an emulator exist
        entities.append(TransportSelect(coordinator, TRANSPORT))
    async_add_entities(entities)


class OperatingModeSelect(BatteryEntity, SelectEntity):
    """Auto, force charge, force discharge or idle: those the device has."""

    poll_interest = PollInterest.READING

    def __init__(self, coordinator: BatteryCoordinator, description: SelectEntityDescription) -> None:
        """Offer only the modes the device's profile supports."""
        super().__init__(coordinator, description)
        modes = coordinator.info.capabilities.modes
        self._attr_options = [mode.value for mode in Mode if mode in modes]

    @property
    @override
    def current_option(self) -> str | None:
        mode = self.coordinator.data.mode
        return mode.value if mode is not None else None

    @override
    async def async_select_option(self, option: str) -> None:
        await self.async_check_control()
        await self.controller.async_set_override(Setpoints(mode=Mode(option)), context=self._context)


class ScheduleSourceSelect(ControllerEntity, SelectEntity):
    """Manual items or the day-ahead series; switching safe-stops the plant first."""

    @property
    @override
    def current_option(self) -> str:
        return self.controller.source

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any]:
        return {"switching": self.controller.switching}

    @override
    async def async_select_option(self, option: str) -> None:
        await self.async_check_control()
        if option != self.controller.source:  # switching safe-stops the plant: confirmed first
            confirmation(self.hass, self.coordinator.config_entry).take(self.controller.name)
        await self.controller.async_set_source(option, context=self._context)


class TransportSelect(ControllerEntity, SelectEntity):
    """The configured device or the built-in emulator; switching safe-stops the plant first."""

    @property
    @override
    def current_option(self) -> str:
        return self.runtime.connection.current

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any]:
        return {"switching": self.controller.switching}

    @override
    async def async_select_option(self, option: str) -> None:
        await self.async_check_control()
        if option != self.current_option:  # switching safe-stops the plant: confirmed first
            confirmation(self.hass, self.coordinator.config_entry).take(self.controller.name)
        await self.controller.async_set_transport(option, context=self._context)
