//! The help window, one key away (`?` or F1): every key and gesture the app answers to,
//! and what its readings mean. The lists are data, so a test can check the window shows
//! them all.

use eframe::egui::{self, RichText};

use super::state::{UNCERTAIN_MARGIN, UNCERTAIN_TOP};
use crate::labels::Emotion;

/// The keys and gestures, as (what to press, what it does). Keys 1–8 are listed by
/// [`label_keys`], from the emotions' own order.
pub const KEYS: [(&str, &str); 8] = [
    (
        "Ctrl + wheel, or pinch",
        "zoom the spectrogram and the timeline in time (they move together)",
    ),
    (
        "Shift + wheel, or drag",
        "scroll a file's spectrogram and timeline in time",
    ),
    (
        "double click on a plot",
        "show the whole file again (live: follow the newest audio again)",
    ),
    (
        "drag on the timeline",
        "in a session: label that stretch with the emotion picked in the side panel",
    ),
    ("drop a file on the window", "analyse it"),
    ("Enter", "in Open file…: open the typed path"),
    (
        "Ctrl + plus, minus, 0",
        "make the whole window larger, smaller, or as it was",
    ),
    ("? or F1", "show or hide this help"),
];

/// "1 neutral, 2 calm, …": what keys 1–8 mark while recording.
pub fn label_keys() -> String {
    Emotion::ALL
        .iter()
        .enumerate()
        .map(|(i, e)| format!("{} {}", i + 1, e.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the words and shading on screen mean, as (term, meaning).
pub fn meanings() -> [(&'static str, String); 4] {
    [
        (
            "no speech",
            "the voice gate heard no speech in the last quarter second; the model's guess for \
             room tone means nothing, so none is named and the bars are grey"
                .to_owned(),
        ),
        (
            "uncertain",
            format!(
                "the top emotion (smoothed over about 0.4 s) is under {:.0} %, or less than {:.0} \
                 points ahead of the second; both are named. On voices the model never heard, \
                 its top emotion was right 41 % of the time in such moments and 72 % otherwise",
                UNCERTAIN_TOP * 100.0,
                UNCERTAIN_MARGIN * 100.0
            ),
        ),
        (
            "grey shading",
            "on the timeline: stretches without speech".to_owned(),
        ),
        (
            "coloured shading",
            "on a session's timeline: its labels, in their emotion's colour; the white line is \
             the playback cursor"
                .to_owned(),
        ),
    ]
}

/// Whether this frame's input asks to show or hide the help: F1 anywhere, `?` unless a
/// text field has the keyboard (a `?` typed into a path or a model name is text).
pub fn toggled(ctx: &egui::Context) -> bool {
    let typing = ctx.egui_wants_keyboard_input();
    ctx.input(|i| {
        let question = i.key_pressed(egui::Key::Questionmark)
            || i.events
                .iter()
                .any(|e| matches!(e, egui::Event::Text(t) if t == "?"));
        i.key_pressed(egui::Key::F1) || (question && !typing)
    })
}

/// The help window's contents.
pub fn help_ui(ui: &mut egui::Ui) {
    ui.label(RichText::new("Keys and gestures").strong());
    egui::Grid::new("help-keys")
        .num_columns(2)
        .spacing([16.0, 4.0])
        .show(ui, |ui| {
            ui.label("1 – 8");
            ui.label(format!(
                "while recording: label from now on ({})",
                label_keys()
            ));
            ui.end_row();
            for (keys, what) in KEYS {
                ui.label(keys);
                ui.label(what);
                ui.end_row();
            }
        });
    ui.add_space(8.0);
    ui.label(RichText::new("What the window says").strong());
    egui::Grid::new("help-meanings")
        .num_columns(2)
        .spacing([16.0, 4.0])
        .show(ui, |ui| {
            for (term, meaning) in meanings() {
                ui.label(term);
                ui.label(meaning);
                ui.end_row();
            }
        });
}
