"""Custom register map (`custom`): the user describes the battery's registers in YAML.

The document is validated completely before anything is polled; every refusal is a
`RegisterMapError` with a code (a translation key) and placeholders that point at the offending
place, e.g. `registers[2].address`. The format is documented in docs/supported-devices.md.
"""

from collections.abc import Mapping
from dataclasses import dataclass
import math
from typing import Any, override

import yaml  # type: ignore[import-untyped]  # PyYAML ships with Home Assistant; no stubs installed

from ...engine.state import Limits, Measurements, Mode, Setpoints
from .. import registers as r
from ..blocks import MAX_REGISTERS_PER_READ, Layout, extract, plan_blocks
from ..driver import Capabilities, DeviceInfo, DeviceResponseError, UnsupportedDeviceError
from .base import Profile, RegisterIO, decoded

MAX_DOCUMENT_CHARS = 100_000
# Parser limits, checked while the YAML is read (issue 18): a number's text is bounded before it
# is converted (a 4000-digit integer overflowed float()), and nesting is bounded (deeply nested
# YAML took seconds). A map is a mapping of lists of flat mappings: depth 3 is enough.
MAX_NUMBER_CHARS = 24
MAX_DEPTH = 8
MAX_REGISTERS = 200
MAX_STRING_REGISTERS = 64

ACCESS_READ = "read"
ACCESS_READ_WRITE = "read_write"
ACCESSES = (ACCESS_READ, ACCESS_READ_WRITE)
WORD_ORDERS = ("big", "little")
TYPES = ("u16", "i16", "u32", "i32", "str")  # the types a custom map may use
NUMERIC_TYPES = ("u16", "i16", "u32", "i32")

# What a register can be: measurements (read) and desired-state fields (read_write).
MEASUREMENTS = (
    "soc_pct",
    "active_power_w",
    "reactive_power_var",
    "voltage_v",
    "temperature_c",
    "charge_energy_kwh",
    "discharge_energy_kwh",
)
CONTROLS = ("mode", "reserve_pct", "power_w", "reactive_var", "enabled")
IDENTITY = ("serial", "model", "firmware")
FIELDS = (*MEASUREMENTS, *CONTROLS, *IDENTITY)

_TOP_KEYS = {
    "manufacturer",
    "model",
    "serial",
    "word_order",
    "max_charge_w",
    "max_discharge_w",
    "max_apparent_va",
    "capacity_kwh",
    "modes",
    "registers",
}
_REGISTER_KEYS = {"field", "address", "type", "scale", "word_order", "access", "length"}


class RegisterMapError(ValueError):
    """A register map that cannot be used; `code` is a translation key, `placeholders` its values."""

    def __init__(self, code: str, **placeholders: str) -> None:
        """Keep the code and the placeholders for a translated message."""
        self.code = code
        self.placeholders = placeholders
        detail = ", ".join(f"{k}={v}" for k, v in placeholders.items())
        super().__init__(f"{code}: {detail}" if detail else code)


