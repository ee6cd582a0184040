//! Recording and labelling: the session's labels drawn on the timeline, a list to move,
//! relabel and delete them, and the list of earlier sessions.

use std::path::PathBuf;

use eframe::egui::{self, Color32, RichText};

use super::colors::emotion_rgb;
use super::model_panel::{tune_ui, TuneAction};
use super::state::AppState;
use super::tuning::TunePanel;
use crate::labels::Emotion;
use crate::session::{Region, Session, SessionError};

fn color(e: Emotion) -> Color32 {
    let [r, g, b] = emotion_rgb(e);
    Color32::from_rgb(r, g, b)
}

/// The labels of the session on screen, with controls to edit them; the emotion a drag on
/// the timeline will label; the keys 1–8 hint while recording.
pub fn labels_ui(ui: &mut egui::Ui, state: &mut AppState) {
    let Some(rec) = &state.recording else {
        return;
    };
    let active = rec.active;
    ui.add_space(8.0);
    ui.label(
        RichText::new(if active {
            "Recording"
        } else {
            "Session labels"
        })
        .strong(),
    );
    ui.label(format!(
        "{} ({:.1} s)",
        rec.dir.display(),
        rec.session.seconds
    ));
    if active {
        ui.label("Keys 1–8 mark the emotion from now on:");
        ui.label(
            Emotion::ALL
                .iter()
                .enumerate()
                .map(|(i, e)| format!("{} {}", i + 1, e.name()))
                .collect::<Vec<_>>()
                .join("  "),
        );
    }
    egui::ComboBox::from_label("Drag on the timeline to label as")
        .selected_text(state.label_choice.name())
        .show_ui(ui, |ui| {
            for e in Emotion::ALL {
                ui.selectable_value(&mut state.label_choice, e, e.name());
            }
        });
    let regions = state
        .recording
        .as_ref()
        .map(|r| r.session.labels.clone())
        .unwrap_or_default();
    let mut edit: Option<(usize, Option<Region>)> = None;
    egui::ScrollArea::vertical()
        .id_salt("labels")
        .max_height(200.0)
        .show(ui, |ui| {
            for (i, region) in regions.iter().enumerate() {
                let mut r = region.clone();
                let mut delete = false;
                ui.horizontal(|ui| {
                    egui::ComboBox::from_id_salt(("label", i))
                        .selected_text(RichText::new(r.label.name()).color(color(r.label)))
                        .width(100.0)
                        .show_ui(ui, |ui| {
                            for e in Emotion::ALL {
                                ui.selectable_value(&mut r.label, e, e.name());
                            }
                        });
                    delete = ui
                        .button("Delete")
                        .on_hover_text(format!("Delete label {}", i + 1))
                        .clicked();
                });
                ui.horizontal(|ui| {
                    let end = r.end_s;
                    ui.add(
                        egui::DragValue::new(&mut r.start_s)
                            .speed(0.05)
                            .range(0.0..=end)
                            .suffix(" s"),
                    )
                    .accessible_name(format!("Start of label {}", i + 1));
                    ui.label("to");
                    let start = r.start_s;
                    ui.add(
                        egui::DragValue::new(&mut r.end_s)
                            .speed(0.05)
                            .range(start..=f64::MAX)
                            .suffix(" s"),
                    )
                    .accessible_name(format!("End of label {}", i + 1));
                });
                if delete {
                    edit = Some((i, None));
                } else if r != *region {
                    edit = Some((i, Some(r)));
                }
                ui.add_space(4.0);
            }
        });
    if let Some((i, r)) = edit {
        state.edit_label(i, r);
    }
}

/// What the user asked for in the Sessions window.
pub enum SessionsAction {
    Reopen(PathBuf),
    /// Record new sessions into this folder from now on.
    UseFolder(PathBuf),
    Tune(TuneAction),
}

/// The sessions folder (editable), the earlier sessions in it with a tick each to tune
/// on, and tuning. `folder` is the text being edited; `problem` a reason the last folder
/// chosen could not be used; `start` the model tuning starts from.
pub fn sessions_window_ui(
    ctx: &egui::Context,
    open: &mut bool,
    folder: &mut String,
    problem: Option<&str>,
    sessions: &[(PathBuf, Result<Session, SessionError>)],
    tune: &mut TunePanel,
    start: &str,
) -> Option<SessionsAction> {
    // Ticks follow the list: a session no longer shown (another folder) is not tuned on.
    tune.keep_listed(sessions.iter().map(|(dir, _)| dir.as_path()));
    let mut chosen = None;
    egui::Window::new("Sessions")
        .open(open)
        .default_width(520.0)
        .show(ctx, |ui| {
            ui.horizontal(|ui| {
                let label = ui.label("Folder");
                ui.add(egui::TextEdit::singleline(folder).desired_width(300.0))
                    .labelled_by(label.id)
                    .on_hover_text("Where new recordings go, and where sessions are listed from");
                if ui.button("Use this folder").clicked() {
                    chosen = Some(SessionsAction::UseFolder(PathBuf::from(folder.trim())));
                }
            });
            if let Some(problem) = problem {
                ui.colored_label(Color32::from_rgb(240, 90, 80), problem);
            }
            if sessions.is_empty() {
                ui.label("No sessions yet: press Record while listening.");
            }
            egui::ScrollArea::vertical()
                .max_height(360.0)
                .show(ui, |ui| {
                    for (dir, session) in sessions {
                        let name = dir
                            .file_name()
                            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                        ui.horizontal(|ui| match session {
                            Ok(s) => {
                                // The session's line is its tick: ticked ones are tuned on.
                                let mut ticked = tune.chosen.contains(dir);
                                let tick = ui
                                    .add_enabled(
                                        !tune.is_running(),
                                        egui::Checkbox::new(
                                            &mut ticked,
                                            format!(
                                                "{name}  {:.1} s, {} labels",
                                                s.seconds,
                                                s.labels.len()
                                            ),
                                        ),
                                    )
                                    .on_hover_text("Tick to tune on this session");
                                if tick.changed() {
                                    if ticked {
                                        tune.chosen.push(dir.clone());
                                    } else {
                                        tune.chosen.retain(|d| d != dir);
                                    }
                                }
                                if ui
                                    .button("Reopen")
                                    .on_hover_text(format!("Reopen {name}"))
                                    .clicked()
                                {
                                    chosen = Some(SessionsAction::Reopen(dir.clone()));
                                }
                            }
                            Err(e) => {
                                ui.colored_label(
                                    Color32::from_rgb(240, 90, 80),
                                    format!("{name}: {e}"),
                                );
                            }
                        });
                    }
                });
            if let Some(action) = tune_ui(ui, tune, start) {
                chosen = Some(SessionsAction::Tune(action));
            }
        });
    chosen
}
