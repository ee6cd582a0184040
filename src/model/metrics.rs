//! Classification metrics: accuracy, per-class precision/recall/F1, their macro averages
//! and the confusion matrix (rows = true class, columns = predicted).
//!
//! Conventions (scikit-learn's, with `zero_division=0`): a class never predicted has
//! precision 0; a class absent from the truth has recall 0; F1 is 0 when precision and
//! recall are both 0. Macro averages are over the classes that occur in the truth or in
//! the predictions, so a test set without some class is not penalised for it.
//!
//! Corpora label different sets of emotions (TESS and EMOVO have no calm), so scores meant
//! to compare across them ([`CorpusScores`]) are taken over the classes each corpus has:
//! UAR (unweighted average recall, the usual figure in speech emotion work) and macro-F1
//! over those classes, with a calm prediction counted as neutral where there is no calm.

use serde::Serialize;

use crate::labels::Emotion;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClassMetrics {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// How many true examples of the class there are.
    pub support: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metrics {
    pub n: usize,
    pub accuracy: f64,
    pub macro_precision: f64,
    pub macro_recall: f64,
    pub macro_f1: f64,
    pub per_class: Vec<ClassMetrics>,
    /// `confusion[true][predicted]`.
    pub confusion: Vec<Vec<usize>>,
}

impl Metrics {
    /// Scores predicted class indices against true ones; indices at or above `classes`
    /// are ignored rather than trusted.
    pub fn from_predictions(truth: &[usize], predicted: &[usize], classes: usize) -> Metrics {
        let mut confusion = vec![vec![0usize; classes]; classes];
        let mut n = 0;
        for (&t, &p) in truth.iter().zip(predicted) {
            if t < classes && p < classes {
                confusion[t][p] += 1;
                n += 1;
            }
        }
        let correct: usize = (0..classes).map(|c| confusion[c][c]).sum();
        let mut per_class = Vec::with_capacity(classes);
        let mut present = Vec::with_capacity(classes);
        for c in 0..classes {
            let tp = confusion[c][c] as f64;
            let support: usize = confusion[c].iter().sum();
            let predicted_as: usize = confusion.iter().map(|row| row[c]).sum();
            let precision = if predicted_as == 0 {
                0.0
            } else {
                tp / predicted_as as f64
            };
            let recall = if support == 0 {
                0.0
            } else {
                tp / support as f64
            };
            let f1 = if precision + recall == 0.0 {
                0.0
            } else {
                2.0 * precision * recall / (precision + recall)
            };
            per_class.push(ClassMetrics {
                precision,
                recall,
                f1,
                support,
            });
            present.push(support > 0 || predicted_as > 0);
        }
        let macro_of = |f: fn(&ClassMetrics) -> f64| {
            let (sum, count) = per_class
                .iter()
                .zip(&present)
                .filter(|(_, &p)| p)
                .fold((0.0, 0usize), |(s, k), (m, _)| (s + f(m), k + 1));
            if count == 0 {
                0.0
            } else {
                sum / count as f64
            }
        };
        Metrics {
            n,
            accuracy: if n == 0 {
                0.0
            } else {
                correct as f64 / n as f64
            },
            macro_precision: macro_of(|m| m.precision),
            macro_recall: macro_of(|m| m.recall),
            macro_f1: macro_of(|m| m.f1),
            per_class,
            confusion,
        }
    }
}

impl Metrics {
    /// The classes that occur in the truth, ascending.
    pub fn true_classes(&self) -> Vec<usize> {
        (0..self.per_class.len())
            .filter(|&c| self.per_class[c].support > 0)
            .collect()
    }

    /// Unweighted average recall: the mean recall over the classes in the truth (chance
    /// is 1 / their number, whatever the class sizes).
    pub fn uar(&self) -> f64 {
        self.mean_over_truth(|c| c.recall)
    }

    /// Macro-F1 over the classes in the truth only (a class that is only ever predicted
    /// is left out; its false positives still lower the others' recall).
    pub fn macro_f1_over_truth(&self) -> f64 {
        self.mean_over_truth(|c| c.f1)
    }

    fn mean_over_truth(&self, f: fn(&ClassMetrics) -> f64) -> f64 {
        let classes = self.true_classes();
        if classes.is_empty() {
            return 0.0;
        }
        let sum: f64 = classes
            .iter()
            .filter_map(|&c| self.per_class.get(c))
            .map(f)
            .sum();
        sum / classes.len() as f64
    }
}

/// One clip's outcome: its corpus, true class and predicted class (class indices).
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub corpus: String,
    pub truth: usize,
    pub predicted: usize,
}

/// Scores on one corpus, comparable with other corpora's.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CorpusScores {
    pub corpus: String,
    pub n: usize,
    pub accuracy: f64,
    /// Mean recall over `classes`.
    pub uar: f64,
    /// Macro-F1 over `classes`.
    pub macro_f1: f64,
    /// The classes the corpus has (in its truth), ascending.
    pub classes: Vec<Emotion>,
    /// The corpus has no calm clips, so calm predictions were counted as neutral.
    pub calm_as_neutral: bool,
}

