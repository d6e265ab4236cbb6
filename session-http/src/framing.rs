//! How a session token travels in cookies, for every HTTP integration: the cookie's
//! name on the wire (with the `__Host-` prefix), its attributes, chunking over numbered
//! cookies, and the size rule (how many token bytes fit).
//!
//! Browsers keep at most 4096 bytes of name and value per cookie. A token longer than
//! one cookie can carry is split into chunks, each named after the first with `.N`
//! appended (`session`, `session.1`, ...). The cookie store refuses sessions larger
//! than [`capacity`] allows, so an HTTP layer never drops or truncates one.
//!
//! [`CookieOptions`] works on header *text* (the `Cookie` headers a request carries,
//! the `Set-Cookie` values to send), so any framework can use it.
//!
//! ```
//! use session_http::framing::CookieOptions;
//!
//! let options = CookieOptions::default().with_secure(true);
//! let token = "x".repeat(5000);
//! let set_cookies = options.send(&token, 0, None).expect("fits in 4 cookies");
//! assert_eq!(set_cookies.len(), 2);
//! assert!(set_cookies[0].starts_with("session=") && set_cookies[1].starts_with("session.1="));
//!
//! // The browser sends them back; the token is joined again.
//! let pairs: Vec<&str> = set_cookies.iter().filter_map(|c| c.split(';').next()).collect();
//! let (candidates, _) = options.read([pairs.join("; ").as_str()]);
//! assert_eq!(candidates.first(), Some(&token));
//! ```

use std::time::Duration;

use cookie::Cookie;

use session_core::MAX_CANDIDATES;

use crate::cookie_settings::{CookieSettings, SameSite};

pub use session_core::cookie::{capacity, COOKIE_BYTES};

/// The name of chunk `index` (0 is the plain name).
pub(crate) fn chunk_name(name: &str, index: usize) -> String {
    if index == 0 {
        name.to_owned()
    } else {
        format!("{name}.{index}")
    }
}

/// Token bytes one cookie named `chunk_name` can carry: 4096 less the name and the
/// `=` between name and value (counting the `=` keeps us clear of browsers that do).
fn room(chunk_name: &str) -> usize {
    COOKIE_BYTES.saturating_sub(chunk_name.len() + 1)
}

/// The chunks of one token, in order: `(cookie name, value)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chunks<'a>(Vec<(String, &'a str)>);

impl<'a> Chunks<'a> {
    /// Number of cookies.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no chunks (never, for a split token).
    #[allow(dead_code)]
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates over `(cookie name, value)`.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &(String, &'a str)> {
        self.0.iter()
    }

    /// The token again.
    #[cfg(test)]
    pub(crate) fn concat_values(&self) -> String {
        self.0.iter().map(|(_, v)| *v).collect()
    }
}

impl<'a> std::ops::Index<usize> for Chunks<'a> {
    type Output = (String, &'a str);
    fn index(&self, i: usize) -> &Self::Output {
        &self.0[i]
    }
}

/// Splits an ASCII token into at most `max_chunks` cookies; `None` when it does not fit
/// (see [`capacity`]) or is not ASCII (tokens are base64url text).
pub(crate) fn split<'a>(name: &str, token: &'a str, max_chunks: usize) -> Option<Chunks<'a>> {
    if !token.is_ascii() || token.len() > capacity(name, max_chunks) {
        return None;
    }
    let mut out = Vec::new();
    let mut rest = token;
    let mut index = 0;
    loop {
        let chunk_name = chunk_name(name, index);
        let (head, tail) = rest.split_at(room(&chunk_name).min(rest.len()));
        out.push((chunk_name, head));
        rest = tail;
        index += 1;
        if rest.is_empty() {
            return Some(Chunks(out));
        }
    }
}

