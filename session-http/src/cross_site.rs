//! [`CrossSiteProtection`]: refusing unsafe requests that a browser marks cross-site,
//! on the request's plain facts ([`RequestFacts`]), for every HTTP integration.

/// Refuses unsafe requests (POST, PUT, PATCH, DELETE) that a browser marks as coming
/// from another site, with 403 and without touching the session: a forged form on
/// another site can then neither sign a user in as someone else nor sign her out.
///
/// A request is refused when it carries `Sec-Fetch-Site: cross-site`, or an `Origin`
/// that is neither the request's own nor in the trusted list. Origins are compared
/// as browsers define them: scheme, host and port (a missing port is the scheme's
/// default), so `https://app.test` is not the origin of a request to
/// `http://app.test`. The request's scheme is its URI's (HTTP/2), else its
/// `X-Forwarded-Proto` (set by a TLS-terminating proxy; a cross-site form cannot set
/// it), else `https` when the session cookie is `Secure` and `http` otherwise. Requests
/// without these headers (curl, server-to-server clients, old browsers) pass; for old
/// browsers, forms can also carry [`Session::csrf_token`](session_core::Session::csrf_token).
///
///
/// On by default in the HTTP integrations (`session-tower`'s `SessionLayer`,
/// `session-actix`'s `SessionMiddleware`). Behind a
/// reverse proxy that
/// rewrites `Host`, either keep the client's `Host` (nginx: `proxy_set_header Host
/// $host`) or add the public origin with [`with_trusted_origin`](Self::with_trusted_origin);
/// otherwise the site's own forms are refused.
///
/// ```
/// use session_http::CrossSiteProtection;
///
/// let protection = CrossSiteProtection::default()
///     .with_trusted_origin("https://admin.example.com");
/// assert!(protection.is_enabled());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrossSiteProtection {
    enabled: bool,
    trusted: Vec<String>,
}

impl Default for CrossSiteProtection {
    fn default() -> Self {
        CrossSiteProtection {
            enabled: true,
            trusted: Vec::new(),
        }
    }
}

impl CrossSiteProtection {
    /// No protection: every request passes (for APIs that do their own checks).
    pub fn disabled() -> Self {
        CrossSiteProtection {
            enabled: false,
            trusted: Vec::new(),
        }
    }

    /// Also accepts unsafe requests whose `Origin` is `origin` (`scheme://host[:port]`,
    /// as browsers send it), such as a front end served from another host.
    pub fn with_trusted_origin(mut self, origin: impl Into<String>) -> Self {
        let origin = origin.into();
        self.trusted
            .push(origin.trim_end_matches('/').to_ascii_lowercase());
        self
    }

    /// True unless [`disabled`](Self::disabled).
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// True when [`refuses`](Self::refuses) looks at more than the method of a
    /// request of `method` (an unsafe one, with the protection on).
    pub(crate) fn reads_headers(&self, method: &str) -> bool {
        self.enabled && is_unsafe(method)
    }

    /// True when the request must be refused.
    pub fn refuses(&self, request: &RequestFacts<'_>) -> bool {
        if !self.reads_headers(request.method) {
            return false;
        }
        let cross_site = request
            .sec_fetch_site
            .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"));
        if cross_site {
            return true;
        }
        let Some(origin) = request.origin else {
            return false;
        };
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        if self.trusted.contains(&origin) {
            return false;
        }
        // `null` (a sandboxed or privacy-sensitive context) and anything without a
        // host is not the request's own.
        let Some((scheme, authority)) = origin.split_once("://") else {
            return true;
        };
        let own_scheme = request.scheme.unwrap_or("http").to_ascii_lowercase();
        let own = request
            .host
            .and_then(|host| host_and_port(&host.to_ascii_lowercase(), &own_scheme));
        own.is_none() || own != host_and_port(authority, scheme) || own_scheme != scheme
    }
}

/// The host and port of `authority` (`host`, `host:port`, `[v6]:port`), the port
/// being `scheme`'s default when absent; `None` when the port is not a number.
fn host_and_port(authority: &str, scheme: &str) -> Option<(String, Option<u16>)> {
    let default = match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    };
    let (host, port) = match authority.rfind(':') {
        // A colon inside `[...]` belongs to an IPv6 address, not to a port.
        Some(colon) if !authority[colon..].contains(']') => (
            &authority[..colon],
            Some(authority[colon + 1..].parse().ok()?),
        ),
        _ => (authority, default),
    };
    Some((host.to_owned(), port))
}

/// What [`CrossSiteProtection`] looks at, as the integration reads it off a request.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestFacts<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The request's scheme when the integration knows it (the URI's, or
    /// `X-Forwarded-Proto`); `None` lets the protection assume it (see
    /// [`CrossSiteProtection`]).
    pub scheme: Option<&'a str>,
    /// The request's own host (`Host`, or the URI's authority), `host[:port]`.
    pub host: Option<&'a str>,
    /// `Origin`; `None` when absent, a header that is not text as `Some("null")`.
    pub origin: Option<&'a str>,
    /// `Sec-Fetch-Site`.
    pub sec_fetch_site: Option<&'a str>,
}

