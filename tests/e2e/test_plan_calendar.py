"""Real browser, real Home Assistant: a Nord Pool-style price entity, a price plan, the Plan calendar.

The battery and the plan are added through Home Assistant's own flow APIs (the same forms the UI
shows), the prices are posted as a sensor with the custom Nord Pool integration's attributes
(`raw_today` / `raw_tomorrow` of `{start, end, value}`), and the calendar panel must show
tonight's cheapest hours. With BATTERY_STEWARD_SCREENSHOTS=docs/images the screenshot lands in the
docs (docs/use-cases.md §10).
"""

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from .test_browser import (
    CHROMIUM,
    DESKTOP,
    PASSWORD,
    USER,
    HomeAssistant,
    api,
    home_assistant,  # noqa: F401  (the fixture)
    playwright_sync,
    pytestmark as browser_marks,
    screenshots_dir,
    wait_until,
)

pytestmark = browser_marks
PARIS = ZoneInfo("Europe/Paris")
PRICES = "sensor.nordpool_kwh_fr_eur_3_10_0"


def _prices(day: datetime, values: list[float]) -> list[dict[str, Any]]:
    return [
        {
            "start": (day + timedelta(hours=h)).isoformat(),
            "end": (day + timedelta(hours=h + 1)).isoformat(),
            "value": v,
        }
        for h, v in enumerate(values)
    ]


def _flow(
    hass: HomeAssistant, token: str, path: str, handler: Any, steps: list[dict[str, Any]]
) -> dict[str, Any]:
    """Start a flow and submit each step; the last result."""
    result: dict[str, Any] = api(hass, token, path, {"handler": handler})
    for step in steps:
        result = api(hass, token, f"{path}/{result['flow_id']}", step)
    return result


def test_price_plan_shows_in_the_calendar(home_assistant: HomeAssistant, tmp_path: Path) -> None:  # noqa: F811
    hass = home_assistant
    shots = screenshots_dir(tmp_path)
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            page = browser.new_page(viewport=DESKTOP, locale="en-US", timezone_id="Europe/Paris")
            page.set_default_timeout(30_000)
            page.goto(hass.url + "/")
            page.locator("input[name=username]").fill(USER)
            page.locator("input[name=password]").fill(PASSWORD)
            page.keyboard.press("Enter")
            page.locator("home-assistant-main").wait_for()
            token = page.evaluate("() => JSON.parse(localStorage.getItem('hassTokens')).access_token")

            created = _flow(
                hass,
                token,
                "config/config_entries/flow",
                "battery_steward",
                [{"next_step_id": "simulator"}, {}],
            )
            assert created["type"] == "create_entry", created
            entry_id = created["result"]["entry_id"]

            today = datetime.now(PARIS).replace(hour=0, minute=0, second=0, microsecond=0)
            tomorrow = today + timedelta(days=1)
            cheap = [0.061, 0.043, 0.032, 0.041, 0.058, 0.074] + [0.118] * 18
            api(
                hass,
                token,
                f"states/{PRICES}",
                {
                    "state": "0.1",
                    "attributes": {
                        "unit": "kWh",
                        "currency": "EUR",
                        "raw_today": _prices(today, [0.1] * 22 + [0.088, 0.079]),
                        "raw_tomorrow": _prices(tomorrow, cheap),
                    },
                },
            )
            plan = _flow(
                hass,
                token,
                "config/config_entries/subentries/flow",
                [entry_id, "price_plan"],
                [
                    {
                        "name": "Cheapest 3 hours of the night",
                        "entity_id": PRICES,
                        "window_start": "22:00:00",
                        "window_end": "06:00:00",
                        "charge_hours": 3,
                        "charge_w": 2000,
                        "discharge_w": 0,
                        "priority": 0,
                    }
                ],
            )
            assert plan["type"] == "create_entry", plan

            calendar = wait_until(
                lambda: next(
                    (
                        s["entity_id"]
                        for s in api(hass, token, "states")
                        if s["entity_id"].startswith("calendar.")
                    ),
                    None,
                ),
                30,
                "the Plan calendar",
            )
            span = f"start={quote(today.isoformat())}&end={quote((tomorrow + timedelta(days=1)).isoformat())}"
            wait_until(
                lambda: "force_charge" in str(api(hass, token, f"calendars/{calendar}?{span}")),
                30,
                "tonight's charge in the calendar",
            )
            page.goto(hass.url + "/calendar")
            page.wait_for_function("() => !document.getElementById('ha-launch-screen')")
            page.get_by_role("button", name="List (7 days)").click()
            page.get_by_text("mode force_charge, power -2000 W").first.wait_for()
            page.screenshot(path=shots / "calendar-price-plan.png")
        except BaseException:
            if browser.contexts and browser.contexts[0].pages:
                browser.contexts[0].pages[0].screenshot(path=tmp_path / "failure.png", full_page=True)
            print(f"screenshot: {tmp_path / 'failure.png'}\n{hass.log_tail()}")
            raise
        finally:
            browser.close()


