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

    /// Reads a label as corpora write it: one of the eight names or a synonym from
    /// [`SYNONYMS`], in any case, with spaces or hyphens for underscores
    /// ("Pleasant surprise"). `None` for anything else: a label emovox does not have
    /// (boredom, contempt, frustration) is the caller's to refuse, never to guess.
    pub fn from_label(label: &str) -> Option<Emotion> {
        let key: String = label
            .trim()
            .chars()
            .map(|c| match c {
                ' ' | '-' => '_',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        Emotion::ALL
            .into_iter()
            .find(|e| e.name() == key)
            .or_else(|| {
                SYNONYMS
                    .iter()
                    .find(|(word, _)| *word == key)
                    .map(|&(_, e)| e)
            })
    }
}

/// Other names corpora give emovox's labels: nouns for the adjectives (CREMA-D, MELD,
/// EMOVO's glosses), three-letter codes (IEMOCAP, CREMA-D), and TESS's
/// "pleasant_surprise" (`ps` in its Hugging Face copies). Only names that mean one of
/// the eight and nothing else: IEMOCAP's "exc" (excited) is not happy, nor boredom calm.
pub const SYNONYMS: [(&str, Emotion); 18] = [
    ("neu", Emotion::Neutral),
    ("cal", Emotion::Calm),
    ("happiness", Emotion::Happy),
    ("hap", Emotion::Happy),
    ("joy", Emotion::Happy),
    ("sadness", Emotion::Sad),
    ("anger", Emotion::Angry),
    ("ang", Emotion::Angry),
    ("fear", Emotion::Fearful),
    ("fea", Emotion::Fearful),
    ("afraid", Emotion::Fearful),
    ("disgusted", Emotion::Disgust),
    ("dis", Emotion::Disgust),
    ("surprise", Emotion::Surprised),
    ("sur", Emotion::Surprised),
    ("pleasant_surprise", Emotion::Surprised),
    ("pleasant_surprised", Emotion::Surprised),
    ("ps", Emotion::Surprised),
];

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

    #[test]
    fn corpus_labels_and_their_synonyms() {
        for e in Emotion::ALL {
            assert_eq!(Emotion::from_label(e.name()), Some(e));
            assert_eq!(Emotion::from_label(&e.name().to_uppercase()), Some(e));
        }
        let cases = [
            ("anger", Emotion::Angry),
            ("Fear", Emotion::Fearful),
            ("happiness", Emotion::Happy),
            ("joy", Emotion::Happy),
            ("sadness", Emotion::Sad),
            ("surprise", Emotion::Surprised),
            ("pleasant_surprise", Emotion::Surprised),
            ("Pleasant surprise", Emotion::Surprised),
            ("pleasant-surprised", Emotion::Surprised),
            ("ps", Emotion::Surprised),
            ("disgusted", Emotion::Disgust),
            (" NEU ", Emotion::Neutral),
        ];
        for (label, want) in cases {
            assert_eq!(Emotion::from_label(label), Some(want), "{label}");
        }
        for other in [
            "boredom",
            "contempt",
            "exc",
            "frustration",
            "",
            "angryy",
            "calm down",
        ] {
            assert_eq!(Emotion::from_label(other), None, "{other}");
        }
        // Every synonym is a distinct word that is not itself one of the eight names.
        for (i, (word, _)) in SYNONYMS.iter().enumerate() {
            assert!(Emotion::ALL.iter().all(|e| e.name() != *word), "{word}");
            assert!(SYNONYMS[i + 1..].iter().all(|(w, _)| w != word), "{word}");
        }
    }
}
