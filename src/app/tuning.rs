//! "Tune to my voice" in the app: the sessions picked in the Sessions window are tuned on
//! by [`crate::model::tune::tune`] on a thread of its own, which reports over a channel;
//! the GUI thread only polls it each frame and draws where it is. Plain data: no egui.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, TryRecvError};

use crate::model::train::exemplars::ExemplarError;
use crate::model::tune::{tune, TuneError, TuneOutcome, TuneProgress, TuneRequest};

/// Where a tuning is.
#[derive(Clone, Debug)]
pub enum TuneStatus {
    /// Nothing started (or the last result dismissed).
    Idle,
    /// Running: the latest progress heard (`None` before the first).
    Running(Option<TuneProgress>),
    /// Finished and saved.
    Done(Box<TuneOutcome>),
    /// Stopped by Cancel; nothing was saved.
    Cancelled,
    /// Stopped by an error, in words.
    Failed(String),
}

enum Message {
    Progress(TuneProgress),
    Finished(Box<Result<TuneOutcome, TuneError>>),
}

/// A tuning running on its thread.
struct Job {
    messages: Receiver<Message>,
    cancel: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Job {
    /// Closing the app mid-tuning cancels it; the thread is not waited for (it stops
    /// before its next step and removes its working folder).
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// The tuning part of the Sessions window: the sessions ticked, the name typed, and the
/// tuning in progress or its result.
pub struct TunePanel {
    /// Session folders ticked to tune on.
    pub chosen: Vec<PathBuf>,
    /// The name typed for the new model (empty: named by the date and time).
    pub name: String,
    /// Why the last Tune could not start (a name taken, no sessions ticked), if so.
    pub problem: Option<String>,
    pub status: TuneStatus,
    job: Option<Job>,
}

impl Default for TunePanel {
    fn default() -> Self {
        Self {
            chosen: Vec::new(),
            name: String::new(),
            problem: None,
            status: TuneStatus::Idle,
            job: None,
        }
    }
}

impl TunePanel {
    pub fn is_running(&self) -> bool {
        matches!(self.status, TuneStatus::Running(_))
    }

    /// Starts tuning on a thread of its own.
    pub fn start(&mut self, request: TuneRequest) {
        if self.is_running() {
            return;
        }
        let (tx, rx) = crossbeam_channel::unbounded();
        let cancel = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&cancel);
        let spawned = std::thread::Builder::new()
            .name("emovox-tune".into())
            .spawn(move || {
                let progress = |p| {
                    let _ = tx.send(Message::Progress(p));
                };
                let result = tune(&request, progress, &flag);
                let _ = tx.send(Message::Finished(Box::new(result)));
            });
        match spawned {
            Ok(thread) => {
                self.problem = None;
                self.status = TuneStatus::Running(None);
                self.job = Some(Job {
                    messages: rx,
                    cancel,
                    thread: Some(thread),
                });
            }
            Err(e) => self.status = TuneStatus::Failed(format!("cannot start tuning: {e}")),
        }
    }

    /// Unticks the sessions that are not among `listed` (the sessions now shown, which
    /// change with the sessions folder), so a tuning starts on the ticked sessions in
    /// view and no others. Not while tuning: what runs keeps its sessions.
    pub fn keep_listed<'a>(&mut self, listed: impl IntoIterator<Item = &'a Path>) {
        if self.is_running() {
            return;
        }
        let listed: Vec<&Path> = listed.into_iter().collect();
        self.chosen.retain(|dir| listed.contains(&dir.as_path()));
    }

    /// Asks the running tuning to stop before its next step.
    pub fn cancel(&self) {
        if let Some(job) = &self.job {
            job.cancel.store(true, Ordering::Relaxed);
        }
    }

    /// Takes what the tuning thread reported (called every frame). Returns the outcome
    /// once, on the frame the tuning finished.
    pub fn poll(&mut self) -> Option<TuneOutcome> {
        let job = self.job.as_mut()?;
        let finished = loop {
            match job.messages.try_recv() {
                Ok(Message::Progress(p)) => self.status = TuneStatus::Running(Some(p)),
                Ok(Message::Finished(result)) => break *result,
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Disconnected) => {
                    break Err(TuneError::Request(
                        "tuning stopped unexpectedly (its thread ended without a result)".into(),
                    ))
                }
            }
        };
        if let Some(thread) = job.thread.take() {
            // It has sent its last message and is ending: this does not wait long.
            let _ = thread.join();
        }
        self.job = None;
        match finished {
            Ok(outcome) => {
                self.status = TuneStatus::Done(Box::new(outcome.clone()));
                Some(outcome)
            }
            Err(TuneError::Cancelled) => {
                self.status = TuneStatus::Cancelled;
                None
            }
            Err(e) => {
                self.status = TuneStatus::Failed(in_words(&e));
                None
            }
        }
    }
}

/// Why tuning failed, with advice the app's user can act on (the library's words name
/// what went wrong; the command line adds its own flags).
fn in_words(e: &TuneError) -> String {
    match e {
        TuneError::Exemplars(ExemplarError::Stale(_)) => format!(
            "{e}, or tune another model: choose it (the built-in one, say) in the Model menu"
        ),
        e => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_no_longer_listed_are_unticked() {
        let mut panel = TunePanel {
            chosen: vec!["/a/one".into(), "/a/two".into(), "/b/three".into()],
            ..TunePanel::default()
        };
        // The sessions folder changed from /a to /b, where /b/three and /b/four are.
        let listed = [PathBuf::from("/b/three"), PathBuf::from("/b/four")];
        panel.keep_listed(listed.iter().map(PathBuf::as_path));
        assert_eq!(panel.chosen, [PathBuf::from("/b/three")]);
    }
}
