//! After warm-up the streaming extractor allocates nothing per frame: the live engine
//! calls it for every chunk of microphone audio. A counting allocator watches this thread.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use emovox::dsp::StreamingExtractor;

struct Counting;

thread_local! {
    static COUNT: Cell<Option<usize>> = const { Cell::new(None) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNT.try_with(|c| {
            if let Some(n) = c.get() {
                c.set(Some(n + 1));
            }
        });
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = COUNT.try_with(|c| {
            if let Some(n) = c.get() {
                c.set(Some(n + 1));
            }
        });
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Counts allocations made on this thread while `f` runs.
fn allocations(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(Some(0)));
    f();
    COUNT.with(|c| c.replace(None)).unwrap_or(0)
}

#[test]
fn streaming_frames_allocate_nothing_after_warm_up() {
    let signal = common::reference("03-01-05-02-01-01-10", "signal").data;
    let mut ex = StreamingExtractor::new();
    let mut energy = 0.0f32;
    // Warm-up: one frame, so any lazily built state exists.
    ex.push(&signal[..1024], |f| energy += f.mel[0]);
    let mut frames = 0;
    let n = allocations(|| {
        for chunk in signal[1024..].chunks(37) {
            ex.push(chunk, |f| {
                frames += 1;
                energy += f.mfcc[0];
            });
        }
        ex.finish(|_| frames += 1);
        ex.push(&signal[..4096], |_| frames += 1);
    });
    assert!(frames > 400, "the stream produced {frames} frames");
    assert_eq!(n, 0, "{n} allocations while streaming {frames} frames");
    // The counter itself can fail: an allocation inside the window is seen.
    assert_eq!(allocations(|| drop(vec![energy; 3])), 1);
}
