//! The HTTP face: the page (one embedded HTML file) and its JSON, PNG and event-stream API.
//!
//! Keys travel as hex (`id=`), so that any binary key can be named. Errors come back as
//! `{"error": "..."}` with a status that says what kind (404 no key, 413 too large, 422 not
//! readable as asked, 503 server unreachable), and the page shows the text.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::Stream;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::colormap::Cmap;
use crate::render::{self, Options, Reduce, Scale};
use crate::store::{hex, unhex, Store, ViewError};

/// The page: HTML, CSS and script in one file, no build step and nothing fetched from elsewhere.
const PAGE: &str = include_str!("page.html");

type Params = Query<HashMap<String, String>>;

impl IntoResponse for ViewError {
    fn into_response(self) -> Response {
        let status = match &self {
            ViewError::NotFound(_) => StatusCode::NOT_FOUND,
            ViewError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ViewError::Unreadable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ViewError::Down(_) => StatusCode::SERVICE_UNAVAILABLE,
            ViewError::Other(_) => StatusCode::BAD_GATEWAY,
        };
        (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}

type Res<T> = Result<T, ViewError>;

/// The routes over `store`.
pub fn router(store: Arc<Store>) -> Router {
    Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/api/server", get(server))
        .route("/api/keys", get(keys))
        .route("/api/key", get(key))
        .route("/api/image", get(image))
        .route("/api/series", get(series))
        .route("/api/bundle", get(bundle))
        .route("/api/string", get(string))
        .route("/api/items", get(items))
        .route("/api/watch", get(watch))
        .route("/api/channel", get(channel))
        .with_state(store)
}

fn arg<T: std::str::FromStr>(q: &HashMap<String, String>, name: &str) -> Res<Option<T>> {
    match q.get(name).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| ViewError::Unreadable(format!("bad {name}={s:?}"))),
    }
}

fn key_arg(q: &HashMap<String, String>) -> Res<Vec<u8>> {
    let id = q
        .get("id")
        .ok_or_else(|| ViewError::Unreadable("id= (the key in hex) is missing".into()))?;
    unhex(id).ok_or_else(|| ViewError::Unreadable(format!("id={id:?} is not hex")))
}

/// The URL with its password replaced by `***`.
pub fn masked(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let cred = &url[s + 3..at];
            match cred.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[derive(Serialize)]
struct ServerInfo {
    url: String,
    db: i64,
    up: bool,
    error: Option<String>,
    server: String,
    version: String,
    notify: String,
    keys: u64,
}

async fn server(State(s): State<Arc<Store>>) -> Json<ServerInfo> {
    let url = s.target.nodes.join(",");
    let mut info = ServerInfo {
        url: masked(&url),
        db: crate::live::db_of(&url),
        up: false,
        error: None,
        server: String::new(),
        version: String::new(),
        notify: String::new(),
        keys: 0,
    };
    let r = s
        .with(|mut c| async move {
            let text: String = c.query(redis::cmd("INFO").arg("server")).await?;
            let cfg: Vec<String> = c
                .query(
                    redis::cmd("CONFIG")
                        .arg("GET")
                        .arg("notify-keyspace-events"),
                )
                .await
                .unwrap_or_default();
            let n: u64 = c.query(&redis::cmd("DBSIZE")).await?;
            Ok((text, cfg, n))
        })
        .await;
    match r {
        Ok((text, cfg, n)) => {
            let field = |name: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                    .map(|v| v.trim().to_string())
            };
            (info.server, info.version) = match field("respd_version") {
                Some(v) => ("respd".into(), v),
                None => ("redis".into(), field("redis_version").unwrap_or_default()),
            };
            info.notify = cfg.get(1).cloned().unwrap_or_default();
            info.keys = n;
            info.up = true;
        }
        Err(e) => info.error = Some(e.to_string()),
    }
    Json(info)
}

async fn keys(State(s): State<Arc<Store>>, Query(q): Params) -> Res<impl IntoResponse> {
    let prefix = q.get("prefix").cloned().unwrap_or_default();
    let cursor = arg(&q, "cursor")?.unwrap_or(0u64);
    let count = arg(&q, "count")?.unwrap_or(500usize).clamp(1, 5000);
    Ok(Json(s.list(prefix.as_bytes(), cursor, count).await?))
}

async fn key(State(s): State<Arc<Store>>, Query(q): Params) -> Res<impl IntoResponse> {
    Ok(Json(s.key(&key_arg(&q)?).await?))
}

fn options(q: &HashMap<String, String>) -> Res<Options> {
    let mut o = Options::default();
    if let Some(c) = q.get("cmap") {
        o.cmap = Cmap::from_name(c)
            .ok_or_else(|| ViewError::Unreadable(format!("no colour map {c:?}")))?;
    }
    o.scale = match q.get("scale").map(String::as_str) {
        None | Some("linear") => Scale::Linear,
        Some("log") => Scale::Log,
        Some(x) => {
            return Err(ViewError::Unreadable(format!(
                "scale is linear or log, not {x:?}"
            )))
        }
    };
    o.reduce = match q.get("reduce").map(String::as_str) {
        None | Some("mean") => Reduce::Mean,
        Some("max") => Reduce::Max,
        Some(x) => {
            return Err(ViewError::Unreadable(format!(
                "reduce is mean or max, not {x:?}"
            )))
        }
    };
    o.max_side = arg(q, "max")?.unwrap_or(1024usize).clamp(1, 8192);
    o.vmin = arg(q, "vmin")?;
    o.vmax = arg(q, "vmax")?;
    if let Some(roi) = q.get("roi").filter(|s| !s.is_empty()) {
        let v: Vec<usize> = roi.split(',').filter_map(|x| x.parse().ok()).collect();
        let [r0, r1, c0, c1] = v[..] else {
            return Err(ViewError::Unreadable(format!(
                "roi is r0,r1,c0,c1, not {roi:?}"
            )));
        };
        o.roi = Some([r0, r1, c0, c1]);
    }
    Ok(o)
}

