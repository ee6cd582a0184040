//! A clip's overlapping windows through one shared convolutional front end.
//!
//! File analysis reads a clip as 3 s windows every 0.25 s, so each frame sits in up to
//! twelve windows; run window by window, the two conv layers (over half of a window's
//! arithmetic) recompute those frames twelve times. Here each layer runs once over the
//! rows the windows share, and only the rows that differ per window are computed per
//! window:
//! - a conv row within the kernel's reach of a window's edge sees that window's zero
//!   padding, so those few rows (2 per edge for conv1, 3 for conv2 counting the pooled
//!   edge row they read) are computed for each window;
//! - max-pooling pairs rows from the window's start, and windows start every 25 frames,
//!   an odd number: windows starting on even frames pool (0,1), (2,3)…, the others
//!   (1,2), (3,4)… So conv2 runs over two pooled sequences of the clip, one per parity,
//!   each over just the span its windows cover.
//!
//! Windows centred on their own means (`centred_front_end`) share conv1's product only,
//! each corrected by its own mean; their conv2 runs per window.
//!
//! The answers equal [`InferenceNet::probabilities`] on each window alone (`tests/
//! gradients.rs` holds them to 1e-5; they are in fact the same bits, because a centred
//! window alone runs through `centred_front_end` too, and every product sums in the same
//! order whatever else is computed beside it).

use candle_core::Result;

use super::conv::{max_into, Row};
use super::InferenceNet;

impl InferenceNet {
    /// Probabilities for windows of `t` frames starting at `starts` in one clip of `n`
    /// normalised frames `x` (rows of the input dimension). Every window must lie inside
    /// the clip. The same answers as [`InferenceNet::probabilities`] on each window alone.
    pub fn clip_probabilities(
        &self,
        x: &[f32],
        n: usize,
        t: usize,
        starts: &[usize],
    ) -> Result<Vec<Vec<f32>>> {
        let d = self.conv1.input;
        if starts.iter().any(|&s| s + t > n) || x.len() != n * d {
            candle_core::bail!("clip_probabilities: a window runs past the clip's {n} frames")
        }
        // Windows too short to share anything: one at a time.
        let Some(shared) = SharedRows::of(self, t) else {
            let mut windows = Vec::with_capacity(starts.len() * t * d);
            for &s in starts {
                windows.extend_from_slice(&x[s * d..(s + t) * d]);
            }
            return self.probabilities(&windows, starts.len(), t);
        };
        let pooled = if self.centred > 0 {
            self.centred_front_end(x, n, t, starts)?
        } else {
            self.front_end(x, n, t, starts, &shared)?
        };
        self.recurrent_probabilities(&pooled, starts.len(), t / 4)
    }

