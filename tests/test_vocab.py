"""The subword vocabulary of a preparation: trained once on a sample that leaves out the
held-out pairs, found again by key, and identified by content."""

import shutil

import pytest
from conftest import write_toy_corpus

from nmt_cli.config import DataConfig
from nmt_cli.data.vocab import ensure_sentencepiece, tokenizer_digest, tokenizer_in
from nmt_cli.errors import NMTError


def no_progress(stage, done, total):
    pass


@pytest.fixture
def corpus(tmp_path):
    prefix = tmp_path / "corpus" / "train"
    write_toy_corpus(prefix, 400, seed=2)
    return str(prefix)


def config(prefix, **kw):
    return DataConfig(**{"train": prefix, "src_lang": "de", "tgt_lang": "en", "vocab_size": 40, **kw})


def test_sentencepiece_is_trained_once_on_a_bounded_sample_without_held_out_pairs(corpus, tmp_path):
    seconds: dict[str, float] = {}
    cfg = config(corpus, spm_sample=100, valid_holdout=30)
    entry = ensure_sentencepiece(cfg, tmp_path / "data", 1, seconds, no_progress)
    assert not entry.reused and entry.meta["first_corpus_pairs"] == 400
    assert entry.meta["sample_pairs"] <= 100 and set(seconds) == {"read+sample", "sentencepiece"}
    tok = tokenizer_in(entry.path, joint=True)
    assert tok.src is tok.tgt and tok.decode_tgt(tok.encode_tgt(["a dog runs"])) == ["a dog runs"]
    again = ensure_sentencepiece(cfg, tmp_path / "data", 1, {}, no_progress)
    assert again.reused and again.path == entry.path
    other = ensure_sentencepiece(config(corpus, spm_sample=100), tmp_path / "data", 2, {}, no_progress)
    assert not other.reused  # another seed is another sample


def test_separate_vocabularies_give_two_models_and_a_digest_of_each(corpus, tmp_path):
    entry = ensure_sentencepiece(config(corpus, joint_vocab=False), tmp_path / "data", 1, {}, no_progress)
    tok = tokenizer_in(entry.path, joint=False)
    assert tok.src is not tok.tgt
    digest = tokenizer_digest(entry.path, joint=False)
    assert len(digest) == 2
    copy = tmp_path / "copy"
    shutil.copytree(entry.path, copy)
    assert tokenizer_digest(copy, joint=False) == digest  # by content, not by place


def test_a_corpus_of_empty_pairs_has_nothing_to_sample(tmp_path):
    (tmp_path / "e.de").write_text("\n \n")
    (tmp_path / "e.en").write_text("a\n\n")
    with pytest.raises(NMTError, match="no usable training pairs"):
        ensure_sentencepiece(config(str(tmp_path / "e"), valid="x"), tmp_path / "data", 1, {}, no_progress)


def test_sentencepiece_models_are_identical_to_the_byte_wherever_they_are_trained(tmp_path):
    """Same corpus, same seed, two directories: SentencePiece used to embed its training file's
    path, so two runs' spm.model files differed and the runs could not be ensembled."""
    from nmt_cli.data.tokenizer import train_sentencepiece

    texts = [f"ein hund {i} läuft im park" for i in range(200)] + ["zwei frauen spielen"] * 50
    made = []
    for name in ("a", "deeper/b"):
        (tmp_path / name).mkdir(parents=True)
        train_sentencepiece(texts, tmp_path / name / "spm", 60, seed=7)
        made.append((tmp_path / name / "spm.model").read_bytes())
    assert made[0] == made[1]
    assert str(tmp_path).encode() not in made[0]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["spm.model"]  # no corpus file left


def test_a_vocabulary_size_the_corpus_cannot_fill_is_warned_about(corpus, tmp_path, caplog):
    """SentencePiece fits the size to a small corpus; the run says what it got."""
    entry = ensure_sentencepiece(config(corpus, vocab_size=5000), tmp_path / "data", 1, {}, no_progress)
    got = entry.meta["pieces"]
    assert got < 5000 and f"--vocab-size 5000: the corpus gave {got} subwords" in caplog.text
    caplog.clear()
    ensure_sentencepiece(config(corpus, vocab_size=got), tmp_path / "other", 1, {}, no_progress)
    assert "--vocab-size" not in caplog.text
