"""`nmt align` as one call: bad choices and contradicting options fail in one line, before any
model is loaded; a reverse model keeps only the links both directions agree on."""

from pathlib import Path

import pytest

from nmt_cli.alignment.align_files import align_files, check_choice, check_reverse
from nmt_cli.config import DecodeConfig, RuntimeConfig
from nmt_cli.errors import NMTError

NOWHERE = [Path("/nonexistent/model")]  # loading it would fail with another message


def test_a_value_outside_the_choices_names_the_option_and_the_choices():
    check_choice("--level", "word", ("word", "subword"))
    with pytest.raises(NMTError, match=r"--level must be one of word, subword, not 'chars'"):
        check_choice("--level", "chars", ("word", "subword"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"level": "chars"}, "--level must be one of"),
        ({"gold_order": "src:tgt"}, "--gold-order must be one of"),
        ({"gold": Path("g.txt"), "level": "subword"}, "--gold scores word alignments"),
    ],
)
def test_bad_options_are_refused_before_the_model_is_read(options, message):
    with pytest.raises(NMTError, match=message):
        align_files(NOWHERE, None, decode=DecodeConfig(), runtime=RuntimeConfig(), **options)


def test_missing_gold_file_is_refused_before_the_model_is_read(tmp_path):
    with pytest.raises((NMTError, OSError), match="gold|No such file|not found"):
        align_files(
            NOWHERE, None, decode=DecodeConfig(), runtime=RuntimeConfig(), gold=tmp_path / "missing.gold"
        )


def test_a_reverse_model_must_translate_the_other_way():
    de_en, en_de = {"src_lang": "de", "tgt_lang": "en"}, {"src_lang": "en", "tgt_lang": "de"}
    check_reverse(de_en, en_de, Path("models/en-de"))
    check_reverse(de_en, {}, Path("old"))  # a directory that does not name its languages
    with pytest.raises(NMTError, match=r"--reverse-model models/de-en translates de→en; .* translate en→de"):
        check_reverse(de_en, de_en, Path("models/de-en"))


def test_an_unknown_format_is_refused_before_the_model_is_read():
    from nmt_cli.alignment.align_files import AlignFiles, start_alignment

    with pytest.raises(NMTError, match=r"--format must be one of table, pharaoh, json, not 'csv'"):
        start_alignment(AlignFiles(model_dirs=NOWHERE, format="csv"))
