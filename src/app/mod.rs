//! The desktop app (eframe/egui): the only module that knows egui. `logic` drains the
//! engine's events into [`AppState`]; `ui` draws it. Features and the model never run on
//! this thread.

pub mod colors;
pub mod export;
pub mod file_dialog;
pub mod help;
mod model_panel;
mod panels;
mod player;
mod recording;
mod remember;
mod session_panel;
pub mod settings;
mod spectrogram;
pub mod state;
pub mod tuning;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eframe::egui;

use crate::audio::capture::{input_devices, DeviceChoice, DeviceInfo};
use crate::engine::{Engine, EngineConfig, Source};
use crate::labels::Emotion;
use crate::model::classifier::ModelSource;
use crate::model::personal::{self, PersonalModel};
use crate::model::tune::{TuneRecipe, TuneRequest};
use crate::model::Classifier;
use crate::newest_writer::NewestWriter;
use crate::session::{self, Autosaver, Session, SessionError};
use model_panel::TuneAction;
pub use panels::Action;
use session_panel::SessionsAction;
use settings::{SavedInput, SavedModel, Settings};
use spectrogram::SpectrogramTexture;
pub use state::{Activity, AppState, Reading, Recording, View};
pub use tuning::{TunePanel, TuneStatus};

/// Events taken per frame at most, so a burst (a fast file analysis) cannot stall drawing.
const MAX_EVENTS_PER_FRAME: usize = 20_000;
/// Redraw rate while something runs.
const REFRESH: Duration = Duration::from_millis(33);
/// The plots' y-axis width before the first frame has measured what their labels need.
const INITIAL_AXIS_WIDTH: f32 = 60.0;
/// Changed settings are written at most this often (a window being resized changes them
/// every frame), and when the app closes.
const SETTINGS_SAVE: Duration = Duration::from_secs(1);
/// A session with changes is saved this often (and when its recording stops).
const AUTOSAVE: Duration = Duration::from_secs(2);

/// How the app starts.
#[derive(Clone, Debug, Default)]
pub struct AppOptions {
    /// A file to analyse at once (`emovox FILE`).
    pub open: Option<PathBuf>,
    /// A file that stands in for the microphone (demos, tests, machines without one),
    /// replayed at `replay_speed` × real time (0: as fast as the engine takes it).
    pub replay: Option<PathBuf>,
    pub replay_speed: f64,
    /// Start listening at once.
    pub listen: bool,
    /// Where sessions are recorded [default: `session::default_root()`].
    pub sessions: Option<PathBuf>,
    /// Where the classifier given to the app came from [default: the built-in model].
    pub model: Option<ModelSource>,
    /// Where personal models are kept [default: `model::personal::default_root()`].
    pub models: Option<PathBuf>,
    /// How "Tune to my voice" tunes (the defaults; tests make it quick).
    pub tune_recipe: TuneRecipe,
    /// The settings file to remember choices in [`emovox` itself: `settings::default_path()`;
    /// `None`: nothing is read or remembered, as in tests that do not ask for it].
    pub settings: Option<PathBuf>,
    /// A stand-in for the input devices the sound system lists (tests).
    pub devices: Option<Vec<DeviceInfo>>,
}

