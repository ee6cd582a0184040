//! The network's gradients against finite differences, for every parameter, in f64 on a
//! tiny configuration. This is how candle 0.11's conv1d was caught computing a wrong
//! kernel gradient (relative error ~1), which had left the conv front end untrained; the
//! network now convolves by unfolding and must stay correct.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{VarBuilder, VarMap};
use emovox::model::infer::{InferenceNet, Precision};
use emovox::model::net::{initialise, EmotionNet, Lstm, NetConfig, TimeConv};
use emovox::model::rng::Rng;

fn random(shape: &[usize], rng: &mut Rng) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::from_vec(
        (0..n).map(|_| rng.normal()).collect::<Vec<f64>>(),
        shape,
        &Device::Cpu,
    )
    .unwrap()
}

#[test]
fn every_parameter_gradient_matches_finite_differences() {
    let mut rng = Rng::new(3);
    let varmap = VarMap::new();
    let cfg = NetConfig {
        input_dim: 5,
        conv_channels: 4,
        lstm_hidden: 3,
        classes: 8,
        dropout: 0.0,
        centred_inputs: 0,
    };
    let net = EmotionNet::new(
        &cfg,
        VarBuilder::from_varmap(&varmap, DType::F64, &Device::Cpu),
    )
    .unwrap();
    let x = random(&[2, 12, 5], &mut rng);
    let w = random(&[2, 8], &mut rng);
    // A scalar that depends on every logit, in training mode (the path gradients take):
    // BatchNorm on batch statistics, dropout 0 so repeated passes agree.
    let loss = |net: &EmotionNet| {
        let logits = net.forward(&x, Some(&mut Rng::new(0))).unwrap();
        (logits * &w).unwrap().sum_all().unwrap()
    };
    let grads = loss(&net).backward().unwrap();
    let data = varmap.data().lock().unwrap();
    let mut checked = 0;
    for (name, var) in data.iter().filter(|(n, _)| !n.contains("running_")) {
        let analytic = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("{name}: no gradient"));
        let analytic = analytic.flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let original = var
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let set = |values: Vec<f64>| {
            var.set(&Tensor::from_vec(values, var.shape(), &Device::Cpu).unwrap())
                .unwrap()
        };
        for i in (0..original.len()).step_by((original.len() / 6).max(1)) {
            let eps = 1e-5;
            let mut plus = original.clone();
            plus[i] += eps;
            set(plus);
            let up = loss(&net).to_scalar::<f64>().unwrap();
            let mut minus = original.clone();
            minus[i] -= eps;
            set(minus);
            let down = loss(&net).to_scalar::<f64>().unwrap();
            set(original.clone());
            let numeric = (up - down) / (2.0 * eps);
            // Relative agreement, with an absolute floor for gradients that are zero (a conv
            // bias in front of BatchNorm): central differences are good to about 1e-10 here.
            let tolerance = 1e-8 + 1e-5 * (numeric.abs() + analytic[i].abs());
            assert!(
                (numeric - analytic[i]).abs() <= tolerance,
                "{name}[{i}]: analytic {} vs numeric {numeric}",
                analytic[i]
            );
            checked += 1;
        }
    }
    assert!(checked > 60, "only {checked} gradients checked");
}

