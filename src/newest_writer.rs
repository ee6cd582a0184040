//! Writes files on a thread of its own, so that the GUI thread never waits for the disk (a
//! network home folder, a disk spinning up, a full disk). Of a burst of writes to one path
//! only the newest is made; each write's outcome comes back to be shown. The app's
//! settings file and its session autosaves both go through one of these.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crossbeam_channel::{Receiver, SendError, Sender};

/// How long [`NewestWriter::wait`] waits for the disk at most (on exit, in tests).
const WAIT: Duration = Duration::from_secs(10);

/// Writes `value` to `path`; the error in words.
pub type WriteFn<T> = fn(&T, &Path) -> Result<(), String>;

/// What became of one write: where, what it was to write, and the error in words if it
/// was not written.
#[derive(Debug)]
pub struct Written<T> {
    pub path: PathBuf,
    pub value: T,
    pub result: Result<(), String>,
}

enum Job<T> {
    Write(PathBuf, T),
    /// Answered once every write asked for before it is done.
    Flush(Sender<()>),
}

pub struct NewestWriter<T> {
    jobs: Sender<Job<T>>,
    written: Receiver<Written<T>>,
    /// Where outcomes of writes made in place go: when the thread could not start, or has
    /// ended (a write function that panicked). Slower for the caller, but nothing is lost.
    done: Sender<Written<T>>,
    write: WriteFn<T>,
    threaded: bool,
}

impl<T: Send + 'static> NewestWriter<T> {
    /// A writer whose thread is called `name` and writes with `write`.
    pub fn new(name: &str, write: WriteFn<T>) -> Self {
        let (jobs, rx) = crossbeam_channel::unbounded::<Job<T>>();
        let (done, written) = crossbeam_channel::unbounded();
        let thread_done = done.clone();
        let spawned = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || run(&rx, &thread_done, write));
        Self {
            jobs,
            written,
            done,
            write,
            threaded: spawned.is_ok(),
        }
    }

    /// Asks for `value` to be written to `path`.
    pub fn write(&self, path: &Path, value: T) {
        let value = if self.threaded {
            match self.jobs.send(Job::Write(path.to_owned(), value)) {
                Ok(()) => return,
                Err(SendError(Job::Write(_, value))) => value,
                Err(SendError(Job::Flush(_))) => return,
            }
        } else {
            value
        };
        let _ = self.done.send(written(path.to_owned(), value, self.write));
    }

    /// Waits (at most 10 s) until the writes asked for so far are done.
    pub fn wait(&self) {
        let (reply, done) = crossbeam_channel::bounded(1);
        if self.threaded && self.jobs.send(Job::Flush(reply)).is_ok() {
            let _ = done.recv_timeout(WAIT);
        }
    }

    /// The outcomes of the writes done since the last call, oldest first.
    pub fn outcomes(&self) -> Vec<Written<T>> {
        self.written.try_iter().collect()
    }
}

/// The thread: of each burst of jobs, the newest write to each path made (in the order
/// they were asked for), then the flushes answered.
fn run<T>(jobs: &Receiver<Job<T>>, done: &Sender<Written<T>>, write: WriteFn<T>) {
    while let Ok(job) = jobs.recv() {
        let mut burst = vec![job];
        burst.extend(jobs.try_iter());
        let mut flushes = Vec::new();
        let mut newest: Vec<(PathBuf, T)> = Vec::new();
        for job in burst {
            match job {
                Job::Write(path, value) => {
                    newest.retain(|(p, _)| *p != path);
                    newest.push((path, value));
                }
                Job::Flush(reply) => flushes.push(reply),
            }
        }
        for (path, value) in newest {
            let _ = done.send(written(path, value, write));
        }
        for reply in flushes {
            let _ = reply.send(());
        }
    }
}

fn written<T>(path: PathBuf, value: T, write: WriteFn<T>) -> Written<T> {
    let result = write(&value, &path);
    Written {
        path,
        value,
        result,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn write_number(n: &u32, path: &Path) -> Result<(), String> {
        std::fs::write(path, n.to_string()).map_err(|e| e.to_string())
    }

    #[test]
    fn the_newest_value_of_each_path_is_on_disk_after_a_wait() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.txt"), dir.path().join("b.txt"));
        let writer = NewestWriter::new("test-writer", write_number);
        for n in 0..20 {
            writer.write(&a, n);
            writer.write(&b, 100 + n);
        }
        writer.wait();
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "19");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "119");
        let outcomes = writer.outcomes();
        assert!((2..=40).contains(&outcomes.len()));
        assert!(outcomes.iter().all(|w| w.result.is_ok()));
        let last_of = |p: &Path| outcomes.iter().rev().find(|w| w.path == p).map(|w| w.value);
        assert_eq!(last_of(&a), Some(19));
        assert_eq!(last_of(&b), Some(119));
    }

    #[test]
    fn a_write_that_fails_comes_back_as_an_error_in_words() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-folder").join("a.txt");
        let writer = NewestWriter::new("test-writer", write_number);
        writer.write(&missing, 7);
        writer.wait();
        let outcomes = writer.outcomes();
        assert_eq!(outcomes.len(), 1);
        assert_eq!(outcomes[0].value, 7);
        assert!(outcomes[0].result.is_err(), "{:?}", outcomes[0]);
    }

    #[test]
    fn writes_after_the_thread_died_are_made_in_place() {
        fn write_or_panic(n: &u32, path: &Path) -> Result<(), String> {
            assert_ne!(*n, 0, "a write function that panics");
            write_number(n, path)
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        let writer = NewestWriter::new("test-writer", write_or_panic);
        writer.write(&path, 0);
        writer.wait();
        // The thread has ended (its receiver is gone once it unwinds); give it a moment.
        let deadline = std::time::Instant::now() + WAIT;
        while std::time::Instant::now() < deadline {
            writer.write(&path, 5);
            if std::fs::read_to_string(&path).ok().as_deref() == Some("5") {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "5");
        assert!(writer
            .outcomes()
            .iter()
            .any(|w| w.value == 5 && w.result.is_ok()));
    }
}
