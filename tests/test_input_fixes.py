"""Input the actions used to accept although the docs refuse it (issue 13, point 6).

Six-field crons were stored (cronsim then reads seconds and skips its DST handling); overlapping
and duplicate `set_series` rows were accepted although docs/remote-api.md says rows must not
overlap. Both are refused now with a translated error, before anything is stored or written.
"""

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.const import DOMAIN

from .test_services import device, entry

__all__ = ["device", "entry"]


async def call(hass: HomeAssistant, name: str, data: dict[str, Any]) -> None:
    await hass.services.async_call(DOMAIN, name, data, blocking=True)


async def test_six_field_cron_is_refused(hass: HomeAssistant, entry: MockConfigEntry, device: str) -> None:
    data = {"device_id": device, "type": "cron", "name": "Hourly", "mode": "auto"}
    with pytest.raises(ServiceValidationError) as refused:
        await call(hass, "add_item", {**data, "cron": "0 0 * * * *"})
    assert refused.value.translation_key == "item_cron_fields"
    assert refused.value.translation_placeholders == {"item": "Hourly", "cron": "0 0 * * * *", "count": "6"}
    assert "has 6 fields; use five" in str(refused.value)
    assert not entry.subentries
    await call(hass, "add_item", {**data, "cron": "0 * * * *"})
    assert len(entry.subentries) == 1


@pytest.mark.parametrize(
    ("rows", "row", "other"),
    [
        (  # the second row starts inside the first
            [("2026-06-15T13:00:00+00:00", 3600), ("2026-06-15T13:30:00+00:00", 900)],
            "2026-06-15T13:30:00+00:00",
            "2026-06-15T13:00:00+00:00",
        ),
        (  # the same row twice
            [("2026-06-15T13:00:00+00:00", 900), ("2026-06-15T13:00:00+00:00", 900)],
            "2026-06-15T13:00:00+00:00",
            "2026-06-15T13:00:00+00:00",
        ),
        (  # given out of order: the first offending row in time is named
            [
                ("2026-06-15T14:00:00+00:00", 900),
                ("2026-06-15T13:10:00+00:00", 900),
                ("2026-06-15T13:00:00+00:00", 900),
            ],
            "2026-06-15T13:10:00+00:00",
            "2026-06-15T13:00:00+00:00",
        ),
    ],
    ids=["overlap", "duplicate", "unordered"],
)
async def test_overlapping_series_rows_are_refused(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    device: str,
    rows: list[tuple[str, int]],
    row: str,
    other: str,
) -> None:
    data = {
        "device_id": device,
        "rows": [{"start": start, "period_s": period, "power_w": 500} for start, period in rows],
    }
    with pytest.raises(ServiceValidationError) as refused:
        await call(hass, "set_series", data)
    assert refused.value.translation_key == "item_series_rows_overlap"
    assert refused.value.translation_placeholders is not None
    assert (
        refused.value.translation_placeholders["row"],
        refused.value.translation_placeholders["other"],
    ) == (
        row,
        other,
    )
    assert entry.runtime_data.controller.series is None  # nothing stored


async def test_back_to_back_series_rows_are_accepted(
    hass: HomeAssistant, entry: MockConfigEntry, device: str
) -> None:
    rows = [
        {"start": "2026-06-15T13:00:00+00:00", "period_s": 900, "power_w": 500},
        {"start": "2026-06-15T13:15:00+00:00", "period_s": 900, "power_w": -500},
    ]
    await call(hass, "set_series", {"device_id": device, "rows": rows})
    series = entry.runtime_data.controller.series
    assert series is not None
    assert len(series.rows) == 2
