//! Which clips validate (voices, or whole corpora, the model never trains on): RAVDESS
//! actors by number, speakers of any corpus by name, and whole corpora.

use super::{parse_actor_list, parse_speaker_list, Clip, Scan};

/// The held-out part of a dataset. A clip validates when any rule names it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Split {
    /// RAVDESS actors (clips of other corpora have actor 0 and never match).
    pub actors: Vec<u8>,
    /// `(corpus, speaker)` pairs.
    pub speakers: Vec<(String, String)>,
    /// Corpora held out whole.
    pub corpora: Vec<String>,
}

impl Split {
    /// Reads the command line's choices: `actors` as `17-20` or `none`, `speakers` as
    /// `tess:OAF,emovo:f1`, `corpora` as names.
    pub fn parse(
        actors: Option<&str>,
        speakers: Option<&str>,
        corpora: &[String],
    ) -> Result<Split, String> {
        let actors = match actors.map(str::trim) {
            None | Some("none") => Vec::new(),
            Some(list) => parse_actor_list(list)?,
        };
        let speakers = match speakers {
            None => Vec::new(),
            Some(list) => parse_speaker_list(list)?,
        };
        let mut names: Vec<String> = Vec::new();
        for name in corpora.iter().map(|c| c.trim()) {
            if name.is_empty() {
                return Err("a corpus name is empty".into());
            }
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
        Ok(Split {
            actors,
            speakers,
            corpora: names,
        })
    }

    /// The split a model card's validation names (RAVDESS actors by number, speakers by
    /// name, corpora), to score those clips again.
    pub fn of_validation(v: &crate::model::card::Validation) -> Result<Split, String> {
        let actors: Vec<String> = v.actors.iter().map(u8::to_string).collect();
        let actors = (!actors.is_empty()).then(|| actors.join(","));
        let speakers = (!v.speakers.is_empty()).then(|| v.speakers.join(","));
        Split::parse(actors.as_deref(), speakers.as_deref(), &v.corpora)
    }

    pub fn is_empty(&self) -> bool {
        self.actors.is_empty() && self.speakers.is_empty() && self.corpora.is_empty()
    }

    pub fn holds_out(&self, clip: &Clip) -> bool {
        self.actors.contains(&clip.actor)
            || self.corpora.contains(&clip.corpus)
            || self
                .speakers
                .iter()
                .any(|(corpus, speaker)| *corpus == clip.corpus && *speaker == clip.speaker)
    }

    /// Refuses names that are not in the data, saying what is: a typo must not quietly
    /// train on the voices meant for validation.
    pub fn check(&self, scan: &Scan) -> Result<(), String> {
        let corpora = scan.corpora();
        let known = |name: &str| {
            if corpora.iter().any(|c| c == name) {
                Ok(())
            } else {
                Err(format!(
                    "there is no corpus '{name}' in the data (its corpora: {})",
                    corpora.join(", ")
                ))
            }
        };
        for name in &self.corpora {
            known(name)?;
        }
        for (corpus, speaker) in &self.speakers {
            known(corpus)?;
            let speakers = scan.speakers(corpus);
            if !speakers.contains(speaker) {
                return Err(format!(
                    "corpus '{corpus}' has no speaker '{speaker}' (its speakers: {})",
                    speakers.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// The speakers as the model card records them: `corpus:speaker`.
    pub fn speaker_names(&self) -> Vec<String> {
        self.speakers
            .iter()
            .map(|(c, s)| format!("{c}:{s}"))
            .collect()
    }

    /// `(validation, training)`, each in the order given.
    pub fn apply(&self, clips: Vec<Clip>) -> (Vec<Clip>, Vec<Clip>) {
        clips.into_iter().partition(|c| self.holds_out(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Emotion;

    fn clip(corpus: &str, speaker: &str, actor: u8) -> Clip {
        Clip {
            actor,
            ..Clip::labelled(
                format!("{corpus}/{speaker}.wav").into(),
                Emotion::Sad,
                corpus,
                speaker,
            )
        }
    }

    #[test]
    fn actors_speakers_and_corpora_hold_clips_out() {
        let scan = Scan {
            clips: vec![
                clip("ravdess", "Actor_17", 17),
                clip("ravdess", "Actor_01", 1),
                clip("tess", "OAF", 0),
                clip("tess", "YAF", 0),
                clip("emovo", "f1", 0),
                clip("emovo", "m1", 0),
            ],
            rejected: Vec::new(),
        };
        let split = Split::parse(Some("17-20"), Some("tess:YAF"), &["emovo".into()]).unwrap();
        split.check(&scan).unwrap();
        let (val, train) = split.apply(scan.clips.clone());
        let who = |v: &[Clip]| v.iter().map(|c| c.speaker.clone()).collect::<Vec<_>>();
        assert_eq!(who(&val), ["Actor_17", "YAF", "f1", "m1"]);
        assert_eq!(who(&train), ["Actor_01", "OAF"]);
        assert_eq!(split.speaker_names(), ["tess:YAF"]);

        // Actor 0 (not a RAVDESS actor) is never held out by an actor list.
        let none = Split::parse(Some("none"), None, &[]).unwrap();
        assert!(none.is_empty());
        assert!(Split::parse(Some("1-24"), None, &[])
            .unwrap()
            .apply(scan.clips.clone())
            .1
            .iter()
            .all(|c| c.actor == 0));

        let typo = Split::parse(None, Some("tess:oaf"), &[]).unwrap();
        let err = typo.check(&scan).unwrap_err();
        assert!(
            err.contains("no speaker 'oaf'") && err.contains("OAF, YAF"),
            "{err}"
        );
        let err = Split::parse(None, None, &["crema".into()])
            .unwrap()
            .check(&scan)
            .unwrap_err();
        assert!(
            err.contains("no corpus 'crema'") && err.contains("ravdess, tess, emovo"),
            "{err}"
        );
        assert!(Split::parse(Some("30"), None, &[]).is_err());
        assert!(Split::parse(None, Some("OAF"), &[]).is_err());
    }
}
