"""Switches: reconciliation (seed 004's start/stop), dispatch gate, plant enable flag, recording."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, override

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .confirm import SwitchConfirmation
from .controller import BatteryController
from .coordinator import BatteryCoordinator, PollInterest
from .entity import BatteryEntity, ControllerEntity
from .item_switch import async_follow_items
from .recording import MeasurementRecording
from .runtime import BatteryConfigEntry, confirmation

# One write at a time: the plant-enabled switch writes to the battery.
PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class ControllerSwitchDescription(SwitchEntityDescription):
    """A controller flag: how to read it and how to set it."""

    is_on_fn: Callable[[BatteryController], bool]
    set_fn: Callable[[BatteryController, bool, Context | None], None]


CONTROLLER_SWITCHES: tuple[ControllerSwitchDescription, ...] = (
    # Off: drift is no longer corrected; scheduled changes still execute (seed 004).
    ControllerSwitchDescription(
        key="reconciliation",
        translation_key="reconciliation",
        entity_category=EntityCategory.CONFIG,
        is_on_fn=lambda c: c.reconciliation_enabled,
        set_fn=lambda c, on, context: c.async_set_reconciliation(on, context=context),
    ),
    # The dispatch gate: off means nothing is written to the battery.
    ControllerSwitchDescription(
        key="dispatch",
        translation_key="dispatch",
        is_on_fn=lambda c: c.dispatch_enabled,
        set_fn=lambda c, on, context: c.async_set_dispatch(on, context=context),
    ),
)

SWITCH_CONFIRM = SwitchEntityDescription(key="switch_confirm", translation_key="switch_confirm")

PLANT_ENABLED = SwitchEntityDescription(key="plant_enabled", translation_key="plant_enabled")

RECORDING = SwitchEntityDescription(
    key="recording", translation_key="recording", entity_category=EntityCategory.CONFIG
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BatteryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the switches."""
    coordinator = entry.runtime_data.coordinator
    entities: list[SwitchEntity] = [ControllerSwitch(coordinator, d) for d in CONTROLLER_SWITCHES]
    if coordinator.info.capabilities.enable:
        entities.append(PlantEnabledSwitch(coordinator, PLANT_ENABLED))
    entities.append(RecordingSwitch(coordinator, RECORDING))
    entities.append(SwitchConfirmSwitch(coordinator, SWITCH_CONFIRM, confirmation(hass, entry)))
    async_add_entities(entities)
    entry.async_on_unload(async_follow_items(hass, entry, async_add_entities))


class ControllerSwitch(ControllerEntity, SwitchEntity):
    """A controller flag; the controller persists it, so it survives restart."""

    entity_description: ControllerSwitchDescription

    @property
    @override
    def is_on(self) -> bool:
        return self.entity_description.is_on_fn(self.controller)

    @override
    async def async_turn_on(self, **kwargs: Any) -> None:
        await self.async_check_control()
        self.entity_description.set_fn(self.controller, True, self._context)

    @override
    async def async_turn_off(self, **kwargs: Any) -> None:
        await self.async_check_control()
        self.entity_description.set_fn(self.controller, False, self._context)


class PlantEnabledSwitch(BatteryEntity, SwitchEntity):
    """The plant's enable flag as the battery reports it; off is the inverter off (P = Q = 0).

    Unavailable while the battery cannot be read: it shows the device, not a wish.
    """

    poll_interest = PollInterest.READING

    @property
    @override
    def is_on(self) -> bool | None:
        data = self.coordinator.data
        return None if data is None else data.enabled

    @override
    async def async_turn_on(self, **kwargs: Any) -> None:
        await self.async_check_control()
        await self.controller.async_set_plant_enabled(True, context=self._context)

    @override
    async def async_turn_off(self, **kwargs: Any) -> None:
        await self.async_check_control()
        await self.controller.async_set_plant_enabled(False, context=self._context)


_FIGURES = ("rows_written", "samples", "skipped_steps", "failed_samples")


class RecordingSwitch(BatteryEntity, SwitchEntity, RestoreEntity):
    """Measurement recording to CSV; its state is restored after a restart."""

    @property
    def _recording(self) -> MeasurementRecording:
        return self.runtime.recording

    @property
    @override
    def available(self) -> bool:
        return True

    @property
    @override
    def is_on(self) -> bool:
        return self._recording.running

    def _figures(self) -> tuple[int, int, int, int]:
        """Rows written, samples, skipped steps and failed samples."""
        recording = self._recording
        sampler = recording.sampler
        return (recording.rows_written, sampler.samples, sampler.skipped, sampler.failed)

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any]:
        return dict(zip(_FIGURES, self._figures(), strict=True))

    @override
    def _shown(self) -> tuple[Any, ...]:
        # The state and attributes follow from these alone (checked after every poll).
        return (self._recording.running, *self._figures())

    @override
    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        if (last := await self.async_get_last_state()) is not None and last.state == "on":
            self._recording.start()

    @override
    async def async_turn_on(self, **kwargs: Any) -> None:
        await self.async_check_control()
        self._recording.start()
        self.async_write_ha_state()

    @override
    async def async_turn_off(self, **kwargs: Any) -> None:
        await self.async_check_control()
        await self._recording.async_stop()
        self.async_write_ha_state()


class SwitchConfirmSwitch(ControllerEntity, SwitchEntity):
    """Confirms the next schedule source or transport switch (confirm.py); off again after it or a minute."""

    def __init__(
        self, coordinator: BatteryCoordinator, description: SwitchEntityDescription, armed: SwitchConfirmation
    ) -> None:
        """Shows and sets the battery's confirmation."""
        super().__init__(coordinator, description)
        self._confirmation = armed

    @property
    @override
    def is_on(self) -> bool:
        return self._confirmation.armed

    @override
    async def async_turn_on(self, **kwargs: Any) -> None:
        await self.async_check_control()
        self._confirmation.arm()

    @override
    async def async_turn_off(self, **kwargs: Any) -> None:
        await self.async_check_control()
        self._confirmation.disarm()
