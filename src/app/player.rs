//! Playing the file on screen, off the GUI thread: decoding and opening the output happen
//! on a helper thread; each frame the app only reads the position for the cursor.

use std::path::PathBuf;

use crossbeam_channel::{Receiver, TryRecvError};

use crate::audio::decode_file;
use crate::audio::playback::{play, Playback};

/// Playback being prepared, running, or neither.
#[derive(Default)]
pub enum Player {
    #[default]
    Idle,
    /// The helper decodes the file and opens the output; the cursor waits at `from_s`.
    Starting {
        from_s: f64,
        ready: Receiver<Result<Playback, String>>,
    },
    Playing(Playback),
}

/// What a frame learns from the player.
pub enum PlayerUpdate {
    /// The cursor, while preparing or playing.
    Cursor(f64),
    /// Played to the end.
    Ended,
    Failed(String),
    Idle,
}

impl Player {
    /// Starts playing `path` from `from_s` seconds.
    pub fn start(path: PathBuf, from_s: f64) -> Self {
        let (tx, ready) = crossbeam_channel::bounded(1);
        let spawned = std::thread::Builder::new()
            .name("emovox-playback".into())
            .spawn(move || {
                let result = decode_file(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|d| play(&d.samples, from_s).map_err(|e| e.to_string()));
                let _ = tx.send(result);
            });
        match spawned {
            Ok(_) => Self::Starting { from_s, ready },
            Err(e) => {
                let (tx, ready) = crossbeam_channel::bounded(1);
                let _ = tx.send(Err(e.to_string()));
                Self::Starting { from_s, ready }
            }
        }
    }

    /// Advances the state; never blocks.
    pub fn update(&mut self) -> PlayerUpdate {
        match std::mem::take(self) {
            Self::Idle => PlayerUpdate::Idle,
            Self::Starting { from_s, ready } => match ready.try_recv() {
                Ok(Ok(playback)) => {
                    let at = playback.position_s();
                    *self = Self::Playing(playback);
                    PlayerUpdate::Cursor(at)
                }
                Ok(Err(e)) => PlayerUpdate::Failed(e),
                Err(TryRecvError::Empty) => {
                    *self = Self::Starting { from_s, ready };
                    PlayerUpdate::Cursor(from_s)
                }
                Err(TryRecvError::Disconnected) => {
                    PlayerUpdate::Failed("the playback thread ended".into())
                }
            },
            Self::Playing(playback) => {
                if playback.finished() {
                    playback.stop();
                    PlayerUpdate::Ended
                } else {
                    let at = playback.position_s();
                    *self = Self::Playing(playback);
                    PlayerUpdate::Cursor(at)
                }
            }
        }
    }

    /// Stops; returns where the cursor was.
    pub fn stop(&mut self) -> Option<f64> {
        match std::mem::take(self) {
            Self::Idle => None,
            Self::Starting { from_s, .. } => Some(from_s),
            Self::Playing(playback) => {
                let at = playback.position_s();
                playback.stop();
                Some(at)
            }
        }
    }

    pub fn is_active(&self) -> bool {
        !matches!(self, Self::Idle)
    }
}
