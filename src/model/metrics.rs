//! Classification metrics: accuracy, per-class precision/recall/F1, their macro averages
//! and the confusion matrix (rows = true class, columns = predicted).
//!
//! Conventions (scikit-learn's, with `zero_division=0`): a class never predicted has
//! precision 0; a class absent from the truth has recall 0; F1 is 0 when precision and
//! recall are both 0. Macro averages are over the classes that occur in the truth or in
//! the predictions, so a test set without some class is not penalised for it.

use serde::Serialize;

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
}