impl<'a> RequestFacts<'a> {
    /// The facts of a request, for an integration: its method, its URI's scheme and
    /// authority (when the URI carries them), and a look-up of a header's value by
    /// its lower-case name. The scheme is the URI's, else the first of
    /// `X-Forwarded-Proto`; the host is `Host`, else the URI's authority; an `Origin`
    /// that is not text is no origin of this site (`"null"`).
    ///
    /// ```
    /// use session_http::RequestFacts;
    ///
    /// let headers = [("host", "app.test"), ("origin", "https://app.test"), ("x-forwarded-proto", "https")];
    /// let header = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_bytes());
    /// let facts = RequestFacts::from_request("POST", None, None, header);
    /// assert_eq!((facts.scheme, facts.host), (Some("https"), Some("app.test")));
    /// ```
    pub fn from_request(
        method: &'a str,
        uri_scheme: Option<&'a str>,
        uri_authority: Option<&'a str>,
        header: impl Fn(&str) -> Option<&'a [u8]>,
    ) -> Self {
        let text = |name: &str| header(name).and_then(|v| std::str::from_utf8(v).ok());
        RequestFacts {
            method,
            scheme: uri_scheme.or_else(|| {
                text("x-forwarded-proto")
                    .and_then(|v| v.split(',').next())
                    .map(str::trim)
            }),
            host: text("host").or(uri_authority),
            origin: header("origin").map(|v| std::str::from_utf8(v).unwrap_or("null")),
            sec_fetch_site: text("sec-fetch-site"),
        }
    }
}

fn is_unsafe(method: &str) -> bool {
    !matches!(method, "GET" | "HEAD" | "OPTIONS" | "TRACE")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(p: &CrossSiteProtection, method: &str, pairs: &[(&str, &str)]) -> bool {
        let get = |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        p.refuses(&RequestFacts {
            method,
            scheme: get("scheme"),
            host: get("host"),
            origin: get("origin"),
            sec_fetch_site: get("sec-fetch-site"),
        })
    }

    #[test]
    fn a_cross_site_post_is_refused_and_a_same_origin_one_passes() {
        let p = CrossSiteProtection::default();
        let host = ("host", "app.test:8000");
        assert!(refused(
            &p,
            "POST",
            &[host, ("sec-fetch-site", "cross-site")]
        ));
        assert!(refused(
            &p,
            "DELETE",
            &[host, ("origin", "http://evil.test")]
        ));
        assert!(refused(&p, "PUT", &[host, ("origin", "null")]));
        assert!(refused(
            &p,
            "POST",
            &[host, ("origin", "http://app.test:9000")]
        ));
        assert!(!refused(
            &p,
            "POST",
            &[
                host,
                ("origin", "http://app.test:8000"),
                ("sec-fetch-site", "same-origin")
            ]
        ));
        assert!(
            !refused(&p, "POST", &[host]),
            "a client without browser headers passes"
        );
        assert!(
            !refused(&p, "GET", &[host, ("sec-fetch-site", "cross-site")]),
            "safe methods pass"
        );
    }

    #[test]
    fn scheme_host_and_port_are_all_compared() {
        let p = CrossSiteProtection::default();
        let post = |pairs: &[(&str, &str)]| refused(&p, "POST", pairs);
        // Another scheme on the same host and port is another origin.
        assert!(post(&[
            ("host", "app.test:8000"),
            ("origin", "https://app.test:8000")
        ]));
        assert!(post(&[
            ("scheme", "https"),
            ("host", "app.test:8000"),
            ("origin", "http://app.test:8000")
        ]));
        assert!(!post(&[
            ("scheme", "https"),
            ("host", "app.test"),
            ("origin", "https://app.test")
        ]));
        // A default port written or left out is the same port.
        assert!(!post(&[
            ("host", "app.test"),
            ("origin", "http://app.test:80")
        ]));
        assert!(!post(&[
            ("scheme", "https"),
            ("host", "app.test:443"),
            ("origin", "https://app.test")
        ]));
        assert!(post(&[
            ("host", "app.test"),
            ("origin", "https://app.test:80")
        ]));
        // IPv6 hosts, and a port that is no number.
        assert!(!post(&[
            ("host", "[::1]:8000"),
            ("origin", "http://[::1]:8000")
        ]));
        assert!(post(&[
            ("host", "[::1]:8000"),
            ("origin", "http://[::1]:8001")
        ]));
        assert!(post(&[
            ("host", "app.test:x"),
            ("origin", "http://app.test:x")
        ]));
        // Host names compare without regard to case.
        assert!(!post(&[
            ("host", "App.Test:8000"),
            ("origin", "http://app.test:8000")
        ]));
    }

    #[test]
    fn trusted_origins_pass_and_disabled_protection_passes_everything() {
        let p = CrossSiteProtection::default().with_trusted_origin("https://Admin.test/");
        let host = ("host", "app.test");
        assert!(!refused(
            &p,
            "POST",
            &[host, ("origin", "https://admin.test")]
        ));
        assert!(refused(
            &p,
            "POST",
            &[host, ("origin", "https://other.test")]
        ));
        let off = CrossSiteProtection::disabled();
        assert!(!refused(
            &off,
            "POST",
            &[host, ("sec-fetch-site", "cross-site")]
        ));
    }
}
