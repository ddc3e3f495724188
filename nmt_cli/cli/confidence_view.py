"""Confidence as the user sees it: one JSON object per line (`--format json`), or on a
terminal the translation with its low-confidence words coloured and a legend on stderr.

Colour only where stdout is a terminal and NO_COLOR is unset or empty (no-color.org), so that
pipes and files get exactly the plain text `nmt translate` always wrote.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, TextIO

from rich.console import Console
from rich.text import Text

from nmt_cli.cli.console import console as make_console
from nmt_cli.cli.formats import confidence_json

if TYPE_CHECKING:
    from nmt_cli.decoding.confidence import Confidence
    from nmt_cli.decoding.translate import Translation

LOW, VERY_LOW = 0.5, 0.2  # word probabilities below which a word is marked
LEGEND = (
    f"confidence: [yellow]yellow[/] words below {LOW:.0%}, [bold red]red[/] below {VERY_LOW:.0%} "
    "(the model's probability of the word; NO_COLOR=1 turns colours off)"
)


def coloured(text: str, confidence: Confidence) -> Text:
    """The translation with each low-confidence word styled; plain where its words and the
    scored words do not line up one to one."""
    tokens = text.split(" ")
    if len(tokens) != len(confidence.words):
        return Text(text)
    line = Text()
    for i, (token, word) in enumerate(zip(tokens, confidence.words)):
        if i:
            line.append(" ")
        style = "bold red" if word.score < VERY_LOW else "yellow" if word.score < LOW else None
        line.append(token, style=style)
    return line


def write_confidence(
    out: TextIO, scored: Iterable[tuple[Translation, Confidence]], form: str, err: Console, flush_each: bool
) -> None:
    """Write each translation as JSON (`form` "json") or coloured text, the legend first."""
    console = make_console(file=out, highlight=False, soft_wrap=True)
    if form != "json":
        err.print(LEGEND)
    for translation, confidence in scored:
        if form == "json":
            out.write(confidence_json(translation.source, translation.text, confidence) + "\n")
        else:
            console.print(coloured(translation.text, confidence))
        if flush_each:
            out.flush()
    out.flush()
