"""Reconciliation on/off (seed 004's start/stop), per battery."""

from typing import Any, override

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .coordinator import BatteryConfigEntry
from .entity import BatteryEntity, ControllerEntity
from .recording import MeasurementRecording

PARALLEL_UPDATES = 0

RECONCILIATION = SwitchEntityDescription(
    key="reconciliation", translation_key="reconciliation", entity_category=EntityCategory.CONFIG
)

DISPATCH = SwitchEntityDescription(key="dispatch", translation_key="dispatch")

RECORDING = SwitchEntityDescription(
    key="recording", translation_key="recording", entity_category=EntityCategory.CONFIG
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BatteryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the reconciliation switch."""
    coordinator = entry.runtime_data.coordinator
    async_add_entities(
        [
            ReconciliationSwitch(coordinator, RECONCILIATION),
            DispatchSwitch(coordinator, DISPATCH),
            RecordingSwitch(coordinator, RECORDING),
        ]
    )


class ReconciliationSwitch(ControllerEntity, SwitchEntity):
    """Off: drift is no longer corrected; scheduled changes still execute. Survives restart."""

    @property
    @override
    def available(self) -> bool:
        return True

    @property
    @override
    def is_on(self) -> bool:
        return self.controller.reconciliation_enabled

    @override
    async def async_turn_on(self, **kwargs: Any) -> None:
        self.controller.async_set_reconciliation(True)

    @override
    async def async_turn_off(self, **kwargs: Any) -> None:
        self.controller.async_set_reconciliation(False)


class DispatchSwitch(ControllerEntity, SwitchEntity):
    """The dispatch gate: off means nothing is written to the battery. Survives restart."""

    @property
    @override
    def available(self) -> bool:
        return True

    @property
    @override
    def is_on(self) -> bool:
        return self.controller.dispatch_enabled

    @override
    async def async_turn_on(self, **kwargs: Any) -> None:
        self.controller.async_set_dispatch(True)

    @override
    async def async_turn_off(self, **kwargs: Any) -> None:
        self.controller.async_set_dispatch(False)


class RecordingSwitch(BatteryEntity, SwitchEntity, RestoreEntity):
    """Measurement recording to CSV; its state is restored after a restart."""

    @property
    def _recording(self) -> MeasurementRecording:
        return self.coordinator.config_entry.runtime_data.recording

    @property
    @override
    def available(self) -> bool:
        return True

    @property
    @override
    def is_on(self) -> bool:
        return self._recording.running

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any]:
        recording = self._recording
        return {
            "rows_written": recording.rows_written,
            "samples": recording.sampler.samples,
            "skipped_steps": recording.sampler.skipped,
            "failed_samples": recording.sampler.failed,
        }

    @override
    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        if (last := await self.async_get_last_state()) is not None and last.state == "on":
            self._recording.start()

    @override
    async def async_turn_on(self, **kwargs: Any) -> None:
        self._recording.start()
        self.async_write_ha_state()

    @override
    async def async_turn_off(self, **kwargs: Any) -> None:
        await self._recording.async_stop()
        self.async_write_ha_state()
