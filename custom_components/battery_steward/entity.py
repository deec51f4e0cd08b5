"""Base entity: one device per battery, unique ids from the serial."""

from typing import TYPE_CHECKING, override

from homeassistant.auth.permissions.const import POLICY_CONTROL
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import callback
from homeassistant.exceptions import Unauthorized
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import CONF_ADMIN_ONLY, DOMAIN, signal_state
from .coordinator import BatteryCoordinator

if TYPE_CHECKING:
    from .controller import BatteryController


def admin_only(entry: ConfigEntry) -> bool:
    """Whether only administrators control this battery.

    The option when set; by default on for a plant that can be disabled (an enable flag: the
    steward plant, SunSpec storage, a custom map with one), off for home batteries (Marstek, the
    entity bridge), and on while the device is not known yet.
    """
    if CONF_ADMIN_ONLY in entry.options:
        return bool(entry.options[CONF_ADMIN_ONLY])
    runtime = getattr(entry, "runtime_data", None)
    return runtime is None or bool(runtime.coordinator.info.capabilities.enable)


class BatteryEntity(CoordinatorEntity[BatteryCoordinator]):
    """Reads coordinator data; never talks Modbus itself except through the driver's writes."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: BatteryCoordinator, description: EntityDescription) -> None:
        """Attach the entity to the battery's device."""
        super().__init__(coordinator)
        self.entity_description = description
        info = coordinator.info
        self._attr_unique_id = f"{info.serial}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, info.serial)},
            manufacturer=info.manufacturer,
            model=info.model,
            serial_number=info.serial,
            sw_version=info.firmware,
            name=coordinator.config_entry.title,
        )

    @property
    def controller(self) -> BatteryController:
        """The battery's controller (overrides, runs, plan)."""
        return self.coordinator.config_entry.runtime_data.controller

    async def async_check_control(self) -> None:
        """Refuse the call's user unless an administrator, where only administrators control it.

        Every entity action calls this first (the actions of services.py are admin-only
        already). A call without a user (automations, scripts, Home Assistant itself) is allowed,
        as Home Assistant's own admin services allow it.
        """
        context = self._context
        if context is None or context.user_id is None or not admin_only(self.coordinator.config_entry):
            return
        user = await self.hass.auth.async_get_user(context.user_id)
        if user is None or not user.is_admin:
            raise Unauthorized(context=context, entity_id=self.entity_id, permission=POLICY_CONTROL)


class ControllerEntity(BatteryEntity):
    """An entity that shows the controller's state: updates on its signal too.

    The controller's state is known whether or not the battery answers, so these entities stay
    available; those that need a reading say so themselves.
    """

    @property
    @override
    def available(self) -> bool:
        return True

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        """Nothing: the controller signals after every coordinator update.

        Writing here too wrote each of these entities twice per poll (found by poll_cost.py).
        """

    async def async_added_to_hass(self) -> None:
        """Follow the controller (which follows the coordinator)."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass,
                signal_state(self.coordinator.config_entry.entry_id),
                self.async_write_ha_state,
            )
        )
