//! Decode + features for one RAVDESS file (3.4 s, the size of a typical clip), and the
//! stages inside, one thread. Target: at least 5× librosa's speed on the same files
//! (see README, "Speed"). Run: `cargo bench --bench features`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use emovox::audio::decode_file;
use emovox::dsp::chroma::ChromaFilterBank;
use emovox::dsp::contrast::SpectralContrast;
use emovox::dsp::mel::MelFilterBank;
use emovox::dsp::mfcc::Mfcc;
use emovox::dsp::stft::PowerSpectrum;
use emovox::dsp::{
    DbRule, Features, StreamingExtractor, N_BINS, N_CHROMA, N_CONTRAST, N_FFT, N_MELS, N_MFCC,
};

const FILE: &str = "tests/fixtures/wav/03-01-08-02-02-02-20.wav";

fn bench(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FILE);
    let signal = decode_file(&path).expect("fixture decodes").samples;
    let mut extractor = StreamingExtractor::new();

    c.bench_function("decode + features (one 3.4 s file)", |b| {
        b.iter(|| {
            let d = decode_file(black_box(&path)).expect("fixture decodes");
            Features::compute_with(&mut extractor, &d.samples, DbRule::Librosa)
        })
    });
    c.bench_function("decode only", |b| {
        b.iter(|| decode_file(black_box(&path)).expect("fixture decodes"))
    });
    c.bench_function("features only", |b| {
        b.iter(|| Features::compute_with(&mut extractor, black_box(&signal), DbRule::Librosa))
    });
    c.bench_function("streaming, 160-sample chunks", |b| {
        b.iter(|| {
            let mut sum = 0.0f32;
            for chunk in signal.chunks(160) {
                extractor.push(chunk, |f| sum += f.mfcc[1]);
            }
            extractor.finish(|f| sum += f.mfcc[1]);
            sum
        })
    });

    // One frame through each stage.
    let mut frame = [0.0f32; N_FFT];
    frame.copy_from_slice(&signal[16_000..16_000 + N_FFT]);
    let mut power = [0.0f32; N_BINS];
    let mut spectrum = PowerSpectrum::new();
    spectrum.compute(&frame, &mut power);
    let mut g = c.benchmark_group("per frame");
    g.bench_function("stft power", |b| {
        b.iter(|| spectrum.compute(black_box(&frame), &mut power))
    });
    let mel_bank = MelFilterBank::new();
    let mut mel = [0.0f32; N_MELS];
    g.bench_function("mel", |b| {
        b.iter(|| mel_bank.apply(black_box(&power), &mut mel))
    });
    g.bench_function("mel_db", |b| {
        b.iter(|| {
            let mut db = [0.0f32; N_MELS];
            emovox::dsp::db::power_to_db_into(black_box(&mel), &mut db);
            db
        })
    });
    let dct = Mfcc::new();
    let mut mfcc = [0.0f32; N_MFCC];
    g.bench_function("mfcc", |b| b.iter(|| dct.apply(black_box(&mel), &mut mfcc)));
    let chroma_bank = ChromaFilterBank::new();
    let mut chroma = [0.0f32; N_CHROMA];
    g.bench_function("chroma", |b| {
        b.iter(|| chroma_bank.apply(black_box(&power), &mut chroma))
    });
    let mut contrast = SpectralContrast::new();
    let (mut peak, mut valley) = ([0.0f32; N_CONTRAST], [0.0f32; N_CONTRAST]);
    g.bench_function("contrast", |b| {
        b.iter(|| contrast.apply(black_box(&power), &mut peak, &mut valley))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
