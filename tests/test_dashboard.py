"""The ready dashboard: every entity it shows exists, with Home Assistant's own cards only."""

from collections.abc import Iterator
from pathlib import Path
import re
from typing import Any

from homeassistant.components.lovelace import CONFIG_SCHEMA as LOVELACE_SCHEMA
from homeassistant.core import HomeAssistant
from homeassistant.util.yaml import load_yaml_dict
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.const import CONF_KIND, CONF_SERIAL, DOMAIN, KIND_SIMULATOR

from .helpers import develop_bootstrap

ROOT = Path(__file__).parent.parent
DASHBOARD = ROOT / "dashboards" / "battery_steward.yaml"
ENTITY_ID = re.compile(r"^[a-z_]+\.[a-z0-9_]+$")


def _bootstrap_serial() -> str:
    """The serial scripts/develop gives its simulated battery (the dashboard's entity ids use it)."""
    return str(develop_bootstrap().SERIAL)


def referenced_entities(node: Any) -> Iterator[str]:
    """Every entity id a dashboard config names (entity, entities, entity_id, target)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"entity", "entity_id"} and isinstance(value, str):
                yield value
            elif key in {"entities", "entity_id"} and isinstance(value, list):
                for item in value:
                    if isinstance(item, str):
                        yield item
                    else:
                        yield from referenced_entities(item)
            else:
                yield from referenced_entities(value)
    elif isinstance(node, list):
        for item in node:
            yield from referenced_entities(item)


def card_types(node: Any) -> Iterator[str]:
    """The type of every card, badge, section and feature."""
    if isinstance(node, dict):
        if isinstance(node.get("type"), str):
            yield node["type"]
        for value in node.values():
            yield from card_types(value)
    elif isinstance(node, list):
        for item in node:
            yield from card_types(item)


async def test_every_dashboard_entity_exists(hass: HomeAssistant) -> None:
    serial = _bootstrap_serial()
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"Simulated battery {serial}",
        unique_id=serial,
        data={CONF_KIND: KIND_SIMULATOR, CONF_SERIAL: serial, "capacity_kwh": 10.0},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    try:
        dashboard = load_yaml_dict(DASHBOARD)
        wanted = sorted(set(referenced_entities(dashboard)))
        assert len(wanted) >= 15
        assert all(ENTITY_ID.match(e) for e in wanted), wanted
        missing = [e for e in wanted if hass.states.get(e) is None]
        assert not missing, f"the dashboard names entities the integration does not create: {missing}"
        # Every kind of entity the controls section needs is there.
        domains = {e.split(".")[0] for e in wanted}
        assert {"sensor", "number", "select", "switch", "button", "calendar", "binary_sensor"} <= domains
    finally:
        assert await hass.config_entries.async_unload(entry.entry_id)


def test_only_home_assistant_cards() -> None:
    types = set(card_types(load_yaml_dict(DASHBOARD)))
    assert not {t for t in types if t.startswith("custom:")}
    assert {"tile", "history-graph", "calendar", "logbook", "heading"} <= types


def test_develop_config_loads_the_dashboard() -> None:
    config = load_yaml_dict(ROOT / "config" / "configuration.yaml")
    lovelace = LOVELACE_SCHEMA({"lovelace": config["lovelace"]})["lovelace"]
    dashboard = lovelace["dashboards"]["battery-steward"]
    assert dashboard["mode"] == "yaml"
    assert dashboard["filename"] == "dashboards/battery_steward.yaml"
    assert "ln -sfn ../dashboards config/dashboards" in (ROOT / "scripts" / "develop").read_text()
