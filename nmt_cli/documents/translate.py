"""Translating documents with one call: plain text line by line (sentence-split, N lines in and
N out) or HTML/XML with its markup kept. The sentence translator underneath is the batched
search (`decoding.translate.translate`); it learns nothing about lines, sentences or tags.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from nmt_cli.config import DecodeConfig
from nmt_cli.documents.lines import (
    DEFAULT_MAX_TOKENS,
    SUFFIXES,
    Measure,
    Spans,
    Splitting,
    Translator,
    no_spans,
    trained_length,
    translated_parts,
)
from nmt_cli.documents.split import language_code, source_language
from nmt_cli.errors import NMTError

if TYPE_CHECKING:
    import torch

    from nmt_cli.data.tokenizer import Tokenizer
    from nmt_cli.decoding.translate import Translation
    from nmt_cli.documents.inline import Aligned, AlignedTranslator, Aligner
    from nmt_cli.models.seq2seq import Seq2Seq

SplitMode = Literal["sentences", "none"]
DocFormat = Literal["text", "html", "xml"]
SPLIT_MODES: tuple[SplitMode, ...] = ("sentences", "none")
FORMATS: tuple[DocFormat, ...] = ("text", "html", "xml")
UNSPLIT_LIMIT = 10**9  # with --split none a line goes to the search whole, as it always did


@dataclass(frozen=True)
class DocumentConfig:
    """How a document becomes sentences: split them or not, the markup, the source language
    (sentence rules; see split.language_code) and the longest unit the model was trained on."""

    split: SplitMode = "sentences"
    format: DocFormat = "text"
    lang: str = "en"
    max_tokens: int = DEFAULT_MAX_TOKENS
    whole: Spans = field(default=no_spans, compare=False)  # see `with_terms`

    @property
    def splitting(self) -> Splitting:
        if self.split == "none":
            return Splitting(None, UNSPLIT_LIMIT)
        return Splitting(language_code(self.lang), self.max_tokens, self.whole)

    def with_terms(self, decode: DecodeConfig) -> DocumentConfig:
        """This config with the spans `decode` enforces (glossary terms, protected spans such as
        URLs) as spans an over-long sentence is never cut inside."""
        from nmt_cli.decoding.terms import TermFinder

        finder = TermFinder.build(decode.glossary, decode.keep, decode.protect)
        if finder is None:
            return self
        return replace(self, whole=lambda text: [(s, e) for s, e, _ in finder.found(text)])


def document_config(
    model_config: dict[str, Any],
    split: str | None = None,
    format: str = "text",
    nbest: int = 1,
    path: Path | None = None,
) -> DocumentConfig:
    """A DocumentConfig for a model directory's config.json (its source language and trained
    length). `split` None means sentences, or none for n-best lists (which are per line);
    format "auto" picks html or xml by `path`'s extension, else text. Bad choices: one line."""
    from nmt_cli.decoding.search import MAX_SRC_TOKENS

    split = split or ("none" if nbest > 1 else "sentences")
    if split not in SPLIT_MODES:
        raise NMTError(f"--split must be one of {', '.join(SPLIT_MODES)}, not {split!r}")
    if format == "auto":
        suffix = path.suffix.lower() if path is not None else ""
        format = SUFFIXES.get(suffix, "text")
    if format not in FORMATS:
        raise NMTError(f"--format must be one of {', '.join(FORMATS)}, auto or json, not {format!r}")
    if nbest > 1 and (split != "none" or format != "text"):
        raise NMTError("--nbest lists are per input line: use them with --split none and --format text")
    limit = trained_length(model_config, MAX_SRC_TOKENS)
    return DocumentConfig(split, format, source_language(model_config), limit)


def search_translator(
    model: Seq2Seq, tokenizer: Tokenizer, decode: DecodeConfig, device: torch.device | None = None
) -> Translator:
    """Sentences -> best translations by the batched search; one sampler for all calls."""
    from nmt_cli.decoding.search import make_sampler
    from nmt_cli.decoding.translate import translate

    device = device or next(model.parameters()).device  # type: ignore[attr-defined]
    sampler = make_sampler(decode, device)

    def run(sentences: Sequence[str]) -> list[str]:
        return [
            t.text for t in translate(model, tokenizer, sentences, decode, device=device, sampler=sampler)
        ]

    return run


