"""Build translations/en.json from strings.json and check every other language against it.

Custom integrations get no build step from Home Assistant, so the [%key:...%] references must be
resolved here. Other languages (translations/fr.json, ...) are written by hand; they must have
exactly the keys of en.json, and each text the same {placeholders} as its English original.

    scripts/translations.py           write en.json, then report problems in other languages
    scripts/translations.py --check   fail when en.json is out of date or another language is
                                      missing a key, has an extra one, other placeholders, or
                                      translates an English text that has changed since
    scripts/translations.py --accept  after translating: record the English each translation now
                                      matches (scripts/translated_from/<language>.json)
"""

import json
from pathlib import Path
import re
import string
import sys
from typing import Any

import homeassistant

ROOT = Path(__file__).resolve().parent.parent
COMPONENT = ROOT / "custom_components" / "battery_steward"
TRANSLATIONS = COMPONENT / "translations"
TRANSLATED_FROM = ROOT / "scripts" / "translated_from"
REFERENCE = re.compile(r"\[%key:([a-z0-9_:]+)%\]")


def _lookup(tree: dict[str, Any], path: str) -> str:
    node: Any = tree
    for part in path.split("::"):
        node = node[part]
    if not isinstance(node, str):
        raise TypeError(f"{path} is not a string")
    return node


def resolve(strings: dict[str, Any]) -> dict[str, Any]:
    """Replace every [%key:...%] with the text it names (in HA's strings or our own)."""
    core = json.loads((Path(homeassistant.__file__).parent / "strings.json").read_text())

    def text(value: str) -> str:
        def sub(match: re.Match[str]) -> str:
            path = match.group(1)
            tree = {"common": core["common"], **strings}
            return text(_lookup(tree, path))

        return REFERENCE.sub(sub, value)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, str):
            return text(node)
        return node

    result: dict[str, Any] = walk(strings)
    return result


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """{"a::b::c": text} for every text in a translation tree."""
    flat: dict[str, str] = {}
    for key, value in tree.items():
        path = f"{prefix}::{key}" if prefix else key
        if isinstance(value, dict):
            flat.update(flatten(value, path))
        else:
            flat[path] = value
    return flat


def placeholders(text: str) -> set[str]:
    """The {names} a text expects to be filled in."""
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def compare(english: dict[str, Any], other: dict[str, Any]) -> list[str]:
    """Every way `other` differs from the English tree, one line each."""
    en_flat, other_flat = flatten(english), flatten(other)
    problems = [
        f"missing {key}  (English: {json.dumps(en_flat[key], ensure_ascii=False)})"
        for key in en_flat
        if key not in other_flat
    ]
    problems += [f"extra {key}" for key in other_flat if key not in en_flat]
    for key, text in other_flat.items():
        if key not in en_flat:
            continue
        if not isinstance(text, str) or not text.strip():
            problems.append(f"empty {key}")
        elif "[%key:" in text:
            problems.append(f"unresolved reference in {key}")
        elif (want := placeholders(en_flat[key])) != (got := placeholders(text)):
            problems.append(f"placeholders differ in {key}: English {sorted(want)}, here {sorted(got)}")
    return problems


def stale(english: dict[str, Any], other: dict[str, Any], source: dict[str, str]) -> list[str]:
    """Keys whose English text changed after they were translated (source: key -> English then)."""
    en_flat, other_flat = flatten(english), flatten(other)
    return [
        f"English changed since translated: {key}  (was: {json.dumps(source[key], ensure_ascii=False)}, "
        f"now: {json.dumps(en_flat[key], ensure_ascii=False)})"
        for key in other_flat
        if key in en_flat and key in source and source[key] != en_flat[key]
    ]


def accepted_source(english: dict[str, Any], other: dict[str, Any]) -> dict[str, str]:
    """What --accept records: the English text of every key the language translates."""
    en_flat = flatten(english)
    return {key: en_flat[key] for key in sorted(flatten(other)) if key in en_flat}


def other_languages() -> list[Path]:
    """Hand-written translation files (everything but en.json)."""
    return sorted(path for path in TRANSLATIONS.glob("*.json") if path.name != "en.json")


def main() -> int:
    """Write (or with --check, compare) translations/en.json, then check the other languages."""
    strings = json.loads((COMPONENT / "strings.json").read_text())
    english = resolve(strings)
    rendered = json.dumps(english, indent=2, ensure_ascii=False) + "\n"
    target = TRANSLATIONS / "en.json"
    failed = False
    if "--check" in sys.argv:
        if not target.exists() or target.read_text() != rendered:
            print("translations/en.json is out of date: run scripts/translations.py")
            failed = True
    else:
        target.write_text(rendered)
    for path in other_languages():
        other = json.loads(path.read_text(encoding="utf-8"))
        source_file = TRANSLATED_FROM / path.name
        if "--accept" in sys.argv:
            TRANSLATED_FROM.mkdir(exist_ok=True)
            source_file.write_text(
                json.dumps(accepted_source(english, other), indent=2, ensure_ascii=False) + "\n", "utf-8"
            )
        source = json.loads(source_file.read_text("utf-8")) if source_file.exists() else {}
        problems = compare(english, other) + stale(english, other, source)
        for problem in problems:
            print(f"translations/{path.name}: {problem}")
        failed = failed or bool(problems)
    return 1 if failed and "--check" in sys.argv else 0


if __name__ == "__main__":
    sys.exit(main())
