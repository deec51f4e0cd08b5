"""Every repair issue the code can raise is translated, says what to do, and is fixable if it claims so."""

import ast
import json
from pathlib import Path
import string
from typing import Any

from homeassistant.core import HomeAssistant
import pytest

from custom_components.battery_steward.repairs import ResumeFieldFlow, async_create_fix_flow

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
    assert fixable == {"fight"}, "a new fixable issue needs its flow in repairs.py and a case here"
    data = {"entry_id": "x", "field": "reserve_pct"}
    flow = await async_create_fix_flow(hass, "fight_x_reserve_pct", data)
    assert isinstance(flow, ResumeFieldFlow)
