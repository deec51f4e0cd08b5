"""Prepare config/ for scripts/develop: onboarding done and one built-in simulated battery.

Only touches a fresh development config; an existing one is left as it is.
"""

import json
from pathlib import Path
import sys
import uuid

ARGS = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
STORAGE = Path(ARGS[0] if ARGS else "config") / ".storage"
# Fixed, so that the entity ids in dashboards/battery_steward.yaml are this battery's.
SERIAL = "SIM-DEV00001"


def write(key: str, version: int, data: dict[str, object], minor_version: int = 1) -> None:
    """Write one Home Assistant storage file unless it exists already."""
    path = STORAGE / key
    if path.exists():
        return
    path.write_text(
        json.dumps(
            {"version": version, "minor_version": minor_version, "key": key, "data": data},
            indent=2,
        )
    )


def main() -> None:
    """Seed onboarding and (unless --no-battery) the simulated battery's config entry."""
    STORAGE.mkdir(parents=True, exist_ok=True)
    write("onboarding", 4, {"done": ["user", "core_config", "analytics", "integration"]})
    if "--no-battery" in sys.argv:
        return
    serial = SERIAL
    # Minor version 1: Home Assistant migrates the entry and fills in the fields it adds.
    write(
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
