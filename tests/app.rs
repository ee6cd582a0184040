//! The desktop app driven through its accessibility tree (egui_kittest, headless): what a
//! person clicks, then what the app's state and window say. A file replayed through the
//! live path stands in for the microphone. Tuning to one's voice runs on a small session
//! written with the session writer, made quick by the tuning recipe's epochs.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::virtual_mic;

use eframe::egui;
use egui_kittest::kittest::{By, Queryable};
use egui_kittest::Harness;
use emovox::app::settings::{SavedModel, Settings};
use emovox::app::{Activity, AppOptions, EmovoxApp, TuneStatus, View};
use emovox::audio::capture::DeviceInfo;
use emovox::engine::Prediction;
use emovox::labels::Emotion;
use emovox::model::card::ModelCard;
use emovox::model::classifier::ModelSource;
use emovox::model::train::exemplars;
use emovox::model::tune::{TuneProgress, TuneRecipe};
use emovox::model::Classifier;

const CLIP: &str = "03-01-05-02-01-01-10";

fn model() -> Arc<Classifier> {
    Arc::new(common::shipped())
}

fn harness(options: AppOptions) -> Harness<'static, EmovoxApp> {
    Harness::builder()
        .with_size(egui::vec2(1200.0, 780.0))
        .build_eframe(move |_cc| EmovoxApp::new(model(), options))
}

/// Steps frames until `done` holds (or fails after 20 s).
fn step_until(h: &mut Harness<'static, EmovoxApp>, done: impl Fn(&EmovoxApp) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done(h.state()) {
        assert!(
            Instant::now() < deadline,
            "timed out; state: {:?}",
            h.state().state.activity
        );
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    h.step();
}

fn finished(app: &EmovoxApp) -> bool {
    !app.state.is_running() && app.state.summary.is_some()
}

/// A dropped file, as the window system hands it over.
#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

#[test]
fn listen_runs_the_live_view_and_stop_stops_it() {
    let mut h = harness(AppOptions {
        replay: Some(common::wav(CLIP)),
        replay_speed: 0.0,
        ..AppOptions::default()
    });
    h.step();
    assert_eq!(h.state().state.view, View::Empty);
    h.get_by_label("Listen").click();
    step_until(&mut h, finished);
    let s = &h.state().state;
    assert!(s.is_live());
    assert!(
        s.predictions.len() > 10,
        "{} predictions",
        s.predictions.len()
    );
    assert!(s.predictions.iter().any(|p| p.speech));
    assert!(s.columns.len() > 300, "{} columns", s.columns.len());
    assert!(s.errors.is_empty(), "{:?}", s.errors);

    // In real time, Stop ends it long before the clip's 3.7 s.
    let mut h = harness(AppOptions {
        replay: Some(common::wav(CLIP)),
        replay_speed: 1.0,
        ..AppOptions::default()
    });
    h.step();
    h.get_by_label("Listen").click();
    step_until(&mut h, |app| app.state.predictions.len() >= 2);
    h.get_by_label("Stop").click();
    h.step();
    h.step();
    let s = &h.state().state;
    assert_eq!(s.activity, Activity::Finished);
    let t = s.current().unwrap().t;
    assert!(t < 2.0, "ran on to {t} s");
    // The window says what happened, and a stopped view keeps its reading.
    h.get_by_label_contains("Stopped");
}

#[test]
fn the_live_view_says_how_much_voice_it_has_heard_and_new_speaker_starts_afresh() {
    // The clip three times over (11 s of one voice), replayed at 4x real time.
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("thrice.wav");
    let signal = emovox::audio::decode_file(&common::wav(CLIP))
        .unwrap()
        .samples;
    common::write_wav_16k(&path, signal.iter().chain(&signal).chain(&signal).copied());
    let mut h = harness(AppOptions {
        replay: Some(path),
        replay_speed: 4.0,
        ..AppOptions::default()
    });
    h.step();
    // The shipped model reads each voice on its baseline (a blended part does).
    assert!(model().reads_per_voice());
    h.get_by_label("Listen").click();
    step_until(&mut h, |app| app.state.voice_heard_s.is_some());
    h.get_by_label_contains("learning the voice");
    step_until(&mut h, |app| app.state.voice_heard_s >= Some(3.0));
    h.get_by_label_contains("voice learnt from");
    h.get_by_label("New speaker").click();
    step_until(&mut h, |app| app.state.voice_heard_s == Some(0.0));
    h.get_by_label("Stop").click();
    step_until(&mut h, finished);
    assert!(
        h.state().state.errors.is_empty(),
        "{:?}",
        h.state().state.errors
    );
}

#[test]
fn a_dropped_file_is_analysed_and_shown_with_its_segments() {
    let mut h = harness(AppOptions::default());
    h.step();
    h.input_mut()
        .dropped_files
        .push(Arc::new(Dropped(common::wav(CLIP))));
    step_until(&mut h, finished);
    let s = &h.state().state;
    assert_eq!(
        s.view,
        View::File {
            path: common::wav(CLIP)
        }
    );
    let (label, _) = s.overall().unwrap();
    assert!(!s.segments().is_empty());
    // The whole file: a column per 10 ms, every window.
    assert!(s.columns.len() >= 360, "{} columns", s.columns.len());
    assert!(s.predictions.len() >= 14);
    // The overall label is on screen in large type, and the segments are listed.
    h.get_by_label(&label.name().to_uppercase());
    h.get_by_label("Segments");
}

#[test]
fn file_open_takes_a_typed_path_and_a_bad_file_is_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("truncated.wav");
    std::fs::write(&bad, &std::fs::read(common::wav(CLIP)).unwrap()[..40]).unwrap();

    let mut h = harness(AppOptions::default());
    h.step();
    h.get_by_label("Open file…").click();
    // A new window takes a frame to size itself before it is shown.
    h.run_steps(3);
    h.get_by_label("Path").click();
    h.step();
    h.get_by_label("Path").type_text(bad.to_str().unwrap());
    h.step();
    h.get_by_label("Open").click();
    step_until(&mut h, finished);
    assert_eq!(h.state().state.activity, Activity::Failed);
    // The decoder's message, naming the file, is on screen as it is.
    let error = h.state().state.errors.first().unwrap().clone();
    assert!(error.contains("truncated.wav"), "{error}");
    h.get_by_label(&error);
    h.get_by_label_contains("Could not analyse");
}

