#!/usr/bin/env python3
"""Times librosa 0.11 computing emovox's feature set over WAV files, one thread, warmed up:
the speed baseline emovox is measured against (README, "Speed").

The calls and parameters are those of tests/fixtures/reference/make_reference.py, which
wrote the parity fixtures; loading is librosa.load(path, sr=16000, mono=True).
Usage:  python3 benches/librosa_timing.py FILE.wav...   (pip install librosa==0.11.0 soundfile)
Prints: files N audio_s X wall_s Y per_file_ms Z x_realtime R cpu_s C (CPU time of the loop)
Adapted from the team's shared tools/librosa-timing.
"""
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
import librosa  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "fixtures", "reference"))
from make_reference import features  # noqa: E402  (same calls as the fixtures)

files = sys.argv[1:]
if not files:
    sys.exit(__doc__)
# Warm-up, untimed: librosa compiles its numba kernels on first use (about 10 s).
features(librosa.load(files[0], sr=16000, mono=True)[0])
audio_s = 0.0
cpu0 = time.process_time()
t0 = time.perf_counter()
for f in files:
    y, sr = librosa.load(f, sr=16000, mono=True)
    audio_s += len(y) / sr
    feats = features(y)
    np.concatenate([feats["mfcc"], feats["chroma"], feats["contrast"], feats["tonnetz"]])
wall = time.perf_counter() - t0
cpu = time.process_time() - cpu0
print(f"files {len(files)} audio_s {audio_s:.1f} wall_s {wall:.3f} "
      f"per_file_ms {1000 * wall / len(files):.2f} x_realtime {audio_s / wall:.0f} cpu_s {cpu:.3f}")
