//! The console's files, embedded in the binary: the page (never cached, it
//! names the current files) and its script and style (cached for a year
//! under a name that carries their content's hash), each gzipped once at
//! start-up for slow connections, all under a Content-Security-Policy that
//! allows this server's own files only (no inline script or style).

use axum::extract::Path;
use axum::http::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, VARY};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::Digest;
use std::io::Write;
use std::sync::LazyLock;

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

struct Asset {
    content_type: &'static str,
    plain: Vec<u8>,
    gzip: Vec<u8>,
}

impl Asset {
    fn new(content_type: &'static str, plain: Vec<u8>) -> Self {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&plain).expect("writing to memory");
        Self { content_type, gzip: encoder.finish().expect("writing to memory"), plain }
    }

    fn response(&self, headers: &HeaderMap, cache: &'static str) -> Response {
        let gzip = headers
            .get_all(ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(',').any(|e| e.trim().split(';').next() == Some("gzip")));
        let mut response = if gzip { self.gzip.clone() } else { self.plain.clone() }.into_response();
        let h = response.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        h.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
        h.insert(VARY, HeaderValue::from_static("accept-encoding"));
        if gzip {
            h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        secure_headers(h);
        response
    }
}

/// What every console response carries.
fn secure_headers(h: &mut HeaderMap) {
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("permissions-policy", "camera=(), microphone=(), geolocation=()"),
        ("cross-origin-opener-policy", "same-origin"),
    ] {
        h.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
}

const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");
const PAGE: &str = include_str!("assets/index.html");

fn short_hash(text: &str) -> String {
    sha2::Sha256::digest(text.as_bytes()).iter().take(6).map(|b| format!("{b:02x}")).collect()
}

struct Files {
    page: Asset,
    script_name: String,
    script: Asset,
    style_name: String,
    style: Asset,
}

static FILES: LazyLock<Files> = LazyLock::new(|| {
    let script_name = format!("app.{}.js", short_hash(SCRIPT));
    let style_name = format!("app.{}.css", short_hash(STYLE));
    let page = PAGE.replace("{{script}}", &script_name).replace("{{style}}", &style_name);
    Files {
        page: Asset::new("text/html; charset=utf-8", page.into_bytes()),
        script: Asset::new("text/javascript; charset=utf-8", SCRIPT.as_bytes().to_vec()),
        style: Asset::new("text/css; charset=utf-8", STYLE.as_bytes().to_vec()),
        script_name,
        style_name,
    }
});

pub async fn index(headers: HeaderMap) -> Response {
    FILES.page.response(&headers, "no-cache")
}

pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let files = &*FILES;
    let asset = if name == files.script_name {
        &files.script
    } else if name == files.style_name {
        &files.style
    } else {
        return StatusCode::NOT_FOUND.into_response();
    };
    asset.response(&headers, "public, max-age=31536000, immutable")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_the_hashed_files_and_nothing_inline() {
        let page = String::from_utf8(FILES.page.plain.clone()).unwrap();
        assert!(page.contains(&format!("/console/assets/{}", FILES.script_name)), "{page}");
        assert!(page.contains(&format!("/console/assets/{}", FILES.style_name)));
        assert!(!page.contains("{{"), "every placeholder filled");
        assert!(!page.contains("<script>") && !page.contains("style="), "nothing the policy would block");
        assert!(!page.split_whitespace().any(|w| w.starts_with("on") && w.contains('=')), "no inline handlers");
        for asset in [&FILES.page, &FILES.script, &FILES.style] {
            let mut plain = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&asset.gzip[..]), &mut plain).unwrap();
            assert_eq!(plain, asset.plain);
        }
    }
}
