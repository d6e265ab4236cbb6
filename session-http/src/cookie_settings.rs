//! [`CookieSettings`]: the `[cookie]` table of `session.toml`.

use serde::Deserialize;
use session_core::Error;

/// The `SameSite` cookie attribute.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SameSite {
    /// `SameSite=Lax` (the default).
    #[default]
    Lax,
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=None` (requires `secure`).
    None,
}

/// `[cookie]`: the cookie's name and attributes (for every driver) and the sealing
/// keys (for the cookie driver).
///
/// ```
/// use session_http::CookieSettings;
///
/// let settings: CookieSettings = toml::from_str(r#"
///     name = "sid"
///     secure = true
///     same_site = "strict"
/// "#).unwrap();
/// assert_eq!(settings.name, "sid");
/// settings.validate()?;
/// # Ok::<(), session_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct CookieSettings {
    /// Cookie name (default `session`).
    pub name: String,
    /// Base64 of the 32-byte key that seals cookies; `APP_KEY` when absent.
    pub key: Option<String>,
    /// Older keys that still open cookies (rotation).
    pub previous_keys: Vec<String>,
    /// Send the `Secure` attribute.
    pub secure: bool,
    /// The `Domain` attribute.
    pub domain: Option<String>,
    /// The `Path` attribute (default `/`).
    pub path: String,
    /// The `SameSite` attribute (default `lax`).
    pub same_site: SameSite,
    /// Prefix the name with `__Host-` (implies `secure`, no domain, path `/`).
    pub host_prefix: bool,
    /// How many cookies a large cookie-driver session may be split over (default 4).
    pub max_chunks: usize,
    /// Send a persistent cookie (`Max-Age`: the remaining idle timeout, capped by the
    /// lifetime) that outlives the browser, instead of a browser-session cookie
    /// (default false). One session can choose with `Session::remember`.
    pub persistent: bool,
    /// Memory in bytes for cookies the cookie driver already opened, so a cookie
    /// sent again is not decrypted again (default 8 MiB; 0 turns it off).
    pub opened_cache_bytes: usize,
    /// Where signed-in cookie sessions are registered, so that sign-out and
    /// revocation stick and a user's sessions can be listed: `"redis"` (the `[redis]`
    /// table's server) or `"postgres"` (the `[postgres]` table's database). Default
    /// none: a cookie session keeps no server state, so a copy of a cookie taken
    /// before sign-out stays valid until it expires.
    pub registry: Option<String>,
}

/// The keys print as `"***"`.
impl std::fmt::Debug for CookieSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CookieSettings")
            .field("name", &self.name)
            .field("key", &session_core::redact::secret(&self.key))
            .field(
                "previous_keys",
                &session_core::redact::secrets(&self.previous_keys),
            )
            .field("secure", &self.secure)
            .field("domain", &self.domain)
            .field("path", &self.path)
            .field("same_site", &self.same_site)
            .field("host_prefix", &self.host_prefix)
            .field("max_chunks", &self.max_chunks)
            .field("persistent", &self.persistent)
            .field("opened_cache_bytes", &self.opened_cache_bytes)
            .field("registry", &self.registry)
            .finish()
    }
}

impl Default for CookieSettings {
    fn default() -> Self {
        CookieSettings {
            name: "session".into(),
            key: None,
            previous_keys: Vec::new(),
            secure: false,
            domain: None,
            path: "/".into(),
            same_site: SameSite::Lax,
            host_prefix: false,
            max_chunks: 4,
            persistent: false,
            opened_cache_bytes: 8 << 20,
            registry: None,
        }
    }
}

impl CookieSettings {
    /// Applies the environment overrides (`SESSION_COOKIE` for the name, `APP_KEY`
    /// for the key when none is set), reading variables through `var`.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) {
        if let Some(v) = var("SESSION_COOKIE") {
            self.name = v;
        }
        if self.key.is_none() {
            self.key = var("APP_KEY").filter(|k| !k.is_empty());
        }
    }

    /// Checks the values; the error names the setting (`cookie.name`, ...).
    pub fn validate(&self) -> Result<(), Error> {
        if self.name.is_empty()
            || !self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            return Err(Error::config(
                "cookie.name",
                "must be a non-empty cookie token (letters, digits, and !#$%&'*+-.^_`|~)",
            ));
        }
        if self.max_chunks == 0 || self.max_chunks > 32 {
            return Err(Error::config(
                "cookie.max_chunks",
                "must be between 1 and 32",
            ));
        }
        if self.same_site == SameSite::None && !self.secure && !self.host_prefix {
            return Err(Error::config(
                "cookie.same_site",
                "`none` requires `secure = true` (browsers drop such cookies otherwise)",
            ));
        }
        if let Some(other) = self
            .registry
            .as_deref()
            .filter(|r| !matches!(*r, "redis" | "postgres"))
        {
            return Err(Error::config(
                "cookie.registry",
                format!("unknown registry `{other}`: `redis` or `postgres`"),
            ));
        }
        Ok(())
    }
}
