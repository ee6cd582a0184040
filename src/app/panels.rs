//! The panels of the main window, each a function of the state it draws. They only draw
//! and report what the user asked for; the app acts on it.

use std::path::{Path, PathBuf};

use eframe::egui::{self, Color32, RichText};
use egui_plot::{Legend, Line, Plot, PlotPoints, Span};

use super::colors::emotion_rgb;
use super::file_dialog::FileDialogs;
use super::model_panel::model_picker_ui;
use super::state::{Activity, AppState, Reading, View, UNCERTAIN_MARGIN, UNCERTAIN_TOP};
use crate::labels::Emotion;
use crate::model::classifier::ModelSource;
use crate::model::personal::PersonalModel;

/// The models the top bar's picker offers, and the one in use.
pub struct ModelsView<'a> {
    pub in_use: &'a ModelSource,
    pub personal: &'a [PersonalModel],
    pub root: &'a Path,
}

/// Something the user asked for. A frame's actions are carried out in the order they
/// happened.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Listen,
    Stop,
    /// Analyse this audio file (File → Open, or a file dropped on the window).
    Open(PathBuf),
    /// Show the platform's file dialog (File → Open's Browse…).
    Browse,
    RefreshDevices,
    Record,
    StopRecording,
    /// Someone else speaks: the live engine learns the new voice's baseline afresh.
    NewVoice,
    ShowSessions,
    /// Reopen this session folder.
    Reopen(PathBuf),
    /// Keep sessions under this folder from now on.
    UseSessionsFolder(PathBuf),
    /// Listen and analyse with this model from now on.
    UseModel(ModelSource),
    Play,
    StopPlayback,
    /// Show or hide the help window.
    ToggleHelp,
    /// Open the Export window.
    ShowExport,
}

/// The line that follows playback across the spectrogram and the timeline.
pub fn playback_cursor(t: f64) -> egui_plot::VLine {
    egui_plot::VLine::new("", t)
        .color(Color32::WHITE)
        .width(1.5)
}

fn color(e: Emotion) -> Color32 {
    let [r, g, b] = emotion_rgb(e);
    Color32::from_rgb(r, g, b)
}

