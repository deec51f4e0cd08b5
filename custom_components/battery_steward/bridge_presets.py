"""Bridge presets: the mapping for integrations we know, found through the entity registry.

A preset names each entity it needs by a *role* ("@soc", "@mode", ...) and says how to find it in
the entity registry: the platform (the integration that created it), the entity domain, and a
unique-id pattern or a translation key, never a name (names change with the language and the
user). Its template is a mapping (`bridge_spec.py`) with "@role" where an entity id goes. A mode
whose steps need a role that is not found is left out; a preset that then controls nothing is not
offered. Each preset cites the source its keys, options and actions were taken from.
"""

from collections.abc import Mapping
from dataclasses import dataclass
import re
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .bridge_spec import BridgeSpec, BridgeSpecError


@dataclass(frozen=True, kw_only=True, slots=True)
class Match:
    """How one role's entity is found: platform, domain, and a unique-id pattern or translation key."""

    platform: str
    domain: str
    unique_id: str | None = None  # a regular expression searched in the unique id
    their_key: str | None = None  # the entity registry translation key (the other integration's)
    same_device_as: str | None = None  # only on the device of another role's entity

    def matches(self, entry: er.RegistryEntry) -> bool:
        """Whether a registry entry is this role's entity."""
        if entry.platform != self.platform or entry.domain != self.domain:
            return False
        if self.their_key is not None and entry.translation_key != self.their_key:
            return False
        return self.unique_id is None or re.search(self.unique_id, entry.unique_id) is not None


def _by_uid(platform: str, domain: str, suffix: str, *, same_device_as: str | None = None) -> Match:
    """An entity whose unique id ends with `suffix` (after the site, serial or entry put first)."""
    return Match(
        platform=platform, domain=domain, unique_id=f"{re.escape(suffix)}$", same_device_as=same_device_as
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class Preset:
    """A known integration's battery entities and what each of our modes writes."""

    key: str
    name: str
    platform: str | None  # the integration whose devices are offered; None: entities without a device
    source: str  # where the keys, options and actions were taken from
    roles: Mapping[str, Match]
    template: Mapping[str, Any]
    rated_power_w: int = 5000
    caveats: tuple[str, ...] = ()
    device_role: str = "soc"  # whose device the actions' {device_id} is


@dataclass(frozen=True, kw_only=True, slots=True)
class Candidate:
    """A device (or a device-less package) a preset fits, with the mapping it fills in."""

    key: str  # the device id, or "package:<preset>"
    label: str
    preset: Preset
    mapping: dict[str, Any]


def _fill(value: Any, entities: Mapping[str, str]) -> Any:
    if isinstance(value, str) and value.startswith("@"):
        return entities[value[1:]]
    if isinstance(value, Mapping):
        return {key: _fill(item, entities) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, entities) for item in value]
    return value


def _roles_in(value: Any) -> set[str]:
    if isinstance(value, str) and value.startswith("@"):
        return {value[1:]}
    if isinstance(value, Mapping):
        return set().union(*(_roles_in(item) for item in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_roles_in(item) for item in value)) if value else set()
    return set()


def build_mapping(preset: Preset, entities: Mapping[str, str], device_id: str | None) -> dict[str, Any]:
    """The preset's template with the entities found; what needs a missing entity is left out."""
    template = dict(preset.template)
    out: dict[str, Any] = {}
    for key, value in template.items():
        if key == "modes":
            modes = {mode: spec for mode, spec in value.items() if _roles_in(spec) <= entities.keys()}
            if modes:
                out["modes"] = _fill(modes, entities)
        elif key == "read_back":
            continue  # after the modes: only for those that stayed
        elif _roles_in(value) <= entities.keys():
            out[key] = _fill(value, entities)
    if "read_back" in template and "modes" in out:
        read_back = {
            mode: conditions
            for mode, conditions in template["read_back"].items()
            if mode in out["modes"] and _roles_in(conditions) <= entities.keys()
        }
        if read_back:
            out["read_back"] = _fill(read_back, entities)
    if device_id and any("{device_id}" in str(spec) for spec in out.get("modes", {}).values()):
        out["device_id"] = device_id
    return out


