//! Holding back part of a recording's labelled time, so that fine-tuning can be scored
//! honestly on speech it never trained on.
//!
//! Neighbouring windows of one recording share most of their samples, so a random choice
//! of windows (or of short stretches) would score the model on what it trained on. The
//! split is by time instead: of each label's regions in a recording, the last `share` of
//! its labelled time is held back, cutting the region that straddles the boundary in
//! two. Every label thus keeps training time and gets held-out time, and no held-out
//! stretch overlaps a training one.

use crate::labels::Emotion;

/// A labelled stretch of one recording, in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Span {
    pub start_s: f64,
    pub end_s: f64,
    pub emotion: Emotion,
}

impl Span {
    pub fn seconds(&self) -> f64 {
        self.end_s - self.start_s
    }
}

/// Splits one recording's labelled spans into (training, held out): for each label, the
/// last `share` of its labelled time is held out. A cut that would leave either side of
/// a span shorter than `min_s` moves the whole span to the side that keeps more of it;
/// a label whose share would be shorter than `min_s` is not held out at all. Spans are
/// returned in time order; `share` is clamped to 0..=0.9.
pub fn split_by_time(spans: &[Span], share: f64, min_s: f64) -> (Vec<Span>, Vec<Span>) {
    let share = share.clamp(0.0, 0.9);
    let (mut train, mut held) = (Vec::new(), Vec::new());
    for emotion in Emotion::ALL {
        let mut of: Vec<Span> = spans
            .iter()
            .filter(|s| s.emotion == emotion && s.end_s > s.start_s)
            .copied()
            .collect();
        of.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        let total: f64 = of.iter().map(Span::seconds).sum();
        let mut wanted = total * share;
        if wanted < min_s {
            train.extend(of);
            continue;
        }
        // From the latest span back, hold out until the label's share is reached.
        let mut kept = Vec::new();
        for span in of.into_iter().rev() {
            if wanted <= 0.0 {
                kept.push(span);
                continue;
            }
            if span.seconds() <= wanted {
                wanted -= span.seconds();
                held.push(span);
                continue;
            }
            let cut = span.end_s - wanted;
            let (before, after) = (cut - span.start_s, span.end_s - cut);
            if before >= min_s && after >= min_s {
                kept.push(Span { end_s: cut, ..span });
                held.push(Span {
                    start_s: cut,
                    ..span
                });
            } else if after >= before {
                held.push(span);
            } else {
                kept.push(span);
            }
            wanted = 0.0;
        }
        train.extend(kept);
    }
    train.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    held.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    (train, held)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_region_is_cut_and_short_ones_go_whole() {
        let long = [Span {
            start_s: 10.0,
            end_s: 60.0,
            emotion: Emotion::Angry,
        }];
        let (train, held) = split_by_time(&long, 0.2, 0.5);
        assert_eq!(train.len(), 1);
        assert_eq!(held.len(), 1);
        assert!((train[0].end_s - 50.0).abs() < 1e-9);
        assert!((held[0].start_s - 50.0).abs() < 1e-9 && held[0].end_s == 60.0);
    }
}
