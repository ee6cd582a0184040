//! Inference of 3 s windows with the shipped network's shape, as the app, `predict` and
//! `serve` run it (`InferenceNet`), alone and in batches of 4 and 8 (a clip's windows);
//! and candle's own forward pass of one window for comparison. Target: one window in
//! ≤ 5 ms on one core (the target for the shipped model: ≤ 2 ms). The shipped
//! model as the live engine calls it (`Classifier::windows`, every member of an ensemble,
//! normalisation included) is timed too. Run single-threaded, as the engine and the batch commands do:
//! `RAYON_NUM_THREADS=1 CANDLE_NUM_THREADS=1 cargo bench --bench model -- inference`.
//!
//! Also one training step on a batch of 32 windows (forward, loss, backward, AdamW), as
//! `train` runs it: with the default thread pool, so without those variables:
//! `cargo bench --bench model -- "training step"`.

use std::hint::black_box;

use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use criterion::{criterion_group, criterion_main, Criterion};
use emovox::model::classifier::shipped_card;
use emovox::model::infer::InferenceNet;
use emovox::model::input::{INPUT_DIM, WINDOW_FRAMES};
use emovox::model::net::{initialise, EmotionNet};
use emovox::model::rng::Rng;
use emovox::model::Classifier;

fn bench(c: &mut Criterion) {
    let varmap = VarMap::new();
    let net = EmotionNet::new(
        &shipped_card().expect("shipped card").net,
        VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
    )
    .expect("network builds");
    initialise(&varmap, &mut Rng::new(1)).expect("initialises");
    let fast = InferenceNet::new(&net).expect("inference weights");
    let mut rng = Rng::new(2);
    let values: Vec<f32> = (0..8 * WINDOW_FRAMES * INPUT_DIM)
        .map(|_| rng.normal() as f32)
        .collect();
    for batch in [1usize, 4, 8] {
        let x = &values[..batch * WINDOW_FRAMES * INPUT_DIM];
        c.bench_function(&format!("inference, {batch} window(s) of 3 s"), |b| {
            b.iter(|| {
                fast.probabilities(black_box(x), batch, WINDOW_FRAMES)
                    .expect("forward")
            })
        });
    }
    let x = Tensor::from_slice(
        &values[..WINDOW_FRAMES * INPUT_DIM],
        (1, WINDOW_FRAMES, INPUT_DIM),
        &Device::Cpu,
    )
    .expect("input");
    c.bench_function("candle forward, 1 window of 3 s", |b| {
        b.iter(|| net.forward(black_box(&x), None).expect("forward"))
    });
    let shipped = Classifier::shipped().expect("shipped model");
    let frames: Vec<half::f16> = values[..WINDOW_FRAMES * INPUT_DIM]
        .iter()
        .map(|&v| half::f16::from_f32(v))
        .collect();
    c.bench_function(
        &format!(
            "shipped model ({} network(s)), 1 window of 3 s",
            shipped.card().networks()
        ),
        |b| b.iter(|| shipped.windows(black_box(&frames), &[0]).expect("forward")),
    );
}

/// One optimiser step of `train` on a batch of 32 random windows with the shipped network's shape:
/// the training forward pass (batch statistics, dropout), cross-entropy, backpropagation
/// and AdamW.
fn training_step(c: &mut Criterion) {
    const BATCH: usize = 32;
    let varmap = VarMap::new();
    let net = EmotionNet::new(
        &shipped_card().expect("shipped card").net,
        VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
    )
    .expect("network builds");
    initialise(&varmap, &mut Rng::new(1)).expect("initialises");
    let mut opt = AdamW::new(varmap.all_vars(), ParamsAdamW::default()).expect("optimiser");
    let mut rng = Rng::new(3);
    let values: Vec<f32> = (0..BATCH * WINDOW_FRAMES * INPUT_DIM)
        .map(|_| rng.normal() as f32)
        .collect();
    let x =
        Tensor::from_vec(values, (BATCH, WINDOW_FRAMES, INPUT_DIM), &Device::Cpu).expect("input");
    let labels: Vec<u32> = (0..BATCH as u32).map(|i| i % 8).collect();
    let targets = Tensor::from_vec(labels, BATCH, &Device::Cpu).expect("targets");
    c.bench_function("training step, batch 32", |b| {
        b.iter(|| {
            let logits = net.forward(black_box(&x), Some(&mut rng)).expect("forward");
            let loss = candle_nn::loss::cross_entropy(&logits, &targets).expect("loss");
            opt.backward_step(&loss).expect("step");
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_group! {
    name = training;
    config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(10));
    targets = training_step
}
criterion_main!(benches, training);
