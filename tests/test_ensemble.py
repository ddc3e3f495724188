"""Ensembles: one more Seq2Seq, so every search and alignment drives it unchanged."""

import random
import shutil

import pytest
import torch
from toy import exact_match, src_batch
from typer.testing import CliRunner

from nmt_cli.alignment.extract import align_pairs
from nmt_cli.cli.app import app
from nmt_cli.config import DecodeConfig
from nmt_cli.data.tokenizer import train_sentencepiece
from nmt_cli.decoding.beam import beam_search
from nmt_cli.decoding.greedy import greedy
from nmt_cli.errors import NMTError
from nmt_cli.models.checkpoint import load_model
from nmt_cli.models.ensemble import Ensemble, combine

runner = CliRunner()


def decode(model, pairs, beam: int):
    src, mask = src_batch(pairs)
    cfg = DecodeConfig(beam_size=beam, nbest=beam, keep_attention=True)
    with torch.inference_mode():
        if beam == 1:
            return [[h] for h in greedy(model, src, mask, cfg)]
        return beam_search(model, src, mask, cfg)


def assert_same(a, b):
    for ha, hb in zip(a, b):
        assert [h.tokens for h in ha] == [h.tokens for h in hb]
        assert torch.allclose(
            torch.tensor([h.score for h in ha]), torch.tensor([h.score for h in hb]), atol=1e-4
        )
        for x, y in zip(ha, hb):
            assert torch.allclose(x.attention, y.attention, atol=1e-5)


@pytest.mark.parametrize("beam", [1, 4])
def test_an_ensemble_of_one_model_equals_that_model(trained, beam):
    model, pairs = trained
    assert_same(decode(Ensemble([model]), pairs[:40], beam), decode(model, pairs[:40], beam))


@pytest.mark.parametrize("beam", [1, 4])
def test_an_ensemble_of_two_identical_models_equals_one(trained, beam):
    model, pairs = trained
    assert_same(decode(Ensemble([model, model]), pairs[:40], beam), decode(model, pairs[:40], beam))


def test_rnn_and_transformer_ensemble_decodes_and_aligns(rnn_reverse, transformer_reverse):
    (rnn, pairs), (tf, _) = rnn_reverse, transformer_reverse
    both = Ensemble([rnn, tf])
    for beam in (1, 4):
        hyps = decode(both, pairs, beam)
        assert exact_match([h[0].tokens for h in hyps], pairs) >= 0.9  # both members reverse
        for h in hyps:
            assert torch.allclose(h[0].attention.sum(-1), torch.ones(len(h[0].tokens) + 1), atol=1e-4)
    # its distribution is the renormalised mean of the members' log-probabilities
    src, mask = src_batch(pairs[:8])
    tgt_in = torch.tensor([[2] + p[1] for p in pairs[:8] if len(p[1]) == len(pairs[0][1])])
    src, mask = src[: len(tgt_in)], mask[: len(tgt_in)]
    with torch.inference_mode():
        logp, attention = both(src, mask, tgt_in, True)
        members = [torch.log_softmax(m(src, mask, tgt_in)[0], -1) for m in (rnn, tf)]
    assert torch.allclose(torch.log_softmax(logp, -1), torch.log_softmax(sum(members) / 2, -1), atol=1e-5)
    assert attention.shape == (*tgt_in.shape, src.size(1))


def test_ensemble_alignments_through_align_pairs(toy_model_dir):
    one = load_model(toy_model_dir)
    two = combine([one, load_model(toy_model_dir)])
    lines = ["ein hund läuft", "der mann schläft im park"]
    a, b = align_pairs(one.model, one.tokenizer, lines), align_pairs(two.model, two.tokenizer, lines)
    assert [x.links for x in a] == [x.links for x in b]
    assert [x.target for x in a] == [x.target for x in b]


def test_cli_ensemble_of_a_model_with_itself_translates_as_the_model(toy_model_dir):
    text = "ein hund läuft\nder mann schläft im park\nklein katze\n"
    one = runner.invoke(app, ["translate", "-m", str(toy_model_dir), "--threads", "1"], input=text)
    two = runner.invoke(
        app, ["translate", "-m", str(toy_model_dir), "-m", str(toy_model_dir), "--threads", "1"], input=text
    )
    assert one.exit_code == 0 and two.exit_code == 0, two.output
    assert one.stdout == two.stdout