    /// The front end for windows centred each on its own mean. conv1 is linear before its
    /// BatchNorm, so a window's rows that read no padding are the clip's shared product
    /// less one vector per window (its mean through the taps, folded into the BatchNorm
    /// shift); only the rows at each window's edges, which read padding the mean was not
    /// taken from, are computed from the window's centred copy. conv2's inputs differ per
    /// window, so conv2 runs per window. [`InferenceNet::probabilities`] passes windows
    /// laid end to end as a "clip" here too: the shared rows that straddle two of them are
    /// computed and never read.
    pub(super) fn centred_front_end(
        &self,
        x: &[f32],
        n: usize,
        t: usize,
        starts: &[usize],
    ) -> Result<Vec<f32>> {
        let (d, c1) = (self.conv1.input, self.conv1.output);
        let k = self.centred.min(d);
        let r1 = self.conv1.reach();
        let (Some(&lo), Some(&last)) = (starts.iter().min(), starts.iter().max()) else {
            return Ok(Vec::new());
        };
        let shared = self.conv1.products(x, &clip_rows(lo..last + t, n))?;

        let count = starts.len();
        let means = super::window_means(x, starts, t, d, k);
        // Each window's first and last 2·r1 frames, centred: all that its edge rows read.
        let span = 2 * r1;
        let mut ends = Vec::with_capacity(count * 2 * span * d);
        for (&s, mean) in starts.iter().zip(means.chunks_exact(k.max(1))) {
            for frame in (s..s + span).chain(s + t - span..s + t) {
                let at = ends.len();
                ends.extend_from_slice(&x[frame * d..(frame + 1) * d]);
                super::centre_row(&mut ends[at..], mean);
            }
        }
        let edge_rows: Vec<Row> = (0..count)
            .flat_map(|w| {
                let (head, tail) = (2 * w * span, (2 * w + 1) * span);
                let head_rows = (0..r1).map(move |i| Row {
                    centre: head + i,
                    reads: head..head + span,
                });
                let tail_rows = (t - r1..t).map(move |i| Row {
                    centre: tail + i - (t - span),
                    reads: tail..tail + span,
                });
                head_rows.chain(tail_rows)
            })
            .collect();
        let edges = self.conv1.activations(&ends, &edge_rows)?;

        let t1 = t / 2;
        let mut pooled = vec![0.0f32; count * t1 * c1];
        let (mut a, mut b) = (vec![0.0f32; c1], vec![0.0f32; c1]);
        for (w, out) in pooled.chunks_exact_mut(t1 * c1).enumerate() {
            let shift = self.conv1.shift_less(&means[w * k..(w + 1) * k]);
            let row = |i: usize, dst: &mut [f32]| match edge_row(w, i, t, r1) {
                Some(e) => dst.copy_from_slice(&edges[e * c1..(e + 1) * c1]),
                None => {
                    let at = starts[w] + i - lo;
                    dst.copy_from_slice(&shared[at * c1..(at + 1) * c1]);
                    self.conv1.activate(dst, &shift);
                }
            };
            for (p, dst) in out.chunks_exact_mut(c1).enumerate() {
                row(2 * p, &mut a);
                row(2 * p + 1, &mut b);
                max_into(&a, &b, dst);
            }
        }
        self.conv2.forward(&pooled, count, t1)
    }

    /// Both conv blocks with pooling for every window: (windows, t / 4, channels).
    fn front_end(
        &self,
        x: &[f32],
        n: usize,
        t: usize,
        starts: &[usize],
        shared: &SharedRows,
    ) -> Result<Vec<f32>> {
        let (c1, c2) = (self.conv1.output, self.conv2.output);
        let (t1, t2) = (t / 2, t / 4);
        let r1 = self.conv1.reach();
        let (Some(&lo), Some(&last)) = (starts.iter().min(), starts.iter().max()) else {
            return Ok(Vec::new());
        };
        let hi = last + t;

        // conv1 once over the span the windows cover, then each window's edge rows.
        let a1 = self.conv1.activations(x, &clip_rows(lo..hi, n))?;
        let edge_rows: Vec<Row> = starts
            .iter()
            .flat_map(|&s| {
                (0..r1).chain(t - r1..t).map(move |i| Row {
                    centre: s + i,
                    reads: s..s + t,
                })
            })
            .collect();
        let e1 = self.conv1.activations(x, &edge_rows)?;
        let conv1_row = |w: usize, i: usize| -> &[f32] {
            match edge_row(w, i, t, r1) {
                Some(e) => &e1[e * c1..(e + 1) * c1],
                None => {
                    let a = starts[w] + i - lo;
                    &a1[a * c1..(a + 1) * c1]
                }
            }
        };

        // Each window's pooled conv1 output, for the conv2 rows it computes itself.
        let mut p1 = vec![0.0f32; starts.len() * t1 * c1];
        for (w, out) in p1.chunks_exact_mut(t1 * c1).enumerate() {
            for (p, dst) in out.chunks_exact_mut(c1).enumerate() {
                max_into(conv1_row(w, 2 * p), conv1_row(w, 2 * p + 1), dst);
            }
        }

        // conv2 once per pooling parity over the span its windows cover.
        let mut parity_rows: [Option<ParitySpan>; 2] = [None, None];
        for (parity, span) in parity_rows.iter_mut().enumerate() {
            let j0s: Vec<usize> = starts
                .iter()
                .filter(|&&s| s % 2 == parity)
                .map(|&s| s / 2)
                .collect();
            let (Some(&first), Some(&last)) = (j0s.iter().min(), j0s.iter().max()) else {
                continue;
            };
            // The clip's conv1 rows pooled in this parity's pairs, over the plain rows.
            let g_lo = first + shared.plain.start;
            let g_hi = last + shared.plain.end;
            let mut g = vec![0.0f32; (g_hi - g_lo) * c1];
            for (j, dst) in (g_lo..g_hi).zip(g.chunks_exact_mut(c1)) {
                let a = 2 * j + parity - lo;
                max_into(
                    &a1[a * c1..(a + 1) * c1],
                    &a1[(a + 1) * c1..(a + 2) * c1],
                    dst,
                );
            }
            let b_lo = first + shared.conv2.start;
            let b_hi = last + shared.conv2.end;
            let rows: Vec<Row> = (b_lo..b_hi)
                .map(|j| Row {
                    centre: j - g_lo,
                    reads: 0..g_hi - g_lo,
                })
                .collect();
            *span = Some(ParitySpan {
                first: b_lo,
                values: self.conv2.activations(&g, &rows)?,
            });
        }
        let own: Vec<Row> = (0..starts.len())
            .flat_map(|w| {
                (0..t1)
                    .filter(|q| !shared.conv2.contains(q))
                    .map(move |q| Row {
                        centre: w * t1 + q,
                        reads: w * t1..(w + 1) * t1,
                    })
            })
            .collect();
        let e2 = self.conv2.activations(&p1, &own)?;
        let own_per_window = t1 - shared.conv2.len();
        let conv2_row = |w: usize, q: usize| -> &[f32] {
            let s = starts[w];
            if shared.conv2.contains(&q) {
                // Present: this window's parity has a span (it was built from this start).
                let span = parity_rows[s % 2].as_ref().map_or(&[][..], |span| {
                    let b = s / 2 + q - span.first;
                    &span.values[b * c2..(b + 1) * c2]
                });
                return span;
            }
            let k = if q < shared.conv2.start {
                q
            } else {
                shared.conv2.start + q - shared.conv2.end
            };
            let e = w * own_per_window + k;
            &e2[e * c2..(e + 1) * c2]
        };

        let mut p2 = vec![0.0f32; starts.len() * t2 * c2];
        for (w, out) in p2.chunks_exact_mut(t2 * c2).enumerate() {
            for (r, dst) in out.chunks_exact_mut(c2).enumerate() {
                max_into(conv2_row(w, 2 * r), conv2_row(w, 2 * r + 1), dst);
            }
        }
        Ok(p2)
    }
}

