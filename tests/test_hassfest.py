"""What hassfest and the HACS action check, re-implemented (Home Assistant does not ship hassfest).

The rules follow script/hassfest (manifest, services, translations, icons) and HACS's integration
checks; selectors are validated by Home Assistant's own selector code, as hassfest does.
"""

import json
from pathlib import Path
import re
import string
import struct
from typing import Any
from urllib.parse import urlparse

from awesomeversion import AwesomeVersion, AwesomeVersionStrategy
from homeassistant.const import __version__ as ha_version
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv, selector
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml
import pytest
import voluptuous as vol

from custom_components.battery_steward.const import DOMAIN

ROOT = Path(__file__).resolve().parent.parent
COMPONENT = ROOT / "custom_components" / "battery_steward"

RE_TRANSLATION_KEY = re.compile(r"^(?!.+[_-]{2})(?![_-])[a-z0-9-_]+(?<![_-])$")
RE_URL = re.compile(
    r"(((ftp|ftps|scp|http|https|mqtt|mqtts|socket|socks5):\/\/|www\.)"
    r"[a-z0-9]+([\-\.]{1}[a-z0-9]+)*\.[a-z]{2,5}(:[0-9]{1,5})?(\/.*)?)",
    re.IGNORECASE,
)


def read_json(path: Path) -> dict[str, Any]:
    data: Any = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    result: dict[str, Any] = data
    return result


# ---------------------------------------------------------------- manifest


def version(value: Any) -> str:
    try:
        AwesomeVersion(
            str(value),
            ensure_strategy=[
                AwesomeVersionStrategy.CALVER,
                AwesomeVersionStrategy.SEMVER,
                AwesomeVersionStrategy.SIMPLEVER,
                AwesomeVersionStrategy.BUILDVER,
                AwesomeVersionStrategy.PEP440,
            ],
        )
    except Exception as err:
        raise vol.Invalid(f"{value!r} is not a valid version") from err
    return str(value)


def https_url(value: Any) -> str:
    url = vol.Url()(value)
    if urlparse(url).scheme != "https":
        raise vol.Invalid("must use https")
    return str(url)


MANIFEST_SCHEMA = vol.Schema(
    {
        vol.Required("domain"): str,
        vol.Required("name"): str,
        vol.Optional("integration_type"): vol.In(
            ["device", "entity", "hardware", "helper", "hub", "service", "system"]
        ),
        vol.Optional("config_flow"): bool,
        vol.Required("documentation"): https_url,
        vol.Required("issue_tracker"): vol.Url(),  # HACS requires it of custom integrations
        vol.Optional("quality_scale"): vol.In(["bronze", "silver", "gold", "platinum"]),
        vol.Optional("requirements"): [str],
        vol.Optional("dependencies"): [str],
        vol.Optional("after_dependencies"): [str],
        # script/hassfest/manifest.py: MAC prefixes upper case, host names lower case.
        vol.Optional("dhcp"): [
            vol.Schema(
                {
                    vol.Optional("macaddress"): vol.All(str, vol.Match(r"^[0-9A-F*?]+$")),
                    vol.Optional("hostname"): vol.All(str, vol.Match(r"^[a-z0-9*?_-]+$")),
                    vol.Optional("registered_devices"): True,
                }
            )
        ],
        vol.Required("codeowners"): [vol.Match(r"^@[\w.-]+(/[\w.-]+)?$")],
        vol.Optional("loggers"): [str],
        vol.Required("iot_class"): vol.In(
            ["assumed_state", "calculated", "cloud_polling", "cloud_push", "local_polling", "local_push"]
        ),
        vol.Optional("single_config_entry"): bool,
        vol.Required("version"): version,
        vol.Optional("import_executor"): bool,
    }
)


def test_manifest_is_what_hassfest_and_hacs_accept() -> None:
    manifest = read_json(COMPONENT / "manifest.json")
    MANIFEST_SCHEMA(manifest)
    assert manifest["domain"] == COMPONENT.name
    keys = list(manifest)
    assert keys == sorted(keys, key=lambda key: {"domain": ".0", "name": ".1"}.get(key, key)), (
        "manifest keys: domain, name, then alphabetical"
    )
    # Gold and above: diagnostics and a code owner.
    assert (COMPONENT / "diagnostics.py").is_file()
    assert manifest["codeowners"]
    if manifest["config_flow"]:
        assert (COMPONENT / "config_flow.py").is_file()


