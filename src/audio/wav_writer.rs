//! 16-bit PCM WAV written as it is recorded. The header's sizes are brought up to date
//! every second, after the samples they count reach the disk, so a crash (or a full
//! disk) leaves a file that any WAV reader opens, missing at most the last second.

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const HEADER_BYTES: u64 = 44;

pub struct WavStreamWriter {
    file: BufWriter<File>,
    path: PathBuf,
    rate: u32,
    /// Samples written so far.
    samples: u64,
    /// Samples the header counts.
    in_header: u64,
}

impl WavStreamWriter {
    /// Creates (or truncates) `path` with an empty mono 16-bit WAV at `rate`.
    pub fn create(path: &Path, rate: u32) -> io::Result<Self> {
        let file = File::create(path)?;
        let mut writer = Self {
            file: BufWriter::with_capacity(64 * 1024, file),
            path: path.to_owned(),
            rate,
            samples: 0,
            in_header: 0,
        };
        writer.write_header(0)?;
        writer.file.flush()?;
        Ok(writer)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Seconds written so far.
    pub fn seconds(&self) -> f64 {
        self.samples as f64 / f64::from(self.rate)
    }

    /// Appends samples (clipped to ±1) and, once a second of them has come since the
    /// last time, makes the header count them.
    pub fn write(&mut self, samples: &[f32]) -> io::Result<()> {
        for &x in samples {
            let v = (x.clamp(-1.0, 1.0) * 32767.0).round() as i16;
            self.file.write_all(&v.to_le_bytes())?;
        }
        self.samples += samples.len() as u64;
        if self.samples - self.in_header >= u64::from(self.rate) {
            self.commit()?;
        }
        Ok(())
    }

    /// Flushes the samples to the disk and rewrites the header to count them all.
    pub fn commit(&mut self) -> io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().sync_data()?;
        let end = HEADER_BYTES + 2 * self.samples;
        self.file.seek(SeekFrom::Start(0))?;
        self.write_header(self.samples)?;
        self.file.seek(SeekFrom::Start(end))?;
        self.file.flush()?;
        self.in_header = self.samples;
        Ok(())
    }

    /// Commits and closes the file.
    pub fn finish(mut self) -> io::Result<()> {
        self.commit()?;
        self.file.get_ref().sync_all()
    }

    fn write_header(&mut self, samples: u64) -> io::Result<()> {
        // A WAV's sizes are 32-bit: past 4 GiB (37 h at 16 kHz) the header saturates.
        let data = u32::try_from(2 * samples).unwrap_or(u32::MAX - 36);
        let rate = self.rate;
        let mut h = Vec::with_capacity(HEADER_BYTES as usize);
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&(36 + data).to_le_bytes());
        h.extend_from_slice(b"WAVEfmt ");
        h.extend_from_slice(&16u32.to_le_bytes());
        h.extend_from_slice(&1u16.to_le_bytes()); // PCM
        h.extend_from_slice(&1u16.to_le_bytes()); // mono
        h.extend_from_slice(&rate.to_le_bytes());
        h.extend_from_slice(&(rate * 2).to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&16u16.to_le_bytes());
        h.extend_from_slice(b"data");
        h.extend_from_slice(&data.to_le_bytes());
        self.file.write_all(&h)
    }
}
