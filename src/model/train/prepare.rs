//! Training data: every clip decoded and featurised once, with its augmented versions, so
//! an epoch only crops and batches frames already in memory.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use half::f16;
use rayon::prelude::*;

use crate::audio::{decode_file, DecodeError};
use crate::dsp::StreamingExtractor;
use crate::labels::Emotion;
use crate::model::augment;
use crate::model::dataset::Clip;
use crate::model::input::{signal_frames, to_f16};
use crate::model::rng::Rng;
use crate::model::room::RoomRecipe;

/// One augmented version made of every training clip besides the original.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Augmentation {
    /// White noise at this signal-to-noise ratio (dB).
    Noise(f64),
    /// Pitch (and formants) shifted by this many semitones, length kept.
    Pitch(f64),
    /// Played this many times faster, pitch kept.
    Stretch(f64),
}

impl Augmentation {
    fn apply(self, signal: &[f32], rng: &mut Rng) -> Vec<f32> {
        match self {
            Self::Noise(snr_db) => augment::add_noise(signal, snr_db, rng),
            Self::Pitch(semitones) => augment::pitch_shift(signal, semitones),
            Self::Stretch(rate) => augment::time_stretch(signal, rate),
        }
    }
}

impl std::fmt::Display for Augmentation {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Self::Noise(snr_db) => write!(f, "noise {snr_db} dB SNR"),
            Self::Pitch(semitones) => write!(f, "pitch {semitones:+} semitones"),
            Self::Stretch(rate) => write!(f, "time stretch {rate}"),
        }
    }
}

/// The augmented versions made of every training clip besides the original.
pub const AUGMENTATIONS: [Augmentation; 9] = [
    Augmentation::Noise(20.0),
    Augmentation::Pitch(1.0),
    Augmentation::Pitch(-1.0),
    Augmentation::Pitch(2.0),
    Augmentation::Pitch(-2.0),
    Augmentation::Pitch(3.0),
    Augmentation::Pitch(-3.0),
    Augmentation::Stretch(0.9),
    Augmentation::Stretch(1.1),
];

/// The lighter set used when the data are large (several corpora): pitch ±2 semitones
/// and both stretches, the versions the first recipe measured, at under half the
/// preparation time and memory of the full set.
pub const LIGHT_AUGMENTATIONS: [Augmentation; 4] = [
    Augmentation::Pitch(2.0),
    Augmentation::Pitch(-2.0),
    Augmentation::Stretch(0.9),
    Augmentation::Stretch(1.1),
];

/// A clip's label, who spoke it, and its model-input frames: the original first, then
/// augmented versions, then `room_versions` versions heard in synthetic rooms.
#[derive(Clone, Debug)]
pub struct PreparedClip {
    pub emotion: Emotion,
    pub actor: u8,
    pub corpus: String,
    pub speaker: String,
    pub versions: Vec<Vec<f16>>,
    pub room_versions: usize,
    /// Per-voice training ([`super::voices`]): shifts from the voice's baseline to poorer
    /// ones, `INPUT_DIM` each, one drawn per training window; empty: none.
    pub voice_shifts: Vec<f32>,
}

/// Which versions of each clip to prepare.
#[derive(Clone, Copy)]
pub enum Versions<'a> {
    /// The original audio only (validation, or training without augmentation).
    Original,
    /// The original, these augmentations, and `room_versions` versions in rooms drawn by
    /// the recipe, each over one of the others (training).
    Augmented {
        augmentations: &'a [Augmentation],
        room: Option<&'a RoomRecipe>,
        room_versions: usize,
    },
    /// One version: the clip in a room drawn for it from the seed alone, the same on every
    /// run (a degraded validation set).
    InRoom(&'a RoomRecipe),
}

/// Decodes and featurises clips in parallel; `augment` adds the [`AUGMENTATIONS`].
/// `on_done` is called once per clip (for a progress bar).
pub fn prepare(
    clips: &[Clip],
    augment: bool,
    seed: u64,
    on_done: &(dyn Fn() + Sync),
) -> Result<Vec<PreparedClip>, DecodeError> {
    let versions = if augment {
        Versions::Augmented {
            augmentations: &AUGMENTATIONS,
            room: None,
            room_versions: 0,
        }
    } else {
        Versions::Original
    };
    prepare_versions(clips, versions, seed, &[], on_done)
}