pub struct EmovoxApp {
    pub state: AppState,
    classifier: Arc<Classifier>,
    /// The model in use: what listening and file analysis run, what tuning starts from.
    pub model: ModelSource,
    /// Where personal models are kept, and those found there when last looked.
    pub models_root: PathBuf,
    pub models: Vec<PersonalModel>,
    /// "Tune to my voice" in the Sessions window.
    pub tune: TunePanel,
    options: AppOptions,
    engine: Option<Engine>,
    spectrogram: SpectrogramTexture,
    /// The path typed into File → Open, while that window is open.
    open_path: Option<String>,
    /// File → Open's native dialog (Browse…), on a thread of its own.
    pub file_dialogs: file_dialog::FileDialogs,
    autosaver: Autosaver,
    last_save: Instant,
    pub sessions_root: PathBuf,
    /// The sessions folder as typed in the Sessions window, and why the last one typed
    /// could not be used.
    sessions_root_text: String,
    sessions_root_problem: Option<String>,
    sessions_open: bool,
    sessions_list: Vec<(PathBuf, Result<Session, SessionError>)>,
    player: player::Player,
    /// A drag on the timeline in progress: (start, latest), stream seconds.
    drag: Option<(f64, f64)>,
    /// Where the timeline and the spectrogram were drawn in the last frame (tests aim
    /// their drags with them, and check that the two share their time axis).
    pub timeline_transform: Option<egui_plot::PlotTransform>,
    pub spectrogram_transform: Option<egui_plot::PlotTransform>,
    /// The help window (`?` or F1) is open.
    pub help_open: bool,
    /// The Export window, while it is open.
    pub export: Option<export::ExportPanel>,
    /// The width both plots give their y axes, so their time axes line up.
    time_axis_width: f32,
    /// The `AppState::view_serial` of the view last drawn.
    drawn_view: Option<u64>,
    /// What is remembered across runs (see `settings`): as last written, and the choices
    /// made since. Written on its own thread by `settings_writer` (a `NewestWriter`);
    /// `settings_sent` is the newest asked of it and not yet known written.
    saved_settings: Settings,
    settings_sent: Option<Settings>,
    settings_writer: NewestWriter<Settings>,
    settings_checked: Instant,
    settings_write_failed: bool,
    remembered_input: Option<SavedInput>,
    /// The input picked when last looked, to notice the user picking another.
    picked_device: Option<usize>,
    remembered_sessions: Option<PathBuf>,
    remembered_model: Option<SavedModel>,
    window_size: Option<[f32; 2]>,
    /// The folder the last file was opened from: File → Open starts there.
    pub open_folder: Option<PathBuf>,
    /// The files opened last, the most recent first: File → Open lists them.
    pub recent_files: Vec<PathBuf>,
    /// Time the last frame's `logic` and `ui` took, for the frame-time benchmark.
    pub last_logic_time: Duration,
    pub last_ui_time: Duration,
}

impl EmovoxApp {
    pub fn new(classifier: Arc<Classifier>, options: AppOptions) -> Self {
        let card = classifier.card();
        let mut state = AppState::new(
            card.name.clone(),
            card.validation.as_ref().map(|v| v.macro_f1),
        );
        refresh_devices(&mut state, &options);
        let (saved, settings_problem) = match &options.settings {
            Some(path) => Settings::load(path),
            None => (Settings::default(), None),
        };
        if let Some(problem) = settings_problem {
            state.error(problem);
        }
        let models_root = options
            .models
            .clone()
            .unwrap_or_else(personal::default_root);
        let mut app = Self {
            state,
            classifier,
            model: options.model.clone().unwrap_or(ModelSource::Shipped),
            models: personal::list(&models_root),
            models_root,
            tune: TunePanel::default(),
            options: options.clone(),
            engine: None,
            spectrogram: SpectrogramTexture::default(),
            open_path: None,
            file_dialogs: file_dialog::FileDialogs::default(),
            autosaver: Autosaver::new(),
            last_save: Instant::now(),
            sessions_root: PathBuf::new(),
            sessions_root_text: String::new(),
            sessions_root_problem: None,
            sessions_open: false,
            sessions_list: Vec::new(),
            player: player::Player::Idle,
            drag: None,
            timeline_transform: None,
            spectrogram_transform: None,
            help_open: false,
            export: None,
            time_axis_width: INITIAL_AXIS_WIDTH,
            drawn_view: None,
            saved_settings: saved.clone(),
            settings_sent: None,
            settings_writer: remember::settings_writer(),
            settings_checked: Instant::now(),
            settings_write_failed: false,
            remembered_input: saved.input.clone(),
            picked_device: None,
            remembered_sessions: saved.sessions.clone(),
            remembered_model: saved.model.clone(),
            window_size: saved.window_size,
            open_folder: saved.open_folder.clone(),
            recent_files: saved.recent_files.clone(),
            last_logic_time: Duration::ZERO,
            last_ui_time: Duration::ZERO,
        };
        app.restore_input();
        // The command line and $EMOVOX_SESSIONS win over the folder remembered.
        app.set_sessions_root(
            options
                .sessions
                .clone()
                .or_else(|| std::env::var_os("EMOVOX_SESSIONS").map(PathBuf::from))
                .or(saved.sessions)
                .unwrap_or_else(session::default_root),
        );
        // So does a model named by --weights or $EMOVOX_WEIGHTS (a folder); a remembered
        // model that cannot be loaded is a message, and the built-in one stays.
        if let (Some(saved), ModelSource::Shipped) = (&saved.model, &app.model) {
            let source = ModelSource::from(saved);
            if source != app.model {
                app.use_model(source);
            }
        }
        if let Some(path) = options.open {
            app.open_file(path);
        } else if options.listen {
            app.listen();
        }
        app
    }

