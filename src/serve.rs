//! The HTTP API (`emovox serve`): `POST /predict` with an audio file → the emotion, as
//! `emovox predict --json` reports it; `GET /health`; `GET /model` (the model card).
//!
//! The async executor only moves bytes. Decoding and the model run on a fixed set of
//! worker threads (one per core), so a burst of requests queues for the CPU instead of
//! starving the executor. Every limit answers with a status code and a JSON error:
//! body size (413), audio length (413), a body that arrives too slowly (408), too many
//! requests at once (503), audio that cannot be decoded (400).

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::BodyExt;
use serde::Deserialize;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use crate::audio::{decode_bytes_limited, DecodeError};
use crate::dsp::StreamingExtractor;
use crate::model::Classifier;
use crate::predict::{analyse, AnalysisJson, FileAnalysis};

#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Longest audio analysed, in seconds.
    pub max_audio_s: f64,
    /// How long a request may take, from its arrival to its answer.
    pub timeout: Duration,
    /// Requests handled at once (reading, queued or analysed); more get 503.
    pub max_in_flight: usize,
    /// Threads that decode and run the model.
    pub workers: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 25 * 1024 * 1024,
            max_audio_s: 600.0,
            timeout: Duration::from_secs(30),
            max_in_flight: 64,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// An error answer: the status and `{"error": message}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({ "error": self.message }));
        let mut response = (self.status, body).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        response
    }
}

struct Shared {
    model: Arc<Classifier>,
    config: ServeConfig,
    jobs: crossbeam_channel::Sender<Job>,
    in_flight: Arc<Semaphore>,
}

/// Audio to analyse on a worker thread, and where the answer goes.
struct Job {
    bytes: Vec<u8>,
    name: String,
    reply: oneshot::Sender<Result<FileAnalysis, ApiError>>,
    /// The request's place among those in flight, given back when the work is done,
    /// not when the client stops waiting: a client that hangs up does not make room
    /// for more work than the workers can do.
    _permit: OwnedSemaphorePermit,
}

/// The routes, with the model loaded once and shared by every request.
pub fn router(model: Arc<Classifier>, config: ServeConfig) -> std::io::Result<Router> {
    let jobs = start_workers(&model, &config)?;
    let shared = Arc::new(Shared {
        model,
        in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
        config: config.clone(),
        jobs,
    });
    Ok(Router::new()
        .route("/predict", post(predict))
        .route("/health", get(health))
        .route("/model", get(model_card))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Raw bodies are counted by `read_audio`; multipart reads obey this layer.
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .with_state(shared))
}

/// Plain threads, each with its own feature extractor, taking jobs from one queue (the
/// semaphore bounds it). Not a rayon pool: the model's matrix products use rayon, and a
/// rayon worker waiting on them would steal a second request's job on the same thread.
fn start_workers(
    model: &Arc<Classifier>,
    config: &ServeConfig,
) -> std::io::Result<crossbeam_channel::Sender<Job>> {
    let (tx, rx) = crossbeam_channel::unbounded::<Job>();
    for i in 0..config.workers.max(1) {
        let (rx, model, max_audio_s) = (rx.clone(), Arc::clone(model), config.max_audio_s);
        std::thread::Builder::new()
            .name(format!("emovox-serve-{i}"))
            .spawn(move || {
                let mut extractor = StreamingExtractor::new();
                for job in rx {
                    // Its client has gone (hung up or timed out): nobody needs the work.
                    if job.reply.is_closed() {
                        continue;
                    }
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        analyse_bytes(&model, &mut extractor, &job.bytes, &job.name, max_audio_s)
                    }))
                    .unwrap_or_else(|_| {
                        // Whatever state the extractor was left in, start clean.
                        extractor = StreamingExtractor::new();
                        Err(ApiError::new(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "the analysis failed unexpectedly",
                        ))
                    });
                    // The client may have gone; then nobody needs the answer.
                    let _ = job.reply.send(result);
                }
            })?;
    }
    Ok(tx)
}

