"""sacreBLEU scores, multi-reference, line-count checks and `nmt evaluate --hyp` (no model)."""

import gzip
import json
from pathlib import Path

import pytest
import sacrebleu
from typer.testing import CliRunner

from nmt_cli.cli.app import app
from nmt_cli.errors import NMTError
from nmt_cli.evaluate import parse_metrics, read_aligned, score

HYPS = ["the cat sat on the mat", "a dog runs in the park", "it is raining today"]
REFS = ["the cat sat on a mat", "the dog runs in the park", "it rains today"]
REFS2 = ["a cat sat on the mat", "a dog is running in the park", "today it is raining"]


def write(path: Path, lines: list[str]) -> Path:
    text = "".join(line + "\n" for line in lines).encode("utf-8")
    path.write_bytes(gzip.compress(text) if path.suffix == ".gz" else text)
    return path


def test_scores_equal_sacrebleus_own():
    got = {s.metric: s for s in score(HYPS, [REFS], ["bleu", "chrf", "ter"])}
    assert got["bleu"].score == pytest.approx(sacrebleu.corpus_bleu(HYPS, [REFS]).score)
    assert got["chrf"].score == pytest.approx(sacrebleu.corpus_chrf(HYPS, [REFS]).score)
    assert got["ter"].score == pytest.approx(sacrebleu.corpus_ter(HYPS, [REFS]).score)
    assert got["bleu"].signature.startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|")
    assert "nc:6|nw:0" in got["chrf"].signature
    assert [s.name for s in got.values()] == ["BLEU", "chrF2", "TER"]


def test_perfect_hypotheses_score_100_100_0():
    got = {s.metric: s.score for s in score(REFS, [REFS], ["bleu", "chrf", "ter"])}
    assert got == {"bleu": pytest.approx(100.0), "chrf": pytest.approx(100.0), "ter": 0.0}


def test_bleu_details_explain_the_score():
    (bleu,) = score(HYPS, [REFS], ["bleu"])
    assert bleu.details["sys_len"] == sum(len(h.split()) for h in HYPS)
    assert len(bleu.details["precisions"]) == 4


def test_multi_reference_matches_sacrebleu_and_signature_counts_references():
    scores = score(HYPS, [REFS, REFS2], ["bleu", "chrf", "ter"])
    by_metric = {s.metric: s for s in scores}
    assert by_metric["bleu"].score == pytest.approx(sacrebleu.corpus_bleu(HYPS, [REFS, REFS2]).score)
    assert by_metric["chrf"].score == pytest.approx(sacrebleu.corpus_chrf(HYPS, [REFS, REFS2]).score)
    assert by_metric["ter"].score == pytest.approx(sacrebleu.corpus_ter(HYPS, [REFS, REFS2]).score)
    assert all(s.signature.startswith("nrefs:2|") for s in scores)
    assert by_metric["bleu"].score > score(HYPS, [REFS], ["bleu"])[0].score


def test_a_reference_equal_to_the_hypotheses_gives_bleu_100():
    (bleu,) = score(HYPS, [REFS, HYPS], ["bleu"])
    assert bleu.score == pytest.approx(100.0)


def test_line_count_mismatch_names_files_and_counts(tmp_path):
    hyp = write(tmp_path / "hyp.en", HYPS)
    ref = write(tmp_path / "ref.en.gz", REFS[:2])
    with pytest.raises(NMTError, match=r"hyp\.en has 3 lines.*ref\.en\.gz has 2 lines"):
        read_aligned([hyp, ref])


def test_a_reference_is_scored_text_even_when_it_is_the_source_file(tmp_path):
    """Invalid UTF-8 is replaced in the text to translate, refused in a reference: also when
    --ref and --src name one file (a copy was refused and the same file was not)."""
    src = tmp_path / "src.de"
    src.write_bytes("gut\nB\xe4r\n".encode("latin-1"))
    assert read_aligned([src], translate_first=True) == [["gut", "B\ufffdr"]]
    with pytest.raises(NMTError, match="line 2 is not valid UTF-8"):
        read_aligned([src, src], translate_first=True)


