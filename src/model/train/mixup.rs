//! Mixup (Zhang et al., 2018): some training windows are blended with another window of the
//! same batch, inputs and targets alike, λ · a + (1 − λ) · b. A blend of an Italian and an
//! English window, or of two voices, with the emotion split as the sound is, asks the
//! network for answers that change smoothly between what it heard, rather than for sharp
//! boundaries around each corpus's voices, which is what a corpus it never heard needs.
//! Blends are of normalised windows, before the network's centring (which is linear, so a
//! blend of two windows centres to the blend of their centred versions).

use super::super::rng::Rng;

/// How often and how strongly windows are blended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mixup {
    /// Share of a batch's windows that are blended.
    pub share: f64,
    /// λ is drawn from Beta(alpha, alpha), folded to λ ≥ 0.5 so the window keeps its own
    /// sound the larger part.
    pub alpha: f64,
}

impl Default for Mixup {
    /// Half of the windows, Beta(0.4, 0.4): most blends are light (λ near 1), a few even.
    fn default() -> Self {
        Self {
            share: 0.5,
            alpha: 0.4,
        }
    }
}

impl Mixup {
    /// Blends windows of one batch in place: `windows` holds `n` windows of `size` values,
    /// `targets` their `n` target distributions of `classes`. Each blend reads the other
    /// window as it was before any blending.
    pub fn apply(
        &self,
        windows: &mut [f32],
        targets: &mut [f32],
        size: usize,
        classes: usize,
        rng: &mut Rng,
    ) {
        let n = targets.len() / classes.max(1);
        if n < 2 {
            return;
        }
        let (windows_before, targets_before) = (windows[..n * size].to_vec(), targets.to_vec());
        for k in 0..n {
            if rng.uniform() >= self.share {
                continue;
            }
            // Another window of the batch, never itself.
            let other = (k + 1 + rng.below(n - 1)) % n;
            let lambda = self.lambda(rng) as f32;
            let (a, b) = (lambda, 1.0 - lambda);
            let mix = |dst: &mut [f32], src: &[f32]| {
                for (d, s) in dst.iter_mut().zip(src) {
                    *d = a * *d + b * s;
                }
            };
            mix(
                &mut windows[k * size..(k + 1) * size],
                &windows_before[other * size..(other + 1) * size],
            );
            mix(
                &mut targets[k * classes..(k + 1) * classes],
                &targets_before[other * classes..(other + 1) * classes],
            );
        }
    }

    /// λ ~ Beta(alpha, alpha) folded to [0.5, 1].
    fn lambda(&self, rng: &mut Rng) -> f64 {
        let x = gamma(self.alpha, rng);
        let y = gamma(self.alpha, rng);
        let l = if x + y > 0.0 { x / (x + y) } else { 0.5 };
        l.max(1.0 - l)
    }

    /// How the model card names it.
    pub fn describe(&self) -> String {
        format!(
            "mixup: {:.0} % of windows blended with another of the batch, λ ~ Beta({}, {}) folded to ≥ 0.5",
            self.share * 100.0,
            self.alpha,
            self.alpha
        )
    }
}

/// A Gamma(shape, 1) draw: Marsaglia and Tsang's method, with the boost
/// Gamma(a) = Gamma(a + 1) · U^(1/a) for shapes below 1.
fn gamma(shape: f64, rng: &mut Rng) -> f64 {
    if shape < 1.0 {
        let u = rng.uniform().max(f64::MIN_POSITIVE);
        return gamma(shape + 1.0, rng) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = rng.normal();
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u = rng.uniform();
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blends_keep_targets_distributions_and_inputs_between_their_sources() {
        let mut rng = Rng::new(3);
        let (n, size, classes) = (6, 4, 3);
        // Window k holds the value k everywhere; its target is class k % 3.
        let mut windows: Vec<f32> = (0..n * size).map(|i| (i / size) as f32).collect();
        let mut targets = vec![0.0f32; n * classes];
        for k in 0..n {
            targets[k * classes + k % classes] = 1.0;
        }
        let mixup = Mixup {
            share: 1.0,
            alpha: 0.4,
        };
        mixup.apply(&mut windows, &mut targets, size, classes, &mut rng);
        let mut blended = 0;
        for k in 0..n {
            let t = &targets[k * classes..(k + 1) * classes];
            assert!(
                (t.iter().sum::<f32>() - 1.0).abs() < 1e-6,
                "window {k}: {t:?}"
            );
            // Its own class keeps at least half.
            assert!(t[k % classes] >= 0.5 - 1e-6, "window {k}: {t:?}");
            let w = &windows[k * size..(k + 1) * size];
            assert!(w.iter().all(|&v| v == w[0]), "one blend per window");
            assert!((0.0..=(n - 1) as f32).contains(&w[0]));
            if w[0] != k as f32 {
                blended += 1;
            }
        }
        assert!(
            blended >= n - 1,
            "with share 1 (nearly) every window is blended"
        );
    }

    #[test]
    fn lambda_follows_the_folded_beta() {
        let mut rng = Rng::new(7);
        let mixup = Mixup::default();
        let draws: Vec<f64> = (0..20_000).map(|_| mixup.lambda(&mut rng)).collect();
        assert!(draws.iter().all(|l| (0.5..=1.0).contains(l)));
        // Beta(0.4, 0.4) folded to ≥ ½: mean about 0.84, about half of it above 0.9.
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((0.78..0.86).contains(&mean), "mean {mean}");
        let near_one = draws.iter().filter(|&&l| l > 0.9).count() as f64 / draws.len() as f64;
        assert!(near_one > 0.4, "{near_one}");
    }
}
