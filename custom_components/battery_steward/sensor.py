"""Measurement sensors of a battery."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    EntityCategory,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfPower,
    UnitOfReactivePower,
    UnitOfTemperature,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .api.fetcher import ScheduleFetcher
from .controller import BatteryController, PlantState
from .coordinator import BatteryCoordinator, PollInterest
from .device.driver import Capabilities
from .engine.journal import Result
from .engine.state import Measurements, Mode
from .entity import BatteryEntity, ControllerEntity, StewardEntity
from .runtime import BatteryConfigEntry

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class BatterySensorDescription(SensorEntityDescription):
    """A sensor that reads one value of the last poll."""

    value_fn: Callable[[Measurements], float | None]
    exists_fn: Callable[[Capabilities], bool] = lambda _: True


SENSORS: tuple[BatterySensorDescription, ...] = (
    BatterySensorDescription(
        key="state_of_charge",
        translation_key="state_of_charge",
        device_class=SensorDeviceClass.BATTERY,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda m: m.soc_pct,
    ),
    BatterySensorDescription(
        key="active_power",
        translation_key="active_power",
        exists_fn=lambda c: c.active_power,
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda m: m.active_power_w,
    ),
    BatterySensorDescription(
        key="reactive_power",
        translation_key="reactive_power",
        exists_fn=lambda c: c.reactive_power,
        device_class=SensorDeviceClass.REACTIVE_POWER,
        native_unit_of_measurement=UnitOfReactivePower.VOLT_AMPERE_REACTIVE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda m: m.reactive_power_var,
    ),
    BatterySensorDescription(
        key="battery_voltage",
        translation_key="battery_voltage",
        exists_fn=lambda c: c.voltage,
        device_class=SensorDeviceClass.VOLTAGE,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        # Changes at every poll and few users need it: enable it in the entity settings.
        entity_registry_enabled_default=False,
        suggested_display_precision=1,
        value_fn=lambda m: m.voltage_v,
    ),
    BatterySensorDescription(
        key="battery_temperature",
        translation_key="battery_temperature",
        exists_fn=lambda c: c.temperature,
        device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        suggested_display_precision=1,
        value_fn=lambda m: m.temperature_c,
    ),
    BatterySensorDescription(
        key="charge_energy",
        translation_key="charge_energy",
        exists_fn=lambda c: c.energy,
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=2,
        value_fn=lambda m: m.charge_energy_kwh,
    ),
    BatterySensorDescription(
        key="discharge_energy",
        translation_key="discharge_energy",
        exists_fn=lambda c: c.energy,
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=2,
        value_fn=lambda m: m.discharge_energy_kwh,
    ),
)


@dataclass(frozen=True, kw_only=True)
class ControllerSensorDescription(SensorEntityDescription):
    """A sensor that shows the controller's state.

    available_fn: whether there is something true to show. A desired reserve or a next change
    that nothing plans is unavailable by design (docs/configuration.md), not "Unknown".
    """

    value_fn: Callable[[BatteryController], StateType | datetime]
    available_fn: Callable[[BatteryController], bool] = lambda _: True
    exists_fn: Callable[[Capabilities, frozenset[str]], bool] = lambda _c, _w: True


NOT_PLANNED = "not_planned"  # desired mode when no item, default or override sets one


def _last_result(controller: BatteryController) -> str | None:
    last = controller.journal.last_run
    return last.result.value if last else None


CONTROLLER_SENSORS: tuple[ControllerSensorDescription, ...] = (
    ControllerSensorDescription(
        key="next_change",
        translation_key="next_change",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda c: c.next_change,
        available_fn=lambda c: c.next_change is not None,
    ),
    ControllerSensorDescription(
        key="desired_mode",
        translation_key="desired_mode",
        device_class=SensorDeviceClass.ENUM,
        options=[*(mode.value for mode in Mode), NOT_PLANNED],
        value_fn=lambda c: c.desired.mode.value if c.desired.mode else NOT_PLANNED,
        exists_fn=lambda _c, writable: "mode" in writable,
    ),
    ControllerSensorDescription(
        key="desired_reserve",
        translation_key="desired_reserve",
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=0,
        value_fn=lambda c: c.desired.reserve_pct,
        available_fn=lambda c: c.desired.reserve_pct is not None,
        exists_fn=lambda capabilities, _w: capabilities.reserve,
    ),
    ControllerSensorDescription(
        key="plant_state",
        translation_key="plant_state",
        device_class=SensorDeviceClass.ENUM,
        options=[state.value for state in PlantState],
        value_fn=lambda c: c.plant_state.value,
    ),
    ControllerSensorDescription(
        key="last_run_result",
        translation_key="last_run_result",
        device_class=SensorDeviceClass.ENUM,
        options=[result.value for result in Result],
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_last_result,
    ),
)


SCHEDULE_API = SensorEntityDescription(
    key="schedule_api",
    translation_key="schedule_api",
    device_class=SensorDeviceClass.TIMESTAMP,
    entity_category=EntityCategory.DIAGNOSTIC,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BatteryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the measurement sensors and the last-seen sensor."""
    coordinator = entry.runtime_data.coordinator
    capabilities = coordinator.info.capabilities
    entities: list[SensorEntity] = [
        BatterySensor(coordinator, description)
        for description in SENSORS
        if description.exists_fn(capabilities)
    ]
    entities.append(LastSeenSensor(coordinator))
    entities.extend(
        ControllerSensor(coordinator, description)
        for description in CONTROLLER_SENSORS
        if description.exists_fn(capabilities, coordinator.info.writable)
    )
    if (fetcher := entry.runtime_data.fetcher) is not None:
        entities.append(ScheduleApiSensor(fetcher, coordinator, SCHEDULE_API))
    async_add_entities(entities)