    /// Starts listening to the chosen input (or the stand-in file).
    pub fn listen(&mut self) {
        self.stop_playback();
        self.state.play_from_s = 0.0;
        self.stop();
        self.close_session();
        let source = match &self.options.replay {
            Some(path) => Source::Replay {
                path: path.clone(),
                speed: self.options.replay_speed,
            },
            None => Source::Microphone(match self.state.device {
                Some(i) => DeviceChoice::Index(i),
                None => DeviceChoice::Default,
            }),
        };
        let name = match &source {
            Source::Replay { path, .. } => format!("{} (file as microphone)", path.display()),
            _ => "microphone".to_owned(),
        };
        match Engine::start(
            source,
            Arc::clone(&self.classifier),
            EngineConfig::default(),
        ) {
            Ok(engine) => {
                self.state.audio_problem = None;
                self.state.begin(View::Live { source: name });
                self.engine = Some(engine);
            }
            Err(e) => self.state.audio_problem = Some(e.to_string()),
        }
    }

    /// Analyses a file on the engine's worker.
    pub fn open_file(&mut self, path: PathBuf) {
        self.stop_playback();
        self.state.play_from_s = 0.0;
        self.stop();
        self.close_session();
        self.analyse(path.clone());
        // Only a file that opened is remembered: a mistyped path is not a recent file.
        if self.engine.is_none() || !path.is_file() {
            return;
        }
        if let Ok(absolute) = std::path::absolute(&path) {
            if let Some(folder) = absolute.parent() {
                self.open_folder = Some(folder.to_path_buf());
            }
            settings::remember_recent(&mut self.recent_files, absolute);
        }
    }

    fn analyse(&mut self, path: PathBuf) {
        match Engine::start(
            Source::File(path.clone()),
            Arc::clone(&self.classifier),
            EngineConfig::default(),
        ) {
            Ok(engine) => {
                self.state.begin(View::File { path });
                self.engine = Some(engine);
            }
            Err(e) => self.state.error(e.to_string()),
        }
    }

    /// Plays the file on screen from where the last playback stopped.
    pub fn play(&mut self) {
        if let View::File { path } = &self.state.view {
            self.player = player::Player::start(path.clone(), self.state.play_from_s);
            self.state.playback_s = Some(self.state.play_from_s);
        }
    }

    /// Stops playback, keeping the cursor's place for the next Play.
    pub fn stop_playback(&mut self) {
        if let Some(at) = self.player.stop() {
            self.state.play_from_s = at;
        }
        self.state.playback_s = None;
    }

    /// The cursor follows the playback; its end or failure is shown.
    fn follow_playback(&mut self) {
        match self.player.update() {
            player::PlayerUpdate::Cursor(t) => self.state.playback_s = Some(t),
            player::PlayerUpdate::Ended => {
                self.state.playback_s = None;
                self.state.play_from_s = 0.0;
            }
            player::PlayerUpdate::Failed(e) => {
                self.state.playback_s = None;
                self.state.error(format!("cannot play the file: {e}"));
            }
            player::PlayerUpdate::Idle => {}
        }
    }

    /// Stops what runs; what it showed stays on screen.
    pub fn stop(&mut self) {
        if let Some(engine) = self.engine.take() {
            engine.stop();
            // Take what it sent up to its end, so the view shows the run's summary.
            let deadline = Instant::now() + Duration::from_secs(2);
            while let Ok(event) = engine.events().recv_deadline(deadline) {
                let finished = matches!(event, crate::engine::Event::Finished(_));
                self.state.apply(event);
                if finished {
                    break;
                }
            }
        }
        if self.state.is_running() {
            self.state.activity = Activity::Finished;
        }
    }

