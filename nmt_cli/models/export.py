"""Export a Transformer to CTranslate2 (Klein et al., 2020), the C++ engine models are deployed with.

`spec_table` maps our named parameters onto CTranslate2's TransformerSpec; a Converter subclass
fills the spec from it and CTranslate2 quantises and saves it. ctranslate2 is an optional extra,
imported only here and only when an export runs.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from nmt_cli.config import BOS_ID, EOS_ID, UNK_ID, ModelConfig
from nmt_cli.errors import NMTError
from nmt_cli.io.atomic import DIR_MODE, FILE_MODE, publish, staging_directory
from nmt_cli.io.files import os_errors_as_words
from nmt_cli.models.checkpoint import EXPORT_INFO, JOINT_SPM, load_model  # EXPORT_INFO: ours to overwrite

Quantization = Literal["int8", "int16", "float16", "bfloat16", "float32"]
INSTALL_HINT = "CTranslate2 is not installed: pip install 'nmt-cli[ctranslate2]' (or pip install ctranslate2)"


@dataclass(frozen=True)
class Export:
    out: Path
    files: list[str]  # names written into `out`
    quantization: str


def spec_table(cfg: ModelConfig) -> dict[str, list[str]]:
    """CTranslate2 spec variable -> our parameters, concatenated along rows.

    Self-attention in CTranslate2 is one fused Q|K|V projection and cross-attention a Q and a
    fused K|V one; ours keeps Q apart and K|V fused, so self-attention concatenates q_proj and
    kv_proj. Norms are LayerNorm gamma/beta; in post-norm each sublayer's norm follows its
    residual in both, and only pre-norm has the final encoder and decoder norms.
    """
    table: dict[str, list[str]] = {}

    def linear(ct2: str, *ours: str, bias: bool = True) -> None:
        table[f"{ct2}.weight"] = [f"{o}.weight" for o in ours]
        if bias:
            table[f"{ct2}.bias"] = [f"{o}.bias" for o in ours]

    def norm(ct2: str, ours: str) -> None:
        table[f"{ct2}.gamma"], table[f"{ct2}.beta"] = [f"{ours}.weight"], [f"{ours}.bias"]

    def attention(ct2: str, ours: str, residual: str, *inputs: tuple[str, ...]) -> None:
        """An attention sublayer: its input projections (each concatenating `inputs[k]`), its
        output projection, and the norm of its residual connection."""
        for k, projections in enumerate(inputs):
            linear(f"{ct2}.linear.{k}", *(f"{ours}.{p}" for p in projections))
        linear(f"{ct2}.linear.{len(inputs)}", f"{ours}.out_proj")
        norm(f"{ct2}.layer_norm", f"{residual}.norm")

    def layer(ct2: str, ours: str, cross: bool) -> None:
        """Self-attention (Q|K|V), in a decoder cross-attention (Q, then K|V), then the FFN."""
        attention(f"{ct2}.self_attention", f"{ours}.self_attn", f"{ours}.res1", ("q_proj", "kv_proj"))
        if cross:
            attention(f"{ct2}.attention", f"{ours}.cross_attn", f"{ours}.res2", ("q_proj",), ("kv_proj",))
        linear(f"{ct2}.ffn.linear_0", f"{ours}.ff.net.0")
        linear(f"{ct2}.ffn.linear_1", f"{ours}.ff.net.3")
        norm(f"{ct2}.ffn.layer_norm", f"{ours}.res{3 if cross else 2}.norm")

    table["encoder.embeddings.0.weight"] = ["src_embed.weight"]
    table["encoder.position_encodings.encodings"] = ["positions"]
    for i in range(cfg.enc_layers):
        layer(f"encoder.layer.{i}", f"encoder.{i}", cross=False)
    table["decoder.embeddings.weight"] = ["tgt_embed.weight"]
    table["decoder.position_encodings.encodings"] = ["positions"]
    for i in range(cfg.dec_layers):
        layer(f"decoder.layer.{i}", f"decoder.{i}", cross=True)
    linear("decoder.projection", "output", bias=False)
    if not cfg.post_norm:
        norm("encoder.layer_norm", "enc_norm")
        norm("decoder.layer_norm", "dec_norm")
    return table


def _set(spec: Any, path: str, value: np.ndarray) -> None:
    """Assign `value` to the spec variable at a dotted path such as `encoder.layer.0.ffn.linear_0.weight`."""
    *parents, name = path.split(".")
    for part in parents:
        spec = spec[int(part)] if part.isdigit() else getattr(spec, part)
    setattr(spec, name, value)


def build_spec(model: Any, src_vocab: list[str], tgt_vocab: list[str]) -> Any:
    """A filled TransformerSpec for our TransformerSeq2Seq `model` (in fp32)."""
    from ctranslate2.specs import TransformerSpec

    cfg: ModelConfig = model.cfg
    spec = TransformerSpec.from_config(
        (cfg.enc_layers, cfg.dec_layers),
        cfg.heads,
        pre_norm=not cfg.post_norm,
        alignment_layer=cfg.align_layer % cfg.dec_layers,
        alignment_heads=cfg.heads,  # ours averages the alignment layer's heads
    )
    # Our position table, not CTranslate2's built-in one: that is [sin | cos] concatenated and
    # starts at position 1, ours interleaves sin/cos from position 0. Embeddings are scaled by
    # √d_model in both (the spec's default). Tied weights are the same array, stored once.
    params = {name: p.detach().float().numpy() for name, p in model.state_dict().items()}
    params["positions"] = model.positions.float().numpy()
    for path, names in spec_table(cfg).items():
        parts = [params[n] for n in names]
        _set(spec, path, parts[0] if len(parts) == 1 else np.concatenate(parts))
    spec.config.layer_norm_epsilon = 1e-5  # torch's LayerNorm default; CTranslate2's is 1e-6
    spec.config.add_source_eos = True  # our encoder reads source subwords then </s>, no <s>
    spec.config.unk_token, spec.config.bos_token = tgt_vocab[UNK_ID], tgt_vocab[BOS_ID]
    spec.config.eos_token, spec.config.decoder_start_token = tgt_vocab[EOS_ID], tgt_vocab[BOS_ID]
    spec.register_source_vocabulary(src_vocab)
    spec.register_target_vocabulary(tgt_vocab)
    return spec


def check_output(out: Path) -> None:
    """Refuse an OUT that holds anything but an earlier export: never overwrite user files."""
    if out.exists() and not out.is_dir():
        raise NMTError(f"{out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / EXPORT_INFO).is_file():
        raise NMTError(
            f"{out} is not empty and holds no earlier export ({EXPORT_INFO}): choose a new directory"
        )


def _readme(info: dict[str, Any]) -> str:
    spm = info["spm"]
    return f"""# {info["src_lang"]}->{info["tgt_lang"]} Transformer for CTranslate2

