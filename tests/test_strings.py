"""Strings, services.yaml, icons and code agree (the checks hassfest would make)."""

import json
from pathlib import Path
import re
from typing import Any

from homeassistant.util.yaml import load_yaml

from scripts import translations

COMPONENT = Path(__file__).resolve().parent.parent / "custom_components" / "battery_steward"


def load(name: str) -> dict[str, Any]:
    path = COMPONENT / name
    loaded: Any = load_yaml(str(path)) if name.endswith(".yaml") else json.loads(path.read_text("utf-8"))
    assert isinstance(loaded, dict)
    data: dict[str, Any] = loaded
    return data


def test_every_action_and_field_is_translated_and_has_an_icon() -> None:
    services = load("services.yaml")
    strings = load("strings.json")["services"]
    icons = load("icons.json")["services"]
    assert set(services) == set(strings) == set(icons)
    for name, spec in services.items():
        assert strings[name]["name"]
        assert strings[name]["description"]
        assert set(spec.get("fields", {})) == set(strings[name].get("fields", {})), name


def test_every_translation_key_in_code_exists() -> None:
    strings = load("strings.json")
    exceptions = set(strings["exceptions"])
    entity_keys = {key for platform in strings["entity"].values() for key in platform}
    code = "\n".join(p.read_text(encoding="utf-8") for p in COMPONENT.rglob("*.py"))
    used = set(re.findall(r'translation_key\s*=\s*"([a-z0-9_]+)"', code))
    raised = set(re.findall(r'_invalid\(\s*"([a-z0-9_]+)"', code))
    device_errors = set(re.findall(r'translation_key = "([a-z0-9_]+)"', code))
    missing = (used | raised | device_errors) - exceptions - entity_keys - set(strings["issues"])
    # Selector translation keys live under "selector".
    missing -= set(strings["selector"])
    assert not missing


def test_every_validation_code_has_a_service_message_and_a_form_error() -> None:
    strings = load("strings.json")
    source = (COMPONENT / "engine" / "validation.py").read_text(encoding="utf-8")
    codes = set(re.findall(r'_issue\(\s*item,\s*"([a-z_]+)"', source)) | {"overlapping_windows"}
    form_errors = set(strings["config_subentries"]["schedule_item"]["error"])
    for code in codes:
        assert f"item_{code}" in strings["exceptions"], code
        assert f"item_{code}" in form_errors, code


def test_entity_icons_refer_to_translated_entities() -> None:
    strings = load("strings.json")["entity"]
    icons = load("icons.json")["entity"]
    for platform, keys in icons.items():
        assert set(keys) <= set(strings[platform]), platform


def test_en_translation_has_no_unresolved_references() -> None:
    assert "[%key:" not in (COMPONENT / "translations" / "en.json").read_text(encoding="utf-8")


def test_every_language_has_exactly_the_english_keys_and_placeholders() -> None:
    english = json.loads((COMPONENT / "translations" / "en.json").read_text(encoding="utf-8"))
    assert english == translations.resolve(load("strings.json")), "run scripts/translations.py"
    languages = translations.other_languages()
    assert [path.name for path in languages] == ["fr.json"]
    for path in languages:
        other = json.loads(path.read_text(encoding="utf-8"))
        assert translations.compare(english, other) == []
        source_file = translations.TRANSLATED_FROM / path.name
        source = json.loads(source_file.read_text(encoding="utf-8"))
        assert translations.stale(english, other, source) == [], (
            "translate, then scripts/translations.py --accept"
        )
        assert source == translations.accepted_source(english, other), "scripts/translations.py --accept"


def test_language_check_names_missing_extra_and_mismatched_keys() -> None:
    english = {"a": {"b": "Hello {name}", "c": "Bye"}, "d": "Plain"}
    other = {"a": {"b": "Bonjour {nom}"}, "d": "", "e": "En trop"}
    assert translations.compare(english, other) == [
        'missing a::c  (English: "Bye")',
        "extra e",
        "placeholders differ in a::b: English ['name'], here ['nom']",
        "empty d",
    ]
    assert translations.compare(english, {"a": {"b": "[%key:x%] {name}", "c": "Au revoir"}, "d": "x"}) == [
        "unresolved reference in a::b"
    ]


def test_language_check_names_translations_of_changed_english() -> None:
    english = {"a": "Safe shutdown", "b": "Same"}
    other = {"a": "Arrêt sécurisé", "b": "Pareil"}
    source = {"a": "Safe stop", "b": "Same"}
    assert translations.stale(english, other, source) == [
        'English changed since translated: a  (was: "Safe stop", now: "Safe shutdown")'
    ]
    assert translations.accepted_source(english, {"a": "x"}) == {"a": "Safe shutdown"}