def find_entities(hass: HomeAssistant, preset: Preset, device_id: str | None) -> dict[str, str]:
    """Each role's entity: on the picked device's config entries first, else anywhere on its platform."""
    registry = er.async_get(hass)
    entries = list(registry.entities.values())
    config_entries: set[str] = set()
    if device_id is not None and (device := dr.async_get(hass).async_get(device_id)) is not None:
        config_entries = {device.config_entry_id} if device.config_entry_id else set()
    found: dict[str, str] = {}
    pending = dict(preset.roles)
    # Roles tied to another role's device go last, once that role is found.
    for name, match in sorted(pending.items(), key=lambda item: item[1].same_device_as is not None):
        candidates = [entry for entry in entries if match.matches(entry) and not entry.disabled]
        if match.same_device_as is not None:
            anchor = registry.async_get(found.get(match.same_device_as, ""))
            candidates = [e for e in candidates if anchor is not None and e.device_id == anchor.device_id]
        own = [e for e in candidates if e.config_entry_id in config_entries]
        ranked = [e for e in own if e.device_id == device_id] + own + candidates
        if ranked:
            found[name] = ranked[0].entity_id
    return found


def candidates(hass: HomeAssistant) -> list[Candidate]:
    """Every device (and device-less package) a preset fits and can control."""
    registry = er.async_get(hass)
    devices = dr.async_get(hass)
    out: list[Candidate] = []
    for preset in PRESETS:
        if preset.platform is None:
            found = find_entities(hass, preset, None)
            if (
                candidate := _candidate(preset, found, f"package:{preset.key}", preset.name, None)
            ) is not None:
                out.append(candidate)
            continue
        seen: set[str] = set()
        soc = preset.roles["soc"]
        for entry in registry.entities.values():
            if not soc.matches(entry) or entry.device_id is None or entry.device_id in seen:
                continue
            seen.add(entry.device_id)
            device = devices.async_get(entry.device_id)
            if device is None:
                continue
            found = find_entities(hass, preset, entry.device_id)
            anchor = registry.async_get(found.get(preset.device_role, ""))
            action_device = anchor.device_id if anchor is not None else entry.device_id
            label = f"{device.name_by_user or device.name or entry.entity_id} ({preset.name})"
            if (candidate := _candidate(preset, found, entry.device_id, label, action_device)) is not None:
                out.append(candidate)
    return out


def _candidate(
    preset: Preset, found: Mapping[str, str], key: str, label: str, device_id: str | None
) -> Candidate | None:
    if "soc" not in found:
        return None
    mapping = build_mapping(preset, found, device_id)
    try:
        BridgeSpec.from_dict(mapping)
    except BridgeSpecError:
        return None  # found, but nothing to control (e.g. Powerwall's local API without a cloud integration)
    return Candidate(key=key, label=label, preset=preset, mapping=mapping)


# ---------------------------------------------------------------- Tesla Powerwall

_TESLA_TEMPLATE: dict[str, Any] = {
    "soc": "@soc",
    "power_sensor": "@power",
    "reserve": {"entity": "@reserve"},
    "modes": {
        "auto": {"steps": [{"select": "@mode", "option": "self_consumption"}]},
        "idle": {"steps": [{"select": "@mode", "option": "backup"}]},
        # Force charge: reserve 100 %, grid charging on, then time-based control (it charges to the reserve).
        "force_charge": {
            "steps": [
                {"number": "@reserve", "value": 100},
                {"switch": "@grid_charging", "on": True},
                {"select": "@mode", "option": "autonomous"},
            ]
        },
    },
    "read_back": {
        "force_charge": [
            {"entity": "@mode", "state": "autonomous"},
            {"entity": "@reserve", "above": 99},
        ]
    },
}
_TESLA_CAVEATS = (
    "Force charge needs grid charging to be allowed for the site (the Grid charging switch; some "
    "utilities and regions forbid it); it uses time-based control with the reserve at 100 %.",
    "The cloud applies a change seconds to a minute after the call; the settle time covers it.",
    "There is no force discharge: the Powerwall API has no command for it.",
)


