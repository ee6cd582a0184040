#!/usr/bin/env bash
# Decode + features over the same files, one thread each: emovox, then librosa (warmed up).
#   bash benches/compare_librosa.sh DIR_OR_FILES...   e.g. $EMOVOX_DATA/ravdess
# Needs a release build (cargo build --release) and: pip install librosa==0.11.0 soundfile
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find "$@" -name '*.wav' | sort)
echo "emovox:  $(target/release/emovox features --threads 1 --stats "${files[@]}" | tail -n 1)"
echo "librosa: $(python3 benches/librosa_timing.py "${files[@]}")"