def test_manifest_version_is_the_newest_release_in_the_changelog() -> None:
    manifest = read_json(COMPONENT / "manifest.json")
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$", changelog, re.MULTILINE)
    assert releases, "CHANGELOG.md has no '## [x.y.z] - yyyy-mm-dd' releases"
    assert releases[0][0] == manifest["version"]
    versions = [AwesomeVersion(v) for v, _ in releases]
    assert versions == sorted(versions, reverse=True), "newest release first"
    assert [d for _, d in releases] == sorted((d for _, d in releases), reverse=True)
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'version = "{manifest["version"]}"' in pyproject


# ---------------------------------------------------------------- HACS


HACS_SCHEMA = vol.Schema(
    {
        vol.Required("name"): str,
        vol.Optional("content_in_root"): bool,
        vol.Optional("zip_release"): bool,
        vol.Optional("filename"): str,
        vol.Optional("hide_default_branch"): bool,
        vol.Optional("country"): vol.Any([str], str),
        vol.Optional("homeassistant"): version,
        vol.Optional("hacs"): version,
        vol.Optional("persistent_directory"): str,
        vol.Optional("render_readme"): bool,
    }
)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    color_type = data[25]
    assert color_type in (4, 6), f"{path.name} needs an alpha channel (transparent background)"
    return width, height


def test_hacs_json_and_repository_layout() -> None:
    hacs = read_json(ROOT / "hacs.json")
    HACS_SCHEMA(hacs)
    manifest = read_json(COMPONENT / "manifest.json")
    assert hacs["name"] == manifest["name"]
    # One integration under custom_components/, not content_in_root.
    integrations = [p for p in (ROOT / "custom_components").iterdir() if (p / "manifest.json").is_file()]
    assert integrations == [COMPONENT]
    assert not hacs.get("content_in_root", False)
    # The minimum Home Assistant version is no newer than the one the tests run against.
    assert AwesomeVersion(hacs["homeassistant"]) <= AwesomeVersion(ha_version)
    assert (ROOT / "README.md").is_file()