/// A live reading whose smoothed probabilities are `pairs` (the rest zero).
fn show_reading(h: &mut Harness<'static, EmovoxApp>, pairs: &[(Emotion, f32)]) {
    let mut p = [0.0f32; Emotion::COUNT];
    for &(e, v) in pairs {
        p[e.index()] = v;
    }
    let state = &mut h.state_mut().state;
    state.begin(View::Live {
        source: "test".into(),
    });
    state.activity = Activity::Finished;
    state.predictions.push_back(Prediction {
        t: 3.0,
        probabilities: p,
        smoothed: p,
        speech: true,
        latency: Duration::ZERO,
    });
    h.run();
}

#[test]
fn the_big_label_says_uncertain_with_the_two_leading_emotions() {
    let mut h = harness(AppOptions::default());
    h.step();
    show_reading(
        &mut h,
        &[
            (Emotion::Angry, 0.42),
            (Emotion::Disgust, 0.33),
            (Emotion::Sad, 0.25),
        ],
    );
    h.get_by_label("uncertain");
    h.get_by_label("angry 42% or disgust 33%");
    assert!(h.query_by_label("ANGRY").is_none());
    // Close: the top is high, but the second is near.
    show_reading(
        &mut h,
        &[(Emotion::Happy, 0.55), (Emotion::Surprised, 0.45)],
    );
    h.get_by_label("uncertain");
    h.get_by_label("happy 55% or surprised 45%");
    // A clear lead is named in large type, with no "uncertain".
    show_reading(&mut h, &[(Emotion::Angry, 0.8), (Emotion::Disgust, 0.2)]);
    h.get_by_label("ANGRY");
    assert!(h.query_by_label("uncertain").is_none());
}

/// Checks that seconds `times` fall on the same x, within 1 px, in the spectrogram and
/// the timeline, and that the plot areas' left and right edges coincide.
fn assert_time_axes_line_up(app: &EmovoxApp, times: &[f64]) {
    let spectrogram = app.spectrogram_transform.unwrap();
    let timeline = app.timeline_transform.unwrap();
    for &t in times {
        let x = |p: &egui_plot::PlotTransform| {
            p.position_from_point(&egui_plot::PlotPoint::new(t, 0.0)).x
        };
        let (a, b) = (x(&spectrogram), x(&timeline));
        assert!(
            (a - b).abs() <= 1.0,
            "{t} s is at x = {a} in the spectrogram and {b} in the timeline"
        );
    }
    let (a, b) = (spectrogram.frame(), timeline.frame());
    assert!(
        (a.left() - b.left()).abs() <= 1.0 && (a.right() - b.right()).abs() <= 1.0,
        "plot areas {a:?} and {b:?}"
    );
}

#[test]
fn the_spectrogram_and_the_timeline_share_their_time_axis() {
    // A file: shown whole, 0 s at the left edge of both plots.
    let mut h = harness(AppOptions::default());
    h.step();
    h.input_mut()
        .dropped_files
        .push(Arc::new(Dropped(common::wav(CLIP))));
    step_until(&mut h, finished);
    h.run_steps(3);
    let duration = h.state().state.duration_s.unwrap();
    assert_time_axes_line_up(h.state(), &[0.0, 1.0, duration / 2.0, duration]);
    let whole = h.state().timeline_transform.unwrap();
    let shown = whole.bounds();
    assert!(
        shown.min()[0].abs() < 1e-9 && (shown.max()[0] - duration).abs() < 1e-9,
        "{shown:?} for {duration} s"
    );
    let left = whole.frame().left();
    let zero = whole
        .position_from_point(&egui_plot::PlotPoint::new(0.0, 0.0))
        .x;
    assert!(
        (zero - left).abs() <= 1.0,
        "0 s at {zero}, plot from {left}"
    );

    // Zoomed in over the timeline (a pinch, as Ctrl+wheel is), both zoom.
    let centre = whole.frame().center();
    h.hover_at(centre);
    h.step();
    h.input_mut().events.push(egui::Event::Zoom(3.0));
    h.run_steps(3);
    let zoomed = *h.state().spectrogram_transform.unwrap().bounds();
    assert!(
        zoomed.width() < duration / 2.0,
        "the spectrogram shows {} s of {duration} s",
        zoomed.width()
    );
    let mid = (zoomed.min()[0] + zoomed.max()[0]) / 2.0;
    assert_time_axes_line_up(h.state(), &[zoomed.min()[0], mid, zoomed.max()[0]]);

    // Dragged on the spectrogram, both scroll.
    let spectrogram = h.state().spectrogram_transform.unwrap().frame().center();
    h.hover_at(spectrogram);
    h.step();
    h.drag_at(spectrogram);
    h.step();
    h.hover_at(spectrogram - egui::vec2(150.0, 0.0));
    h.step();
    h.drop_at(spectrogram - egui::vec2(150.0, 0.0));
    h.run_steps(3);
    let scrolled = *h.state().timeline_transform.unwrap().bounds();
    assert!(
        scrolled.min()[0] > zoomed.min()[0] + 0.05,
        "{zoomed:?} -> {scrolled:?}"
    );
    assert_time_axes_line_up(h.state(), &[scrolled.min()[0], scrolled.max()[0]]);
    // The shared axis width settles: another frame draws the plots where they were.
    let before = *h.state().timeline_transform.unwrap().frame();
    h.run_steps(3);
    assert_eq!(*h.state().timeline_transform.unwrap().frame(), before);

    // Live: the same last seconds in both.
    let mut h = harness(AppOptions {
        replay: Some(common::wav(CLIP)),
        replay_speed: 0.0,
        ..AppOptions::default()
    });
    h.step();
    h.get_by_label("Listen").click();
    step_until(&mut h, finished);
    h.run_steps(3);
    let (start, end) = h.state().state.time_span();
    assert_time_axes_line_up(h.state(), &[start, 1.0, 3.0, end]);
}

