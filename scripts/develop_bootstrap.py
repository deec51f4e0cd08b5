"""Prepare config/ for scripts/develop: onboarding done, HTTP on loopback, one simulated battery.

Only touches a fresh development config; an existing one is left as it is. The real-browser test
(tests/e2e) uses it too, with its own port and without the battery (it adds one in the UI).
"""

import argparse
import json
from pathlib import Path
import uuid

# Fixed, so that the entity ids in dashboards/battery_steward.yaml are this battery's.
SERIAL = "SIM-DEV00001"


def write(storage: Path, key: str, version: int, data: dict[str, object], minor_version: int = 1) -> None:
    """Write one Home Assistant storage file unless it exists already."""
    path = storage / key
    if path.exists():
        return
    path.write_text(
        json.dumps(
            {"version": version, "minor_version": minor_version, "key": key, "data": data},
            indent=2,
        )
    )


def http_config(port: int) -> dict[str, object]:
    """Home Assistant's HTTP settings on 127.0.0.1 only, already confirmed.

    Home Assistant 2026 keeps these in storage: an `http:` block in configuration.yaml would be
    migrated as a trial that asks for confirmation and reverts (to all interfaces) a few minutes later.
    """
    return {
        "stable": {
            "server_port": port,
            "server_host": ["127.0.0.1"],
            "cors_allowed_origins": ["https://cast.home-assistant.io"],
            "login_attempts_threshold": -1,
            "ip_ban_enabled": True,
            "ssl_profile": "modern",
            "use_x_frame_options": True,
            "created_at": "2026-01-01T00:00:00+00:00",
            "error": None,
            "error_message": None,
        },
        "pending": None,
        "yaml_migration_done": True,
    }


def main() -> None:
    """Seed onboarding, HTTP and (unless --no-battery) the simulated battery's config entry."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config", nargs="?", default="config", help="Home Assistant config directory")
    parser.add_argument("--port", type=int, default=8123, help="HTTP port on 127.0.0.1")
    parser.add_argument("--no-battery", action="store_true", help="no simulated battery entry")
    args = parser.parse_args()
    storage = Path(args.config) / ".storage"
    storage.mkdir(parents=True, exist_ok=True)
    write(storage, "onboarding", 4, {"done": ["user", "core_config", "analytics", "integration"]})
    write(storage, "http", 2, http_config(args.port), minor_version=2)
    if args.no_battery:
        return
    serial = SERIAL
    # Minor version 1: Home Assistant migrates the entry and fills in the fields it adds.
    write(
        storage,
        "core.config_entries",
        1,
        {
            "entries": [
                {
                    "entry_id": uuid.uuid4().hex,
                    "version": 1,
                    "domain": "battery_steward",
                    "title": f"Simulated battery {serial}",
                    "data": {"kind": "simulator", "serial": serial, "capacity_kwh": 10.0},
                    # The reference schedule API that scripts/develop starts on loopback.
                    "options": {
                        "api_url": "http://127.0.0.1:8124",
                        "api_username": "steward",
                        "api_password": "secret",
                        "api_plant": "lib",
                        "api_posting": True,
                        "api_tomorrow_hour": 13,
                    },
                    "source": "user",
                    "unique_id": serial,
                }
            ]
        },
    )


if __name__ == "__main__":
    main()