def test_license_is_the_one_pyproject_declares() -> None:
    """HACS's validation fails a repository without a LICENSE file at its root."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'license = "Apache-2.0"' in pyproject
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text  # the full text, not a notice


def test_brand_images_follow_the_brands_rules() -> None:
    brand = COMPONENT / "brand"
    assert png_size(brand / "icon.png") == (256, 256)
    assert png_size(brand / "icon@2x.png") == (512, 512)
    width, height = png_size(brand / "logo.png")
    assert 128 <= min(width, height) <= 256
    width2, height2 = png_size(brand / "logo@2x.png")
    assert 256 <= min(width2, height2) <= 512
    assert (width2, height2) in {
        (width * 2, height * 2),
        (width * 2 - 1, height * 2),
        (width * 2 + 1, height * 2),
    }


# ---------------------------------------------------------------- services.yaml


def section_or_field(value: Any) -> Any:
    field_schema = vol.Schema(
        {
            vol.Optional("example"): object,
            vol.Optional("default"): object,
            vol.Optional("required"): bool,
            vol.Optional("advanced"): bool,
            vol.Optional("selector"): selector.validate_selector,
            vol.Optional("filter"): dict,
            vol.Optional("name"): str,
            vol.Optional("description"): str,
        }
    )
    section_schema = vol.Schema(
        {
            vol.Optional("collapsed"): bool,
            vol.Required("fields"): {str: field_schema},
            vol.Optional("name"): str,
            vol.Optional("description"): str,
        }
    )
    return vol.Any(field_schema, section_schema)(value)


SERVICES_SCHEMA = vol.Schema(
    {
        cv.slug: vol.Any(
            None,
            vol.Schema(
                {
                    vol.Optional("target"): vol.Any(selector.TargetSelector.CONFIG_SCHEMA, None),
                    vol.Optional("fields"): {str: section_or_field},
                    vol.Optional("name"): str,
                    vol.Optional("description"): str,
                }
            ),
        )
    }
)


def load_services() -> dict[str, Any]:
    loaded: Any = load_yaml(str(COMPONENT / "services.yaml"))
    assert isinstance(loaded, dict)
    services: dict[str, Any] = loaded
    return services


async def test_every_registered_action_is_described(hass: HomeAssistant) -> None:
    assert await async_setup_component(hass, DOMAIN, {})
    assert set(hass.services.async_services_for_domain(DOMAIN)) == set(load_services())


def test_services_yaml_is_valid_and_fully_translated() -> None:
    services = SERVICES_SCHEMA(load_services())
    strings = read_json(COMPONENT / "translations" / "en.json")
    icons = read_json(COMPONENT / "icons.json")["services"]
    for name, spec in services.items():
        assert name in icons, f"{name} has no icon"
        assert strings["services"][name]["name"]
        assert strings["services"][name]["description"]
        for field, field_spec in (spec or {}).get("fields", {}).items():
            assert "fields" not in field_spec, "sections would need translated names"
            texts = strings["services"][name]["fields"][field]
            assert texts["name"], f"{name}.{field}"
            assert texts["description"], f"{name}.{field}"
            config = field_spec.get("selector", {}).get("select")
            if config and "translation_key" in config:
                translated = strings["selector"][config["translation_key"]]["options"]
                assert {str(o) for o in config["options"]} == set(translated), f"{name}.{field}"


# ---------------------------------------------------------------- strings / translations


def text(value: Any, *, placeholders: bool = True) -> str:
    value = cv.string_with_no_html(value)
    if re.search(r"'{\w+}'", value):
        raise vol.Invalid("placeholder inside single quotes")
    for _, name, _, _ in string.Formatter().parse(value):
        if name and (not placeholders or not name.isidentifier()):
            raise vol.Invalid(f"placeholder {name!r} not allowed here")
    if re.search(r"(.+\[%)|(%\].+)", value):
        raise vol.Invalid("combined translations")
    if value != value.strip():
        raise vol.Invalid("leading or trailing spaces")
    if RE_URL.search(value):
        raise vol.Invalid("URL in a translation; use a placeholder")
    return str(value)


def plain_text(value: Any) -> str:
    return text(value, placeholders=False)


def key(value: Any) -> str:
    if not isinstance(value, str) or RE_TRANSLATION_KEY.match(value) is None:
        raise vol.Invalid(f"invalid translation key {value!r}")
    return value


def flow_schema(*, subentry: bool = False) -> vol.All:
    step = {
        vol.Optional("title"): text,
        vol.Optional("description"): text,
        vol.Optional("data"): {str: text},
        vol.Optional("data_description"): {str: text},
        vol.Optional("menu_options"): {str: text},
        vol.Optional("menu_option_descriptions"): {str: text},
        vol.Optional("submit"): text,
        vol.Optional("sections"): {str: dict},
    }
    schema: dict[Any, Any] = {
        vol.Optional("flow_title"): text,
        vol.Required("step"): {str: step},
        vol.Optional("error"): {str: text},
        vol.Optional("abort"): {str: text},
        vol.Optional("progress"): {str: text},
        vol.Optional("create_entry"): {str: text},
    }
    if subentry:
        schema[vol.Required("entry_type")] = text
        schema[vol.Required("initiate_flow")] = {vol.Required("user"): text, str: text}

    def described_fields_exist(value: dict[str, Any]) -> dict[str, Any]:
        for step_id, info in value["step"].items():
            for field in info.get("data_description", {}):
                if field not in info.get("data", {}):
                    raise vol.Invalid(f"data_description {step_id}.{field} is not in data")
        return value

    return vol.All(vol.Schema(schema), described_fields_exist)


ENTITY = {
    vol.Optional("name"): text,
    vol.Optional("state"): {key: plain_text},
    vol.Optional("state_attributes"): {
        key: {vol.Optional("name"): plain_text, vol.Optional("state"): {key: plain_text}}
    },
    vol.Optional("unit_of_measurement"): plain_text,
}

STRINGS_SCHEMA = vol.Schema(
    {
        vol.Optional("title"): text,
        vol.Optional("config"): flow_schema(),
        vol.Optional("options"): flow_schema(),
        vol.Optional("config_subentries"): {cv.slug: flow_schema(subentry=True)},
        vol.Optional("selector"): {
            cv.slug: {
                vol.Optional("options"): {key: text},
                vol.Optional("choices"): {key: text},
                vol.Optional("unit_of_measurement"): {key: text},
            }
        },
        vol.Optional("entity"): {cv.slug: {key: ENTITY}},
        vol.Optional("device"): {key: {vol.Optional("name"): text}},
        vol.Optional("exceptions"): {cv.slug: {vol.Optional("message"): text}},
        vol.Optional("issues"): {
            str: vol.All(
                cv.has_at_least_one_key("description", "fix_flow"),
                vol.Schema(
                    {
                        vol.Required("title"): text,
                        vol.Exclusive("description", "fixable"): text,
                        vol.Exclusive("fix_flow", "fixable"): flow_schema(),
                    }
                ),
            )
        },
        vol.Optional("services"): {
            key: {
                vol.Required("name"): text,
                vol.Required("description"): text,
                vol.Optional("fields"): {
                    key: {vol.Required("name"): str, vol.Required("description"): text, "example": text}
                },
                vol.Optional("sections"): {key: {vol.Required("name"): str, "description": text}},
            }
        },
    }
)


@pytest.mark.parametrize("name", ["strings.json", "translations/en.json", "translations/fr.json"])
def test_translation_files_match_the_hassfest_schema(name: str) -> None:
    STRINGS_SCHEMA(read_json(COMPONENT / name))


def test_strings_references_point_directly_at_text() -> None:
    strings = read_json(COMPONENT / "strings.json")
    refs = re.findall(r"\[%key:([a-z0-9_:]+)%\]", json.dumps(strings))
    assert refs
    for ref in refs:
        assert ref.startswith("common::config_flow::") or ref.split("::")[0] in strings, ref


def test_config_flow_forms_are_translated() -> None:
    """Every step, error and abort reason the flows can show has a text (hassfest cannot see this)."""
    strings = read_json(COMPONENT / "translations" / "en.json")
    code = (COMPONENT / "config_flow.py").read_text(encoding="utf-8")
    shown = set(re.findall(r'step_id="([a-z_]+)"', code))
    assert shown <= set(strings["config"]["step"]) | set(strings["options"]["step"])
    connection_errors = set(re.findall(r'return None, "([a-z_]+)"', code))
    api_errors = set(re.findall(r'^        return "([a-z_]+)"$', code, re.MULTILINE))
    assert connection_errors
    assert api_errors
    # Connection errors are form errors when adding or reconfiguring, and abort reasons for the simulator.
    assert connection_errors <= set(strings["config"]["error"]) & set(strings["config"]["abort"])
    assert api_errors <= set(strings["config"]["error"]) & set(strings["options"]["error"])
    reasons = set(re.findall(r'reason="([a-z_]+)"', code))
    assert reasons <= set(strings["config"]["abort"])


# ---------------------------------------------------------------- icons.json


def icon(value: Any) -> str:
    value = cv.string_with_no_html(value)
    if not value.startswith("mdi:") or not re.fullmatch(r"mdi:[a-z0-9]+(-[a-z0-9]+)*", value):
        raise vol.Invalid(f"{value!r} is not an mdi: icon")
    return str(value)


def not_same_as_default(value: dict[str, Any]) -> dict[str, Any]:
    for entity_key, section in value.items():
        default = section.get("default")
        for state, state_icon in section.get("state", {}).items():
            if state_icon == default:
                raise vol.Invalid(f"{entity_key}.{state} repeats the default icon")
    return value


def numeric(value: Any) -> str:
    float(value)
    return str(value)


ICONS_SCHEMA = vol.Schema(
    {
        vol.Optional("entity"): {
            cv.slug: vol.All(
                {
                    key: {
                        vol.Optional("default"): icon,
                        vol.Optional("state"): {key: icon},
                        vol.Optional("range"): {numeric: icon},
                        vol.Optional("state_attributes"): {
                            key: {vol.Optional("default"): icon, vol.Optional("state"): {key: icon}}
                        },
                    }
                },
                not_same_as_default,
            )
        },
        vol.Optional("services"): {
            key: vol.Any(icon, {vol.Required("service"): icon, "sections": {str: icon}})
        },
    }
)


def test_icons_match_the_hassfest_schema() -> None:
    ICONS_SCHEMA(read_json(COMPONENT / "icons.json"))


def test_every_entity_and_state_has_an_icon() -> None:
    strings = read_json(COMPONENT / "strings.json")["entity"]
    icons = read_json(COMPONENT / "icons.json")["entity"]
    assert set(icons) == set(strings)
    for platform, entities in strings.items():
        assert set(icons[platform]) == set(entities), platform
        for entity_key, texts in entities.items():
            spec = icons[platform][entity_key]
            assert "default" in spec, f"{platform}.{entity_key}"
            states = set(texts.get("state", {}))
            if states:
                # Every state has its own icon except (at most) the one the default stands for.
                assert set(spec.get("state", {})) <= states, f"{platform}.{entity_key}"
                assert len(states - set(spec.get("state", {}))) <= 1, f"{platform}.{entity_key}"
