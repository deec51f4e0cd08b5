"""Real browser, real Home Assistant: plans from other integrations in the Plan calendar.

The battery and the plans are added through Home Assistant's own flow APIs (the same forms the UI
shows); the other integrations' entities are posted with their documented attributes (EMHASS's
`battery_scheduled_power`, the custom Nord Pool integration's `raw_today` / `raw_tomorrow`). The
calendar panel must show what the battery will do. With BATTERY_STEWARD_SCREENSHOTS=docs/images
the screenshots land in the docs (docs/use-cases.md §9 and §10).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .test_browser import (
    HomeAssistant,
    api,
    browser_page,
    home_assistant,  # noqa: F401  (the fixture)
    log_in,
    pytestmark as browser_marks,
    screenshots_dir,
)

pytestmark = browser_marks
PARIS = ZoneInfo("Europe/Paris")
PRICES = "sensor.nordpool_kwh_fr_eur_3_10_0"


@dataclass(frozen=True)
class Session:
    """A logged-in page, its access token, and a simulated battery's config entry."""

    hass: HomeAssistant
    page: Any
    token: str
    entry_id: str

    def call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return api(self.hass, self.token, path, body)

    def flow(self, path: str, handler: Any, steps: list[dict[str, Any]]) -> dict[str, Any]:
        """Start a flow and submit each step; the last result."""
        result: dict[str, Any] = self.call(path, {"handler": handler})
        for step in steps:
            result = self.call(f"{path}/{result['flow_id']}", step)
        return result

    def add_plan(self, kind: str, data: dict[str, Any]) -> None:
        result = self.flow("config/config_entries/subentries/flow", [self.entry_id, kind], [data])
        assert result["type"] == "create_entry", result

    def shoot_calendar(self, shows: str, path: Path) -> None:
        """The calendar panel's 7-day list, once it shows `shows`."""
        self.page.goto(self.hass.url + "/calendar")
        self.page.wait_for_function("() => !document.getElementById('ha-launch-screen')")
        self.page.get_by_role("button", name="List (7 days)").click()
        self.page.get_by_text(shows).first.wait_for()
        self.page.screenshot(path=path)


@contextmanager
def session(hass: HomeAssistant, tmp_path: Path) -> Iterator[Session]:
    """Log in, add a built-in simulated battery; a failure screenshot and the log on error."""
    with browser_page(hass, tmp_path) as page:
        token = log_in(page, hass)
        bare = Session(hass, page, token, "")
        created = bare.flow(
            "config/config_entries/flow", "battery_steward", [{"next_step_id": "simulator"}, {}]
        )
        assert created["type"] == "create_entry", created
        yield Session(hass, page, token, created["result"]["entry_id"])


def _prices(day: datetime, values: list[float]) -> list[dict[str, Any]]:
    return [
        {
            "start": (day + timedelta(hours=h)).isoformat(),
            "end": (day + timedelta(hours=h + 1)).isoformat(),
            "value": v,
        }
        for h, v in enumerate(values)
    ]


def test_price_plan_shows_in_the_calendar(home_assistant: HomeAssistant, tmp_path: Path) -> None:  # noqa: F811
    with session(home_assistant, tmp_path) as s:
        today = datetime.now(PARIS).replace(hour=0, minute=0, second=0, microsecond=0)
        cheap = [0.061, 0.043, 0.032, 0.041, 0.058, 0.074] + [0.118] * 18
        attributes = {
            "unit": "kWh",
            "currency": "EUR",
            "raw_today": _prices(today, [0.1] * 22 + [0.088, 0.079]),
            "raw_tomorrow": _prices(today + timedelta(days=1), cheap),
        }
        s.call(f"states/{PRICES}", {"state": "0.1", "attributes": attributes})
        s.add_plan(
            "price_plan",
            {
                "name": "Cheapest 3 hours of the night",
                "entity_id": PRICES,
                "window_start": "22:00:00",
                "window_end": "06:00:00",
                "charge_hours": 3,
                "charge_w": 2000,
                "discharge_w": 0,
                "priority": 0,
            },
        )
        s.shoot_calendar("Power setpoint -2000 W", screenshots_dir(tmp_path) / "calendar-price-plan.png")


def test_emhass_plan_shows_in_the_calendar(home_assistant: HomeAssistant, tmp_path: Path) -> None:  # noqa: F811
    with session(home_assistant, tmp_path) as s:
        # EMHASS's battery plan, half-hour steps from the current one (retrieve_hass.py's shape).
        now = datetime.now(PARIS).replace(second=0, microsecond=0)
        step = now.replace(minute=0 if now.minute < 30 else 30)
        watts = [0.0, -1500.0, -1500.0, 0.0, 1200.0, 2000.0, 800.0, 0.0]
        rows = [
            {"date": (step + timedelta(minutes=30 * i)).isoformat(), "p_batt_forecast": str(w)}
            for i, w in enumerate(watts)
        ]
        attributes = {"unit_of_measurement": "W", "battery_scheduled_power": rows}
        s.call("states/sensor.p_batt_forecast", {"state": "0", "attributes": attributes})
        s.add_plan(
            "series_entity",
            {"name": "EMHASS", "entity_id": "sensor.p_batt_forecast", "format": "emhass", "unit": "W"},
        )
        template = "{{ integration_entities('battery_steward') | map('device_id') | first }}"
        battery = s.call("template", {"template": template})
        # The Entity source (a safe stop on the way), then back on.
        s.call("services/battery_steward/set_source", {"device_id": [battery], "source": "entity"})
        s.call("services/battery_steward/restore", {"device_id": [battery]})
        s.shoot_calendar("Power setpoint -1500 W", screenshots_dir(tmp_path) / "calendar-emhass.png")