def _tesla_roles(platform: str) -> dict[str, Match]:
    # Unique ids are "<energy site id>-<key>" (teslemetry/entity.py, tesla_fleet/entity.py).
    return {
        "soc": _by_uid(platform, "sensor", "-percentage_charged"),
        "power": _by_uid(platform, "sensor", "-battery_power"),
        "reserve": _by_uid(platform, "number", "-backup_reserve_percent"),
        "mode": _by_uid(platform, "select", "-default_real_mode"),
        "grid_charging": _by_uid(
            platform, "switch", "-components_disallow_charge_from_grid_with_solar_installed"
        ),
    }


TESLEMETRY = Preset(
    key="teslemetry",
    name="Tesla Powerwall (Teslemetry)",
    platform="teslemetry",
    source="homeassistant/components/teslemetry/select.py (TeslemetryOperationSelectEntity), number.py "
    "(backup_reserve_percent), switch.py (components_disallow_charge_from_grid_with_solar_installed), "
    "sensor.py (percentage_charged, battery_power)",
    roles=_tesla_roles("teslemetry"),
    template=_TESLA_TEMPLATE,
    rated_power_w=11500,
    caveats=_TESLA_CAVEATS,
)

TESLA_FLEET = Preset(
    key="tesla_fleet",
    name="Tesla Powerwall (Tesla Fleet)",
    platform="tesla_fleet",
    source="homeassistant/components/tesla_fleet/select.py (default_real_mode), number.py "
    "(backup_reserve_percent), switch.py (components_disallow_charge_from_grid_with_solar_installed), "
    "sensor.py (percentage_charged, battery_power)",
    roles=_tesla_roles("tesla_fleet"),
    template=_TESLA_TEMPLATE,
    rated_power_w=11500,
    caveats=_TESLA_CAVEATS,
)

POWERWALL = Preset(
    key="powerwall",
    name="Tesla Powerwall (local API, controlled through Teslemetry or Tesla Fleet)",
    platform="powerwall",
    source="homeassistant/components/powerwall/sensor.py (PowerWallChargeSensor '<din>_charge', "
    "PowerWallEnergySensor '<din>_battery_instant_power'); the local API is read-only, so the controls "
    "come from the Teslemetry or Tesla Fleet entities of the same site",
    roles={
        "soc": Match(platform="powerwall", domain="sensor", their_key="charge", unique_id=r"_charge$"),
        "power": Match(
            platform="powerwall",
            domain="sensor",
            their_key="battery_instant_power",
            unique_id=r"_battery_instant_power$",
        ),
        **{
            role: match
            for role, match in _tesla_roles("teslemetry").items()
            if role in ("reserve", "mode", "grid_charging")
        },
    },
    template=_TESLA_TEMPLATE,
    rated_power_w=11500,
    caveats=(
        "The local Powerwall API cannot change anything: Battery Steward reads the charge and power "
        "locally (every few seconds) and writes through the Teslemetry entities of the site.",
        *_TESLA_CAVEATS,
    ),
)

POWERWALL_FLEET = Preset(
    key="powerwall_fleet",
    name="Tesla Powerwall (local API, controlled through Tesla Fleet)",
    platform="powerwall",
    source=POWERWALL.source,
    roles={
        **{role: match for role, match in POWERWALL.roles.items() if role in ("soc", "power")},
        **{
            role: match
            for role, match in _tesla_roles("tesla_fleet").items()
            if role in ("reserve", "mode", "grid_charging")
        },
    },
    template=_TESLA_TEMPLATE,
    rated_power_w=11500,
    caveats=POWERWALL.caveats,
)

# ---------------------------------------------------------------- Enphase

ENPHASE = Preset(
    key="enphase_envoy",
    name="Enphase IQ Battery (Envoy)",
    platform="enphase_envoy",
    source="homeassistant/components/enphase_envoy/select.py (storage_mode: backup, self_consumption, "
    "savings), number.py (reserve_soc), switch.py (charge_from_grid), sensor.py (battery_level, "
    "battery_discharge)",
    roles={
        "soc": _by_uid("enphase_envoy", "sensor", "_battery_level"),
        "power": _by_uid("enphase_envoy", "sensor", "_battery_discharge"),
        "reserve": Match(platform="enphase_envoy", domain="number", their_key="reserve_soc"),
        "mode": Match(platform="enphase_envoy", domain="select", their_key="storage_mode"),
        "grid_charging": Match(platform="enphase_envoy", domain="switch", their_key="charge_from_grid"),
    },
    template={
        "soc": "@soc",
        "power_sensor": "@power",
        "reserve": {"entity": "@reserve"},
        "modes": {
            "auto": {
                "steps": [
                    {"switch": "@grid_charging", "on": False},
                    {"select": "@mode", "option": "self_consumption"},
                ]
            },
            "force_charge": {
                "steps": [
                    {"switch": "@grid_charging", "on": True},
                    {"select": "@mode", "option": "backup"},
                ]
            },
        },
    },
    rated_power_w=3840,
    caveats=(
        "Force charge is Full Backup with charge from grid on: the Envoy charges to 100 % at its own rate.",
        "Charge from grid must be permitted by the installer's grid profile; otherwise the switch is "
        "refused.",
        "There is no force discharge or idle: the Envoy has no command for them.",
    ),
)