#[test]
fn f1_or_a_question_mark_shows_the_keys_and_what_the_words_mean() {
    let mut h = harness(AppOptions::default());
    h.step();
    assert!(h.query_by_label_contains("Ctrl + wheel").is_none());
    h.key_press(egui::Key::F1);
    h.run();
    assert!(h.state().help_open);
    h.get_by_label_contains("while recording: label from now on (1 neutral, 2 calm");
    h.get_by_label_contains("8 surprised");
    for (keys, what) in emovox::app::help::KEYS {
        h.get_by_label(keys);
        h.get_by_label(what);
    }
    for term in ["no speech", "uncertain", "grey shading", "coloured shading"] {
        h.get_by_label(term);
    }
    h.get_by_label_contains("under 50 %, or less than 15 points ahead");
    // F1 again hides it; a typed "?" shows it.
    h.key_press(egui::Key::F1);
    h.run();
    assert!(h.query_by_label_contains("Ctrl + wheel").is_none());
    h.input_mut().events.push(egui::Event::Text("?".into()));
    h.run();
    h.get_by_label("Ctrl + wheel, or pinch");
    // A "?" typed into a text field is text, not help.
    h.key_press(egui::Key::F1);
    h.run();
    h.get_by_label("Open file…").click();
    h.run();
    h.get_by_label("Path").click();
    h.run();
    h.get_by_label("Path").type_text("what?");
    h.run();
    assert!(!h.state().help_open);
    assert!(h.query_by_label_contains("Ctrl + wheel").is_none());
}

fn device(index: usize, id: &str, name: &str) -> DeviceInfo {
    DeviceInfo {
        index,
        name: name.into(),
        id: id.into(),
        default_rate: Some(48_000),
        default_channels: Some(2),
        is_default: index == 0,
    }
}

/// The app as it starts with this settings file and these inputs connected.
fn with_settings(settings: &Path, devices: Vec<DeviceInfo>) -> Harness<'static, EmovoxApp> {
    let mut h = harness(AppOptions {
        settings: Some(settings.to_path_buf()),
        devices: Some(devices),
        ..AppOptions::default()
    });
    h.run();
    h
}

#[test]
fn a_restart_restores_the_input_by_id_and_the_folders() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("config/emovox/settings.json");
    let sessions = dir.path().join("my sessions");
    let mut h = with_settings(
        &settings,
        vec![
            device(0, "alsa:default", "Built-in"),
            device(1, "alsa:hw:2,0", "USB mic"),
        ],
    );
    assert_eq!(h.state().state.device, None);
    // The USB mic picked, a sessions folder chosen, a file opened.
    h.state_mut().state.device = Some(1);
    h.get_by_label("Sessions").click();
    h.run();
    h.get_by_label("Folder").click();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("Folder")
        .type_text(sessions.to_str().unwrap());
    h.step();
    h.get_by_label("Use this folder").click();
    h.run_steps(2);
    assert_eq!(h.state().sessions_root, sessions);
    h.input_mut()
        .dropped_files
        .push(Arc::new(Dropped(common::wav(CLIP))));
    step_until(&mut h, finished);
    h.state_mut().save_settings();
    let written = std::fs::read_to_string(&settings).unwrap();
    assert!(written.contains("alsa:hw:2,0"), "{written}");
    drop(h);

    // Restarted with the mic now first in the list: found by its id, not its place.
    let mut h = with_settings(
        &settings,
        vec![
            device(0, "alsa:hw:2,0", "USB mic"),
            device(1, "alsa:default", "Built-in"),
        ],
    );
    let app = h.state();
    assert_eq!(app.state.device, Some(0));
    assert!(app.state.errors.is_empty(), "{:?}", app.state.errors);
    assert_eq!(app.sessions_root, sessions);
    // File → Open starts in the folder the file came from.
    let folder = std::path::absolute(common::wav(CLIP))
        .unwrap()
        .parent()
        .unwrap()
        .join("");
    h.get_by_label("Open file…").click();
    h.run();
    h.get(By::new().label("Path").value(&folder.display().to_string()));
    drop(h);

    // Restarted with the mic unplugged: the system default, and a note saying so.
    let h = with_settings(&settings, vec![device(0, "alsa:default", "Built-in")]);
    assert_eq!(h.state().state.device, None);
    h.get_by_label(
        "The input used last time (USB mic) is not connected; using the system default.",
    );
}

#[test]
fn a_restart_restores_the_model_and_a_missing_one_is_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("settings.json");
    // The shipped weights' folder stands for a personal model.
    let weights = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("weights");
    let mut h = with_settings(&settings, Vec::new());
    assert_eq!(h.state().model, ModelSource::Shipped);
    h.state_mut()
        .use_model(ModelSource::Folder(weights.clone()));
    h.state_mut().save_settings();
    drop(h);
    let h = with_settings(&settings, Vec::new());
    assert_eq!(h.state().model, ModelSource::Folder(weights));
    assert!(
        h.state().state.errors.is_empty(),
        "{:?}",
        h.state().state.errors
    );
    drop(h);

    // A remembered model whose folder is gone: the built-in one, and why.
    Settings {
        model: Some(SavedModel::Folder(dir.path().join("gone"))),
        ..Settings::default()
    }
    .save(&settings)
    .unwrap();
    let h = with_settings(&settings, Vec::new());
    assert_eq!(h.state().model, ModelSource::Shipped);
    h.get_by_label_contains("cannot use that model");
}

#[test]
fn a_corrupt_settings_file_is_ignored_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("settings.json");
    std::fs::write(&settings, "{\"input\": {\"id\": ").unwrap();
    let mut h = with_settings(&settings, vec![device(0, "alsa:default", "Built-in")]);
    h.get_by_label_contains("Ignored the settings file");
    assert_eq!(h.state().state.device, None);
    // The app works on, and the next change rewrites the file whole.
    h.state_mut().state.device = Some(0);
    h.state_mut().save_settings();
    let written = std::fs::read_to_string(&settings).unwrap();
    let v: serde_json::Value = serde_json::from_str(&written).unwrap();
    assert_eq!(v["input"]["id"], "alsa:default");
}

