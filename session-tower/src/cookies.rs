//! Reading the session token from `Cookie` headers and writing `Set-Cookie`.

use cookie::{Cookie, SameSite};
use http::header::{HeaderMap, HeaderValue, COOKIE, SET_COOKIE};
use session_core::{chunks, CookieSettings};

/// The session cookie's name and attributes.
///
/// Defaults (SPEC 6): name `session`, `HttpOnly`, `SameSite=Lax`, `Path=/`, no
/// `Secure` (turn it on behind HTTPS), no `Domain`, at most 4 chunk cookies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieOptions {
    name: String,
    secure: bool,
    domain: Option<String>,
    path: String,
    same_site: SameSite,
    max_chunks: usize,
    persistent: bool,
}

impl Default for CookieOptions {
    fn default() -> Self {
        CookieOptions::from_settings(&CookieSettings::default())
    }
}

impl CookieOptions {
    /// From `[cookie]` settings. With `host_prefix`, the name gets `__Host-`, and the
    /// cookie is `Secure`, `Path=/`, without `Domain`, as browsers require.
    pub fn from_settings(s: &CookieSettings) -> Self {
        let same_site = match s.same_site {
            session_core::SameSite::Lax => SameSite::Lax,
            session_core::SameSite::Strict => SameSite::Strict,
            session_core::SameSite::None => SameSite::None,
        };
        if s.host_prefix {
            CookieOptions {
                name: format!("__Host-{}", s.name),
                secure: true,
                domain: None,
                path: "/".into(),
                same_site,
                max_chunks: s.max_chunks,
                persistent: s.persistent,
            }
        } else {
            CookieOptions {
                name: s.name.clone(),
                secure: s.secure,
                domain: s.domain.clone(),
                path: s.path.clone(),
                same_site,
                max_chunks: s.max_chunks,
                persistent: s.persistent,
            }
        }
    }

    /// The cookie name on the wire.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sends persistent cookies (with `Max-Age`) unless a session chose otherwise
    /// with `Session::remember`.
    pub fn with_persistent(mut self, persistent: bool) -> Self {
        self.persistent = persistent;
        self
    }

    /// True when cookies are persistent by default.
    pub fn is_persistent(&self) -> bool {
        self.persistent
    }

    /// Sets the `Secure` attribute.
    pub fn with_secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// The candidate tokens the request carries, and how many chunk cookie names it
    /// may have (one past the highest index sent).
    ///
    /// A browser sends every cookie of the session's name that matches the request,
    /// so a duplicate planted by a sibling domain, or a forged chunk, arrives beside
    /// the real cookie. Each `name` cookie gives a candidate joined with the chunks
    /// that follow it (`name.1`, `name.2`, ...) and one on its own, in the order sent;
    /// the session takes the first that opens.
    pub(crate) fn read(&self, headers: &HeaderMap) -> (Vec<String>, usize) {
        let mut bases: Vec<String> = Vec::new();
        let mut parts: Vec<Option<String>> = vec![None; self.max_chunks];
        for header in headers.get_all(COOKIE) {
            let Ok(text) = header.to_str() else { continue };
            for cookie in Cookie::split_parse(text).flatten() {
                match self.chunk_index(cookie.name()) {
                    Some(0) if !cookie.value().is_empty() => bases.push(cookie.value().to_owned()),
                    Some(i) => {
                        if let Some(slot @ None) = parts.get_mut(i) {
                            *slot = Some(cookie.value().to_owned());
                        }
                    }
                    None => {}
                }
            }
        }
        // Chunk cookies to clear later: up to the highest index the client sent, so a
        // stray `session.2` goes even when `session.1` is missing.
        let sent = parts
            .iter()
            .rposition(Option::is_some)
            .map_or(usize::from(!bases.is_empty()), |i| i + 1);
        let tail: String = parts.iter().skip(1).map_while(Option::as_deref).collect();
        let mut candidates = Vec::with_capacity(bases.len() * 2);
        for base in bases {
            if !tail.is_empty() {
                candidates.push(format!("{base}{tail}"));
            }
            if !candidates.contains(&base) {
                candidates.push(base);
            }
        }
        (candidates, sent)
    }

    fn chunk_index(&self, name: &str) -> Option<usize> {
        if name == self.name {
            return Some(0);
        }
        let rest = name.strip_prefix(self.name.as_str())?.strip_prefix('.')?;
        let i: usize = rest.parse().ok()?;
        (i > 0 && rest == i.to_string()).then_some(i)
    }

    /// Adds `Set-Cookie` headers sending `token`, and removals for chunk cookies the
    /// client sent that the new token no longer uses. `false` when the token does not
    /// fit (stores check this first, so it means a misconfigured store).
    /// With `max_age`, the cookies are persistent.
    pub(crate) fn send(
        &self,
        headers: &mut HeaderMap,
        token: &str,
        sent: usize,
        max_age: Option<std::time::Duration>,
    ) -> bool {
        let Some(parts) = chunks::split(&self.name, token, self.max_chunks) else {
            return false;
        };
        for (name, value) in parts.iter() {
            let mut cookie = self.build(name.clone(), (*value).to_owned());
            if let Some(age) = max_age {
                let secs = i64::try_from(age.as_secs()).unwrap_or(i64::MAX);
                cookie.set_max_age(cookie::time::Duration::seconds(secs));
            }
            self.append(headers, cookie);
        }
        for i in parts.len()..sent.max(parts.len()) {
            self.append(headers, self.removal(chunks::chunk_name(&self.name, i)));
        }
        true
    }

