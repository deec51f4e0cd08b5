"""Prepare config/ for scripts/develop: onboarding done and one built-in simulated battery.

Only touches a fresh development config; an existing one is left as it is.
"""

import json
from pathlib import Path
import sys
import uuid

STORAGE = Path(sys.argv[1] if len(sys.argv) > 1 else "config") / ".storage"


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
    """Seed onboarding and the simulated battery's config entry."""
    STORAGE.mkdir(parents=True, exist_ok=True)
    write("onboarding", 4, {"done": ["user", "core_config", "analytics", "integration"]})
    serial = f"SIM-{uuid.uuid4().hex[:8].upper()}"
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
