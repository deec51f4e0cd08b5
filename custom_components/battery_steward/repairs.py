"""Fix flows for the repair issues the controller and the store raise."""

from typing import TYPE_CHECKING, Any, override

from homeassistant.components.repairs import ConfirmRepairFlow, RepairsFlow, RepairsFlowResult
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant

from .const import DOMAIN

if TYPE_CHECKING:
    from .controller import BatteryController


class _EntryFlow(ConfirmRepairFlow):
    """A confirmation about one battery; `_confirmed` acts on it when it is loaded."""

    def __init__(self, entry_id: str) -> None:
        """Remember which battery."""
        super().__init__()
        self._entry_id = entry_id

    def _confirmed(self, controller: BatteryController) -> None:
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
    def _confirmed(self, controller: BatteryController) -> None:
        controller.async_resume_field(self._field)


class OpenGateFlow(_EntryFlow):
    """Whether dispatch was stopped was lost: the user checked the plant and lets it be written."""

    @override
    def _confirmed(self, controller: BatteryController) -> None:
        controller.async_set_dispatch(True)


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, Any] | None
) -> RepairsFlow:
    """Fights resume a field, the gate issue opens the gate, a damaged store is acknowledged."""
    assert data is not None
    entry_id = str(data["entry_id"])
    match data.get("kind"):
        case "gate":
            return OpenGateFlow(entry_id)
        case "store_damaged":
            return _EntryFlow(entry_id)
    return ResumeFieldFlow(entry_id, str(data["field"]))
