"""Repair issues: every one is raised and cleared here, and the fix flows of the fixable ones.

One table (`KINDS`) says, per translation key, how its issue id is made (a prefix, the config
entry's id, and a detail when one battery can have several), its severity, the placeholders its
texts use and the fix flow that answers it. Every module raises through `async_raise_issue` and
clears through `async_clear_issue`, so no two issues of the integration are made differently.
This module imports nothing of the integration above `const`: the store and the entity bridge
(below the controller) raise issues too. The coordinator raises none (it imports no higher
module): a device that is another battery fails its set-up, and `__init__.py` raises that issue.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, override

from homeassistant.components.repairs import ConfirmRepairFlow, RepairsFlow, RepairsFlowResult
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN


class Issue(StrEnum):
    """The translation key of each repair issue (the `issues` section of strings.json)."""

    FIGHT = "fight"
    NO_EFFECT_FIELD = "no_effect_field"
    NO_EFFECT = "no_effect"
    RUN_FAILURES = "run_failures"
    ANOTHER_BATTERY = "another_battery"
    DEFAULT_ITEM_ADDED = "default_item_added"
    PLAN_ENTITY_INVALID = "plan_entity_invalid"
    BRIDGE_MISSING_ENTITY = "bridge_missing_entity"
    BRIDGE_MISSING_ACTION = "bridge_missing_action"
    BRIDGE_MISSING_OPTION = "bridge_missing_option"
    STORE_DAMAGED = "store_damaged"
    GATE_UNCONFIRMED = "gate_unconfirmed"


# The fix flows (`data["kind"]` of a fixable issue).
FIX_FIELD = "field"
FIX_GATE = "gate"
FIX_ACKNOWLEDGE = "store_damaged"


@dataclass(frozen=True, kw_only=True)
class IssueKind:
    """How the issues of one translation key are made.

    `prefix`: the issue id is `{prefix}_{entry_id}`, then `_{detail}` for an issue one battery can
    have several of (a field, a subentry, an entity). `fix`: the fix flow, None when not fixable.
    `persistent`: kept across restarts (an issue that is raised again at start-up need not be).
    """

    prefix: str
    severity: ir.IssueSeverity
    placeholders: frozenset[str]
    fix: str | None = None
    persistent: bool = False


def _kind(prefix: str, severity: ir.IssueSeverity, *names: str, **kwargs: Any) -> IssueKind:
    return IssueKind(prefix=prefix, severity=severity, placeholders=frozenset({"battery", *names}), **kwargs)


_WARNING = ir.IssueSeverity.WARNING
_ERROR = ir.IssueSeverity.ERROR

KINDS: dict[Issue, IssueKind] = {
    Issue.FIGHT: _kind("fight", _WARNING, "field", "values", fix=FIX_FIELD),
    Issue.NO_EFFECT_FIELD: _kind("no_effect", _WARNING, "field", "values", fix=FIX_FIELD),
    Issue.NO_EFFECT: _kind("no_effect", _WARNING, "detail"),
    Issue.RUN_FAILURES: _kind("run_failures", _ERROR, "count", "fields", "error"),
    Issue.ANOTHER_BATTERY: _kind("another_battery", _ERROR, "expected", "found"),
    Issue.DEFAULT_ITEM_ADDED: _kind("default_item_added", _WARNING, "setpoints"),
    Issue.PLAN_ENTITY_INVALID: _kind("plan_entity", _WARNING, "plan", "entity", "error"),
    Issue.BRIDGE_MISSING_ENTITY: _kind("bridge_missing_entity", _ERROR, "entity"),
    Issue.BRIDGE_MISSING_ACTION: _kind("bridge_missing_action", _ERROR, "action"),
    Issue.BRIDGE_MISSING_OPTION: _kind("bridge_missing_option", _ERROR, "entity", "mode", "option"),
    Issue.STORE_DAMAGED: _kind("store_damaged", _WARNING, "lost", fix=FIX_ACKNOWLEDGE),
    # The gate stays closed across restarts until confirmed: so does its issue.
    Issue.GATE_UNCONFIRMED: _kind("gate_unconfirmed", _ERROR, fix=FIX_GATE, persistent=True),
}


def issue_id(key: Issue, entry_id: str, detail: str | None = None) -> str:
    """The id of an issue of one battery (and one field, subentry or entity: `detail`)."""
    base = f"{KINDS[key].prefix}_{entry_id}"
    return base if detail is None else f"{base}_{detail}"


@callback
def async_raise_issue(
    hass: HomeAssistant,
    key: Issue,
    entry_id: str,
    placeholders: Mapping[str, str],
    *,
    detail: str | None = None,
) -> str:
    """Raise (or update) an issue of one battery; its placeholders are exactly those of its kind.

    Returns the issue id. A fixable issue carries what its fix flow needs: the entry, the flow's
    kind and the detail (the field a fight or a write without effect is about).
    """
    kind = KINDS[key]
    if set(placeholders) != kind.placeholders:
        raise ValueError(f"issue {key}: placeholders {sorted(placeholders)}, not {sorted(kind.placeholders)}")
    data: dict[str, str | int | float | None] | None = None
    if kind.fix is not None:
        data = {"entry_id": entry_id, "kind": kind.fix}
        if detail is not None:
            data["field"] = detail
    identifier = issue_id(key, entry_id, detail)
    ir.async_create_issue(
        hass,
        DOMAIN,
        identifier,
        is_fixable=kind.fix is not None,
        is_persistent=kind.persistent,
        severity=kind.severity,
        translation_key=key.value,
        translation_placeholders=dict(placeholders),
        data=data,
    )
    return identifier


@callback
def async_clear_issue(hass: HomeAssistant, key: Issue, entry_id: str, detail: str | None = None) -> None:
    """Withdraw an issue raised by `async_raise_issue` (nothing if it is not there)."""
    ir.async_delete_issue(hass, DOMAIN, issue_id(key, entry_id, detail))


# ---------------------------------------------------------------- fix flows


class _Confirmable(Protocol):
    """What the fix flows ask of a battery's controller."""

    def async_resume_field(self, field: str) -> None:
        """Correct the field again."""

    def async_set_dispatch(self, enabled: bool) -> None:
        """Open or close the dispatch gate."""


