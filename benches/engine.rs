//! One hop of the live engine (250 ms of audio in, one prediction out) as the worker runs
//! it: downmix, resampling, features, voice gate, the model on its 3 s window. The time
//! per hop divided by 250 ms is the worker's CPU share while listening (target ≤ 10%).
//! Run single-threaded, as measured for the README:
//! `RAYON_NUM_THREADS=1 cargo bench --bench engine`.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use emovox::audio::decode_file;
use emovox::engine::{Event, Pipeline, PipelineConfig};
use emovox::model::Classifier;

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = Arc::new(Classifier::load(&root.join("weights")).expect("shipped model"));
    let clip = decode_file(&root.join("tests/fixtures/wav/03-01-05-02-01-01-10.wav"))
        .expect("fixture")
        .samples;
    // 16 kHz mono as a file source gives it, and 48 kHz stereo as PulseAudio's default
    // input does (the clip repeated at 3x, interleaved twice: the content is immaterial).
    let at_48k: Vec<f32> = clip.iter().flat_map(|&x| [x; 6]).collect();
    for (name, rate, channels, signal) in [
        ("16 kHz mono", 16_000u32, 1u16, &clip),
        ("48 kHz stereo", 48_000, 2, &at_48k),
    ] {
        let hop = rate as usize / 4 * usize::from(channels);
        let mut pipeline = Pipeline::new(
            Arc::clone(&model),
            rate,
            channels,
            PipelineConfig::default(),
        )
        .expect("pipeline");
        // Warm up past the first full window, as a running engine is.
        let mut sink = |e: Event| {
            black_box(e);
        };
        for piece in signal.chunks(hop).take(14) {
            pipeline
                .push(piece, Instant::now(), &mut sink)
                .expect("push");
        }
        let mut pieces = signal.chunks_exact(hop).cycle();
        c.bench_function(
            &format!("engine hop (250 ms in, 1 prediction), {name}"),
            |b| {
                b.iter(|| {
                    let piece = pieces.next().expect("cycle");
                    pipeline
                        .push(piece, Instant::now(), &mut sink)
                        .expect("push")
                })
            },
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
