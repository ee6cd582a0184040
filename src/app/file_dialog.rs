//! The platform's own file dialog (rfd: on Linux the XDG desktop portal over D-Bus), for
//! File → Open. It runs on a thread of its own, so the window keeps drawing while it is
//! up, and hands what was chosen back over a channel the GUI thread polls each frame, as
//! tuning and export do. Where no dialog can be shown (Xvfb, a minimal system without a
//! portal) rfd answers `None`, the app says so in one line and the typed path stays.
//! Plain data: no egui.

use std::path::{Path, PathBuf};

use crossbeam_channel::{Receiver, Sender};

/// The audio files File → Open lists, as decode.rs reads them.
const AUDIO_EXTENSIONS: [&str; 5] = ["wav", "flac", "mp3", "ogg", "oga"];

/// What a dialog was shown for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Purpose {
    /// An audio file to open.
    OpenFile,
}

/// A dialog's answer: the path chosen, `None` when it was cancelled or never shown.
#[derive(Clone, Debug)]
pub struct Picked {
    pub purpose: Purpose,
    pub path: Option<PathBuf>,
}

/// The dialog in progress, if any, and what the last one came to.
pub struct FileDialogs {
    sender: Sender<Picked>,
    picked: Receiver<Picked>,
    /// A dialog is up (or its thread is waiting for the portal).
    pending: Option<Purpose>,
    /// The last dialog ended with nothing chosen: what to do instead, in one line.
    pub problem: Option<String>,
}

impl Default for FileDialogs {
    fn default() -> Self {
        let (sender, picked) = crossbeam_channel::unbounded();
        Self {
            sender,
            picked,
            pending: None,
            problem: None,
        }
    }
}

impl FileDialogs {
    pub fn is_open(&self) -> bool {
        self.pending.is_some()
    }

    /// Where answers are delivered: the dialog's thread sends on it, and tests hand a
    /// path to the app through it as a dialog would.
    pub fn sender(&self) -> Sender<Picked> {
        self.sender.clone()
    }

    /// Shows the dialog on a thread of its own, starting in `start` when given. One at a
    /// time: a second call while one is up does nothing.
    pub fn browse(&mut self, purpose: Purpose, start: Option<&Path>) {
        if self.pending.is_some() {
            return;
        }
        self.pending = Some(purpose);
        self.problem = None;
        let start = start.filter(|d| d.is_dir()).map(Path::to_path_buf);
        let sender = self.sender.clone();
        let spawned = std::thread::Builder::new()
            .name("emovox-file-dialog".into())
            .spawn(move || {
                let mut dialog = rfd::FileDialog::new()
                    .set_title("Open an audio file")
                    .add_filter("Audio", &AUDIO_EXTENSIONS);
                if let Some(dir) = start {
                    dialog = dialog.set_directory(dir);
                }
                let path = match purpose {
                    Purpose::OpenFile => dialog.pick_file(),
                };
                // The app may have closed meanwhile; then no one is listening.
                let _ = sender.send(Picked { purpose, path });
            });
        if let Err(e) = spawned {
            self.pending = None;
            self.problem = Some(format!("No file dialog ({e}): type the path."));
        }
    }

    /// What a dialog chose, once it has answered; a dialog that chose nothing leaves a
    /// line in [`Self::problem`].
    pub fn poll(&mut self) -> Option<(Purpose, PathBuf)> {
        let answer = self.picked.try_recv().ok()?;
        self.pending = None;
        match answer.path {
            Some(path) => {
                self.problem = None;
                Some((answer.purpose, path))
            }
            None => {
                // rfd answers the same for Cancel and for a system with no dialog.
                self.problem = Some(
                    "No file chosen; if no dialog appeared, this system has none \
                     (no XDG desktop portal): type the path."
                        .into(),
                );
                None
            }
        }
    }
}