def test_models_with_different_vocabularies_are_refused(toy_model_dir, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(toy_model_dir, other)
    rng = random.Random(0)  # enough distinct text for a vocabulary as large as the model's (40)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyzäöüß") for _ in range(6)) for _ in range(300)]
    lines = [" ".join(rng.sample(words, 8)) for _ in range(300)]
    assert train_sentencepiece(lines, other / "spm", 40) == 40
    weights = torch.load(other / "model.pt", weights_only=True)
    del weights["vocab"]  # as weights saved before they recorded their vocabulary: loads alone
    torch.save(weights, other / "model.pt")
    with pytest.raises(NMTError, match="SentencePiece models differ"):
        combine([load_model(toy_model_dir), load_model(other)])
    result = runner.invoke(app, ["translate", "-m", str(toy_model_dir), "-m", str(other)], input="ein hund\n")
    assert result.exit_code == 1
    assert "SentencePiece models differ" in result.output and "Traceback" not in result.output


def test_cli_evaluate_scores_an_ensemble_of_a_model_with_itself_as_the_model(toy_model_dir, tmp_path):
    import json

    src, ref = tmp_path / "src.txt", tmp_path / "ref.txt"
    src.write_text("ein hund läuft\nder mann schläft im park\nklein katze\n")
    ref.write_text("a dog runs\nthe man sleeps in the park\nsmall cat\n")
    args = ["evaluate", "--src", str(src), "--ref", str(ref), "--json", "--threads", "1"]
    one = runner.invoke(app, [*args, "-m", str(toy_model_dir)])
    two = runner.invoke(app, [*args, "-m", str(toy_model_dir), "-m", str(toy_model_dir)])
    assert one.exit_code == 0 and two.exit_code == 0, two.output
    a, b = json.loads(one.stdout), json.loads(two.stdout)
    assert {m: s["score"] for m, s in a["scores"].items()} == {m: s["score"] for m, s in b["scores"].items()}
    assert a["perplexity"]["ppl"] == pytest.approx(b["perplexity"]["ppl"], rel=1e-4)
    assert b["model"] == f"{toy_model_dir} + {toy_model_dir}"


def test_a_run_with_vocab_from_shares_the_vocabulary_and_ensembles(tiny_corpus, tiny_model_dir, tmp_path):
    from conftest import TINY_TRAIN_ARGS, train_args

    out = tmp_path / "second"
    options = list(TINY_TRAIN_ARGS)
    i = options.index("--vocab-size")
    del options[i : i + 2]  # the vocabulary comes from --vocab-from
    args = train_args(tiny_corpus, out, "--max-steps", "5", "--seed", "7", *options)
    refused = runner.invoke(app, [*args, "--vocab-from", str(tiny_model_dir), "--vocab-size", "40"])
    assert refused.exit_code == 1 and "come from --vocab-from DIR" in refused.output
    result = runner.invoke(app, [*args, "--vocab-from", str(tiny_model_dir)])
    assert result.exit_code == 0, result.output
    assert (out / "spm.model").read_bytes() == (tiny_model_dir / "spm.model").read_bytes()
    first, second = load_model(tiny_model_dir), load_model(out)
    assert not torch.equal(  # trained on its own: another seed, another model
        first.model.state_dict()["output.weight"], second.model.state_dict()["output.weight"]
    )
    assert isinstance(combine([first, second]).model, Ensemble)


def test_cli_align_with_an_ensemble_of_a_model_with_itself_aligns_as_the_model(toy_model_dir):
    text = "ein hund läuft ||| a dog runs\nder mann schläft im park ||| the man sleeps in the park\n"
    args = ["align", "--format", "pharaoh", "--threads", "1"]
    one = runner.invoke(app, [*args, "-m", str(toy_model_dir)], input=text)
    two = runner.invoke(app, [*args, "-m", str(toy_model_dir), "-m", str(toy_model_dir)], input=text)
    assert one.exit_code == 0 and two.exit_code == 0, two.output
    assert one.stdout == two.stdout and len(one.stdout.splitlines()) == 2


def test_an_ensemble_gives_no_features_to_train_on(trained):
    model, pairs = trained
    src, mask = src_batch(pairs[:2])
    with pytest.raises(ValueError, match="no single output layer"):
        Ensemble([model, model])(src, mask, src, project=False)