/// Listen/Stop, the input picker, the level meter, File → Open and the model picker
/// (showing the model in use).
pub fn top_bar_ui(
    ui: &mut egui::Ui,
    state: &mut AppState,
    open_path: &mut Option<String>,
    open_folder: Option<&Path>,
    recent: &[PathBuf],
    models: &ModelsView,
    dialogs: &FileDialogs,
) -> Vec<Action> {
    let mut actions = Vec::new();
    ui.horizontal(|ui| {
        let running = state.is_running();
        if ui
            .add_enabled(!running, egui::Button::new("Listen"))
            .on_hover_text("Listen to the microphone")
            .clicked()
        {
            actions.push(Action::Listen);
        }
        if ui.add_enabled(running, egui::Button::new("Stop")).clicked() {
            actions.push(Action::Stop);
        }
        let recording = state.recording.as_ref().is_some_and(|r| r.active);
        if recording {
            let seconds = state.recording_time().unwrap_or(0.0);
            if ui
                .button(
                    RichText::new(format!("Stop recording ({seconds:.0} s)"))
                        .color(Color32::from_rgb(240, 90, 80)),
                )
                .clicked()
            {
                actions.push(Action::StopRecording);
            }
        } else if ui
            .add_enabled(running && state.is_live(), egui::Button::new("Record"))
            .on_hover_text("Record what is heard into a new session")
            .clicked()
        {
            actions.push(Action::Record);
        }
        if ui.button("Sessions").clicked() {
            actions.push(Action::ShowSessions);
        }
        ui.separator();
        let selected = match state.device.and_then(|i| state.devices.get(i)) {
            Some(d) => d.name.clone(),
            None => "System default".to_owned(),
        };
        egui::ComboBox::from_label("Input")
            .selected_text(selected)
            .width(220.0)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut state.device, None, "System default");
                for d in &state.devices {
                    ui.selectable_value(&mut state.device, Some(d.index), d.name.as_str());
                }
            });
        if ui
            .button("Refresh")
            .on_hover_text("Look for input devices again")
            .clicked()
        {
            actions.push(Action::RefreshDevices);
        }
        ui.separator();
        level_meter_ui(ui, state);
        ui.separator();
        if ui.button("Open file…").clicked() {
            // Start in the folder the last file came from ("…/folder/").
            open_path.get_or_insert_with(|| {
                open_folder.map_or_else(String::new, |f| f.join("").display().to_string())
            });
        }
        if ui
            .add_enabled(
                matches!(state.view, View::File { .. }),
                egui::Button::new("Export…"),
            )
            .on_hover_text("Save the timeline, or a session's labels and predictions, as files")
            .clicked()
        {
            actions.push(Action::ShowExport);
        }
        if state.playback_s.is_some() {
            if ui.button("Stop playback").clicked() {
                actions.push(Action::StopPlayback);
            }
        } else if ui
            .add_enabled(
                matches!(state.view, View::File { .. }) && !running,
                egui::Button::new("Play"),
            )
            .on_hover_text(format!("Play the file from {:.1} s", state.play_from_s))
            .clicked()
        {
            actions.push(Action::Play);
        }
        ui.separator();
        // The model cannot change under a recording: its session names the model.
        if let Some(source) = model_picker_ui(
            ui,
            &state.model_name,
            state.model_f1,
            models.in_use,
            models.personal,
            models.root,
            !recording,
        ) {
            actions.push(Action::UseModel(source));
        }
        ui.separator();
        if ui
            .button("?")
            .on_hover_text("Help: the keys, and what the window says (? or F1)")
            .clicked()
        {
            actions.push(Action::ToggleHelp);
        }
    });
    if let Some(path) = open_path.as_mut() {
        let mut close = false;
        egui::Window::new("Open an audio file")
            .collapsible(false)
            .show(ui.ctx(), |ui| {
                ui.label("WAV, FLAC, MP3 or Ogg Vorbis; or drop a file onto the window.");
                let edit = ui
                    .horizontal(|ui| {
                        let label = ui.label("Path");
                        ui.add(
                            egui::TextEdit::singleline(path)
                                .hint_text("/path/to/file.wav")
                                .desired_width(400.0),
                        )
                        .labelled_by(label.id)
                    })
                    .inner;
                ui.horizontal(|ui| {
                    let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                    if (ui.button("Open").clicked() || enter) && !path.trim().is_empty() {
                        actions.push(Action::Open(PathBuf::from(path.trim())));
                        close = true;
                    }
                    if ui.button("Cancel").clicked() {
                        close = true;
                    }
                    if ui
                        .add_enabled(!dialogs.is_open(), egui::Button::new("Browse…"))
                        .on_hover_text("Choose the file in the system's file dialog")
                        .clicked()
                    {
                        actions.push(Action::Browse);
                    }
                });
                if dialogs.is_open() {
                    ui.label("Waiting for the file dialog…");
                } else if let Some(problem) = &dialogs.problem {
                    ui.label(problem.as_str());
                }
                if let Some(file) = recent_ui(ui, path, recent) {
                    actions.push(Action::Open(file));
                    close = true;
                }
            });
        if close {
            *open_path = None;
        }
    }
    actions
}

/// The recent files (a click opens one) and their folders (a click puts the folder in
/// the Path field), the most recent first; those no longer there are greyed out.
fn recent_ui(ui: &mut egui::Ui, path: &mut String, recent: &[PathBuf]) -> Option<PathBuf> {
    if recent.is_empty() {
        return None;
    }
    let mut open = None;
    ui.separator();
    ui.label(RichText::new("Recent files").strong());
    for file in recent {
        if ui
            .add_enabled(
                file.is_file(),
                egui::Button::new(file.display().to_string()).frame(false),
            )
            .on_disabled_hover_text("No longer there")
            .clicked()
        {
            open = Some(file.clone());
        }
    }
    ui.label(RichText::new("Recent folders").strong());
    for folder in super::settings::recent_folders(recent) {
        // Shown and typed with a trailing separator, as Open's own start folder is.
        let text = folder.join("").display().to_string();
        if ui
            .add_enabled(
                folder.is_dir(),
                egui::Button::new(text.as_str()).frame(false),
            )
            .on_disabled_hover_text("No longer there")
            .clicked()
        {
            *path = text;
        }
    }
    open
}