#[test]
fn settings_that_cannot_be_written_are_said_once_and_the_app_works_on() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the settings folder should be: the folder cannot be made.
    let blocker = dir.path().join("config");
    std::fs::write(&blocker, "a file, not a folder").unwrap();
    let settings = blocker.join("settings.json");
    let mut h = with_settings(&settings, vec![device(0, "alsa:default", "Built-in")]);
    let said = |h: &Harness<'static, EmovoxApp>| {
        h.state()
            .state
            .errors
            .iter()
            .filter(|e| e.contains("cannot remember the settings"))
            .count()
    };
    h.state_mut().state.device = Some(0);
    h.state_mut().save_settings();
    assert_eq!(said(&h), 1, "{:?}", h.state().state.errors);
    // Asked again with another change, and a second later: still one message.
    h.state_mut().state.device = None;
    h.state_mut().save_settings();
    h.run_steps(2);
    assert_eq!(said(&h), 1, "{:?}", h.state().state.errors);
    assert_eq!(
        std::fs::read_to_string(&blocker).unwrap(),
        "a file, not a folder"
    );
    // Files still open and play through the model.
    h.state_mut().open_file(common::wav(CLIP));
    step_until(&mut h, finished);
}

#[test]
fn without_a_microphone_the_app_says_so_and_files_still_work() {
    let mut h = harness(AppOptions::default());
    h.step();
    // An input that does not exist, as on a machine with no sound card.
    h.state_mut().state.device = Some(999);
    h.get_by_label("Listen").click();
    h.step();
    h.step();
    assert!(!h.state().state.is_running());
    h.get_by_label_contains("No microphone");
    h.input_mut()
        .dropped_files
        .push(Arc::new(Dropped(common::wav(CLIP))));
    step_until(&mut h, finished);
    assert_eq!(h.state().state.activity, Activity::Finished);
    assert!(h.state().state.overall().is_some());
}

#[test]
fn a_recorded_session_is_labelled_saved_and_reopened() {
    // The app makes the sessions folder itself.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("sessions");
    let mut h = harness(AppOptions {
        replay: Some(common::wav(CLIP)),
        replay_speed: 1.0,
        sessions: Some(root.clone()),
        ..AppOptions::default()
    });
    h.step();
    h.get_by_label("Listen").click();
    step_until(&mut h, |app| !app.state.predictions.is_empty());
    h.get_by_label("Record").click();
    h.step();
    assert!(h.state().state.recording.as_ref().unwrap().active);
    // Keys 1–8 mark the emotion from now on: angry (5) at about 1 s, sad (4) at 2 s.
    step_until(&mut h, |app| app.state.recording_time().unwrap() >= 1.0);
    h.key_press(egui::Key::Num5);
    step_until(&mut h, |app| app.state.recording_time().unwrap() >= 2.0);
    h.key_press(egui::Key::Num4);
    // The clip ends, the engine finishes, the recording stops and is saved.
    step_until(&mut h, finished);
    h.state_mut().flush_saves();
    let rec = h.state().state.recording.clone().unwrap();
    assert!(!rec.active);
    let labels: Vec<_> = rec.session.labels.iter().map(|r| r.label.name()).collect();
    assert_eq!(labels, ["angry", "sad"]);

    let listed = emovox::session::list(&root);
    assert_eq!(listed.len(), 1);
    let (dir, saved) = &listed[0];
    let saved = saved.as_ref().unwrap();
    // labels.txt keeps microseconds.
    assert_eq!(saved.labels.len(), rec.session.labels.len());
    for (a, b) in saved.labels.iter().zip(&rec.session.labels) {
        assert_eq!(a.label, b.label);
        assert!((a.start_s - b.start_s).abs() < 1e-5 && (a.end_s - b.end_s).abs() < 1e-5);
    }
    assert!(
        saved.predictions.len() >= 4,
        "{} predictions",
        saved.predictions.len()
    );
    let audio = emovox::audio::decode_file(&dir.join("audio.wav")).unwrap();
    assert!(
        (audio.seconds() - saved.seconds).abs() < 0.05,
        "{} vs {}",
        audio.seconds(),
        saved.seconds
    );
    assert!(saved.seconds > 2.0);
    let text = std::fs::read_to_string(dir.join("labels.txt")).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");

    // Delete the second label in the list, then reopen the session from the list.
    h.get_all_by_label("Delete").nth(1).unwrap().click();
    h.step();
    let left: Vec<_> = h
        .state()
        .state
        .recording
        .as_ref()
        .unwrap()
        .session
        .labels
        .iter()
        .map(|r| r.label.name())
        .collect();
    assert_eq!(left, ["angry"]);
    // Move the remaining label's end from 2.0 s to 1.5 s, as a screen reader would.
    h.get_by_label("End of label 1").set_value_accesskit(1.5);
    h.step();
    let moved = h.state().state.recording.as_ref().unwrap().session.labels[0].clone();
    assert_eq!(moved.end_s, 1.5);
    assert!((moved.start_s - 1.0).abs() < 0.3, "{moved:?}");
    h.state_mut().flush_saves();
    h.get_by_label("Sessions").click();
    h.run_steps(3);
    h.get_by_label("Reopen").click();
    h.step();
    assert!(
        h.state().state.is_running(),
        "reopening analyses the session's audio"
    );
    step_until(&mut h, finished);
    let reopened = h.state().state.recording.clone().unwrap();
    assert_eq!(&reopened.dir, dir);
    let labels: Vec<_> = reopened
        .session
        .labels
        .iter()
        .map(|r| r.label.name())
        .collect();
    assert_eq!(labels, ["angry"]);
    assert!(matches!(h.state().state.view, View::File { .. }));

    // A drag on the timeline from 1.8 s to 2.6 s labels that stretch with the emotion
    // picked in the side panel.
    let choice = h.state().state.label_choice;
    let plot = h.state().timeline_transform.unwrap();
    let at =
        |t: f64| plot.position_from_point(&egui_plot::PlotPoint::new(reopened.stream_t0 + t, 0.5));
    h.hover_at(at(1.8));
    h.step();
    h.drag_at(at(1.8));
    h.step();
    h.hover_at(at(2.2));
    h.step();
    h.hover_at(at(2.6));
    h.step();
    h.drop_at(at(2.6));
    h.run_steps(2);
    let labels = h.state().state.recording.clone().unwrap().session.labels;
    assert_eq!(labels.len(), 2, "{labels:?}");
    let added = labels
        .iter()
        .find(|r| r.start_s > 1.6)
        .unwrap_or_else(|| panic!("{labels:?}"));
    assert_eq!(added.label, choice);
    assert!(
        (added.start_s - 1.8).abs() < 0.05 && (added.end_s - 2.6).abs() < 0.05,
        "{added:?}"
    );
    // …and it is saved.
    h.state_mut().flush_saves();
    let text = std::fs::read_to_string(dir.join("labels.txt")).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
}

