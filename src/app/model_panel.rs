//! The model picker in the top bar (the built-in model and the personal ones) and the
//! "Tune to my voice" part of the Sessions window.

use std::path::{Path, PathBuf};

use eframe::egui::{self, Color32, RichText};

use super::tuning::{TunePanel, TuneStatus};
use crate::model::card::{Holdout, ModelCard};
use crate::model::classifier::ModelSource;
use crate::model::personal::PersonalModel;
use crate::model::tune::{TuneDefaults, TuneProgress};

const RED: Color32 = Color32::from_rgb(240, 90, 80);

/// What the picker calls a model: "built-in", or its folder's name.
pub fn short_name(source: &ModelSource) -> String {
    match source {
        ModelSource::Shipped => "built-in".into(),
        ModelSource::Folder(dir) => dir
            .file_name()
            .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into()),
    }
}

/// A card's line in the picker: its date, the sessions it was tuned on, its score on the
/// held-back regions before and after tuning (or on unseen voices), whether it blends
/// several models, and whether it (or any part) reads each voice on its baseline.
pub fn card_summary(card: &ModelCard) -> String {
    let mut parts = vec![card.training.date.clone()];
    if !card.training.sessions.is_empty() {
        let names: Vec<String> = card
            .training
            .sessions
            .iter()
            .map(|s| short_name(&ModelSource::Folder(PathBuf::from(s))))
            .collect();
        parts.push(format!("tuned on {}", names.join(", ")));
    }
    if let Some(h) = &card.training.holdout {
        parts.push(holdout_summary(h));
    } else if let Some(v) = &card.validation {
        parts.push(format!("F1 {:.3} on voices it never heard", v.macro_f1));
    }
    if !card.blend.is_empty() {
        parts.push(format!("a blend of {} models", card.blend.len() + 1));
    }
    if card.reads_per_voice() {
        // Says why its first seconds of a new voice read less surely than the rest.
        parts.push("learns each voice's baseline as it listens".into());
    }
    parts.join(" · ")
}

fn holdout_summary(h: &Holdout) -> String {
    format!(
        "held-back UAR {:.2} before, {:.2} after",
        h.before.uar, h.after.uar
    )
}

/// The top bar's model menu: the model in use on its button; the built-in model and each
/// personal model inside, unreadable ones with the reason. Returns the model chosen.
pub fn model_picker_ui(
    ui: &mut egui::Ui,
    model_name: &str,
    model_f1: Option<f64>,
    in_use: &ModelSource,
    models: &[PersonalModel],
    models_root: &Path,
    enabled: bool,
) -> Option<ModelSource> {
    let mut chosen = None;
    let title = match model_f1 {
        Some(f1) => format!("Model: {} · F1 {f1:.3}", short_name(in_use)),
        None => format!("Model: {}", short_name(in_use)),
    };
    ui.add_enabled_ui(enabled, |ui| {
        ui.menu_button(title, |ui| {
            ui.set_min_width(380.0);
            let built_in = *in_use == ModelSource::Shipped;
            ui.horizontal(|ui| {
                if ui.selectable_label(built_in, "built-in").clicked() {
                    chosen = Some(ModelSource::Shipped);
                }
                ui.weak("the model emovox ships with");
            });
            if models.is_empty() {
                ui.weak("No personal models yet: tune one in the Sessions window.");
            }
            for m in models {
                match &m.card {
                    Ok(card) => {
                        ui.horizontal(|ui| {
                            let this = *in_use == ModelSource::Folder(m.dir.clone());
                            if ui.selectable_label(this, m.name.as_str()).clicked() {
                                chosen = Some(ModelSource::Folder(m.dir.clone()));
                            }
                            ui.weak(card_summary(card));
                        });
                    }
                    Err(reason) => {
                        ui.colored_label(RED, format!("{}: {reason}", m.name));
                    }
                }
            }
            ui.separator();
            ui.weak(format!(
                "Personal models are kept in {}",
                models_root.display()
            ));
        })
        .response
        .on_hover_text(format!(
            "{model_name}: choose the model that listens and analyses"
        ))
        .on_disabled_hover_text("Stop recording to change the model");
    });
    chosen
}

/// What the user asked for in the tuning part of the Sessions window.
pub enum TuneAction {
    Tune,
    Cancel,
    /// Use the model just tuned (its folder).
    Use(PathBuf),
}

