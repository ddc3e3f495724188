"""Gold alignments and AER: the Pharaoh notation read back, sure and possible links, file and
line in errors, and AER, precision and recall as Och & Ney define them."""

import pytest

from nmt_cli.alignment.aer import GoldLinks, alignment_error, parse_gold, read_gold
from nmt_cli.alignment.extract import to_pharaoh
from nmt_cli.errors import NMTError


def test_pharaoh_round_trips_through_the_gold_reader(tmp_path):
    links = {(0, 1), (2, 0), (1, 1), (10, 3)}
    line = to_pharaoh(links)
    assert line == "0-1 1-1 2-0 10-3"
    path = tmp_path / "gold.txt"
    path.write_text(line + "\n\n")
    gold = read_gold(path)
    assert gold[0] == GoldLinks(links, links) and gold[1] == GoldLinks(set(), set())


def test_gold_reader_accepts_possible_links_and_either_order():
    gold = parse_gold("0-0 1?2 3-4-P 5-6-S")
    assert gold.sure == {(0, 0), (5, 6)}
    assert gold.possible == {(0, 0), (1, 2), (3, 4), (5, 6)}
    assert parse_gold("1-2 3?4", order="tgt-src") == GoldLinks({(2, 1)}, {(2, 1), (4, 3)})
    with pytest.raises(ValueError):
        parse_gold("1:2")


def test_bad_gold_line_names_the_file_and_line(tmp_path):
    path = tmp_path / "gold.txt"
    path.write_text("0-0\n0-x\n")
    with pytest.raises(NMTError, match="line 2"):
        read_gold(path)


def test_aer_equals_a_hand_computation():
    # S = {0-0, 1-1}, P = S + {1-2}; A = {0-0, 1-2, 2-2}
    # |A∩S| = 1, |A∩P| = 2: AER = 1 - 3/5, precision 2/3, recall 1/2
    scores = alignment_error([{(0, 0), (1, 2), (2, 2)}], [parse_gold("0-0 1-1 1?2")])
    assert scores.aer == pytest.approx(0.4)
    assert scores.precision == pytest.approx(2 / 3)
    assert scores.recall == pytest.approx(0.5)
    assert (scores.links, scores.sure, scores.possible) == (3, 2, 3)
    assert alignment_error([{(0, 0), (1, 1)}], [parse_gold("0-0 1-1")]).aer == 0.0


def test_aer_needs_one_gold_line_per_sentence():
    with pytest.raises(NMTError):
        alignment_error([set(), set()], [parse_gold("")])


def test_aer_sums_counts_over_the_corpus_rather_than_averaging_sentences():
    gold = [parse_gold("0-0"), parse_gold("0-0 1-1 2-2 3-3")]
    scores = alignment_error([{(0, 0)}, {(0, 0)}], gold)
    assert scores.recall == pytest.approx(2 / 5)  # not the mean of 1 and 1/4
    assert (scores.sentences, scores.links, scores.sure) == (2, 2, 5)
    empty = alignment_error([set()], [parse_gold("")])
    assert (empty.aer, empty.precision, empty.recall) == (0.0, 0.0, 0.0)