#[test]
fn the_sessions_folder_is_chosen_in_the_sessions_window() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    let (first, second) = (base.join("first"), base.join("second"));
    // A file stands where a folder would have to be created.
    std::fs::write(base.join("blocked"), "a file, not a folder").unwrap();
    let mut h = harness(AppOptions {
        replay: Some(common::wav(CLIP)),
        replay_speed: 1.0,
        sessions: Some(first.clone()),
        ..AppOptions::default()
    });
    h.step();
    h.get_by_label("Sessions").click();
    h.run_steps(3);
    let choose = |h: &mut Harness<'static, EmovoxApp>, folder: &Path| {
        h.get_by_label("Folder").click();
        h.step();
        h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
        h.get_by_label("Folder").type_text(folder.to_str().unwrap());
        h.step();
        h.get_by_label("Use this folder").click();
        h.run_steps(2);
    };
    choose(&mut h, &base.join("blocked").join("sessions"));
    h.get_by_label_contains("Cannot use");
    assert_eq!(
        h.state().sessions_root,
        first,
        "a folder that cannot be made is refused"
    );
    choose(&mut h, &second);
    assert_eq!(h.state().sessions_root, second);
    assert!(second.is_dir());

    // The next recording goes into the chosen folder.
    h.get_by_label("Listen").click();
    step_until(&mut h, |app| !app.state.predictions.is_empty());
    h.get_by_label("Record").click();
    step_until(&mut h, |app| {
        app.state.recording_time().unwrap_or(0.0) >= 0.5
    });
    h.get_by_label_contains("Stop recording").click();
    h.step();
    h.state_mut().flush_saves();
    assert_eq!(emovox::session::list(&second).len(), 1);
    assert!(emovox::session::list(&first).is_empty());
}

/// Play moves a cursor over the analysed file, and Stop playback stops it where it is. The
/// sound goes to a private server (tests/virtual-mic), never to the machine's own: the test
/// runs in a child process whose `PULSE_SERVER` names it. That the sound really comes out
/// is checked in tests/listen.rs, through the virtual microphone.
#[test]
fn play_moves_a_cursor_and_stop_playback_stops_it() {
    if virtual_mic::enter("play_moves_a_cursor_and_stop_playback_stops_it").is_none() {
        return;
    }
    let mut h = pressed_play();
    let s = &h.state().state;
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert!(s.playback_s.unwrap() > 0.3);
    h.get_by_label("Stop playback").click();
    h.step();
    let s = &h.state().state;
    assert!(s.playback_s.is_none());
    assert!(
        s.play_from_s > 0.3,
        "the next Play resumes: {}",
        s.play_from_s
    );
}

/// Where there is no sound server (CI without one), Play says why in the window and leaves
/// the cursor off. `PULSE_SERVER` names a socket nobody listens on, in a child process.
#[test]
fn without_a_sound_server_play_says_why() {
    let test = "without_a_sound_server_play_says_why";
    if !virtual_mic::in_child(test, &[("PULSE_SERVER", "unix:/nonexistent/emovox/native")]) {
        return;
    }
    let h = pressed_play();
    let s = &h.state().state;
    assert!(s.playback_s.is_none());
    let error = s.errors.last().expect("an error in the window");
    assert!(error.starts_with("cannot play the file: "), "{error}");
    h.get_by_label_contains("cannot play the file");
    h.get_by_label("Play");
}

/// The app with a file analysed and Play pressed, stepped until the cursor is past 0.3 s
/// or an error is shown.
fn pressed_play() -> Harness<'static, EmovoxApp> {
    let mut h = harness(AppOptions {
        open: Some(common::wav(CLIP)),
        ..AppOptions::default()
    });
    step_until(&mut h, finished);
    assert!(h.state().state.playback_s.is_none());
    h.get_by_label("Play").click();
    h.step();
    assert_eq!(
        h.state().state.playback_s,
        Some(0.0),
        "the cursor waits at the start"
    );
    step_until(&mut h, |app| {
        app.state.playback_s.is_none_or(|t| t > 0.3) || !app.state.errors.is_empty()
    });
    h
}

/// The app with a sessions folder holding one small labelled session (the session
/// writer's files, `rounds` × four labelled clips), an empty models folder, and tuning
/// made quick by the recipe (`epochs`, no augmentation): (app, session folder, models
/// folder).
fn tuning_app(
    tmp: &Path,
    rounds: usize,
    epochs: usize,
    open: Option<PathBuf>,
) -> (Harness<'static, EmovoxApp>, PathBuf, PathBuf) {
    let sessions = tmp.join("sessions");
    let session = sessions.join("2026-11-29_10-00-00");
    common::tiny_session(&session, rounds);
    let models = tmp.join("models");
    let mut h = harness(AppOptions {
        sessions: Some(sessions),
        models: Some(models.clone()),
        open,
        tune_recipe: TuneRecipe {
            epochs,
            augmentations: &[],
            ..TuneRecipe::default()
        },
        ..AppOptions::default()
    });
    h.step();
    h.get_by_label("Sessions").click();
    h.run_steps(3);
    // The session's line is its tick.
    h.get_by_label_contains("2026-11-29_10-00-00").click();
    h.step();
    assert_eq!(h.state().tune.chosen, vec![session.clone()]);
    (h, session, models)
}