/// One LSTM direction's training path (the recurrence op with its own backward pass)
/// against central differences, every parameter and every input element, over nine steps
/// each way: longer than the three steps the whole network above leaves its LSTM.
#[test]
fn the_lstm_gradients_match_finite_differences_in_both_directions() {
    let mut rng = Rng::new(6);
    for reverse in [false, true] {
        let varmap = VarMap::new();
        let lstm = Lstm::new(
            4,
            5,
            VarBuilder::from_varmap(&varmap, DType::F64, &Device::Cpu).pp("l"),
        )
        .unwrap();
        let x = candle_core::Var::from_tensor(&random(&[2, 9, 4], &mut rng)).unwrap();
        let w = random(&[2, 9, 5], &mut rng);
        let loss = || {
            let h = lstm.forward(x.as_tensor(), reverse, true).unwrap();
            (h * &w).unwrap().sum_all().unwrap()
        };
        let grads = loss().backward().unwrap();
        let data = varmap.data().lock().unwrap();
        let mut vars: Vec<(String, candle_core::Var)> = data
            .iter()
            .map(|(name, var)| (name.clone(), var.clone()))
            .collect();
        vars.push(("x".into(), x.clone()));
        let mut checked = 0;
        for (name, var) in &vars {
            let analytic = grads
                .get(var.as_tensor())
                .unwrap_or_else(|| panic!("{name}: no gradient"))
                .flatten_all()
                .unwrap()
                .to_vec1::<f64>()
                .unwrap();
            let original = var
                .as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f64>()
                .unwrap();
            let set = |values: Vec<f64>| {
                var.set(&Tensor::from_vec(values, var.shape(), &Device::Cpu).unwrap())
                    .unwrap()
            };
            for i in 0..original.len() {
                let eps = 1e-5;
                let mut plus = original.clone();
                plus[i] += eps;
                set(plus);
                let up = loss().to_scalar::<f64>().unwrap();
                let mut minus = original.clone();
                minus[i] -= eps;
                set(minus);
                let down = loss().to_scalar::<f64>().unwrap();
                set(original.clone());
                let numeric = (up - down) / (2.0 * eps);
                // The same tolerance as the whole network's check above.
                let tolerance = 1e-8 + 1e-5 * (numeric.abs() + analytic[i].abs());
                assert!(
                    (numeric - analytic[i]).abs() <= tolerance,
                    "reverse {reverse}, {name}[{i}]: analytic {} vs numeric {numeric}",
                    analytic[i]
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 80 + 100 + 20 + 20 + 72, "reverse {reverse}");
    }
}

#[test]
fn the_unfolded_convolution_equals_candles_conv1d_forward() {
    let mut rng = Rng::new(4);
    let varmap = VarMap::new();
    let conv = TimeConv::new(
        3,
        4,
        5,
        VarBuilder::from_varmap(&varmap, DType::F64, &Device::Cpu).pp("c"),
    )
    .unwrap();
    let data = varmap.data().lock().unwrap();
    let weight = random(&[4, 3, 5], &mut rng);
    let bias = random(&[4], &mut rng);
    data["c.weight"].set(&weight).unwrap();
    data["c.bias"].set(&bias).unwrap();
    let x = random(&[2, 9, 3], &mut rng);
    let ours = conv.forward(&x).unwrap();
    // candle's forward is right (only its kernel gradient is not): (B, C, T) with padding 2.
    let theirs = candle_nn::Conv1d::new(
        weight,
        Some(bias),
        candle_nn::Conv1dConfig {
            padding: 2,
            ..Default::default()
        },
    )
    .forward(&x.transpose(1, 2).unwrap().contiguous().unwrap())
    .unwrap()
    .transpose(1, 2)
    .unwrap();
    let diff = (ours - theirs)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    assert!(diff < 1e-12, "max difference {diff}");
}

#[test]
fn the_lstm_inference_loop_equals_its_differentiable_form() {
    let mut rng = Rng::new(5);
    let varmap = VarMap::new();
    // 4H = 80: one full block of 64 gate outputs and a partial one.
    let lstm = Lstm::new(
        6,
        20,
        VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu).pp("l"),
    )
    .unwrap();
    {
        let data = varmap.data().lock().unwrap();
        for (name, var) in data.iter() {
            let shape = var.dims().to_vec();
            var.set(&random(&shape, &mut rng).to_dtype(DType::F32).unwrap())
                .unwrap();
            assert!(name.starts_with("l."));
        }
    }
    let x = random(&[3, 11, 6], &mut rng).to_dtype(DType::F32).unwrap();
    for reverse in [false, true] {
        let ops = lstm.forward(&x, reverse, true).unwrap();
        let looped = lstm.forward(&x, reverse, false).unwrap();
        assert_eq!(ops.dims(), looped.dims());
        let diff = (ops - looped)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-5, "reverse {reverse}: max difference {diff}");
    }
}

/// A network with every parameter random (BatchNorm statistics included, variances
/// positive), laid out for inference.
fn random_inference_net(cfg: &NetConfig, rng: &mut Rng, precision: Precision) -> InferenceNet {
    let varmap = VarMap::new();
    let net = EmotionNet::new(
        cfg,
        VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
    )
    .unwrap();
    {
        let data = varmap.data().lock().unwrap();
        // In name order, so that every run draws the same network.
        let mut names: Vec<&String> = data.keys().collect();
        names.sort();
        for name in names {
            let var = &data[name];
            let shape = var.dims().to_vec();
            let mut t = (random(&shape, rng) * 0.5).unwrap();
            if name.ends_with("running_var") {
                t = (t.abs().unwrap() + 0.5).unwrap();
            }
            var.set(&t.to_dtype(DType::F32).unwrap()).unwrap();
        }
    }
    InferenceNet::with_precision(&net, precision).unwrap()
}

#[test]
fn a_clips_shared_front_end_gives_each_windows_own_answer() {
    shared_front_end_case(Precision::F32);
    // bf16 where the build has it (else f32 again): conv1's shared product is f32 in
    // both, so a window alone and among its neighbours still round alike.
    shared_front_end_case(Precision::Bf16);
}

