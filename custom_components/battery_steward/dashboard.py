"""The *Batteries* dashboard: generated from the batteries that exist, one section per battery.

A user with a real battery, or two, gets a dashboard without editing YAML. It is built afresh
each time a browser loads it (so it follows batteries added and removed, and shows only the
entities each battery has), and open browsers are told to reload when a battery comes or goes.
Only Home Assistant's own cards. It is registered with the frontend as a read-only (YAML-mode)
Lovelace dashboard; to change it, copy its raw configuration into a dashboard of your own.

Home Assistant has no public API for an integration's dashboard: this uses lovelace's
`LovelaceConfig` base and its dashboards table (homeassistant/components/lovelace), as core's own
dashboards do.
"""

from typing import Any, override

from homeassistant.components import frontend
from homeassistant.components.lovelace.const import LOVELACE_DATA, MODE_YAML
from homeassistant.components.lovelace.dashboard import LovelaceConfig
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_LOVELACE_UPDATED
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.json import json_bytes, json_fragment

from .const import DOMAIN

URL_PATH = "battery-steward-all"
TITLE = "Batteries"
ICON = "mdi:home-battery-outline"

# What a battery's section shows, in order; each only where the battery has the entity.
NOW = (
    "state_of_charge",
    "active_power",
    "desired_mode",
    "operating_mode",
    "desired_reserve",
    "backup_reserve",
    "next_change",
    "plant_state",
    "connected",
    "in_sync",
)
PLANNED_ONLY = ("desired_reserve", "next_change")
TOGGLES = ("dispatch", "reconciliation", "plant_enabled", "recording", "switch_confirm")
CHOICES = ("schedule_source", "transport")
NUMBERS = ("power_setpoint",)
# Buttons: their state is the last press ("Unknown" before one), so the tiles hide it.
BUTTONS: dict[str, str | None] = {
    "safe_stop": "Ramp the battery down to zero and close the dispatch gate?",
    "restore": "Re-enable the plant and hand control back to the schedule?",
    "reconcile_now": None,
}


def battery_entities(hass: HomeAssistant, entry_id: str, serial: str) -> dict[str, tuple[str, str | None]]:
    """(entity id, name without the battery's) by key (the unique id after the serial); no disabled ones."""
    registry = er.async_get(hass)
    return {
        entity.unique_id.removeprefix(f"{serial}_"): (entity.entity_id, entity.name or entity.original_name)
        for entity in er.async_entries_for_config_entry(registry, entry_id)
        if not entity.disabled
    }


def _tile(entity: tuple[str, str | None], **options: Any) -> dict[str, Any]:
    """A tile named like the entity (the section's heading names the battery)."""
    entity_id, name = entity
    return {"type": "tile", "entity": entity_id, **({"name": name} if name else {}), **options}


def battery_section(title: str, ids: dict[str, tuple[str, str | None]]) -> dict[str, Any]:
    """One grid section: what the battery does and wants, then its controls and its plan."""
    cards: list[dict[str, Any]] = [{"type": "heading", "heading": title, "icon": "mdi:home-battery"}]
    cards += [
        # Unavailable by design while nothing plans them (docs/configuration.md): hidden, not "!".
        _tile(
            ids[key], visibility=[{"condition": "state", "entity": ids[key][0], "state_not": "unavailable"}]
        )
        if key in PLANNED_ONLY
        else _tile(ids[key])
        for key in NOW
        if key in ids
    ]
    cards += [
        _tile(ids[key], features_position="inline", features=[{"type": "toggle"}])
        for key in TOGGLES
        if key in ids
    ]
    cards += [_tile(ids[key], features=[{"type": "select-options"}]) for key in CHOICES if key in ids]
    cards += [
        _tile(ids[key], features=[{"type": "numeric-input", "style": "buttons"}])
        for key in NUMBERS
        if key in ids
    ]
    for key, question in BUTTONS.items():
        if key not in ids:
            continue
        action: dict[str, Any] = {
            "action": "perform-action",
            "perform_action": "button.press",
            "target": {"entity_id": ids[key][0]},
        }
        if question is not None:
            action["confirmation"] = {"text": question}
        cards.append(_tile(ids[key], hide_state=True, icon_tap_action=action))
    if "plan" in ids:
        cards.append(
            {
                "type": "calendar",
                "initial_view": "listWeek",
                "entities": [ids["plan"][0]],
                "grid_options": {"columns": "full"},
            }
        )
    return {"type": "grid", "cards": cards}


def dashboard_config(hass: HomeAssistant) -> dict[str, Any]:
    """The dashboard for the batteries loaded now, by name."""
    sections = []
    loaded = [
        entry for entry in hass.config_entries.async_entries(DOMAIN) if entry.state is ConfigEntryState.LOADED
    ]
    for entry in sorted(loaded, key=lambda entry: entry.title.casefold()):
        serial = entry.runtime_data.coordinator.info.serial
        sections.append(battery_section(entry.title, battery_entities(hass, entry.entry_id, serial)))
    if not sections:
        sections = [
            {
                "type": "grid",
                "cards": [
                    {
                        "type": "markdown",
                        "content": "No battery yet: **Settings → Devices & services → Add integration → "
                        "Battery Steward**.",
                    }
                ],
            }
        ]
    view = {"title": TITLE, "path": "batteries", "icon": ICON, "type": "sections", "max_columns": 4}
    return {"title": TITLE, "views": [{**view, "sections": sections}]}


class BatteriesDashboard(LovelaceConfig):
    """A read-only dashboard whose configuration is generated at every load."""

    def __init__(self, hass: HomeAssistant) -> None:
        """At URL_PATH."""
        super().__init__(hass, URL_PATH, {"id": URL_PATH, "title": TITLE, "mode": MODE_YAML})

    @property
    @override
    def mode(self) -> str:
        return MODE_YAML

    @override
    async def async_get_info(self) -> dict[str, Any]:
        return {"mode": MODE_YAML, "views": 1}

    @override
    async def async_load(self, force: bool) -> dict[str, Any]:
        return dashboard_config(self.hass)

    @override
    async def async_json(self, force: bool) -> json_fragment:
        return json_fragment(json_bytes(dashboard_config(self.hass)))


@callback
def async_register_dashboard(hass: HomeAssistant) -> None:
    """Add the dashboard to the sidebar once, where the frontend and lovelace run."""
    if LOVELACE_DATA not in hass.data or URL_PATH in hass.data[LOVELACE_DATA].dashboards:
        return
    hass.data[LOVELACE_DATA].dashboards[URL_PATH] = BatteriesDashboard(hass)
    frontend.async_register_built_in_panel(
        hass,
        "lovelace",
        sidebar_title=TITLE,
        sidebar_icon=ICON,
        frontend_url_path=URL_PATH,
        config={"mode": MODE_YAML},
    )


@callback
def async_batteries_changed(hass: HomeAssistant) -> None:
    """A battery came or went: open browsers reload the dashboard."""
    hass.bus.async_fire(EVENT_LOVELACE_UPDATED, {"url_path": URL_PATH})
