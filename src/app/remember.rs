//! What the app remembers between runs (`settings`): the input picked again at start,
//! the settings as they stand, and their writing on a thread of their own.

use std::time::Instant;

use super::settings::{self, SavedInput, Settings};
use super::EmovoxApp;
use crate::newest_writer::NewestWriter;

/// Writes the settings file on a thread of its own: the GUI thread never waits for the
/// disk.
pub(super) fn settings_writer() -> NewestWriter<Settings> {
    NewestWriter::new("emovox-settings", |settings, path| {
        settings.save(path).map_err(|e| e.to_string())
    })
}

impl EmovoxApp {
    /// Picks the input remembered from the last run: by its id, else its name; the system
    /// default, with a note, when it is not connected. (With a file standing in for the
    /// microphone there is nothing to pick, and the remembered input is kept.)
    pub(super) fn restore_input(&mut self) {
        if let (Some(saved), None) = (&self.remembered_input, &self.options.replay) {
            match settings::find_input(saved, &self.state.devices) {
                Ok(i) => self.state.device = self.state.devices.get(i).map(|d| d.index),
                Err(note) => self.state.error(note),
            }
        }
        self.picked_device = self.state.device;
    }

    /// What would be remembered now.
    fn current_settings(&mut self) -> Settings {
        if self.state.device != self.picked_device {
            // The user picked another input (None: the system default).
            self.picked_device = self.state.device;
            self.remembered_input = self
                .state
                .device
                .and_then(|i| self.device_info(i))
                .map(|d| SavedInput {
                    id: d.id.clone(),
                    name: d.name.clone(),
                });
        }
        Settings {
            input: self.remembered_input.clone(),
            sessions: self.remembered_sessions.clone(),
            model: self.remembered_model.clone(),
            window_size: self.window_size,
            open_folder: self.open_folder.clone(),
            recent_files: self.recent_files.clone(),
        }
    }

    /// Asks for the settings file to be written if what it would hold changed, and takes
    /// in the outcomes of earlier writes (called every second; the GUI thread does not
    /// wait for the disk).
    pub(super) fn queue_settings(&mut self) {
        self.settings_checked = Instant::now();
        self.settings_outcomes();
        let Some(path) = self.options.settings.clone() else {
            return;
        };
        let now = self.current_settings();
        // Against what the file will hold once the write in flight is done: a change
        // undone meanwhile must be written too.
        let pending = self.settings_sent.as_ref().unwrap_or(&self.saved_settings);
        if now == *pending {
            return;
        }
        self.settings_writer.write(&path, now.clone());
        self.settings_sent = Some(now);
    }

    /// Writes the settings file now if what it would hold changed, and waits for the
    /// disk (on exit, and in tests).
    pub fn save_settings(&mut self) {
        self.queue_settings();
        self.settings_writer.wait();
        self.settings_outcomes();
    }

    /// What became of the writes asked for: a failure is said once, not every second
    /// while the disk refuses, and the settings are asked for again a second later.
    fn settings_outcomes(&mut self) {
        for written in self.settings_writer.outcomes() {
            match written.result {
                Ok(()) => {
                    if self.settings_sent.as_ref() == Some(&written.value) {
                        self.settings_sent = None;
                    }
                    self.saved_settings = written.value;
                    self.settings_write_failed = false;
                }
                Err(e) => {
                    self.settings_sent = None;
                    if !self.settings_write_failed {
                        self.settings_write_failed = true;
                        let path = self.options.settings.clone().unwrap_or_default();
                        self.state.error(format!(
                            "cannot remember the settings in {}: {e}",
                            path.display()
                        ));
                    }
                }
            }
        }
    }
}
