//! The voice gate: the Rust port of Silero VAD gives the ONNX model's probabilities
//! (tests/fixtures/silero/README.md), and the gate built on it tells speech from the
//! noises of a room.
#![allow(clippy::unwrap_used)]

mod common;

use emovox::audio::decode_file;
use emovox::vad::noise::{mix_at_snr, Noise};
use emovox::vad::{SpeechGate, CHUNK};

/// Every chunk's probability, the signal fed in pieces of `piece` samples.
fn probabilities(signal: &[f32], piece: usize) -> Vec<f32> {
    let mut gate = SpeechGate::default();
    let mut out = Vec::new();
    for part in signal.chunks(piece) {
        gate.push(part, |c| out.push(c.probability));
    }
    out
}

fn reference(stem: &str) -> Vec<f32> {
    let path = common::fixtures()
        .join("silero")
        .join(format!("{stem}.silero.txt"));
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

fn assert_close(found: &[f32], expected: &[f32], what: &str) {
    assert_eq!(found.len(), expected.len(), "{what}: chunk count");
    let worst = found
        .iter()
        .zip(expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    // The dot products are summed in another order than onnxruntime's; 1e-4 is 50 times the
    // numpy port's distance from onnxruntime and far below any decision threshold.
    assert!(worst < 1e-4, "{what}: worst difference {worst}");
}

#[test]
fn the_port_gives_the_onnx_models_probabilities() {
    for stem in &common::REFERENCE_STEMS[..4] {
        let signal = decode_file(&common::wav(stem)).unwrap().samples;
        let expected = reference(stem);
        assert_close(&probabilities(&signal, 160), &expected, stem);
        // Some of these are speech, some not: the comparison is not over flat zeros.
        assert!(expected.iter().any(|&p| p > 0.9) && expected.iter().any(|&p| p < 0.1));
    }
    assert_close(
        &probabilities(&[0.0; 32_000], 4096),
        &reference("zeros_2s"),
        "2 s of zeros",
    );
}

/// Share of chunks the gate marks as speech.
fn speech_share(signal: &[f32]) -> f32 {
    let mut gate = SpeechGate::default();
    let (mut speech, mut all) = (0usize, 0usize);
    gate.push(signal, |c| {
        all += 1;
        speech += usize::from(c.speech);
    });
    speech as f32 / all.max(1) as f32
}

#[test]
fn room_noise_alone_is_not_speech() {
    for noise in Noise::ALL {
        for dbfs in [-50.0, -40.0, -30.0] {
            let x = noise.generate(10 * 16_000, dbfs, 7);
            let share = speech_share(&x);
            assert!(
                share <= 0.05,
                "{} at {dbfs} dBFS: {share:.2} of chunks speech",
                noise.name()
            );
        }
    }
}

#[test]
fn speech_in_noise_is_still_speech() {
    let speech = decode_file(&common::wav("03-01-05-02-01-01-10"))
        .unwrap()
        .samples;
    let clean = speech_share(&speech);
    assert!(clean > 0.4, "clean: {clean:.2}");
    for noise in Noise::ALL {
        let n = noise.generate(speech.len(), -30.0, 3);
        let mixed = mix_at_snr(&speech, &n, 10.0);
        let share = speech_share(&mixed);
        assert!(
            share >= 0.9 * clean,
            "{} at 10 dB SNR: {share:.2} of chunks speech, clean {clean:.2}",
            noise.name()
        );
    }
}

#[test]
fn the_gate_opens_within_100_ms_of_speech() {
    // 2 s of quiet fan, then a sentence; the first chunk above the open threshold is the
    // onset according to the model itself, and the gate must be open by then.
    let speech = decode_file(&common::wav("03-01-08-02-02-02-20"))
        .unwrap()
        .samples;
    let lead = 2 * 16_000;
    let mut signal = Noise::Fan.generate(lead, -50.0, 5);
    signal.extend_from_slice(&speech);
    let mut gate = SpeechGate::default();
    let mut first_open = None;
    gate.push(&signal, |c| {
        if c.speech && first_open.is_none() {
            first_open = Some(c.index * CHUNK);
        }
    });
    // Where the speech starts: the first 10 ms of the clean clip above -45 dBFS.
    let onset = lead
        + speech
            .chunks(160)
            .position(|c| emovox::vad::noise::rms_dbfs(c) > -45.0)
            .unwrap()
            * 160;
    let opened = first_open.expect("the gate opens");
    assert!(
        opened + 1600 >= onset,
        "opened at {opened}, before speech at {onset}"
    );
    assert!(
        opened <= onset + 1600,
        "opened at {opened}, speech began at {onset}"
    );
}
