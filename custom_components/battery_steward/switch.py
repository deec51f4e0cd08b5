"""Reconciliation on/off (seed 004's start/stop), per battery."""

from typing import Any, override

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import BatteryConfigEntry
from .entity import ControllerEntity

PARALLEL_UPDATES = 0

RECONCILIATION = SwitchEntityDescription(
    key="reconciliation", translation_key="reconciliation", entity_category=EntityCategory.CONFIG
)

DISPATCH = SwitchEntityDescription(key="dispatch", translation_key="dispatch")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BatteryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the reconciliation switch."""
    coordinator = entry.runtime_data.coordinator
    async_add_entities(
        [ReconciliationSwitch(coordinator, RECONCILIATION), DispatchSwitch(coordinator, DISPATCH)]
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
