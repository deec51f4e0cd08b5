"""The generated Batteries dashboard: one section per battery, following batteries added and removed."""

from typing import Any

from homeassistant.const import EVENT_LOVELACE_UPDATED
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.battery_steward.dashboard import URL_PATH, BatteriesDashboard, battery_section

from .helpers import setup_entry, simulator_data
from .test_dashboard import card_types, referenced_entities


async def _config(hass: HomeAssistant, hass_ws_client: WebSocketGenerator) -> dict[str, Any]:
    client = await hass_ws_client(hass)
    await client.send_json_auto_id({"type": "lovelace/config", "url_path": URL_PATH})
    answer = await client.receive_json()
    assert answer["success"], answer
    config: dict[str, Any] = answer["result"]
    return config


async def test_a_section_per_battery_without_editing_yaml(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    assert await async_setup_component(hass, "frontend", {})
    assert await async_setup_component(hass, "lovelace", {})
    updates: list[Any] = []
    hass.bus.async_listen(EVENT_LOVELACE_UPDATED, lambda event: updates.append(event.data))
    first = await setup_entry(hass, simulator_data("SIM-DASH0001"), title="Garage", unique_id="SIM-DASH0001")
    # In the sidebar, read-only (it is generated).
    panels = hass.data["frontend_panels"]
    assert panels[URL_PATH].sidebar_title == "Batteries"
    config = await _config(hass, hass_ws_client)
    (view,) = config["views"]
    assert [section["cards"][0]["heading"] for section in view["sections"]] == ["Garage"]
    second = await setup_entry(hass, simulator_data("SIM-DASH0002"), title="Attic", unique_id="SIM-DASH0002")
    assert updates  # open browsers reload it
    config = await _config(hass, hass_ws_client)
    sections = config["views"][0]["sections"]
    assert [section["cards"][0]["heading"] for section in sections] == ["Attic", "Garage"]
    # Every entity it names exists; the controls are there; only Home Assistant's cards.
    wanted = set(referenced_entities(config))
    assert wanted
    assert all(hass.states.get(entity) is not None for entity in wanted), wanted
    soc = next(card for card in sections[0]["cards"] if card.get("entity", "").endswith("_state_of_charge"))
    assert soc["name"] == "State of charge"  # the heading names the battery, the tiles do not repeat it
    # Nothing planned: the next change is unavailable by design, and its tile is hidden meanwhile.
    nxt = next(card for card in sections[0]["cards"] if card.get("entity", "").endswith("_next_change"))
    assert nxt["visibility"] == [{"condition": "state", "entity": nxt["entity"], "state_not": "unavailable"}]
    keys = {entity.split(".", 1)[1].removeprefix("attic_") for entity in referenced_entities(sections[0])}
    assert {"confirm_switching", "schedule_source", "restore", "safe_stop", "recording", "plan"} <= keys
    assert not {t for t in card_types(config) if t.startswith("custom:")}
    # A battery removed leaves the dashboard.
    await hass.config_entries.async_remove(second.entry_id)
    await hass.async_block_till_done()
    config = await _config(hass, hass_ws_client)
    assert [section["cards"][0]["heading"] for section in config["views"][0]["sections"]] == ["Garage"]
    await hass.config_entries.async_remove(first.entry_id)
    await hass.async_block_till_done()
    config = await _config(hass, hass_ws_client)
    assert "No battery yet" in config["views"][0]["sections"][0]["cards"][0]["content"]


async def test_a_battery_shows_only_what_it_has(hass: HomeAssistant) -> None:
    """A battery without reserve control, plan or buttons gets no tiles for them."""
    section = battery_section(
        "Marstek",
        {"state_of_charge": ("sensor.m_soc", "State of charge"), "desired_mode": ("sensor.m_mode", None)},
    )
    assert [card.get("entity") for card in section["cards"]] == [None, "sensor.m_soc", "sensor.m_mode"]
    assert [card.get("name") for card in section["cards"]] == [None, "State of charge", None]
    dashboard = BatteriesDashboard(hass)
    assert dashboard.mode == "yaml"
    assert await dashboard.async_get_info() == {"mode": "yaml", "views": 1}
    assert (await dashboard.async_load(False))["title"] == "Batteries"