/// Steps frames while tuning runs (at most `limit`), calling `each` on every frame.
fn while_tuning(
    h: &mut Harness<'static, EmovoxApp>,
    limit: Duration,
    mut each: impl FnMut(&mut Harness<'static, EmovoxApp>),
) {
    let deadline = Instant::now() + limit;
    while h.state().tune.is_running() {
        assert!(Instant::now() < deadline, "tuning did not end");
        each(h);
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    h.run_steps(2);
}

#[test]
fn tune_to_my_voice_shows_progress_and_before_after_and_the_picker_switches_models() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut h, session, models) = tuning_app(tmp.path(), 2, 2, Some(common::wav(CLIP)));
    step_until(&mut h, finished);
    h.get_by_label("Model name").click();
    h.step();
    h.get_by_label("Model name").type_text("my voice");
    h.step();
    h.get_by_label("Tune to my voice").click();
    h.step();
    assert!(h.state().tune.is_running());
    // The GUI keeps drawing while tuning runs; the bar says which epoch.
    let mut epochs_seen = Vec::new();
    while_tuning(&mut h, Duration::from_secs(180), |h| {
        if let TuneStatus::Running(Some(
            TuneProgress::Step { epoch, epochs, .. } | TuneProgress::Epoch { epoch, epochs, .. },
        )) = h.state().tune.status.clone()
        {
            h.get_by_label(&format!("Epoch {epoch} of {epochs}"));
            epochs_seen.push(epoch);
        }
    });
    assert!(!epochs_seen.is_empty(), "no progress was shown");
    let TuneStatus::Done(outcome) = h.state().tune.status.clone() else {
        panic!("{:?}", h.state().tune.status);
    };
    // The before/after on the held-back regions, as the window shows it and the card
    // keeps it.
    let held = outcome.holdout.clone().expect("regions held back");
    for (who, s) in [("Before", &held.before), ("After", &held.after)] {
        h.get_by_label(&format!(
            "{who}: accuracy {:.3} · UAR {:.3} · macro-F1 {:.3}",
            s.accuracy, s.uar, s.macro_f1
        ));
    }
    let dir = models.join("my voice");
    assert_eq!(outcome.out, dir);
    let card = ModelCard::load(&dir).unwrap();
    assert_eq!(card.training.holdout.as_ref(), Some(&held));
    assert_eq!(card.training.sessions, vec![session.display().to_string()]);
    assert!(dir.join(exemplars::EXEMPLARS_FILE).exists());
    Classifier::load(&dir).unwrap();

    // Use this model: the top bar shows it, and the file on screen is analysed again.
    h.get_by_label("Use this model").click();
    h.step();
    assert_eq!(h.state().model, ModelSource::Folder(dir.clone()));
    assert_eq!(h.state().state.model_name, card.name);
    assert!(h.state().state.is_running(), "the file is analysed again");
    step_until(&mut h, finished);
    h.get_by_label("Model: my voice");

    // The picker lists the built-in model and the personal one, with its scores.
    h.get_by_label("Model: my voice").click();
    h.run_steps(2);
    h.get_by_label_contains(&format!(
        "held-back UAR {:.2} before, {:.2} after",
        held.before.uar, held.after.uar
    ));
    h.get_by_label("built-in").click();
    h.run_steps(2);
    assert_eq!(h.state().model, ModelSource::Shipped);
    step_until(&mut h, finished);
    let shipped = common::shipped();
    assert_eq!(h.state().state.model_name, shipped.card().name);
    h.get_by_label_contains("Model: built-in");
    h.get_by_label_contains("Model: built-in").click();
    h.run_steps(2);
    h.get_by_label("my voice").click();
    h.run_steps(2);
    assert_eq!(h.state().model, ModelSource::Folder(dir));
    step_until(&mut h, finished);
    assert!(
        h.state().state.errors.is_empty(),
        "{:?}",
        h.state().state.errors
    );
}

#[test]
fn cancel_stops_tuning_and_leaves_no_model_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut h, _, models) = tuning_app(tmp.path(), 2, 200, None);
    h.get_by_label("Tune to my voice").click();
    h.run_steps(2);
    assert!(h.state().tune.is_running());
    h.get_by_label("Cancel").click();
    while_tuning(&mut h, Duration::from_secs(60), |_| {});
    assert!(
        matches!(h.state().tune.status, TuneStatus::Cancelled),
        "{:?}",
        h.state().tune.status
    );
    h.get_by_label_contains("Tuning was cancelled");
    // Nothing under the models folder, not even the working folder.
    let left: Vec<_> = std::fs::read_dir(&models)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    assert!(h.state().models.is_empty());
}

#[test]
fn a_session_without_labels_is_a_message_in_the_window() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut h, session, models) = tuning_app(tmp.path(), 1, 1, None);
    let mut s = emovox::session::Session::load(&session).unwrap();
    s.labels.clear();
    s.save(&session).unwrap();
    h.get_by_label("Tune to my voice").click();
    h.step();
    while_tuning(&mut h, Duration::from_secs(60), |_| {});
    let TuneStatus::Failed(reason) = h.state().tune.status.clone() else {
        panic!("{:?}", h.state().tune.status);
    };
    assert!(reason.contains("no labelled regions"), "{reason}");
    h.get_by_label(&format!("Tuning failed: {reason}"));
    assert!(std::fs::read_dir(&models).map_or(true, |mut d| d.next().is_none()));
    assert!(h.state().models.is_empty());
}

/// Clicks `button` in the Export window and waits for what it says.
fn export(h: &mut Harness<'static, EmovoxApp>, button: &str) -> String {
    h.get_by_label(button).click();
    h.step();
    step_until(h, |app| {
        app.export
            .as_ref()
            .is_some_and(|e| !e.is_running() && e.message.is_some())
    });
    h.state().export.as_ref().unwrap().message.clone().unwrap()
}

fn open_export(h: &mut Harness<'static, EmovoxApp>, folder: &Path) {
    h.get_by_label("Export…").click();
    // A new window takes a frame to size itself before it is shown.
    h.run_steps(3);
    h.state_mut().export.as_mut().unwrap().folder = folder.display().to_string();
    h.step();
}

