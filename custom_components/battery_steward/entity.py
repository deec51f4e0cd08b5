"""Base entities: one device per battery, unique ids from the serial.

`StewardEntity` is generic over the coordinator it follows (as core's `PeblarEntity[_CoordinatorT]`):
the battery's measurements (`BatteryCoordinator`) or its schedule API fetcher, whose status sensor
is then an entity of the fetcher's coordinator. Entities write to the battery only through the
controller (its runner is the one write path).
"""

from datetime import datetime
from typing import Any, override

from homeassistant.auth.permissions.const import POLICY_CONTROL
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import callback
from homeassistant.exceptions import Unauthorized
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity, DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .const import CONF_ADMIN_ONLY, DOMAIN, signal_state
from .controller import BatteryController
from .coordinator import BatteryCoordinator, PollInterest
from .runtime import BatteryRuntimeData


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


class StewardEntity[CoordinatorT: DataUpdateCoordinator[Any]](CoordinatorEntity[CoordinatorT]):
    """An entity of one battery's device that follows one of the battery's coordinators."""

    _attr_has_entity_name = True

    def __init__(
        self, coordinator: CoordinatorT, battery: BatteryCoordinator, description: EntityDescription
    ) -> None:
        """Attach the entity to the battery's device (identified by `battery`)."""
        super().__init__(coordinator)
        self.entity_description = description
        info = battery.info
        self.runtime: BatteryRuntimeData = battery.config_entry.runtime_data
        self.runtime_entry: ConfigEntry[Any] = battery.config_entry
        self._attr_unique_id = f"{info.serial}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, info.serial)},
            manufacturer=info.manufacturer,
            model=info.model,
            serial_number=info.serial,
            sw_version=info.firmware,
            name=battery.config_entry.title,
        )

    @property
    def controller(self) -> BatteryController:
        """The battery's controller (overrides, runs, plan)."""
        return self.runtime.controller

    async def async_check_control(self) -> None:
        """Refuse the call's user unless an administrator, where only administrators control it.

        Every entity action calls this first (the actions of services.py are admin-only
        already). A call without a user (automations, scripts, Home Assistant itself) is allowed,
        as Home Assistant's own admin services allow it.
        """
        context = self._context
        if context is None or context.user_id is None or not admin_only(self.runtime_entry):
            return
        user = await self.hass.auth.async_get_user(context.user_id)
        if user is None or not user.is_admin:
            raise Unauthorized(context=context, entity_id=self.entity_id, permission=POLICY_CONTROL)

    # What the entity showed when it last wrote its state through write_if_changed (None: unknown,
    # as after any other write). Writing a state costs far more than computing it (found by
    # benchmarks/poll_cost.py), and most polls change few of a battery's ~27 entities.
    _last_shown: tuple[Any, ...] | None = None

    def _shown(self) -> tuple[Any, ...]:
        """What the user sees: availability, state and attributes."""
        if not self.available:
            return (False,)
        return (True, self.state, self.state_attributes, self.extra_state_attributes)

    @callback
    def write_if_changed(self) -> None:
        """Write the state only when what the entity shows changed since it last wrote it."""
        shown = self._shown()
        if shown != self._last_shown:
            self.async_write_ha_state()
            self._last_shown = shown

    @callback
    @override
    def _async_write_ha_state(self) -> None:
        self._last_shown = None  # a write from anywhere else: compare afresh next time
        super()._async_write_ha_state()

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        self.write_if_changed()


class BatteryEntity(StewardEntity[BatteryCoordinator]):
    """Reads the battery's measurements (coordinator data)."""

    # Which polls the entity is told of (coordinator.PollInterest): READING when what it shows
    # follows from the reading and the poll's success alone, so a poll that brought the same
    # reading (the coordinator keeps the same object) does not make it work out its state again.
    poll_interest = PollInterest.EVERY_POLL

    def __init__(self, coordinator: BatteryCoordinator, description: EntityDescription) -> None:
        """Follow the battery's own coordinator, for the polls the entity's poll_interest names."""
        super().__init__(coordinator, coordinator, description)
        self.coordinator_context = self.poll_interest


class ControllerEntity(BatteryEntity):
    """An entity that shows the controller's state: updates on its signal.

    The controller signals when its state changes and after a poll that changed the reading, the
    poll's success or its judgement; an entity whose display also depends on time (an item's
    status, the calendar's current event) follows every poll as well. The controller's state is
    known whether or not the battery answers, so these entities stay available; those that need a
    reading say so themselves.
    """

    poll_interest = PollInterest.NONE

    @property
    @override
    def available(self) -> bool:
        return True

    def _holds_until(self) -> datetime | None:
        """Until when what the entity shows holds unless the controller signals (None: unknown).

        For an entity that follows every poll: its display depends on time as well.
        """
        return None

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        """After a poll, check again only once what it shows may have moved on with time."""
        if (
            self._last_shown is not None
            and (until := self._holds_until()) is not None
            and dt_util.utcnow() < until
        ):
            return
        self.write_if_changed()

    async def async_added_to_hass(self) -> None:
        """Follow the controller (which follows the coordinator)."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass,
                signal_state(self.coordinator.config_entry.entry_id),
                self.write_if_changed,
            )
        )
