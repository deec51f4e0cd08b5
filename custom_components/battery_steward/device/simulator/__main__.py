"""`python -m custom_components.battery_steward.device.simulator`: see cli.py."""

from .cli import main

raise SystemExit(main())
