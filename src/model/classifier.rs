//! A trained model ready to use: weights, card and normalisation together. It classifies
//! the same sliding windows everywhere: 3.0 s windows every 0.25 s, softmax averaged over
//! a file.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::PoisonError;

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use half::f16;

use super::card::{member_prefix, CardError, ModelCard};
use super::infer::InferenceNet;
use super::input::{
    fill_window, signal_frames, to_f16, window_starts, Normaliser, INPUT_DIM, WINDOW_FRAMES,
};
use super::net::EmotionNet;
use super::voice::VoiceBaseline;
use crate::dsp::StreamingExtractor;
use crate::labels::Emotion;

/// Windows per forward pass of windows that do not share a clip (training's validation
/// windows, padded short clips). One: when it was chosen, batches saved nothing per window
/// (`cargo bench --bench model`: 1.8 ms alone, 2.1 ms each in fours, 1.8 ms in eights);
/// a file's windows take the shared front end instead ([`window_probabilities`]).
const BATCH: usize = 1;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Card(#[from] CardError),
    #[error("{}: cannot load the weights: {reason}", path.display())]
    Weights {
        path: std::path::PathBuf,
        reason: candle_core::Error,
    },
    #[error("the model failed: {0}")]
    Run(#[from] candle_core::Error),
}

/// Probabilities for the eight emotions, in [`Emotion::ALL`] order.
pub type Probabilities = [f32; Emotion::COUNT];

/// The shipped model (`weights/` in the source tree), compiled into the binary so that an
/// installed or copied emovox needs no files beside it (1.5 MB).
const SHIPPED_CARD: &str = include_str!("../../weights/emovox.json");
const SHIPPED_WEIGHTS: &[u8] = include_bytes!("../../weights/emovox.safetensors");
/// What errors about the built-in model name instead of a folder.
const SHIPPED_NAME: &str = "<built-in model>";

/// Where a model is loaded from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelSource {
    /// The shipped model, built into the binary.
    Shipped,
    /// A folder holding `emovox.json` and `emovox.safetensors`.
    Folder(PathBuf),
}

impl ModelSource {
    /// `--weights DIR` when given, else the folder `$EMOVOX_WEIGHTS` names when it is set
    /// and not empty, else the shipped model.
    pub fn choose(weights: Option<PathBuf>) -> Self {
        weights
            .or_else(|| {
                std::env::var_os("EMOVOX_WEIGHTS")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .map_or(Self::Shipped, Self::Folder)
    }
}

/// What `--from` and the app call the built-in model.
pub const BUILT_IN: &str = "built-in";

impl ModelSource {
    /// A model named on the command line: `built-in` is the shipped model, anything else
    /// a folder (a folder really called so is `./built-in`).
    pub fn parse(name: &Path) -> Self {
        if name.as_os_str() == BUILT_IN {
            Self::Shipped
        } else {
            Self::Folder(name.to_owned())
        }
    }

    /// The weights file, as errors name it (the built-in model's under a made-up folder).
    pub fn weights_path(&self) -> PathBuf {
        match self {
            Self::Shipped => ModelCard::weights_path(Path::new(SHIPPED_NAME)),
            Self::Folder(dir) => ModelCard::weights_path(dir),
        }
    }

    /// The model's card, and its weights file's bytes.
    pub fn read(&self) -> Result<(ModelCard, std::borrow::Cow<'static, [u8]>), ModelError> {
        match self {
            Self::Shipped => Ok((shipped_card()?, std::borrow::Cow::Borrowed(SHIPPED_WEIGHTS))),
            Self::Folder(dir) => {
                let card = ModelCard::load(dir)?;
                let path = ModelCard::weights_path(dir);
                let bytes = std::fs::read(&path).map_err(|reason| ModelError::Weights {
                    path: path.clone(),
                    reason: reason.into(),
                })?;
                Ok((card, std::borrow::Cow::Owned(bytes)))
            }
        }
    }
}

/// The shipped model's card (parsed from the copy built into the binary).
pub fn shipped_card() -> Result<ModelCard, CardError> {
    ModelCard::parse(SHIPPED_CARD, &ModelCard::json_path(Path::new(SHIPPED_NAME)))
}

/// The shipped model's name and weights fingerprint, which its exemplars must carry.
pub fn shipped_id() -> crate::model::train::exemplars::ModelId {
    crate::model::train::exemplars::ModelId {
        name: shipped_card().map_or_else(|_| String::new(), |c| c.name),
        weights: crate::model::train::exemplars::weights_id(SHIPPED_WEIGHTS),
    }
}

impl fmt::Display for ModelSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shipped => f.write_str("built in"),
            Self::Folder(dir) => write!(f, "{}", dir.display()),
        }
    }
}

