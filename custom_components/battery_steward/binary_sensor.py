"""Connectivity of a battery."""

from typing import override

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import PollInterest
from .entity import BatteryEntity, ControllerEntity
from .runtime import BatteryConfigEntry

PARALLEL_UPDATES = 0

CONNECTED = BinarySensorEntityDescription(
    key="connected",
    translation_key="connected",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
)


IN_SYNC = BinarySensorEntityDescription(key="in_sync", translation_key="in_sync")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BatteryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the connected sensor."""
    coordinator = entry.runtime_data.coordinator
    async_add_entities([ConnectedSensor(coordinator, CONNECTED), InSyncSensor(coordinator, IN_SYNC)])


class ConnectedSensor(BatteryEntity, BinarySensorEntity):
    """On while polls succeed; always available, since "disconnected" is itself the truth."""

    poll_interest = PollInterest.READING

    @property
    @override
    def available(self) -> bool:
        return True

    @property
    @override
    def is_on(self) -> bool:
        return self.coordinator.last_update_success


class InSyncSensor(ControllerEntity, BinarySensorEntity):
    """On when the battery is in the state the plan (and override) ask for."""

    @property
    @override
    def available(self) -> bool:
        return self.controller.in_sync is not None

    @property
    @override
    def is_on(self) -> bool | None:
        return self.controller.in_sync
