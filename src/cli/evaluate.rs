//! `emovox evaluate --data DIR... | --sessions DIR... [--weights DIR] [--average-with DIR...]
//! [--json]`: scores per corpus (each folder given) and over all clips.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::bail;
use emovox::audio::decode_file;
use emovox::dsp::StreamingExtractor;
use emovox::model::classifier::{argmax, mean, ModelSource, Probabilities};
use emovox::model::dataset::{scan_all, Clip, Split};
use emovox::model::input::{signal_frames, to_f16};
use emovox::model::metrics::{Outcome, Scoreboard};
use emovox::model::room::RoomRecipe;
use emovox::model::train::prepare::babble_pool;
use emovox::model::voice::{voice_name, VoiceBaseline, VoiceBaselines};
use emovox::model::Classifier;
use emovox::session::{self, Session};
use half::f16;
use rayon::prelude::*;

use super::common::{clip_pool, MIN_REGION_S};
use super::report;

#[derive(clap::Args)]
pub struct Args {
    /// Folders of labelled audio, each one corpus: RAVDESS names
    /// (Actor_NN/03-01-EE-II-SS-RR-AA.wav), a metadata.csv (file_name,label[,speaker]),
    /// or a folder per label (angry/*.wav).
    #[arg(long, num_args = 1.., required_unless_present = "sessions")]
    data: Vec<PathBuf>,
    /// Recorded sessions to score on instead: each labelled region is one clip.
    #[arg(long, num_args = 1..)]
    sessions: Vec<PathBuf>,
    /// Folder holding emovox.safetensors and emovox.json [default: $EMOVOX_WEIGHTS, else
    /// the shipped model, built into emovox].
    #[arg(long)]
    weights: Option<PathBuf>,
    /// More models (folders, or `built-in`) whose probabilities are averaged with the
    /// first's, each model weighing the same (an ensemble folder counts once), so an
    /// ensemble of models trained apart is scored as one model: a way to try one before
    /// training it with `train --members`.
    #[arg(long, num_args = 1.., value_name = "DIR")]
    average_with: Vec<PathBuf>,
    /// One JSON line instead of tables.
    #[arg(long)]
    json: bool,
    /// Score only these speakers, as CORPUS:SPEAKER (ravdess:17 is Actor_17), e.g. the
    /// speakers a model was validated on.
    #[arg(long)]
    speakers: Option<String>,
    /// Play every clip in a synthetic room first (reverberation, noise or babble of other
    /// clips, microphone band limits and colouring, level; the training room recipe), one
    /// room per clip drawn from this seed: the same degraded set on every run.
    #[arg(long, value_name = "SEED")]
    in_rooms: Option<u64>,
    /// With --in-rooms: one room per speaker (corpus and speaker), each of their clips
    /// with its own stretch of that room's noise, as a person's session in one room
    /// sounds; a per-voice model's baseline then hears the room too.
    #[arg(long, requires = "in_rooms")]
    room_per_speaker: bool,
    /// A per-voice model (`train --centre-voice`) reads each clip on its own baseline, as
    /// it reads a lone file, instead of on its speaker's (all their clips; a session's
    /// regions, all of that session's).
    #[arg(long)]
    lone_files: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let model = Models::open(
        ModelSource::choose(args.weights.clone()),
        &args.average_with,
    )?;
    if args.data.is_empty() {
        return run_sessions(&args, &model, started);
    }
    let mut scanned = scan_all(&args.data)?;
    report::rejected(&scanned.rejected);
    if let Some(spec) = &args.speakers {
        let split = Split::parse(None, Some(spec), &[]).map_err(anyhow::Error::msg)?;
        split.check(&scanned).map_err(anyhow::Error::msg)?;
        scanned.clips = split.apply(std::mem::take(&mut scanned.clips)).0;
    }
    if scanned.clips.is_empty() {
        bail!("no labelled clips found in {}", folder_list(&args.data));
    }
    let results = read_clips(
        &model,
        &scanned.clips,
        args.in_rooms.map(|seed| Rooms {
            seed,
            per_speaker: args.room_per_speaker,
        }),
        args.lone_files,
    )?;
    let mut outcomes = Vec::new();
    for r in results {
        match r {
            Ok(o) => outcomes.push(o),
            Err(e) => eprintln!("emovox: {e:#}"),
        }
    }
    let board = Scoreboard::from_outcomes(&outcomes);
    let rooms = args.in_rooms.map_or_else(String::new, |seed| {
        let each = if args.room_per_speaker {
            "speaker"
        } else {
            "clip"
        };
        format!(", in synthetic rooms (seed {seed}, one per {each})")
    });
    let baselines = match (model.reads_per_voice(), args.lone_files) {
        (true, false) => ", each clip read on its speaker's baseline (all their clips)",
        (true, true) => ", each clip read on its own baseline (--lone-files)",
        _ => "",
    };
    print(
        &args,
        &board,
        &format!("{}{rooms}{baselines}", model.name()),
        started,
    );
    if outcomes.len() < scanned.clips.len() {
        bail!(
            "{} of {} files could not be read",
            scanned.clips.len() - outcomes.len(),
            scanned.clips.len()
        );
    }
    Ok(())
}