/// Decodes and featurises clips in parallel, making the `versions` asked for; `babble`
/// holds other speakers' audio for the rooms' babble noise.
pub fn prepare_versions(
    clips: &[Clip],
    versions: Versions,
    seed: u64,
    babble: &[Vec<f32>],
    on_done: &(dyn Fn() + Sync),
) -> Result<Vec<PreparedClip>, DecodeError> {
    let never = AtomicBool::new(false);
    prepare_versions_cancellable(clips, versions, seed, babble, on_done, &never)
        .map(Option::unwrap_or_default)
}

/// [`prepare_versions`], stopping when `cancel` is set: each clip checks it before it is
/// decoded, and `Ok(None)` says preparation was cancelled (what was prepared is dropped).
pub fn prepare_versions_cancellable(
    clips: &[Clip],
    versions: Versions,
    seed: u64,
    babble: &[Vec<f32>],
    on_done: &(dyn Fn() + Sync),
    cancel: &AtomicBool,
) -> Result<Option<Vec<PreparedClip>>, DecodeError> {
    let babble: Vec<&[f32]> = babble.iter().map(Vec::as_slice).collect();
    let sessions = SessionAudio::of(clips);
    let prepared: Vec<Option<PreparedClip>> = clips
        .par_iter()
        .enumerate()
        .map_init(StreamingExtractor::new, |extractor, (i, clip)| {
            if cancel.load(Ordering::Relaxed) {
                return Ok(None);
            }
            let signal = sessions.signal(clip)?;
            let clip_seed = seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut frames = |audio: &[f32]| to_f16(&signal_frames(extractor, audio));
            let mut room_versions = 0;
            let versions = match versions {
                Versions::Original => vec![frames(&signal)],
                Versions::InRoom(recipe) => {
                    let mut rng = Rng::new(clip_seed);
                    vec![frames(&recipe.degrade(&signal, &babble, &mut rng))]
                }
                Versions::Augmented {
                    augmentations,
                    room,
                    room_versions: rooms,
                } => {
                    let mut rng = Rng::new(clip_seed);
                    let mut audio = vec![signal];
                    for augmentation in augmentations {
                        let version = augmentation.apply(&audio[0], &mut rng);
                        audio.push(version);
                    }
                    // Each room hears one of the versions above, drawn at random: the
                    // pitch-shifted "voices" matter most to unseen speakers, and rooms over
                    // the original alone would thin them out.
                    let mut heard = Vec::new();
                    if let Some(recipe) = room {
                        for _ in 0..rooms {
                            let source = &audio[rng.below(audio.len())];
                            heard.push(recipe.degrade(source, &babble, &mut rng));
                            room_versions += 1;
                        }
                    }
                    audio.iter().chain(&heard).map(|a| frames(a)).collect()
                }
            };
            on_done();
            Ok(Some(PreparedClip {
                emotion: clip.emotion,
                actor: clip.actor,
                corpus: clip.corpus.clone(),
                speaker: clip.speaker.clone(),
                versions,
                room_versions,
                voice_shifts: Vec::new(),
            }))
        })
        .collect::<Result<_, DecodeError>>()?;
    if cancel.load(Ordering::Relaxed) {
        return Ok(None);
    }
    Ok(Some(prepared.into_iter().flatten().collect()))
}

/// Other speakers' audio for the rooms' babble noise: up to 40 clips spread over the list
/// (so over its speakers), in a fixed order so a seeded room is the same on every run.
pub fn babble_pool(clips: &[Clip]) -> Result<Vec<Vec<f32>>, DecodeError> {
    let step = (clips.len() / 40).max(1);
    clips
        .iter()
        .step_by(step)
        .take(40)
        .map(clip_signal)
        .collect()
}

/// The files that several clips are stretches of (a session's labelled regions), each
/// decoded once for all of them rather than once per region: held from the first of its
/// clips prepared until the last, so no more of them are in memory at once than threads
/// are working on.
struct SessionAudio<'a> {
    files: HashMap<&'a Path, SharedFile>,
}

/// A shared file's audio while clips of it are still to come, and how many are.
type SharedFile = (Mutex<Option<Arc<Vec<f32>>>>, AtomicUsize);