# ---------------------------------------------------------------- GoodWe

GOODWE = Preset(
    key="goodwe",
    name="GoodWe hybrid inverter",
    platform="goodwe",
    source="homeassistant/components/goodwe/select.py (operation_mode: general, off_grid, backup, eco, "
    "peak_shaving, eco_charge, eco_discharge), number.py (battery_discharge_depth), sensor.py "
    "(unique ids 'goodwe-<sensor id>-<serial>', battery_soc)",
    roles={
        "soc": Match(platform="goodwe", domain="sensor", unique_id=r"^goodwe-battery_soc-"),
        "power": Match(platform="goodwe", domain="sensor", unique_id=r"^goodwe-pbattery1-"),
        "reserve": Match(platform="goodwe", domain="number", unique_id=r"^goodwe-battery_discharge_depth-"),
        "mode": Match(platform="goodwe", domain="select", unique_id=r"^goodwe-operation_mode-"),
    },
    template={
        "soc": "@soc",
        "power_sensor": "@power",
        # The inverter takes a depth of discharge: the reserve is 100 - DoD.
        "reserve": {"entity": "@reserve", "transform": {"complement": True}},
        "modes": {
            "auto": {"steps": [{"select": "@mode", "option": "general"}]},
            "idle": {"steps": [{"select": "@mode", "option": "backup"}]},
            "force_charge": {"steps": [{"select": "@mode", "option": "eco_charge"}]},
            "force_discharge": {"steps": [{"select": "@mode", "option": "eco_discharge"}]},
        },
    },
    rated_power_w=5000,
    caveats=(
        "Eco charge and eco discharge run at the power Home Assistant's GoodWe integration sets when the "
        "mode is selected (100 %); Battery Steward does not set a power for them.",
        "Backup keeps the battery for outages: it stands for idle.",
        "Only the modes your inverter reports are offered by the select; others are left out.",
        "The battery power sensor (pbattery1) comes from the goodwe library; + is discharging.",
    ),
)

# ---------------------------------------------------------------- Huawei Solar

HUAWEI = Preset(
    key="huawei_solar",
    name="Huawei LUNA2000 (Huawei Solar)",
    platform="huawei_solar",
    source="wlcrs/huawei_solar services.yaml and services.py (forcible_charge, forcible_discharge with "
    "device_id, power in W and duration in minutes; stop_forcible_charge), select.py "
    "(storage_working_mode_settings), number.py (storage_backup_power_state_of_charge), sensor.py "
    "(storage_state_of_capacity, storage_charge_discharge_power); unique ids '<serial>_<key>'",
    roles={
        "soc": _by_uid("huawei_solar", "sensor", "_storage_state_of_capacity"),
        "power": _by_uid("huawei_solar", "sensor", "_storage_charge_discharge_power"),
        "reserve": _by_uid("huawei_solar", "number", "_storage_backup_power_state_of_charge"),
        "working_mode": _by_uid("huawei_solar", "select", "_storage_working_mode_settings"),
    },
    template={
        "soc": "@soc",
        "power_sensor": "@power",
        "power_sensor_charge_positive": True,
        "reserve": {"entity": "@reserve"},
        "power": {"shape": "mode"},
        "modes": {
            "auto": {
                "steps": [
                    {"action": "huawei_solar.stop_forcible_charge", "data": {"device_id": "{device_id}"}},
                    {"select": "@working_mode", "option": "maximise_self_consumption"},
                ]
            },
            "force_charge": {
                "steps": [
                    {
                        "action": "huawei_solar.forcible_charge",
                        "data": {"device_id": "{device_id}", "power": "{charge}", "duration": 60},
                    }
                ],
                "keepalive": True,
            },
            "force_discharge": {
                "steps": [
                    {
                        "action": "huawei_solar.forcible_discharge",
                        "data": {"device_id": "{device_id}", "power": "{discharge}", "duration": 60},
                    }
                ],
                "keepalive": True,
            },
        },
        # A forcible charge lasts its duration (60 min): re-sent every 30 min while the mode lasts.
        "keepalive_s": 1800,
    },
    rated_power_w=5000,
    caveats=(
        "Enable 'Elevated permissions' (parameter configuration) in the Huawei Solar integration: the "
        "actions are refused without it.",
        "A forcible charge or discharge cannot be read back: Battery Steward remembers what it sent "
        "and re-sends it every 30 minutes (each lasts 60); a change made in FusionSolar is not seen.",
        "Grid charging must be allowed (the 'Charge from grid' switch) for a forcible charge to use the "
        "grid.",
    ),
)

