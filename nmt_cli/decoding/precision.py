"""Device and numeric precision: CUDA when present, bf16 where the hardware has it, int8.

Training uses bf16 autocast: matrix products run in bfloat16 (AVX-512 BF16 on recent x86 CPUs,
tensor cores on CUDA) while weights, optimizer state, softmax and losses stay in fp32; GPUs
without bf16 use fp16 autocast with dynamic loss scaling (Micikevicius et al., 2018). Decoding
instead converts the weights of its matrix products once (`cast_for_decoding`), or quantises
them to int8 (`quantize_int8`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from nmt_cli.errors import NMTError


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA when present."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise NMTError("--device cuda was asked for, but no CUDA device is available")
    if name != "cpu" and not name.startswith("cuda"):
        raise NMTError(f"unknown device {name!r}: use auto, cpu or cuda")
    return torch.device(name)


def cpu_has_bf16() -> bool:
    """True when the CPU runs bf16 matrix products natively (AVX-512 BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(name: str, device: torch.device) -> str:
    """`auto` is bf16 where the hardware supports it natively, else fp32."""
    if name in ("bf16", "fp32"):
        return name
    if name != "auto":
        raise NMTError(f"unknown precision {name!r}: use auto, bf16 or fp32")
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_bf16() else "fp32"


def resolve_train_precision(name: str, device: torch.device) -> str:
    """As `resolve_precision`, plus fp16 for GPUs without bf16 (V100, T4), trained with a
    gradient scaler (`grad_scaler`) so small gradients do not underflow."""
    if name == "fp16":
        if device.type != "cuda":
            raise NMTError("--precision fp16 is for CUDA GPUs; on CPUs use bf16 or fp32")
        return name
    if name == "auto" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return "fp16"
    return resolve_precision(name, device)


def grad_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """Dynamic loss scaling for fp16; a pass-through (scale 1, plain step) otherwise."""
    return torch.amp.GradScaler(device.type, enabled=precision == "fp16")


@contextlib.contextmanager
def autocast(device: torch.device, precision: str) -> Iterator[None]:
    """bf16 or fp16 autocast for `precision` of that name, a no-op otherwise."""
    if precision in ("bf16", "fp16"):
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
        with torch.autocast(device_type=device.type, dtype=dtype):
            yield
    else:
        yield


def to_autocast_dtype(x: torch.Tensor) -> torch.Tensor:
    """x in autocast's low precision where autocast is on for x's device, else x itself.

    For an activation that every step of a loop multiplies (the BiLSTM decoder's encoder states
    and target embeddings): autocast caches the casts of leaf weights only, so it would cast such
    a tensor again at each step, and in backward cast and accumulate its gradient as often.
    """
    device = x.device.type
    if not x.is_floating_point() or not torch.is_autocast_enabled(device):
        return x
    return x.to(torch.get_autocast_dtype(device))


ROW_BUCKET = 32


def bf16_linear(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """x @ weight.T in bf16, with the rows padded to a multiple of ROW_BUCKET.

    oneDNN compiles and caches a kernel for every distinct shape, and beam search shrinks its
    batch row by row as sentences finish: unpadded, nearly every step is a new shape, costing
    compile time and about half a megabyte of cache each (over 100 MB per test set). Padded rows
    are zeros and are cut off again; each row's result is independent of the others.
    """
    lead, rows = x.shape[:-1], x.numel() // x.shape[-1]
    flat = x.reshape(rows, x.shape[-1]).to(torch.bfloat16)
    padded = -(-rows // ROW_BUCKET) * ROW_BUCKET
    if rows > ROW_BUCKET and padded != rows:
        flat = torch.nn.functional.pad(flat, (0, 0, 0, padded - rows))
    return torch.nn.functional.linear(flat, weight)[:rows].reshape(*lead, weight.shape[0])


class BF16Linear(torch.nn.Module):
    """A linear layer that multiplies in bf16 but takes and returns fp32.

    The weight is converted once; inputs are cast on the way in and results on the way out, so
    everything around the matrix product (softmaxes, norms, tanh, beam scores) stays fp32, which
    on CPUs is also faster than bf16 for such elementwise work.
    """

    def __init__(self, linear: torch.nn.Linear) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(linear.weight.detach().to(torch.bfloat16), requires_grad=False)
        bias = linear.bias.detach().float() if linear.bias is not None else None
        self.bias = torch.nn.Parameter(bias, requires_grad=False) if bias is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = bf16_linear(x, self.weight).float()
        return y.add_(self.bias) if self.bias is not None else y


class BF16LSTMCell(torch.nn.Module):
    """An LSTM cell whose gate product runs in bf16 ([x; h] times both weight matrices at once)
    and whose gates and states stay fp32."""

    def __init__(self, cell: torch.nn.LSTMCell) -> None:
        super().__init__()
        weight = torch.cat([cell.weight_ih, cell.weight_hh], dim=1).detach().to(torch.bfloat16)
        self.weight = torch.nn.Parameter(weight, requires_grad=False)
        self.bias = torch.nn.Parameter((cell.bias_ih + cell.bias_hh).detach().float(), requires_grad=False)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = state
        gates = bf16_linear(torch.cat([x, h], dim=1), self.weight).float().add_(self.bias)
        i, f, g, o = gates.chunk(4, dim=1)  # PyTorch's gate order
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


def cast_for_decoding(model: torch.nn.Module, precision: str) -> torch.nn.Module:
    """For `precision == "bf16"`, swap linear layers and LSTM cells for their bf16 versions.

    These are the decoder's per-step matrix products, which bf16 speeds up several times on CPUs
    with AVX-512 BF16. Autocast would instead re-cast every weight at every step, and storing the
    whole model in bf16 would slow the elementwise work. A linear layer with one output (additive
    attention's v, read as a weight vector) and the encoder's LSTM, run once per sentence, stay.
    """
    if precision != "bf16":
        return model
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.Linear) and child.out_features > 1:
                setattr(parent, name, BF16Linear(child))
            elif isinstance(child, torch.nn.LSTMCell):
                setattr(parent, name, BF16LSTMCell(child))
    return model


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 quantisation of linear layers and LSTM cells, for CPU inference.

    Weights are stored in int8 and activations quantised on the fly per batch (VNNI kernels on
    recent x86 CPUs); embeddings, attention softmax and layer norms stay in fp32. A linear layer
    with a single output (additive attention's v) is a dot product that attention reads as a
    plain weight vector, so it stays as it is.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its future move
        from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic

        spec = {
            name: default_dynamic_qconfig
            for name, m in model.named_modules()
            if isinstance(m, torch.nn.LSTMCell) or (isinstance(m, torch.nn.Linear) and m.out_features > 1)
        }
        return quantize_dynamic(model, spec, dtype=torch.qint8)