    /// Listens and analyses with the model `source` names from now on: a live stream
    /// restarts with it, and a file on screen is analysed again. A model that cannot be
    /// loaded is a message; the one in use stays. Not while recording (the session names
    /// its model).
    pub fn use_model(&mut self, source: ModelSource) {
        if self.state.recording.as_ref().is_some_and(|r| r.active) {
            self.state
                .error("Stop recording before changing the model.".into());
            return;
        }
        let classifier = match Classifier::open(&source) {
            Ok(c) => Arc::new(c),
            Err(e) => return self.state.error(format!("cannot use that model: {e}")),
        };
        let card = classifier.card();
        self.state.model_name = card.name.clone();
        self.state.model_f1 = card.validation.as_ref().map(|v| v.macro_f1);
        self.classifier = classifier;
        self.remembered_model = Some(SavedModel::from(&source));
        self.model = source;
        let live = self.state.is_live() && self.state.is_running();
        match self.state.view.clone() {
            View::Live { .. } if live => self.listen(),
            View::File { path } => {
                self.stop();
                self.analyse(path);
            }
            _ => {}
        }
    }

    /// Looks for personal models again.
    pub fn refresh_models(&mut self) {
        self.models = personal::list(&self.models_root);
    }

    /// Starts tuning the model in use on the ticked sessions, into a new personal model
    /// named as typed (or by the date and time).
    pub fn start_tuning(&mut self) {
        if self.tune.chosen.is_empty() {
            self.tune.problem = Some("Tick at least one session to tune on.".into());
            return;
        }
        let typed = self.tune.name.trim();
        let name = if typed.is_empty() {
            personal::new_name()
        } else {
            typed.to_owned()
        };
        if let Err(reason) = personal::check_name(&name) {
            self.tune.problem = Some(reason);
            return;
        }
        let out = self.models_root.join(&name);
        if out.exists() {
            self.tune.problem = Some(format!(
                "A model named \"{name}\" already exists ({}); type another name.",
                out.display()
            ));
            return;
        }
        let mut request = TuneRequest::new(self.model.clone(), self.tune.chosen.clone(), out);
        request.recipe = self.options.tune_recipe.clone();
        self.tune.start(request);
    }

    /// Takes the tuning thread's news; a finished tuning's model joins the picker.
    fn poll_tuning(&mut self) {
        if self.tune.poll().is_some() {
            self.tune.name.clear();
            self.refresh_models();
        }
    }

    fn device_info(&self, index: usize) -> Option<&DeviceInfo> {
        self.state.devices.iter().find(|d| d.index == index)
    }

    /// Takes the engine's events into the state (called every frame).
    pub fn drain_events(&mut self) {
        let Some(engine) = &self.engine else {
            return;
        };
        for event in engine.events().try_iter().take(MAX_EVENTS_PER_FRAME) {
            self.state.apply(event);
        }
        if !self.state.is_running() {
            self.engine = None;
        }
    }

    /// The Export window, and the export asked for in it.
    fn export_ui(&mut self, ctx: &egui::Context) {
        let Some(panel) = &mut self.export else {
            return;
        };
        let View::File { path } = &self.state.view else {
            self.export = None;
            return;
        };
        // A session's labels and predictions are exported once it is no longer recording.
        let session = self.state.recording.as_ref().filter(|r| !r.active);
        let file = !self.state.is_running();
        let mut open = true;
        if let Some(kind) = export::export_window_ui(ctx, &mut open, panel, file, session.is_some())
        {
            let name = match session {
                Some(rec) => rec.dir.file_name(),
                None => path.file_stem(),
            }
            .map_or_else(|| "emovox".to_owned(), |n| n.to_string_lossy().into_owned());
            panel.start(
                kind,
                export::ExportSource {
                    audio: path.clone(),
                    name,
                    classifier: Arc::clone(&self.classifier),
                    session: session.map(|r| r.session.clone()),
                    picture: (kind == export::ExportKind::Picture)
                        .then(|| export::picture(&self.state))
                        .flatten(),
                },
            );
        }
        if !open {
            self.export = None;
        }
    }