class BatterySensor(BatteryEntity, SensorEntity):
    """One measured value; unavailable while the battery cannot be read."""

    poll_interest = PollInterest.READING

    entity_description: BatterySensorDescription

    @property
    @override
    def native_value(self) -> float | None:
        return self.entity_description.value_fn(self.coordinator.data)

    @override
    def _shown(self) -> tuple[Any, ...]:
        # The state follows from the value alone (unit and precision are fixed).
        return (self.available, self.native_value)


class LastSeenSensor(BatteryEntity, SensorEntity):
    """When the battery last answered, written only when its connection changes.

    Written at every poll it would add one *Activity* entry per poll (a timestamp is not a
    measurement, so the logbook keeps every change): about 8,640 a day at 10 s. So it changes once
    when the battery is lost (its last answer: how long the outage has lasted) and once when it is
    back (that answer); *Connected* tells which. It stays available through an outage.
    """

    _attr_device_class = SensorDeviceClass.TIMESTAMP
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    poll_interest = PollInterest.READING  # a success after a failure is a new reading too

    def __init__(self, coordinator: BatteryCoordinator) -> None:
        """The last successful poll at the last connection change."""
        super().__init__(coordinator, SensorEntityDescription(key="last_seen", translation_key="last_seen"))
        self._connected = coordinator.last_update_success
        self._attr_native_value = coordinator.last_seen

    @property
    @override
    def available(self) -> bool:
        return self._attr_native_value is not None

    @override
    def _shown(self) -> tuple[Any, ...]:
        # The state follows from the timestamp alone.
        return (self.available, self._attr_native_value)

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        if self.coordinator.last_update_success != self._connected or self._attr_native_value is None:
            self._connected = self.coordinator.last_update_success
            self._attr_native_value = self.coordinator.last_seen
        super()._handle_coordinator_update()


class ControllerSensor(ControllerEntity, SensorEntity):
    """What the controller wants and did; available whatever the battery's connection."""

    entity_description: ControllerSensorDescription

    @property
    @override
    def available(self) -> bool:
        return self.entity_description.available_fn(self.controller)

    @property
    @override
    def native_value(self) -> StateType | datetime:
        return self.entity_description.value_fn(self.controller)

    @override
    def _shown(self) -> tuple[Any, ...]:
        if self.entity_description.key == "last_run_result":
            # Its attributes follow from the record alone (a frozen record, compared by identity
            # first): not rebuilt on every poll.
            return (self.native_value, self.controller.journal.last_run)
        return (self.native_value,)

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any] | None:
        if self.entity_description.key != "last_run_result" or self.controller.journal.last_run is None:
            return None
        last = self.controller.journal.last_run.as_dict()
        return {
            "trigger": last["trigger"],
            "scheduled": last["scheduled"],
            "executed": last["executed"],
            "fields": last["fields"],
            "error": last["error"],
            "items": last["items"],  # field -> item id, for runs that say which item set it
        }


class ScheduleApiSensor(StewardEntity[ScheduleFetcher], SensorEntity):
    """Last successful fetch from the schedule API; fetch and posting status as attributes.

    An entity of the fetcher's coordinator: it updates when a fetch ends, and stays available
    when one fails (the status says why).
    """

    @property
    @override
    def available(self) -> bool:
        return True

    @property
    @override
    def native_value(self) -> datetime | None:
        return self.coordinator.status.last_success

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any]:
        runtime = self.runtime
        attributes: dict[str, Any] = self.coordinator.status.as_dict()
        if runtime.poster is not None:
            attributes |= {f"post_{key}": value for key, value in runtime.poster.status().items()}
        return attributes
