"""Builds a battery's plan from its schedule items (config subentries) and options."""

from datetime import timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntry

from .controller import ControllerSettings
from .engine.fight import FightSettings
from .engine.items import Item
from .engine.serialize import ItemFormatError, item_from_dict

CONF_PATROL_MIN = "patrol_interval_min"
CONF_FIGHT_MAX = "fight_max_corrections"
CONF_FIGHT_WINDOW_MIN = "fight_window_min"
CONF_VERIFY_S = "verify_timeout_s"
CONF_JOURNAL_SIZE = "journal_size"
DEFAULT_PATROL_MIN = 15
DEFAULT_FIGHT_MAX = 3
DEFAULT_FIGHT_WINDOW_MIN = 60
DEFAULT_VERIFY_S = 30
DEFAULT_JOURNAL_SIZE = 2000


def controller_settings(options: dict[str, Any]) -> ControllerSettings:
    """Controller settings from an entry's options."""
    return ControllerSettings(
        patrol_interval=timedelta(minutes=options.get(CONF_PATROL_MIN, DEFAULT_PATROL_MIN)),
        verify_timeout_s=float(options.get(CONF_VERIFY_S, DEFAULT_VERIFY_S)),
        fight=FightSettings(
            max_corrections=int(options.get(CONF_FIGHT_MAX, DEFAULT_FIGHT_MAX)),
            window_s=60.0 * options.get(CONF_FIGHT_WINDOW_MIN, DEFAULT_FIGHT_WINDOW_MIN),
        ),
        journal_size=int(options.get(CONF_JOURNAL_SIZE, DEFAULT_JOURNAL_SIZE)),
    )


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