def subword_measure(tokenizer: Tokenizer) -> Measure:
    """Texts -> their source subword counts, as the search will see them."""
    return lambda texts: [len(ids) for ids in tokenizer.encode_src(list(texts))]


def attention_translator(model: Seq2Seq, tokenizer: Tokenizer, decode: DecodeConfig) -> AlignedTranslator:
    """Sources -> (best translation, its word links) from the search's own attention, as `nmt
    align` reads it (`align_pairs`); markup placement uses the links. Keeping the attention
    costs less than force-decoding the translations afterwards."""
    from nmt_cli.alignment.extract import align_pairs

    cfg = replace(decode, nbest=1)

    def run(sources: Sequence[str]) -> list[tuple[str, Aligned]]:
        pairs = align_pairs(model, tokenizer, sources, None, cfg)
        return [(a.target, (len(a.src_tokens), len(a.tgt_tokens), list(a.links))) for a in pairs]

    return run


def translate_text_lines(
    lines: Iterable[str], translator: Translator, measure: Measure, cfg: DocumentConfig, window: int = 1000
) -> Iterator[tuple[str, str, list[tuple[str, str]]]]:
    """(line, its translation, the (sentence, translation) pairs it joins) for each line, a
    window of lines at a time (bounded memory)."""
    from nmt_cli.io.lines import windows

    for chunk in windows(lines, window):
        done = translated_parts(chunk, translator, cfg.splitting, measure)
        yield from ((line, text, parts) for line, (text, parts) in zip(chunk, done, strict=True))


def translate_with(
    text: str,
    cfg: DocumentConfig,
    translator: Translator,
    measure: Measure,
    aligner: Aligner | None = None,
    aligned: AlignedTranslator | None = None,
) -> str:
    """`translate_document` with the translator given, and for markup an `aligned` translator
    or an `aligner` of the translator's output: what the tests drive with fakes."""
    if cfg.format == "text":
        lines = text.split("\n")
        ends = ["\r" if line.endswith("\r") else "" for line in lines]
        out = translate_text_lines(lines, translator, measure, cfg)
        return "\n".join(t + end for (_, t, _), end in zip(out, ends, strict=True))
    from nmt_cli.documents.document import translate_markup
    from nmt_cli.documents.inline import aligned_translator

    if aligned is None and aligner is not None:
        aligned = aligned_translator(translator, aligner)
    return translate_markup(text, cfg, translator, measure, aligned)


def translate_document(
    model: Seq2Seq,
    tokenizer: Tokenizer,
    text: str,
    cfg: DocumentConfig | None = None,
    decode: DecodeConfig | None = None,
) -> str:
    """Translate a document: plain text (as many lines out as in, each sentence translated,
    the spacing kept), or HTML/XML (tags, comments and untranslatable elements kept, inline
    tags put back around the words they enclosed). Build `cfg` with `document_config`."""
    decode = decode or DecodeConfig()
    cfg = (cfg or DocumentConfig()).with_terms(decode)
    translator = search_translator(model, tokenizer, decode)
    measure = subword_measure(tokenizer)
    aligned = attention_translator(model, tokenizer, decode) if cfg.format != "text" else None
    return translate_with(text, cfg, translator, measure, aligned=aligned)


def translate_input(
    model: Seq2Seq,
    tokenizer: Tokenizer,
    lines: Iterable[str],
    cfg: DocumentConfig,
    decode: DecodeConfig,
    window: int = 1000,
) -> Iterator[Translation]:
    """What `nmt translate` prints: one Translation per input line for text (exactly the old
    per-line search with --split none), or for markup one whose text is the whole document
    (`lines` then with their line ends, as `input_lines(keep_ends=True)` gives them)."""
    from nmt_cli.decoding.translate import Translation, translate_stream

    if cfg.format == "text" and cfg.split == "none":
        yield from translate_stream(model, tokenizer, lines, decode, window)
        return
    cfg = cfg.with_terms(decode)
    if cfg.format == "text":
        translator, measure = search_translator(model, tokenizer, decode), subword_measure(tokenizer)
        for line, text, parts in translate_text_lines(lines, translator, measure, cfg, window):
            yield Translation(line, [], [], text, parts=parts)
        return
    document = "".join(lines)  # for markup, the lines come with their ends
    yield Translation(document, [], [], translate_document(model, tokenizer, document, cfg, decode))
