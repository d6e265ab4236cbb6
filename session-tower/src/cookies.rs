//! The session cookie on `http` headers: [`CookieOptions`] (from
//! `session_http::framing`, shared by every integration) read from `Cookie` headers
//! and written to `Set-Cookie`.

use http::header::{HeaderMap, HeaderValue, COOKIE, SET_COOKIE};
use session_http::framing::cookie_header_text;
pub use session_http::framing::CookieOptions;

/// The text of every `Cookie` header (a request may carry several), for
/// [`CookieOptions::read`].
pub(crate) fn values(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| cookie_header_text(v.as_bytes()))
}

/// Appends `Set-Cookie` headers for `cookies`.
pub(crate) fn append(headers: &mut HeaderMap, cookies: Vec<String>) {
    for cookie in cookies {
        match HeaderValue::try_from(cookie) {
            Ok(v) => {
                headers.append(SET_COOKIE, v);
            }
            Err(e) => tracing::error!(error = %e, "session cookie is not a valid header value"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cookie_header_is_read_and_every_cookie_appended() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("a=1; session.1=BBB"));
        h.append(COOKIE, HeaderValue::from_static("session=AAA"));
        let o = CookieOptions::default();
        assert_eq!(o.read(values(&h)), (vec!["AAABBB".into(), "AAA".into()], 2));
        let mut out = HeaderMap::new();
        append(&mut out, o.remove(2));
        assert_eq!(out.get_all(SET_COOKIE).iter().count(), 2);
    }
}
