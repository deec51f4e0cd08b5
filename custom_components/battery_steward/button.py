"""Buttons: reconcile now (a fresh read and a run), safe stop and restore."""

from typing import override

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN
from .entity import ControllerEntity
from .runtime import BatteryConfigEntry

PARALLEL_UPDATES = 1

RECONCILE_NOW = ButtonEntityDescription(key="reconcile_now", translation_key="reconcile_now")

SAFE_STOP = ButtonEntityDescription(key="safe_stop", translation_key="safe_stop")

RESTORE = ButtonEntityDescription(key="restore", translation_key="restore")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BatteryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the reconcile-now button."""
    coordinator = entry.runtime_data.coordinator
    async_add_entities(
        [
            ReconcileNowButton(coordinator, RECONCILE_NOW),
            SafeStopButton(coordinator, SAFE_STOP),
            RestoreButton(coordinator, RESTORE),
        ]
    )


class ReconcileNowButton(ControllerEntity, ButtonEntity):
    """Bring the battery to the desired state now."""

    @override
    async def async_press(self) -> None:
        await self.async_check_control()
        await self.controller.async_reconcile_now(context=self._context)


class SafeStopButton(ControllerEntity, ButtonEntity):
    """Stop the plant safely with the threshold and timeout of the options (the action returns data)."""

    @override
    async def async_press(self) -> None:
        await self.async_check_control()
        result = await self.controller.async_safe_stop(context=self._context)
        if not result.ok:  # as Reconcile now does: the press says it failed, and why
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="safe_stop_failed",
                translation_placeholders={"battery": self.controller.name, "reason": result.reason},
            )


class RestoreButton(ControllerEntity, ButtonEntity):
    """After a safe stop: re-enable the plant and hand control back to the schedule (the restore action)."""

    @override
    async def async_press(self) -> None:
        await self.async_check_control()
        await self.controller.async_restore()
