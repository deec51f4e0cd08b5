"""quality_scale.yaml covers every rule, each done or exempt with a reason, and the claims hold."""

import json
from pathlib import Path
import re
from typing import Any

from homeassistant.util.yaml import load_yaml

ROOT = Path(__file__).resolve().parent.parent
COMPONENT = ROOT / "custom_components" / "battery_steward"
PLATFORMS = ["binary_sensor", "button", "calendar", "number", "select", "sensor", "switch"]

TIERS: dict[str, set[str]] = {
    "bronze": {
        "action-setup", "appropriate-polling", "brands", "common-modules", "config-flow-test-coverage",
        "config-flow", "dependency-transparency", "docs-actions", "docs-conditions",
        "docs-high-level-description", "docs-installation-instructions", "docs-removal-instructions",
        "docs-triggers", "entity-event-setup", "entity-unique-id", "has-entity-name", "runtime-data",
        "test-before-configure", "test-before-setup", "unique-config-entry",
    },
    "silver": {
        "action-exceptions", "config-entry-unloading", "docs-configuration-parameters",
        "docs-installation-parameters", "entity-unavailable", "integration-owner", "log-when-unavailable",
        "parallel-updates", "reauthentication-flow", "test-coverage",
    },
    "gold": {
        "devices", "diagnostics", "discovery-update-info", "discovery", "docs-data-update", "docs-examples",
        "docs-known-limitations", "docs-supported-devices", "docs-supported-functions",
        "docs-troubleshooting", "docs-use-cases", "dynamic-devices", "entity-category",
        "entity-device-class", "entity-disabled-by-default", "entity-translations",
        "exception-translations", "icon-translations", "reconfiguration-flow", "repair-issues",
        "stale-devices",
    },
    "platinum": {"async-dependency", "inject-websession", "strict-typing"},
}  # fmt: skip


def rules() -> dict[str, Any]:
    loaded: Any = load_yaml(str(COMPONENT / "quality_scale.yaml"))
    found: dict[str, Any] = loaded["rules"]
    return found


def status(rule: Any) -> tuple[str, str | None]:
    if isinstance(rule, str):
        return rule, None
    return rule["status"], rule.get("comment")


def test_every_rule_is_done_or_exempt_with_a_reason() -> None:
    found = rules()
    assert set(found) == set().union(*TIERS.values())
    for name, rule in found.items():
        state, comment = status(rule)
        assert state in {"done", "exempt"}, name
        if state == "exempt":
            assert comment, f"{name}: an exemption needs a reason"


def test_manifest_claims_the_tier_reached() -> None:
    manifest = json.loads((COMPONENT / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["quality_scale"] == "platinum"


def code(name: str) -> str:
    return (COMPONENT / name).read_text(encoding="utf-8")


def test_the_claims_hold() -> None:
    for platform in PLATFORMS:
        assert re.search(r"^PARALLEL_UPDATES = \d+$", code(f"{platform}.py"), re.MULTILINE), platform
    assert "_attr_has_entity_name = True" in code("entity.py")
    assert "entity_registry_enabled_default=False" in code("sensor.py")
    flow = code("config_flow.py")
    for step in ("reconfigure", "reauth", "reauth_confirm"):
        assert f"async def async_step_{step}(" in flow
    assert "async_get_config_entry_diagnostics" in code("diagnostics.py")
    assert "async_get_device_diagnostics" in code("diagnostics.py")
    assert "async_create_fix_flow" in code("repairs.py")
    assert "async_unload_entry" in code("__init__.py")
    assert "async_get_clientsession" in flow
    for doc in ("installation", "configuration", "use-cases", "troubleshooting"):
        assert (ROOT / "docs" / f"{doc}.md").is_file(), doc
    text = (ROOT / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
    assert "## Known limitations" in text
    installation = (ROOT / "docs" / "installation.md").read_text(encoding="utf-8")
    assert "## With HACS" in installation
    assert "## Removal" in installation
    configuration = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for heading in ("## Options", "## Entities", "## Actions", "## Data updates"):
        assert heading in configuration
    services: Any = load_yaml(str(COMPONENT / "services.yaml"))
    for action in services:
        assert action in configuration, f"docs-actions: {action}"
    _, comment = status(rules()["docs-supported-devices"])
    assert comment is not None
    assert "docs/supported-devices.md" in comment
