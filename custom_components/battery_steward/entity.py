"""Base entity: one device per battery, unique ids from the serial."""

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import BatteryCoordinator


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
