"""Item lifecycle: additions, edits, pauses and removals are journaled; finished items go.

One-off items that have run and items past their valid_until are removed after a retention
period (option, default 7 days; 0 keeps them), checked at set-up and every hour. Each removal is
journaled (an `edit` record naming the item and why) and removes the item's subentry, so its
switch goes too and the plan is rebuilt as for any deletion.
"""

from datetime import datetime, timedelta
from typing import Any

from homeassistant.config_entries import SIGNAL_CONFIG_ENTRY_CHANGED, ConfigEntry, ConfigEntryChange
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util

from .const import DOMAIN, LOGGER
from .engine.follow import finished_at
from .engine.journal import Result, Trigger
from .engine.serialize import ItemFormatError, item_from_dict
from .runtime import BatteryConfigEntry
from .schedule import SUBENTRY_ITEM

CONF_RETENTION_DAYS = "item_retention_days"
DEFAULT_RETENTION_DAYS = 7
CHECK_INTERVAL = timedelta(hours=1)


@callback
def async_remove_finished(hass: HomeAssistant, entry: BatteryConfigEntry, now: datetime) -> list[str]:
    """Remove the items finished longer than the retention ago; their ids."""
    days = int(entry.options.get(CONF_RETENTION_DAYS, DEFAULT_RETENTION_DAYS))
    if days <= 0:
        return []
    retention = timedelta(days=days)
    journal = entry.runtime_data.controller.journal
    removed = []
    for subentry_id, subentry in list(entry.subentries.items()):
        if subentry.subentry_type != SUBENTRY_ITEM:
            continue
        try:
            item = item_from_dict({**subentry.data, "id": subentry_id})
        except ItemFormatError:
            continue
        if (done := finished_at(item)) is None or now < done + retention:
            continue
        hass.config_entries.async_remove_subentry(entry, subentry_id)
        removed.append(subentry_id)
        note = f"removed {item.name or subentry_id}: done since {done.isoformat()}, kept {days} days"
        journal.add(
            trigger=Trigger.EDIT, scheduled=done + retention, executed=now, result=Result.SUCCESS, note=note
        )
        LOGGER.info("%s: %s", entry.title, note)
    return removed


@callback
def async_track_retention(hass: HomeAssistant, entry: BatteryConfigEntry) -> CALLBACK_TYPE:
    """Check now and every hour."""

    @callback
    def check(now: datetime) -> None:
        async_remove_finished(hass, entry, dt_util.utcnow())

    check(dt_util.utcnow())
    return async_track_time_interval(
        hass, check, CHECK_INTERVAL, name=f"{DOMAIN} item retention", cancel_on_shutdown=True
    )


def _items(entry: ConfigEntry) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        sid: (sub.title, dict(sub.data))
        for sid, sub in entry.subentries.items()
        if sub.subentry_type == SUBENTRY_ITEM
    }


def item_changes(
    before: dict[str, tuple[str, dict[str, Any]]], after: dict[str, tuple[str, dict[str, Any]]]
) -> list[str]:
    """What happened to the items, one line each: added, removed, paused, resumed or edited."""
    lines = [f"item removed: {before[sid][0]} ({sid})" for sid in before.keys() - after.keys()]
    for sid, (title, data) in after.items():
        if sid not in before:
            lines.append(f"item added: {title} ({sid})")
            continue
        old = before[sid][1]
        if old == data:
            continue
        enabled = data.get("enabled", True)
        if old.get("enabled", True) != enabled and {**old, "enabled": enabled} == data:
            lines.append(f"item {'resumed' if enabled else 'paused'}: {title} ({sid})")
        else:
            lines.append(f"item edited: {title} ({sid})")
    return sorted(lines)


@callback
def async_journal_item_changes(hass: HomeAssistant, entry: BatteryConfigEntry) -> CALLBACK_TYPE:
    """A journal record for each item added, edited, paused, resumed or removed."""
    seen = _items(entry)

    @callback
    def changed(change: ConfigEntryChange, changed_entry: ConfigEntry) -> None:
        nonlocal seen
        if change is not ConfigEntryChange.UPDATED or changed_entry.entry_id != entry.entry_id:
            return
        now_items = _items(changed_entry)
        journal = entry.runtime_data.controller.journal
        for line in item_changes(seen, now_items):
            journal.add(
                trigger=Trigger.EDIT,
                scheduled=None,
                executed=dt_util.utcnow(),
                result=Result.SUCCESS,
                note=line,
            )
        seen = now_items

    return async_dispatcher_connect(hass, SIGNAL_CONFIG_ENTRY_CHANGED, changed)
