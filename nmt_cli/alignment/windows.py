"""The input of `nmt align`, window by window: sources with their targets from a --ref file, from
`source ||| target` lines, or none (the model translates)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path

from nmt_cli.errors import NMTError
from nmt_cli.io.lines import input_lines, windows


def read_windows(
    input: Path | None, ref: Path | None, size: int
) -> Iterator[tuple[list[str], list[str] | None]]:
    """Windows of (sources, targets) from a file or stdin: targets from the line-aligned `ref`
    file, from `source ||| target` lines, or None (the model translates)."""
    refs = input_lines(ref) if ref is not None else None
    first_line = 1
    for chunk in windows(input_lines(input), size):
        first_line += len(chunk)
        if refs is None:
            yield split_pairs(chunk, first_line - len(chunk))
            continue
        targets = list(islice(refs, len(chunk)))
        if len(targets) < len(chunk):
            raise NMTError(f"--ref {ref} has fewer lines than the input")
        yield chunk, targets
    if refs is not None and next(refs, None) is not None:
        raise NMTError(f"--ref {ref} has more lines than the input")


def split_pairs(lines: Sequence[str], first_line: int = 1) -> tuple[list[str], list[str] | None]:
    """Lines `source ||| target` -> (sources, targets); lines without `|||` -> (lines, None).

    A line with two separators is an error (which one splits it is a guess); `first_line` is
    the number of `lines[0]` in the input, for messages.
    """
    counts = [line.count("|||") for line in lines]
    for n, count in enumerate(counts, first_line):
        if count > 1:
            raise NMTError(f"line {n} has {count} '|||' separators: write one 'source ||| target' per line")
    if not any(counts):
        return list(lines), None
    if not all(counts):
        raise NMTError(f"line {counts.index(0) + first_line} has no ' ||| target' but others do")
    pairs = [line.split("|||", 1) for line in lines]
    return [s.strip() for s, _ in pairs], [t.strip() for _, t in pairs]
