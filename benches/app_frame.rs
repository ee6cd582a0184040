//! One frame of the desktop app while listening, on the GUI thread: taking the events of
//! 33 ms (three spectrogram columns, a level, now and then a prediction), uploading the
//! new texture columns and building the whole UI, with 10 s of spectrogram and 30 s of
//! predictions on screen. Target: ≤ 2 ms. Headless (egui_kittest): `cargo bench --bench
//! app_frame`. Not a criterion bench: it reports the app's own timing of `logic` + `ui`,
//! not the harness's tessellation, which a real window does on its render thread.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use eframe::egui;
use egui_kittest::Harness;
use emovox::app::{AppOptions, AppState, EmovoxApp, View};
use emovox::engine::{Event, Level, Prediction};
use emovox::model::Classifier;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = Arc::new(Classifier::load(&root.join("weights")).expect("shipped model"));
    let mut h = Harness::builder()
        .with_size(egui::vec2(1200.0, 780.0))
        .build_eframe(move |_cc| EmovoxApp::new(model, AppOptions::default()));
    let state: &mut AppState = &mut h.state_mut().state;
    state.begin(View::Live {
        source: "bench".into(),
    });
    let mut frame = 0usize;
    let mut feed = |state: &mut AppState, columns: usize| {
        for _ in 0..columns {
            let mel_db = std::array::from_fn(|b| -80.0 + ((frame * 7 + b * 13) % 90) as f32);
            state.apply(Event::Spectrogram { frame, mel_db });
            frame += 1;
            if frame.is_multiple_of(25) {
                let p: [f32; 8] =
                    std::array::from_fn(|i| if i == (frame / 25) % 8 { 0.65 } else { 0.05 });
                state.apply(Event::Prediction(Prediction {
                    t: frame as f64 / 100.0,
                    probabilities: p,
                    smoothed: p,
                    speech: !(frame / 250).is_multiple_of(3),
                    latency: Duration::from_millis(8),
                }));
            }
        }
        state.apply(Event::Level(Level {
            t: frame as f64 / 100.0,
            rms_dbfs: -30.0,
            peak_dbfs: -12.0,
        }));
    };
    // 30 s of history first, so the views are full.
    feed(&mut h.state_mut().state, 3000);
    h.step();
    let mut times = Vec::new();
    for _ in 0..600 {
        feed(&mut h.state_mut().state, 3);
        h.step();
        let app = h.state();
        times.push((app.last_logic_time + app.last_ui_time).as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let pct = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    assert_eq!(
        h.state().state.columns.len(),
        emovox::app::state::LIVE_COLUMNS
    );
    println!(
        "app frame (logic + ui), listening, 600 frames: median {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        times[times.len() - 1]
    );
    file_frames(&mut h);
}

/// Frames while a 10-minute file is being analysed: 60,000 columns arrive, 500 per frame
/// (the worker runs ~50x faster than real time), and the file's texture is rebuilt.
fn file_frames(h: &mut Harness<'_, EmovoxApp>) {
    let state = &mut h.state_mut().state;
    state.begin(View::File {
        path: "ten-minutes.wav".into(),
    });
    state.duration_s = Some(600.0);
    let mut frame = 0usize;
    let mut times = Vec::new();
    while frame < 60_000 {
        let state = &mut h.state_mut().state;
        for _ in 0..500 {
            let mel_db = std::array::from_fn(|b| -80.0 + ((frame * 7 + b * 13) % 90) as f32);
            state.apply(Event::Spectrogram { frame, mel_db });
            frame += 1;
        }
        h.step();
        let app = h.state();
        times.push((app.last_logic_time + app.last_ui_time).as_secs_f64() * 1e3);
        std::thread::sleep(Duration::from_millis(16));
    }
    times.sort_by(f64::total_cmp);
    let pct = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    println!(
        "app frame (logic + ui), analysing a 10-minute file, {} frames: median {:.2} ms, p90 {:.2} ms, max {:.2} ms",
        times.len(),
        pct(0.5),
        pct(0.9),
        times[times.len() - 1]
    );
}