def test_emhass_plan_shows_in_the_calendar(home_assistant: HomeAssistant, tmp_path: Path) -> None:  # noqa: F811
    hass = home_assistant
    shots = screenshots_dir(tmp_path)
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            page = browser.new_page(viewport=DESKTOP, locale="en-US", timezone_id="Europe/Paris")
            page.set_default_timeout(30_000)
            page.goto(hass.url + "/")
            page.locator("input[name=username]").fill(USER)
            page.locator("input[name=password]").fill(PASSWORD)
            page.keyboard.press("Enter")
            page.locator("home-assistant-main").wait_for()
            token = page.evaluate("() => JSON.parse(localStorage.getItem('hassTokens')).access_token")
            created = _flow(
                hass,
                token,
                "config/config_entries/flow",
                "battery_steward",
                [{"next_step_id": "simulator"}, {}],
            )
            entry_id = created["result"]["entry_id"]

            # EMHASS's battery plan, half-hour steps from the current one (retrieve_hass.py's shape).
            now = datetime.now(PARIS).replace(second=0, microsecond=0)
            step = now.replace(minute=0 if now.minute < 30 else 30)
            watts = [0.0, -1500.0, -1500.0, 0.0, 1200.0, 2000.0, 800.0, 0.0]
            rows = [
                {"date": (step + timedelta(minutes=30 * i)).isoformat(), "p_batt_forecast": str(w)}
                for i, w in enumerate(watts)
            ]
            api(
                hass,
                token,
                "states/sensor.p_batt_forecast",
                {"state": "0", "attributes": {"unit_of_measurement": "W", "battery_scheduled_power": rows}},
            )
            series = _flow(
                hass,
                token,
                "config/config_entries/subentries/flow",
                [entry_id, "series_entity"],
                [{"name": "EMHASS", "entity_id": "sensor.p_batt_forecast", "format": "emhass", "unit": "W"}],
            )
            assert series["type"] == "create_entry", series
            battery = api(
                hass,
                token,
                "template",
                {"template": "{{ integration_entities('battery_steward') | map('device_id') | first }}"},
            )
            # The Entity source (a safe stop on the way), then back on.
            api(
                hass,
                token,
                "services/battery_steward/set_source",
                {"device_id": [battery], "source": "entity"},
            )
            api(hass, token, "services/battery_steward/restore", {"device_id": [battery]})

            page.goto(hass.url + "/calendar")
            page.wait_for_function("() => !document.getElementById('ha-launch-screen')")
            page.get_by_role("button", name="List (7 days)").click()
            page.get_by_text("mode force_charge, power -1500 W").first.wait_for()
            page.screenshot(path=shots / "calendar-emhass.png")
        except BaseException:
            if browser.contexts and browser.contexts[0].pages:
                browser.contexts[0].pages[0].screenshot(path=tmp_path / "failure.png", full_page=True)
            print(f"screenshot: {tmp_path / 'failure.png'}\n{hass.log_tail()}")
            raise
        finally:
            browser.close()
