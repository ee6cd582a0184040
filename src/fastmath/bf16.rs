//! Matrix products with bf16 operands and f32 sums, for the emotion model's inference on
//! CPUs with AVX-512 BF16 (`vdpbf16ps`: 32 multiply-adds an instruction, twice f32's 16).
//!
//! bf16 keeps f32's range and 8 bits of its 24-bit significand, so each weight and input
//! is rounded to about 0.4 % before it is multiplied; the products are exact and the sums
//! are f32. A window's probabilities move by about 1e-3 against f32 (`tests/gradients.rs`
//! bounds it), far inside what separates one class from the next, and the products take
//! half the time. Every sum still runs in order of k whatever else is computed beside it,
//! so a clip's windows read together get the same bits as each one alone.

use std::array::from_fn;

use super::{out_rows, row_products};

/// Whether this build can run the products ([`block_sums`] has a kernel for this CPU):
/// builds target the CPU they run on (`.cargo/config.toml`), so this is known at compile
/// time (`build.rs` sets `cfg(bf16_kernel)`). Without it, inference keeps f32 everywhere.
pub const AVAILABLE: bool = cfg!(bf16_kernel);

/// f32 → bf16, rounding to nearest even as the hardware conversion does (subnormals
/// become zero, as the instruction flushes them; a NaN stays a quiet NaN).
pub fn to_bf16(v: f32) -> u16 {
    let bits = v.to_bits();
    if bits & 0x7fff_ffff > 0x7f80_0000 {
        return (bits >> 16) as u16 | 0x40;
    }
    if bits & 0x7f80_0000 == 0 {
        return ((bits >> 16) & 0x8000) as u16;
    }
    let bias = 0x7fff + ((bits >> 16) & 1);
    (bits.wrapping_add(bias) >> 16) as u16
}

/// bf16 → f32 (exact).
pub fn from_bf16(v: u16) -> f32 {
    f32::from_bits(u32::from(v) << 16)
}

/// Two bf16 values in one 32-bit word, as the instruction reads them: the first (the
/// even row or index) in the low half, the second in the high half.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(transparent)]
pub struct Pair(pub u32);

impl Pair {
    pub fn new(lo: f32, hi: f32) -> Self {
        Self(u32::from(to_bf16(lo)) | u32::from(to_bf16(hi)) << 16)
    }

    /// The first value (0) or the second (1), as bf16 bits.
    pub fn half(self, which: usize) -> u16 {
        (self.0 >> (16 * which)) as u16
    }
}

impl super::Operand for Pair {
    #[inline(always)]
    fn block_sums<const J: usize, const W: usize>(
        sums: [&mut [f32]; J],
        from_zero: bool,
        x: [&[Pair]; J],
        w: &[Pair],
        stride: usize,
    ) {
        block_sums::<J, W>(sums, from_zero, x, w, stride);
    }
    /// The high halves' product first, then the low halves' (each product of two bf16
    /// is exact in f32), as the instruction adds them.
    #[inline(always)]
    fn add(acc: f32, x: Pair, w: Pair) -> f32 {
        let hi = from_bf16(x.half(1)) * from_bf16(w.half(1));
        let lo = from_bf16(x.half(0)) * from_bf16(w.half(0));
        (acc + hi) + lo
    }
}

/// `x` as bf16 pairs into `out` (cleared first): pair k holds x[2k] and x[2k + 1], the
/// last one padded with zero when `x.len()` is odd.
pub fn pair_up(x: &[f32], out: &mut Vec<Pair>) {
    out.clear();
    out.resize(x.len().div_ceil(2), Pair(0));
    pair_into(x, out);
}

/// [`pair_up`] into a slice of exactly `x.len() / 2` rounded up pairs (a caller's
/// buffer on the stack, say).
pub fn pair_into(x: &[f32], out: &mut [Pair]) {
    assert_eq!(
        out.len(),
        x.len().div_ceil(2),
        "a pair for every two values"
    );
    #[cfg(bf16_kernel)]
    // SAFETY: the CPU has AVX-512 BF16 (compile-time feature); the slices' lengths agree
    // (checked above).
    let done = unsafe { pair_into_kernel(x, out) };
    #[cfg(not(bf16_kernel))]
    let done = 0;
    for (pair, two) in out[done / 2..].iter_mut().zip(x[done..].chunks(2)) {
        *pair = Pair::new(two[0], two.get(1).copied().unwrap_or(0.0));
    }
}

