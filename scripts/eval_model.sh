#!/usr/bin/env bash
# Score a model on Multi30k test_2016 and the three development sets of the general models,
# greedy and beam 5: one JSON line per (set, search), appended to OUT (default: stdout).
#   scripts/eval_model.sh MODEL_DIR SRC TGT [OUT] [EXTRA nmt evaluate OPTIONS...]
set -euo pipefail
model=$1 src=$2 tgt=$3 out=${4:-/dev/stdout}
shift $(( $# < 4 ? $# : 4 ))
nmt=${NMT:-.venv/bin/nmt}
for set in multi30k/test_2016_flickr multi30k/val tatoeba/dev newstest/newstest2013; do
  for k in 1 5; do
    line=$("$nmt" evaluate -m "$model" --src "data/$set.$src.gz" --ref "data/$set.$tgt.gz" \
      --metrics bleu,chrf --json -k "$k" "$@")
    echo "{\"model\": \"$model\", \"set\": \"$set\", \"beam\": $k, \"scores\": $line}" >> "$out"
  done
done
