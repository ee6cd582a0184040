//! Recording sessions and reopening them: where they go, starting and stopping, and
//! saving them on the autosave thread as they change.

use std::path::PathBuf;
use std::time::Instant;

use super::{EmovoxApp, Recording, View, AUTOSAVE};
use crate::engine::Command;
use crate::session::{self, Session};

impl EmovoxApp {
    /// Sets where sessions are recorded and listed from, without checking it: the
    /// default need not exist until the first recording.
    pub(super) fn set_sessions_root(&mut self, dir: PathBuf) {
        self.sessions_root_text = dir.display().to_string();
        self.sessions_root = dir;
    }

    /// A folder the user chose in the Sessions window: created if missing, refused with
    /// the reason if it cannot be. Applies to the next recording (a running one stays
    /// where it is) and lists the sessions already there.
    pub fn use_sessions_folder(&mut self, dir: PathBuf) {
        if dir.as_os_str().is_empty() {
            self.sessions_root_problem = Some("Type a folder first.".into());
            return;
        }
        match std::fs::create_dir_all(&dir) {
            Ok(()) => {
                self.remembered_sessions = Some(dir.clone());
                self.set_sessions_root(dir);
                self.sessions_root_problem = None;
                self.sessions_list = session::list(&self.sessions_root);
            }
            Err(e) => {
                self.sessions_root_problem =
                    Some(format!("Cannot use {} for sessions: {e}", dir.display()));
            }
        }
    }

    /// Starts recording what is heard into a new session folder.
    pub fn record(&mut self) {
        let Some(engine) = &self.engine else {
            return;
        };
        if !self.state.is_live() || self.state.recording.as_ref().is_some_and(|r| r.active) {
            return;
        }
        let dir = match session::create_dir(&self.sessions_root) {
            Ok(dir) => dir,
            Err(e) => return self.state.error(format!("cannot start a session: {e}")),
        };
        engine.command(Command::StartRecording(dir.join(session::AUDIO_FILE)));
        let device = match &self.state.view {
            View::Live { source } => source.clone(),
            _ => String::new(),
        };
        self.state.recording = Some(Recording {
            dir,
            session: Session {
                device,
                rate: crate::dsp::SAMPLE_RATE,
                started: crate::clock::now_iso(),
                model: self.state.model_name.clone(),
                ..Session::default()
            },
            stream_t0: self.state.current().map_or(0.0, |p| p.t),
            active: true,
            dirty: true,
        });
    }

    pub fn stop_recording(&mut self) {
        if let Some(engine) = &self.engine {
            engine.command(Command::StopRecording);
        }
    }

    /// Reopens a session: its audio is analysed as a file, its labels can be edited.
    pub fn open_session(&mut self, dir: PathBuf) {
        match Session::load(&dir) {
            Ok(session) => {
                self.stop();
                self.close_session();
                self.analyse(dir.join(session::AUDIO_FILE));
                self.state.recording = Some(Recording {
                    dir,
                    session,
                    stream_t0: 0.0,
                    active: false,
                    dirty: false,
                });
            }
            Err(e) => self.state.error(e.to_string()),
        }
    }

    /// Saves and forgets the session on screen.
    pub(super) fn close_session(&mut self) {
        if let Some(rec) = self.state.recording.take() {
            if rec.dirty {
                self.autosaver.save(&rec.dir, &rec.session);
            }
        }
    }

    /// Saves the session when it changed, at most every `AUTOSAVE`, and at once when its
    /// recording has stopped.
    pub(super) fn autosave(&mut self) {
        for e in self.autosaver.errors() {
            self.state.error(e);
        }
        let Some(rec) = &mut self.state.recording else {
            return;
        };
        if rec.dirty && (!rec.active || self.last_save.elapsed() >= AUTOSAVE) {
            self.autosaver.save(&rec.dir, &rec.session);
            rec.dirty = false;
            self.last_save = Instant::now();
        }
    }

    /// Waits until every save asked for so far is on disk (tests, exit).
    pub fn flush_saves(&mut self) {
        self.autosave();
        if let Some(rec) = &mut self.state.recording {
            if rec.dirty {
                self.autosaver.save(&rec.dir, &rec.session);
                rec.dirty = false;
            }
        }
        self.autosaver.wait();
    }
}
