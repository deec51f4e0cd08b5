"""Every repair issue the code can raise is translated, says what to do, and is fixable if it claims so."""

import ast
from datetime import timedelta
from http import HTTPStatus
import json
from pathlib import Path
import string
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.repairs import ConfirmRepairFlow
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.device.simulator import SimulatedBattery
from custom_components.battery_steward.repairs import OpenGateFlow, ResumeFieldFlow, async_create_fix_flow

from .conftest import SERIAL

COMPONENT = Path(__file__).resolve().parent.parent / "custom_components" / "battery_steward"
LANGUAGES = ["en.json", "fr.json"]


def raised_issues() -> list[dict[str, Any]]:
    """translation_key, is_fixable and placeholder names of each ir.async_create_issue call."""
    found: list[dict[str, Any]] = []
    for path in sorted(COMPONENT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr != "async_create_issue":
                continue
            kwargs = {kw.arg: kw.value for kw in node.keywords}
            key = kwargs["translation_key"]
            assert isinstance(key, ast.Constant), f"{path.name}: literal translation_key, please"
            fixable = kwargs["is_fixable"]
            assert isinstance(fixable, ast.Constant)
            placeholders = kwargs.get("translation_placeholders")
            names = (
                {k.value for k in placeholders.keys if isinstance(k, ast.Constant)}
                if isinstance(placeholders, ast.Dict)
                else set()
            )
            found.append({"key": key.value, "fixable": fixable.value, "placeholders": names})
    return found


def texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [text for value in node.values() for text in texts(value)]
    return [node]


def used_placeholders(node: Any) -> set[str]:
    return {name for text in texts(node) for _, name, _, _ in string.Formatter().parse(text) if name}


def test_the_code_raises_issues() -> None:
    assert {issue["key"] for issue in raised_issues()} >= {"fight", "no_effect"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_raised_issue_is_translated_with_what_to_do(language: str) -> None:
    issues = json.loads((COMPONENT / "translations" / language).read_text(encoding="utf-8"))["issues"]
    for issue in raised_issues():
        entry = issues[issue["key"]]
        assert entry["title"], issue
        if issue["fixable"]:
            step = entry["fix_flow"]["step"]["confirm"]
            assert step["description"], issue
        else:
            assert "fix_flow" not in entry
            # A description long enough to say what to check, not just what happened.
            assert len(entry["description"].split(". ")) >= 2, issue
        # The texts use only placeholders the code fills in.
        assert used_placeholders(entry) <= issue["placeholders"], issue


async def test_every_fixable_issue_has_a_fix_flow(hass: HomeAssistant) -> None:
    fixable = {issue["key"] for issue in raised_issues() if issue["fixable"]}
    assert fixable == {"fight", "gate_unconfirmed", "store_damaged"}, (
        "a new fixable issue needs its flow in repairs.py and a case here"
    )
    data = {"entry_id": "x", "field": "reserve_pct"}
    flow = await async_create_fix_flow(hass, "fight_x_reserve_pct", data)
    assert isinstance(flow, ResumeFieldFlow)
    flow = await async_create_fix_flow(hass, "gate_unconfirmed_x", {"entry_id": "x", "kind": "gate"})
    assert isinstance(flow, OpenGateFlow)
    flow = await async_create_fix_flow(hass, "store_damaged_x", {"entry_id": "x", "kind": "store_damaged"})
    assert isinstance(flow, ConfirmRepairFlow)


async def test_fight_is_fixed_through_the_repairs_api(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    modbus_entry: MockConfigEntry,
) -> None:
    """Raised by a real fight with the simulator, fixed as the Repairs page does it (HTTP flow)."""
    modbus_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(modbus_entry, options={"fight_max_corrections": 2})
    assert await hass.config_entries.async_setup(modbus_entry.entry_id)
    assert await async_setup_component(hass, "repairs", {})
    await hass.async_block_till_done(wait_background_tasks=True)

    async def tick(seconds: float) -> None:
        freezer.tick(timedelta(seconds=seconds))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)

    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, SERIAL), modbus_entry.entry_id)
    assert device is not None
    hold = {"device_id": device.id, "reserve_pct": 80, "until_cleared": True}
    await hass.services.async_call(DOMAIN, "set_override", hold, blocking=True)
    await tick(20)
    for value in (50, 60, 50):
        simulator.set_control("reserve_pct", value)
        await tick(20)
    issue_id = f"fight_{modbus_entry.entry_id}_reserve_pct"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    simulator.set_control("reserve_pct", 40)
    await tick(20)
    assert simulator.read_register("reserve_pct") == 40  # not fought over while the issue is open

    client = await hass_client()
    response = await client.post("/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue_id})
    assert response.status == HTTPStatus.OK
    flow = await response.json()
    assert flow["step_id"] == "confirm"
    assert flow["description_placeholders"]["field"] == "reserve_pct"
    response = await client.post(f"/api/repairs/issues/fix/{flow['flow_id']}", json={})
    assert response.status == HTTPStatus.OK
    assert (await response.json())["type"] == "create_entry"
    await tick(1)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert simulator.read_register("reserve_pct") == 80
    await hass.config_entries.async_unload(modbus_entry.entry_id)
