"""Fix flows for the repair issues the controller raises."""

from typing import Any, override

from homeassistant.components.repairs import ConfirmRepairFlow, RepairsFlow, RepairsFlowResult
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant

from .const import DOMAIN


class ResumeFieldFlow(ConfirmRepairFlow):
    """The user stopped the other controller: correct the field again."""

    def __init__(self, entry_id: str, field: str) -> None:
        """Remember which battery and field."""
        super().__init__()
        self._entry_id = entry_id
        self._field = field

    @override
    async def async_step_confirm(self, user_input: dict[str, str] | None = None) -> RepairsFlowResult:
        """Resume on confirmation."""
        if user_input is not None:
            entry = self.hass.config_entries.async_get_entry(self._entry_id)
            if entry is not None and entry.domain == DOMAIN and entry.state is ConfigEntryState.LOADED:
                entry.runtime_data.controller.async_resume_field(self._field)
        return await super().async_step_confirm(user_input)


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, Any] | None
) -> RepairsFlow:
    """Only fight issues are fixable."""
    assert data is not None
    return ResumeFieldFlow(str(data["entry_id"]), str(data["field"]))