/// Synthetic rooms the clips are played in first: one per clip drawn from `seed`, or one
/// per speaker.
#[derive(Clone, Copy, Debug)]
pub struct Rooms {
    pub seed: u64,
    pub per_speaker: bool,
}

/// Each clip of `clips_in` read by `model` (in `rooms` when given), in order: a per-voice
/// model reads each clip on its speaker's baseline (all their clips), or, with
/// `lone_files`, on its own. A clip that cannot be read is its error.
pub fn read_clips(
    model: &Models,
    clips_in: &[Clip],
    rooms: Option<Rooms>,
    lone_files: bool,
) -> anyhow::Result<Vec<anyhow::Result<Outcome>>> {
    let recipe = RoomRecipe::default();
    let babble = match rooms {
        Some(_) => babble_pool(clips_in)?,
        None => Vec::new(),
    };
    let babble: Vec<&[f32]> = babble.iter().map(Vec::as_slice).collect();
    let clips: Vec<(usize, &Clip)> = clips_in.iter().enumerate().collect();
    // Each speaker's room, by the order speakers first appear.
    let mut room_of: HashMap<String, u64> = HashMap::new();
    for clip in clips_in {
        let next = room_of.len() as u64;
        room_of
            .entry(voice_name(&clip.corpus, &clip.speaker))
            .or_insert(next);
    }
    // A per-voice model reads each clip on a baseline of all its speaker's clips: their
    // frames are kept until every clip is heard. Any other reading needs each clip alone.
    let by_speaker = model.reads_per_voice() && !lone_files;
    let outcome = |clip: &Clip, probs: &Probabilities| Outcome {
        corpus: clip.corpus.clone(),
        truth: clip.emotion.index(),
        predicted: argmax(probs),
    };
    let heard: Vec<anyhow::Result<Heard>> = clip_pool(None)?.install(|| {
        clips
            .par_iter()
            .map_init(StreamingExtractor::new, |extractor, &(i, clip)| {
                let mut signal = decode_file(&clip.path)?.samples;
                match (rooms, room_of.get(&voice_name(&clip.corpus, &clip.speaker))) {
                    (
                        Some(Rooms {
                            seed,
                            per_speaker: true,
                        }),
                        Some(&room),
                    ) => {
                        signal =
                            recipe.degrade_in_shared_room(&signal, &babble, seed, room, i as u64);
                    }
                    (Some(Rooms { seed, .. }), _) => {
                        signal = recipe.degrade_seeded(&signal, &babble, seed, i as u64);
                    }
                    (None, _) => {}
                }
                let frames = to_f16(&signal_frames(extractor, &signal));
                Ok(if by_speaker {
                    Heard::Frames(frames)
                } else {
                    Heard::Read(outcome(clip, &model.classify_frames_of(None, &frames)?))
                })
            })
            .collect()
    });
    let mut voices = VoiceBaselines::default();
    for (h, (_, clip)) in heard.iter().zip(&clips) {
        if let Ok(Heard::Frames(frames)) = h {
            voices.add_stretch(&voice_name(&clip.corpus, &clip.speaker), frames);
        }
    }
    let results: Vec<anyhow::Result<Outcome>> = clip_pool(None)?.install(|| {
        heard
            .into_par_iter()
            .zip(clips.par_iter())
            .map(|(h, (_, clip))| match h? {
                Heard::Read(o) => Ok(o),
                Heard::Frames(frames) => {
                    let voice = voices.get(&voice_name(&clip.corpus, &clip.speaker));
                    Ok(outcome(clip, &model.classify_frames_of(voice, &frames)?))
                }
            })
            .collect()
    });
    Ok(results)
}

