#!/usr/bin/env bash
# Decode + features over the same files, one thread each: emovox, then librosa (warmed up).
#   bash benches/compare_librosa.sh DIR_OR_FILES...   e.g. $EMOVOX_DATA/ravdess
# Needs a release build (cargo build --release) and: pip install librosa==0.11.0 soundfile
set -euo pipefail
cd "$(dirname "$0")/.."
# Besides each side's wall time over its timed loop, cpu_s is the CPU time it used (user +
# system): on a shared machine other work stretches wall time, CPU time much less.
# emovox's covers the whole process (start-up included, a few ms); librosa's the timed loop.
mapfile -t files < <(find "$@" -name '*.wav' | sort)
TIMEFORMAT='%U %S'
emovox=$( { time target/release/emovox features --threads 1 --stats "${files[@]}" | tail -n 1; } 2>&1 )
cpu=$(tail -n 1 <<< "$emovox" | awk '{ printf "%.3f", $1 + $2 }')
echo "emovox:  $(head -n 1 <<< "$emovox") cpu_s $cpu"
echo "librosa: $(python3 benches/librosa_timing.py "${files[@]}")"
