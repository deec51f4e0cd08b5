"""Base entity: one device per battery, unique ids from the serial."""

from typing import TYPE_CHECKING, override

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN, signal_state
from .coordinator import BatteryCoordinator

if TYPE_CHECKING:
    from .controller import BatteryController


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