# ---------------------------------------------------------------- SolaX Modbus

_SOLAX_REMOTE = {"select": "@power_control", "option": "Enabled Battery Control"}
_SOLAX_REPEAT = {"number": "@autorepeat", "value": 3600}
SOLAX = Preset(
    key="solax_modbus",
    name="SolaX Gen4+ (SolaX Modbus, remote control)",
    platform="solax_modbus",
    source="wills106/homeassistant-solax-modbus custom_components/solax_modbus/plugin_solax.py "
    "(remotecontrol_power_control options, remotecontrol_active_power, remotecontrol_autorepeat_duration, "
    "remotecontrol_trigger, battery_capacity, battery_power_charge) and "
    "docs/solax-mode1-modbus-power-control.md "
    "(Enabled Battery Control: + charge, - discharge); unique ids '<prefix>_<key>'",
    roles={
        "soc": _by_uid("solax_modbus", "sensor", "_battery_capacity"),
        "power": _by_uid("solax_modbus", "sensor", "_battery_power_charge"),
        "power_control": _by_uid("solax_modbus", "select", "_remotecontrol_power_control"),
        "active_power": _by_uid("solax_modbus", "number", "_remotecontrol_active_power"),
        "autorepeat": _by_uid("solax_modbus", "number", "_remotecontrol_autorepeat_duration"),
        "trigger": _by_uid("solax_modbus", "button", "_remotecontrol_trigger"),
        "reserve": _by_uid("solax_modbus", "number", "_selfuse_discharge_min_soc"),
    },
    template={
        "soc": "@soc",
        "power_sensor": "@power",
        "power_sensor_charge_positive": True,
        "reserve": {"entity": "@reserve"},
        "power": {"shape": "signed", "entity": "@active_power", "charge_positive": True},
        "modes": {
            "auto": {
                "steps": [
                    {"select": "@power_control", "option": "Disabled"},
                    {"number": "@autorepeat", "value": 0},
                    {"press": "@trigger"},
                ]
            },
            "force_charge": {
                "steps": [
                    _SOLAX_REMOTE,
                    {"number": "@active_power", "value": "{signed_charge}"},
                    _SOLAX_REPEAT,
                    {"press": "@trigger"},
                ],
                "keepalive": True,
            },
            "force_discharge": {
                "steps": [
                    _SOLAX_REMOTE,
                    {"number": "@active_power", "value": "{signed_charge}"},
                    _SOLAX_REPEAT,
                    {"press": "@trigger"},
                ],
                "keepalive": True,
            },
            "idle": {
                "steps": [
                    _SOLAX_REMOTE,
                    {"number": "@active_power", "value": 0},
                    _SOLAX_REPEAT,
                    {"press": "@trigger"},
                ],
                "keepalive": True,
            },
        },
        # The same select for three modes: the active power's sign tells them apart.
        "read_back": {
            "force_charge": [
                {"entity": "@power_control", "state": "Enabled Battery Control"},
                {"entity": "@active_power", "above": 0},
            ],
            "force_discharge": [
                {"entity": "@power_control", "state": "Enabled Battery Control"},
                {"entity": "@active_power", "below": 0},
            ],
            "idle": [
                {"entity": "@power_control", "state": "Enabled Battery Control"},
                {"entity": "@active_power", "above": -1, "below": 1},
            ],
        },
        # Autorepeat runs for an hour after each trigger: pressed again every 30 minutes.
        "keepalive_s": 1800,
    },
    rated_power_w=6000,
    caveats=(
        "Uses remote control mode 1 (not written to EEPROM, so it can change often); the polling "
        "interval of SolaX Modbus should be 5 s or less for autorepeat to follow.",
        "Autorepeat will not discharge below selfuse_discharge_min_soc, which is also the reserve.",
    ),
)

