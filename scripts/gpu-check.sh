#!/usr/bin/env bash
# The CUDA paths, checked on a machine with one GPU in under 8 minutes:
#   1. the test suite's CUDA-marked tests (pytest -m cuda);
#   2. a few hundred training updates of both architectures on the GPU (Multi30k, small models;
#      the RNN with fp16 autocast and loss scaling, the Transformer with bf16 where the GPU has it);
#   3. torchrun --nproc-per-node 1: DistributedDataParallel over NCCL;
#   4. the GPU run resumed on the CPU;
#   5. greedy fp32 translations on the GPU equal to the CPU's, for both models.
#
# Usage: scripts/gpu-check.sh            (needs a CUDA GPU; exits 2 with a message without one)
#        scripts/gpu-check.sh --cpu      (the same steps on the CPU with tiny budgets, to check the
#                                         script itself where there is no GPU; run it niced)
# Environment: PY (default .venv/bin/python), WORK (default a new directory under /tmp),
#              MAX_DIFF (translations allowed to differ between GPU and CPU; default 0).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
NMT=("$PY" -m nmt_cli)
WORK=${WORK:-$(mktemp -d /tmp/gpu-check.XXXXXX)}
mkdir -p "$WORK"
MAX_DIFF=${MAX_DIFF:-0}
DEVICE=cuda STEPS=300 MORE=20 DDP_STEPS=100 LINES=300 THREADS=0
if [[ "${1:-}" == "--cpu" ]]; then
    DEVICE=cpu STEPS=12 MORE=4 DDP_STEPS=6 LINES=20 THREADS=1
elif [[ $# -gt 0 ]]; then
    echo "usage: $0 [--cpu]" >&2
    exit 2
fi

if ! "$PY" -c 'import torch' 2>/dev/null; then
    echo "gpu-check: cannot import torch with $PY (set PY to the project's python)" >&2
    exit 2
fi
if [[ $DEVICE == cuda ]] && ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu-check: no CUDA GPU is visible to torch (torch.cuda.is_available() is False);" \
        "run this on a machine with one, or use --cpu to check the script's steps on the CPU" >&2
    exit 2
fi

START=$SECONDS
first_lines() { { zcat "$1" || true; } | head -n "$2"; }  # zcat's SIGPIPE is no failure
step() { printf '\n== [%3ds] %s\n' $((SECONDS - START)) "$*"; }
fail() { echo "gpu-check: FAILED: $*" >&2; exit 1; }

step "device"
"$PY" - "$DEVICE" <<'PYEOF'
import sys, torch
print("torch", torch.__version__, "cuda", torch.version.cuda)
if sys.argv[1] == "cuda":
    print(torch.cuda.get_device_name(0), "bf16" if torch.cuda.is_bf16_supported() else "no bf16",
          f"{torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB")
PYEOF

step "1. CUDA-marked tests"
if [[ $DEVICE == cuda ]]; then
    timeout 240 "$PY" -m pytest -m cuda tests -q -p no:cacheprovider || fail "the CUDA-marked tests"
else
    timeout 120 "$PY" -m pytest -m cuda tests -q -p no:cacheprovider -rs | tail -3 || true  # they skip
fi

DATA=data/multi30k  # Multi30k train and val (a development set); never test_2016
TRAIN=$DATA/train VALID=$DATA/val VOCAB=4000
SRC="$WORK/dev.de"
first_lines "$DATA/val.de.gz" "$LINES" >"$SRC"
if [[ $DEVICE == cpu ]]; then  # a small slice, so that the CPU run checks the steps, quickly
    for lang in de en; do
        first_lines "$DATA/train.$lang.gz" 3000 >"$WORK/train.$lang"
        first_lines "$DATA/val.$lang.gz" 200 >"$WORK/val.$lang"
    done
    TRAIN=$WORK/train VALID=$WORK/val VOCAB=500
fi
COMMON=(--train "$TRAIN" --valid "$VALID" -s de -t en --vocab-size "$VOCAB" --spm-sample 30000
    --valid-max-sentences 100 --data-dir "$WORK/data" --threads "$THREADS" --seed 1)
RNN=(--arch rnn --embed-dim 128 --hidden-dim 256 --batch-tokens 4096)
TF=(--arch transformer --d-model 256 --heads 4 --ff-dim 1024 --layers 3 --batch-tokens 4096 --warmup-steps 100)
BF16=$("$PY" -c 'import torch; print("bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32")')
[[ $DEVICE == cpu ]] && BF16=fp32

PREC=fp16  # autocast with loss scaling
[[ $DEVICE == cpu ]] && PREC=fp32
step "2a. $STEPS updates of the RNN on $DEVICE ($PREC)"
timeout 150 "${NMT[@]}" train "${COMMON[@]}" "${RNN[@]}" -o "$WORK/rnn" --device "$DEVICE" --precision "$PREC" \
    --max-steps "$STEPS" --valid-every $((STEPS / 2)) || fail "training the RNN on $DEVICE"

step "2b. $STEPS updates of the Transformer on $DEVICE ($BF16)"
timeout 150 "${NMT[@]}" train "${COMMON[@]}" "${TF[@]}" -o "$WORK/tf" --device "$DEVICE" --precision "$BF16" \
    --max-steps "$STEPS" --valid-every $((STEPS / 2)) || fail "training the Transformer on $DEVICE"

step "3. torchrun --nproc-per-node 1 ($([[ $DEVICE == cuda ]] && echo NCCL || echo gloo))"
OMP_NUM_THREADS=1 timeout 150 "$PY" -m torch.distributed.run --standalone --nproc-per-node 1 -m nmt_cli train \
    "${COMMON[@]}" "${TF[@]}" -o "$WORK/ddp" --device "$DEVICE" --precision "$BF16" \
    --max-steps "$DDP_STEPS" --valid-every "$DDP_STEPS" || fail "torchrun with one process on $DEVICE"

step "4. the $DEVICE Transformer run resumed on the CPU for $MORE more updates"
timeout 150 "${NMT[@]}" train "${COMMON[@]}" "${TF[@]}" -o "$WORK/tf" --device cpu --precision fp32 \
    --max-steps $((STEPS + MORE)) --valid-every $((STEPS / 2)) 2>&1 | tee "$WORK/resume.log" \
    || fail "resuming the $DEVICE run on the CPU"
grep -q "step $((STEPS + MORE))\|after $((STEPS + MORE)) steps" "$WORK/resume.log" \
    || fail "the resumed run did not reach step $((STEPS + MORE))"

step "5. greedy fp32 translations: $DEVICE against the CPU ($LINES development lines)"
for model in rnn tf; do
    for dev in "$DEVICE" cpu; do
        timeout 120 "${NMT[@]}" translate -m "$WORK/$model" -i "$SRC" -o "$WORK/$model.$dev.txt" \
            --device "$dev" --precision fp32 --beam-size 1 --threads "$THREADS" || fail "translating with $model on $dev"
    done
    differ=$(paste -d '\t' "$WORK/$model.$DEVICE.txt" "$WORK/$model.cpu.txt" | awk -F'\t' '$1 != $2' | wc -l)
    echo "$model: $differ of $LINES lines differ between $DEVICE and cpu"
    [[ $(wc -l <"$WORK/$model.$DEVICE.txt") -eq $LINES ]] || fail "$model on $DEVICE gave another number of lines"
    [[ $differ -le $MAX_DIFF ]] || fail "$model: greedy fp32 on $DEVICE differs from the CPU in $differ lines (see $WORK)"
done

step "all checks passed in $((SECONDS - START)) s (work files in $WORK)"