/// `emovox predict ARGS` on its own, standing for what a user runs.
fn predict_stdout(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_emovox"))
        .arg("predict")
        .args(args)
        .arg("--weights")
        .arg(common::shipped_weights())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn export_writes_the_timeline_as_predict_does_and_a_bad_folder_is_a_message() {
    let out = tempfile::tempdir().unwrap();
    let clip = common::wav(CLIP);
    let mut h = harness(AppOptions {
        open: Some(clip.clone()),
        ..AppOptions::default()
    });
    step_until(&mut h, finished);
    h.get_by_label("Export…").click();
    h.run_steps(3);
    // The window starts in the file's folder.
    assert_eq!(
        PathBuf::from(&h.state().export.as_ref().unwrap().folder),
        std::path::absolute(clip.parent().unwrap()).unwrap()
    );
    h.state_mut().export.as_mut().unwrap().folder = out.path().display().to_string();
    h.step();

    let said = export(&mut h, "Timeline as CSV");
    let csv_path = out.path().join(format!("{CLIP}.timeline.csv"));
    assert_eq!(said, format!("Saved {}", csv_path.display()));
    h.get_by_label(&said);
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let clip_arg = clip.to_str().unwrap();
    // Byte for byte what `predict --timeline --csv` writes for the same file.
    assert_eq!(csv, predict_stdout(&["--timeline", "--csv", clip_arg]));
    let mut lines = csv.lines();
    let names = Emotion::names().join(",");
    assert_eq!(
        lines.next().unwrap(),
        format!("path,start_s,end_s,speech,label,{names}")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.len() >= 2, "{} rows", rows.len());
    assert!(rows.iter().all(|r| r.len() == 13));
    // The windows span the file shown.
    let last_end: f64 = rows.last().unwrap()[2].parse().unwrap();
    let duration = h.state().state.duration_s.unwrap();
    assert!(
        (last_end - duration).abs() < 0.02,
        "{last_end} vs {duration}"
    );

    let said = export(&mut h, "Timeline as JSON");
    assert!(said.starts_with("Saved"), "{said}");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join(format!("{CLIP}.timeline.json"))).unwrap(),
    )
    .unwrap();
    let predicted: serde_json::Value =
        serde_json::from_str(&predict_stdout(&["--timeline", "--json", clip_arg])).unwrap();
    assert_eq!(json, predicted);
    let windows = json["timeline"].as_array().unwrap();
    assert_eq!(windows.len(), rows.len());
    for (w, r) in windows.iter().zip(&rows) {
        assert_eq!(w["end_s"].as_f64().unwrap(), r[2].parse::<f64>().unwrap());
        assert_eq!(w["label"].as_str().unwrap_or(""), r[4]);
    }

    // The picture: a column per 10 ms, the spectrogram above the timeline strip, and
    // under the last column the colour of the last window's emotion.
    let said = export(&mut h, "Spectrogram and timeline as PNG");
    assert!(said.starts_with("Saved"), "{said}");
    let file = std::fs::File::open(out.path().join(format!("{CLIP}.png"))).unwrap();
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut rgb = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut rgb).unwrap();
    let s = &h.state().state;
    use emovox::app::export::{PICTURE_BAND_PX, PICTURE_GAP_PX, PICTURE_TIMELINE_PX};
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(info.width as usize, s.columns.len());
    assert_eq!(
        info.height as usize,
        emovox::dsp::N_MELS * PICTURE_BAND_PX + PICTURE_GAP_PX + PICTURE_TIMELINE_PX
    );
    let last = s.predictions.back().unwrap();
    let (w, h_px) = (info.width as usize, info.height as usize);
    let bottom_right = &rgb[((h_px - 1) * w + w - 1) * 3..][..3];
    let expected = last
        .label()
        .map_or([24, 24, 24], emovox::app::colors::emotion_rgb);
    assert_eq!(bottom_right, expected);

    // A folder that is not one, and one that is not there: a sentence, nothing written.
    let file = out.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    for bad in [file.clone(), out.path().join("missing")] {
        h.state_mut().export.as_mut().unwrap().folder = bad.display().to_string();
        h.step();
        let said = export(&mut h, "Timeline as CSV");
        assert_eq!(
            said,
            format!(
                "Could not export: {} does not exist or is not a folder",
                bad.display()
            )
        );
        h.get_by_label(&said);
    }
    let mut left: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            format!("{CLIP}.png"),
            format!("{CLIP}.timeline.csv"),
            format!("{CLIP}.timeline.json"),
            "a-file".to_owned()
        ]
    );
}

#[test]
fn a_session_exports_its_labels_for_audacity_and_its_predictions_as_csv() {
    use emovox::session::{PredictionRecord, Region, Session};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("2026-11-29T08-00-00");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(common::wav(CLIP), dir.join("audio.wav")).unwrap();
    let mut p = [0.05f32; 8];
    p[Emotion::Angry.index()] = 0.65;
    let session = Session {
        seconds: 3.5,
        labels: vec![
            Region {
                start_s: 0.25,
                end_s: 1.125,
                label: Emotion::Angry,
            },
            Region {
                start_s: 2.0,
                end_s: 3.0,
                label: Emotion::Sad,
            },
        ],
        predictions: vec![
            PredictionRecord {
                t: 3.0,
                speech: true,
                label: Some(Emotion::Angry),
                probabilities: p,
            },
            PredictionRecord {
                t: 3.25,
                speech: false,
                label: None,
                probabilities: p,
            },
        ],
        ..Session::default()
    };
    session.save(&dir).unwrap();

    let mut h = harness(AppOptions::default());
    h.step();
    h.state_mut().open_session(dir.clone());
    step_until(&mut h, finished);
    h.get_by_label("Export…").click();
    h.run_steps(3);
    // The window starts in the session's folder.
    assert_eq!(
        PathBuf::from(&h.state().export.as_ref().unwrap().folder),
        dir
    );
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    open_export(&mut h, &out);

    let said = export(&mut h, "Labels for Audacity");
    let labels = out.join("2026-11-29T08-00-00.labels.txt");
    assert_eq!(said, format!("Saved {}", labels.display()));
    let read = emovox::session::labels::parse_audacity(&std::fs::read_to_string(&labels).unwrap())
        .unwrap();
    assert_eq!(read, session.labels);

    let said = export(&mut h, "Predictions as CSV");
    assert!(said.starts_with("Saved"), "{said}");
    let csv = std::fs::read_to_string(out.join("2026-11-29T08-00-00.predictions.csv")).unwrap();
    let lines: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(lines[0][..3], ["t", "speech", "label"]);
    assert_eq!(lines[0][3..], Emotion::names());
    assert_eq!(lines.len(), 1 + session.predictions.len());
    for (row, p) in lines[1..].iter().zip(&session.predictions) {
        assert_eq!(row[0].parse::<f64>().unwrap(), p.t);
        assert_eq!(row[1], p.speech.to_string());
        assert_eq!(row[2], p.label.map_or("", Emotion::name));
        let probs: Vec<f32> = row[3..].iter().map(|v| v.parse().unwrap()).collect();
        assert_eq!(probs, p.probabilities);
    }
}