/// The first values of [`pair_into`], 32 at a time; returns how many it paired (even).
///
/// # Safety
/// The CPU has AVX-512 BF16, and `out.len() == x.len().div_ceil(2)`.
#[cfg(bf16_kernel)]
unsafe fn pair_into_kernel(x: &[f32], out: &mut [Pair]) -> usize {
    use std::arch::x86_64::{
        __m512bh, __m512i, _mm512_cvtne2ps_pbh, _mm512_loadu_ps, _mm512_storeu_si512,
    };
    let mut done = 0;
    // Each step reads x[done..done + 32] and writes out[done / 2..done / 2 + 16], both
    // inside the slices (done + 32 ≤ x.len(), and out holds x.len() / 2 rounded up).
    while done + 32 <= x.len() {
        let lo = _mm512_loadu_ps(x.as_ptr().add(done));
        let hi = _mm512_loadu_ps(x.as_ptr().add(done + 16));
        // Words 0..16 from the second operand: x[done..done + 16] first, in order.
        let packed = _mm512_cvtne2ps_pbh(hi, lo);
        _mm512_storeu_si512(
            out.as_mut_ptr().add(done / 2).cast(),
            std::mem::transmute::<__m512bh, __m512i>(packed),
        );
        done += 32;
    }
    done
}

/// A K × cols row-major f32 matrix as bf16 pairs of rows: element (k2, i) pairs
/// w[2·k2][i] with w[2·k2 + 1][i] (zero past row K).
#[derive(Clone, Debug)]
pub struct PairedMatrix {
    pairs: Vec<Pair>,
    k: usize,
    cols: usize,
}

impl PairedMatrix {
    pub fn new(w: &[f32], k: usize, cols: usize) -> Self {
        assert!(w.len() >= k * cols, "a K × cols matrix");
        let mut pairs = vec![Pair(0); k.div_ceil(2) * cols];
        for (row, values) in w.chunks_exact(cols).take(k).enumerate() {
            let shift = 16 * (row % 2);
            let dst = &mut pairs[(row / 2) * cols..][..cols];
            for (d, &v) in dst.iter_mut().zip(values) {
                d.0 |= u32::from(to_bf16(v)) << shift;
            }
        }
        Self { pairs, k, cols }
    }

    /// Rows of the f32 matrix (the length of the vectors it multiplies).
    pub fn k(&self) -> usize {
        self.k
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The pairs, (K / 2 rounded up, cols) row-major.
    pub fn pairs(&self) -> &[Pair] {
        &self.pairs
    }
}

/// `sums[j][i] (+)= Σ_k2 pair x[j][k2] · pair w[k2 · stride + i]` for the `W` outputs of
/// one block and each vector of pairs `x[j]`: [`super::block_sums`] for bf16 pairs, with
/// the same register layout (J · W ≤ 256).
#[inline(always)]
pub fn block_sums<const J: usize, const W: usize>(
    sums: [&mut [f32]; J],
    from_zero: bool,
    x: [&[Pair]; J],
    w: &[Pair],
    stride: usize,
) {
    assert!(
        W.is_multiple_of(16) && J * W <= 256,
        "at most sixteen registers of sums"
    );
    let sums = sums
        .map(|s| <&mut [f32; W]>::try_from(s).unwrap_or_else(|_| panic!("{W} sums per vector")));
    let n = x.first().map_or(0, |x| x.len());
    assert!(x.iter().all(|x| x.len() == n), "vectors of one length");
    assert!(
        n == 0
            || (n - 1)
                .checked_mul(stride)
                .and_then(|v| v.checked_add(W))
                .is_some_and(|need| w.len() >= need),
        "weights for every input pair"
    );
    #[cfg(bf16_kernel)]
    // SAFETY: the CPU has AVX-512 BF16 (compile-time feature); every load reads
    // `w[k·stride..k·stride + W]` for k < n, checked against `w.len()` above, and `x[j][k]`
    // for k < n = x[j].len(); `sums[j]` holds exactly W values.
    unsafe {
        block_sums_kernel(sums, from_zero, x, w, stride, n);
        return;
    }
    #[allow(unreachable_code)]
    block_sums_portable(sums, from_zero, x, w, stride, n);
}

/// [`block_sums`] in plain loops: what builds without the instruction would run, and what
/// the tests hold the kernel to, bit for bit, except that the instruction treats
/// subnormal operands and sums as zero and these loops do not.
fn block_sums_portable<const J: usize, const W: usize>(
    sums: [&mut [f32; W]; J],
    from_zero: bool,
    x: [&[Pair]; J],
    w: &[Pair],
    stride: usize,
    n: usize,
) {
    use super::Operand;
    for (sums, x) in sums.into_iter().zip(x) {
        if from_zero {
            sums.fill(0.0);
        }
        for (k, &xk) in x.iter().enumerate().take(n) {
            for (s, &wk) in sums.iter_mut().zip(&w[k * stride..][..W]) {
                *s = Pair::add(*s, xk, wk);
            }
        }
    }
}

#[cfg(bf16_kernel)]
#[inline(always)]
unsafe fn block_sums_kernel<const J: usize, const W: usize>(
    sums: [&mut [f32; W]; J],
    from_zero: bool,
    x: [&[Pair]; J],
    w: &[Pair],
    stride: usize,
    n: usize,
) {
    use std::arch::x86_64::{
        __m512, __m512bh, __m512i, _mm512_dpbf16_ps, _mm512_loadu_ps, _mm512_loadu_si512,
        _mm512_set1_epi32, _mm512_setzero_ps, _mm512_setzero_si512, _mm512_storeu_ps,
    };
    const LANES: usize = 16;
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
        let mut wr: [__m512i; 16] = [_mm512_setzero_si512(); 16];
        for (r, wr) in wr.iter_mut().enumerate().take(regs) {
            *wr = _mm512_loadu_si512(row.add(r * LANES).cast());
        }
        for j in 0..J {
            let v = std::mem::transmute::<__m512i, __m512bh>(_mm512_set1_epi32(
                (*xs[j].add(k)).0 as i32,
            ));
            for r in 0..regs {
                let wb = std::mem::transmute::<__m512i, __m512bh>(wr[r]);
                a[j][r] = _mm512_dpbf16_ps(a[j][r], wb, v);
            }
        }
    }
    for (j, sums) in sums.into_iter().enumerate() {
        for r in 0..regs {
            _mm512_storeu_ps(sums[r * LANES..].as_mut_ptr(), a[j][r]);
        }
    }
}

