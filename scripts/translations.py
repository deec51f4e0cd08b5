"""Build translations/en.json from strings.json, resolving Home Assistant's [%key:...%] references.

Custom integrations get no build step from Home Assistant, so the references must be resolved
here. Run with `--check` (the tests do) to fail when en.json is out of date.
"""

import json
from pathlib import Path
import re
import sys
from typing import Any

import homeassistant

ROOT = Path(__file__).resolve().parent.parent
COMPONENT = ROOT / "custom_components" / "battery_steward"
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


def main() -> int:
    """Write (or with --check, compare) translations/en.json."""
    strings = json.loads((COMPONENT / "strings.json").read_text())
    rendered = json.dumps(resolve(strings), indent=2, ensure_ascii=False) + "\n"
    target = COMPONENT / "translations" / "en.json"
    if "--check" in sys.argv:
        if not target.exists() or target.read_text() != rendered:
            print("translations/en.json is out of date: run scripts/translations.py")
            return 1
        return 0
    target.write_text(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main())