/// A clip heard: its frames, kept for its speaker's baseline, or already read.
enum Heard {
    Frames(Vec<f16>),
    Read(Outcome),
}

/// The model scored: one, or several whose probabilities are averaged (never empty).
pub struct Models(Vec<(ModelSource, Classifier)>);

impl Models {
    /// One model, loaded already.
    pub fn one(source: ModelSource, model: Classifier) -> Self {
        Self(vec![(source, model)])
    }

    fn open(first: ModelSource, others: &[PathBuf]) -> anyhow::Result<Self> {
        std::iter::once(first)
            .chain(others.iter().map(|name| ModelSource::parse(name)))
            .map(|source| {
                let model = Classifier::open(&source)?;
                Ok((source, model))
            })
            .collect::<anyhow::Result<_>>()
            .map(Self)
    }

    /// Whether any of the models reads per voice.
    fn reads_per_voice(&self) -> bool {
        self.0.iter().any(|(_, model)| model.reads_per_voice())
    }

    /// The models' mean for one clip's frames, of a voice whose baseline is `voice` (a
    /// per-voice model without one reads the clip on its own).
    fn classify_frames_of(
        &self,
        voice: Option<&VoiceBaseline>,
        frames: &[f16],
    ) -> anyhow::Result<Probabilities> {
        let each = self
            .0
            .iter()
            .map(|(_, model)| model.classify_frames_of(voice, frames))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(mean(&each))
    }

    fn name(&self) -> String {
        let named: Vec<String> = self
            .0
            .iter()
            .map(|(source, model)| format!("{} ({source})", model.card().name))
            .collect();
        format!("model {}", named.join(" averaged with "))
    }
}

/// Folders as a message names them: `a, b, c`.
pub fn folder_list(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Scores the model on the labelled regions of recorded sessions.
fn run_sessions(args: &Args, model: &Models, started: Instant) -> anyhow::Result<()> {
    let mut outcomes = Vec::new();
    let mut extractor = StreamingExtractor::new();
    for dir in &args.sessions {
        let session = Session::load(dir)?;
        let audio = decode_file(&dir.join(session::AUDIO_FILE))?.samples;
        let rate = f64::from(emovox::dsp::SAMPLE_RATE);
        let regions: Vec<(usize, Vec<f16>)> = session
            .labels
            .iter()
            .filter(|r| r.end_s - r.start_s >= MIN_REGION_S)
            .filter_map(|region| {
                let a = ((region.start_s * rate) as usize).min(audio.len());
                let b = ((region.end_s * rate) as usize).min(audio.len());
                let frames = to_f16(&signal_frames(&mut extractor, audio.get(a..b)?));
                (b > a).then_some((region.label.index(), frames))
            })
            .collect();
        // A session is one voice: its regions' baseline.
        let mut voice = VoiceBaseline::default();
        if !args.lone_files {
            for (_, frames) in &regions {
                voice.add_stretch(frames);
            }
        }
        for (truth, frames) in &regions {
            let probs = model.classify_frames_of(Some(&voice), frames)?;
            outcomes.push(Outcome {
                corpus: "sessions".into(),
                truth: *truth,
                predicted: argmax(&probs),
            });
        }
    }
    if outcomes.is_empty() {
        bail!("the sessions hold no labelled regions of {MIN_REGION_S} s or more");
    }
    let board = Scoreboard::from_outcomes(&outcomes);
    let what = format!(
        "{} on {} labelled regions of {} sessions",
        model.name(),
        outcomes.len(),
        args.sessions.len()
    );
    print(args, &board, &what, started);
    Ok(())
}

/// The scores as tables (with `what` was scored and how long it took on stderr), or as
/// one JSON line.
fn print(args: &Args, board: &Scoreboard, what: &str, started: Instant) {
    if args.json {
        println!("{}", report::scoreboard_json(board));
    } else {
        report::print_scoreboard(board);
        eprintln!("{what}, {:.1} s", started.elapsed().as_secs_f64());
    }
}
