"""The stand-alone simulator as a subprocess (`python -m ...device.simulator`)."""

import asyncio
from pathlib import Path
import re
import sys

REPO_ROOT = Path(__file__).resolve().parents[2]


async def spawn_simulator(*args: str) -> asyncio.subprocess.Process:
    """Start the simulator's command line on an OS-chosen port with these arguments; stderr is piped."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "custom_components.battery_steward.device.simulator",
        "--port",
        "0",
        *args,
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    return process


async def announced_port(process: asyncio.subprocess.Process, pattern: str) -> int:
    """Read the simulator's log until a line matches pattern; its first group is the port."""
    assert process.stderr is not None
    async with asyncio.timeout(60):
        while True:
            line = (await process.stderr.readline()).decode()
            assert line, "simulator exited early"
            if match := re.search(pattern, line):
                return int(match.group(1))
