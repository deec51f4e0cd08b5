"""Builds a battery's plan from its schedule items (config subentries) and options."""

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from .device.driver import UnsupportedFieldError, check_capabilities
from .engine.items import Item, RampItem
from .engine.serialize import ItemFormatError, item_from_dict, item_to_dict
from .engine.validation import validate_schedule
from .item_fields import ITEM_KEYS, SETPOINT_KEYS

SUBENTRY_ITEM = "schedule_item"


def entry_items(entry: ConfigEntry) -> list[Item]:
    """The schedule items stored as the entry's subentries (malformed ones are skipped)."""
    items: list[Item] = []
    for subentry in entry.subentries.values():
        if subentry.subentry_type != SUBENTRY_ITEM:
            continue
        try:
            items.append(item_from_dict({**subentry.data, "id": subentry.subentry_id}))
        except ItemFormatError:
            continue
    return items


class ItemRejectedError(Exception):
    """An item the user submitted is not valid; `key` is the translation key of why."""

    def __init__(self, key: str, placeholders: dict[str, str]) -> None:
        """Keep the key and placeholders for a translated error."""
        super().__init__(key)
        self.key = key
        self.placeholders = placeholders


def flat_to_item_dict(data: Mapping[str, Any], base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Flat form/service fields -> the engine's item dict, over an existing item's dict.

    Date-times without an offset are local to Home Assistant.
    """
    out: dict[str, Any] = dict(base or {})
    setpoints = dict(out.get("setpoints") or {})
    for key in ITEM_KEYS:
        if key in data:
            value = data[key]
            if isinstance(value, datetime) and value.tzinfo is None:
                value = value.replace(tzinfo=dt_util.get_default_time_zone())
            out[key] = value
    for key in SETPOINT_KEYS:
        if key in data:
            setpoints[key] = data[key]
    out["setpoints"] = setpoints
    return out


def build_item(hass: HomeAssistant, entry: ConfigEntry, data: dict[str, Any]) -> Item:
    """Build and validate an item against the battery's other items and limits."""
    data = {"tz": str(hass.config.time_zone), **data}
    try:
        item = item_from_dict(data)
    except ItemFormatError as err:
        raise ItemRejectedError("invalid_item_field", {"field": err.field, "error": str(err)}) from err
    others = [i for i in entry_items(entry) if i.id != item.id]
    limits = entry.runtime_data.coordinator.info.limits
    issues = [i for i in validate_schedule([*others, item], limits) if i.item_id == item.id]
    if issues:
        raise ItemRejectedError(f"item_{issues[0].code}", issues[0].placeholders)
    # A field the battery cannot be told (e.g. power on an entity bridge) would never be applied.
    setpoints = item.setpoints
    if isinstance(item, RampItem):
        # the ramp's power at either end; 0 at both is the neutral value every device reads back
        setpoints = replace(setpoints, power_w=item.power_from_w or item.power_to_w)
    try:
        check_capabilities(setpoints, entry.runtime_data.coordinator.info.capabilities)
    except UnsupportedFieldError as err:
        raise ItemRejectedError(
            "item_field_not_supported",
            {"item": item.name or item.id, "field": err.field, "value": str(err.value)},
        ) from err
    return item


def item_store_data(item: Item) -> dict[str, Any]:
    """What a subentry stores for an item (its id is the subentry id)."""
    data = item_to_dict(item)
    data.pop("id")
    return data