fn level_meter_ui(ui: &mut egui::Ui, state: &AppState) {
    let (fraction, text) = match (&state.level, state.is_live() && state.is_running()) {
        (Some(level), true) => (
            ((level.rms_dbfs + 60.0) / 60.0).clamp(0.0, 1.0),
            format!("{:.0} dBFS", level.rms_dbfs),
        ),
        _ => (0.0, "level".to_owned()),
    };
    ui.add(
        egui::ProgressBar::new(fraction)
            .desired_width(120.0)
            .text(text),
    );
}

/// The status line: what runs (live, with a per-voice model: how much of the voice it has
/// heard, and New speaker), how far a file is, dropped audio, errors, no microphone.
pub fn status_ui(ui: &mut egui::Ui, state: &AppState) -> Option<Action> {
    let mut action = None;
    ui.horizontal_wrapped(|ui| {
        match (&state.view, state.activity) {
            (View::Empty, _) => {
                ui.label("Press Listen to hear the microphone, or drop an audio file here.");
            }
            (View::Live { source }, Activity::Running) => {
                ui.label(format!("Listening to {source}"));
                if let Some(heard) = state.voice_heard_s {
                    ui.label(voice_line(heard)).on_hover_text(
                        "The model reads each voice on its usual self: its baseline grows \
                         with every 3 s of speech. Press New speaker when someone else talks.",
                    );
                    if ui
                        .small_button("New speaker")
                        .on_hover_text("Someone else speaks: learn their voice afresh")
                        .clicked()
                    {
                        action = Some(Action::NewVoice);
                    }
                }
            }
            (View::File { path }, Activity::Running) => {
                let (done, total) = state
                    .progress
                    .unwrap_or((0.0, state.duration_s.unwrap_or(0.0)));
                let fraction = if total > 0.0 {
                    (done / total) as f32
                } else {
                    0.0
                };
                ui.label(format!("Analysing {}", path.display()));
                ui.add(
                    egui::ProgressBar::new(fraction)
                        .desired_width(200.0)
                        .show_percentage(),
                );
            }
            (View::Live { source }, _) => {
                ui.label(format!("Stopped ({source})"));
            }
            (View::File { path }, Activity::Failed) => {
                ui.label(format!("Could not analyse {}", path.display()));
            }
            (View::File { path }, _) => {
                let seconds = state.duration_s.unwrap_or(0.0);
                ui.label(format!("{} ({seconds:.1} s)", path.display()));
            }
        }
        if state.dropped_samples > 0 {
            ui.colored_label(
                Color32::from_rgb(240, 180, 60),
                format!(
                    "{} samples dropped (the computer fell behind)",
                    state.dropped_samples
                ),
            );
        }
    });
    if let Some(problem) = &state.audio_problem {
        ui.colored_label(
            Color32::from_rgb(240, 180, 60),
            format!("No microphone: {problem}. Files still work: drop one here or use Open file…"),
        );
    }
    for e in &state.errors {
        ui.colored_label(Color32::from_rgb(240, 90, 80), e);
    }
    action
}

/// What the status line says of the voice's baseline after `heard` seconds of it.
fn voice_line(heard: f64) -> String {
    format!("· {}", crate::engine::voice_words(heard))
}