# ---------------------------------------------------------------- Sungrow (modbus YAML package)

SUNGROW = Preset(
    key="sungrow_shx",
    name="Sungrow SHx (mkaiser modbus package)",
    platform=None,
    source="mkaiser/Sungrow-SHx-Inverter-Modbus-Home-Assistant modbus_sungrow.yaml (template select "
    "uid_ems_mode: 'Self-consumption mode (default)', 'Forced mode'; uid_battery_forced_charge_discharge: "
    "'Stop (default)', 'Forced charge', 'Forced discharge'; number "
    "uid_battery_forced_charge_discharge_power; "
    "number uid_battery_reserved_soc_for_backup; modbus sensors sg_battery_level, sg_battery_power "
    "(+ discharging))",
    roles={
        "soc": Match(platform="modbus", domain="sensor", unique_id=r"^sg_battery_level$"),
        "power": Match(platform="modbus", domain="sensor", unique_id=r"^sg_battery_power$"),
        "ems": _by_uid("template", "select", "uid_ems_mode"),
        "command": _by_uid("template", "select", "uid_battery_forced_charge_discharge"),
        "forced_power": _by_uid("template", "number", "uid_battery_forced_charge_discharge_power"),
        "reserve": _by_uid("template", "number", "uid_battery_reserved_soc_for_backup"),
    },
    template={
        "soc": "@soc",
        "power_sensor": "@power",
        "reserve": {"entity": "@reserve"},
        "power": {"shape": "magnitude", "entity": "@forced_power"},
        "modes": {
            "auto": {
                "steps": [
                    {"select": "@ems", "option": "Self-consumption mode (default)"},
                    {"select": "@command", "option": "Stop (default)"},
                ]
            },
            "force_charge": {
                "steps": [
                    {"select": "@ems", "option": "Forced mode"},
                    {"select": "@command", "option": "Forced charge"},
                ]
            },
            "force_discharge": {
                "steps": [
                    {"select": "@ems", "option": "Forced mode"},
                    {"select": "@command", "option": "Forced discharge"},
                ]
            },
            "idle": {
                "steps": [
                    {"select": "@ems", "option": "Forced mode"},
                    {"select": "@command", "option": "Stop (default)"},
                ]
            },
        },
    },
    rated_power_w=5000,
    caveats=(
        "These entities come from the YAML package, not from a device: pick 'Sungrow SHx' in the list.",
        "The forced power is a magnitude: the mode says charge or discharge, so a power setpoint needs "
        "force charge or force discharge.",
    ),
)

# ---------------------------------------------------------------- Victron

VICTRON = Preset(
    key="victron",
    name="Victron ESS (Victron GX Modbus TCP)",
    platform="victron",
    source="sfstar/hass-victron custom_components/victron/const.py (settings_ess_acpowersetpoint, register "
    "2700, signed W; settings_ess_batterylife_minimumsoc; battery_soc; battery_power) and "
    "select.py/number.py "
    "(unique ids '<unit>_<key>')",
    roles={
        "soc": _by_uid("victron", "sensor", "_battery_soc"),
        "power": _by_uid("victron", "sensor", "_battery_power"),
        "setpoint": _by_uid("victron", "number", "_settings_ess_acpowersetpoint"),
        "reserve": _by_uid("victron", "number", "_settings_ess_batterylife_minimumsoc"),
    },
    template={
        "soc": "@soc",
        "power_sensor": "@power",
        "power_sensor_charge_positive": True,
        "reserve": {"entity": "@reserve"},
        # The ESS grid setpoint: + takes power from the grid (charging), - feeds it (discharging).
        "power": {"shape": "signed", "entity": "@setpoint", "charge_positive": True},
        "modes": {
            "auto": {"steps": [{"number": "@setpoint", "value": 0}]},
            "force_charge": {"steps": [{"number": "@setpoint", "value": "{signed_charge}"}]},
            "force_discharge": {"steps": [{"number": "@setpoint", "value": "{signed_charge}"}]},
        },
        "read_back": {
            "auto": [{"entity": "@setpoint", "above": -1, "below": 1}],
            "force_charge": [{"entity": "@setpoint", "above": 0}],
            "force_discharge": [{"entity": "@setpoint", "below": 0}],
        },
    },
    rated_power_w=5000,
    caveats=(
        "Enable 'advanced' (write) options in the Victron integration: the setpoint is not created "
        "without them.",
        "The setpoint is the grid's, not the battery's: the battery makes up the difference with PV and "
        "loads, so the measured battery power follows it only roughly.",
        "There is no idle.",
    ),
)

