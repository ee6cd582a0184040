//! Decoding: every WAV layout a user may have becomes mono f32 at 16 kHz, compressed
//! formats go through symphonia, and bad input of every kind is a typed error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{reference, wav};
use emovox::audio::{decode_bytes, decode_file, DecodeError};
use emovox::dsp::{DbRule, FeatureKind, Features};

/// The sine used to check rates and encodings: 440 Hz at half scale, one second.
fn sine(rate: u32, seconds: f64) -> Vec<f64> {
    let n = (f64::from(rate) * seconds) as usize;
    (0..n)
        .map(|i| 0.5 * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / f64::from(rate)).sin())
        .collect()
}

/// Writes `frames` (mono, in [-1, 1]) with hound, an independent WAV writer, copying the
/// signal to every channel.
fn write_wav(path: &Path, rate: u32, channels: u16, bits: u16, float: bool, frames: &[f64]) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &x in frames {
        for _ in 0..channels {
            if float {
                w.write_sample(x as f32).unwrap();
            } else {
                let scale = f64::from(1u32 << (bits - 1));
                let v = (x * scale).round().clamp(-scale, scale - 1.0) as i32;
                if bits == 8 {
                    w.write_sample(v as i8).unwrap();
                } else {
                    w.write_sample(v).unwrap();
                }
            }
        }
    }
    w.finalize().unwrap();
}

/// A fresh folder, removed when the test ends, passed or failed.
fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("emovox-decode-")
        .tempdir()
        .unwrap()
}

/// Root-mean-square difference between two signals over their common length.
fn rms_diff(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    (a.iter()
        .zip(b)
        .take(n)
        .map(|(x, y)| f64::from(x - y).powi(2))
        .sum::<f64>()
        / n as f64)
        .sqrt()
}

#[test]
fn every_encoding_channel_count_and_rate_decodes_to_the_same_16k_sine() {
    let want = sine(16_000, 1.0);
    let tmp = tmp();
    for (bits, float) in [
        (8, false),
        (16, false),
        (24, false),
        (32, false),
        (32, true),
    ] {
        for channels in [1u16, 2, 6] {
            for rate in [8_000u32, 16_000, 44_100, 48_000, 96_000, 192_000] {
                let path = tmp.path().join(format!(
                    "sine-{bits}{}-{channels}ch-{rate}.wav",
                    if float { "f" } else { "i" }
                ));
                write_wav(&path, rate, channels, bits, float, &sine(rate, 1.0));
                let d = decode_file(&path).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!((d.source_rate, d.source_channels), (rate, channels));
                assert_eq!(d.samples.len(), 16_000, "{}", path.display());
                // Measured: 8-bit quantisation leaves about 2e-3 rms, every other case
                // below 1e-5 (a fraction-of-a-sample delay error would show as 1e-2).
                // The edges are skipped: a resampling filter necessarily rings there.
                let got: Vec<f32> = d.samples[200..15_800].to_vec();
                let want: Vec<f32> = want[200..15_800].iter().map(|&x| x as f32).collect();
                let err = rms_diff(&got, &want);
                let tol = if bits == 8 { 4e-3 } else { 5e-5 };
                assert!(err < tol, "{}: rms error {err:e}", path.display());
                std::fs::remove_file(&path).ok();
            }
        }
    }
}

#[test]
fn sixteen_bit_files_decode_exactly_as_librosa_loads_them() {
    // Mono and stereo RAVDESS files at 16 kHz: no resampling, so decode must equal
    // librosa.load's signal exactly (int16 / 32768, channels averaged).
    for stem in ["03-01-01-01-01-01-01", "03-01-02-01-02-02-05"] {
        let d = decode_file(&wav(stem)).unwrap();
        let want = reference(stem, "signal").data;
        assert_eq!(d.samples, want, "{stem}");
    }
}