pub struct Classifier {
    /// The card's members, then each blended part's: every network's probabilities count
    /// once in the mean.
    groups: Vec<Group>,
    card: ModelCard,
}

/// Networks that read frames the same way.
struct Group {
    nets: Vec<InferenceNet>,
    norm: Normaliser,
    per_voice: bool,
}

impl Classifier {
    /// The model `source` names.
    pub fn open(source: &ModelSource) -> Result<Self, ModelError> {
        match source {
            ModelSource::Shipped => Self::shipped(),
            ModelSource::Folder(dir) => Self::load(dir),
        }
    }

    /// The shipped model, from the copy built into the binary (no files are read).
    pub fn shipped() -> Result<Self, ModelError> {
        let dir = Path::new(SHIPPED_NAME);
        Self::from_safetensors(
            shipped_card()?,
            SHIPPED_WEIGHTS,
            &ModelCard::weights_path(dir),
        )
    }

    /// Loads `emovox.json` and `emovox.safetensors` from `dir`, refusing a card this code
    /// cannot feed.
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        let (card, bytes) = ModelSource::Folder(dir.to_path_buf()).read()?;
        Self::from_safetensors(card, &bytes, &ModelCard::weights_path(dir))
    }

    /// The networks `card` describes with the weights in `bytes` (a safetensors file;
    /// `path` names it in errors). Every parameter of every member must be there; other
    /// tensors are ignored.
    fn from_safetensors(card: ModelCard, bytes: &[u8], path: &Path) -> Result<Self, ModelError> {
        Self::from_tensors(card, &read_tensors(bytes, path)?, path)
    }

    /// [`Classifier::from_safetensors`] from the file's tensors, already read; the card is
    /// checked here too ([`ModelCard::check`]), as one made in memory (a blend) may not
    /// have been.
    pub fn from_tensors(
        card: ModelCard,
        tensors: &std::collections::HashMap<String, candle_core::Tensor>,
        path: &Path,
    ) -> Result<Self, ModelError> {
        card.check(path)?;
        let weights = |reason| ModelError::Weights {
            path: path.to_owned(),
            reason,
        };
        let mut nets = Vec::with_capacity(card.networks());
        for reading in card.readings() {
            for _ in 0..reading.members {
                let varmap = VarMap::new();
                let net = EmotionNet::new(
                    reading.net,
                    VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
                )?;
                set_weights(&varmap, tensors, &member_prefix(nets.len())).map_err(weights)?;
                nets.push(net);
            }
        }
        Self::from_nets(&nets.iter().collect::<Vec<_>>(), card)
    }

    /// A classifier from networks trained in this process (an ensemble's members in
    /// order, then a blend's parts'), which it copies: later changes to their weights do
    /// not reach it.
    pub fn from_nets(nets: &[&EmotionNet], card: ModelCard) -> Result<Self, ModelError> {
        if nets.len() != card.networks() {
            return Err(ModelError::Run(candle_core::Error::Msg(format!(
                "{} networks for a card of {}",
                nets.len(),
                card.networks()
            ))));
        }
        let mut rest = nets;
        let mut groups = Vec::new();
        for reading in card.readings() {
            let (these, after) = rest.split_at(reading.members);
            rest = after;
            let n = reading.normalisation;
            groups.push(Group {
                nets: these
                    .iter()
                    .map(|net| InferenceNet::new(net))
                    .collect::<candle_core::Result<_>>()?,
                norm: Normaliser::from_mean_std(&n.mean, &n.std),
                per_voice: n.per_voice,
            });
        }
        Ok(Self { groups, card })
    }

    pub fn card(&self) -> &ModelCard {
        &self.card
    }

    /// Whether the model reads each frame minus its voice's baseline: the card's
    /// `normalisation.per_voice`, or any blended part's ([`ModelCard::reads_per_voice`]).
    pub fn reads_per_voice(&self) -> bool {
        self.groups.iter().any(|g| g.per_voice)
    }

    /// Probabilities for the windows of `frames` (model inputs, f16) starting at `starts`;
    /// a per-voice model takes the voice's baseline from `frames` themselves (see
    /// [`Classifier::windows_of`]).
    pub fn windows(
        &self,
        frames: &[f16],
        starts: &[usize],
    ) -> Result<Vec<Probabilities>, ModelError> {
        self.windows_of(None, frames, starts)
    }

    /// [`Classifier::windows`] of a voice whose baseline is `voice`: a per-voice model
    /// reads the frames minus it, or, without one (or one that has heard nothing), minus
    /// the baseline of `frames` alone, all that is known of a lone file's voice. Other
    /// models ignore it.
    pub fn windows_of(
        &self,
        voice: Option<&VoiceBaseline>,
        frames: &[f16],
        starts: &[usize],
    ) -> Result<Vec<Probabilities>, ModelError> {
        let baseline = self.baseline(voice, frames);
        if let [group] = &self.groups[..] {
            let norm = group.normaliser(baseline.as_deref());
            return Ok(window_probabilities(&group.nets, &norm, frames, starts)?);
        }
        // A blend: each group's mean weighted by its networks, so every network counts once.
        let mut sums = vec![[0.0f32; Emotion::COUNT]; starts.len()];
        for group in &self.groups {
            let norm = group.normaliser(baseline.as_deref());
            let probs = window_probabilities(&group.nets, &norm, frames, starts)?;
            for (sum, p) in sums.iter_mut().zip(probs) {
                for (s, v) in sum.iter_mut().zip(p) {
                    *s += v * group.nets.len() as f32;
                }
            }
        }
        let n = self.card.networks() as f32;
        for row in &mut sums {
            for v in row.iter_mut() {
                *v /= n;
            }
        }
        Ok(sums)
    }

    /// Mean of the window probabilities over all frames of a clip.
    pub fn classify_frames(&self, frames: &[f16]) -> Result<Probabilities, ModelError> {
        self.classify_frames_of(None, frames)
    }

    /// [`Classifier::classify_frames`] of a voice whose baseline is `voice` (as in
    /// [`Classifier::windows_of`]).
    pub fn classify_frames_of(
        &self,
        voice: Option<&VoiceBaseline>,
        frames: &[f16],
    ) -> Result<Probabilities, ModelError> {
        let starts = window_starts(frames.len() / INPUT_DIM);
        Ok(mean(&self.windows_of(voice, frames, &starts)?))
    }

    /// The baseline a per-voice model reads `frames` on: the voice's, or, without one
    /// (or one that has heard nothing), that of the frames alone. None for other models.
    fn baseline(&self, voice: Option<&VoiceBaseline>, frames: &[f16]) -> Option<Vec<f32>> {
        if !self.reads_per_voice() {
            return None;
        }
        voice
            .and_then(VoiceBaseline::mean)
            .or_else(|| VoiceBaseline::of_stretch(frames).mean())
    }

    /// Classifies a 16 kHz mono signal as a whole.
    pub fn classify_signal(
        &self,
        extractor: &mut StreamingExtractor,
        signal: &[f32],
    ) -> Result<Probabilities, ModelError> {
        let frames = to_f16(&signal_frames(extractor, signal));
        self.classify_frames(&frames)
    }
}