# ---------------------------------------------------------------- SolarEdge Modbus Multi

_SE_REMOTE = {"select": "@control_mode", "option": "Remote Control"}
_SE_TIMEOUT = {"number": "@timeout", "value": 3600}
SOLAREDGE = Preset(
    key="solaredge_modbus_multi",
    name="SolarEdge battery (SolarEdge Modbus Multi)",
    platform="solaredge_modbus_multi",
    source="WillCodeForCats/solaredge-modbus-multi custom_components/solaredge_modbus_multi/const.py "
    "(STORAGE_CONTROL_MODE, STORAGE_MODE option texts), select.py (storage_control_mode, "
    "storage_command_mode), number.py (storage_backup_reserve, storage_command_timeout, "
    "storage_charge_limit, storage_discharge_limit), sensor.py (battery_soe, battery dc_power)",
    roles={
        "soc": _by_uid("solaredge_modbus_multi", "sensor", "_battery_soe"),
        "power": _by_uid("solaredge_modbus_multi", "sensor", "_dc_power", same_device_as="soc"),
        "control_mode": _by_uid("solaredge_modbus_multi", "select", "_storage_control_mode"),
        "command_mode": _by_uid("solaredge_modbus_multi", "select", "_storage_command_mode"),
        "timeout": _by_uid("solaredge_modbus_multi", "number", "_storage_command_timeout"),
        "charge_limit": _by_uid("solaredge_modbus_multi", "number", "_storage_charge_limit"),
        "discharge_limit": _by_uid("solaredge_modbus_multi", "number", "_storage_discharge_limit"),
        "reserve": _by_uid("solaredge_modbus_multi", "number", "_storage_backup_reserve"),
    },
    template={
        "soc": "@soc",
        "power_sensor": "@power",
        "power_sensor_charge_positive": True,
        "reserve": {"entity": "@reserve"},
        "power": {"shape": "split", "charge_entity": "@charge_limit", "discharge_entity": "@discharge_limit"},
        "modes": {
            "auto": {"steps": [{"select": "@control_mode", "option": "Maximize Self Consumption"}]},
            "force_charge": {
                "steps": [
                    _SE_REMOTE,
                    _SE_TIMEOUT,
                    {"select": "@command_mode", "option": "Charge from Solar Power and Grid"},
                ],
                "keepalive": True,
            },
            "force_discharge": {
                "steps": [
                    _SE_REMOTE,
                    _SE_TIMEOUT,
                    {"select": "@command_mode", "option": "Discharge to Maximize Export"},
                ],
                "keepalive": True,
            },
            "idle": {
                "steps": [
                    _SE_REMOTE,
                    _SE_TIMEOUT,
                    {"select": "@command_mode", "option": "Solar Power Only (Off)"},
                ],
                "keepalive": True,
            },
        },
        # A remote-control command lasts the command timeout (1 h): re-sent every 30 minutes.
        "keepalive_s": 1800,
    },
    rated_power_w=5000,
    caveats=(
        "Enable 'Power control options → Storage control' in SolarEdge Modbus Multi; the entities "
        "are not created without it.",
        "Charging from the grid needs the AC charge policy 'Always Allowed'.",
        "Set Storage Default Mode to Maximize Self Consumption: the battery returns to it when a "
        "command times out.",
        "Only one Modbus client may talk to the inverter: this is why the bridge goes through the "
        "integration.",
    ),
)