def test_read_aligned_reads_plain_and_gzip(tmp_path):
    texts = read_aligned([write(tmp_path / "a.txt", HYPS), write(tmp_path / "b.txt.gz", REFS)])
    assert texts == [HYPS, REFS]


def test_score_rejects_mismatched_or_empty_input():
    with pytest.raises(NMTError, match="line counts differ"):
        score(HYPS, [REFS[:1]], ["bleu"])
    with pytest.raises(NMTError, match="nothing to score"):
        score([], [[]], ["bleu"])


def test_parse_metrics_normalises_and_rejects_unknown_names():
    assert parse_metrics(" BLEU,chrF,bleu ") == ["bleu", "chrf"]
    with pytest.raises(NMTError, match="unknown metric meteor"):
        parse_metrics("bleu,meteor")


def test_cli_hyp_ref_json_gives_sacrebleu_scores(tmp_path):
    hyp = write(tmp_path / "hyp.en", HYPS)
    ref1, ref2 = write(tmp_path / "ref1.en", REFS), write(tmp_path / "ref2.en.gz", REFS2)
    args = ["evaluate", "--hyp", str(hyp), "--ref", str(ref1), "--ref", str(ref2), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["lines"] == 3 and data["refs"] == [str(ref1), str(ref2)]
    assert data["perplexity"] is None and data["model"] is None
    assert set(data["scores"]) == {"bleu", "chrf", "ter"}
    expected = sacrebleu.corpus_bleu(HYPS, [REFS, REFS2]).score
    assert data["scores"]["bleu"]["score"] == pytest.approx(expected)
    assert data["scores"]["ter"]["signature"].startswith("nrefs:2|")


def test_cli_table_lists_each_metric_with_its_signature(tmp_path):
    hyp, ref = write(tmp_path / "hyp.en", HYPS), write(tmp_path / "ref.en", REFS)
    args = ["evaluate", "--hyp", str(hyp), "--ref", str(ref), "--metrics", "bleu,chrf"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "BLEU" in result.stdout and "chrF2" in result.stdout and "TER" not in result.stdout
    assert "tok:13a" in result.stdout


def test_cli_line_count_mismatch_is_one_line_and_exit_1(tmp_path):
    hyp, ref = write(tmp_path / "hyp.en", HYPS), write(tmp_path / "ref.en", REFS[:2])
    result = CliRunner().invoke(app, ["evaluate", "--hyp", str(hyp), "--ref", str(ref)])
    assert result.exit_code == 1
    message = result.stderr.strip()
    assert "\n" not in message
    assert message.startswith("error: line counts differ")
    assert "hyp.en has 3 lines" in message and "ref.en has 2 lines" in message


def test_cli_needs_exactly_one_of_hyp_and_src(tmp_path):
    ref = write(tmp_path / "ref.en", REFS)
    result = CliRunner().invoke(app, ["evaluate", "--ref", str(ref)])
    assert result.exit_code == 1
    assert "--hyp" in result.stderr and "--src" in result.stderr


def test_source_text_with_invalid_utf8_is_translated_as_translate_reads_it(tiny_model_dir, tmp_path):
    """What `nmt translate` accepts (invalid bytes replaced), `nmt evaluate --src` accepts too;
    references and hypotheses, which are scored, must be valid UTF-8."""
    src = tmp_path / "src.de"
    src.write_bytes(b"ein hund\nein \xff mann\n")
    ref = tmp_path / "ref.en"
    ref.write_text("a dog\na man\n")
    args = ["evaluate", "-m", str(tiny_model_dir), "--src", str(src), "--ref", str(ref), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["lines"] == 2
    result = CliRunner().invoke(app, ["evaluate", "--hyp", str(ref), "--ref", str(src)])
    assert result.exit_code == 1 and "line 2 is not valid UTF-8" in result.stderr
