//! Writes the settings file on a thread of its own, so that the GUI thread never waits for
//! the disk (a network home folder, a disk spinning up). Of a burst of writes only the
//! newest is made; each write's outcome comes back to be shown.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use super::settings::Settings;

/// How long [`SettingsWriter::wait`] waits for the disk at most (on exit, in tests).
const WAIT: Duration = Duration::from_secs(10);

/// What became of one write: the settings it was to write, and the error in words if the
/// file was not written.
#[derive(Debug)]
pub struct Written {
    pub settings: Settings,
    pub result: Result<(), String>,
}

enum Job {
    Write(PathBuf, Settings),
    /// Answered once every write asked for before it is done.
    Flush(Sender<()>),
}

pub struct SettingsWriter {
    jobs: Sender<Job>,
    written: Receiver<Written>,
    /// Where outcomes go when there is no thread (writes are then made in place).
    inline: Option<Sender<Written>>,
}

impl Default for SettingsWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl SettingsWriter {
    pub fn new() -> Self {
        let (jobs, rx) = crossbeam_channel::unbounded::<Job>();
        let (done, written) = crossbeam_channel::unbounded();
        let thread_done = done.clone();
        let spawned = std::thread::Builder::new()
            .name("emovox-settings".into())
            .spawn(move || run(&rx, &thread_done));
        // Without a thread the settings are still written, in place: small, and rare.
        let inline = spawned.is_err().then_some(done);
        Self {
            jobs,
            written,
            inline,
        }
    }

    /// Asks for `settings` to be written to `path`.
    pub fn write(&self, path: &Path, settings: Settings) {
        if let Some(done) = &self.inline {
            let _ = done.send(write(path, settings));
            return;
        }
        let _ = self.jobs.send(Job::Write(path.to_owned(), settings));
    }

    /// Waits (at most 10 s) until the writes asked for so far are done.
    pub fn wait(&self) {
        let (reply, done) = crossbeam_channel::bounded(1);
        if self.inline.is_none() && self.jobs.send(Job::Flush(reply)).is_ok() {
            let _ = done.recv_timeout(WAIT);
        }
    }

    /// The outcomes of the writes done since the last call, oldest first.
    pub fn outcomes(&self) -> Vec<Written> {
        self.written.try_iter().collect()
    }
}

/// The thread: each burst of jobs, its newest write made and the flushes answered.
fn run(jobs: &Receiver<Job>, done: &Sender<Written>) {
    while let Ok(job) = jobs.recv() {
        let mut burst = vec![job];
        burst.extend(jobs.try_iter());
        let mut flushes = Vec::new();
        let mut newest = None;
        for job in burst {
            match job {
                Job::Write(path, settings) => newest = Some((path, settings)),
                Job::Flush(reply) => flushes.push(reply),
            }
        }
        if let Some((path, settings)) = newest {
            let _ = done.send(write(&path, settings));
        }
        for reply in flushes {
            let _ = reply.send(());
        }
    }
}

fn write(path: &Path, settings: Settings) -> Written {
    let result = settings.save(path).map_err(|e| e.to_string());
    Written { settings, result }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn settings(n: usize) -> Settings {
        Settings {
            recent_files: vec![PathBuf::from(format!("/clips/{n}.wav"))],
            ..Settings::default()
        }
    }

    #[test]
    fn the_newest_settings_are_on_disk_after_a_wait() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("emovox").join("settings.json");
        let writer = SettingsWriter::new();
        for n in 0..20 {
            writer.write(&path, settings(n));
        }
        writer.wait();
        let (read, problem) = Settings::load(&path);
        assert!(problem.is_none(), "{problem:?}");
        assert_eq!(read, settings(19));
        let outcomes = writer.outcomes();
        assert!(!outcomes.is_empty() && outcomes.len() <= 20);
        assert!(outcomes.iter().all(|w| w.result.is_ok()));
        assert_eq!(outcomes.last().unwrap().settings, settings(19));
    }

    #[test]
    fn a_write_that_fails_comes_back_as_an_error_in_words() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the settings folder should be: the folder cannot be made.
        let blocker = dir.path().join("emovox");
        std::fs::write(&blocker, "not a folder").unwrap();
        let writer = SettingsWriter::new();
        writer.write(&blocker.join("settings.json"), settings(1));
        writer.wait();
        let outcomes = writer.outcomes();
        assert_eq!(outcomes.len(), 1);
        assert!(outcomes[0].result.is_err(), "{:?}", outcomes[0]);
        assert_eq!(std::fs::read_to_string(&blocker).unwrap(), "not a folder");
    }
}