impl<'a> SessionAudio<'a> {
    fn of(clips: &'a [Clip]) -> Self {
        let mut counts: HashMap<&Path, usize> = HashMap::new();
        for c in clips.iter().filter(|c| c.span.is_some()) {
            *counts.entry(c.path.as_path()).or_default() += 1;
        }
        let files = counts
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(path, n)| (path, (Mutex::new(None), AtomicUsize::new(n))))
            .collect();
        Self { files }
    }

    /// `clip`'s audio, as [`clip_signal`] gives it.
    fn signal(&self, clip: &Clip) -> Result<Vec<f32>, DecodeError> {
        let (Some((start, end)), Some((audio, left))) =
            (clip.span, self.files.get(clip.path.as_path()))
        else {
            return clip_signal(clip);
        };
        let whole = {
            // A thread that finds the file being decoded waits for it: it needs it too.
            let mut held = audio.lock().unwrap_or_else(PoisonError::into_inner);
            match &*held {
                Some(whole) => Arc::clone(whole),
                None => {
                    let whole = Arc::new(decode_file(&clip.path)?.samples);
                    *held = Some(Arc::clone(&whole));
                    whole
                }
            }
        };
        if left.fetch_sub(1, Ordering::AcqRel) == 1 {
            *audio.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
        Ok(span_of(&whole, start, end))
    }
}

/// A clip's audio: the whole file, or the labelled stretch of a session.
pub fn clip_signal(clip: &Clip) -> Result<Vec<f32>, DecodeError> {
    let signal = decode_file(&clip.path)?.samples;
    Ok(match clip.span {
        Some((start, end)) => span_of(&signal, start, end),
        None => signal,
    })
}

/// The samples from `start` to `end` seconds (as much of it as there is).
fn span_of(signal: &[f32], start: f64, end: f64) -> Vec<f32> {
    let rate = f64::from(crate::dsp::SAMPLE_RATE);
    let b = ((end * rate) as usize).min(signal.len());
    let a = ((start * rate) as usize).min(b);
    signal.get(a..b).unwrap_or_default().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names the model card records for its augmentation.
    #[test]
    fn augmentations_are_named_plainly() {
        let names: Vec<String> = AUGMENTATIONS.iter().map(ToString::to_string).collect();
        assert_eq!(names[0], "noise 20 dB SNR");
        assert!(
            names.contains(&"pitch -3 semitones".to_owned()),
            "{names:?}"
        );
        assert!(
            names.contains(&"pitch +1 semitones".to_owned()),
            "{names:?}"
        );
        assert!(names.contains(&"time stretch 0.9".to_owned()), "{names:?}");
    }

    /// Cancelling stops before the next clip is decoded: here none is (the files do not
    /// exist, so decoding any would be an error).
    #[test]
    fn a_cancelled_preparation_decodes_nothing() {
        let clip = |i: usize| {
            Clip::labelled(
                format!("/nonexistent/{i}.wav").into(),
                Emotion::Happy,
                "c",
                "s",
            )
        };
        let clips: Vec<Clip> = (0..4).map(clip).collect();
        let cancel = AtomicBool::new(true);
        let prepared =
            prepare_versions_cancellable(&clips, Versions::Original, 1, &[], &|| {}, &cancel);
        assert!(
            matches!(prepared, Ok(None)),
            "{:?}",
            prepared.map(|p| p.map(|v| v.len()))
        );
        cancel.store(false, Ordering::Relaxed);
        let decoded =
            prepare_versions_cancellable(&clips, Versions::Original, 1, &[], &|| {}, &cancel);
        assert!(decoded.is_err(), "the missing files were not read");
    }

    /// Regions of one session file decoded once give what decoding it per region gives.
    #[test]
    fn regions_of_one_file_are_its_stretches() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/wav/03-01-01-01-01-01-01.wav");
        let region = |a: f64, b: f64| Clip {
            span: Some((a, b)),
            ..Clip::labelled(path.clone(), Emotion::Neutral, "sessions", "sessions")
        };
        let clips: Vec<Clip> = [(0.0, 1.0), (0.5, 2.5), (1.0, 99.0), (3.0, 3.7)]
            .iter()
            .map(|&(a, b)| region(a, b))
            .collect();
        let shared = prepare_versions(&clips, Versions::Original, 1, &[], &|| {}).unwrap();
        for (clip, prepared) in clips.iter().zip(&shared) {
            let alone = prepare_versions(
                std::slice::from_ref(clip),
                Versions::Original,
                1,
                &[],
                &|| {},
            )
            .unwrap();
            assert_eq!(alone[0].versions, prepared.versions, "{:?}", clip.span);
        }
        let sessions = SessionAudio::of(&clips);
        for c in &clips {
            sessions.signal(c).unwrap();
        }
        // The file is let go after its last region.
        let (audio, left) = &sessions.files[path.as_path()];
        assert!(audio.lock().unwrap().is_none());
        assert_eq!(left.load(Ordering::Relaxed), 0);
    }
}