#[test]
fn file_open_lists_the_recent_files_after_a_restart_most_recent_first() {
    use egui_kittest::kittest::NodeT;
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("config/settings.json");
    let a = common::wav(CLIP);
    let b = dir.path().join("b.wav");
    let gone = dir.path().join("gone.wav");
    for copy in [&b, &gone] {
        std::fs::copy(&a, copy).unwrap();
    }
    let mut h = with_settings(&settings, Vec::new());
    for file in [&gone, &a, &b] {
        h.state_mut().open_file(file.clone());
        step_until(&mut h, finished);
    }
    h.state_mut().save_settings();
    drop(h);
    std::fs::remove_file(&gone).unwrap();

    let mut h = with_settings(&settings, Vec::new());
    assert_eq!(h.state().recent_files, [b.clone(), a.clone(), gone.clone()]);
    h.get_by_label("Open file…").click();
    h.run_steps(3);
    let top = |h: &Harness<'static, EmovoxApp>, p: &Path| {
        h.get_by_label(p.to_str().unwrap()).rect().top()
    };
    // Listed in that order, the one no longer there greyed out.
    assert!(top(&h, &b) < top(&h, &a) && top(&h, &a) < top(&h, &gone));
    assert!(h
        .get_by_label(gone.to_str().unwrap())
        .accesskit_node()
        .is_disabled());
    assert!(!h
        .get_by_label(a.to_str().unwrap())
        .accesskit_node()
        .is_disabled());
    // Their folders, the most recent first.
    let folder = |p: &Path| p.parent().unwrap().join("").display().to_string();
    assert!(top(&h, Path::new(&folder(&b))) < top(&h, Path::new(&folder(&a))));
    // A click opens the older file, which is then the most recent.
    h.get_by_label(a.to_str().unwrap()).click();
    step_until(&mut h, finished);
    assert_eq!(h.state().state.view, View::File { path: a.clone() });
    assert_eq!(h.state().recent_files, [a, b, gone]);
}

/// Browse… where no file dialog can be shown (the tests run with no D-Bus session and so
/// no XDG desktop portal, as under Xvfb or CI): frames keep running while the dialog's
/// thread waits, each showing the waiting line or, once it answers, the fallback line; the
/// typed path still opens the file. On a desktop session, or where rfd can fall back to
/// `zenity`, a real dialog would appear, so the test is skipped there.
#[test]
fn browse_without_a_file_dialog_says_so_and_the_typed_path_still_works() {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
        eprintln!("skipped: a D-Bus session is running, a real file dialog would appear");
        return;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|dir| dir.join("zenity").is_file()) {
        eprintln!("skipped: zenity is on PATH, rfd would show a real file dialog with it");
        return;
    }
    let mut h = harness(AppOptions::default());
    h.step();
    h.get_by_label("Open file…").click();
    h.run_steps(3);
    h.get_by_label("Browse…").click();
    // The click's frame starts the dialog's thread; the lines show from the next one.
    h.step();
    // A guard against a hang, not a speed check: the loop ends when the fallback shows.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut frames = 0;
    while h.query_by_label_contains("type the path").is_none() {
        assert!(Instant::now() < deadline, "the file dialog never answered");
        h.step();
        frames += 1;
        assert!(
            h.query_by_label("Waiting for the file dialog…").is_some()
                || h.query_by_label_contains("type the path").is_some(),
            "frame {frames} shows neither the waiting line nor the fallback"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(frames > 0);
    assert!(!h.state().file_dialogs.is_open());
    assert_eq!(h.state().state.view, View::Empty);
    // The Open window and its Path field are still there.
    let clip = common::wav(CLIP);
    h.get_by_label("Path").click();
    h.step();
    h.get_by_label("Path").type_text(clip.to_str().unwrap());
    h.step();
    h.get_by_label("Open").click();
    step_until(&mut h, finished);
    assert_eq!(h.state().state.view, View::File { path: clip });
}

/// A path chosen in the file dialog, delivered over the channel the dialog's thread
/// answers on, opens the file and closes File → Open.
#[test]
fn a_path_from_the_file_dialog_opens_the_file() {
    use emovox::app::file_dialog::{Picked, Purpose};
    let mut h = harness(AppOptions::default());
    h.step();
    h.get_by_label("Open file…").click();
    h.run_steps(3);
    let clip = common::wav(CLIP);
    h.state()
        .file_dialogs
        .sender()
        .send(Picked {
            purpose: Purpose::OpenFile,
            path: Some(clip.clone()),
        })
        .unwrap();
    step_until(&mut h, finished);
    assert_eq!(h.state().state.view, View::File { path: clip.clone() });
    assert_eq!(h.state().recent_files.first(), Some(&clip));
    assert!(h.query_by_label("Browse…").is_none());
    // Cancelled (or no dialog): a line, and nothing else changes.
    h.state()
        .file_dialogs
        .sender()
        .send(Picked {
            purpose: Purpose::OpenFile,
            path: None,
        })
        .unwrap();
    h.run_steps(2);
    assert!(h.state().file_dialogs.problem.is_some());
    assert_eq!(h.state().state.view, View::File { path: clip });
}
