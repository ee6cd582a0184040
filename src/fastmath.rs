//! Branch-free `exp`, `sigmoid` and `tanh` for f32, a multiply-add fused only where the
//! CPU has FMA, and one matrix-times-vectors kernel ([`vectors_times_matrix`]): what the
//! loops that must vectorise are built from (the emotion model's convolutions, LSTM and
//! the voice detector). libm's `expf` and `tanhf` are a call per element; in an
//! LSTM step they were a third of the time.

pub mod bf16;

/// `a · b + c`, fused where the CPU has FMA (one instruction, one rounding); otherwise a
/// multiply and an add, because without the instruction `f32::mul_add` is a library call
/// per element (a build for plain x86-64 ran the model about 9 times slower so).
#[inline(always)]
pub fn mul_add(a: f32, b: f32, c: f32) -> f32 {
    if cfg!(target_feature = "fma") {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// e^x to within about 2 ulp over the whole f32 range, without branches. Cephes' method:
/// x = n·ln2 + r with |r| ≤ ln2/2, a degree-6 polynomial for e^r, and 2^n built in the
/// exponent bits.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.3, 88.0);
    let n = (x * std::f32::consts::LOG2_E).round_ties_even();
    let r = mul_add(n, -LN2_LO, mul_add(n, -LN2_HI, x));
    let p = mul_add(1.987_569_1e-4, r, 1.398_199_9e-3);
    let p = mul_add(p, r, 8.333_452e-3);
    let p = mul_add(p, r, 4.166_579_6e-2);
    let p = mul_add(p, r, 1.666_666_5e-1);
    let p = mul_add(p, r, 0.5);
    let er = mul_add(p, r * r, r) + 1.0;
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    er * scale
}

/// 1 / (1 + e^−x).
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// tanh(x) = 1 − 2 / (1 + e^{2x}): exact in form, no cancellation for large |x|.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    1.0 - 2.0 / (1.0 + exp(2.0 * x))
}

/// Outputs a [`block_sums`] call computes side by side for several input vectors: four
/// AVX-512 registers per vector.
pub const BLOCK: usize = 64;
/// Outputs computed side by side for a single input vector (a recurrence's one step):
/// with AVX-512 sixteen registers, so that sixteen independent chains of multiply-adds
/// hide each one's latency; without it the plain block (AVX2's 16 registers hold no more).
pub const WIDE_BLOCK: usize = if cfg!(target_feature = "avx512f") {
    256
} else {
    BLOCK
};

/// `sums[j][i] (+)= Σ_k x[j][k] · w[k · stride + i]` for the `W` outputs `i` of one block
/// and each input vector `x[j]` (k over `0..x[j].len()`), starting from zero when
/// `from_zero`, else adding to what `sums` holds: the inner loop of a matrix times
/// several vectors, with every loaded run of weights serving all J vectors. Each sum runs
/// in order of k with [`mul_add`], so an output gets the same bits whatever J and W are
/// (a file scored in blocks equals the same audio scored live).
///
/// With AVX-512 the sums are held in named registers: written as plain arrays, the
/// compiler spilled them to memory once J passed 2, and the weights' loads, not the
/// multiply-adds, set the pace. `J · W` must stay within 256 (sixteen registers).
#[inline(always)]
pub fn block_sums<const J: usize, const W: usize>(
    sums: [&mut [f32]; J],
    from_zero: bool,
    x: [&[f32]; J],
    w: &[f32],
    stride: usize,
) {
    assert!(
        W.is_multiple_of(16) && J * W <= 256,
        "at most sixteen registers of sums"
    );
    let mut sums = sums
        .map(|s| <&mut [f32; W]>::try_from(s).unwrap_or_else(|_| panic!("{W} sums per vector")));
    let n = x.first().map_or(0, |x| x.len());
    assert!(
        x.iter().all(|x| x.len() == n),
        "input vectors of one length"
    );
    if n == 0 {
        if from_zero {
            sums.iter_mut().for_each(|s| s.fill(0.0));
        }
        return;
    }
    assert!(
        (n - 1)
            .checked_mul(stride)
            .and_then(|v| v.checked_add(W))
            .is_some_and(|need| w.len() >= need),
        "weights for every input position"
    );
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    // SAFETY: the CPU has AVX-512 (compile-time feature); every load reads
    // `w[k·stride..k·stride + W]` for k < n, checked against `w.len()` above, and
    // `x[j][k]` for k < n = x[j].len(); `sums[j]` holds exactly W values.
    unsafe {
        block_sums_avx512(sums, from_zero, x, w, stride, n);
        return;
    }
    #[allow(unreachable_code)]
    block_sums_portable(sums, from_zero, x, w, stride, n);
}