    /// Carries out what the user asked for, in the order it was asked.
    fn act(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::RefreshDevices => {
                    let picked = self
                        .picked_device
                        .and_then(|i| self.device_info(i))
                        .cloned();
                    refresh_devices(&mut self.state, &self.options);
                    // The same device, wherever it now is in the list.
                    self.state.device = picked.and_then(|d| {
                        self.state
                            .devices
                            .iter()
                            .find(|n| n.id == d.id)
                            .map(|n| n.index)
                    });
                    self.picked_device = self.state.device;
                }
                Action::Stop => self.stop(),
                Action::Listen => self.listen(),
                Action::Open(path) => self.open_file(path),
                Action::Browse => {
                    let start = self.open_folder.clone();
                    self.file_dialogs
                        .browse(file_dialog::Purpose::OpenFile, start.as_deref());
                }
                Action::Record => self.record(),
                Action::StopRecording => self.stop_recording(),
                Action::NewVoice => {
                    if let Some(engine) = &self.engine {
                        engine.command(crate::engine::Command::NewVoice);
                    }
                }
                Action::Reopen(dir) => self.open_session(dir),
                Action::Play => self.play(),
                Action::StopPlayback => self.stop_playback(),
                Action::UseSessionsFolder(dir) => self.use_sessions_folder(dir),
                Action::ShowSessions => {
                    self.refresh_models();
                    self.sessions_list = session::list(&self.sessions_root);
                    self.sessions_open = true;
                }
                Action::UseModel(source) => self.use_model(source),
                Action::ToggleHelp => self.help_open = !self.help_open,
                Action::ShowExport => {
                    let folder = match (&self.state.recording, &self.state.view) {
                        (Some(rec), _) => Some(rec.dir.clone()),
                        (None, View::File { path }) => std::path::absolute(path)
                            .ok()
                            .and_then(|p| p.parent().map(Path::to_path_buf)),
                        _ => None,
                    };
                    self.export = Some(export::ExportPanel::new(
                        folder.as_deref().unwrap_or(Path::new("")),
                    ));
                }
            }
        }
    }
}

fn refresh_devices(state: &mut AppState, options: &AppOptions) {
    if options.replay.is_some() {
        state.devices.clear();
        return;
    }
    if let Some(devices) = &options.devices {
        state.devices = devices.clone();
        return;
    }
    match input_devices() {
        Ok(devices) => {
            state.devices = devices;
            state.audio_problem = None;
        }
        Err(e) => {
            state.devices.clear();
            state.audio_problem = Some(e.to_string());
        }
    }
}