/// conv rows centred on each frame of `centres`, each reading the whole clip of `n` frames
/// (zero padding only at the clip's own ends).
fn clip_rows(centres: std::ops::Range<usize>, n: usize) -> Vec<Row> {
    centres
        .map(|centre| Row {
            centre,
            reads: 0..n,
        })
        .collect()
}

/// Where window `w`'s conv1 row `i` (of `t`) sits among the edge rows computed per window
/// (each window's first `r1` rows then its last `r1`), or `None` for a row the clip shares.
fn edge_row(w: usize, i: usize, t: usize, r1: usize) -> Option<usize> {
    let base = w * 2 * r1;
    if i < r1 {
        Some(base + i)
    } else {
        (i >= t - r1).then(|| base + r1 + i - (t - r1))
    }
}

/// conv2's output over one pooling parity's span: rows from `first` (in that parity's
/// pooled numbering, where a window starting at frame s begins at s / 2).
struct ParitySpan {
    first: usize,
    values: Vec<f32>,
}

/// Which rows of a window the clip's shared computation can serve, in pooled (t / 2)
/// rows from the window's start.
struct SharedRows {
    /// Pooled conv1 rows that read no zero padding: both of their conv1 rows lie beyond
    /// conv1's reach from the window's edges.
    plain: std::ops::Range<usize>,
    /// conv2 rows that read only plain pooled rows.
    conv2: std::ops::Range<usize>,
}

impl SharedRows {
    /// `None` when windows of `t` frames share nothing (too short, or not a multiple of
    /// four frames, where the per-window path drops a trailing row).
    fn of(net: &InferenceNet, t: usize) -> Option<Self> {
        let (r1, r2) = (net.conv1.reach(), net.conv2.reach());
        if !t.is_multiple_of(4) || t < 2 * r1 + 2 {
            return None;
        }
        // Pooled row p reads conv1 rows 2p and 2p + 1: plain when 2p ≥ r1 and
        // 2p + 1 < t − r1.
        let plain = r1.div_ceil(2)..(t - r1) / 2;
        let conv2 = plain.start + r2..plain.end.checked_sub(r2)?;
        (conv2.start < conv2.end).then_some(Self { plain, conv2 })
    }
}
