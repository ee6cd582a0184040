//! Masks over a training window's inputs, after SpecAugment (Park et al., 2019): a few
//! stretches of frames and a few bands of inputs set to the training mean (0 once
//! normalised), so that the network cannot lean on any one moment or any few coefficients,
//! which is what a corpus it never heard (another language, another microphone) takes away.
//! Masks come before the network's centring per window (`NetConfig::centred_inputs`): on
//! centred inputs a masked stretch reads as minus the window's mean, not as nothing.

use super::super::input::{INPUT_DIM, WINDOW_FRAMES};
use super::super::rng::Rng;

/// How many masks of each kind a window gets, and the widest each may be (each mask's
/// width is drawn from 0 to that, its place uniformly).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InputMasks {
    pub time_masks: usize,
    /// Frames (10 ms each).
    pub time_width: usize,
    pub input_masks: usize,
    /// Consecutive inputs of the 65 (MFCC, then chroma, contrast, tonnetz).
    pub input_width: usize,
    /// Share of the windows masked; the rest are left whole, as inference reads them.
    pub share: f64,
    /// The first epoch (1-based) trained with the masks: the network first learns the
    /// whole windows, then, at the schedule's lower learning rates, to do without parts.
    pub from_epoch: usize,
}

impl Default for InputMasks {
    /// Two stretches of up to 0.3 s, two bands of up to 8 inputs: about a tenth of a
    /// window's frames and a sixth of its inputs on average.
    fn default() -> Self {
        Self {
            time_masks: 2,
            time_width: 30,
            input_masks: 2,
            input_width: 8,
            share: 1.0,
            from_epoch: 1,
        }
    }
}

impl InputMasks {
    /// One stretch of up to 0.15 s and one band of up to 4 inputs: a quarter of the
    /// default's masking on average, for when the default costs the voices training covers.
    pub fn light() -> Self {
        Self {
            time_masks: 1,
            time_width: 15,
            input_masks: 1,
            input_width: 4,
            share: 1.0,
            from_epoch: 1,
        }
    }

    /// Whether windows of `epoch` (1-based) are masked at all.
    pub fn in_epoch(&self, epoch: usize) -> bool {
        epoch >= self.from_epoch
    }

    /// Masks one normalised window (`WINDOW_FRAMES` rows of `INPUT_DIM`) in place, or
    /// with a share below 1 leaves it whole as often as that says. (At share 1 no draw is
    /// made for it, so recipes from before the share train as they did.)
    pub fn apply(&self, window: &mut [f32], rng: &mut Rng) {
        debug_assert_eq!(window.len(), WINDOW_FRAMES * INPUT_DIM);
        if self.share < 1.0 && rng.uniform() >= self.share {
            return;
        }
        for _ in 0..self.time_masks {
            let width = rng.below(self.time_width.min(WINDOW_FRAMES) + 1);
            let start = rng.below(WINDOW_FRAMES - width + 1);
            window[start * INPUT_DIM..(start + width) * INPUT_DIM].fill(0.0);
        }
        for _ in 0..self.input_masks {
            let width = rng.below(self.input_width.min(INPUT_DIM) + 1);
            let start = rng.below(INPUT_DIM - width + 1);
            for row in window.chunks_exact_mut(INPUT_DIM) {
                row[start..start + width].fill(0.0);
            }
        }
    }

    /// How the model card names it.
    pub fn describe(&self) -> String {
        let masks = format!(
            "input masks: {} × up to {} frames, {} × up to {} inputs",
            self.time_masks, self.time_width, self.input_masks, self.input_width
        );
        let masks = if self.share < 1.0 {
            format!("{masks}, on a share {} of windows", self.share)
        } else {
            masks
        };
        if self.from_epoch > 1 {
            format!("{masks}, from epoch {}", self.from_epoch)
        } else {
            masks
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn masks_zero_whole_frames_and_whole_input_columns_within_their_widths() {
        for masks in [InputMasks::default(), InputMasks::light()] {
            let mut rng = Rng::new(5);
            let mut any_masked = false;
            for _ in 0..200 {
                let mut w = vec![1.0f32; WINDOW_FRAMES * INPUT_DIM];
                masks.apply(&mut w, &mut rng);
                // Every zero lies in a frame that is zero throughout or a column that is.
                let frame_zero: Vec<bool> = w
                    .chunks_exact(INPUT_DIM)
                    .map(|row| row.iter().all(|&v| v == 0.0))
                    .collect();
                let column_zero: Vec<bool> = (0..INPUT_DIM)
                    .map(|c| w.chunks_exact(INPUT_DIM).all(|row| row[c] == 0.0))
                    .collect();
                for (f, row) in w.chunks_exact(INPUT_DIM).enumerate() {
                    for (c, &v) in row.iter().enumerate() {
                        assert!(v == 1.0 || frame_zero[f] || column_zero[c]);
                    }
                }
                let frames = frame_zero.iter().filter(|&&z| z).count();
                let columns = column_zero.iter().filter(|&&z| z).count();
                assert!(
                    frames <= masks.time_masks * masks.time_width
                        && columns <= masks.input_masks * masks.input_width,
                    "{masks:?}: {frames} {columns}"
                );
                any_masked |= frames > 0 && columns > 0;
            }
            assert!(any_masked, "{masks:?}");
        }
    }

    #[test]
    fn a_share_masks_about_that_share_of_windows_and_leaves_the_rest_whole() {
        let quarter = InputMasks {
            share: 0.25,
            ..InputMasks::default()
        };
        let mut rng = Rng::new(3);
        let mut whole = 0;
        for _ in 0..1000 {
            let mut w = vec![1.0f32; WINDOW_FRAMES * INPUT_DIM];
            quarter.apply(&mut w, &mut rng);
            whole += usize::from(w.iter().all(|&v| v == 1.0));
        }
        // Three quarters left whole (a masked window that draws zero widths throughout
        // is too rare to count).
        assert!((700..=800).contains(&whole), "{whole}");
        assert!(quarter.describe().ends_with("on a share 0.25 of windows"));
        assert!(!InputMasks::default().describe().contains("share"));
    }

    #[test]
    fn masks_from_a_later_epoch_leave_the_earlier_ones_whole_and_say_so() {
        let late = InputMasks {
            from_epoch: 40,
            ..InputMasks::default()
        };
        assert!(!late.in_epoch(1) && !late.in_epoch(39));
        assert!(late.in_epoch(40) && late.in_epoch(100));
        assert!(InputMasks::default().in_epoch(1));
        assert!(
            late.describe().ends_with(", from epoch 40"),
            "{}",
            late.describe()
        );
        assert!(!InputMasks::default().describe().contains("epoch"));
    }

    #[test]
    fn light_masks_cover_less_than_the_default() {
        let covered = |m: InputMasks| {
            let mut rng = Rng::new(9);
            let mut zeros = 0usize;
            for _ in 0..500 {
                let mut w = vec![1.0f32; WINDOW_FRAMES * INPUT_DIM];
                m.apply(&mut w, &mut rng);
                zeros += w.iter().filter(|&&v| v == 0.0).count();
            }
            zeros
        };
        let (light, strong) = (covered(InputMasks::light()), covered(InputMasks::default()));
        assert!(light > 0 && light * 3 < strong, "{light} {strong}");
    }
}