# Every code validate() can raise, with the placeholders its message uses.
ERROR_CODES: dict[str, tuple[str, ...]] = {
    "map_yaml": ("line", "error"),
    "map_not_mapping": ("path",),
    "map_not_list": ("path",),
    "map_unknown_key": ("path", "key"),
    "map_missing_key": ("path", "key"),
    "map_bad_integer": ("path", "minimum", "maximum"),
    "map_bad_number": ("path",),
    "map_bad_scale": ("path",),
    "map_bad_choice": ("path", "choices"),
    "map_bad_text": ("path",),
    "map_duplicate_field": ("path", "field"),
    "map_overlap": ("path", "other"),
    "map_read_only_control": ("path", "field"),
    "map_writable_measurement": ("path", "field"),
    "map_field_type": ("path", "field", "types"),
    "map_missing_field": ("field",),
    "map_duplicate_mode": ("path",),
    "map_too_long": ("chars",),
    "map_number_too_long": ("line", "chars"),
    "map_too_deep": ("line", "depth"),
    # Raised by the Home Assistant shell, where the map comes from (register_map.py).
    "map_source": (),
    "map_file_outside": ("file",),
    "map_file_unreadable": ("file", "error"),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class MappedRegister:
    """One register of a custom map: where, how encoded, and what it is."""

    field: str
    register: r.Register


@dataclass(frozen=True, kw_only=True, slots=True)
class RegisterMap:
    """A validated custom map."""

    manufacturer: str
    model: str
    serial: str | None
    limits: Limits
    capacity_kwh: float
    modes: dict[Mode, int]
    registers: dict[str, MappedRegister]

    def capabilities(self) -> Capabilities:
        """What this map lets Battery Steward do."""
        has = self.registers.__contains__
        return Capabilities(
            modes=frozenset(self.modes) if has("mode") else frozenset({Mode.AUTO}),
            reserve=has("reserve_pct"),
            power_setpoint=has("power_w"),
            active_power=has("active_power_w"),
            reactive_power=has("reactive_var"),
            enable=has("enabled"),
            voltage=has("voltage_v"),
            temperature=has("temperature_c"),
            energy=has("charge_energy_kwh") and has("discharge_energy_kwh"),
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(float(value))  # type: ignore[arg-type]


def _integer(value: object, path: str, low: int, high: int) -> int:
    if not _is_int(value) or not low <= value <= high:  # type: ignore[operator]
        raise RegisterMapError("map_bad_integer", path=path, minimum=str(low), maximum=str(high))
    return value  # type: ignore[return-value]


def _positive(value: object, path: str) -> float:
    if not _is_number(value) or not 0 < float(value) < 1e9:  # type: ignore[arg-type]
        raise RegisterMapError("map_bad_number", path=path)
    return float(value)  # type: ignore[arg-type]


def _choice(value: object, path: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise RegisterMapError("map_bad_choice", path=path, choices=", ".join(choices))
    return value


def _text(value: object, path: str) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise RegisterMapError("map_bad_text", path=path)
    text = str(value).strip()
    if not text or len(text) > 64 or not text.isprintable():
        raise RegisterMapError("map_bad_text", path=path)
    return text


def _mapping(value: object, path: str, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RegisterMapError("map_not_mapping", path=path)
    for key in value:
        if not isinstance(key, str) or key not in allowed:
            raise RegisterMapError("map_unknown_key", path=path, key=str(key))
    return value


def _required(data: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in data or data[key] is None:
        raise RegisterMapError("map_missing_key", path=path, key=key)
    return data[key]


class _BoundedLoader(yaml.SafeLoader):  # type: ignore[misc]
    """PyYAML's safe loader with a nesting limit and bounded numbers."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    @override
    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise RegisterMapError("map_too_deep", line=_line(self.peek_event()), depth=str(MAX_DEPTH))
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _line(item: Any) -> str:
    mark = getattr(item, "start_mark", None)
    return str(mark.line + 1) if mark is not None else "?"


def _bounded(construct: Any) -> Any:
    def number(loader: _BoundedLoader, node: Any) -> Any:
        if len(str(node.value)) > MAX_NUMBER_CHARS:
            raise RegisterMapError("map_number_too_long", line=_line(node), chars=str(MAX_NUMBER_CHARS))
        return construct(loader, node)

    return number


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _bounded(yaml.SafeLoader.construct_yaml_int))
_BoundedLoader.add_constructor("tag:yaml.org,2002:float", _bounded(yaml.SafeLoader.construct_yaml_float))


def parse(text: str) -> RegisterMap:
    """YAML text -> a validated map; RegisterMapError for anything wrong, never another exception.

    Blocking work for a large document: the shell calls it in the executor.
    """
    if len(text) > MAX_DOCUMENT_CHARS:
        raise RegisterMapError("map_too_long", chars=str(MAX_DOCUMENT_CHARS))
    try:
        document = yaml.load(text, Loader=_BoundedLoader)  # noqa: S506  # a SafeLoader
    except RegisterMapError:
        raise
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = str(mark.line + 1) if mark is not None else "?"
        raise RegisterMapError(
            "map_yaml", line=line, error=str(getattr(err, "problem", None) or err)
        ) from err
    except (ValueError, RecursionError) as err:  # e.g. an out-of-range timestamp
        raise RegisterMapError("map_yaml", line="?", error=str(err)) from err
    return validate(document)


def validate(document: object) -> RegisterMap:
    """A parsed document -> a validated map."""
    top = _mapping(document, "map", _TOP_KEYS)
    word_order = _choice(top.get("word_order", "big"), "word_order", WORD_ORDERS)
    max_charge = _positive(_required(top, "max_charge_w", "map"), "max_charge_w")
    max_discharge = _positive(_required(top, "max_discharge_w", "map"), "max_discharge_w")
    apparent_value = top.get("max_apparent_va")
    max_apparent = (
        max(max_charge, max_discharge)
        if apparent_value is None
        else _positive(apparent_value, "max_apparent_va")
    )
    capacity_value = top.get("capacity_kwh")
    capacity = 0.0 if capacity_value is None else _positive(capacity_value, "capacity_kwh")
    manufacturer = _text(top.get("manufacturer", "Custom"), "manufacturer")
    model = _text(top.get("model", "Custom register map"), "model")
    serial = None if top.get("serial") is None else _text(top["serial"], "serial")

    raw_registers = _required(top, "registers", "map")
    if not isinstance(raw_registers, list):
        raise RegisterMapError("map_not_list", path="registers")
    if len(raw_registers) > MAX_REGISTERS:
        raise RegisterMapError("map_bad_integer", path="registers", minimum="1", maximum=str(MAX_REGISTERS))
    registers: dict[str, MappedRegister] = {}
    owners: dict[int, str] = {}
    for index, item in enumerate(raw_registers):
        path = f"registers[{index}]"
        entry = _mapping(item, path, _REGISTER_KEYS)
        field = _choice(_required(entry, "field", path), f"{path}.field", FIELDS)
        if field in registers:
            raise RegisterMapError("map_duplicate_field", path=f"{path}.field", field=field)
        kind = r.RegType(_choice(_required(entry, "type", path), f"{path}.type", TYPES))
        length = 0
        if kind is r.RegType.STR:
            length = _integer(_required(entry, "length", path), f"{path}.length", 1, MAX_STRING_REGISTERS)
        elif "length" in entry:
            raise RegisterMapError("map_unknown_key", path=path, key="length")
        allowed_types = ("str",) if field in IDENTITY else NUMERIC_TYPES
        if kind.value not in allowed_types:
            raise RegisterMapError(
                "map_field_type", path=f"{path}.type", field=field, types=", ".join(allowed_types)
            )
        width = length or (2 if kind in (r.RegType.U32, r.RegType.I32) else 1)
        address = _integer(_required(entry, "address", path), f"{path}.address", 0, 0x10000 - width)
        scale_value = entry.get("scale", 1)
        if not _is_number(scale_value) or scale_value == 0 or abs(float(scale_value)) > 1e6:
            raise RegisterMapError("map_bad_scale", path=f"{path}.scale")
        if kind is r.RegType.STR and scale_value != 1:
            raise RegisterMapError("map_bad_scale", path=f"{path}.scale")
        order = _choice(entry.get("word_order", word_order), f"{path}.word_order", WORD_ORDERS)
        access = _choice(entry.get("access", ACCESS_READ), f"{path}.access", ACCESSES)
        if field in CONTROLS and access != ACCESS_READ_WRITE:
            raise RegisterMapError("map_read_only_control", path=f"{path}.access", field=field)
        if field not in CONTROLS and access != ACCESS_READ:
            raise RegisterMapError("map_writable_measurement", path=f"{path}.access", field=field)
        for taken in range(address, address + width):
            if taken in owners:
                raise RegisterMapError("map_overlap", path=f"{path}.address", other=owners[taken])
        owners.update(dict.fromkeys(range(address, address + width), field))
        registers[field] = MappedRegister(
            field=field,
            register=r.Register(
                name=field,
                address=address,
                type=kind,
                scale=float(scale_value),
                writable=access == ACCESS_READ_WRITE,
                length=length,
                swap_words=order == "little",
            ),
        )
    if "soc_pct" not in registers:
        raise RegisterMapError("map_missing_field", field="soc_pct")
    if serial is None and "serial" not in registers:
        raise RegisterMapError("map_missing_field", field="serial")

    modes: dict[Mode, int] = {}
    if "mode" in registers:
        raw_modes = _mapping(_required(top, "modes", "map"), "modes", {m.value for m in Mode})
        if not raw_modes:
            raise RegisterMapError("map_missing_key", path="modes", key="auto")
        mode_register = registers["mode"].register
        high = 0xFFFF if mode_register.count == 1 else 0x7FFFFFFF
        for name, value in raw_modes.items():
            modes[Mode(name)] = _integer(value, f"modes.{name}", 0, high)
        if len(set(modes.values())) != len(modes):
            raise RegisterMapError("map_duplicate_mode", path="modes")
    elif "modes" in top:
        raise RegisterMapError("map_missing_field", field="mode")
    return RegisterMap(
        manufacturer=manufacturer,
        model=model,
        serial=serial,
        limits=Limits(
            max_charge_w=max_charge,
            max_discharge_w=max_discharge,
            max_apparent_va=max_apparent,
            # Each field's register resolution (its scale), so comparisons ignore the rounding.
            **{
                step: abs(registers[name].register.scale)
                for name, step in _STEPS.items()
                if name in registers
            },
        ),
        capacity_kwh=capacity,
        modes=modes,
        registers=registers,
    )


_IDENTITY_FIELDS = frozenset(IDENTITY)
# Control field -> the Limits step its register's scale gives.
_STEPS = {"power_w": "power_step_w", "reserve_pct": "reserve_step_pct", "reactive_var": "reactive_step_var"}


class CustomProfile(Profile):
    """Reads every mapped register in planned blocks (no gap is bridged: gaps may be unreadable)."""

    name = "custom"

    def __init__(self, register_map: RegisterMap) -> None:
        """A validated map; see parse()."""
        self.map = register_map
        self.capabilities = register_map.capabilities()
        mapped = register_map.registers.values()
        self._identity = [m.register for m in mapped if m.field in _IDENTITY_FIELDS]
        self._polled = [m.register for m in mapped if m.field not in _IDENTITY_FIELDS]
        self._identity_blocks = plan_blocks(self._identity, max_count=MAX_REGISTERS_PER_READ)
        self._poll = Layout.of(plan_blocks(self._polled), self._polled)
        self._mode_by_code = {code: mode for mode, code in register_map.modes.items()}

    @override
    async def identify(self, io: RegisterIO) -> DeviceInfo:
        values: dict[str, str] = {}
        if self._identity:
            try:
                data = await io.read_blocks(self._identity_blocks)
            except DeviceResponseError as err:
                raise UnsupportedDeviceError(f"{io.label}: identification registers refused ({err})") from err
            values = {
                reg.name: str(r.decode(reg, extract(self._identity_blocks, data, reg)))
                for reg in self._identity
            }
        serial = values.get("serial") or self.map.serial
        if not serial:
            raise UnsupportedDeviceError(f"{io.label}: the serial number register is empty")
        # One poll proves the measurement registers answer, before an entry is created.
        try:
            await io.read_blocks(self._poll.blocks)
        except DeviceResponseError as err:
            raise UnsupportedDeviceError(f"{io.label}: mapped registers refused ({err})") from err
        return DeviceInfo(
            manufacturer=self.map.manufacturer,
            model=values.get("model") or self.map.model,
            serial=serial,
            firmware=values.get("firmware", ""),
            capacity_kwh=self.map.capacity_kwh,
            limits=self.map.limits,
            capabilities=self.capabilities,
        )

    @override
    async def read(self, io: RegisterIO) -> Measurements:
        values = decoded(self._poll, await io.read_blocks(self._poll.blocks))
        v: dict[str, float] = {name: float(value) for name, value in values.items()}
        mode = Mode.AUTO
        if "mode" in v:
            code = int(v["mode"])
            if code not in self._mode_by_code:
                raise DeviceResponseError(
                    f"{io.label}: mode register reads {code}, which the map does not name"
                )
            mode = self._mode_by_code[code]

        def optional(name: str) -> float | None:
            return v.get(name)

        return Measurements(
            soc_pct=v["soc_pct"],
            active_power_w=v.get("active_power_w", 0.0),
            reactive_power_var=v.get("reactive_power_var", 0.0),
            mode=mode,
            reserve_pct=v.get("reserve_pct", 0.0),
            power_setpoint_w=v.get("power_w", 0.0),
            reactive_setpoint_var=v.get("reactive_var", 0.0),
            enabled=bool(v.get("enabled", 1)),
            voltage_v=optional("voltage_v"),
            temperature_c=optional("temperature_c"),
            charge_energy_kwh=optional("charge_energy_kwh"),
            discharge_energy_kwh=optional("discharge_energy_kwh"),
        )

    @override
    async def write(self, io: RegisterIO, setpoints: Setpoints, info: DeviceInfo) -> None:
        registers = self.map.registers
        for field in ("reserve_pct", "power_w", "reactive_var", "mode"):
            value = getattr(setpoints, field)
            if value is None or field not in registers:
                continue  # a neutral value for a field the map lacks (capabilities checked it)
            raw = self.map.modes[value] if field == "mode" else value
            reg = registers[field].register
            await io.write_words(reg.address, r.encode(reg, raw))

    @override
    async def set_enabled(self, io: RegisterIO, enabled: bool) -> None:
        if (mapped := self.map.registers.get("enabled")) is not None:
            await io.write_words(mapped.register.address, r.encode(mapped.register, int(enabled)))