/// Vectors that share each loaded run of weights, as in [`super::vectors_times_matrix`].
const GROUP: usize = 4;
/// The longest vectors [`vectors_times_paired`] takes, in pairs: conv2 of the widest
/// network (512 channels × 5 taps) is 1,280.
pub const MAX_PAIRS: usize = 2048;

/// `out[j · cols + i] = Σ_k x(j)[k] · w[k][i]` for `m` vectors of `w.k()` values, in bf16
/// products and f32 sums: [`super::vectors_times_matrix`] for a [`PairedMatrix`]. Each
/// group of vectors is converted to bf16 once and then serves every block of outputs.
pub fn vectors_times_paired<'a>(
    m: usize,
    x: impl Fn(usize) -> &'a [f32],
    w: &PairedMatrix,
    out: &mut [f32],
) {
    let cols = w.cols;
    assert!(out.len() >= m * cols, "room for every output");
    let pairs = w.k.div_ceil(2);
    assert!(
        pairs <= MAX_PAIRS,
        "vectors of at most {} values",
        2 * MAX_PAIRS
    );
    // On the stack, so that a call allocates nothing (the voice gate runs per chunk).
    let mut scratch = [[Pair(0); MAX_PAIRS]; GROUP];
    let mut j = 0;
    while j < m {
        let count = if j + GROUP <= m {
            GROUP
        } else if j + 2 <= m {
            2
        } else {
            1
        };
        for (i, s) in scratch.iter_mut().enumerate().take(count) {
            let v = x(j + i);
            assert_eq!(v.len(), w.k, "vectors of the matrix's length");
            pair_into(v, &mut s[..pairs]);
        }
        let x = |i: usize| &scratch[i][..pairs];
        let w = w.pairs();
        match count {
            GROUP => row_products(out_rows::<GROUP>(out, j, cols), true, from_fn(x), w, cols),
            2 => row_products(out_rows::<2>(out, j, cols), true, from_fn(x), w, cols),
            _ => row_products(out_rows::<1>(out, j, cols), true, [x(0)], w, cols),
        }
        j += count;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fastmath::test_values;

    #[test]
    fn conversion_rounds_to_nearest_even() {
        assert_eq!(to_bf16(1.0), 0x3f80);
        // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: to the even one, 1.
        assert_eq!(to_bf16(1.0 + 1.0 / 256.0), 0x3f80);
        assert_eq!(to_bf16(1.0 + 3.0 / 256.0), 0x3f82);
        assert_eq!(to_bf16(-2.0), 0xc000);
        assert_eq!(to_bf16(1e-40), 0);
        assert!(from_bf16(to_bf16(f32::NAN)).is_nan());
        assert!(from_bf16(to_bf16(f32::from_bits(0x7fff_ffff))).is_nan());
        assert_eq!(from_bf16(to_bf16(f32::INFINITY)), f32::INFINITY);
        let mut value = test_values(3);
        for _ in 0..1000 {
            let v = value() * 100.0;
            assert!((from_bf16(to_bf16(v)) - v).abs() <= v.abs() / 256.0, "{v}");
        }
        // The vector conversion rounds the same way, with an odd tail.
        let x: Vec<f32> = (0..77).map(|_| value() * 10.0).collect();
        let mut pairs = Vec::new();
        pair_up(&x, &mut pairs);
        assert_eq!(pairs.len(), 39);
        for (k, &v) in x.iter().enumerate() {
            assert_eq!(pairs[k / 2].half(k % 2), to_bf16(v), "value {k}");
        }
        assert_eq!(pairs[38].half(1), 0, "the odd tail is padded with zero");
    }

    #[test]
    fn a_vectors_outputs_have_the_same_bits_alone_or_in_a_group_and_near_f32() {
        let mut value = test_values(5);
        for (m, k, cols) in [
            (1, 5, 3),
            (7, 33, 70),
            (9, 128, 512),
            (5, 320, 64),
            (3, 64, 256),
        ] {
            let w: Vec<f32> = (0..k * cols).map(|_| value()).collect();
            let x: Vec<f32> = (0..m * k).map(|_| value()).collect();
            let paired = PairedMatrix::new(&w, k, cols);
            let mut all = vec![f32::NAN; m * cols];
            vectors_times_paired(m, |j| &x[j * k..(j + 1) * k], &paired, &mut all);
            for j in 0..m {
                let mut alone = vec![f32::NAN; cols];
                vectors_times_paired(1, |_| &x[j * k..(j + 1) * k], &paired, &mut alone);
                assert_eq!(
                    &all[j * cols..(j + 1) * cols],
                    &alone[..],
                    "{m}×{k}×{cols}, {j}"
                );
                for (i, &got) in alone.iter().enumerate() {
                    // Exact over the rounded operands (f64), and near the f32 product.
                    let (mut rounded, mut exact, mut size) = (0.0f64, 0.0f64, 0.0f64);
                    for kk in 0..k {
                        let (a, b) = (x[j * k + kk], w[kk * cols + i]);
                        rounded += f64::from(from_bf16(to_bf16(a)) * from_bf16(to_bf16(b)));
                        exact += f64::from(a) * f64::from(b);
                        size += f64::from(a.abs() * b.abs());
                    }
                    let got = f64::from(got);
                    assert!(
                        (got - rounded).abs() < 1e-5 * size.max(1.0),
                        "{m}×{k}×{cols}"
                    );
                    assert!((got - exact).abs() < 1e-2 * size.max(1.0), "{m}×{k}×{cols}");
                }
            }
        }
    }

    /// The kernel is held to the plain loops bit for bit, so the loops document what the
    /// instruction computes (and a build without it gets the same answers).
    #[test]
    fn the_portable_sums_equal_the_kernels() {
        fn check<const J: usize, const W: usize>(value: &mut impl FnMut() -> f32) {
            let (n, stride) = (37, W + 16);
            let pair = |value: &mut dyn FnMut() -> f32| Pair::new(value(), value());
            let w: Vec<Pair> = (0..(n - 1) * stride + W).map(|_| pair(value)).collect();
            let x: Vec<Vec<Pair>> = (0..J)
                .map(|_| (0..n).map(|_| pair(value)).collect())
                .collect();
            let start: Vec<[f32; W]> = (0..J).map(|_| std::array::from_fn(|_| value())).collect();
            for from_zero in [true, false] {
                let mut kernel = start.clone();
                let mut portable = start.clone();
                let xs: [&[Pair]; J] = std::array::from_fn(|j| x[j].as_slice());
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
        let mut value = test_values(13);
        check::<1, 64>(&mut value);
        check::<2, 64>(&mut value);
        check::<4, 64>(&mut value);
        check::<1, 256>(&mut value);
    }
}
