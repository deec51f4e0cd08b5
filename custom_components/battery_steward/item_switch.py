"""One switch per schedule item (enable / pause), attached to the item's config subentry.

As scheduler-component gives one entity per schedule: the switch shows whether the item takes
part in the plan, and its next start, last run and last result as attributes. Turning it off
pauses the item (kept, plans nothing); deleting the item removes its switch with its subentry.
A device belongs to one subentry (Home Assistant moves a shared one; a child device must share
its parent's), so each item is a service device of its own, connected via the battery's device
and named after the item (as google_weather makes a device per subentry).
"""

from datetime import UTC, datetime
from typing import Any, override

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.config_entries import SIGNAL_CONFIG_ENTRY_CHANGED, ConfigEntry, ConfigEntryChange
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .coordinator import BatteryCoordinator, PollInterest
from .engine.items import Item
from .engine.serialize import ItemFormatError, item_from_dict
from .entity import ControllerEntity
from .item_status import item_status
from .runtime import BatteryConfigEntry
from .schedule import SUBENTRY_ITEM


class ItemSwitch(ControllerEntity, SwitchEntity):
    """On: the item takes part in the plan; off: paused."""

    poll_interest = PollInterest.EVERY_POLL  # its status moves on when the item's next start passes

    def __init__(self, coordinator: BatteryCoordinator, subentry_id: str, battery_device_id: str) -> None:
        """One per item subentry, on a device of its own named after the item."""
        super().__init__(
            coordinator,
            SwitchEntityDescription(key=f"item_{subentry_id}", translation_key="schedule_item"),
        )
        self.subentry_id = subentry_id
        self._status: dict[str, Any] | None = None
        self._status_key: tuple[Any, ...] | None = None
        self._status_until: datetime | None = None
        self._status_uses_journal = True  # whether the status names a run (the item has started)
        self._parsed: tuple[dict[str, Any], Item | None] | None = None
        self._attr_name = None  # the item's device's own entity: named after the item
        serial = coordinator.info.serial
        subentry = coordinator.config_entry.subentries[subentry_id]
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, f"{serial}_item_{subentry_id}")},
            name=subentry.title,
            entry_type=dr.DeviceEntryType.SERVICE,
            via_device_id=battery_device_id,
        )

    @property
    @override
    def is_on(self) -> bool:
        subentry = self.coordinator.config_entry.subentries.get(self.subentry_id)
        return subentry is None or bool(subentry.data.get("enabled", True))

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any]:
        subentry = self.coordinator.config_entry.subentries.get(self.subentry_id)
        now = dt_util.utcnow()
        # The controller signals after every poll and run: the status (which walks the item's
        # occurrences and scans the journal) is worked out again only when something it depends
        # on changed: the item, the newest journal record (only once the item has started: before,
        # no record can have served it), the missed one-offs, or its next start passing (which is
        # also when its last start moves).
        newest = self.controller.journal.last if self._status_uses_journal else None
        key = (subentry, newest, self.subentry_id in self.controller.missed)
        if (
            self._status is not None
            and key == self._status_key
            and (self._status_until is None or now < self._status_until)
        ):
            return self._status
        self._status_key = key
        self._status = self._work_out_status(dict(subentry.data) if subentry is not None else {}, now)
        return self._status

    @override
    def _holds_until(self) -> datetime | None:
        # Its next start (the rest it shows changes with the item, the journal or the missed
        # one-offs, which the controller signals).
        if self._status is None:
            return None
        return self._status_until or datetime.max.replace(tzinfo=UTC)

    def _work_out_status(self, data: dict[str, Any], now: datetime) -> dict[str, Any]:
        attributes: dict[str, Any] = {"item_id": self.subentry_id, "item_type": data.get("type")}
        self._status_until = None
        self._status_uses_journal = True
        item = self._item(data)
        if item is None:
            return attributes
        status = item_status(self.controller, item, now)
        del status["enabled"]
        if status["next_start"] is not None:
            self._status_until = datetime.fromisoformat(status["next_start"])
        self._status_uses_journal = status["last_run"] is not None
        return attributes | status

    def _item(self, data: dict[str, Any]) -> Item | None:
        """The item its subentry describes, parsed once per version of the subentry's data."""
        if self._parsed is not None and self._parsed[0] == data:
            return self._parsed[1]
        try:
            item: Item | None = item_from_dict({**data, "id": self.subentry_id})
        except ItemFormatError:
            item = None
        self._parsed = (data, item)
        return item

    async def _async_set(self, enabled: bool) -> None:
        entry = self.coordinator.config_entry
        subentry = entry.subentries.get(self.subentry_id)
        if subentry is None or subentry.data.get("enabled", True) == enabled:
            return
        # The edit re-plans through the config-entry-changed signal, as any item edit does.
        self.hass.config_entries.async_update_subentry(
            entry, subentry, data={**subentry.data, "enabled": enabled}
        )

    @override
    async def async_turn_on(self, **kwargs: Any) -> None:
        await self.async_check_control()
        await self._async_set(True)

    @override
    async def async_turn_off(self, **kwargs: Any) -> None:
        await self.async_check_control()
        await self._async_set(False)


@callback
def async_follow_items(
    hass: HomeAssistant, entry: BatteryConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> CALLBACK_TYPE:
    """Add a switch for every item subentry now and for each one added later."""
    known: set[str] = set()
    coordinator = entry.runtime_data.coordinator

    @callback
    def add_new(changed: ConfigEntry) -> None:
        current = {sid for sid, sub in changed.subentries.items() if sub.subentry_type == SUBENTRY_ITEM}
        known.intersection_update(current)  # a deleted item's switch goes with its subentry
        devices = dr.async_get(hass)
        serial = coordinator.info.serial
        for subentry_id in known:  # a renamed item renames its device
            title = changed.subentries[subentry_id].title
            ident = (DOMAIN, f"{serial}_item_{subentry_id}")
            device = devices.async_get_device_by_identifier(ident, entry.entry_id)
            if device is not None and device.name != title:
                devices.async_update_device(device.id, name=title)
        if not current - known:
            return
        # The battery's device, which the item devices hang from (created here if the battery's
        # own entities have not registered it yet).
        battery = devices.async_get_or_create(config_entry_id=entry.entry_id, identifiers={(DOMAIN, serial)})
        for subentry_id in sorted(current - known):
            known.add(subentry_id)
            async_add_entities(
                [ItemSwitch(coordinator, subentry_id, battery.id)], config_subentry_id=subentry_id
            )

    @callback
    def on_change(change: ConfigEntryChange, changed: ConfigEntry) -> None:
        if change is ConfigEntryChange.UPDATED and changed.entry_id == entry.entry_id:
            add_new(changed)

    add_new(entry)
    return async_dispatcher_connect(hass, SIGNAL_CONFIG_ENTRY_CHANGED, on_change)