impl Group {
    /// The group's normaliser, for a per-voice group with its mean moved by the voice's
    /// baseline: `(x − b − mean) / std` is `(x − (mean + b)) / std`, so centring costs
    /// nothing per frame.
    fn normaliser(&self, baseline: Option<&[f32]>) -> Cow<'_, Normaliser> {
        match baseline {
            Some(b) if self.per_voice => Cow::Owned(self.norm.shifted(b)),
            _ => Cow::Borrowed(&self.norm),
        }
    }
}

/// The tensors of a safetensors file's bytes (`path` names it in errors).
pub fn read_tensors(
    bytes: &[u8],
    path: &Path,
) -> Result<std::collections::HashMap<String, candle_core::Tensor>, ModelError> {
    candle_core::safetensors::load_buffer(bytes, &Device::Cpu).map_err(|reason| {
        ModelError::Weights {
            path: path.to_owned(),
            reason,
        }
    })
}

/// Sets every variable of `varmap` to the tensor named `prefix` + its name in `tensors`
/// (a safetensors file's contents).
fn set_weights(
    varmap: &VarMap,
    tensors: &std::collections::HashMap<String, candle_core::Tensor>,
    prefix: &str,
) -> candle_core::Result<()> {
    let vars = varmap.data().lock().unwrap_or_else(PoisonError::into_inner);
    for (name, var) in vars.iter() {
        let name = format!("{prefix}{name}");
        let Some(tensor) = tensors.get(&name) else {
            candle_core::bail!("tensor {name} is missing");
        };
        var.set(tensor)
            .map_err(|e| candle_core::Error::Msg(format!("tensor {name}: {e}")))?;
    }
    Ok(())
}

