"""`nmt prepare`: the corpus options it shares with `nmt train`, and the one library call each
run makes."""

from __future__ import annotations

from nmt_cli.cli import options as opt
from nmt_cli.cli import train_options as topt
from nmt_cli.cli.console import err, run
from nmt_cli.config import DataConfig, TrainConfig


def prepare(
    train: topt.TrainPrefixes,
    src_lang: topt.SrcLang,
    tgt_lang: topt.TgtLang,
    output: topt.PrepareOutput = None,
    data_dir: topt.DataDir = None,
    valid: topt.ValidPrefix = None,
    vocab_size: topt.VocabSize = DataConfig.vocab_size,
    joint_vocab: topt.JointVocab = DataConfig.joint_vocab,
    max_len: topt.MaxLen = DataConfig.max_len,
    spm_sample: topt.SpmSample = DataConfig.spm_sample,
    valid_max_sentences: topt.ValidMaxSentences = DataConfig.valid_max_sentences,
    seed: topt.PrepareSeed = TrainConfig.seed,
    threads: opt.Threads = TrainConfig.threads,
    debug: opt.Debug = False,
) -> None:
    """Prepare corpora for training, once: SentencePiece, subword ids in memory-mapped shards.

    `nmt train` with the same data options (and OUTPUT or --data-dir) then starts without
    reading the text again.
    """

    def action() -> None:
        from nmt_cli.cli.formats import preparation_line
        from nmt_cli.cli.render import PrepareProgress, prepare_table
        from nmt_cli.data.prepare import prepare_data
        from nmt_cli.training.rundir import prepared_dir

        directory = prepared_dir(output, data_dir)
        cfg = DataConfig(
            train=tuple(train), src_lang=src_lang, tgt_lang=tgt_lang, valid=valid, vocab_size=vocab_size,
            joint_vocab=joint_vocab, max_len=max_len, spm_sample=spm_sample,
            valid_max_sentences=valid_max_sentences,
        )  # fmt: skip
        with PrepareProgress(err) as progress:
            prepared = prepare_data(cfg, directory, seed, threads, on_progress=progress)
        err.print(prepare_table(prepared))
        err.print(preparation_line(prepared, directory))

    run(debug, action)