#[test]
fn a_48k_original_is_close_to_librosas_soxr_resampling() {
    let stem = "03-01-05-02-01-01-01-48k";
    let d = decode_file(&wav(stem)).unwrap();
    let want = reference(stem, "signal").data;
    assert_eq!(d.source_rate, 48_000);
    assert_eq!(
        d.samples.len(),
        want.len(),
        "ceil(n / 3) samples, as librosa.resample"
    );
    let err = rms_diff(&d.samples, &want);
    let peak = want.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let max_err = d
        .samples
        .iter()
        .zip(&want)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    println!("48 kHz → 16 kHz vs librosa (soxr_hq): rms error {err:.2e}, max {max_err:.2e}, signal peak {peak:.3}");
    // Measured: rms 1.8e-4 (-73 dB below the peak), max 2.7e-3. The two resamplers'
    // anti-aliasing filters differ near 8 kHz, so exact equality is not expected.
    assert!(err < 2.5e-4, "rms error {err:e}");
    assert!(max_err < 4e-3, "max error {max_err:e}");
    // What the difference does to the features the model sees.
    let ours = Features::compute(&d.samples, DbRule::Librosa);
    let theirs = reference(stem, "mfcc").data;
    let mfcc_err = ours
        .matrix(FeatureKind::Mfcc)
        .data
        .iter()
        .zip(&theirs)
        .map(|(a, b)| (a - b).abs())
        .sum::<f32>()
        / theirs.len() as f32;
    println!("MFCC from our 48 kHz decode vs librosa's: mean abs error {mfcc_err:.3}");
    assert!(mfcc_err < 0.1, "mean MFCC error {mfcc_err}");
}

#[test]
fn float_samples_that_are_not_finite_are_refused() {
    let tmp = tmp();
    let path = tmp.path().join("nan.wav");
    let mut frames = sine(16_000, 0.1);
    frames[100] = f64::NAN;
    write_wav(&path, 16_000, 1, 32, true, &frames);
    assert!(matches!(
        decode_file(&path),
        Err(DecodeError::NonFinite { index: 100, .. })
    ));
    frames[100] = f64::INFINITY;
    write_wav(&path, 16_000, 1, 32, true, &frames);
    assert!(matches!(
        decode_file(&path),
        Err(DecodeError::NonFinite { index: 100, .. })
    ));
}

#[test]
fn empty_and_sampleless_files_are_refused() {
    let name = Path::new("x.wav");
    assert!(matches!(
        decode_bytes(&[], name),
        Err(DecodeError::EmptyFile { .. })
    ));
    let tmp = tmp();
    let path = tmp.path().join("zero.wav");
    write_wav(&path, 16_000, 1, 16, false, &[]);
    assert!(matches!(
        decode_file(&path),
        Err(DecodeError::NoSamples { .. })
    ));
    let missing = tmp.path().join("does-not-exist.wav");
    let err = decode_file(&missing).unwrap_err();
    assert!(matches!(err, DecodeError::Io { .. }));
    assert!(err.to_string().contains("does-not-exist.wav"), "{err}");
}

/// A minimal 16-bit PCM WAV header followed by `data`, with every field chosen.
fn header(rate: u32, channels: u16, bits: u16, tag: u16, data_len: u32) -> Vec<u8> {
    let block = channels * bits / 8;
    let mut h = Vec::new();
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&36u32.wrapping_add(data_len).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&tag.to_le_bytes());
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    h.extend_from_slice(&block.to_le_bytes());
    h.extend_from_slice(&bits.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_len.to_le_bytes());
    h
}

#[test]
fn a_header_that_claims_gigabytes_is_an_error_not_an_allocation() {
    let mut bytes = header(16_000, 1, 16, 1, 0xFFFF_FFF0);
    bytes.extend_from_slice(&[0u8; 64]);
    let err = decode_bytes(&bytes, Path::new("huge.wav")).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::TruncatedData {
                claimed: 0xFFFF_FFF0,
                present: 64,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("huge.wav"));
}

