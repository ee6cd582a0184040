//! The Export window: a file's timeline as `emovox predict --timeline` writes it (CSV or
//! JSON, the same code), and a session's labels (Audacity label track) and predictions
//! (CSV), into a folder the user types. Every file is written whole or not at all (a
//! temporary file in the folder, then a rename), and a failure is a sentence in the window.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;

use eframe::egui;

use crate::audio::decode_file;
use crate::dsp::StreamingExtractor;
use crate::model::Classifier;
use crate::predict::{analyse, write_csv, write_csv_header, AnalysisJson};
use crate::session::{self, Session};

/// What can be exported.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ExportKind {
    TimelineCsv,
    TimelineJson,
    /// The session's labels as an Audacity label track.
    Labels,
    /// The session's predictions as CSV.
    Predictions,
}

/// The Export window's contents while it is open.
pub struct ExportPanel {
    /// The folder as typed.
    pub folder: String,
    /// What the last export did, in words.
    pub message: Option<String>,
    /// An export running on its own thread: the file written, or why not.
    running: Option<mpsc::Receiver<Result<PathBuf, String>>>,
}

impl ExportPanel {
    pub fn new(folder: &Path) -> Self {
        Self {
            folder: folder.display().to_string(),
            message: None,
            running: None,
        }
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Takes the result of the running export, if it has one.
    pub fn poll(&mut self) {
        let Some(rx) = &self.running else {
            return;
        };
        let result = match rx.try_recv() {
            Ok(result) => result,
            Err(mpsc::TryRecvError::Empty) => return,
            Err(mpsc::TryRecvError::Disconnected) => Err("the export stopped unexpectedly".into()),
        };
        self.message = Some(match result {
            Ok(path) => format!("Saved {}", path.display()),
            Err(why) => format!("Could not export: {why}"),
        });
        self.running = None;
    }

    /// Starts writing `kind` on a thread (a timeline means analysing the whole file).
    pub fn start(&mut self, kind: ExportKind, source: ExportSource) {
        let folder = PathBuf::from(self.folder.trim());
        let (tx, rx) = mpsc::channel();
        self.message = None;
        self.running = Some(rx);
        std::thread::spawn(move || {
            let _ = tx.send(export(kind, &source, &folder));
        });
    }
}

/// What is on screen, as the export needs it.
pub struct ExportSource {
    /// The audio file in view.
    pub audio: PathBuf,
    /// What the exported files are named after (the file's stem, or the session folder's name).
    pub name: String,
    pub classifier: Arc<Classifier>,
    /// The session on screen, if any.
    pub session: Option<Session>,
}

/// The file a kind is written to, in `folder`.
pub fn file_name(kind: ExportKind, name: &str) -> String {
    match kind {
        ExportKind::TimelineCsv => format!("{name}.timeline.csv"),
        ExportKind::TimelineJson => format!("{name}.timeline.json"),
        ExportKind::Labels => format!("{name}.labels.txt"),
        ExportKind::Predictions => format!("{name}.predictions.csv"),
    }
}

/// Writes one export; the error is a sentence for the window.
pub fn export(kind: ExportKind, source: &ExportSource, folder: &Path) -> Result<PathBuf, String> {
    if folder.as_os_str().is_empty() {
        return Err("type the folder to export to".into());
    }
    if !folder.is_dir() {
        return Err(format!(
            "{} does not exist or is not a folder",
            folder.display()
        ));
    }
    let bytes = match kind {
        ExportKind::TimelineCsv | ExportKind::TimelineJson => {
            let decoded = decode_file(&source.audio).map_err(|e| e.to_string())?;
            let analysis = analyse(
                &source.classifier,
                &mut StreamingExtractor::new(),
                &decoded.samples,
            )
            .map_err(|e| format!("{}: {e}", source.audio.display()))?;
            let mut out = Vec::new();
            if kind == ExportKind::TimelineCsv {
                write_csv_header(&mut out, true)
                    .and_then(|()| write_csv(&mut out, &source.audio, &analysis, true))
                    .map_err(|e| e.to_string())?;
            } else {
                let json = AnalysisJson {
                    path: Some(&source.audio.to_string_lossy()),
                    analysis: &analysis,
                    timeline: true,
                    model: None,
                };
                out = serde_json::to_vec(&json).map_err(|e| e.to_string())?;
                out.push(b'\n');
            }
            out
        }
        ExportKind::Labels | ExportKind::Predictions => {
            let Some(session) = &source.session else {
                return Err("no session is on screen".into());
            };
            if kind == ExportKind::Labels {
                session::labels::to_audacity(&session.labels).into_bytes()
            } else {
                session::predictions_csv(&session.predictions).into_bytes()
            }
        }
    };
    let path = folder.join(file_name(kind, &source.name));
    crate::fsutil::write_atomic(&path, &bytes).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                "you may not write in that folder".to_owned()
            }
            std::io::ErrorKind::StorageFull => "the disk is full".to_owned(),
            _ => e.to_string(),
        };
        format!("{}: {why}", path.display())
    })?;
    Ok(path)
}

/// The Export window; returns what the user asked to export.
pub fn export_window_ui(
    ctx: &egui::Context,
    open: &mut bool,
    panel: &mut ExportPanel,
    file: bool,
    session: bool,
) -> Option<ExportKind> {
    let mut asked = None;
    egui::Window::new("Export")
        .open(open)
        .collapsible(false)
        .show(ctx, |ui| {
            ui.horizontal(|ui| {
                let label = ui.label("Folder");
                ui.add(egui::TextEdit::singleline(&mut panel.folder).desired_width(340.0))
                    .labelled_by(label.id);
            });
            let idle = !panel.is_running();
            ui.label("The timeline, as emovox predict --timeline writes it:");
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(idle && file, egui::Button::new("Timeline as CSV"))
                    .clicked()
                {
                    asked = Some(ExportKind::TimelineCsv);
                }
                if ui
                    .add_enabled(idle && file, egui::Button::new("Timeline as JSON"))
                    .clicked()
                {
                    asked = Some(ExportKind::TimelineJson);
                }
            });
            if session {
                ui.label("The session:");
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(idle, egui::Button::new("Labels for Audacity"))
                        .clicked()
                    {
                        asked = Some(ExportKind::Labels);
                    }
                    if ui
                        .add_enabled(idle, egui::Button::new("Predictions as CSV"))
                        .clicked()
                    {
                        asked = Some(ExportKind::Predictions);
                    }
                });
            }
            if !idle {
                ui.label("Exporting…");
            }
            if let Some(message) = &panel.message {
                ui.label(message.as_str());
            }
        });
    asked
}