/// [`block_sums`] without AVX-512 (the same sums in the same order, so the same bits where
/// the CPU fuses multiply-adds), in plain loops the compiler vectorises.
#[inline(always)]
fn block_sums_portable<const J: usize, const W: usize>(
    mut sums: [&mut [f32; W]; J],
    from_zero: bool,
    x: [&[f32]; J],
    w: &[f32],
    stride: usize,
    n: usize,
) {
    // Local sums, which the compiler knows overlap nothing, so they stay in registers.
    let mut acc: [[f32; W]; J] = std::array::from_fn(|j| match from_zero {
        true => [0.0; W],
        false => *sums[j],
    });
    for k in 0..n {
        let Ok(row) = <&[f32; W]>::try_from(&w[k * stride..][..W]) else {
            continue;
        };
        for (acc, x) in acc.iter_mut().zip(&x) {
            let v = x[k];
            for (a, &wl) in acc.iter_mut().zip(row) {
                *a = mul_add(wl, v, *a);
            }
        }
    }
    for (sums, acc) in sums.iter_mut().zip(&acc) {
        **sums = *acc;
    }
}

#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
#[inline(always)]
unsafe fn block_sums_avx512<const J: usize, const W: usize>(
    sums: [&mut [f32; W]; J],
    from_zero: bool,
    x: [&[f32]; J],
    w: &[f32],
    stride: usize,
    n: usize,
) {
    use std::arch::x86_64::{
        __m512, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps,
        _mm512_storeu_ps,
    };
    const LANES: usize = 16;
    // Registers per vector: W / 16, at most 16 (the array is sized for the most; the
    // loops below touch only the first W / 16, and the rest are optimised away).
    let regs = W / LANES;
    let mut a: [[__m512; 16]; J] = [[_mm512_setzero_ps(); 16]; J];
    if !from_zero {
        for j in 0..J {
            for r in 0..regs {
                a[j][r] = _mm512_loadu_ps(sums[j][r * LANES..].as_ptr());
            }
        }
    }
    let (w, xs) = (w.as_ptr(), x.map(|x| x.as_ptr()));
    for k in 0..n {
        let row = w.add(k * stride);
        let mut wr = [_mm512_setzero_ps(); 16];
        for (r, wr) in wr.iter_mut().enumerate().take(regs) {
            *wr = _mm512_loadu_ps(row.add(r * LANES));
        }
        for j in 0..J {
            let v = _mm512_set1_ps(*xs[j].add(k));
            for r in 0..regs {
                a[j][r] = _mm512_fmadd_ps(wr[r], v, a[j][r]);
            }
        }
    }
    for (j, sums) in sums.into_iter().enumerate() {
        for r in 0..regs {
            _mm512_storeu_ps(sums[r * LANES..].as_mut_ptr(), a[j][r]);
        }
    }
}

/// Vectors that share each loaded run of weights in [`vectors_times_matrix`]: four where
/// AVX-512's 32 registers hold their sums beside the weights, two otherwise.
const GROUP: usize = if cfg!(target_feature = "avx512f") {
    4
} else {
    2
};

/// A kind of operand the products take: plain f32, or bf16 pairs ([`bf16::Pair`]). Its
/// kernel computes whole blocks of outputs; `add` one term as the kernel adds it, for
/// the few outputs past the last whole block.
pub trait Operand: Copy {
    /// [`block_sums`] for this kind.
    fn block_sums<const J: usize, const W: usize>(
        sums: [&mut [f32]; J],
        from_zero: bool,
        x: [&[Self]; J],
        w: &[Self],
        stride: usize,
    );
    /// `acc + x · w`.
    fn add(acc: f32, x: Self, w: Self) -> f32;
}

impl Operand for f32 {
    #[inline(always)]
    fn block_sums<const J: usize, const W: usize>(
        sums: [&mut [f32]; J],
        from_zero: bool,
        x: [&[f32]; J],
        w: &[f32],
        stride: usize,
    ) {
        block_sums::<J, W>(sums, from_zero, x, w, stride);
    }
    #[inline(always)]
    fn add(acc: f32, x: f32, w: f32) -> f32 {
        mul_add(w, x, acc)
    }
}

