"""Block planner: read many registers in as few Modbus requests as possible."""

from collections.abc import Iterable
from dataclasses import dataclass

from .registers import Register

MAX_REGISTERS_PER_READ = 125  # Modbus limit for FC3


@dataclass(frozen=True, kw_only=True, slots=True)
class Block:
    """One read request: `count` registers from `start`."""

    start: int
    count: int
    input: bool = False  # input registers (FC4) rather than holding registers (FC3)
    unit: int | None = None  # the unit id to ask (None: the device's)

    @property
    def end(self) -> int:
        """One past the last register."""
        return self.start + self.count


def plan_blocks(
    registers: Iterable[Register], *, max_gap: int = 0, max_count: int = MAX_REGISTERS_PER_READ
) -> list[Block]:
    """Merge registers into blocks, bridging gaps of at most `max_gap` readable registers.

    A gap may only be bridged where the profile says the registers in it can be read (the
    caller sets max_gap accordingly); a value never spans two blocks. A block holds one kind of
    register (holding or input) of one unit id: registers of other kinds or units never join it.
    """
    spans = sorted(
        ((r.input, r.unit or 0, r.address, r.address + r.count, r.unit) for r in registers),
    )
    blocks: list[Block] = []
    for is_input, _, start, end, unit in spans:
        if blocks:
            last = blocks[-1]
            if (
                (last.input, last.unit) == (is_input, unit)
                and start - last.end <= max_gap
                and max(end, last.end) - last.start <= max_count
            ):
                blocks[-1] = Block(
                    start=last.start, count=max(end, last.end) - last.start, input=is_input, unit=unit
                )
                continue
        if end - start > max_count:
            raise ValueError(f"register at {start} is longer than {max_count} registers")
        blocks.append(Block(start=start, count=end - start, input=is_input, unit=unit))
    return blocks


def _locate(blocks: list[Block], register: Register) -> tuple[int, int]:
    """The index of the block that holds `register`, and the register's offset in it."""
    for index, block in enumerate(blocks):
        if (
            (block.input, block.unit) == (register.input, register.unit)
            and block.start <= register.address
            and register.address + register.count <= block.end
        ):
            return index, register.address - block.start
    raise KeyError(register.name)


def extract(blocks: list[Block], data: list[list[int]], register: Register) -> list[int]:
    """The words of `register` out of the blocks read."""
    index, offset = _locate(blocks, register)
    return data[index][offset : offset + register.count]


@dataclass(frozen=True, slots=True)
class Layout:
    """Blocks to read and where each register's words sit in them, worked out once.

    A profile polls the same registers every time: a poll then slices each value's words out
    directly instead of searching the blocks for each register (benchmarks/poll_cost.py).
    """

    blocks: list[Block]
    # (register, index of its block, first word, one past its last word)
    places: tuple[tuple[Register, int, int, int], ...]

    @classmethod
    def of(cls, blocks: list[Block], registers: Iterable[Register]) -> Layout:
        """The layout of `registers` in `blocks`; KeyError when a block misses one."""
        places = []
        for register in registers:
            index, offset = _locate(blocks, register)
            places.append((register, index, offset, offset + register.count))
        return cls(blocks, tuple(places))