impl Metrics {
    /// Scores over the eight emotions of clips' outcomes (raw predictions, corpora pooled).
    pub fn from_outcomes(outcomes: &[Outcome]) -> Metrics {
        let truth: Vec<usize> = outcomes.iter().map(|o| o.truth).collect();
        let predicted: Vec<usize> = outcomes.iter().map(|o| o.predicted).collect();
        Metrics::from_predictions(&truth, &predicted, Emotion::COUNT)
    }
}

/// Scores per corpus and over everything.
#[derive(Clone, Debug, PartialEq)]
pub struct Scoreboard {
    /// Every clip, with calm predictions counted as neutral for the clips of corpora
    /// without calm (the same predictions the per-corpus scores use).
    pub overall: Metrics,
    /// Mean recall over the classes in the whole truth.
    pub uar: f64,
    /// In the order the corpora first appear.
    pub per_corpus: Vec<CorpusScores>,
}

impl Scoreboard {
    /// Scores outcomes over the eight emotions. A corpus whose truth has no calm counts
    /// a calm prediction as neutral: calm is RAVDESS's alone, a quieter neutral, and a
    /// corpus without it has no way to be right about it.
    pub fn from_outcomes(outcomes: &[Outcome]) -> Scoreboard {
        let calm = Emotion::Calm.index();
        let neutral = Emotion::Neutral.index();
        let mut names: Vec<&str> = Vec::new();
        for o in outcomes {
            if !names.contains(&o.corpus.as_str()) {
                names.push(&o.corpus);
            }
        }
        let (mut truth, mut predicted) = (Vec::new(), Vec::new());
        let mut per_corpus = Vec::new();
        for name in names {
            let clips: Vec<&Outcome> = outcomes.iter().filter(|o| o.corpus == name).collect();
            let calm_as_neutral = clips.iter().all(|o| o.truth != calm);
            let t: Vec<usize> = clips.iter().map(|o| o.truth).collect();
            let p: Vec<usize> = clips
                .iter()
                .map(|o| {
                    if calm_as_neutral && o.predicted == calm {
                        neutral
                    } else {
                        o.predicted
                    }
                })
                .collect();
            let m = Metrics::from_predictions(&t, &p, Emotion::COUNT);
            per_corpus.push(CorpusScores {
                corpus: name.to_owned(),
                n: m.n,
                accuracy: m.accuracy,
                uar: m.uar(),
                macro_f1: m.macro_f1_over_truth(),
                classes: m
                    .true_classes()
                    .into_iter()
                    .filter_map(Emotion::from_index)
                    .collect(),
                calm_as_neutral,
            });
            truth.extend(t);
            predicted.extend(p);
        }
        let overall = Metrics::from_predictions(&truth, &predicted, Emotion::COUNT);
        Scoreboard {
            uar: overall.uar(),
            overall,
            per_corpus,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    /// Worked by hand: three classes, class 2 never predicted.
    ///   truth     0 0 0 1 1 2 2
    ///   predicted 0 0 1 1 1 0 1
    /// confusion: row 0 = [2 1 0], row 1 = [0 2 0], row 2 = [1 1 0]
    /// class 0: P 2/3, R 2/3, F1 2/3;  class 1: P 2/4, R 2/2, F1 2/3;  class 2: P 0, R 0, F1 0
    #[test]
    fn hand_computed_case_with_a_class_never_predicted() {
        let m = Metrics::from_predictions(&[0, 0, 0, 1, 1, 2, 2], &[0, 0, 1, 1, 1, 0, 1], 3);
        assert_eq!(
            m.confusion,
            vec![vec![2, 1, 0], vec![0, 2, 0], vec![1, 1, 0]]
        );
        assert_eq!(m.n, 7);
        assert!(close(m.accuracy, 4.0 / 7.0));
        assert!(
            close(m.per_class[0].precision, 2.0 / 3.0) && close(m.per_class[0].recall, 2.0 / 3.0)
        );
        assert!(close(m.per_class[1].precision, 0.5) && close(m.per_class[1].recall, 1.0));
        assert!(close(m.per_class[1].f1, 2.0 / 3.0));
        assert_eq!(
            (
                m.per_class[2].precision,
                m.per_class[2].recall,
                m.per_class[2].f1
            ),
            (0.0, 0.0, 0.0)
        );
        assert_eq!(
            m.per_class.iter().map(|c| c.support).collect::<Vec<_>>(),
            vec![3, 2, 2]
        );
        assert!(close(m.macro_precision, (2.0 / 3.0 + 0.5 + 0.0) / 3.0));
        assert!(close(m.macro_recall, (2.0 / 3.0 + 1.0 + 0.0) / 3.0));
        assert!(close(m.macro_f1, (2.0 / 3.0 + 2.0 / 3.0 + 0.0) / 3.0));
    }

    #[test]
    fn classes_absent_everywhere_do_not_count_in_macro_averages() {
        // Eight classes, only 0 and 1 occur: perfect on both.
        let m = Metrics::from_predictions(&[0, 1, 1], &[0, 1, 1], 8);
        assert!(close(m.macro_f1, 1.0) && close(m.accuracy, 1.0));
        assert_eq!(m.per_class[5].support, 0);
    }

    #[test]
    fn empty_input_is_all_zero() {
        let m = Metrics::from_predictions(&[], &[], 8);
        assert_eq!((m.n, m.accuracy, m.macro_f1), (0, 0.0, 0.0));
    }

    fn outcome(corpus: &str, truth: Emotion, predicted: Emotion) -> Outcome {
        Outcome {
            corpus: corpus.into(),
            truth: truth.index(),
            predicted: predicted.index(),
        }
    }

    /// Worked by hand. Corpus "a" has calm; corpus "b" has none, so its calm prediction
    /// counts as neutral.
    ///   a: neutral→neutral, calm→calm, calm→neutral, angry→angry
    ///      recall: neutral 1, calm 1/2, angry 1 → UAR 5/6
    ///      precision: neutral 1/2, calm 1, angry 1 → F1 neutral 2/3, calm 2/3, angry 1
    ///      macro-F1 (2/3 + 2/3 + 1) / 3 = 7/9; accuracy 3/4
    ///   b: neutral→calm (= neutral), neutral→sad, sad→sad, sad→sad, happy→angry
    ///      recall: neutral 1/2, sad 1, happy 0 → UAR 1/2
    ///      precision: neutral 1, sad 2/3, happy 0 (never predicted)
    ///      F1: neutral 2/3, sad 4/5, happy 0 → macro-F1 (2/3 + 4/5) / 3 = 22/45
    ///      (angry is predicted but not in b's truth: not one of b's classes)
    ///      accuracy 3/5
    ///   overall (9 clips): correct 6; classes in truth neutral, calm, happy, sad, angry
    ///      recall: neutral 2/3, calm 1/2, happy 0, sad 1, angry 1 → UAR 19/30
    #[test]
    fn per_corpus_scores_by_hand() {
        use Emotion::*;
        let outcomes = [
            outcome("a", Neutral, Neutral),
            outcome("a", Calm, Calm),
            outcome("a", Calm, Neutral),
            outcome("a", Angry, Angry),
            outcome("b", Neutral, Calm),
            outcome("b", Neutral, Sad),
            outcome("b", Sad, Sad),
            outcome("b", Sad, Sad),
            outcome("b", Happy, Angry),
        ];
        let board = Scoreboard::from_outcomes(&outcomes);
        let [a, b] = &board.per_corpus[..] else {
            panic!("two corpora: {:?}", board.per_corpus);
        };
        assert_eq!((a.corpus.as_str(), a.n, a.calm_as_neutral), ("a", 4, false));
        assert_eq!(a.classes, vec![Neutral, Calm, Angry]);
        assert!(close(a.accuracy, 0.75));
        assert!(close(a.uar, 5.0 / 6.0), "{}", a.uar);
        assert!(close(a.macro_f1, 7.0 / 9.0), "{}", a.macro_f1);
        assert_eq!((b.corpus.as_str(), b.n, b.calm_as_neutral), ("b", 5, true));
        assert_eq!(b.classes, vec![Neutral, Happy, Sad]);
        assert!(close(b.accuracy, 3.0 / 5.0));
        assert!(close(b.uar, 0.5), "{}", b.uar);
        assert!(close(b.macro_f1, 22.0 / 45.0), "{}", b.macro_f1);
        assert_eq!(board.overall.n, 9);
        assert!(close(board.overall.accuracy, 6.0 / 9.0));
        assert!(close(board.uar, 19.0 / 30.0), "{}", board.uar);
        // b's calm prediction was counted as neutral in the pooled confusion too.
        assert_eq!(board.overall.confusion[Neutral.index()][Neutral.index()], 2);
        assert_eq!(board.overall.confusion[Neutral.index()][Calm.index()], 0);
    }

    #[test]
    fn uar_ignores_classes_only_predicted() {
        // Truth has classes 0 and 1; class 2 is only predicted.
        let m = Metrics::from_predictions(&[0, 0, 1, 1], &[0, 2, 1, 1], 3);
        assert_eq!(m.true_classes(), vec![0, 1]);
        assert!(close(m.uar(), (0.5 + 1.0) / 2.0));
        // F1: class 0 P 1 R 1/2 → 2/3; class 1 P 1 R 1 → 1.
        assert!(close(m.macro_f1_over_truth(), (2.0 / 3.0 + 1.0) / 2.0));
        // The old macro average also counts class 2 (F1 0).
        assert!(close(m.macro_f1, (2.0 / 3.0 + 1.0) / 3.0));
        assert_eq!(Scoreboard::from_outcomes(&[]).per_corpus.len(), 0);
    }
}
