"""Backup reserve, power and reactive power setpoints: shown as read, set through overrides."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import override

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
)
from homeassistant.const import PERCENTAGE, UnitOfPower, UnitOfReactivePower
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import BatteryCoordinator, PollInterest
from .device.driver import Capabilities, DeviceInfo
from .engine.state import Measurements, Setpoints
from .entity import BatteryEntity
from .runtime import BatteryConfigEntry

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class BatteryNumberDescription(NumberEntityDescription):
    """A writable value: how to read it, how to write it, and its range from the device."""

    field: str
    value_fn: Callable[[Measurements], float]
    setpoints_fn: Callable[[float], Setpoints]
    range_fn: Callable[[DeviceInfo], tuple[float, float]]
    exists_fn: Callable[[Capabilities], bool]


NUMBERS: tuple[BatteryNumberDescription, ...] = (
    BatteryNumberDescription(
        key="backup_reserve",
        field="reserve_pct",
        translation_key="backup_reserve",
        exists_fn=lambda c: c.reserve,
        native_unit_of_measurement=PERCENTAGE,
        native_step=1,
        mode=NumberMode.SLIDER,
        value_fn=lambda m: m.reserve_pct,
        setpoints_fn=lambda v: Setpoints(reserve_pct=v),
        range_fn=lambda i: (i.limits.reserve_min_pct, i.limits.reserve_max_pct),
    ),
    BatteryNumberDescription(
        key="power_setpoint",
        field="power_w",
        translation_key="power_setpoint",
        exists_fn=lambda c: c.power_setpoint,
        device_class=NumberDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        native_step=10,
        mode=NumberMode.BOX,
        value_fn=lambda m: m.power_setpoint_w,
        setpoints_fn=lambda v: Setpoints(power_w=v),
        range_fn=lambda i: (-i.limits.max_charge_w, i.limits.max_discharge_w),
    ),
    BatteryNumberDescription(
        key="reactive_power_setpoint",
        field="reactive_var",
        translation_key="reactive_power_setpoint",
        exists_fn=lambda c: c.reactive_power,
        device_class=NumberDeviceClass.REACTIVE_POWER,
        native_unit_of_measurement=UnitOfReactivePower.VOLT_AMPERE_REACTIVE,
        native_step=10,
        mode=NumberMode.BOX,
        value_fn=lambda m: m.reactive_setpoint_var,
        setpoints_fn=lambda v: Setpoints(reactive_var=v),
        range_fn=lambda i: (-i.limits.max_reactive_var, i.limits.max_reactive_var),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BatteryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the writable numbers."""
    coordinator = entry.runtime_data.coordinator
    capabilities = coordinator.info.capabilities
    async_add_entities(
        BatteryNumber(coordinator, description)
        for description in NUMBERS
        if description.exists_fn(capabilities)
    )


class BatteryNumber(BatteryEntity, NumberEntity):
    """A setpoint shown as the battery reports it; a change becomes an override the controller writes."""

    poll_interest = PollInterest.READING

    entity_description: BatteryNumberDescription

    def __init__(self, coordinator: BatteryCoordinator, description: BatteryNumberDescription) -> None:
        """Bound the range by what the device accepts."""
        super().__init__(coordinator, description)
        self._attr_native_min_value, self._attr_native_max_value = description.range_fn(coordinator.info)

    @property
    @override
    def native_value(self) -> float:
        return self.entity_description.value_fn(self.coordinator.data)

    @override
    async def async_set_native_value(self, value: float) -> None:
        await self.async_check_control()
        await self.controller.async_set_override(
            self.entity_description.setpoints_fn(value), context=self._context
        )