/// The session cookie's name and attributes.
///
/// Defaults: name `session`, `HttpOnly`, `SameSite=Lax`, `Path=/`, no
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
        let options = CookieOptions {
            name: s.name.clone(),
            secure: s.secure,
            domain: s.domain.clone(),
            path: s.path.clone(),
            same_site: s.same_site,
            max_chunks: s.max_chunks,
            persistent: s.persistent,
        };
        if !s.host_prefix {
            return options;
        }
        CookieOptions {
            name: wire_name(&s.name, true),
            secure: true,
            domain: None,
            path: "/".into(),
            ..options
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

    /// True when the cookie is `Secure` (sent over HTTPS only).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// Sets the cookie name (as sent: a `__Host-` prefix, if wanted, included).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the `Domain` attribute (`None`: the cookie goes to this host only).
    pub fn with_domain(mut self, domain: Option<String>) -> Self {
        self.domain = domain;
        self
    }

    /// Sets the `Path` attribute.
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Sets the `SameSite` attribute.
    pub fn with_same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// Sets how many cookies a token may be split over (at least 1).
    pub fn with_max_chunks(mut self, max_chunks: usize) -> Self {
        self.max_chunks = max_chunks.max(1);
        self
    }

    /// How many token bytes these cookies carry ([`capacity`]).
    pub fn capacity(&self) -> usize {
        capacity(&self.name, self.max_chunks)
    }

    /// The candidate tokens the request carries, and how many chunk cookie names it
    /// may have (one past the highest index sent).
    ///
    /// A browser sends every cookie of the session's name that matches the request,
    /// so a duplicate planted by a sibling domain, or a forged chunk, arrives beside
    /// the real cookie. Each distinct `name` cookie gives a candidate joined with the
    /// chunks that follow it (`name.1`, `name.2`, ...) and one on its own, in the
    /// order sent; the session takes the first that opens.
    ///
    /// The work is bounded whatever the request carries: one pass over the headers,
    /// at most [`MAX_CANDIDATES`] candidates (later `name` cookies are ignored), the
    /// first cookie of each chunk name kept, and a value longer than one cookie can
    /// hold ([`COOKIE_BYTES`]) ignored, since no browser sends one. So the memory
    /// beyond the headers themselves is at most `MAX_CANDIDATES` tokens of
    /// [`capacity`](Self::capacity) bytes.
    pub fn read<'a>(
        &self,
        cookie_headers: impl IntoIterator<Item = &'a str>,
    ) -> (Vec<String>, usize) {
        let mut bases: Vec<&'a str> = Vec::new();
        // Grown only when chunk cookies come (most sessions fit one cookie); never
        // longer than `max_chunks`.
        let mut parts: Vec<Option<&'a str>> = Vec::new();
        let mut base_sent = false;
        for (name, value) in cookie_headers.into_iter().flat_map(pairs) {
            if value.len() > COOKIE_BYTES {
                continue;
            }
            match self.chunk_index(name) {
                Some(0) if !value.is_empty() => {
                    base_sent = true;
                    // At most MAX_CANDIDATES distinct values: a bounded scan each.
                    if bases.len() < MAX_CANDIDATES && !bases.contains(&value) {
                        bases.push(value);
                    }
                }
                Some(i) if i < self.max_chunks => {
                    if parts.len() <= i {
                        parts.resize(i + 1, None);
                    }
                    if let Some(slot @ None) = parts.get_mut(i) {
                        *slot = Some(value);
                    }
                }
                _ => {}
            }
        }
        // Chunk cookies to clear later: up to the highest index the client sent, so a
        // stray `session.2` goes even when `session.1` is missing.
        let sent = parts
            .iter()
            .rposition(Option::is_some)
            .map_or(usize::from(base_sent), |i| i + 1);
        // The chunks after the base, in order, up to the first missing or empty one
        // (a split never makes an empty chunk: what follows one is not ours).
        let tail: String = parts
            .iter()
            .skip(1)
            .map_while(|p| p.filter(|v| !v.is_empty()))
            .collect();
        let mut candidates = Vec::with_capacity(bases.len() * (1 + usize::from(!tail.is_empty())));
        for base in bases {
            if !tail.is_empty() {
                candidates.push(format!("{base}{tail}"));
            }
            candidates.push(base.to_owned());
        }
        candidates.truncate(MAX_CANDIDATES);
        (candidates, sent)
    }

    fn chunk_index(&self, name: &str) -> Option<usize> {
        // Most cookies of a request are not ours: one comparison of the first byte.
        if name.as_bytes().first() != self.name.as_bytes().first() {
            return None;
        }
        if name == self.name {
            return Some(0);
        }
        let rest = name.strip_prefix(self.name.as_str())?.strip_prefix('.')?;
        let i: usize = rest.parse().ok()?;
        (i > 0 && rest == i.to_string()).then_some(i)
    }

    /// The `Set-Cookie` values that send `token`, with removals for chunk cookies the
    /// client sent (`sent`, from [`read`](Self::read)) that the new token no longer
    /// uses. `None` when the token does not fit ([`capacity`](Self::capacity); the
    /// cookie store checks this first, so it means a misconfigured store). With
    /// `max_age`, the cookies are persistent.
    pub fn send(&self, token: &str, sent: usize, max_age: Option<Duration>) -> Option<Vec<String>> {
        let parts = split(&self.name, token, self.max_chunks)?;
        let mut out = Vec::with_capacity(parts.len().max(sent));
        for (name, value) in parts.iter() {
            let mut cookie = self.build(name, value);
            if let Some(age) = max_age {
                let secs = i64::try_from(age.as_secs()).unwrap_or(i64::MAX);
                cookie.set_max_age(cookie::time::Duration::seconds(secs));
            }
            out.push(render(&cookie));
        }
        for i in parts.len()..sent.max(parts.len()) {
            out.push(self.removal(&chunk_name(&self.name, i)));
        }
        Some(out)
    }

    /// The `Set-Cookie` values that remove the session cookie and every chunk sent.
    pub fn remove(&self, sent: usize) -> Vec<String> {
        (0..sent.max(1))
            .map(|i| self.removal(&chunk_name(&self.name, i)))
            .collect()
    }

    fn build<'c>(&'c self, name: &'c str, value: &'c str) -> Cookie<'c> {
        let mut c = Cookie::build((name, value))
            .http_only(true)
            .same_site(match self.same_site {
                SameSite::Lax => cookie::SameSite::Lax,
                SameSite::Strict => cookie::SameSite::Strict,
                SameSite::None => cookie::SameSite::None,
            })
            .path(self.path.as_str())
            .secure(self.secure);
        if let Some(domain) = &self.domain {
            c = c.domain(domain.as_str());
        }
        c.build()
    }

    /// The `Set-Cookie` value that removes the cookie `name`.
    fn removal(&self, name: &str) -> String {
        let mut c = self.build(name, "");
        c.make_removal();
        render(&c)
    }
}