/// The tuning part of the Sessions window: name, Tune to my voice, progress and Cancel,
/// then the before/after and Use this model.
pub fn tune_ui(ui: &mut egui::Ui, tune: &mut TunePanel, start: &str) -> Option<TuneAction> {
    let mut action = None;
    ui.separator();
    ui.label(RichText::new("A model tuned to your voice").strong());
    ui.label(format!(
        "Tick the sessions to learn from, then tune. Starts from the model in use ({start}); \
         the latest {:.0} % of each label's time is held back to score it before and after.",
        100.0 * TuneDefaults::HOLDOUT
    ));
    let running = tune.is_running();
    ui.horizontal(|ui| {
        let label = ui.label("Model name");
        ui.add_enabled(
            !running,
            egui::TextEdit::singleline(&mut tune.name)
                .hint_text("the date and time")
                .desired_width(200.0),
        )
        .labelled_by(label.id);
        let can = !running && !tune.chosen.is_empty();
        if ui
            .add_enabled(can, egui::Button::new("Tune to my voice"))
            .on_hover_text("Fine-tune the model on the ticked sessions' labels")
            .on_disabled_hover_text("Tick at least one session first")
            .clicked()
        {
            action = Some(TuneAction::Tune);
        }
    });
    if let Some(problem) = &tune.problem {
        ui.colored_label(RED, problem);
    }
    match &tune.status {
        TuneStatus::Idle => {}
        TuneStatus::Running(progress) => {
            let (fraction, text) = match progress {
                None => (0.0, "Starting…".to_owned()),
                Some(TuneProgress::Preparing { regions, held_back }) => (
                    0.0,
                    format!("Preparing {regions} regions ({held_back} held back)…"),
                ),
                Some(TuneProgress::Step {
                    step,
                    steps,
                    epoch,
                    epochs,
                    ..
                }) => (
                    *step as f32 / (*steps).max(1) as f32,
                    format!("Epoch {epoch} of {epochs}"),
                ),
                Some(TuneProgress::Epoch { epoch, epochs, .. }) => (
                    *epoch as f32 / (*epochs).max(1) as f32,
                    format!("Epoch {epoch} of {epochs}"),
                ),
                Some(TuneProgress::Finishing) => (1.0, "Scoring and saving…".to_owned()),
            };
            ui.horizontal(|ui| {
                ui.add(
                    egui::ProgressBar::new(fraction)
                        .desired_width(300.0)
                        .animate(true)
                        .text(text),
                );
                if ui.button("Cancel").clicked() {
                    action = Some(TuneAction::Cancel);
                }
            });
        }
        TuneStatus::Done(outcome) => {
            ui.label(format!(
                "Tuned in {:.0} s on {} regions ({:.0} s); saved as {}.",
                outcome.seconds,
                outcome.regions,
                outcome.seconds_trained,
                outcome.out.display()
            ));
            match &outcome.holdout {
                Some(h) => {
                    ui.label(format!(
                        "On the {} held-back stretches ({:.0} s), never trained on:",
                        h.regions, h.seconds
                    ));
                    for (who, s) in [("Before", &h.before), ("After", &h.after)] {
                        ui.label(format!(
                            "{who}: accuracy {:.3} · UAR {:.3} · macro-F1 {:.3}",
                            s.accuracy, s.uar, s.macro_f1
                        ));
                    }
                }
                None => {
                    ui.label("Nothing was held back (too little labelled time per label), so there is no before/after.");
                }
            }
            for w in &outcome.warnings {
                ui.colored_label(Color32::from_rgb(240, 180, 60), w);
            }
            if ui.button("Use this model").clicked() {
                action = Some(TuneAction::Use(outcome.out.clone()));
            }
        }
        TuneStatus::Cancelled => {
            ui.label("Tuning was cancelled; nothing was saved.");
        }
        TuneStatus::Failed(reason) => {
            ui.colored_label(RED, format!("Tuning failed: {reason}"));
        }
    }
    action
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_per_voice_cards_line_says_it_learns_each_voice() {
        let mut card = crate::model::classifier::shipped_card().unwrap();
        card.blend.clear();
        card.normalisation.per_voice = false;
        assert!(!card_summary(&card).contains("each voice"));
        card.normalisation.per_voice = true;
        assert!(card_summary(&card).contains("learns each voice's baseline"));
    }

    #[test]
    fn a_blends_line_says_so_and_that_a_per_voice_part_learns_each_voice() {
        let mut card = crate::model::classifier::shipped_card().unwrap();
        card.blend.clear();
        card.normalisation.per_voice = false;
        let mut part = crate::model::card::BlendPart {
            name: "other".into(),
            normalisation: card.normalisation.clone(),
            net: card.net.clone(),
            members: 1,
            training: card.training.clone(),
        };
        part.normalisation.per_voice = true;
        card.blend.push(part);
        let line = card_summary(&card);
        assert!(line.contains("a blend of 2 models"), "{line}");
        assert!(line.contains("learns each voice's baseline"), "{line}");
    }
}