/// `sums[j][i] (+)= Σ_k x[j][k] · w[k · stride + i]` for every output i of `sums[j]` (all
/// of one length), from zero when `from_zero`: blocks of [`BLOCK`] outputs ([`WIDE_BLOCK`]
/// for a vector alone) held in registers across the whole sum over k, then the few
/// outputs left one term at a time. Each output's sum runs in order of k, so it gets the
/// same bits whatever J is and whichever block it falls in.
#[inline(always)]
pub fn row_products<T: Operand, const J: usize>(
    mut sums: [&mut [f32]; J],
    from_zero: bool,
    x: [&[T]; J],
    w: &[T],
    stride: usize,
) {
    let cols = sums.first().map_or(0, |s| s.len());
    assert!(sums.iter().all(|s| s.len() == cols), "sums of one length");
    let mut i0 = 0;
    if J == 1 {
        while i0 + WIDE_BLOCK <= cols {
            let block = sums.each_mut().map(|s| &mut s[i0..i0 + WIDE_BLOCK]);
            T::block_sums::<J, WIDE_BLOCK>(block, from_zero, x, &w[i0..], stride);
            i0 += WIDE_BLOCK;
        }
    }
    while i0 + BLOCK <= cols {
        let block = sums.each_mut().map(|s| &mut s[i0..i0 + BLOCK]);
        T::block_sums::<J, BLOCK>(block, from_zero, x, &w[i0..], stride);
        i0 += BLOCK;
    }
    if i0 < cols {
        for (sums, x) in sums.iter_mut().zip(&x) {
            let sums = &mut sums[i0..];
            if from_zero {
                sums.fill(0.0);
            }
            for (k, &xk) in x.iter().enumerate() {
                let row = &w[k * stride + i0..][..sums.len()];
                for (a, &wk) in sums.iter_mut().zip(row) {
                    *a = T::add(*a, xk, wk);
                }
            }
        }
    }
}

/// Rows `j0..j0 + J` of `out`, a row-major matrix of `cols` columns.
#[inline(always)]
pub(crate) fn out_rows<const J: usize>(out: &mut [f32], j0: usize, cols: usize) -> [&mut [f32]; J] {
    let mut rows = out[j0 * cols..(j0 + J) * cols].chunks_exact_mut(cols);
    std::array::from_fn(|_| match rows.next() {
        Some(row) => row,
        None => unreachable!("J rows of out"),
    })
}

/// `out[j · cols + i] = Σ_k x(j)[k] · w[k · cols + i]` for `m` vectors `x(j)` of one
/// length K and a K × `cols` row-major matrix `w`: vectors in groups sharing each loaded
/// weight ([`row_products`]). Every sum runs in order of k, so a vector's outputs have
/// the same bits whatever else is computed beside it. `x` is a function so that callers
/// pass rows in place (a convolution's unfolded rows are slices of its input) without
/// collecting them.
pub fn vectors_times_matrix<'a>(
    m: usize,
    x: impl Fn(usize) -> &'a [f32],
    w: &[f32],
    cols: usize,
    out: &mut [f32],
) {
    assert!(out.len() >= m * cols, "room for every output");
    let k = if m == 0 { 0 } else { x(0).len() };
    let x = |j: usize| {
        let v = x(j);
        assert_eq!(v.len(), k, "vectors of one length");
        v
    };
    let mut j = 0;
    while j + GROUP <= m {
        let rows = out_rows::<GROUP>(out, j, cols);
        row_products(rows, true, std::array::from_fn(|i| x(j + i)), w, cols);
        j += GROUP;
    }
    if GROUP > 2 && j + 2 <= m {
        let rows = out_rows::<2>(out, j, cols);
        row_products(rows, true, std::array::from_fn(|i| x(j + i)), w, cols);
        j += 2;
    }
    for j in j..m {
        row_products(out_rows::<1>(out, j, cols), true, [x(j)], w, cols);
    }
}