/// Writes every member's variables (in member order) to one safetensors file, each under
/// [`member_prefix`] of its place: for one network, what `VarMap::save` writes.
pub fn save_members(varmaps: &[&VarMap], path: &Path) -> candle_core::Result<()> {
    candle_core::safetensors::save(&member_tensors(varmaps), path)
}

/// Every member's variables in one map, each under [`member_prefix`] of its place.
pub fn member_tensors(
    varmaps: &[&VarMap],
) -> std::collections::HashMap<String, candle_core::Tensor> {
    let mut out = std::collections::HashMap::new();
    for (i, varmap) in varmaps.iter().enumerate() {
        let vars = varmap.data().lock().unwrap_or_else(PoisonError::into_inner);
        for (name, var) in vars.iter() {
            out.insert(
                format!("{}{name}", member_prefix(i)),
                var.as_tensor().clone(),
            );
        }
    }
    out
}

/// Member `i`'s tensors, under their own names, from a weights file's contents.
pub fn member_weights(
    tensors: &std::collections::HashMap<String, candle_core::Tensor>,
    i: usize,
) -> std::collections::HashMap<String, candle_core::Tensor> {
    let prefix = member_prefix(i);
    tensors
        .iter()
        .filter_map(|(name, t)| {
            let own = name.strip_prefix(&prefix)?;
            // The first member's names carry no prefix; the others' are not its.
            (i > 0 || !is_member_name(own)).then(|| (own.to_owned(), t.clone()))
        })
        .collect()
}

