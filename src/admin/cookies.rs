//! The console's session cookies as the admin API reads them: the cookie
//! names, reading a cookie, and the check that a change made through the
//! cookie carries the session's anti-CSRF token and comes from this
//! server's own origin. The console module sets them.

use super::error::ApiError;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};

/// The access token's cookie, sent to the API only.
pub const ACCESS_COOKIE: &str = "nuru_access";
/// The refresh token's cookie, sent to the session routes only.
pub const REFRESH_COOKIE: &str = "nuru_refresh";
/// The header that repeats the session's anti-CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A request made through the console's cookie: reads pass; a change must
/// come from this server's own origin and carry the session's CSRF token.
pub fn check_csrf(parts: &Parts, expected: Option<&str>) -> Result<(), ApiError> {
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    same_origin(&parts.headers)?;
    let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    match expected {
        Some(token) if !sent.is_empty() && constant_time_eq(sent.as_bytes(), token.as_bytes()) => Ok(()),
        _ => Err(ApiError::csrf("missing or wrong X-CSRF-Token header")),
    }
}

/// `Origin` (or, failing it, `Referer`) names the host the request was sent
/// to. Browsers always send one of them on a cross-site POST.
pub(crate) fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let host = headers.get(axum::http::header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let source = headers.get(axum::http::header::ORIGIN).or_else(|| headers.get(axum::http::header::REFERER)).and_then(|v| v.to_str().ok());
    let Some(source) = source else { return Ok(()) };
    let authority = source.split_once("://").map(|(_, rest)| rest.split('/').next().unwrap_or("")).unwrap_or("");
    if !host.is_empty() && authority.eq_ignore_ascii_case(host) {
        Ok(())
    } else {
        Err(ApiError::csrf("the request comes from another site"))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderValue, Request};

    fn parts(method: Method, headers: &[(&str, &str)]) -> Parts {
        let mut r = Request::builder().method(method).uri("/api/clinics");
        for (k, v) in headers {
            r = r.header(*k, HeaderValue::from_str(v).unwrap());
        }
        r.body(()).unwrap().into_parts().0
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let p = parts(Method::GET, &[("cookie", "a=1; nuru_access_x=2; nuru_access=tok; b=3")]);
        assert_eq!(cookie(&p.headers, ACCESS_COOKIE).as_deref(), Some("tok"));
        assert_eq!(cookie(&p.headers, "missing"), None);
        let empty = parts(Method::GET, &[("cookie", "nuru_access=")]);
        assert_eq!(cookie(&empty.headers, ACCESS_COOKIE), None);
    }

    #[test]
    fn changes_through_the_cookie_need_the_token_and_the_same_origin() {
        let host = ("host", "clinic.example.org");
        assert!(check_csrf(&parts(Method::GET, &[host]), Some("t")).is_ok(), "reads pass");
        let ok = parts(Method::POST, &[host, ("origin", "https://clinic.example.org"), ("x-csrf-token", "t")]);
        assert!(check_csrf(&ok, Some("t")).is_ok());
        let no_origin = parts(Method::POST, &[host, ("x-csrf-token", "t")]);
        assert!(check_csrf(&no_origin, Some("t")).is_ok(), "same-origin fetches may omit Origin");
        for (headers, expected) in [
            (vec![host, ("origin", "https://clinic.example.org")], Some("t")),
            (vec![host, ("origin", "https://clinic.example.org"), ("x-csrf-token", "u")], Some("t")),
            (vec![host, ("origin", "https://clinic.example.org"), ("x-csrf-token", "t")], None),
            (vec![host, ("origin", "https://evil.example.net"), ("x-csrf-token", "t")], Some("t")),
            (vec![host, ("referer", "https://evil.example.net/page"), ("x-csrf-token", "t")], Some("t")),
            (vec![host, ("origin", "null"), ("x-csrf-token", "t")], Some("t")),
        ] {
            let err = check_csrf(&parts(Method::DELETE, &headers), expected).unwrap_err();
            assert_eq!((err.status.as_u16(), err.code), (403, "csrf"), "{headers:?}");
        }
    }
}
