"""Real browser, real Home Assistant: a user adds a simulated battery and changes its reserve.

Home Assistant runs as scripts/develop runs it (the `hass` of this virtual environment, with the
frontend from requirements_dev.txt), on 127.0.0.1 at a free port with a temporary configuration.
Debian's Chromium (installed by scripts/setup, never downloaded) is driven by Playwright. The test
reads the simulator's register over Modbus TCP itself and asks Home Assistant for the journal.

Screenshots go to a temporary folder; set BATTERY_STEWARD_SCREENSHOTS=docs/images to refresh the
ones in the docs.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
import json
import os
from pathlib import Path
import re
import shutil
import socket
import subprocess
import sys
import time
from typing import Any
import urllib.error
import urllib.request
from zoneinfo import ZoneInfo

import psutil  # type: ignore[import-untyped]
from pymodbus.client import ModbusTcpClient
import pytest

playwright_sync = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

ROOT = Path(__file__).parent.parent.parent
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
USER = PASSWORD = "e2e"
DEV_PREFIX = "simulated_battery_sim_dev00001"
# docs/register-map.md: identification and the backup reserve (holding registers, unit 1).
REG_MAGIC, MAGIC, REG_SERIAL, SERIAL_REGS, REG_RESERVE = 0, 0x4253, 2, 8, 121
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
TALL_DESKTOP = {"width": 1280, "height": 2000}

pytestmark = [
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK),
        reason=f"Chromium not found at {CHROMIUM}: on Debian run scripts/setup as root "
        "(or apt-get install chromium); elsewhere set CHROMIUM=/path/to/chromium",
    ),
    pytest.mark.timeout(240),
]


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until[T](check: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll a condition until it holds (returns something not None/False) or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if result := check():
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


@dataclass(frozen=True, kw_only=True)
class HomeAssistant:
    """A running `hass` subprocess."""

    process: subprocess.Popen[bytes]
    config: Path
    url: str
    port: int

    def log_tail(self) -> str:
        """The end of Home Assistant's output, for failure messages."""
        log = self.config / "hass.out"
        return log.read_text(errors="replace")[-4000:] if log.exists() else ""