/// Whether a tensor name belongs to a member after the first (`member{i}.…`).
fn is_member_name(name: &str) -> bool {
    name.strip_prefix("member")
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(digits, _)| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// Windows the shared front end takes in one call (12 s of a file at 0.25 s hops): nearly
/// all the sharing, with memory that stays flat however long the file (about 20 MB for a
/// group; all of an hour's windows at once would need about 10 GB).
pub const WINDOW_GROUP: usize = 48;

/// Runs the network in inference mode over windows of `frames` starting at `starts`.
/// Windows inside the frames go through the shared conv front end in groups of
/// [`WINDOW_GROUP`] (`InferenceNet::clip_probabilities`: each window's own answer to float
/// rounding, in about two thirds of the time; windows centred on their own means share
/// conv1 only); a window alone, or one padded past the end
/// (a clip shorter than a window), runs by itself, as the live engine runs its windows.
///
/// With several networks (an ensemble's members), each window's probabilities are the
/// mean of theirs.
pub(crate) fn window_probabilities(
    nets: &[InferenceNet],
    norm: &Normaliser,
    frames: &[f16],
    starts: &[usize],
) -> candle_core::Result<Vec<Probabilities>> {
    let mut out = vec![[0.0f32; Emotion::COUNT]; starts.len()];
    for net in nets {
        for (sum, p) in out
            .iter_mut()
            .zip(net_window_probabilities(net, norm, frames, starts)?)
        {
            for (s, v) in sum.iter_mut().zip(p) {
                *s += v;
            }
        }
    }
    let n = nets.len().max(1) as f32;
    for row in &mut out {
        for v in row.iter_mut() {
            *v /= n;
        }
    }
    Ok(out)
}

/// [`window_probabilities`] of one network.
fn net_window_probabilities(
    net: &InferenceNet,
    norm: &Normaliser,
    frames: &[f16],
    starts: &[usize],
) -> candle_core::Result<Vec<Probabilities>> {
    let n = frames.len() / INPUT_DIM;
    let mut out = vec![[0.0f32; Emotion::COUNT]; starts.len()];
    let (mut inside, padded): (Vec<usize>, Vec<usize>) =
        (0..starts.len()).partition(|&i| starts[i] + WINDOW_FRAMES <= n);
    inside.sort_by_key(|&i| starts[i]);
    for group in inside.chunks(WINDOW_GROUP) {
        let group_starts: Vec<usize> = group.iter().map(|&i| starts[i]).collect();
        let probs = shared_probabilities(net, norm, frames, &group_starts)?;
        for (&i, p) in group.iter().zip(probs) {
            out[i] = p;
        }
    }
    let windows: Vec<(&[f16], usize)> = padded.iter().map(|&i| (frames, starts[i])).collect();
    for (&i, p) in padded.iter().zip(batch_probabilities(net, norm, &windows)?) {
        out[i] = p;
    }
    Ok(out)
}

/// Windows that lie inside `frames`, sorted by start, through one shared front end over
/// the frames they span; a single window by itself.
fn shared_probabilities(
    net: &InferenceNet,
    norm: &Normaliser,
    frames: &[f16],
    starts: &[usize],
) -> candle_core::Result<Vec<Probabilities>> {
    let (Some(&lo), Some(&last), true) = (starts.first(), starts.last(), starts.len() > 1) else {
        let windows: Vec<(&[f16], usize)> = starts.iter().map(|&s| (frames, s)).collect();
        return batch_probabilities(net, norm, &windows);
    };
    let hi = last + WINDOW_FRAMES;
    let mut x = vec![0.0f32; (hi - lo) * INPUT_DIM];
    for (frame, out) in frames[lo * INPUT_DIM..hi * INPUT_DIM]
        .chunks_exact(INPUT_DIM)
        .zip(x.chunks_exact_mut(INPUT_DIM))
    {
        norm.apply(frame, out);
    }
    let shifted: Vec<usize> = starts.iter().map(|&s| s - lo).collect();
    let probs = net.clip_probabilities(&x, hi - lo, WINDOW_FRAMES, &shifted)?;
    Ok(probs.iter().map(|p| to_row(p)).collect())
}

/// One window's softmax as a fixed-size row.
fn to_row(p: &[f32]) -> Probabilities {
    let mut row = [0.0f32; Emotion::COUNT];
    for (r, v) in row.iter_mut().zip(p) {
        *r = *v;
    }
    row
}

/// Runs the network in inference mode over (frames, start) windows, which may come from
/// different clips, `BATCH` at a time. A window's probabilities do not depend on the
/// batch it runs in: the live engine's single windows and these agree exactly (a file's
/// shared front end agrees with them to float rounding).
pub(crate) fn batch_probabilities(
    net: &InferenceNet,
    norm: &Normaliser,
    windows: &[(&[f16], usize)],
) -> candle_core::Result<Vec<Probabilities>> {
    let size = WINDOW_FRAMES * INPUT_DIM;
    let mut out = Vec::with_capacity(windows.len());
    let mut batch = vec![0.0f32; BATCH.min(windows.len()) * size];
    for chunk in windows.chunks(BATCH) {
        for (slot, &(frames, start)) in batch.chunks_exact_mut(size).zip(chunk) {
            fill_window(frames, start, norm, slot);
        }
        for p in net.probabilities(&batch[..chunk.len() * size], chunk.len(), WINDOW_FRAMES)? {
            out.push(to_row(&p));
        }
    }
    Ok(out)
}

/// A whole clip: the mean of its windows' probabilities (of every network's).
pub(crate) fn clip_probabilities(
    nets: &[InferenceNet],
    norm: &Normaliser,
    frames: &[f16],
) -> candle_core::Result<Probabilities> {
    let starts = window_starts(frames.len() / INPUT_DIM);
    Ok(mean(&window_probabilities(nets, norm, frames, &starts)?))
}

/// Element-wise mean of probability rows: a clip's windows, or an ensemble's members.
pub fn mean(rows: &[Probabilities]) -> Probabilities {
    let mut m = [0.0f32; Emotion::COUNT];
    for row in rows {
        for (a, b) in m.iter_mut().zip(row) {
            *a += b;
        }
    }
    let n = rows.len().max(1) as f32;
    m.map(|v| v / n)
}

/// The index of the largest probability (the first one on ties).
pub fn argmax(p: &Probabilities) -> usize {
    p.iter()
        .enumerate()
        .fold(0, |best, (i, &v)| if v > p[best] { i } else { best })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mean_of_two_models_can_choose_what_neither_chose() {
        let mut a = [0.0f32; Emotion::COUNT];
        let mut b = [0.0f32; Emotion::COUNT];
        (a[0], a[1], a[2]) = (0.5, 0.45, 0.05);
        (b[0], b[1], b[2]) = (0.05, 0.45, 0.5);
        let mean = mean(&[a, b]);
        assert_eq!((argmax(&a), argmax(&b), argmax(&mean)), (0, 2, 1));
        assert!((mean[0] - 0.275).abs() < 1e-6 && (mean[1] - 0.45).abs() < 1e-6);
        assert!((mean.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(super::mean(&[a]), a);
    }
}