class _EntryFlow(ConfirmRepairFlow):
    """A confirmation about one battery; `_confirmed` acts on it when it is loaded."""

    def __init__(self, entry_id: str) -> None:
        """Remember which battery."""
        super().__init__()
        self._entry_id = entry_id

    def _confirmed(self, controller: _Confirmable) -> None:
        """Nothing to do but acknowledge."""

    @override
    async def async_step_confirm(self, user_input: dict[str, str] | None = None) -> RepairsFlowResult:
        """Act on confirmation."""
        if user_input is not None:
            entry = self.hass.config_entries.async_get_entry(self._entry_id)
            if entry is not None and entry.domain == DOMAIN and entry.state is ConfigEntryState.LOADED:
                self._confirmed(entry.runtime_data.controller)
        return await super().async_step_confirm(user_input)


class ResumeFieldFlow(_EntryFlow):
    """The user stopped the other controller: correct the field again."""

    def __init__(self, entry_id: str, field: str) -> None:
        """Remember which battery and field."""
        super().__init__(entry_id)
        self._field = field

    @override
    def _confirmed(self, controller: _Confirmable) -> None:
        controller.async_resume_field(self._field)


class OpenGateFlow(_EntryFlow):
    """Whether dispatch was stopped was lost: the user checked the plant and lets it be written."""

    @override
    def _confirmed(self, controller: _Confirmable) -> None:
        controller.async_set_dispatch(True)


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, Any] | None
) -> RepairsFlow:
    """Fights resume a field, the gate issue opens the gate, a damaged store is acknowledged."""
    assert data is not None
    entry_id = str(data["entry_id"])
    kind = data.get("kind")
    if kind == FIX_GATE:
        return OpenGateFlow(entry_id)
    if kind == FIX_ACKNOWLEDGE:
        return _EntryFlow(entry_id)
    # FIX_FIELD (a fight raised before the kind was stored has none).
    return ResumeFieldFlow(entry_id, str(data["field"]))
