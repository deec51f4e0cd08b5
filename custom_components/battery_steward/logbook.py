"""Logbook lines for battery_steward_changed events."""

from collections.abc import Callable
from typing import Any

from homeassistant.components.logbook.const import LOGBOOK_ENTRY_MESSAGE, LOGBOOK_ENTRY_NAME
from homeassistant.core import Event, HomeAssistant, callback

from .const import DOMAIN, EVENT_CHANGED
from .controller.loop import OVERRIDE


@callback
def async_describe_events(
    hass: HomeAssistant,
    async_describe_event: Callable[[str, str, Callable[[Event], dict[str, Any]]], None],
) -> None:
    """Describe what a controller run wrote."""

    @callback
    def describe(event: Event) -> dict[str, Any]:
        entry = hass.config_entries.async_get_entry(event.data.get("entry_id", ""))
        fields = event.data.get("fields", {})
        changes = ", ".join(f"{name} {v['old']} → {v['new']}" for name, v in sorted(fields.items()))
        why = str(event.data.get("trigger"))
        # Events that say which item set each field (field -> item id) name the items.
        # A field an override set (no item behind it) is named by the trigger alone.
        if sources := set(event.data.get("items", {}).values()) - {OVERRIDE}:
            names = {sid: sub.title for sid, sub in entry.subentries.items()} if entry else {}
            why += ": " + ", ".join(sorted({names.get(item_id, item_id) for item_id in sources}))
        return {
            LOGBOOK_ENTRY_NAME: entry.title if entry else "Battery Steward",
            LOGBOOK_ENTRY_MESSAGE: f"set {changes} ({why})",
        }

    async_describe_event(DOMAIN, EVENT_CHANGED, describe)
