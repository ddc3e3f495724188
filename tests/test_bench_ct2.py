"""The CTranslate2 part of the benchmark compares each of our precisions with its counterpart."""

from benchmarks import bench_ct2


def test_each_of_our_precisions_has_its_ctranslate2_compute_type():
    assert bench_ct2.PAIRS == {"fp32": "float32", "bf16": "bfloat16", "int8": "int8"}


def test_without_the_optional_package_the_part_is_skipped_not_failed(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_ctranslate2(name, *args, **kw):
        if name == "ctranslate2" or name.startswith("ctranslate2."):
            raise ImportError("no ctranslate2")
        return real(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_ctranslate2)
    monkeypatch.delitem(__import__("sys").modules, "ctranslate2", raising=False)
    assert bench_ct2.available() is False
