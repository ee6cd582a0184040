//! The lock-free hand-over between an audio callback and the engine's worker: a `ringbuf`
//! SPSC ring of interleaved f32 samples plus three counters the worker reads.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

/// What the writing side tells the reading side, all through atomics.
#[derive(Debug)]
pub struct RingCounters {
    /// Samples pushed into the ring since the start.
    pushed: AtomicU64,
    /// When the last push finished, in nanoseconds since `epoch`.
    handed_ns: AtomicU64,
    /// Samples that did not fit into the ring (the reader fell behind).
    dropped: AtomicU64,
    /// The writer has nothing more to send (end of a replayed file).
    ended: AtomicBool,
    epoch: Instant,
}

impl RingCounters {
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub fn ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }
}

/// A new ring holding `capacity` samples, split into its writing and reading ends.
pub fn ring(capacity: usize) -> (RingWriter, RingReader) {
    let (prod, cons) = HeapRb::<f32>::new(capacity).split();
    let counters = Arc::new(RingCounters {
        pushed: AtomicU64::new(0),
        handed_ns: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
        ended: AtomicBool::new(false),
        epoch: Instant::now(),
    });
    (
        RingWriter {
            prod,
            counters: Arc::clone(&counters),
        },
        RingReader {
            cons,
            counters,
            consumed: 0,
        },
    )
}

/// The audio callback's side. Every method is wait-free: no allocation, no lock, no
/// system call but the clock read.
pub struct RingWriter {
    prod: HeapProd<f32>,
    counters: Arc<RingCounters>,
}

impl RingWriter {
    /// Pushes what fits and counts the rest as dropped.
    pub fn write(&mut self, data: &[f32]) {
        let n = self.prod.push_slice(data);
        self.handed(n, data.len() - n);
    }

    /// Converts each sample to f32 on the way in (for devices that deliver integers).
    pub fn write_converted<T: Copy>(&mut self, data: &[T], convert: impl Fn(T) -> f32) {
        let n = self.prod.push_iter(data.iter().map(|&s| convert(s)));
        self.handed(n, data.len() - n);
    }

    /// Free room in the ring, in samples.
    pub fn vacant(&self) -> usize {
        self.prod.vacant_len()
    }

    /// Tells the reader that nothing more will come.
    pub fn end(&self) {
        self.counters.ended.store(true, Ordering::Release);
    }

    pub fn counters(&self) -> &Arc<RingCounters> {
        &self.counters
    }

    fn handed(&self, pushed: usize, dropped: usize) {
        let c = &self.counters;
        // The count is stored before the time. A reader loads the time first, then the
        // count: it may then take samples pushed after that time, never fewer, so the
        // latency it measures can only be over-stated (by one push at most).
        c.pushed.fetch_add(pushed as u64, Ordering::Release);
        c.handed_ns
            .store(c.epoch.elapsed().as_nanos() as u64, Ordering::Release);
        if dropped > 0 {
            c.dropped.fetch_add(dropped as u64, Ordering::Relaxed);
        }
    }
}

/// The worker's side.
pub struct RingReader {
    cons: HeapCons<f32>,
    counters: Arc<RingCounters>,
    consumed: u64,
}

impl RingReader {
    /// Pops up to `buf.len()` samples. Returns how many, and when the newest of them was
    /// handed over by the writer, or earlier: latency measured from it is never under-stated.
    pub fn read(&mut self, buf: &mut [f32]) -> (usize, Instant) {
        let handed = self.counters.handed_ns.load(Ordering::Acquire);
        let pushed = self.counters.pushed.load(Ordering::Acquire);
        // Only what `pushed` covers is taken; anything newer waits for the next read.
        let available = (pushed - self.consumed).min(buf.len() as u64) as usize;
        let n = self.cons.pop_slice(&mut buf[..available]);
        self.consumed += n as u64;
        (n, self.counters.epoch + Duration::from_nanos(handed))
    }

    /// Samples waiting in the ring.
    pub fn waiting(&self) -> usize {
        self.cons.occupied_len()
    }

    pub fn counters(&self) -> &Arc<RingCounters> {
        &self.counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_arrive_in_order_and_overflow_is_counted() {
        let (mut w, mut r) = ring(8);
        w.write(&[1.0, 2.0, 3.0]);
        w.write_converted(&[4i16, 5, 6, 7, 8, 9], f32::from);
        assert_eq!(w.counters().dropped(), 1);
        let mut buf = [0.0f32; 16];
        let (n, _) = r.read(&mut buf);
        assert_eq!(&buf[..n], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        assert_eq!(r.read(&mut buf).0, 0);
        assert!(!r.counters().ended());
        w.end();
        assert!(r.counters().ended());
    }
}