/// `cookie` as a `Set-Cookie` value, written once into a string of the right size.
fn render(cookie: &Cookie<'_>) -> String {
    use std::fmt::Write as _;
    // Room for name, value, path, domain, and the other attributes' fixed text.
    let room = cookie.name().len()
        + cookie.value().len()
        + cookie.path().map_or(0, str::len)
        + cookie.domain().map_or(0, str::len)
        + 128;
    let mut out = String::with_capacity(room);
    let _ = write!(out, "{cookie}");
    out
}

/// The cookie's name on the wire: `name`, with the `__Host-` prefix when `host_prefix`.
pub fn wire_name(name: &str, host_prefix: bool) -> String {
    if host_prefix {
        format!("__Host-{name}")
    } else {
        name.to_owned()
    }
}

/// A `Cookie` header's bytes as text for [`CookieOptions::read`]; `None` when they
/// are not UTF-8.
///
/// Browsers send cookies that scripts set with any text as UTF-8, in the same header
/// as the session's cookie; `http`'s `HeaderValue::to_str` refuses a header with any
/// byte that is not visible ASCII, which would lose the session beside such a cookie.
///
/// ```
/// use session_http::framing::{cookie_header_text, CookieOptions};
///
/// let header = "city=Zürich; session=AAA".as_bytes();
/// let text = cookie_header_text(header);
/// assert_eq!(CookieOptions::default().read(text), (vec!["AAA".to_owned()], 1));
/// ```
pub fn cookie_header_text(header: &[u8]) -> Option<&str> {
    std::str::from_utf8(header).ok()
}