    /// Adds `Set-Cookie` headers removing the session cookie and every chunk sent.
    pub(crate) fn remove(&self, headers: &mut HeaderMap, sent: usize) {
        for i in 0..sent.max(1) {
            self.append(headers, self.removal(chunks::chunk_name(&self.name, i)));
        }
    }

    fn build(&self, name: String, value: String) -> Cookie<'static> {
        let mut c = Cookie::build((name, value))
            .http_only(true)
            .same_site(self.same_site)
            .path(self.path.clone())
            .secure(self.secure);
        if let Some(domain) = &self.domain {
            c = c.domain(domain.clone());
        }
        c.build()
    }

    fn removal(&self, name: String) -> Cookie<'static> {
        let mut c = self.build(name, String::new());
        c.make_removal();
        c
    }

    fn append(&self, headers: &mut HeaderMap, cookie: Cookie<'static>) {
        match HeaderValue::from_str(&cookie.to_string()) {
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

    fn headers(cookies: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for c in cookies {
            h.append(
                COOKIE,
                HeaderValue::from_str(c).unwrap_or(HeaderValue::from_static("")),
            );
        }
        h
    }

    fn set_cookies(h: &HeaderMap) -> Vec<String> {
        h.get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap_or("").to_owned())
            .collect()
    }

    #[test]
    fn reads_chunks_in_order_across_headers() {
        let o = CookieOptions::default();
        let h = headers(&["a=1; session.1=BBB", "session=AAA; session.2=CCC"]);
        assert_eq!(o.read(&h), (vec!["AAABBBCCC".into(), "AAA".into()], 3));
    }

    #[test]
    fn a_missing_chunk_ends_the_token_and_odd_names_are_ignored() {
        let o = CookieOptions::default();
        let h = headers(&["session=AAA; session.2=CCC; session.01=X; session.x=Y; sessionx=Z"]);
        assert_eq!(o.read(&h), (vec!["AAA".into()], 3));
        assert_eq!(o.read(&headers(&["other=1"])), (vec![], 0));
    }

    #[test]
    fn duplicate_cookies_each_give_a_candidate_in_the_order_sent() {
        let o = CookieOptions::default();
        let h = headers(&["session=REAL; session=planted"]);
        assert_eq!(o.read(&h), (vec!["REAL".into(), "planted".into()], 1));
        let h = headers(&["session=REAL; session.1=forged"]);
        assert_eq!(o.read(&h), (vec!["REALforged".into(), "REAL".into()], 2));
    }

    #[test]
    fn default_attributes_are_httponly_lax_root_path() {
        let o = CookieOptions::default();
        let mut h = HeaderMap::new();
        assert!(o.send(&mut h, "tok", 0, None));
        let c = set_cookies(&h);
        assert_eq!(c.len(), 1);
        assert!(c[0].starts_with("session=tok"));
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(c[0].contains(attr), "{} lacks {attr}", c[0]);
        }
        assert!(!c[0].contains("Secure"));
    }

    #[test]
    fn host_prefix_forces_secure_root_and_no_domain() {
        let mut s = CookieSettings::default();
        s.host_prefix = true;
        s.domain = Some("example.com".into());
        s.path = "/app".into();
        let o = CookieOptions::from_settings(&s);
        let mut h = HeaderMap::new();
        o.send(&mut h, "t", 0, None);
        let c = &set_cookies(&h)[0];
        assert!(c.starts_with("__Host-session=t"));
        assert!(c.contains("Secure") && c.contains("Path=/") && !c.contains("Domain"));
    }

    #[test]
    fn a_shrinking_token_removes_stale_chunks() {
        let o = CookieOptions::default();
        let mut h = HeaderMap::new();
        assert!(o.send(&mut h, "short", 3, None));
        let c = set_cookies(&h);
        assert_eq!(c.len(), 3);
        assert!(c[1].starts_with("session.1=;") && c[1].contains("Max-Age=0"));
        assert!(c[2].starts_with("session.2=;"));
    }

    #[test]
    fn a_long_token_is_split_and_each_cookie_fits() {
        let o = CookieOptions::default();
        let token = "t".repeat(9000);
        let mut h = HeaderMap::new();
        assert!(o.send(&mut h, &token, 0, None));
        let c = set_cookies(&h);
        assert_eq!(c.len(), 3);
        let mut back = HeaderMap::new();
        for cookie in &c {
            let pair = cookie.split(';').next().unwrap_or("");
            back.append(
                COOKIE,
                HeaderValue::from_str(pair).unwrap_or(HeaderValue::from_static("")),
            );
        }
        assert_eq!(o.read(&back).0.first(), Some(&token));
    }

    #[test]
    fn a_persistent_cookie_carries_max_age() {
        let o = CookieOptions::default();
        let mut h = HeaderMap::new();
        assert!(o.send(&mut h, "t", 0, Some(std::time::Duration::from_secs(3600))));
        assert!(
            set_cookies(&h)[0].contains("Max-Age=3600"),
            "{:?}",
            set_cookies(&h)
        );
    }

    #[test]
    fn removal_expires_every_chunk_sent() {
        let o = CookieOptions::default();
        let mut h = HeaderMap::new();
        o.remove(&mut h, 2);
        let c = set_cookies(&h);
        assert_eq!(c.len(), 2);
        assert!(c.iter().all(|c| c.contains("Max-Age=0")));
    }
}
