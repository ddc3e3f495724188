"""The benchmark's tables as text: the ratios and units each figure is reported in."""

from benchmarks import bench_figures


def test_ct2_rows_give_ours_over_ctranslate2_for_the_matching_precision_only():
    def figure(engine, precision, seconds):
        return {"engine": engine, "precision": precision, "search": "beam 5", "seconds": seconds}

    figures = [figure("nmt", "int8", 3.0), figure("ctranslate2", "int8", 2.0), figure("nmt", "fp32", 1.0)]
    figures = [f | {"tokens_per_s": 1234.0, "bleu": 30.0} for f in figures]
    table = bench_figures.ct2({"src": "t.de", "threads": 2, "runs": 3, "figures": figures})
    assert [row[-2] for row in table.rows] == ["1.50x", "", ""]  # no float32 figure to compare fp32 with
    assert [row[-1] for row in table.rows] == ["1.50x", "", "0.50x"]  # every one of ours against CT2 int8
    assert table.rows[0][4] == "1,234" and table.text == ("engine", "precision", "search")


def test_ddp_rows_hold_both_layouts_and_the_speedup():
    runs = {"transformer": {"1x2": 5000.0, "2x1": 6100.0, "speedup": 1.22}}
    table = bench_figures.ddp({"cores": 2, "steps": 30, "batch_tokens": 4096, "runs": runs})
    assert table.rows == (("transformer", "5,000", "6,100", "x1.22"),)
    assert "4096 tokens per update" in (table.caption or "")
