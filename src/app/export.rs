//! The Export window: a file's timeline as `emovox predict --timeline` writes it (CSV or
//! JSON, the same code) and the spectrogram above the timeline as a PNG picture, and a
//! session's labels (Audacity label track) and predictions (CSV), into a folder the user
//! types. Every file is written whole or not at all (a temporary file in the folder, then
//! a rename), and a failure is a sentence in the window.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;

use eframe::egui;

use super::colors::{db_rgb, emotion_rgb};
use super::state::{AppState, FRAME_S};
use crate::audio::decode_file;
use crate::dsp::StreamingExtractor;
use crate::dsp::N_MELS;
use crate::engine::Prediction;
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
    /// The spectrogram above the timeline, as a PNG picture.
    Picture,
}

/// The picture's rows per mel band, and the timeline strip's height, in pixels.
pub const PICTURE_BAND_PX: usize = 2;
pub const PICTURE_TIMELINE_PX: usize = 48;
/// The dark line between the two.
pub const PICTURE_GAP_PX: usize = 2;
/// A longer file is decimated to this many columns (one per 10 ms below it).
pub const PICTURE_MAX_WIDTH: usize = 4096;

/// An RGB picture, row by row from the top.
pub struct Picture {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

/// The spectrogram (a column per 10 ms, low frequencies at the bottom, in the colours the
/// window uses) above the timeline: under each column, a bar in the colour of the emotion
/// of the window that covers it, as tall as its probability; nothing where no one spoke.
/// Drawn from the state rather than taken from a screenshot, so it is the same with any
/// window size, renderer or none (Xvfb, tests). `None` without columns.
pub fn picture(state: &AppState) -> Option<Picture> {
    let n = state.columns.len();
    if n == 0 {
        return None;
    }
    let width = n.min(PICTURE_MAX_WIDTH);
    let spectrogram_h = N_MELS * PICTURE_BAND_PX;
    let height = spectrogram_h + PICTURE_GAP_PX + PICTURE_TIMELINE_PX;
    let mut rgb = vec![0u8; width * height * 3];
    let mut put = |x: usize, y: usize, c: [u8; 3]| {
        if let Some(px) = rgb.get_mut((y * width + x) * 3..(y * width + x) * 3 + 3) {
            px.copy_from_slice(&c);
        }
    };
    let predictions: Vec<&Prediction> = state.predictions.iter().collect();
    for x in 0..width {
        let k = x * n / width;
        let Some(column) = state.columns.get(k) else {
            continue;
        };
        for (band, &db) in column.iter().enumerate() {
            let c = db_rgb(db);
            for dy in 0..PICTURE_BAND_PX {
                put(x, (N_MELS - 1 - band) * PICTURE_BAND_PX + dy, c);
            }
        }
        for y in spectrogram_h + PICTURE_GAP_PX..height {
            put(x, y, [24, 24, 24]);
        }
        // Each window is credited with the stretch since the one before, as on screen.
        let t = (state.first_column + k) as f64 * FRAME_S;
        let i = predictions.partition_point(|p| p.t < t);
        let Some(p) = predictions.get(i) else {
            continue;
        };
        let Some(label) = p.label() else {
            continue;
        };
        let bar = ((p.probabilities[label.index()].clamp(0.0, 1.0) * PICTURE_TIMELINE_PX as f32)
            .round() as usize)
            .max(1);
        for y in height - bar..height {
            put(x, y, emotion_rgb(label));
        }
    }
    Some(Picture { width, height, rgb })
}

fn encode_png(p: &Picture) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let size = |v: usize| u32::try_from(v).map_err(|_| "the picture is too large".to_owned());
    let mut encoder = png::Encoder::new(&mut out, size(p.width)?, size(p.height)?);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .and_then(|mut w| w.write_image_data(&p.rgb))
        .map_err(|e| e.to_string())?;
    Ok(out)
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
    /// The picture, drawn when it was asked for.
    pub picture: Option<Picture>,
}

/// The file a kind is written to, in `folder`.
pub fn file_name(kind: ExportKind, name: &str) -> String {
    match kind {
        ExportKind::TimelineCsv => format!("{name}.timeline.csv"),
        ExportKind::TimelineJson => format!("{name}.timeline.json"),
        ExportKind::Labels => format!("{name}.labels.txt"),
        ExportKind::Predictions => format!("{name}.predictions.csv"),
        ExportKind::Picture => format!("{name}.png"),
    }
}

/// `folder/{stem}{rest}` where no such file is there, else the first free
/// `{stem} (2){rest}`, `{stem} (3){rest}`…: an export never replaces a file, which may be
/// the user's own. `rest` is the kind's suffix (`.png`, `.timeline.csv`).
pub fn free_path(folder: &Path, stem: &str, rest: &str) -> PathBuf {
    let first = folder.join(format!("{stem}{rest}"));
    if std::fs::symlink_metadata(&first).is_err() {
        return first;
    }
    (2u64..)
        .map(|i| folder.join(format!("{stem} ({i}){rest}")))
        .find(|p| std::fs::symlink_metadata(p).is_err())
        .unwrap_or(first)
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
        ExportKind::Picture => match &source.picture {
            Some(p) => encode_png(p)?,
            None => return Err("there is no spectrogram to save yet".into()),
        },
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
    let name = file_name(kind, &source.name);
    let rest = name.strip_prefix(source.name.as_str()).unwrap_or_default();
    let path = free_path(folder, &source.name, rest);
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
            if ui
                .add_enabled(
                    idle && file,
                    egui::Button::new("Spectrogram and timeline as PNG"),
                )
                .clicked()
            {
                asked = Some(ExportKind::Picture);
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_takes_the_first_free_name() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(free_path(d, "my.clip", ".png"), d.join("my.clip.png"));
        std::fs::write(d.join("my.clip.png"), b"the user's").unwrap();
        assert_eq!(free_path(d, "my.clip", ".png"), d.join("my.clip (2).png"));
        std::fs::write(d.join("my.clip (2).png"), b"").unwrap();
        assert_eq!(free_path(d, "my.clip", ".png"), d.join("my.clip (3).png"));
        std::fs::write(d.join("clip.timeline.csv"), b"").unwrap();
        assert_eq!(
            free_path(d, "clip", ".timeline.csv"),
            d.join("clip (2).timeline.csv")
        );
        assert_eq!(std::fs::read(d.join("my.clip.png")).unwrap(), b"the user's");
    }
}