/// The current emotion in large type with its probability, "uncertain" with the two
/// leading emotions when the model is unsure (see [`Reading`]), or "no speech"; a bar per
/// emotion. For a file: its overall reading and per-segment labels.
pub fn emotion_ui(ui: &mut egui::Ui, state: &AppState) {
    // (the reading, or None without speech; the probabilities the bars show)
    let shown = match &state.view {
        View::File { .. } if !state.is_running() => match state.overall() {
            Some((_, p)) => Some((Some(Reading::of(&p)), p)),
            // Analysed, and no window held speech.
            None if state.summary.as_ref().is_some_and(|s| !s.failed) => {
                Some((None, [0.0; Emotion::COUNT]))
            }
            None => None,
        },
        _ => state
            .current()
            .map(|p| (p.speech.then(|| Reading::of(&p.smoothed)), p.smoothed)),
    };
    match shown {
        Some((Some(Reading::Sure(e, p)), _)) => {
            ui.label(
                RichText::new(e.name().to_uppercase())
                    .size(40.0)
                    .strong()
                    .color(color(e)),
            );
            ui.label(RichText::new(format!("{:.0}%", p * 100.0)).size(22.0));
        }
        Some((Some(Reading::Uncertain([(a, pa), (b, pb)])), _)) => {
            ui.label(RichText::new("uncertain").size(40.0).color(Color32::GRAY))
                .on_hover_text(format!(
                    "The top emotion is under {:.0}% or less than {:.0} points ahead of the second",
                    UNCERTAIN_TOP * 100.0,
                    UNCERTAIN_MARGIN * 100.0
                ));
            // One label, the names in their colours: "angry 42% or disgust 33%".
            let mut line = egui::text::LayoutJob::default();
            let plain = ui.visuals().text_color();
            for (text, colour) in [
                (a.name().to_owned(), color(a)),
                (format!(" {:.0}% or ", pa * 100.0), plain),
                (b.name().to_owned(), color(b)),
                (format!(" {:.0}%", pb * 100.0), plain),
            ] {
                line.append(
                    &text,
                    0.0,
                    egui::TextFormat::simple(egui::FontId::proportional(22.0), colour),
                );
            }
            ui.label(line);
        }
        Some((None, _)) => {
            ui.label(RichText::new("no speech").size(40.0).color(Color32::GRAY));
            ui.label(RichText::new(" ").size(22.0));
        }
        None => {
            ui.label(RichText::new("—").size(40.0).color(Color32::GRAY));
            ui.label(RichText::new(" ").size(22.0));
        }
    }
    ui.add_space(6.0);
    let probs = shown.map(|(_, p)| p).unwrap_or([0.0; Emotion::COUNT]);
    let speech = shown.is_some_and(|(r, _)| r.is_some());
    probability_bars_ui(ui, &probs, speech);
    if matches!(state.view, View::File { .. }) && !state.is_running() {
        let segments = state.segments();
        if !segments.is_empty() {
            ui.add_space(8.0);
            ui.label(RichText::new("Segments").strong());
            egui::ScrollArea::vertical()
                .max_height(160.0)
                .show(ui, |ui| {
                    for s in segments {
                        ui.colored_label(
                            color(s.label),
                            format!(
                                "{:5.2}–{:5.2} s  {} {:.0}%",
                                s.start_s,
                                s.end_s,
                                s.label.name(),
                                s.confidence * 100.0
                            ),
                        );
                    }
                });
        }
    }
}

/// A bar per emotion in its colour, with its name to the left and its percentage to the
/// right: text over the bar would sit on the bar's coloured end.
fn probability_bars_ui(ui: &mut egui::Ui, probs: &[f32; Emotion::COUNT], speech: bool) {
    const NAME_WIDTH: f32 = 72.0;
    const PERCENT_WIDTH: f32 = 40.0;
    for e in Emotion::ALL {
        let p = probs[e.index()];
        let fill = if speech {
            color(e)
        } else {
            Color32::from_gray(90)
        };
        ui.horizontal(|ui| {
            let height = ui.spacing().interact_size.y;
            ui.add_sized(
                [NAME_WIDTH, height],
                egui::Label::new(e.name()).halign(egui::Align::LEFT),
            );
            let bar_width = (ui.available_width() - PERCENT_WIDTH).max(20.0);
            ui.add(
                egui::ProgressBar::new(p)
                    .desired_width(bar_width)
                    .fill(fill),
            );
            ui.label(format!("{:.0}%", p * 100.0));
        });
    }
}

/// The eight probabilities over time (the last 30 s live, the whole file otherwise), one
/// colour per emotion, shaded where there was no speech.
/// What a frame of the timeline gives back: a stretch the user dragged out to label (in
/// stream seconds), and where the plot was drawn.
pub struct TimelineOutput {
    pub label: Option<(f64, f64)>,
    pub transform: egui_plot::PlotTransform,
}

/// A plot on the time axis the spectrogram and the timeline share: the same seconds, and
/// a y axis `axis_width` wide, so the plot areas start at the same x and one second is the
/// same pixel in both. The seconds are `AppState::time_span` exactly (no margin, whatever
/// the items drawn) until the user zooms or scrolls either plot; then the link carries the
/// new bounds to the other, and a double click goes back. (Two plots that each fit their
/// own items differ by their margins; and egui_plot sizes each y axis to its own labels,
/// "6.6 kHz" against "0.9": the app keeps the wider of the two and gives it to both, see
/// `shared_axis_width`.) Call [`follow_span`] in the plot on a view's first frame.
pub fn time_plot<'a>(id: &str, state: &AppState, height: f32, axis_width: f32) -> Plot<'a> {
    let (start, end) = state.time_span();
    Plot::new(id)
        .height(height)
        .default_x_bounds(start, end)
        .link_axis(super::time_axis(), [true, false])
        .y_axis_min_width(axis_width)
        .allow_zoom([true, false])
        .allow_drag([!state.is_live(), false])
        .allow_scroll([!state.is_live(), false])
        .x_axis_label("time (s)")
}