# ---------------------------------------------------------------- Marstek Venus (ViperRNMC)

MARSTEK = Preset(
    key="marstek_modbus",
    name="Marstek Venus (Marstek Venus Modbus)",
    platform="marstek_modbus",
    source="ViperRNMC/marstek_venus_modbus custom_components/marstek_modbus/registers/e_v12.yaml "
    "(force_mode: standby, charge, discharge; rs485_control_mode switch; set_charge_power, "
    "set_discharge_power; battery_soc, battery_power) and select.py/number.py/switch.py "
    "(translation key = register key, unique id '<entry id>_<key>')",
    roles={
        "soc": Match(platform="marstek_modbus", domain="sensor", their_key="battery_soc"),
        "power": Match(platform="marstek_modbus", domain="sensor", their_key="battery_power"),
        "rs485": Match(platform="marstek_modbus", domain="switch", their_key="rs485_control_mode"),
        "force_mode": Match(platform="marstek_modbus", domain="select", their_key="force_mode"),
        "charge_power": Match(platform="marstek_modbus", domain="number", their_key="set_charge_power"),
        "discharge_power": Match(platform="marstek_modbus", domain="number", their_key="set_discharge_power"),
    },
    template={
        "soc": "@soc",
        "power_sensor": "@power",
        "power": {"shape": "split", "charge_entity": "@charge_power", "discharge_entity": "@discharge_power"},
        "modes": {
            "auto": {
                "steps": [{"select": "@force_mode", "option": "standby"}, {"switch": "@rs485", "on": False}]
            },
            "force_charge": {
                "steps": [{"switch": "@rs485", "on": True}, {"select": "@force_mode", "option": "charge"}]
            },
            "force_discharge": {
                "steps": [{"switch": "@rs485", "on": True}, {"select": "@force_mode", "option": "discharge"}]
            },
            "idle": {
                "steps": [{"switch": "@rs485", "on": True}, {"select": "@force_mode", "option": "standby"}]
            },
        },
    },
    rated_power_w=2500,
    caveats=(
        "The force-mode, RS485-control and power entities are disabled by default in the Marstek "
        "integration: enable them first.",
        "Check the sign of the battery power sensor once: turn on 'Positive power means charging' if "
        "Battery Steward shows charging as discharging.",
        "No backup reserve entity: the reserve stays as set in the Marstek app.",
    ),
)

PRESETS: tuple[Preset, ...] = (
    TESLEMETRY,
    TESLA_FLEET,
    POWERWALL,
    POWERWALL_FLEET,
    ENPHASE,
    GOODWE,
    HUAWEI,
    SOLAX,
    SUNGROW,
    VICTRON,
    SOLAREDGE,
    MARSTEK,
)


def _step_text(step: Mapping[str, Any]) -> str:
    if "select" in step:
        return f"`{step['select']}` ← {step['option']}"
    if "number" in step:
        return f"`{step['number']}` ← {step['value']}"
    if "switch" in step:
        return f"`{step['switch']}` {'on' if step['on'] else 'off'}"
    if "press" in step:
        return f"press `{step['press']}`"
    data = ", ".join(f"{key}: {value}" for key, value in step.get("data", {}).items() if key != "device_id")
    return f"`{step['action']}`({data})"


def describe(mapping: Mapping[str, Any]) -> str:
    """What each mode writes, one line each (shown for review before anything is saved)."""
    lines = [
        f"- **{mode}**: {'; '.join(_step_text(s) for s in spec['steps'])}"
        for mode, spec in mapping.get("modes", {}).items()
    ]
    if reserve := mapping.get("reserve"):
        lines.append(f"- **reserve**: `{reserve['entity']}`")
    if power := mapping.get("power"):
        entities = [power[key] for key in ("entity", "charge_entity", "discharge_entity") if key in power]
        lines.append(
            f"- **power** ({power['shape']}): {', '.join(f'`{e}`' for e in entities) or 'in the actions'}"
        )
    if keepalive := mapping.get("keepalive_s"):
        lines.append(f"- **keep-alive**: every {keepalive:.0f} s")
    return "\n".join(lines)
