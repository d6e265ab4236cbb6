//! Printing settings without their secrets: for the `Debug` output of a driver's
//! settings and for the target a store names in its logs and errors.
//!
//! Keys, passwords and URLs that carry credentials (in their user info or their
//! query, as `postgres://app@db/app?password=...` does) never reach a log line, an
//! error message or `Debug` output.
//!
//! ```
//! use session_core::redact;
//!
//! assert_eq!(
//!     redact::url("postgres://app:hunter2@db:5432/app?sslmode=require&password=hunter2"),
//!     "postgres://app:***@db:5432/app?sslmode=***&password=***",
//! );
//! assert_eq!(format!("{:?}", redact::secret(&Some("hunter2"))), "Some(\"***\")");
//! ```

use std::fmt;

/// What a secret prints as.
const HIDDEN: &str = "***";

/// `url` with the password of its user info and the value of every query parameter
/// replaced by `***`; the scheme, user, host, port, path and parameter names stay, so
/// a log still says where the store connects. Text that is not a URL is hidden whole.
pub fn url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return HIDDEN.to_owned();
    };
    let (before_fragment, _fragment) = url.split_once('#').unwrap_or((url, ""));
    let (before_query, query) = match before_fragment.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (before_fragment, None),
    };
    let rest = before_query.get(scheme_end..).unwrap_or_default();
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let mut out = String::with_capacity(url.len() + 8);
    out.push_str(&url[..scheme_end]);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            match userinfo.split_once(':') {
                Some((user, _password)) => {
                    out.push_str(user);
                    out.push(':');
                    out.push_str(HIDDEN);
                }
                None => out.push_str(userinfo),
            }
            out.push('@');
            out.push_str(host);
        }
        None => out.push_str(authority),
    }
    out.push_str(path);
    if let Some(query) = query {
        out.push('?');
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            let name = pair.split_once('=').map_or(pair, |(name, _)| name);
            out.push_str(name);
            out.push('=');
            out.push_str(HIDDEN);
        }
    }
    out
}

/// An optional secret for `Debug`: `None`, or `Some("***")`.
pub fn secret<T>(value: &Option<T>) -> impl fmt::Debug + '_ {
    value.as_ref().map(|_| HIDDEN)
}

/// A list of secrets for `Debug`: as many `"***"` as it holds.
pub fn secrets<T>(values: &[T]) -> impl fmt::Debug + '_ {
    Hidden(values.len())
}

/// An optional URL for `Debug`, through [`url`].
pub fn optional_url(value: &Option<String>) -> impl fmt::Debug + '_ {
    value.as_deref().map(url)
}

struct Hidden(usize);

impl fmt::Debug for Hidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries((0..self.0).map(|_| HIDDEN)).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_query_values_are_hidden() {
        for (given, shown) in [
            ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
            ("redis://:pw@host:1/2", "redis://:***@host:1/2"),
            ("redis://user@host", "redis://user@host"),
            ("rediss://u:p@ss@host/x", "rediss://u:***@host/x"),
            (
                "postgres://h/db?password=pw&user=a@b",
                "postgres://h/db?password=***&user=***",
            ),
            ("postgres://h/db?pw#frag", "postgres://h/db?pw=***"),
            ("host:6379", "***"),
        ] {
            assert_eq!(url(given), shown, "{given}");
        }
    }

    #[test]
    fn secrets_print_hidden() {
        assert_eq!(format!("{:?}", secret(&None::<String>)), "None");
        assert_eq!(format!("{:?}", secrets(&["a", "b"])), r#"["***", "***"]"#);
        assert_eq!(
            format!("{:?}", optional_url(&Some("redis://:pw@h".into()))),
            r#"Some("redis://:***@h")"#
        );
    }
}