/// Serves `router` on `listener` until `shutdown` completes; requests in progress finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

#[derive(Deserialize)]
struct PredictQuery {
    #[serde(default)]
    timeline: bool,
}

async fn predict(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<PredictQuery>, axum::extract::rejection::QueryRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let permit = Arc::clone(&shared.in_flight)
        .try_acquire_owned()
        .map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is busy: too many requests at once; try again shortly",
            )
        })?;
    let started = Instant::now();
    let deadline = shared.config.timeout;
    let (bytes, name) = tokio::time::timeout(deadline, read_audio(&shared, request))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {} s",
                    deadline.as_secs_f64()
                ),
            )
        })??;
    if bytes.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "the request has no audio: send the file as the body, or as the form field \"file\"",
        ));
    }
    let (reply, rx) = oneshot::channel();
    shared
        .jobs
        .send(Job {
            bytes,
            name,
            reply,
            _permit: permit,
        })
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "no worker is running"))?;
    let remaining = deadline.saturating_sub(started.elapsed());
    let analysis = tokio::time::timeout(remaining, rx)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the analysis did not finish within {} s; the server is overloaded",
                    deadline.as_secs_f64()
                ),
            )
        })?
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the analysis was lost"))??;
    let json = AnalysisJson {
        path: None,
        analysis: &analysis,
        timeline: query.timeline,
        model: Some(&shared.model.card().name),
    };
    // Serialised here rather than through `Json(Value)`, which would sort the keys.
    let body = serde_json::to_vec(&json)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The audio bytes and a name for them: the body itself, or the multipart field `file`
/// (whose file name then hints the format).
async fn read_audio(shared: &Shared, request: Request) -> Result<(Vec<u8>, String), ApiError> {
    let limit = shared.config.max_body_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than the {limit} byte limit"),
        )
    };
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if let Some(length) = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
    {
        if length > limit as u64 {
            return Err(too_large());
        }
    }
    if multipart {
        let mut form = Multipart::from_request(request, &())
            .await
            .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| ApiError::new(e.status(), e.body_text()))?
        {
            if field.name() == Some("file") {
                let name = field.file_name().unwrap_or("the uploaded file").to_owned();
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
                return Ok((bytes.to_vec(), name));
            }
        }
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "the form has no field named \"file\"",
        ));
    }
    let mut body = request.into_body();
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("the request body could not be read: {e}"),
            )
        })?;
        if let Some(data) = frame.data_ref() {
            if bytes.len() + data.len() > limit {
                return Err(too_large());
            }
            bytes.extend_from_slice(data);
        }
    }
    Ok((bytes, "the request body".to_owned()))
}

/// Decodes and analyses on a worker thread.
fn analyse_bytes(
    model: &Classifier,
    extractor: &mut StreamingExtractor,
    bytes: &[u8],
    name: &str,
    max_audio_s: f64,
) -> Result<FileAnalysis, ApiError> {
    let too_long = |seconds: String| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the audio is {seconds} long; this server analyses at most {max_audio_s:.0} s"),
        )
    };
    // The decoder stops at the limit (rounded up to whole seconds) instead of expanding a
    // small compressed file into hours of samples first.
    let decoded = decode_bytes_limited(bytes, Path::new(name), max_audio_s.ceil() as u64).map_err(
        |e| match e {
            DecodeError::TooLong { .. } => too_long("more than that".into()),
            e => ApiError::new(StatusCode::BAD_REQUEST, e.to_string()),
        },
    )?;
    if decoded.seconds() > max_audio_s {
        return Err(too_long(format!("{:.1} s", decoded.seconds())));
    }
    analyse(model, extractor, &decoded.samples)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

async fn health(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "ok",
        "model": shared.model.card().name,
        "in_flight": shared
            .config
            .max_in_flight
            .max(1)
            .saturating_sub(shared.in_flight.available_permits()),
    }))
}

async fn model_card(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.model.card()).into_response()
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such endpoint: POST /predict, GET /health and GET /model exist",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "wrong method: POST /predict, GET /health and GET /model",
    )
}
