//! The mel spectrogram on screen: a texture fed column by column while listening (a ring
//! of the last 30 s, so each new 10 ms column is one small upload), or built once for a
//! file; drawn in a plot with time and frequency axes.

use eframe::egui::{self, Color32, ColorImage, TextureHandle, TextureOptions};
use egui_plot::{PlotImage, PlotPoint};

use super::colors::db_rgb;
use super::state::{AppState, FRAME_S, LIVE_COLUMNS};
use crate::dsp::mel::{hz_to_mel, mel_to_hz};
use crate::dsp::{N_MELS, SAMPLE_RATE};

/// Wider textures are decimated to this (a GPU limit is 8,192 on some machines).
const MAX_FILE_COLUMNS: usize = 4096;

#[derive(Default)]
pub struct SpectrogramTexture {
    texture: Option<TextureHandle>,
    /// Columns of `AppState::columns_received` already in the texture.
    uploaded: usize,
    /// Whether the texture holds a live ring (else a whole file).
    live: bool,
    /// When a file's texture was last rebuilt.
    rebuilt: Option<std::time::Instant>,
}

/// While a file is analysed its whole texture is rebuilt at most this often: a 10-minute
/// file has 60,000 columns, too many to re-colour every frame.
const FILE_REBUILD: std::time::Duration = std::time::Duration::from_millis(250);

impl SpectrogramTexture {
    /// Brings the texture up to date with the state's columns.
    pub fn update(&mut self, ctx: &egui::Context, state: &AppState) {
        if state.columns_received < self.uploaded || state.is_live() != self.live {
            // A new view began.
            self.uploaded = 0;
            self.texture = None;
            self.live = state.is_live();
        }
        if state.columns_received == self.uploaded {
            return;
        }
        if self.live {
            self.update_ring(ctx, state);
        } else {
            let due = self.rebuilt.is_none_or(|t| t.elapsed() >= FILE_REBUILD);
            if state.is_running() && !due {
                return;
            }
            self.rebuild_whole(ctx, state);
            self.rebuilt = Some(std::time::Instant::now());
        }
        self.uploaded = state.columns_received;
    }

    /// Uploads only the new columns into a ring of `LIVE_COLUMNS`; column `frame` lives at
    /// x = frame mod `LIVE_COLUMNS`.
    fn update_ring(&mut self, ctx: &egui::Context, state: &AppState) {
        let texture = self.texture.get_or_insert_with(|| {
            ctx.load_texture(
                "spectrogram-live",
                ColorImage::filled([LIVE_COLUMNS, N_MELS], Color32::BLACK),
                TextureOptions::LINEAR,
            )
        });
        let new = (state.columns_received - self.uploaded).min(state.columns.len());
        let skip = state.columns.len() - new;
        for (k, column) in state.columns.iter().enumerate().skip(skip) {
            let frame = state.first_column + k;
            texture.set_partial(
                [frame % LIVE_COLUMNS, 0],
                column_image(std::slice::from_ref(column)),
                TextureOptions::LINEAR,
            );
        }
    }

    fn rebuild_whole(&mut self, ctx: &egui::Context, state: &AppState) {
        let n = state.columns.len();
        if n == 0 {
            return;
        }
        // Each texture column is the loudest of the frames it stands for.
        let width = n.min(MAX_FILE_COLUMNS);
        let per = n.div_ceil(width);
        let pooled: Vec<[f32; N_MELS]> = state
            .columns
            .iter()
            .collect::<Vec<_>>()
            .chunks(per)
            .map(|group| {
                std::array::from_fn(|b| group.iter().map(|c| c[b]).fold(f32::MIN, f32::max))
            })
            .collect();
        let image = column_image(&pooled);
        match &mut self.texture {
            Some(t) if t.size() == image.size => t.set(image, TextureOptions::LINEAR),
            _ => {
                self.texture =
                    Some(ctx.load_texture("spectrogram-file", image, TextureOptions::LINEAR))
            }
        }
    }

    /// Draws the spectrogram in a plot: x in seconds, y in mel bands labelled in Hz, on the
    /// time axis it shares with the timeline (see `panels::time_plot`).
    pub fn ui(
        &self,
        ui: &mut egui::Ui,
        state: &AppState,
        height: f32,
        axis_width: f32,
        new_view: bool,
    ) -> egui_plot::PlotTransform {
        let plot = super::panels::time_plot("spectrogram", state, height, axis_width)
            .include_y(0.0)
            .include_y(N_MELS as f64)
            .show_grid(false)
            .y_axis_label("frequency")
            .y_axis_formatter(|mark, _| format_hz(band_hz(mark.value)));
        let response = plot.show(ui, |plot_ui| {
            if new_view {
                super::panels::follow_span(plot_ui);
            }
            let Some(texture) = &self.texture else {
                return;
            };
            let y_mid = N_MELS as f64 / 2.0;
            if self.live {
                // Frames first..first+n sit at ring positions (first + k) mod L: one
                // stretch, or two where it wraps round the end of the texture.
                let (first, n) = (state.first_column, state.columns.len());
                let p0 = first % LIVE_COLUMNS;
                let in_first = n.min(LIVE_COLUMNS - p0);
                let parts = [(p0, in_first, first), (0, n - in_first, first + in_first)];
                for (x0, width, frame0) in parts {
                    if width == 0 {
                        continue;
                    }
                    let u0 = x0 as f32 / LIVE_COLUMNS as f32;
                    let u1 = (x0 + width) as f32 / LIVE_COLUMNS as f32;
                    let w_s = width as f64 * FRAME_S;
                    let centre = PlotPoint::new(frame0 as f64 * FRAME_S + w_s / 2.0, y_mid);
                    plot_ui.image(
                        PlotImage::new("", texture.id(), centre, [w_s as f32, N_MELS as f32]).uv(
                            egui::Rect::from_min_max(egui::pos2(u0, 0.0), egui::pos2(u1, 1.0)),
                        ),
                    );
                }
            } else {
                let w_s = state.columns.len() as f64 * FRAME_S;
                let t0 = state.first_column as f64 * FRAME_S;
                plot_ui.image(PlotImage::new(
                    "",
                    texture.id(),
                    PlotPoint::new(t0 + w_s / 2.0, y_mid),
                    [w_s as f32, N_MELS as f32],
                ));
                if let Some(t) = state.playback_s {
                    plot_ui.vline(super::panels::playback_cursor(t));
                }
            }
        });
        response.transform
    }
}

/// An image of columns (time left to right), the highest band at the top.
fn column_image(columns: &[[f32; N_MELS]]) -> ColorImage {
    let width = columns.len();
    let mut pixels = vec![Color32::BLACK; width * N_MELS];
    for (x, column) in columns.iter().enumerate() {
        for (band, &db) in column.iter().enumerate() {
            let [r, g, b] = db_rgb(db);
            pixels[(N_MELS - 1 - band) * width + x] = Color32::from_rgb(r, g, b);
        }
    }
    ColorImage::new([width, N_MELS], pixels)
}

/// The centre frequency of (fractional) mel band `band`, as the filter bank spaces them.
fn band_hz(band: f64) -> f64 {
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(f64::from(SAMPLE_RATE) / 2.0));
    mel_to_hz(lo + (band + 1.0) * (hi - lo) / (N_MELS as f64 + 1.0))
}

fn format_hz(hz: f64) -> String {
    if hz >= 1000.0 {
        format!("{:.1} kHz", hz / 1000.0)
    } else {
        format!("{:.0} Hz", hz.max(0.0))
    }
}