#[test]
fn odd_headers_get_a_clear_error() {
    let data = vec![0u8; 3200];
    let cases: [(Vec<u8>, &str); 6] = [
        (header(4_000, 1, 16, 1, 3200), "sample rate 4000 Hz"),
        (header(400_000, 1, 16, 1, 3200), "sample rate 400000 Hz"),
        (header(16_000, 0, 16, 1, 3200), "zero channels"),
        (header(16_000, 1, 12, 1, 3200), "12-bit"),
        (header(16_000, 1, 16, 2, 3200), "format tag 0x0002"),
        (header(16_000, 100, 16, 1, 3200), "100 channels"),
    ];
    for (mut bytes, expect) in cases {
        bytes.extend_from_slice(&data);
        let err = decode_bytes(&bytes, Path::new("odd.wav"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(expect) && err.starts_with("odd.wav: "),
            "expected '{expect}' in: {err}"
        );
    }
}

#[test]
fn every_truncation_of_a_real_file_is_an_error_never_a_panic() {
    let bytes = std::fs::read(wav("03-01-08-02-02-02-20")).unwrap();
    // The data chunk is the file's last: any shorter prefix is cut short somewhere.
    for len in 0..bytes.len() {
        let r = decode_bytes(&bytes[..len], Path::new("cut.wav"));
        assert!(
            r.is_err(),
            "a prefix of {len} of {} bytes decoded",
            bytes.len()
        );
    }
    assert!(decode_bytes(&bytes, Path::new("whole.wav")).is_ok());
}

/// A small deterministic generator, so the fuzz cases are the same on every run.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn random_bytes_are_an_error_never_a_panic() {
    let mut rng = XorShift(0x5eed_1234_abcd_0001);
    for i in 0..500 {
        let len = (rng.next() % 4096) as usize;
        let junk = rng.bytes(len);
        assert!(
            decode_bytes(&junk, Path::new("junk.bin")).is_err(),
            "case {i}"
        );
        // Junk behind a valid RIFF/WAVE start reaches the chunk parser.
        let mut riff = b"RIFF\x00\x00\x00\x00WAVE".to_vec();
        riff.extend_from_slice(&junk);
        let _ = decode_bytes(&riff, Path::new("junk.wav"));
        // Junk in the middle of a real file's header.
        let mut real = std::fs::read(wav("03-01-01-01-01-01-01")).unwrap();
        let at = 12 + (rng.next() % 40) as usize;
        let n = 1 + (rng.next() % 8) as usize;
        real[at..at + n].copy_from_slice(&rng.bytes(n));
        let _ = decode_bytes(&real, Path::new("damaged.wav"));
    }
    // Text is not audio.
    let err = decode_bytes(b"hello, this is not audio at all", Path::new("notes.txt")).unwrap_err();
    assert!(matches!(err, DecodeError::NotAudio { .. }), "{err}");
}

#[test]
fn compressed_formats_decode_through_symphonia() {
    // tests/fixtures/compressed: one RAVDESS file encoded with sox (FLAC, Ogg Vorbis q3)
    // and lame (MP3 64 kb/s); see tests/fixtures/README.md.
    let stem = "03-01-08-02-02-02-20";
    let original = decode_file(&wav(stem)).unwrap().samples;
    let dir = common::fixtures().join("compressed");
    let flac = decode_file(&dir.join(format!("{stem}.flac"))).unwrap();
    assert_eq!(flac.samples, original, "FLAC is lossless");
    for ext in ["ogg", "mp3"] {
        let d = decode_file(&dir.join(format!("{stem}.{ext}"))).unwrap_or_else(|e| panic!("{e}"));
        // Gapless decoding trims the encoders' delay and padding: same length, aligned.
        assert_eq!(d.samples.len(), original.len(), "{ext}");
        let err = rms_diff(&d.samples, &original);
        let level = rms_diff(&original, &vec![0.0; original.len()]);
        println!("{ext}: rms difference {err:.2e} for a signal of rms {level:.2e}");
        assert!(
            err < 0.25 * level,
            "{ext}: rms difference {err:e} vs signal {level:e}"
        );
    }
}
