"""What a bridged battery's entities mean: the mapping the entity bridge drives, as plain data.

A mapping ("spec") says where the state of charge and the measured power come from, which entity
holds the backup reserve, how a power setpoint is written (one signed entity, separate charge and
discharge entities, or a magnitude whose direction the mode gives), and, for each of our modes, the
ordered steps that put the battery in it: set a select option, a number or a switch, call an action
with data, or press a button. Values pass through transforms (scale/offset, 100 - x, % of the rated
power, kW). The mode is read back from conditions on several entities; a mode that cannot be read
back is remembered. Pure Python: the entity bridge (bridge.py) executes it.

Stored in the config entry as a dict (`as_dict`/`BridgeSpec.from_dict`), so presets, the config
flow and the docs share one format.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
import re
from typing import Any

from .engine.state import Mode

STEP_SELECT = "select"
STEP_NUMBER = "number"
STEP_SWITCH = "switch"
STEP_ACTION = "action"
STEP_PRESS = "press"
STEP_KINDS = (STEP_SELECT, STEP_NUMBER, STEP_SWITCH, STEP_ACTION, STEP_PRESS)

SHAPE_SIGNED = "signed"  # one entity, + discharge (or + charge with charge_positive)
SHAPE_SPLIT = "split"  # a charge entity and a discharge entity, both magnitudes
SHAPE_MAGNITUDE = "magnitude"  # one entity, a magnitude; the mode says charge or discharge
SHAPE_MODE = "mode"  # no entity of its own: the mode's steps carry the power (action data)
POWER_SHAPES = (SHAPE_SIGNED, SHAPE_SPLIT, SHAPE_MAGNITUDE, SHAPE_MODE)

# Tokens a step value or action data may hold, filled in when the step is written.
REF_SIGNED = "{signed}"  # + discharge, - charge (W)
REF_SIGNED_CHARGE = "{signed_charge}"  # + charge, - discharge (W)
REF_MAGNITUDE = "{magnitude}"  # |power| (W); the rated power for a force mode asked for 0
REF_CHARGE = "{charge}"  # charging power, 0 when discharging (W)
REF_DISCHARGE = "{discharge}"  # discharging power, 0 when charging (W)
REF_RESERVE = "{reserve}"  # backup reserve (%)
REF_DEVICE = "{device_id}"  # the device the user picked (for actions that take a device)
POWER_REFS = (REF_SIGNED, REF_SIGNED_CHARGE, REF_MAGNITUDE, REF_CHARGE, REF_DISCHARGE)
REFS = (*POWER_REFS, REF_RESERVE, REF_DEVICE)

_ENTITY_ID = re.compile(r"^[a-z_]+\.[a-z0-9_]+$")
_SERVICE = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+$")


class BridgeSpecError(ValueError):
    """A mapping that cannot drive a battery; the message says what is wrong."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Transform:
    """Our value → the entity's value, and back: percent of rated, kW, 100 - x, then scale/offset.

    Ours are W and %; `to_source` applies, in this order, `percent_of_rated` (W → % of the rated
    power), `kilo` (W → kW), `complement` (x → 100 - x) and `scale`·x + `offset`; `from_source`
    undoes them in reverse.
    """

    scale: float = 1.0
    offset: float = 0.0
    complement: bool = False
    percent_of_rated: bool = False
    kilo: bool = False

    def to_source(self, value: float, rated_w: float) -> float:
        """Our value as the entity wants it."""
        if self.percent_of_rated:
            value = value * 100.0 / rated_w
        if self.kilo:
            value = value / 1000.0
        if self.complement:
            value = 100.0 - value
        return value * self.scale + self.offset

    def from_source(self, value: float, rated_w: float) -> float:
        """The entity's value as ours."""
        value = (value - self.offset) / self.scale
        if self.complement:
            value = 100.0 - value
        if self.kilo:
            value = value * 1000.0
        if self.percent_of_rated:
            value = value * rated_w / 100.0
        return value

    def as_dict(self) -> dict[str, Any]:
        """Only what differs from the identity."""
        out: dict[str, Any] = {}
        if self.scale != 1.0:
            out["scale"] = self.scale
        if self.offset != 0.0:
            out["offset"] = self.offset
        for name in ("complement", "percent_of_rated", "kilo"):
            if getattr(self, name):
                out[name] = True
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Transform:
        """From a mapping's `transform`."""
        data = data or {}
        unknown = set(data) - {"scale", "offset", "complement", "percent_of_rated", "kilo"}
        if unknown:
            raise BridgeSpecError(f"unknown transform keys: {', '.join(sorted(unknown))}")
        scale = float(data.get("scale", 1.0))
        if scale == 0:
            raise BridgeSpecError("a transform's scale cannot be 0")
        return cls(
            scale=scale,
            offset=float(data.get("offset", 0.0)),
            complement=bool(data.get("complement", False)),
            percent_of_rated=bool(data.get("percent_of_rated", False)),
            kilo=bool(data.get("kilo", False)),
        )


