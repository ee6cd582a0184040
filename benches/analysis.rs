//! File analysis, as `emovox predict` and `emovox serve` run it on one thread: one 3.7 s
//! RAVDESS clip (decoded once, outside the timing) through features, the voice gate and
//! the model's windows; and the two stages that share work across a file, each against
//! the way it runs live:
//! - the voice gate over the whole clip at once (chunks in blocks) and in 10 ms pieces
//!   (chunk by chunk, as the live engine feeds it);
//! - a 4.0 s clip's five overlapping windows through one shared conv front end
//!   (`InferenceNet::clip_probabilities`) and one by one.
//!
//! `RAYON_NUM_THREADS=1 CANDLE_NUM_THREADS=1 cargo bench --bench analysis`

use std::hint::black_box;
use std::path::Path;

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use criterion::{criterion_group, criterion_main, Criterion};
use emovox::audio::decode_file;
use emovox::dsp::StreamingExtractor;
use emovox::model::infer::InferenceNet;
use emovox::model::input::{window_starts, INPUT_DIM, WINDOW_FRAMES};
use emovox::model::net::{initialise, EmotionNet};
use emovox::model::rng::Rng;
use emovox::model::Classifier;
use emovox::predict::analyse;
use emovox::vad::{frame_flags, SpeechGate};

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let clip = decode_file(&root.join("tests/fixtures/wav/03-01-05-02-01-01-10.wav"))
        .expect("fixture")
        .samples;
    let model = Classifier::shipped().expect("shipped model");
    let mut extractor = StreamingExtractor::new();
    c.bench_function("analyse a 3.7 s file (features, voice gate, model)", |b| {
        b.iter(|| analyse(&model, &mut extractor, black_box(&clip)).expect("analysis"))
    });

    let frames = clip.len() / 160 + 1;
    let mut gate = SpeechGate::default();
    c.bench_function("voice gate, 3.7 s at once", |b| {
        b.iter(|| frame_flags(&mut gate, black_box(&clip), frames))
    });
    c.bench_function("voice gate, 3.7 s in 10 ms pieces", |b| {
        b.iter(|| {
            gate.reset();
            let mut open = 0usize;
            for piece in black_box(&clip).chunks(160) {
                gate.push(piece, |c| open += usize::from(c.speech));
            }
            gate.finish(|c| open += usize::from(c.speech));
            open
        })
    });

    // The shipped shape with its inputs as they are (both conv layers shared) and centred
    // as shipped (conv1 shared), random weights, each against its windows one by one.
    for centred in [0, model.card().net.centred_inputs] {
        let varmap = VarMap::new();
        let net = EmotionNet::new(
            &emovox::model::net::NetConfig {
                centred_inputs: centred,
                ..model.card().net.clone()
            },
            VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
        )
        .expect("network builds");
        initialise(&varmap, &mut Rng::new(1)).expect("initialises");
        let fast = InferenceNet::new(&net).expect("inference weights");
        let n = 400;
        let mut rng = Rng::new(2);
        let x: Vec<f32> = (0..n * INPUT_DIM).map(|_| rng.normal() as f32).collect();
        let starts = window_starts(n);
        let inputs = if centred > 0 {
            "centred"
        } else {
            "as they are"
        };
        c.bench_function(
            &format!("a 4.0 s clip's 5 windows, inputs {inputs}, shared front end"),
            |b| {
                b.iter(|| {
                    fast.clip_probabilities(black_box(&x), n, WINDOW_FRAMES, &starts)
                        .expect("forward")
                })
            },
        );
        c.bench_function(
            &format!("a 4.0 s clip's 5 windows, inputs {inputs}, one by one"),
            |b| {
                b.iter(|| {
                    for &s in &starts {
                        let window = &black_box(&x)[s * INPUT_DIM..(s + WINDOW_FRAMES) * INPUT_DIM];
                        fast.probabilities(window, 1, WINDOW_FRAMES)
                            .expect("forward");
                    }
                })
            },
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
