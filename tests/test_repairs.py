"""Every repair issue is made one way, translated, says what to do, is fixable if it claims so, and is used.

The keys are those of strings.json's `issues` section (so of every translation). repairs.py's
table must have exactly those kinds (every issue the code can raise has translations, every
translated issue can be raised), every module raises through it, and at the end of a full run
each key must have been raised by some scenario of the suite, as the texts expect it
(tests/support/issues.py records them).
"""

import ast
from collections.abc import Iterator
from copy import deepcopy
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
from custom_components.battery_steward.repairs import (
    KINDS,
    Issue,
    OpenGateFlow,
    ResumeFieldFlow,
    async_clear_issue,
    async_create_fix_flow,
    async_raise_issue,
)

from .conftest import SERIAL
from .support.issues import RAISED

COMPONENT = Path(__file__).resolve().parent.parent / "custom_components" / "battery_steward"
TESTS = Path(__file__).resolve().parent
LANGUAGES = ["en.json", "fr.json"]


def translated(source: str = "strings.json") -> dict[str, Any]:
    """The issues section of strings.json or of a translation."""
    path = COMPONENT / source if source == "strings.json" else COMPONENT / "translations" / source
    issues: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["issues"]
    return issues


def texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [text for value in node.values() for text in texts(value)]
    return [node]


def used_placeholders(node: Any) -> set[str]:
    return {name for text in texts(node) for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.fixture
def not_recorded() -> Iterator[None]:
    """Issues a test raises by hand are no scenario: forget them after the test."""
    before = deepcopy(RAISED)
    yield
    RAISED.clear()
    RAISED.update(before)


def test_every_translated_issue_is_a_kind_and_every_kind_is_translated() -> None:
    assert set(translated()) == {key.value for key in KINDS}
    assert set(Issue) == set(KINDS)


@pytest.mark.parametrize("language", ["strings.json", *LANGUAGES])
def test_every_issue_is_translated_with_what_to_do(language: str) -> None:
    issues = translated(language)
    assert set(issues) == set(translated())
    for key, kind in KINDS.items():
        entry = issues[key]
        assert entry["title"], key
        if kind.fix is not None:
            step = entry["fix_flow"]["step"]["confirm"]
            assert step["description"], key
        else:
            assert "fix_flow" not in entry
            # A description long enough to say what to check, not just what happened.
            assert len(entry["description"].split(". ")) >= 2, key
        # The texts use only placeholders the code fills in (async_raise_issue fills in exactly these).
        assert used_placeholders(entry) <= kind.placeholders, key


def test_issues_are_raised_and_cleared_only_through_repairs_py() -> None:
    """One way to make an issue: no module but repairs.py calls the issue registry itself."""
    for path in sorted(COMPONENT.rglob("*.py")):
        if path.name == "repairs.py" and path.parent == COMPONENT:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute):
                assert node.attr not in ("async_create_issue", "async_delete_issue"), path.name


async def test_an_issue_is_made_from_its_kind(hass: HomeAssistant, not_recorded: None) -> None:
    """Id naming the entry (and the detail), severity, fixability, persistence and fix data from the table."""
    registry = ir.async_get(hass)
    placeholders = {"battery": "Home", "field": "reserve_pct", "values": "50, 60"}
    issue_id = async_raise_issue(hass, Issue.FIGHT, "e1", placeholders, detail="reserve_pct")
    assert issue_id == "fight_e1_reserve_pct"
    issue = registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert (issue.is_fixable, issue.is_persistent, issue.severity) == (True, False, ir.IssueSeverity.WARNING)
    assert issue.translation_key == "fight"
    assert issue.translation_placeholders == placeholders
    assert issue.data == {"entry_id": "e1", "kind": "field", "field": "reserve_pct"}
    issue_id = async_raise_issue(hass, Issue.GATE_UNCONFIRMED, "e1", {"battery": "Home"})
    issue = registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert (issue.issue_id, issue.is_persistent, issue.severity) == (
        "gate_unconfirmed_e1",
        True,
        ir.IssueSeverity.ERROR,
    )
    issue_id = async_raise_issue(hass, Issue.NO_EFFECT, "e1", {"battery": "Home", "detail": "idle commanded"})
    issue = registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert (issue.is_fixable, issue.data) == (False, None)
    async_clear_issue(hass, Issue.FIGHT, "e1", "reserve_pct")
    async_clear_issue(hass, Issue.NO_EFFECT, "e1")
    assert registry.async_get_issue(DOMAIN, "fight_e1_reserve_pct") is None
    assert registry.async_get_issue(DOMAIN, "no_effect_e1") is None
    with pytest.raises(ValueError, match="placeholders"):
        async_raise_issue(hass, Issue.FIGHT, "e1", {"battery": "Home", "field": "reserve_pct"})


async def test_every_fixable_issue_has_a_fix_flow(hass: HomeAssistant, not_recorded: None) -> None:
    fixable = {key for key, kind in KINDS.items() if kind.fix is not None}
    assert fixable == {"fight", "gate_unconfirmed", "no_effect_field", "store_damaged"}, (
        "a new fixable issue needs its flow in repairs.py and a case here"
    )
    expected = {
        Issue.FIGHT: ResumeFieldFlow,
        Issue.NO_EFFECT_FIELD: ResumeFieldFlow,
        Issue.GATE_UNCONFIRMED: OpenGateFlow,
        Issue.STORE_DAMAGED: ConfirmRepairFlow,
    }
    for key, flow_type in expected.items():
        placeholders = dict.fromkeys(KINDS[key].placeholders, "x")
        detail = "reserve_pct" if flow_type is ResumeFieldFlow else None
        issue_id = async_raise_issue(hass, key, "x", placeholders, detail=detail)
        issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
        assert issue is not None
        flow = await async_create_fix_flow(hass, issue_id, issue.data)
        assert isinstance(flow, flow_type), key
    # A fight raised before the flow's kind was stored (no "kind" in its data) still resumes its field.
    flow = await async_create_fix_flow(hass, "fight_x_reserve_pct", {"entry_id": "x", "field": "reserve_pct"})
    assert isinstance(flow, ResumeFieldFlow)


def whole_suite(config: pytest.Config) -> bool:
    """Whether this run is the whole suite: every path asked for holds tests/, nothing deselected,
    in one process (a pytest-xdist worker runs only its share)."""
    if hasattr(config, "workerinput"):
        return False
    asked = [(config.invocation_params.dir / arg.split("::")[0]).resolve() for arg in config.args]
    return (
        all(TESTS.is_relative_to(path) for path in asked)
        and not config.option.keyword
        and not config.option.markexpr
        and not config.getoption("deselect", None)
    )


@pytest.mark.last
def test_every_translated_issue_is_raised_by_some_scenario(request: pytest.FixtureRequest) -> None:
    """After the rest of a full run: each key was raised, as fixable and with the placeholders it uses."""
    if not whole_suite(request.config):
        pytest.skip("reads what the whole suite raised: run the full suite")
    issues = translated()
    assert set(RAISED) == set(issues), "translated but never raised (or raised but not translated)"
    for key, raised in RAISED.items():
        assert raised.fixable == {"fix_flow" in issues[key]}, key
        for names in raised.placeholders:
            assert used_placeholders(issues[key]) <= names, key


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
