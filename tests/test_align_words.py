"""Subword pieces to words (issue #38): whatever pieces a model emits, the word indices of the
Pharaoh links, the JSON and the table refer to the words that are printed."""

import json

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nmt_cli.alignment.extract import to_alignment, to_json, to_pharaoh, word_groups, word_labels
from nmt_cli.alignment.heatmap import layout

MARK = "▁"
# A piece: the word marker alone, or optional marker + letters/punctuation (never empty).
PIECE = st.one_of(
    st.just(MARK),
    st.just(MARK + MARK),
    st.builds(
        lambda mark, body: mark + body, st.sampled_from(["", MARK]), st.text("abü,.☃", min_size=1, max_size=3)
    ),
)
PIECES = st.lists(PIECE, max_size=12)


def printed(pieces: list[str]) -> str:
    """The text a SentencePiece model decodes the pieces to (markers become spaces)."""
    return "".join(pieces).replace(MARK, " ").strip()


@settings(max_examples=300, deadline=None)
@given(PIECES)
def test_groups_are_the_printed_words_and_cover_each_piece_at_most_once(pieces):
    groups = word_groups(pieces)
    words = printed(pieces).split()
    assert ["".join(pieces[i] for i in g).replace(MARK, "") for g in groups] == words
    flat = [i for g in groups for i in g]
    assert flat == sorted(set(flat))  # in order, no piece twice
    if words:
        assert flat == list(range(len(pieces)))  # every piece's attention counts somewhere
    assert word_labels(pieces, groups, printed(pieces)) == words


@settings(max_examples=200, deadline=None)
@given(PIECES.filter(lambda p: printed(p).split()), PIECES.filter(lambda p: printed(p).split()), st.data())
def test_links_json_and_table_index_the_printed_words(src_pieces, tgt_pieces, data):
    source, target = printed(src_pieces), printed(tgt_pieces)
    seed = data.draw(st.integers(0, 1000))
    attention = torch.rand(
        len(tgt_pieces) + 1, len(src_pieces) + 1, generator=torch.Generator().manual_seed(seed)
    )
    attention = attention / attention.sum(1, keepdim=True)
    for shift, rule in ((False, "argmax"), (True, "argmax"), (False, "mutual"), (True, "mutual")):
        a = to_alignment(
            (source, target),
            (src_pieces, tgt_pieces),
            attention,
            None,
            level="word",
            threshold=None,
            shift=shift,
            rule=rule,
        )
        assert a.src_tokens == source.split() and a.tgt_tokens == target.split()
        assert len(a.weights) == len(a.tgt_tokens) and all(len(r) == len(a.src_tokens) for r in a.weights)
        linked = sorted(t for _, t in a.links)
        if rule == "argmax":
            assert linked == list(range(len(a.tgt_tokens)))  # one link per printed word
        else:
            assert linked == sorted(set(linked)) and linked  # at most one per word; the strongest cell
        for item in to_pharaoh(a.links).split():
            s, t = map(int, item.split("-"))
            assert s < len(a.src_tokens) and t < len(a.tgt_tokens)
        data_json = json.loads(to_json(a))
        assert data_json["tgt_tokens"] == target.split()
        assert all(s < len(data_json["src_tokens"]) for s, _ in data_json["links"])
        table = layout(a.src_tokens, a.tgt_tokens, 200)
        assert len(table.widths) == len(source.split())  # a column per printed source word
