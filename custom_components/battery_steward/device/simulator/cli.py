"""Command line for running the simulated battery on its own, for other Modbus tools to talk to."""

import argparse
import asyncio
from collections.abc import Callable, Sequence
import contextlib
import logging
from pathlib import Path
import signal

from ..profiles import PROFILE_STEWARD, PROFILE_VICTRON, PROFILES
from ..profiles.custom import parse
from ..profiles.marstek import POWER_SIGN_DISCHARGE_POSITIVE, POWER_SIGNS
from ..profiles.sunspec import BASE_ADDRESSES
from ..profiles.victron import UNIT as VICTRON_UNIT
from .physics import SimConfig
from .presentation import make_presentation
from .server import DEFAULT_HOST, DEFAULT_UNIT, SimulatedBattery, WriteRecord

_LOGGER = logging.getLogger(__name__)
DEFAULT_PORT = 5020


def build_parser() -> argparse.ArgumentParser:
    """Options map one to one onto SimConfig and SimulatedBattery."""
    defaults = SimConfig(serial="SIM-0001")
    parser = argparse.ArgumentParser(
        prog="python -m custom_components.battery_steward.device.simulator",
        description="Simulated battery on Modbus TCP, presenting any profile (docs/supported-devices.md).",
    )
    add = parser.add_argument
    add("--host", default=DEFAULT_HOST, help="address to bind (default %(default)s, loopback only)")
    add("--port", type=int, default=DEFAULT_PORT, help="TCP port, 0 = any free (default %(default)s)")
    add(
        "--unit",
        type=int,
        help=f"Modbus device id (default {DEFAULT_UNIT}; {VICTRON_UNIT} for --profile victron, as a GX)",
    )
    add("--serial", default=defaults.serial)
    add("--model", default=defaults.model)
    add("--firmware", default=defaults.firmware)
    add("--capacity-kwh", type=float, default=defaults.capacity_kwh)
    add("--max-charge-w", type=int, default=defaults.max_charge_w)
    add("--max-discharge-w", type=int, default=defaults.max_discharge_w)
    add("--max-apparent-va", type=int, default=defaults.max_apparent_va)
    add("--soc", type=float, default=defaults.soc_pct, help="starting state of charge, %%")
    add("--reserve", type=int, default=defaults.reserve_pct, help="starting backup reserve, %%")
    add("--tau", type=float, default=defaults.tau_s, help="power response time constant, s")
    add("--noise", type=float, default=defaults.noise_w, help="measurement noise, W")
    add("--seed", type=int, default=defaults.seed, help="noise seed")
    add("--tick", type=float, default=1.0, help="physics tick while nobody polls, s")
    add(
        "--profile",
        choices=PROFILES,
        default=PROFILE_STEWARD,
        help="register map to present (default %(default)s)",
    )
    add(
        "--sunspec-base",
        type=int,
        choices=BASE_ADDRESSES,
        default=BASE_ADDRESSES[0],
        help="SunSpec base address",
    )
    add("--no-sunspec-battery", action="store_true", help="SunSpec without model 802")
    add(
        "--sunspec-gen24",
        action="store_true",
        help="SunSpec as a Fronius GEN24: no model 802, battery power in model 160, reserve >= 5 %%",
    )
    add(
        "--marstek-power-sign",
        choices=POWER_SIGNS,
        default=POWER_SIGN_DISCHARGE_POSITIVE,
        help="sign of the Marstek power registers",
    )
    add("--register-map", type=Path, help="YAML custom register map (with --profile custom)")
    add("-v", "--verbose", action="store_true", help="log every accepted write")
    return parser


def config_from_args(args: argparse.Namespace) -> SimConfig:
    """The SimConfig the options describe."""
    return SimConfig(
        serial=args.serial,
        model=args.model,
        firmware=args.firmware,
        capacity_kwh=args.capacity_kwh,
        max_charge_w=args.max_charge_w,
        max_discharge_w=args.max_discharge_w,
        max_apparent_va=args.max_apparent_va,
        soc_pct=args.soc,
        reserve_pct=args.reserve,
        tau_s=args.tau,
        noise_w=args.noise,
        seed=args.seed,
    )


def _profile_settings(args: argparse.Namespace) -> dict[str, object]:
    if args.profile == "sunspec" and args.sunspec_gen24:
        return {"base": args.sunspec_base, "battery": False, "mppt": True, "manufacturer": "Fronius"}
    if args.profile == "sunspec":
        return {"base": args.sunspec_base, "battery": not args.no_sunspec_battery}
    if args.profile == "marstek":
        return {"power_sign": args.marstek_power_sign}
    if args.profile == "custom":
        if args.register_map is None:
            raise ValueError("--profile custom needs --register-map FILE")
        try:
            text = args.register_map.read_text(encoding="utf-8")
        except OSError as err:
            raise ValueError(f"cannot read {args.register_map}: {err}") from err
        return {"map": parse(text)}
    return {}


def unit_from_args(args: argparse.Namespace) -> int:
    """The unit id to answer: as given, else the one the presented device uses."""
    if args.unit is not None:
        return int(args.unit)
    return VICTRON_UNIT if args.profile == PROFILE_VICTRON else DEFAULT_UNIT


def _log_write(record: WriteRecord) -> None:
    _LOGGER.debug("write %s = %s", record.name, record.value)


async def run(
    args: argparse.Namespace,
    stop: asyncio.Event | None = None,
    *,
    ready: Callable[[SimulatedBattery], None] | None = None,
) -> None:
    """Serve until stop is set, or until SIGINT/SIGTERM when no event is given.

    `ready` is called once the battery is listening, for embedding and tests.
    """
    battery = SimulatedBattery(
        config_from_args(args),
        unit=unit_from_args(args),
        tick_s=args.tick,
        on_write=_log_write if args.verbose else None,
        presentation=make_presentation(args.profile, _profile_settings(args)),
    )
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    if stop is None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # pragma: no cover - Windows
                loop.add_signal_handler(sig, stop.set)
                installed.append(sig)
    await battery.start(host=args.host, port=args.port)
    try:
        _LOGGER.info(
            "Serving %s serial %s on %s:%s unit %s, %s register map (Ctrl-C to stop)",
            battery.config.model,
            battery.config.serial,
            args.host,
            battery.port,
            battery.unit,
            battery.presentation.name,
        )
        if ready is not None:
            ready(battery)
        await stop.wait()
    finally:
        await battery.stop()
        for sig in installed:
            loop.remove_signal_handler(sig)
        _LOGGER.info("Stopped")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m ...device.simulator`."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.verbose:
        # pymodbus is chatty at debug level; our own writes are what is interesting.
        logging.getLogger("pymodbus").setLevel(logging.INFO)
    try:
        asyncio.run(run(args))
    except ValueError as err:
        _LOGGER.error("%s", err)  # noqa: TRY400 - a bad option, not a crash
        return 2
    except KeyboardInterrupt:  # pragma: no cover - only without signal handlers
        pass
    return 0
