//! Training a per-voice model (`train --centre-voice`): every prepared clip is centred on its
//! speaker's baseline ([`crate::model::voice`]) over the original versions of all their
//! clips, so the normaliser fitted afterwards, the validation and the windows all read
//! frames as a per-voice model does. With draws, each clip also gets shifts to poorer
//! baselines (one clip of the voice up to all of them), one of which each training window
//! takes, so the model meets baselines as thin as a lone file's as well as a corpus's.

use std::collections::BTreeMap;

use super::prepare::PreparedClip;
use crate::model::input::INPUT_DIM;
use crate::model::rng::Rng;
use crate::model::voice::{subtract, voice_name, VoiceBaseline};

/// Baselines drawn per training clip.
pub const DRAWS: usize = 16;
/// Share of draws that take the clip alone (a lone file's baseline).
const ALONE: f64 = 0.25;

/// Centres every version of every clip on its voice's baseline (the louder half of the
/// original versions of all the voice's clips), and with `draws` (a seed) gives each clip
/// [`DRAWS`] shifts to poorer baselines in [`PreparedClip::voice_shifts`].
pub fn centre_on_voices(clips: &mut [PreparedClip], draws: Option<u64>) {
    let alone: Vec<VoiceBaseline> = clips
        .iter()
        .map(|c| {
            c.versions
                .first()
                .map_or_else(VoiceBaseline::default, |v| VoiceBaseline::of_stretch(v))
        })
        .collect();
    let mut by_voice: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, c) in clips.iter().enumerate() {
        by_voice
            .entry(voice_name(&c.corpus, &c.speaker))
            .or_default()
            .push(i);
    }
    let mut rng = draws.map(|seed| Rng::new(seed ^ 0x5eed_ba5e));
    for members in by_voice.values_mut() {
        if let Some(rng) = rng.as_mut() {
            rng.shuffle(members);
        }
        // Baselines of the first k clips (in the shuffled order), k = 0 ..= all.
        let mut prefix = vec![VoiceBaseline::default()];
        for &i in members.iter() {
            let mut next = prefix[prefix.len() - 1].clone();
            next.merge(&alone[i]);
            prefix.push(next);
        }
        let full = &prefix[members.len()];
        let Some(mean) = full.mean() else {
            continue;
        };
        if let Some(rng) = rng.as_mut() {
            for &i in members.iter() {
                clips[i].voice_shifts = draw_shifts(&alone[i], &prefix, &mean, rng);
            }
        }
        for &i in members.iter() {
            for version in &mut clips[i].versions {
                subtract(version, &mean);
            }
        }
    }
}

/// [`DRAWS`] shifts `m − b` from the voice's baseline `m` to baselines `b` of the clip
/// (`own`) and k − 1 of the voice's other clips, a run of the shuffled order (`prefix`
/// holds its cumulative baselines): k = 1 an [`ALONE`] share of the time (and sometimes
/// otherwise), else log-uniform below all of them, so most draws are thin and a few
/// nearly as good as the whole voice, which validation and `evaluate` use.
fn draw_shifts(
    own: &VoiceBaseline,
    prefix: &[VoiceBaseline],
    m: &[f32],
    rng: &mut Rng,
) -> Vec<f32> {
    let clips = prefix.len() - 1;
    let mut shifts = Vec::with_capacity(DRAWS * INPUT_DIM);
    for _ in 0..DRAWS {
        let k = if clips <= 1 || rng.uniform() < ALONE {
            1
        } else {
            ((rng.uniform() * (clips as f64).ln()).exp() as usize).clamp(1, clips)
        };
        let mut b = own.clone();
        if k > 1 {
            // The run may hold the clip itself: counted twice then, a small error.
            let start = rng.below(clips - (k - 1) + 1);
            b.merge(&prefix[start + k - 1].minus(&prefix[start]));
        }
        let b = b.mean().unwrap_or_else(|| m.to_vec());
        shifts.extend(m.iter().zip(&b).map(|(m, b)| m - b));
    }
    shifts
}

#[cfg(test)]
mod tests {
    use half::f16;

    use super::*;
    use crate::labels::Emotion;

    /// A clip of `speaker` whose frames all hold `value` (level `value` too).
    fn clip(speaker: &str, value: f32) -> PreparedClip {
        PreparedClip {
            emotion: Emotion::Neutral,
            actor: 0,
            corpus: "c".into(),
            speaker: speaker.into(),
            versions: vec![vec![f16::from_f32(value); 4 * INPUT_DIM]; 2],
            room_versions: 0,
            voice_shifts: Vec::new(),
        }
    }

    #[test]
    fn each_voice_is_centred_on_its_own_clips() {
        let mut clips = vec![clip("a", 2.0), clip("b", 10.0), clip("a", 4.0)];
        centre_on_voices(&mut clips, None);
        // a's baseline: the louder half of 2s and of 4s, i.e. 3; b's: 10.
        let first = |c: &PreparedClip| c.versions[1][5].to_f32();
        assert_eq!(first(&clips[0]), -1.0);
        assert_eq!(first(&clips[2]), 1.0);
        assert_eq!(first(&clips[1]), 0.0);
        assert!(clips.iter().all(|c| c.voice_shifts.is_empty()));
    }

    #[test]
    fn draws_run_from_the_clip_alone_to_the_whole_voice() {
        let mut clips: Vec<PreparedClip> = (0..40).map(|i| clip("a", i as f32)).collect();
        centre_on_voices(&mut clips, Some(7));
        // The voice's baseline is the mean of 0..40 = 19.5; a draw of the clip alone
        // shifts by 19.5 − its value, one of many clips by less.
        let c = &clips[0];
        assert_eq!(c.voice_shifts.len(), DRAWS * INPUT_DIM);
        let shifts: Vec<f32> = c
            .voice_shifts
            .chunks_exact(INPUT_DIM)
            .map(|s| s[3])
            .collect();
        assert!(shifts.contains(&19.5), "a lone draw: {shifts:?}");
        assert!(
            shifts.iter().any(|&s| s.abs() < 19.0),
            "a wider draw: {shifts:?}"
        );
        assert!(
            shifts.iter().all(|&s| (-20.5..=19.5).contains(&s)),
            "{shifts:?}"
        );
    }
}