impl eframe::App for EmovoxApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        let started = Instant::now();
        self.drain_events();
        self.follow_playback();
        self.autosave();
        self.poll_tuning();
        if let Some(panel) = &mut self.export {
            panel.poll();
        }
        if let Some((file_dialog::Purpose::OpenFile, path)) = self.file_dialogs.poll() {
            self.open_path = None;
            self.open_file(path);
        }
        if let Some(rect) = ctx.input(|i| i.viewport().inner_rect) {
            self.window_size = Some([rect.width(), rect.height()]);
        }
        if self.settings_checked.elapsed() >= SETTINGS_SAVE {
            self.queue_settings();
        }
        if self.settings_sent.is_some() || self.settings_write_failed {
            // A write's outcome to take in, or a failed one to try again: even when idle.
            ctx.request_repaint_after(SETTINGS_SAVE);
        }
        self.spectrogram.update(ctx, &self.state);
        if self.state.is_running()
            || self.player.is_active()
            || self.tune.is_running()
            || self.export.as_ref().is_some_and(|e| e.is_running())
            || self.file_dialogs.is_open()
        {
            ctx.request_repaint_after(REFRESH);
        }
        self.last_logic_time = started.elapsed();
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let started = Instant::now();
        let dropped: Vec<PathBuf> = ui.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        if help::toggled(ui.ctx()) {
            self.help_open = !self.help_open;
        }
        if self.state.recording.as_ref().is_some_and(|r| r.active) {
            let keys = [
                egui::Key::Num1,
                egui::Key::Num2,
                egui::Key::Num3,
                egui::Key::Num4,
                egui::Key::Num5,
                egui::Key::Num6,
                egui::Key::Num7,
                egui::Key::Num8,
            ];
            for (key, emotion) in keys.into_iter().zip(Emotion::ALL) {
                if ui.input(|i| i.key_pressed(key)) {
                    self.state.mark_now(emotion);
                }
            }
        }
        let mut actions = Vec::new();
        egui::Panel::top("top").show(ui, |ui| {
            let models = panels::ModelsView {
                in_use: &self.model,
                personal: &self.models,
                root: &self.models_root,
            };
            actions = panels::top_bar_ui(
                ui,
                &mut self.state,
                &mut self.open_path,
                self.open_folder.as_deref(),
                &self.recent_files,
                &models,
                &self.file_dialogs,
            );
        });
        egui::Panel::bottom("status").show(ui, |ui| {
            actions.extend(panels::status_ui(ui, &self.state));
        });
        egui::Panel::right("emotion")
            .exact_size(290.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("right")
                    .show(ui, |ui| {
                        panels::emotion_ui(ui, &self.state);
                        session_panel::labels_ui(ui, &mut self.state);
                    });
            });
        egui::CentralPanel::default().show(ui, |ui| {
            let height = (ui.available_height() - 8.0).max(200.0);
            let left = ui.max_rect().left();
            let new_view = self.drawn_view != Some(self.state.view_serial);
            self.drawn_view = Some(self.state.view_serial);
            let spectrogram = self.spectrogram.ui(
                ui,
                &self.state,
                height * 0.5,
                self.time_axis_width,
                new_view,
            );
            let timeline = panels::timeline_ui(
                ui,
                &self.state,
                height * 0.5,
                &mut self.drag,
                self.time_axis_width,
                new_view,
            );
            self.time_axis_width = panels::shared_axis_width(
                self.time_axis_width,
                [&spectrogram, &timeline.transform].map(|t| t.frame().left() - left),
            );
            self.spectrogram_transform = Some(spectrogram);
            self.timeline_transform = Some(timeline.transform);
            if let Some((a, b)) = timeline.label {
                let t0 = self.state.recording.as_ref().map_or(0.0, |r| r.stream_t0);
                let choice = self.state.label_choice;
                self.state.add_label(a - t0, b - t0, choice);
            }
        });
        if self.sessions_open {
            let mut open = true;
            let start = model_panel::short_name(&self.model);
            match session_panel::sessions_window_ui(
                ui.ctx(),
                &mut open,
                &mut self.sessions_root_text,
                self.sessions_root_problem.as_deref(),
                &self.sessions_list,
                &mut self.tune,
                &start,
            ) {
                Some(SessionsAction::Reopen(dir)) => {
                    actions.push(Action::Reopen(dir));
                    open = false;
                }
                Some(SessionsAction::UseFolder(dir)) => {
                    actions.push(Action::UseSessionsFolder(dir))
                }
                Some(SessionsAction::Tune(TuneAction::Tune)) => self.start_tuning(),
                Some(SessionsAction::Tune(TuneAction::Cancel)) => self.tune.cancel(),
                Some(SessionsAction::Tune(TuneAction::Use(dir))) => {
                    actions.push(Action::UseModel(ModelSource::Folder(dir)))
                }
                None => {}
            }
            self.sessions_open = open;
        }
        if self.help_open {
            egui::Window::new("Help")
                .open(&mut self.help_open)
                .collapsible(false)
                .default_width(620.0)
                .show(ui.ctx(), help::help_ui);
        }
        self.export_ui(ui.ctx());
        if let Some(path) = dropped.into_iter().next() {
            actions.push(Action::Open(path));
        }
        self.act(actions);
        self.last_ui_time = started.elapsed();
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.flush_saves();
        self.save_settings();
    }
}

/// The spectrogram and the timeline share their time axis: zooming one zooms both.
fn time_axis() -> egui::Id {
    egui::Id::unique("emovox-time-axis")
}

/// Opens the main window and runs until it is closed.
pub fn run(classifier: Arc<Classifier>, options: AppOptions) -> anyhow::Result<()> {
    // The window opens at the size it had (the app reads the file again, and reports a
    // bad one, once it runs).
    // Read without side effects: the app moves a bad file aside and says so.
    let size = settings::window_size(
        options
            .settings
            .as_deref()
            .and_then(|path| Settings::read(path).ok())
            .and_then(|s| s.window_size),
    );
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("emovox")
            .with_inner_size(size)
            .with_min_inner_size([800.0, 500.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "emovox",
        native,
        Box::new(move |_cc| Ok(Box::new(EmovoxApp::new(classifier, options)))),
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "cannot open the window ({e}); is there a display? The command-line tools \
             work without one: `emovox --help`"
        )
    })
}
