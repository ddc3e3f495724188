"""The heatmap's layout: column blocks that fit the width, labels clipped with an ellipsis,
colours that grow with the weight."""

from nmt_cli.alignment.heatmap import SRC_LABEL_MAX, TGT_LABEL_MAX, clip, column_blocks, heat, layout


def test_column_blocks_fit_the_room_and_keep_every_column_once_in_order():
    widths = [3, 5, 12, 3, 3, 7]
    blocks = column_blocks(widths, 20)
    assert [list(b) for b in blocks] == [[0, 1], [2], [3, 4], [5]]
    assert all(sum(widths[j] + 3 for j in b) <= 20 for b in blocks)
    assert column_blocks([30], 10) == [range(0, 1)]  # too wide still gets a block of its own
    assert column_blocks([], 10) == []


def test_clip_keeps_short_labels_and_ends_long_ones_with_an_ellipsis():
    assert clip("Haus", 4) == "Haus"
    assert clip("Donaudampfschiff", 6) == "Donau…"
    assert clip("ab", 0) == "…"


def test_heat_is_dim_below_five_percent_then_brighter_with_the_weight():
    assert heat(0.049) == "dim"
    assert heat(0.05).startswith("bright_white on rgb(")
    assert heat(1.0) == "bright_white on rgb(37,99,235)"
    blue = [int(heat(w).split(",")[-1].rstrip(")")) for w in (0.1, 0.5, 0.9)]
    assert blue == sorted(blue)


def test_layout_bounds_labels_and_columns_and_fits_the_width():
    src = ["kurz", "x" * 40] + [f"w{j}" for j in range(30)]
    tgt = ["a" * 60, "b"]
    cells = layout(src, tgt, 80)
    assert cells.label_width == TGT_LABEL_MAX  # a third of 80 would allow 26
    assert cells.widths[:2] == [4, SRC_LABEL_MAX] and min(cells.widths) == 3
    for block in cells.blocks:
        assert cells.label_width + 2 + sum(cells.widths[j] + 3 for j in block) <= 80
    assert [j for b in cells.blocks for j in b] == list(range(len(src)))
    assert layout(["a"], ["0123456789"], 12).label_width == 4  # at least 4, even on a narrow console
