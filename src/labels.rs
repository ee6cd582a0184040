//! The eight RAVDESS emotions, the labels every part of emovox shares.

use std::fmt;
use std::str::FromStr;

/// An emotion label. The order is RAVDESS's (codes 01–08) and is the model's class index.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Emotion {
    Neutral,
    Calm,
    Happy,
    Sad,
    Angry,
    Fearful,
    Disgust,
    Surprised,
}

impl Emotion {
    pub const COUNT: usize = 8;
    pub const ALL: [Emotion; Emotion::COUNT] = [
        Emotion::Neutral,
        Emotion::Calm,
        Emotion::Happy,
        Emotion::Sad,
        Emotion::Angry,
        Emotion::Fearful,
        Emotion::Disgust,
        Emotion::Surprised,
    ];

    /// The class index, 0–7.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn from_index(index: usize) -> Option<Emotion> {
        Emotion::ALL.get(index).copied()
    }

    /// RAVDESS's two-digit code in file names: 1 = neutral … 8 = surprised.
    pub fn from_ravdess_code(code: u8) -> Option<Emotion> {
        Emotion::from_index(usize::from(code).checked_sub(1)?)
    }

    pub fn name(self) -> &'static str {
        match self {
            Emotion::Neutral => "neutral",
            Emotion::Calm => "calm",
            Emotion::Happy => "happy",
            Emotion::Sad => "sad",
            Emotion::Angry => "angry",
            Emotion::Fearful => "fearful",
            Emotion::Disgust => "disgust",
            Emotion::Surprised => "surprised",
        }
    }

    /// All names, in class order (what a model card lists as its labels).
    pub fn names() -> Vec<String> {
        Emotion::ALL.iter().map(|e| e.name().to_owned()).collect()
    }
}

impl fmt::Display for Emotion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Emotion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        Emotion::ALL
            .into_iter()
            .find(|e| e.name() == lower)
            .ok_or_else(|| {
                format!(
                    "unknown emotion '{s}' (expected one of: {})",
                    Emotion::names().join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_names_and_indices_agree() {
        for (i, e) in Emotion::ALL.iter().enumerate() {
            assert_eq!(e.index(), i);
            assert_eq!(Emotion::from_ravdess_code(i as u8 + 1), Some(*e));
            assert_eq!(e.name().parse::<Emotion>(), Ok(*e));
        }
        assert_eq!(Emotion::from_ravdess_code(0), None);
        assert_eq!(Emotion::from_ravdess_code(9), None);
        assert!("joy".parse::<Emotion>().is_err());
        assert_eq!(" Angry ".parse::<Emotion>(), Ok(Emotion::Angry));
    }
}
