//! `/ui`, `/ui/` and `/ui/*`: the console's one page and its assets, compiled into the binary
//! (plain ES modules and a style sheet from `server/console/`, no build step, nothing fetched
//! from anywhere else at run time). `/ui/assets/NAME` is an asset; every other path under
//! `/ui` is the page, whose modules route on the path (`/ui/overview`, `/ui/chains/ID`...), so
//! every view has a URL that can be shared or reloaded.
//!
//! Served without a key: the page holds no data (it says only whether the API wants a key), and
//! asks for a key before its first call when the API wants one.
//! A content security policy keeps the page to its own origin.

use crate::routes::Shared;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::LazyLock;

/// (name under `/ui/assets/`, content type, content).
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "console.css",
        CSS,
        include_str!("../../../console/console.css"),
    ),
    ("app.js", JS, include_str!("../../../console/app.js")),
    ("lib.js", JS, include_str!("../../../console/lib.js")),
    ("graph.js", JS, include_str!("../../../console/graph.js")),
    (
        "overview.js",
        JS,
        include_str!("../../../console/overview.js"),
    ),
    ("audit.js", JS, include_str!("../../../console/audit.js")),
    ("chains.js", JS, include_str!("../../../console/chains.js")),
    ("held.js", JS, include_str!("../../../console/held.js")),
    (
        "providers.js",
        JS,
        include_str!("../../../console/providers.js"),
    ),
    ("rules.js", JS, include_str!("../../../console/rules.js")),
    ("tail.js", JS, include_str!("../../../console/tail.js")),
    (
        "favicon.svg",
        SVG,
        include_str!("../../../console/favicon.svg"),
    ),
];

const PAGE: &str = include_str!("../../../console/index.html");
static PAGE_OPEN: LazyLock<String> = LazyLock::new(|| PAGE.replace("{{keys}}", "no"));
static PAGE_KEYED: LazyLock<String> = LazyLock::new(|| PAGE.replace("{{keys}}", "yes"));
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const SVG: &str = "image/svg+xml";
const HTML: &str = "text/html; charset=utf-8";

const SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'self'";

/// The page, or the asset the path names.
pub async fn ui(state: Shared, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    let Some(name) = path.strip_prefix("/ui/assets/") else {
        // The page says whether the API wants a key, so that it asks for one before its first
        // call rather than after a refused one.
        let page = match state.keys.is_empty() {
            true => &*PAGE_OPEN,
            false => &*PAGE_KEYED,
        };
        return answer(HTML, page, &headers);
    };
    match ASSETS.iter().find(|(asset, _, _)| *asset == name) {
        Some((_, kind, content)) => answer(kind, content, &headers),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

/// The content with its type and an entity tag: browsers ask again each time (`no-cache`) and
/// get 304 while the binary is the same, so a new build is never hidden behind a cache.
fn answer(kind: &'static str, content: &str, request: &HeaderMap) -> Response {
    let mut hasher = DefaultHasher::new();
    content.hash(&mut hasher);
    let tag = format!("\"{:016x}\"", hasher.finish());
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let mut response = match fresh {
        true => StatusCode::NOT_MODIFIED.into_response(),
        false => ([(header::CONTENT_TYPE, kind)], content.to_owned()).into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(tag) = HeaderValue::from_str(&tag) {
        headers.insert(header::ETAG, tag);
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
