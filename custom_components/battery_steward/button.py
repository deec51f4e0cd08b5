"""Reconcile now: a fresh read and a run, on demand."""

from typing import override

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import BatteryConfigEntry
from .entity import ControllerEntity

PARALLEL_UPDATES = 1

RECONCILE_NOW = ButtonEntityDescription(key="reconcile_now", translation_key="reconcile_now")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BatteryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the reconcile-now button."""
    async_add_entities([ReconcileNowButton(entry.runtime_data.coordinator, RECONCILE_NOW)])


class ReconcileNowButton(ControllerEntity, ButtonEntity):
    """Bring the battery to the desired state now."""

    @override
    async def async_press(self) -> None:
        await self.controller.async_reconcile_now()