IDENTITY = Transform()


def _entity(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _ENTITY_ID.match(value):
        raise BridgeSpecError(f"{what}: {value!r} is not an entity id")
    return value


@dataclass(frozen=True, kw_only=True, slots=True)
class Step:
    """One write: a select option, a number, a switch, an action with data, or a button press."""

    kind: str
    entity: str | None = None
    option: str | None = None
    value: float | str | None = None  # a number, or a token
    on: bool | None = None
    service: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    transform: Transform = IDENTITY
    order: int | None = None  # earlier first; steps without an order keep their place

    @property
    def uses_power(self) -> bool:
        """Whether the step carries the power setpoint."""
        values = [self.value, *self.data.values()] if self.kind in (STEP_NUMBER, STEP_ACTION) else []
        return any(isinstance(v, str) and v in POWER_REFS for v in values)

    def as_dict(self) -> dict[str, Any]:
        """The stored form."""
        out: dict[str, Any]
        if self.kind == STEP_SELECT:
            out = {"select": self.entity, "option": self.option}
        elif self.kind == STEP_NUMBER:
            out = {"number": self.entity, "value": self.value}
        elif self.kind == STEP_SWITCH:
            out = {"switch": self.entity, "on": self.on}
        elif self.kind == STEP_ACTION:
            out = {"action": self.service, "data": dict(self.data)}
        else:
            out = {"press": self.entity}
        if transform := self.transform.as_dict():
            out["transform"] = transform
        if self.order is not None:
            out["order"] = self.order
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Step:
        """From one entry of a mode's steps."""
        kinds = [kind for kind in STEP_KINDS if kind in data]
        if len(kinds) != 1:
            raise BridgeSpecError(f"a step needs exactly one of {', '.join(STEP_KINDS)}: {dict(data)}")
        kind = kinds[0]
        transform = Transform.from_dict(data.get("transform"))
        order = int(data["order"]) if data.get("order") is not None else None
        if kind == STEP_ACTION:
            service = data[STEP_ACTION]
            if not isinstance(service, str) or not _SERVICE.match(service):
                raise BridgeSpecError(f"action: {service!r} is not domain.action")
            payload = data.get("data") or {}
            if not isinstance(payload, Mapping):
                raise BridgeSpecError(f"action {service}: data must be a mapping")
            return cls(kind=kind, service=service, data=dict(payload), transform=transform, order=order)
        entity = _entity(data[kind], f"{kind} step")
        if kind == STEP_SELECT:
            if not isinstance(data.get("option"), str):
                raise BridgeSpecError(f"select step on {entity} needs an option")
            return cls(kind=kind, entity=entity, option=data["option"], order=order)
        if kind == STEP_NUMBER:
            value = data.get("value")
            if isinstance(value, str):
                if value not in REFS:
                    raise BridgeSpecError(f"number step on {entity}: unknown value {value!r}")
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                value = float(value)
            else:
                raise BridgeSpecError(f"number step on {entity} needs a value")
            return cls(kind=kind, entity=entity, value=value, transform=transform, order=order)
        if kind == STEP_SWITCH:
            # YAML 1.1 reads an unquoted `on:` key as the boolean true: take it either way.
            on = data["on"] if "on" in data else {str(key): value for key, value in data.items()}.get("True")
            if not isinstance(on, bool):
                raise BridgeSpecError(f"switch step on {entity} needs on: true or false")
            return cls(kind=kind, entity=entity, on=on, order=order)
        return cls(kind=kind, entity=entity, order=order)


@dataclass(frozen=True, kw_only=True, slots=True)
class Condition:
    """A source entity's state that is part of a mode: an exact state, or a number's sign."""

    entity: str
    state: str | None = None
    above: float | None = None
    below: float | None = None

    def holds(self, state: str) -> bool:
        """Whether the entity's state satisfies this condition."""
        if self.state is not None:
            return state == self.state
        try:
            number = float(state)
        except ValueError:
            return False
        return (self.above is None or number > self.above) and (self.below is None or number < self.below)

    def as_dict(self) -> dict[str, Any]:
        """The stored form."""
        out: dict[str, Any] = {"entity": self.entity}
        for name in ("state", "above", "below"):
            if (value := getattr(self, name)) is not None:
                out[name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Condition:
        """From one condition of a mode's read-back."""
        entity = _entity(data.get("entity"), "read-back condition")
        if data.get("state") is None and data.get("above") is None and data.get("below") is None:
            raise BridgeSpecError(f"read-back condition on {entity} needs state, above or below")
        return cls(
            entity=entity,
            state=str(data["state"]) if data.get("state") is not None else None,
            above=float(data["above"]) if data.get("above") is not None else None,
            below=float(data["below"]) if data.get("below") is not None else None,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ModeSpec:
    """How to put the battery in one of our modes, and whether to keep re-sending it."""

    steps: tuple[Step, ...]
    keepalive: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The stored form."""
        out: dict[str, Any] = {"steps": [step.as_dict() for step in self.steps]}
        if self.keepalive:
            out["keepalive"] = True
        return out

    @classmethod
    def from_dict(cls, mode: str, data: Mapping[str, Any]) -> ModeSpec:
        """From one mode of a mapping."""
        steps = data.get("steps")
        if not isinstance(steps, list) or not steps:
            raise BridgeSpecError(f"mode {mode} needs at least one step")
        return cls(steps=tuple(Step.from_dict(step) for step in steps), keepalive=bool(data.get("keepalive")))


@dataclass(frozen=True, kw_only=True, slots=True)
class PowerSpec:
    """How a power setpoint reaches the battery."""

    shape: str
    entity: str | None = None  # signed, magnitude
    charge_entity: str | None = None  # split
    discharge_entity: str | None = None  # split
    charge_positive: bool = False  # signed: + means charging at the source
    transform: Transform = IDENTITY
    order: int = 0

    @property
    def entities(self) -> list[str]:
        """The power entities written (and read back)."""
        return [e for e in (self.entity, self.charge_entity, self.discharge_entity) if e]

    def as_dict(self) -> dict[str, Any]:
        """The stored form."""
        out: dict[str, Any] = {"shape": self.shape}
        for name in ("entity", "charge_entity", "discharge_entity"):
            if (value := getattr(self, name)) is not None:
                out[name] = value
        if self.charge_positive:
            out["charge_positive"] = True
        if transform := self.transform.as_dict():
            out["transform"] = transform
        if self.order:
            out["order"] = self.order
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PowerSpec:
        """From a mapping's `power`."""
        shape = data.get("shape")
        if shape not in POWER_SHAPES:
            raise BridgeSpecError(f"power shape {shape!r} is not one of {', '.join(POWER_SHAPES)}")
        spec = cls(
            shape=shape,
            entity=_entity(data["entity"], "power entity") if data.get("entity") else None,
            charge_entity=_entity(data["charge_entity"], "charge entity")
            if data.get("charge_entity")
            else None,
            discharge_entity=(
                _entity(data["discharge_entity"], "discharge entity")
                if data.get("discharge_entity")
                else None
            ),
            charge_positive=bool(data.get("charge_positive", False)),
            transform=Transform.from_dict(data.get("transform")),
            order=int(data.get("order", 0)),
        )
        needs = {
            SHAPE_SIGNED: spec.entity is not None,
            SHAPE_MAGNITUDE: spec.entity is not None,
            SHAPE_SPLIT: spec.charge_entity is not None and spec.discharge_entity is not None,
            SHAPE_MODE: True,
        }
        if not needs[shape]:
            raise BridgeSpecError(f"power shape {shape} is missing its entities")
        return spec


@dataclass(frozen=True, kw_only=True, slots=True)
class BridgeSpec:
    """The whole mapping of one bridged battery."""

    soc_entity: str
    power_sensor: str | None = None
    power_sensor_charge_positive: bool = False
    reserve_entity: str | None = None
    reserve_transform: Transform = IDENTITY
    reserve_order: int = 0
    power: PowerSpec | None = None
    modes: Mapping[Mode, ModeSpec] = field(default_factory=dict)
    read_back: Mapping[Mode, tuple[Condition, ...]] = field(default_factory=dict)
    keepalive_s: float | None = None
    device_id: str | None = None

    @property
    def power_writable(self) -> bool:
        """Whether a power setpoint can be written: a power entity, or a mode step carrying it."""
        if self.power is None:
            return False
        if self.power.shape != SHAPE_MODE:
            return True
        return any(step.uses_power for mode in self.modes.values() for step in mode.steps)

    def conditions(self, mode: Mode) -> tuple[Condition, ...]:
        """How `mode` is recognised: explicit read-back, or the select/switch states its steps set."""
        if mode in self.read_back:
            return self.read_back[mode]
        derived: list[Condition] = []
        for step in self.modes[mode].steps:
            if step.kind == STEP_SELECT and step.entity and step.option is not None:
                derived.append(Condition(entity=step.entity, state=step.option))
            elif step.kind == STEP_SWITCH and step.entity:
                derived.append(Condition(entity=step.entity, state="on" if step.on else "off"))
        return tuple(derived)

    @property
    def read_entities(self) -> list[str]:
        """Entities whose state is read (each must be available for a reading)."""
        found = [self.soc_entity]
        found.extend(entity for entity in (self.power_sensor, self.reserve_entity) if entity)
        if self.power is not None:
            found.extend(self.power.entities)
        for mode in self.modes:
            found.extend(condition.entity for condition in self.conditions(mode))
        return list(dict.fromkeys(found))

    @property
    def write_entities(self) -> list[str]:
        """Entities the mode steps write (selects, numbers, switches, buttons)."""
        found = [step.entity for mode in self.modes.values() for step in mode.steps if step.entity]
        return list(dict.fromkeys(found))

    @property
    def entity_ids(self) -> list[str]:
        """Every source entity, read or written."""
        return list(dict.fromkeys([*self.read_entities, *self.write_entities]))

    @property
    def services(self) -> list[str]:
        """Every action a mode calls."""
        found = [step.service for mode in self.modes.values() for step in mode.steps if step.service]
        return list(dict.fromkeys(found))

    def as_dict(self) -> dict[str, Any]:
        """The stored form (config entry data, presets, docs)."""
        out: dict[str, Any] = {"soc": self.soc_entity}
        if self.power_sensor:
            out["power_sensor"] = self.power_sensor
            if self.power_sensor_charge_positive:
                out["power_sensor_charge_positive"] = True
        if self.reserve_entity:
            reserve: dict[str, Any] = {"entity": self.reserve_entity}
            if transform := self.reserve_transform.as_dict():
                reserve["transform"] = transform
            if self.reserve_order:
                reserve["order"] = self.reserve_order
            out["reserve"] = reserve
        if self.power is not None:
            out["power"] = self.power.as_dict()
        if self.modes:
            out["modes"] = {mode.value: spec.as_dict() for mode, spec in self.modes.items()}
        if self.read_back:
            out["read_back"] = {
                mode.value: [condition.as_dict() for condition in conditions]
                for mode, conditions in self.read_back.items()
            }
        if self.keepalive_s:
            out["keepalive_s"] = self.keepalive_s
        if self.device_id:
            out["device_id"] = self.device_id
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BridgeSpec:
        """Parse and check a mapping; BridgeSpecError says what is wrong."""
        if not isinstance(data, Mapping):
            raise BridgeSpecError("a mapping must be a dictionary")
        known = {"soc", "power_sensor", "power_sensor_charge_positive", "reserve", "power", "modes"}
        known |= {"read_back", "keepalive_s", "device_id"}
        if unknown := set(data) - known:
            raise BridgeSpecError(f"unknown keys: {', '.join(sorted(unknown))}")
        reserve = data.get("reserve") or {}
        if not isinstance(reserve, Mapping):
            raise BridgeSpecError("reserve must be a mapping with an entity")
        modes: dict[Mode, ModeSpec] = {}
        for name, mode_data in (data.get("modes") or {}).items():
            modes[_mode(name)] = ModeSpec.from_dict(name, mode_data or {})
        read_back: dict[Mode, tuple[Condition, ...]] = {}
        for name, conditions in (data.get("read_back") or {}).items():
            if _mode(name) not in modes:
                raise BridgeSpecError(f"read-back for {name}, which has no steps")
            read_back[_mode(name)] = tuple(Condition.from_dict(c) for c in conditions or [])
        keepalive = data.get("keepalive_s")
        spec = cls(
            soc_entity=_entity(data.get("soc"), "state of charge"),
            power_sensor=_entity(data["power_sensor"], "power sensor") if data.get("power_sensor") else None,
            power_sensor_charge_positive=bool(data.get("power_sensor_charge_positive", False)),
            reserve_entity=_entity(reserve["entity"], "reserve") if reserve.get("entity") else None,
            reserve_transform=Transform.from_dict(reserve.get("transform")),
            reserve_order=int(reserve.get("order", 0)),
            power=PowerSpec.from_dict(data["power"]) if data.get("power") else None,
            modes=modes,
            read_back=read_back,
            keepalive_s=float(keepalive) if keepalive else None,
            device_id=str(data["device_id"]) if data.get("device_id") else None,
        )
        if not spec.modes and spec.reserve_entity is None and not spec.power_writable:
            raise BridgeSpecError("nothing to control: no reserve, no power and no mode")
        if spec.keepalive_s is not None and spec.keepalive_s < 5:
            raise BridgeSpecError("keepalive_s must be at least 5 seconds")
        if spec.power is not None and spec.power.shape == SHAPE_MODE and not spec.power_writable:
            raise BridgeSpecError("power shape mode needs a mode step that carries a power token")
        for mode in spec.modes:
            conditions = spec.conditions(mode)
            if not conditions:
                continue  # remembered: an action-only mode has nothing to read back
            others = [other for other in spec.modes if other != mode and spec.conditions(other) == conditions]
            if others:
                raise BridgeSpecError(
                    f"modes {mode.value} and {others[0].value} look the same when read back: add read_back"
                )
        return spec


def _mode(name: Any) -> Mode:
    try:
        return Mode(name)
    except ValueError as err:
        raise BridgeSpecError(f"{name!r} is not one of {', '.join(m.value for m in Mode)}") from err


def legacy_spec(
    *,
    soc_entity: str,
    power_entity: str | None,
    power_charge_positive: bool,
    reserve_entity: str | None,
    mode_entity: str | None,
    mode_options: Mapping[str, str] | None,
) -> BridgeSpec:
    """The mapping of a bridge set up by hand: a reserve number and a mode select with one option per mode."""
    modes: dict[Mode, ModeSpec] = {}
    if mode_entity:
        for mode in Mode:
            if option := (mode_options or {}).get(mode.value):
                modes[mode] = ModeSpec(steps=(Step(kind=STEP_SELECT, entity=mode_entity, option=option),))
    return BridgeSpec(
        soc_entity=soc_entity,
        power_sensor=power_entity,
        power_sensor_charge_positive=power_charge_positive,
        reserve_entity=reserve_entity,
        modes=modes,
    )


def fill_tokens(value: Any, tokens: Mapping[str, Any]) -> Any:
    """A step value or action datum with its token replaced (anything else as it is)."""
    if isinstance(value, str) and value in tokens:
        return tokens[value]
    if isinstance(value, Mapping):
        return {key: fill_tokens(item, tokens) for key, item in value.items()}
    if isinstance(value, list):
        return [fill_tokens(item, tokens) for item in value]
    return value