/// Values in [−0.5, 0.5) from a linear congruential generator: the same numbers on
/// every run, for the kernels' tests.
#[cfg(test)]
pub(crate) fn test_values(mut seed: u32) -> impl FnMut() -> f32 {
    move || {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (seed >> 8) as f32 / (1 << 24) as f32 - 0.5
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vectors_outputs_have_the_same_bits_alone_or_in_a_group() {
        let mut value = test_values(7);
        // Output counts around the 64- and 256-wide blocks, vector counts around the groups.
        for (m, k, cols) in [
            (1, 5, 3),
            (7, 33, 70),
            (9, 128, 512),
            (5, 640, 128),
            (3, 10, 300),
        ] {
            let w: Vec<f32> = (0..k * cols).map(|_| value()).collect();
            let x: Vec<f32> = (0..m * k).map(|_| value()).collect();
            let mut all = vec![f32::NAN; m * cols];
            vectors_times_matrix(m, |j| &x[j * k..(j + 1) * k], &w, cols, &mut all);
            for j in 0..m {
                let mut alone = vec![f32::NAN; cols];
                vectors_times_matrix(1, |_| &x[j * k..(j + 1) * k], &w, cols, &mut alone);
                assert_eq!(
                    &all[j * cols..(j + 1) * cols],
                    &alone[..],
                    "{m}×{k}×{cols}, {j}"
                );
                for (i, &got) in alone.iter().enumerate() {
                    let exact: f64 = (0..k)
                        .map(|kk| f64::from(x[j * k + kk]) * f64::from(w[kk * cols + i]))
                        .sum();
                    assert!(
                        (f64::from(got) - exact).abs() < 1e-4,
                        "{m}×{k}×{cols}, {j}, {i}"
                    );
                }
            }
        }
    }

    /// The portable loops are what builds without AVX-512 run; on this machine they are
    /// checked against the AVX-512 kernel, bit for bit (both fuse their multiply-adds).
    #[test]
    fn the_portable_sums_equal_the_kernels() {
        fn check<const J: usize, const W: usize>(value: &mut impl FnMut() -> f32) {
            let (n, stride) = (37, W + 16);
            let w: Vec<f32> = (0..(n - 1) * stride + W).map(|_| value()).collect();
            let x: Vec<Vec<f32>> = (0..J).map(|_| (0..n).map(|_| value()).collect()).collect();
            let start: Vec<[f32; W]> = (0..J).map(|_| std::array::from_fn(|_| value())).collect();
            for from_zero in [true, false] {
                let mut kernel = start.clone();
                let mut portable = start.clone();
                let xs: [&[f32]; J] = std::array::from_fn(|j| x[j].as_slice());
                let mut it = kernel.iter_mut();
                let sums: [&mut [f32]; J] = std::array::from_fn(|_| match it.next() {
                    Some(s) => s.as_mut_slice(),
                    None => unreachable!(),
                });
                block_sums::<J, W>(sums, from_zero, xs, &w, stride);
                let mut it = portable.iter_mut();
                let sums: [&mut [f32; W]; J] = std::array::from_fn(|_| match it.next() {
                    Some(s) => s,
                    None => unreachable!(),
                });
                block_sums_portable::<J, W>(sums, from_zero, xs, &w, stride, n);
                assert_eq!(kernel, portable, "J {J}, W {W}, from zero {from_zero}");
            }
        }
        let mut value = test_values(11);
        check::<1, 64>(&mut value);
        check::<2, 64>(&mut value);
        check::<4, 64>(&mut value);
        check::<1, 256>(&mut value);
    }

    #[test]
    fn exp_is_within_a_few_ulp_of_libms() {
        let mut worst = 0.0f64;
        for i in -8_000..=8_000 {
            let x = i as f32 * 0.01;
            let exact = f64::from(x).exp();
            let rel = ((f64::from(exp(x)) - exact) / exact).abs();
            worst = worst.max(rel);
        }
        assert!(worst < 4e-7, "worst relative error {worst:e}");
        assert_eq!(exp(-1000.0), exp(-87.3));
        assert!(exp(1000.0).is_finite());
    }

    #[test]
    fn sigmoid_and_tanh_are_within_1e_6_of_libms() {
        for i in -2_000..=2_000 {
            let x = i as f32 * 0.01;
            assert!(
                (sigmoid(x) - 1.0 / (1.0 + (-x).exp())).abs() < 1e-6,
                "sigmoid({x})"
            );
            assert!((tanh(x) - x.tanh()).abs() < 1e-6, "tanh({x})");
        }
    }
}