@pytest.fixture
def home_assistant(tmp_path: Path) -> Iterator[HomeAssistant]:
    """Home Assistant set up as scripts/develop does, without a battery; always stopped."""
    config = tmp_path / "config"
    (config / "custom_components").mkdir(parents=True)
    (config / "dashboards").mkdir()
    (config / "custom_components" / "battery_steward").symlink_to(
        ROOT / "custom_components" / "battery_steward"
    )
    shutil.copy(ROOT / "config" / "configuration.yaml", config / "configuration.yaml")
    port = free_port()
    bindir = Path(sys.executable).parent
    subprocess.run(
        [
            sys.executable,
            ROOT / "scripts" / "develop_bootstrap.py",
            config,
            "--port",
            str(port),
            "--no-battery",
        ],
        check=True,
    )
    subprocess.run(
        [bindir / "hass", "--script", "auth", "-c", config, "add", USER, PASSWORD],
        check=True,
        capture_output=True,
    )
    with (config / "hass.out").open("wb") as out:
        process = subprocess.Popen(
            [bindir / "hass", "-c", config, "--skip-pip"], stdout=out, stderr=subprocess.STDOUT
        )
    hass = HomeAssistant(process=process, config=config, url=f"http://127.0.0.1:{port}", port=port)
    try:

        def http_ready() -> bool:
            assert process.poll() is None, f"Home Assistant exited:\n{hass.log_tail()}"
            try:
                with urllib.request.urlopen(f"{hass.url}/manifest.json", timeout=2) as response:
                    return bool(response.status == 200)
            except OSError:
                return False

        wait_until(http_ready, 60, "Home Assistant's HTTP server")
        yield hass
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def api(hass: HomeAssistant, token: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """Home Assistant's REST API."""
    request = urllib.request.Request(
        f"{hass.url}/api/{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as err:
        raise AssertionError(f"{path}: {err.code} {err.read().decode(errors='replace')}") from err
    return json.loads(text) if text.startswith(("{", "[")) else text


def read_registers(port: int, address: int, count: int) -> list[int] | None:
    """Holding registers of unit 1 at a loopback port, or None if nothing Modbus answers there."""
    client = ModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0)
    try:
        if not client.connect():  # type: ignore[no-untyped-call]
            return None
        reply = client.read_holding_registers(address, count=count, device_id=1)
        return None if reply.isError() else list(reply.registers)
    except Exception:  # any other server on that port is simply not ours
        return None
    finally:
        client.close()  # type: ignore[no-untyped-call]


def simulator_port(hass: HomeAssistant, serial: str) -> int | None:
    """The port of the built-in simulator: a loopback listener of Home Assistant that has our serial."""
    for conn in psutil.Process(hass.process.pid).net_connections(kind="tcp"):
        if conn.status != psutil.CONN_LISTEN or conn.laddr.ip != "127.0.0.1" or conn.laddr.port == hass.port:
            continue
        ident = read_registers(conn.laddr.port, REG_MAGIC, REG_SERIAL + SERIAL_REGS)
        if ident is None or ident[REG_MAGIC] != MAGIC:
            continue
        text = b"".join(word.to_bytes(2, "big") for word in ident[REG_SERIAL:]).rstrip(b"\0").decode()
        if text == serial:
            return int(conn.laddr.port)
    return None


def screenshots_dir(tmp_path: Path) -> Path:
    """Where the screenshots go: docs/images when asked for, else the test's temporary folder."""
    wanted = os.environ.get("BATTERY_STEWARD_SCREENSHOTS")
    folder = (ROOT / wanted) if wanted else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_user_adds_battery_and_changes_reserve(home_assistant: HomeAssistant, tmp_path: Path) -> None:
    hass = home_assistant
    shots = screenshots_dir(tmp_path)
    with browser_page(hass, tmp_path) as page:
        token = log_in(page, hass)

        # Add a built-in simulated battery through the config flow.
        start_adding(page, hass, "Built-in simulated battery")
        submit = page.get_by_role("button", name="Submit")
        submit.wait_for()
        page.get_by_text("Usable energy of the simulated battery").wait_for()
        page.screenshot(animations="disabled", path=shots / "config-flow.png")
        submit.click()
        page.get_by_role("button", name="finish").click()

        entries = wait_until(
            lambda: api(hass, token, "config/config_entries/entry?domain=battery_steward"),
            30,
            "the config entry",
        )
        assert len(entries) == 1
        serial = entries[0]["title"].removeprefix("Simulated battery ")
        prefix = "simulated_battery_" + serial.lower().replace("-", "_")
        reserve_entity = f"number.{prefix}_backup_reserve"
        state = wait_until(
            lambda: next((s for s in api(hass, token, "states") if s["entity_id"] == reserve_entity), None),
            30,
            f"{reserve_entity} to exist",
        )
        before = round(float(state["state"]))

        page.goto(hass.url + "/config/integrations/integration/battery_steward")
        page.get_by_text(entries[0]["title"]).first.wait_for()
        page.screenshot(animations="disabled", path=shots / "integration-page.png")

        # The simulator answers Modbus TCP on loopback inside Home Assistant: find it and read it.
        port = wait_until(lambda: simulator_port(hass, serial), 30, "the simulator's Modbus port")
        assert read_registers(port, REG_RESERVE, 1) == [before]

        # The dashboard as users paste it, with this battery's entity ids.
        dashboard = (ROOT / "dashboards" / "battery_steward.yaml").read_text()
        (hass.config / "dashboards" / "battery_steward.yaml").write_text(
            dashboard.replace(DEV_PREFIX, prefix)
        )
        page.goto(hass.url + "/battery-steward/battery")
        reserve_card = page.locator("hui-tile-card", has_text="Override backup reserve")
        spin = reserve_card.locator("[role=spinbutton]")
        playwright_sync.expect(spin).to_have_attribute("aria-valuenow", str(before))
        assert page.get_by_text("Entity not found").count() == 0

        # Change the backup reserve on the dashboard: one step up.
        reserve_card.locator("button.plus").click()
        playwright_sync.expect(spin).to_have_attribute("aria-valuenow", str(before + 1))
        wait_until(
            lambda: read_registers(port, REG_RESERVE, 1) == [before + 1],
            30,
            f"the simulator's reserve register to become {before + 1}",
        )

        # The journal recorded the override, and the logbook shows it.
        device_id = api(hass, token, "template", {"template": f"{{{{ device_id('{reserve_entity}') }}}}"})

        def override_record() -> dict[str, Any] | None:
            reply = api(
                hass,
                token,
                "services/battery_steward/get_journal?return_response",
                {"device_id": [device_id], "limit": 20},
            )
            records = next(iter(reply["service_response"].values()))["records"]
            return next(
                (
                    r
                    for r in records
                    if r["trigger"] == "override"
                    and r["result"] == "success"
                    and r["fields"].get("reserve_pct", {}).get("new") == before + 1
                ),
                None,
            )

        record = wait_until(override_record, 30, "the override in the journal")
        assert record["fields"]["reserve_pct"]["old"] == before
        wait_until(
            lambda: any(
                item.get("domain") == "battery_steward" and "(override)" in str(item.get("message"))
                for item in api(hass, token, "logbook")
            ),
            30,
            "the override in the logbook",
        )

        # Screenshots of the dashboard, desktop and phone width (the journal card has the change).
        # A plan to show: two daily windows, added with the add_item action.
        for item in (
            {"name": "Night charge", "start": "01:00:00", "end": "05:00:00", "mode": "force_charge"},
            {"name": "Evening peak", "start": "18:00:00", "end": "21:00:00", "mode": "force_discharge"},
        ):
            api(
                hass,
                token,
                "services/battery_steward/add_item",
                {"device_id": [device_id], "type": "window", "weekdays": list(range(7))} | item,
            )
        next_change = f"sensor.{prefix}_next_change"
        wait_until(
            lambda: api(hass, token, f"states/{next_change}")["state"] not in {"unknown", "unavailable"},
            30,
            "a next change",
        )

        # Opened again now that the change is recorded: the journal card starts from the recorder.
        page.reload()
        journal = page.locator("hui-logbook-card")
        journal.scroll_into_view_if_needed()  # its list renders the rows in view only
        journal_row = journal.get_by_text("Backup reserve").first
        playwright_sync.expect(journal_row).to_be_visible(timeout=30_000)
        planned = page.locator("hui-calendar-card").get_by_text("Force charge").first
        playwright_sync.expect(planned).to_be_attached()
        # One tall window rather than a full-page capture, which would draw the fixed header mid-page.
        page.set_viewport_size(TALL_DESKTOP)
        page.evaluate("() => window.scrollTo(0, 0)")
        journal.scroll_into_view_if_needed()
        playwright_sync.expect(journal_row).to_be_visible(timeout=15_000)
        page.screenshot(animations="disabled", path=shots / "dashboard-desktop.png")
        page.set_viewport_size(PHONE)
        page.evaluate("() => window.scrollTo(0, 0)")
        playwright_sync.expect(reserve_card).to_be_visible()
        # Phone width: one column, nothing wider than the screen.
        # (The charts follow the new width after their resize observers fire.)
        page.wait_for_function(f"() => document.documentElement.scrollWidth <= {PHONE['width']}")
        page.screenshot(animations="disabled", path=shots / "dashboard-phone.png")


@pytest.fixture
def modbus_battery(tmp_path: Path) -> Iterator[int]:
    """A simulated Modbus TCP battery (the steward map) in a process of its own; yields its port."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "custom_components.battery_steward.device.simulator", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: read_registers(port, REG_MAGIC, 1), 30, "the Modbus simulator")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def browser_page(hass: HomeAssistant, tmp_path: Path) -> Iterator[Any]:
    """A Chromium page (desktop size, Paris time); on failure a screenshot and Home Assistant's log."""
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            page = browser.new_page(viewport=DESKTOP, locale="en-US", timezone_id="Europe/Paris")
            page.set_default_timeout(30_000)
            yield page
        except BaseException:
            if browser.contexts and browser.contexts[0].pages:
                browser.contexts[0].pages[0].screenshot(path=tmp_path / "failure.png", full_page=True)
            print(f"screenshot: {tmp_path / 'failure.png'}\n{hass.log_tail()}")
            raise
        finally:
            browser.close()


def start_adding(page: Any, hass: HomeAssistant, kind: str) -> None:
    """Add integration → Battery Steward → the kind of battery (a menu option's text)."""
    page.goto(hass.url + "/config/integrations/dashboard/add?domain=battery_steward")
    page.get_by_role("button", name="OK").click()
    page.get_by_text(kind).first.click()


def log_in(page: Any, hass: HomeAssistant) -> str:
    """Log in as the test user; the access token for the REST API."""
    page.goto(hass.url + "/")
    page.locator("input[name=username]").fill(USER)
    page.locator("input[name=password]").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.locator("home-assistant-main").wait_for()
    token = page.evaluate("() => JSON.parse(localStorage.getItem('hassTokens')).access_token")
    assert isinstance(token, str)
    return token


def state_of(hass: HomeAssistant, token: str, entity: str) -> str:
    """An entity's state through the REST API."""
    return str(api(hass, token, f"states/{entity}")["state"])


# docs/register-map.md: the controls, 120-126 (mode, reserve, power and reactive setpoints, enabled).
REG_CONTROLS, CONTROLS, MODE_IDLE = 120, 7, 3
# Tall enough for the whole of a battery's section of the Batteries dashboard, and for every section
# of the settings form.
DASHBOARD = {"width": 1280, "height": 1400}
SETTINGS_FORM = {"width": 1280, "height": 2600}
PARIS = ZoneInfo("Europe/Paris")  # Home Assistant's zone (config/configuration.yaml)
# A battery's section of the Batteries dashboard draws its icons after the cards: all drawn.
ICONS_DRAWN = """() => {
  const icons = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll("*")) {
      if (el.tagName === "HA-STATE-ICON") icons.push(el);
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  const drawn = (el) => {
    const svg = el.shadowRoot && el.shadowRoot.querySelector("ha-svg-icon");
    if (svg) return Boolean(svg.path);
    const icon = el.shadowRoot && el.shadowRoot.querySelector("ha-icon");
    const inner = icon && icon.shadowRoot && icon.shadowRoot.querySelector("ha-svg-icon");
    return Boolean(inner && inner.path);
  };
  return icons.length > 0 && icons.every(drawn);
}"""


@dataclass(frozen=True, kw_only=True)
class Controls:
    """What the battery holds in its control registers."""

    mode: int
    reserve_pct: int
    enabled: bool


def wait_for_battery(port: int, what: str, **wanted: Any) -> Controls:
    """Read the battery over Modbus until its controls hold `wanted` (mode, reserve_pct, enabled)."""

    def holds() -> Controls | None:
        regs = read_registers(port, REG_CONTROLS, CONTROLS)
        if regs is None:
            return None
        controls = Controls(mode=regs[0], reserve_pct=regs[1], enabled=regs[6] == 1)
        return controls if all(getattr(controls, k) == v for k, v in wanted.items()) else None

    return wait_until(holds, 30, f"the battery: {what} {wanted}")


@dataclass(frozen=True, kw_only=True)
class Journal:
    """A battery's journal, through the get_journal action."""

    hass: HomeAssistant
    token: str
    device_id: str

    def records(self) -> list[dict[str, Any]]:
        """The newest records, oldest first."""
        reply = api(
            self.hass,
            self.token,
            "services/battery_steward/get_journal?return_response",
            {"device_id": [self.device_id], "limit": 200},
        )
        return list(next(iter(reply["service_response"].values()))["records"])

    def mark(self) -> int:
        """The newest record's number: records after it are new."""
        records = self.records()
        return int(records[-1]["seq"]) if records else -1

    def wait_for(self, after: int, what: str, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The first record after `after` that matches, once there is one."""
        return wait_until(
            lambda: next((r for r in self.records() if r["seq"] > after and match(r)), None),
            30,
            f"the journal: {what}",
        )


def schedule_run(old: int, new: int) -> Callable[[dict[str, Any]], bool]:
    """A scheduled run that moved the reserve from old to new."""
    return lambda r: (
        r["trigger"] == "schedule"
        and r["result"] == "success"
        and r["fields"].get("reserve_pct") == {"old": old, "new": new}
    )


def note(trigger: str, text: str) -> Callable[[dict[str, Any]], bool]:
    """A successful record of this trigger whose note starts with `text`."""
    return lambda r: r["trigger"] == trigger and r["result"] == "success" and str(r["note"]).startswith(text)


def tile(page: Any, name: str) -> Any:
    """A tile by its exact name (so *Backup reserve* is not *Desired backup reserve*)."""
    return page.locator("hui-tile-card").filter(has=page.get_by_text(name, exact=True))


def shown(page: Any, name: str) -> Any:
    """The state a tile shows."""
    return tile(page, name).locator("state-display")


def item_id(hass: HomeAssistant, token: str, name: str) -> str:
    """A schedule item's id, from its switch (named after the item)."""
    switch = wait_until(
        lambda: next(
            (
                s
                for s in api(hass, token, "states")
                if s["attributes"].get("friendly_name") == name and "item_id" in s["attributes"]
            ),
            None,
        ),
        30,
        f"the switch of {name}",
    )
    return str(switch["attributes"]["item_id"])


def press(page: Any, name: str) -> None:
    """Tap a button tile's icon and confirm; the dialog has gone."""
    tile(page, name).locator("ha-tile-icon").click()
    dialog = page.locator("dialog-box")
    playwright_sync.expect(dialog.get_by_text("Are you sure?")).to_be_visible()
    dialog.get_by_role("button", name="OK").click()
    playwright_sync.expect(page.get_by_text("Are you sure?")).to_be_hidden()


def fresh_dashboard(page: Any, running: str) -> None:
    """Open the dashboard afresh, as for a screenshot: icons drawn, the plan listed from the running
    state on (its first row is the one running now, `running`)."""
    page.reload()
    plan = page.locator("hui-calendar-card .fc-list-event-title")
    playwright_sync.expect(plan.first).to_contain_text(running)
    page.wait_for_function(ICONS_DRAWN)


def choose_source(page: Any, option: str) -> None:
    """Pick a schedule source from the menu of its tile."""
    source = tile(page, "Schedule source")
    source.locator("ha-control-select-menu").click()
    source.locator("ha-dropdown-item", has_text=option).click()


@pytest.mark.timeout(600)
def test_new_user_journeys(home_assistant: HomeAssistant, modbus_battery: int, tmp_path: Path) -> None:
    """Issue 17's journeys, each step a user's action in the browser: a Modbus battery (a wrong port
    first), the Batteries dashboard, the settings form, a time window from the item form changing
    the reserve at its start and back to the default at its end, pausing it on its device page,
    deleting it from the integration page, a source switch refused and then confirmed, safe stop
    and restore. After each step: what the page shows, what the battery holds (its registers, read
    over Modbus), and the journal; and a screenshot."""
    hass = home_assistant
    port = modbus_battery
    shots = screenshots_dir(tmp_path)
    expect = playwright_sync.expect
    expect.set_options(timeout=15_000)
    with browser_page(hass, tmp_path) as page:
        token = log_in(page, hass)

        # A Modbus TCP battery through the config flow: a wrong port first.
        start_adding(page, hass, "Modbus TCP battery")
        texts = page.locator("dialog-data-entry-flow input:not([type=radio])")
        texts.nth(0).fill("127.0.0.1")
        texts.nth(1).fill(str(free_port()))
        # Nothing is preselected: submitting without a register map asks for one.
        page.get_by_role("button", name="Submit").click()
        page.get_by_text("Choose the register map your battery uses").wait_for()
        page.get_by_text("Battery Steward register map").click()
        page.get_by_role("button", name="Submit").click()
        page.get_by_text("Failed to connect").wait_for()
        page.screenshot(animations="disabled", path=shots / "config-flow-modbus-error.png")
        texts.nth(1).fill(str(port))
        page.get_by_role("button", name="Submit").click()
        page.get_by_role("button", name="finish").click()
        entries = wait_until(
            lambda: api(hass, token, "config/config_entries/entry?domain=battery_steward"),
            30,
            "the entry",
        )
        assert entries[0]["title"] == "Steward Sim 10 SIM-0001"
        prefix = "steward_sim_10_sim_0001"
        reserve = f"number.{prefix}_backup_reserve"
        wait_until(lambda: state_of(hass, token, reserve) == "20.0", 30, "the battery's reserve")
        device_id = api(hass, token, "template", {"template": f"{{{{ device_id('{reserve}') }}}}"})
        journal = Journal(hass=hass, token=token, device_id=device_id)
        # Its default state, made from the battery when it was added: the reserve a window returns to.
        default_id = item_id(hass, token, "Default")
        wait_for_battery(port, "as it was powered on", reserve_pct=20, enabled=True)

        # The Batteries dashboard: made for this battery, nothing edited.
        page.set_viewport_size(DASHBOARD)
        page.goto(hass.url + "/battery-steward-all/batteries")
        page.get_by_text("Steward Sim 10 SIM-0001").first.wait_for()
        expect(shown(page, "Backup reserve")).to_have_text("20%")
        expect(shown(page, "Plant state")).to_have_text("Running")
        assert page.get_by_text("Entity not found").count() == 0
        fresh_dashboard(page, "Backup reserve 20 %")
        page.screenshot(animations="disabled", path=shots / "dashboard-batteries.png")

        # A time window from the item form: every day already; from the next minute but one.
        page.goto(hass.url + "/config/integrations/integration/battery_steward")
        page.get_by_role("button", name="Add schedule item").first.click()
        page.get_by_text("Time window").first.click()
        start = (datetime.now(PARIS) + timedelta(seconds=120)).replace(second=0, microsecond=0)
        end = start + timedelta(minutes=1)
        page.locator("dialog-data-entry-flow ha-selector-text input").first.fill("Reserve test")
        times = page.locator("ha-selector-time")
        for selector_index, moment in ((0, start), (1, end)):
            fields = times.nth(selector_index).locator("input")
            fields.nth(0).fill(f"{moment.hour:02d}")
            fields.nth(1).fill(f"{moment.minute:02d}")
        page.locator("dialog-data-entry-flow ha-selector-number input").first.fill("60")
        page.screenshot(animations="disabled", path=shots / "item-form-window.png")
        added = journal.mark()  # what follows: the item added, then its start and end
        page.get_by_role("button", name="Submit").click()
        page.get_by_role("button", name="finish").click()
        expect(page.locator("ha-config-sub-entry-row", has_text="Reserve test")).to_be_visible()
        window_id = item_id(hass, token, "Reserve test")
        journal.wait_for(added, "the item added", note("edit", f"item added: Reserve test ({window_id})"))

        # While the window waits for its start: the battery's settings (Configure), in sections.
        page.set_viewport_size(SETTINGS_FORM)
        page.locator("ha-config-entry-row").first.get_by_role("button", name="Configure").first.click()
        page.get_by_text("Settings: polling, reconciliation, safe stop").click()
        form = page.locator("dialog-data-entry-flow")
        for section in ("Polling", "Reconciliation", "Safe stop", "Schedule items", "Access"):
            expect(
                form.locator("ha-expansion-panel").filter(has=page.get_by_text(section, exact=True))
            ).to_be_visible()
        expect(form.get_by_text("Poll interval").first).to_be_visible()
        page.screenshot(animations="disabled", path=shots / "options-settings.png")
        form.get_by_role("button", name="Close").click()  # closed unsaved
        expect(form.get_by_text("Poll interval")).to_have_count(0)
        page.set_viewport_size(DASHBOARD)

        # The window starts: the reserve tile, the battery and the journal say 60 %.
        page.goto(hass.url + "/battery-steward-all/batteries")
        expect(shown(page, "Backup reserve")).to_have_text("60%", timeout=200_000)
        wait_for_battery(port, "the window's reserve", reserve_pct=60)
        started = journal.wait_for(added, "the window's start", schedule_run(20, 60))
        assert datetime.fromisoformat(started["scheduled"]) == start
        assert started["items"]["reserve_pct"] == window_id
        fresh_dashboard(page, "Backup reserve 60 %")
        expect(shown(page, "Backup reserve")).to_have_text("60%")
        page.screenshot(animations="disabled", path=shots / "dashboard-window-started.png")

        # It ends: back to the default's 20 %.
        expect(shown(page, "Backup reserve")).to_have_text("20%", timeout=120_000)
        wait_for_battery(port, "the default's reserve again", reserve_pct=20)
        ended = journal.wait_for(started["seq"], "the window's end", schedule_run(60, 20))
        assert datetime.fromisoformat(ended["scheduled"]) == end
        assert ended["items"]["reserve_pct"] == default_id
        fresh_dashboard(page, "Backup reserve 20 %")
        expect(shown(page, "Backup reserve")).to_have_text("20%")
        # The window again tomorrow, a minute short of a day away.
        expect(shown(page, "Next change")).to_have_text(re.compile(r"In 2[34] hours|Tomorrow"))
        page.screenshot(animations="disabled", path=shots / "dashboard-window-ended.png")

        # Pause it: its switch, on its own device's page (from the integration page).
        page.goto(hass.url + "/config/integrations/integration/battery_steward")
        page.locator("ha-config-sub-entry-row", has_text="Reserve test").locator(
            "ha-config-entry-device-row"
        ).click()
        page.wait_for_url("**/config/devices/device/**")
        switch = page.locator("ha-entity-toggle ha-switch")
        expect(switch.get_by_role("switch")).to_be_checked()
        mark = journal.mark()
        switch.click()
        expect(switch.get_by_role("switch")).not_to_be_checked()
        wait_until(lambda: state_of(hass, token, "switch.reserve_test") == "off", 30, "the item paused")
        journal.wait_for(mark, "the pause", note("edit", f"item paused: Reserve test ({window_id})"))
        wait_for_battery(port, "the default's reserve, kept", reserve_pct=20)
        page.screenshot(animations="disabled", path=shots / "item-paused.png")

        # Delete it: the item's menu on the integration page, then confirm.
        page.goto(hass.url + "/config/integrations/integration/battery_steward")
        item_row = page.locator("ha-config-sub-entry-row", has_text="Reserve test")
        menu = item_row.locator("ha-dropdown").first
        menu.locator("ha-icon-button").first.click()
        menu.locator("ha-dropdown-item", has_text="Delete").click()
        dialog = page.locator("dialog-box")
        expect(dialog.get_by_text("Delete Reserve test?")).to_be_visible()
        page.screenshot(animations="disabled", path=shots / "item-delete.png")
        mark = journal.mark()
        dialog.get_by_role("button", name="Delete").click()
        expect(item_row).to_have_count(0)
        expect(page.locator("ha-config-sub-entry-row", has_text="Default")).to_be_visible()
        journal.wait_for(mark, "the deletion", note("edit", f"item removed: Reserve test ({window_id})"))
        wait_for_battery(port, "the default's reserve, kept", reserve_pct=20)

        # Switch the schedule source: refused without the confirmation, with a message saying so.
        source = f"select.{prefix}_schedule_source"
        page.goto(hass.url + "/battery-steward-all/batteries")
        expect(shown(page, "Schedule source")).to_have_text("Manual schedule items")
        choose_source(page, "Day-ahead series")
        refusal = page.locator("ha-toast span.message").filter(
            has_text="turn on Confirm switching first, then switch within a minute"
        )
        expect(refusal).to_be_visible()
        page.screenshot(animations="disabled", path=shots / "dashboard-switch-refused.png")
        expect(shown(page, "Schedule source")).to_have_text("Manual schedule items")
        expect(shown(page, "Plant state")).to_have_text("Running")
        assert state_of(hass, token, source) == "manual"
        wait_for_battery(port, "still running", enabled=True)
        expect(refusal).to_be_hidden(timeout=30_000)

        # Confirmed: Confirm switching on, then the source; the switch safe-stops the plant.
        tile(page, "Confirm switching").locator("ha-control-switch").click()
        expect(shown(page, "Confirm switching")).to_have_text("On")
        page.screenshot(animations="disabled", path=shots / "dashboard-confirm-switching.png")
        mark = journal.mark()
        choose_source(page, "Day-ahead series")
        expect(shown(page, "Schedule source")).to_have_text("Day-ahead series", timeout=60_000)
        expect(shown(page, "Plant state")).to_have_text("Stopped")
        expect(shown(page, "Confirm switching")).to_have_text("Off")  # used up
        wait_for_battery(port, "safe-stopped by the switch", enabled=False, mode=MODE_IDLE)
        journal.wait_for(mark, "the switch's safe stop", note("manual", "safe stop"))
        assert state_of(hass, token, source) == "api"
        fresh_dashboard(page, "Idle")  # nothing from the day-ahead series yet
        expect(shown(page, "Plant state")).to_have_text("Stopped")
        page.screenshot(animations="disabled", path=shots / "dashboard-source-switched.png")

        # Restore (the switch left the plant stopped), Safe stop, Restore: each confirmed.
        for name, plant, battery, record, shot in (
            ("Restore", "Running", {"enabled": True}, "restored", None),
            (
                "Safe stop",
                "Stopped",
                {"enabled": False, "mode": MODE_IDLE},
                "safe stop",
                "dashboard-safe-stopped",
            ),
            ("Restore", "Running", {"enabled": True}, "restored", "dashboard-restored"),
        ):
            mark = journal.mark()
            press(page, name)
            expect(shown(page, "Plant state")).to_have_text(plant, timeout=90_000)
            wait_for_battery(port, f"after {name}", **battery)
            journal.wait_for(mark, name, note("manual", record))
            if shot is not None:
                fresh_dashboard(page, "Idle")
                expect(shown(page, "Plant state")).to_have_text(plant)
                page.screenshot(animations="disabled", path=shots / f"{shot}.png")
