//! Inference of one 3 s window (batch 1) and of batches of 4 and 32, with the shipped network's
//! shape. Target: one window in ≤ 5 ms on one core. Run single-threaded, as the live
//! engine does: `RAYON_NUM_THREADS=1 CANDLE_NUM_THREADS=1 cargo bench --bench model`.

use std::hint::black_box;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use criterion::{criterion_group, criterion_main, Criterion};
use emovox::model::augment::Rng;
use emovox::model::input::{INPUT_DIM, WINDOW_FRAMES};
use emovox::model::net::{initialise, EmotionNet, NetConfig};

fn bench(c: &mut Criterion) {
    let varmap = VarMap::new();
    let net = EmotionNet::new(
        &NetConfig::default(),
        VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
    )
    .expect("network builds");
    initialise(&varmap, &mut Rng::new(1)).expect("initialises");
    for batch in [1usize, 4, 32] {
        let mut rng = Rng::new(2);
        let values: Vec<f32> = (0..batch * WINDOW_FRAMES * INPUT_DIM)
            .map(|_| rng.normal() as f32)
            .collect();
        let x = Tensor::from_vec(values, (batch, WINDOW_FRAMES, INPUT_DIM), &Device::Cpu)
            .expect("input");
        c.bench_function(&format!("forward, {batch} window(s) of 3 s"), |b| {
            b.iter(|| net.forward(black_box(&x), None).expect("forward"))
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
