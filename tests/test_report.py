"""What training reports: the summary it starts with, validations in the log, train.log.jsonl
lines, and silence in every process but the first."""

import json
import logging
from types import SimpleNamespace

from nmt_cli.training import distributed
from nmt_cli.training.report import LogReporter, SilentReporter, Validation, log_event, start_info
from nmt_cli.training.rundir import LOG


def test_start_info_sums_what_preparation_skipped_and_dropped_over_the_corpora():
    corpora = [
        SimpleNamespace(skipped_empty=2, dropped_long=1),
        SimpleNamespace(skipped_empty=3, dropped_long=0),
    ]
    data = SimpleNamespace(
        train=range(900), valid=range(50), corpora=corpora, valid_source="50 pairs held out"
    )
    info = start_info(
        "transformer", 1234, vocab_size=8000, device="cpu", precision="bf16", data=data, resumed_at_step=None
    )  # type: ignore[arg-type]
    assert (info["train_pairs"], info["valid_pairs"]) == (900, 50)
    assert (info["skipped_empty"], info["dropped_long"]) == (5, 1)
    assert info["prepared"] is data and info["resumed_at_step"] is None and info["processes"] == 1
    assert list(info)[:4] == ["arch", "parameters", "device", "precision"]  # the order LogReporter logs


def test_log_reporter_logs_validations_and_marks_the_best(caplog):
    with caplog.at_level(logging.INFO, logger="nmt_cli"):
        LogReporter().validation(Validation(100, 0, 2.5, 12.2, 10.0, 1e-3, 60.0, True))
        LogReporter().validation(Validation(200, 0, 2.4, 11.0, 9.5, 1e-3, 90.0, False))
    assert caplog.messages == [
        "step 100: valid loss 2.500, BLEU 10.00 (best)",
        "step 200: valid loss 2.400, BLEU 9.50",
    ]


def test_silent_reporter_says_nothing(caplog):
    with caplog.at_level(logging.INFO, logger="nmt_cli"):
        SilentReporter().start({"arch": "rnn"})
        SilentReporter().validation(Validation(100, 0, 2.5, 12.2, 10.0, 1e-3, 60.0, True))
    assert caplog.messages == []


def test_log_event_appends_one_json_line_in_process_0_only(tmp_path, monkeypatch):
    log_event(tmp_path, {"event": "step", "step": 1})
    log_event(tmp_path, {"event": "valid", "step": 2})
    monkeypatch.setattr(distributed, "is_main", lambda: False)
    log_event(tmp_path, {"event": "step", "step": 3})
    lines = (tmp_path / LOG).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        {"event": "step", "step": 1},
        {"event": "valid", "step": 2},
    ]
