#!/usr/bin/env bash
# 5-fold cross-validation by actor over RAVDESS actors 01–20: for each fold, train the
# shipped recipe on the other 16 actors, validate on these 4, and print the fold's
# validation scores from its model card; then the mean and standard deviation of
# macro-F1. About 10 minutes a fold on the 2-core machine.
#
#   bash benches/cross_validate.sh DATA_DIR [FOLD...]     (FOLD: 1-4 5-8 9-12 13-16 17-20)
set -euo pipefail
data=${1:?usage: cross_validate.sh DATA_DIR [FOLD...]}
shift
folds=("$@")
[ ${#folds[@]} -gt 0 ] || folds=(1-4 5-8 9-12 13-16 17-20)
out=${CV_OUT:-target/cross-validation}
mkdir -p "$out"
cargo build --release --quiet
for fold in "${folds[@]}"; do
    dir=$out/actors-$fold
    if [ ! -f "$dir/emovox.json" ]; then
        target/release/emovox train --data "$data" --val-actors "$fold" --epochs 30 --seed 1 \
            --out "$dir" 2> "$dir.log" || { echo "fold $fold failed: see $dir.log"; exit 1; }
    fi
done
python3 - "$out" "${folds[@]}" <<'PY'
import json, statistics, sys
out, folds = sys.argv[1], sys.argv[2:]
f1s = []
for fold in folds:
    card = json.load(open(f"{out}/actors-{fold}/emovox.json"))
    v = card["validation"]
    f1s.append(v["macro_f1"])
    print(f"actors {fold:>5}: accuracy {v['accuracy']:.3f}  macro-F1 {v['macro_f1']:.3f}  "
          f"({v['files']} files, epochs {card['training']['epochs']}, "
          f"{card['training']['seconds'] / 60:.1f} min)")
if len(f1s) > 1:
    print(f"macro-F1 mean {statistics.mean(f1s):.3f} ± {statistics.stdev(f1s):.3f} (sd) over {len(f1s)} folds")
PY