/// From now until the user zooms or scrolls, the plot shows `AppState::time_span` (a new
/// view starts this way; live, the span moves on as audio arrives).
pub fn follow_span(plot_ui: &mut egui_plot::PlotUi<'_>) {
    plot_ui.set_auto_bounds([true, true]);
}

/// How wide both plots' y axes are drawn next frame: the widest either needed, given how
/// far left of its plot area each one's axis reached this frame.
pub fn shared_axis_width(current: f32, needed: impl IntoIterator<Item = f32>) -> f32 {
    needed.into_iter().fold(current, f32::max)
}

/// The probability timeline. `drag` holds the (start, latest) stream seconds of a drag in
/// progress: the latest position is kept because the pointer may be gone by the frame
/// that sees the button released.
pub fn timeline_ui(
    ui: &mut egui::Ui,
    state: &AppState,
    height: f32,
    drag: &mut Option<(f64, f64)>,
    axis_width: f32,
    new_view: bool,
) -> TimelineOutput {
    let plot = time_plot("timeline", state, height, axis_width)
        .legend(Legend::default())
        // With a session on screen a drag labels a stretch instead of scrolling.
        .allow_drag([!state.is_live() && state.recording.is_none(), false])
        .include_y(0.0)
        .include_y(1.0)
        .y_axis_label("probability");
    let response = plot.show(ui, |plot_ui| {
        if new_view {
            follow_span(plot_ui);
        }
        // The session's labels, in their emotion's colour, behind everything.
        if let Some(rec) = &state.recording {
            for r in &rec.session.labels {
                let [red, g, b] = emotion_rgb(r.label);
                plot_ui.span(
                    Span::new("", (rec.stream_t0 + r.start_s)..=(rec.stream_t0 + r.end_s))
                        .fill(Color32::from_rgba_unmultiplied(red, g, b, 40))
                        .border_width(0.0),
                );
            }
        }
        // Shade the stretches without speech.
        let mut silence_start: Option<f64> = None;
        let mut prev_t = state.predictions.front().map_or(0.0, |p| p.t - 0.25);
        for p in &state.predictions {
            match (p.speech, silence_start) {
                (false, None) => silence_start = Some(prev_t),
                (true, Some(s)) => {
                    plot_ui.span(
                        Span::new("", s..=prev_t)
                            .fill(Color32::from_white_alpha(12))
                            .border_width(0.0),
                    );
                    silence_start = None;
                }
                _ => {}
            }
            prev_t = p.t;
        }
        if let Some(s) = silence_start {
            plot_ui.span(
                Span::new("", s..=prev_t)
                    .fill(Color32::from_white_alpha(12))
                    .border_width(0.0),
            );
        }
        for e in Emotion::ALL {
            let points: PlotPoints = state
                .predictions
                .iter()
                .map(|p| [p.t, f64::from(p.smoothed[e.index()])])
                .collect();
            plot_ui.line(Line::new(e.name(), points).color(color(e)).width(2.0));
        }
        if let Some(t) = state.playback_s {
            plot_ui.vline(playback_cursor(t));
        }
    });
    let transform = response.transform;
    let mut label = None;
    // Only a session on screen can be labelled.
    if state.recording.is_some() {
        let r = &response.response;
        let pointer_x = r
            .interact_pointer_pos()
            .map(|p| transform.value_from_position(p).x);
        if let Some(x) = pointer_x {
            if r.drag_started() {
                // A drag is recognised a few pixels after the press: start where it began.
                let origin = ui
                    .input(|i| i.pointer.press_origin())
                    .map_or(x, |p| transform.value_from_position(p).x);
                *drag = Some((origin, x));
            } else if let Some((_, latest)) = drag.as_mut() {
                *latest = x;
            }
        }
        if r.drag_stopped() {
            if let Some((a, b)) = drag.take() {
                if (b - a).abs() > 0.05 {
                    label = Some((a.min(b), a.max(b)));
                }
            }
        }
    }
    TimelineOutput { label, transform }
}