async fn image(State(s): State<Arc<Store>>, Query(q): Params) -> Res<Response> {
    let key = key_arg(&q)?;
    let opts = options(&q)?;
    let slice: Option<usize> = arg(&q, "slice")?;
    let t0 = std::time::Instant::now();
    let a = s.array(&key, slice).await?;
    let fetched = t0.elapsed();
    // The slice of a C-order stack arrives alone as a 2-D plane; otherwise pick it here.
    let index = if a.shape.len() == 3 {
        slice.unwrap_or(0)
    } else {
        0
    };
    let (png, stats) = tokio::task::spawn_blocking(move || -> Res<_> {
        let img = render::render(&a, index, &opts)?;
        Ok((render::encode_png(&img)?, img.stats))
    })
    .await
    .map_err(|e| ViewError::Other(e.to_string()))??;
    tracing::debug!(?fetched, rendered = ?(t0.elapsed() - fetched), "image");
    let stats = serde_json::to_string(&stats).unwrap_or_default();
    Ok((
        [
            (header::CONTENT_TYPE, "image/png".to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (header::HeaderName::from_static("x-stats"), stats),
        ],
        png,
    )
        .into_response())
}

async fn series(State(s): State<Arc<Store>>, Query(q): Params) -> Res<impl IntoResponse> {
    let key = key_arg(&q)?;
    let buckets = arg(&q, "buckets")?.unwrap_or(2000usize).clamp(1, 100_000);
    let a = s.array(&key, None).await?;
    let describe = a.describe();
    let series = tokio::task::spawn_blocking(move || render::series(&a, buckets))
        .await
        .map_err(|e| ViewError::Other(e.to_string()))??;
    Ok(Json(
        serde_json::json!({ "describe": describe, "series": series }),
    ))
}

/// Largest array of a bundle sent to the page as numbers.
const BUNDLE_ELEMS: usize = 1 << 20;

async fn bundle(State(s): State<Arc<Store>>, Query(q): Params) -> Res<impl IntoResponse> {
    let key = key_arg(&q)?;
    let b = s.bundle(&key).await?;
    let mut arrays = Vec::new();
    for (name, a) in &b.arrays {
        let values = if a.len() <= BUNDLE_ELEMS && a.shape.len() <= 2 {
            Some(render::values(a))
        } else {
            None
        };
        arrays.push(serde_json::json!({
            "name": name, "dtype": a.dtype.name(), "shape": a.shape, "values": values,
        }));
    }
    Ok(Json(
        serde_json::json!({ "kind": b.kind, "attrs": b.attrs, "arrays": arrays }),
    ))
}

async fn string(State(s): State<Arc<Store>>, Query(q): Params) -> Res<impl IntoResponse> {
    let key = key_arg(&q)?;
    let offset = arg(&q, "offset")?.unwrap_or(0u64);
    let len = arg(&q, "len")?.unwrap_or(65536u64).min(1 << 20);
    let (b, total) = s.string(&key, offset, len).await?;
    let text = std::str::from_utf8(&b).ok().map(str::to_string);
    Ok(Json(serde_json::json!({
        "total": total, "offset": offset, "len": b.len(), "text": text, "hex": hex(&b),
    })))
}

async fn items(State(s): State<Arc<Store>>, Query(q): Params) -> Res<impl IntoResponse> {
    let key = key_arg(&q)?;
    let cursor = q.get("cursor").cloned().unwrap_or_default();
    let count = arg(&q, "count")?.unwrap_or(100usize);
    Ok(Json(s.items(&key, &cursor, count).await?))
}

/// An event stream fed by `task`.
fn events<F, Fut>(task: F) -> Sse<impl Stream<Item = Result<Event, Infallible>>>
where
    F: FnOnce(mpsc::Sender<Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(task(tx));
    let stream =
        futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) },
        );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn watch(State(s): State<Arc<Store>>, Query(q): Params) -> Res<impl IntoResponse> {
    let key = key_arg(&q)?;
    Ok(events(move |tx| crate::live::watch(s, key, tx)))
}

async fn channel(State(s): State<Arc<Store>>, Query(q): Params) -> Res<impl IntoResponse> {
    let name = q
        .get("name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ViewError::Unreadable("name= (the channel) is missing".into()))?;
    let name = name.as_bytes().to_vec();
    Ok(events(move |tx| crate::live::channel(s, name, tx)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_masked() {
        assert_eq!(super::masked("redis://:pw@h:1/0"), "redis://:***@h:1/0");
        assert_eq!(super::masked("redis://u:pw@h:1"), "redis://u:***@h:1");
        assert_eq!(super::masked("redis://h:1"), "redis://h:1");
    }
}