fn shared_front_end_case(precision: Precision) {
    let mut rng = Rng::new(11);
    let cfg = NetConfig {
        input_dim: 9,
        conv_channels: 16,
        lstm_hidden: 24,
        classes: 8,
        dropout: 0.3,
        centred_inputs: 0,
    };
    let fast = random_inference_net(&cfg, &mut rng, precision);
    // Windows of 300 frames every 25 (odd: both pooling parities), the last flush with
    // the end of the clip, as file analysis reads them; then a sparse, unordered set with
    // a gap (windows left to the per-window path in between), and windows of 48 and 12
    // frames (12 shares no conv2 row: the per-window fallback).
    let n = 437;
    let x: Vec<f32> = (0..n * cfg.input_dim)
        .map(|_| rng.normal() as f32)
        .collect();
    let every: Vec<usize> = (0..=n - 300).step_by(25).chain([n - 300]).collect();
    let cases: [(usize, Vec<usize>); 4] = [
        (300, every),
        (300, vec![75, 0, 137, 12]),
        (48, vec![3, 10, 11, 200, 389]),
        (12, vec![0, 5, 425]),
    ];
    for (t, starts) in cases {
        let got = fast.clip_probabilities(&x, n, t, &starts).unwrap();
        assert_eq!(got.len(), starts.len());
        for (&s, g) in starts.iter().zip(&got) {
            let d = cfg.input_dim;
            let alone = fast.probabilities(&x[s * d..(s + t) * d], 1, t).unwrap();
            for (a, b) in alone[0].iter().zip(g) {
                assert!(
                    (a - b).abs() < 1e-5,
                    "{precision:?}, t {t}, start {s}: {:?} vs {g:?}",
                    alone[0]
                );
            }
        }
    }
    // A window past the clip's end is an error, not a panic.
    assert!(fast.clip_probabilities(&x, n, 300, &[200]).is_err());
    // Windows centred on their own means share conv1's product (less each window's mean
    // through the taps) and still get their own answers: every 25 frames, and a sparse
    // unordered set with both parities.
    let centred = random_inference_net(
        &NetConfig {
            centred_inputs: 4,
            ..cfg
        },
        &mut rng,
        precision,
    );
    // Centred inputs with an offset that drifts over the clip, so that every window's
    // mean is its own and far from zero; the others with a fixed offset, which a
    // correction reaching past the centred inputs would wrongly take away.
    let d = cfg.input_dim;
    let x: Vec<f32> = x
        .iter()
        .enumerate()
        .map(|(i, v)| match i % d {
            column if column < 4 => v + 2.0 + (i / d) as f32 / 100.0,
            _ => v + 3.0,
        })
        .collect();
    let every: Vec<usize> = (0..=n - 300).step_by(25).chain([n - 300]).collect();
    // Every input centred, as `train --centre-all` makes them.
    let all = random_inference_net(
        &NetConfig {
            centred_inputs: cfg.input_dim,
            ..cfg
        },
        &mut rng,
        precision,
    );
    for (net, starts) in [
        (&centred, every.clone()),
        (&centred, vec![75, 0, 137, 12]),
        (&all, every),
    ] {
        let got = net.clip_probabilities(&x, n, 300, &starts).unwrap();
        assert_eq!(got.len(), starts.len());
        for (&s, g) in starts.iter().zip(&got) {
            let alone = net.probabilities(&x[s * d..(s + 300) * d], 1, 300).unwrap();
            for (a, b) in alone[0].iter().zip(g) {
                assert!(
                    (a - b).abs() < 1e-5,
                    "{precision:?}, centred, start {s}: {:?} vs {g:?}",
                    alone[0]
                );
            }
        }
    }
}

#[test]
fn the_inference_pass_equals_the_networks_own_forward() {
    inference_equals_forward(0, Precision::F32);
    inference_equals_forward(0, Precision::Bf16);
}

#[test]
fn the_inference_pass_centres_each_window_as_the_network_does() {
    inference_equals_forward(3, Precision::F32);
    inference_equals_forward(3, Precision::Bf16);
}