/// The `name=value` pairs of one `Cookie` header, trimmed, as the `cookie` crate's
/// `Cookie::split_parse` gives them (no percent-decoding; a pair without `=` or
/// with an empty name is skipped). The header is scanned once, with SIMD.
fn pairs(header: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut start = 0;
    let ends = memchr::memchr_iter(b';', header.as_bytes()).chain(std::iter::once(header.len()));
    ends.filter_map(move |end| {
        // `;` is ASCII, so both ends are character boundaries.
        let pair = header.get(start..end)?;
        start = end + 1;
        let (name, value) = pair.split_once('=')?;
        let name = name.trim();
        (!name.is_empty()).then(|| (name, value.trim()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed_by_the_cookie_crate(header: &str) -> Vec<(String, String)> {
        Cookie::split_parse(header)
            .flatten()
            .map(|c| (c.name().to_owned(), c.value().to_owned()))
            .collect()
    }

    fn parsed(header: &str) -> Vec<(String, String)> {
        pairs(header)
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn cookie_headers_split_as_the_cookie_crate_splits_them() {
        for header in [
            "",
            ";;",
            "name=value",
            "  name=value  ",
            "a=1; b=2;c=3 ;  d = 4 ",
            "a=%20; b=\"quoted\"; c=d=e",
            "novalue; =empty; x=; y=1",
            "session=abc; session.1=def; session.x=1; sessions=2",
            "a=\u{e9}t\u{e9}; \u{2603}=snow;\t tab=1",
        ] {
            assert_eq!(
                parsed(header),
                parsed_by_the_cookie_crate(header),
                "{header:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn any_cookie_header_splits_as_the_cookie_crate_splits_it(header in "[a-z=; \t\u{e9}.\"]{0,40}") {
            proptest::prop_assert_eq!(parsed(&header), parsed_by_the_cookie_crate(&header));
        }
    }

    #[test]
    fn a_short_token_is_one_cookie_under_the_plain_name() {
        let parts = split("s", "abc", 4);
        assert_eq!(parts.map(|p| p.0), Some(vec![("s".to_owned(), "abc")]));
    }

    #[test]
    fn a_token_at_capacity_fits_and_one_byte_more_does_not() {
        let cap = capacity("session", 3);
        assert_eq!(cap, 3 * 4096 - "session=".len() - 2 * "session.1=".len());
        let token = "a".repeat(cap);
        let parts = split("session", &token, 3);
        assert_eq!(parts.as_ref().map(Chunks::len), Some(3));
        assert_eq!(parts.map(|p| p.concat_values()), Some(token));
        assert_eq!(split("session", &"a".repeat(cap + 1), 3), None);
    }

    #[test]
    fn capacity_matches_the_chunk_names() {
        for chunks in [1, 2, 9, 10, 11, 32, 101] {
            let by_name: usize = (0..chunks).map(|i| room(&chunk_name("s", i))).sum();
            assert_eq!(capacity("s", chunks), by_name, "{chunks} chunks");
        }
    }

    #[test]
    fn non_ascii_tokens_are_refused() {
        assert_eq!(split("s", "é", 4), None);
    }

    #[test]
    fn reads_chunks_in_order_across_headers() {
        let o = CookieOptions::default();
        let h = ["a=1; session.1=BBB", "session=AAA; session.2=CCC"];
        assert_eq!(o.read(h), (vec!["AAABBBCCC".into(), "AAA".into()], 3));
    }

    #[test]
    fn a_missing_chunk_ends_the_token_and_odd_names_are_ignored() {
        let o = CookieOptions::default();
        let h = ["session=AAA; session.2=CCC; session.01=X; session.x=Y; sessionx=Z"];
        assert_eq!(o.read(h), (vec!["AAA".into()], 3));
        assert_eq!(o.read(["other=1"]), (vec![], 0));
    }

    #[test]
    fn duplicate_cookies_each_give_a_candidate_in_the_order_sent() {
        let o = CookieOptions::default();
        let h = ["session=REAL; session=planted"];
        assert_eq!(o.read(h), (vec!["REAL".into(), "planted".into()], 1));
        let h = ["session=REAL; session.1=forged"];
        assert_eq!(o.read(h), (vec!["REALforged".into(), "REAL".into()], 2));
    }

    #[test]
    fn fifteen_planted_cookies_before_the_real_one_leave_it_a_candidate() {
        let o = CookieOptions::default();
        let mut header: Vec<String> = (0..15).map(|i| format!("session=fake{i}")).collect();
        header.push("session=REAL".into());
        let (candidates, sent) = o.read([header.join("; ").as_str()]);
        assert_eq!(candidates.len(), MAX_CANDIDATES);
        assert_eq!(candidates.last().map(String::as_str), Some("REAL"));
        assert_eq!(sent, 1);
    }

    #[test]
    fn repeats_of_one_planted_value_take_one_candidate() {
        let o = CookieOptions::default();
        let header = format!("{}session=REAL", "session=junk; ".repeat(1000));
        assert_eq!(
            o.read([header.as_str()]).0,
            vec!["junk".to_owned(), "REAL".to_owned()]
        );
    }

    #[test]
    fn values_longer_than_a_cookie_are_not_candidates() {
        let o = CookieOptions::default();
        let long = "x".repeat(COOKIE_BYTES + 1);
        let header = format!("session={long}; session.1={long}; session=REAL; session.1=B");
        assert_eq!(
            o.read([header.as_str()]),
            (vec!["REALB".into(), "REAL".into()], 2)
        );
    }

    proptest::proptest! {
        #[test]
        fn any_request_gives_at_most_sixteen_candidates_each_at_most_the_capacity(
            cookies in proptest::collection::vec(
                (0usize..7, 0usize..6000, proptest::sample::select(vec!['a', 'b', 'c'])),
                0..300,
            ),
            real_at in 0usize..300,
        ) {
            let o = CookieOptions::default();
            let names = ["session", "session.1", "session.2", "session.3", "session.9", "other", "session.x"];
            let mut header: Vec<String> = cookies
                .iter()
                .map(|&(n, len, c)| format!("{}={}", names[n], c.to_string().repeat(len)))
                .collect();
            let real_at = real_at.min(header.len());
            header.insert(real_at, "session=REAL".into());
            let header = header.join("; ");
            let (candidates, sent) = o.read([header.as_str()]);
            proptest::prop_assert!(candidates.len() <= MAX_CANDIDATES);
            proptest::prop_assert!(candidates.iter().all(|c| c.len() <= o.capacity()));
            proptest::prop_assert!(sent <= 4);
            // The real cookie is tried unless sixteen other distinct values came first.
            let before: std::collections::HashSet<&str> = header
                .split("; ")
                .take(real_at)
                .filter_map(|p| p.strip_prefix("session="))
                .filter(|v| !v.is_empty() && v.len() <= COOKIE_BYTES)
                .collect();
            let has_tail = cookies
                .iter()
                .find(|&&(n, len, _)| n == 1 && len <= COOKIE_BYTES)
                .is_some_and(|&(_, len, _)| len > 0);
            let per_base = 1 + usize::from(has_tail);
            if before.len() * per_base + per_base <= MAX_CANDIDATES {
                proptest::prop_assert!(candidates.iter().any(|c| c == "REAL"));
            }
        }
    }

    #[test]
    fn default_attributes_are_httponly_lax_root_path() {
        let c = CookieOptions::default()
            .send("tok", 0, None)
            .unwrap_or_default();
        assert_eq!(c.len(), 1);
        assert!(c[0].starts_with("session=tok"));
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(c[0].contains(attr), "{} lacks {attr}", c[0]);
        }
        assert!(!c[0].contains("Secure"));
    }

    #[test]
    fn host_prefix_forces_secure_root_and_no_domain() {
        let s = CookieSettings {
            host_prefix: true,
            domain: Some("example.com".into()),
            path: "/app".into(),
            ..CookieSettings::default()
        };
        let c = CookieOptions::from_settings(&s)
            .send("t", 0, None)
            .unwrap_or_default();
        assert!(c[0].starts_with("__Host-session=t"));
        assert!(c[0].contains("Secure") && c[0].contains("Path=/") && !c[0].contains("Domain"));
    }

    #[test]
    fn the_builder_sets_every_attribute() {
        let o = CookieOptions::default()
            .with_name("sid")
            .with_domain(Some("example.com".into()))
            .with_path("/app")
            .with_same_site(SameSite::Strict)
            .with_secure(true);
        let c = o.send("t", 0, None).unwrap_or_default();
        for part in [
            "sid=t",
            "Domain=example.com",
            "Path=/app",
            "SameSite=Strict",
            "Secure",
        ] {
            assert!(c[0].contains(part), "{} lacks {part}", c[0]);
        }
    }

    #[test]
    fn a_shrinking_token_removes_stale_chunks() {
        let c = CookieOptions::default()
            .send("short", 3, None)
            .unwrap_or_default();
        assert_eq!(c.len(), 3);
        assert!(c[1].starts_with("session.1=;") && c[1].contains("Max-Age=0"));
        assert!(c[2].starts_with("session.2=;"));
    }

    #[test]
    fn a_long_token_is_split_and_each_cookie_fits() {
        let o = CookieOptions::default();
        let token = "t".repeat(9000);
        let c = o.send(&token, 0, None).unwrap_or_default();
        assert_eq!(c.len(), 3);
        let back: Vec<&str> = c
            .iter()
            .map(|c| c.split(';').next().unwrap_or(""))
            .collect();
        assert_eq!(o.read(back).0.first(), Some(&token));
        assert_eq!(o.send(&"t".repeat(o.capacity() + 1), 0, None), None);
    }

    #[test]
    fn a_persistent_cookie_carries_max_age() {
        let c = CookieOptions::default()
            .send("t", 0, Some(Duration::from_secs(3600)))
            .unwrap_or_default();
        assert!(c[0].contains("Max-Age=3600"), "{c:?}");
    }

    #[test]
    fn removal_expires_every_chunk_sent() {
        let c = CookieOptions::default().remove(2);
        assert_eq!(c.len(), 2);
        assert!(c.iter().all(|c| c.contains("Max-Age=0")));
    }
}