Exported by nmt-cli {info["nmt_cli"]} from `{info["source_model"]}` with {info["quantization"]} weights.
The source is SentencePiece pieces ({spm["src"]}); the model appends `</s>` itself.

```python
import unicodedata

import ctranslate2
import sentencepiece as spm

src_sp = spm.SentencePieceProcessor(model_file="{spm["src"]}")
tgt_sp = spm.SentencePieceProcessor(model_file="{spm["tgt"]}")
translator = ctranslate2.Translator(".", device="cpu", intra_threads=4)

lines = ["Ein Mann fährt Fahrrad."]
pieces = src_sp.encode([" ".join(unicodedata.normalize("NFC", s).split()) for s in lines], out_type=str)
results = translator.translate_batch(pieces, beam_size=5, max_batch_size=1000, batch_type="tokens")
print(tgt_sp.decode([r.hypotheses[0] for r in results]))
```

Run it in this directory (or give the paths). `compute_type="int8"` (or `"bfloat16"`) in
`ctranslate2.Translator` converts the weights when loading. `min_decoding_length=0` lets `</s>`
come first, as in `nmt translate`, whose greedy output a float32 export then reproduces; beam
scores differ in their length normalisation (|y|^α here, GNMT's ((5 + |y|) / 6)^α in nmt).
"""


def export_ctranslate2(
    model_dir: str | Path, out: str | Path, quantization: Quantization = "float32"
) -> Export:
    """Write a CTranslate2 model directory `out`: the weights, vocabularies, SentencePiece model(s),
    a README and `nmt-export.json`. Everything is built in a temporary directory beside `out`
    and moved in at the end; an earlier export's files are replaced, nothing else is touched."""
    try:
        import ctranslate2  # noqa: F401  (the package itself first: its submodules may be cached)
        from ctranslate2.converters.converter import Converter
    except ImportError:
        raise NMTError(INSTALL_HINT) from None
    from nmt_cli import __version__

    out = Path(out)
    loaded = load_model(model_dir)
    cfg: ModelConfig = loaded.model.cfg
    if cfg.arch != "transformer":
        raise NMTError(
            f"{model_dir} is an attentional RNN, which CTranslate2 cannot express (it runs Transformers): "
            "only models trained with --arch transformer export"
        )
    check_output(out)
    tok = loaded.tokenizer
    src_vocab = [str(tok.src.id_to_piece(i)) for i in range(tok.src_vocab_size)]
    tgt_vocab = [str(tok.tgt.id_to_piece(i)) for i in range(tok.tgt_vocab_size)]

    class NMTConverter(Converter):
        def _load(self) -> Any:
            return build_spec(loaded.model, src_vocab, tgt_vocab)

    spm = loaded.config.get("spm", {"src": JOINT_SPM, "tgt": JOINT_SPM})
    info = {
        "exported_by": "nmt-cli",
        "nmt_cli": __version__,
        "format": "ctranslate2",
        "quantization": quantization,
        "source_model": str(Path(model_dir).resolve()),
        "src_lang": loaded.config.get("src_lang", "src"),
        "tgt_lang": loaded.config.get("tgt_lang", "tgt"),
        "spm": spm,
    }
    with os_errors_as_words("writing", out), staging_directory(out) as tmp:
        staged = tmp / "model"
        NMTConverter().convert(str(staged), quantization=quantization)
        for name in sorted(set(spm.values())):
            shutil.copyfile(loaded.model_dir / name, staged / name)
        (staged / "README.md").write_text(_readme(info), encoding="utf-8")
        files = sorted(p.name for p in staged.iterdir()) + [EXPORT_INFO]
        (staged / EXPORT_INFO).write_text(json.dumps({**info, "files": files}, indent=2) + "\n")
        _replace_export(staged, out, files)
    return Export(out, files, quantization)


def _replace_export(staged: Path, out: Path, files: list[str]) -> None:
    """Move the staged files into `out`, dropping files only an earlier export wrote there."""
    out.mkdir(exist_ok=True)
    old = out / EXPORT_INFO
    if old.is_file():
        try:
            previous = json.loads(old.read_text(encoding="utf-8")).get("files", [])
        except (json.JSONDecodeError, UnicodeDecodeError):
            previous = []
        for name in set(previous) - set(files):
            if isinstance(name, str) and "/" not in name and name not in ("", ".", ".."):
                (out / name).unlink(missing_ok=True)
    for name in files:
        if name != EXPORT_INFO:
            publish(staged / name, out / name, DIR_MODE if (staged / name).is_dir() else FILE_MODE)
    publish(staged / EXPORT_INFO, out / EXPORT_INFO)  # last: the directory is complete