/// The inference pass against candle's forward: within 1e-5 in f32; in bf16 (where the
/// build has it) within 5e-3, about three times what its rounding was measured to move
/// these random networks' probabilities (a wrong pair layout moves them by 0.1 and more).
fn inference_equals_forward(centred_inputs: usize, precision: Precision) {
    let tolerance = match precision {
        Precision::F32 => 1e-5,
        Precision::Bf16 => 5e-3,
    };
    let mut rng = Rng::new(9);
    let varmap = VarMap::new();
    // Odd sizes: 4H = 80 spans a full and a partial block of gate outputs; 22 steps
    // pool to 11 and then to 5 (an odd step dropped).
    let cfg = NetConfig {
        input_dim: 7,
        conv_channels: 12,
        lstm_hidden: 20,
        classes: 8,
        dropout: 0.3,
        centred_inputs,
    };
    let net = EmotionNet::new(
        &cfg,
        VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
    )
    .unwrap();
    {
        // Every parameter random, BatchNorm statistics included (variances positive).
        let data = varmap.data().lock().unwrap();
        // In name order, so that every run draws the same network.
        let mut names: Vec<&String> = data.keys().collect();
        names.sort();
        for name in names {
            let var = &data[name];
            let shape = var.dims().to_vec();
            let mut t = (random(&shape, &mut rng) * 0.5).unwrap();
            if name.ends_with("running_var") {
                t = (t.abs().unwrap() + 0.5).unwrap();
            }
            var.set(&t.to_dtype(DType::F32).unwrap()).unwrap();
        }
    }
    let fast = InferenceNet::with_precision(&net, precision).unwrap();
    for n in [1usize, 3, 5, 7] {
        let x = random(&[n, 22, 7], &mut rng).to_dtype(DType::F32).unwrap();
        let expected = candle_nn::ops::softmax_last_dim(&net.forward(&x, None).unwrap())
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let values = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let got = fast.probabilities(&values, n, 22).unwrap();
        for (e, g) in expected.iter().zip(&got) {
            for (a, b) in e.iter().zip(g) {
                assert!(
                    (a - b).abs() < tolerance,
                    "{precision:?}, batch {n}: {e:?} vs {g:?}"
                );
            }
        }
        // A window's answer does not depend on its batch (nor on which of the side-by-side
        // recurrences it ran in): every window alone gives the same bits.
        let per = values.len() / n;
        for (i, g) in got.iter().enumerate() {
            let alone = fast
                .probabilities(&values[i * per..(i + 1) * per], 1, 22)
                .unwrap();
            assert_eq!(&alone[0], g, "batch {n}, window {i}");
        }
    }
}

#[test]
fn a_constant_added_to_the_centred_inputs_changes_nothing_and_to_the_others_does() {
    let mut rng = Rng::new(21);
    let (d, k, t, n) = (7usize, 3usize, 40usize, 3usize);
    let cfg = NetConfig {
        input_dim: d,
        conv_channels: 12,
        lstm_hidden: 10,
        classes: 8,
        dropout: 0.3,
        centred_inputs: k,
    };
    let varmap = VarMap::new();
    let net = EmotionNet::new(
        &cfg,
        VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
    )
    .unwrap();
    initialise(&varmap, &mut Rng::new(5)).unwrap();
    // f32, where a constant through the taps cancels to the last bits (in bf16 a change in
    // conv1's last bit can round conv2's input to its neighbour).
    let fast = InferenceNet::with_precision(&net, Precision::F32).unwrap();
    let x: Vec<f32> = (0..n * t * d).map(|_| rng.normal() as f32).collect();
    // Each window its own offset on input `column`, the same on every frame.
    let shifted = |column: usize| -> Vec<f32> {
        let mut y = x.clone();
        for (w, window) in y.chunks_exact_mut(t * d).enumerate() {
            for frame in window.chunks_exact_mut(d) {
                frame[column] += 1.5 + w as f32;
            }
        }
        y
    };
    let both = |values: &[f32]| {
        let tensor = Tensor::from_slice(values, (n, t, d), &Device::Cpu).unwrap();
        let candle = candle_nn::ops::softmax_last_dim(&net.forward(&tensor, None).unwrap())
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        (candle, fast.probabilities(values, n, t).unwrap())
    };
    let close = |a: &[Vec<f32>], b: &[Vec<f32>]| {
        a.iter()
            .flatten()
            .zip(b.iter().flatten())
            .all(|(x, y)| (x - y).abs() < 1e-4)
    };
    let (candle, fast_plain) = both(&x);
    for column in 0..k {
        let (c, f) = both(&shifted(column));
        assert!(
            close(&c, &candle) && close(&f, &fast_plain),
            "input {column} is centred"
        );
    }
    let (c, f) = both(&shifted(k));
    assert!(
        !close(&c, &candle) && !close(&f, &fast_plain),
        "input {k} is not centred"
    );
    // A whole clip shifted: every window's answer stays.
    let clip: Vec<f32> = x[..t * d]
        .iter()
        .chain(&x[t * d..2 * t * d])
        .copied()
        .collect();
    let mut moved = clip.clone();
    for frame in moved.chunks_exact_mut(d) {
        frame[0] += 2.0;
    }
    let starts = [0usize, 5, 40];
    let a = fast.clip_probabilities(&clip, 2 * t, t, &starts).unwrap();
    let b = fast.clip_probabilities(&moved, 2 * t, t, &starts).unwrap();
    assert!(close(&a, &b));
}
