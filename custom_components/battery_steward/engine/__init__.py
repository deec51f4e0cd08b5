"""Pure Battery Steward logic: state types, schedules, planning. Imports nothing from homeassistant."""
