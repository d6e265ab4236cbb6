//! [`SessionLayer`] and [`SessionService`]: a session on every request, saved once
//! after the handler.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{HeaderValue, CACHE_CONTROL, VARY};
use http::{Request, Response, StatusCode};
use session_core::{Expiry, SessionStore};
use session_http::lifecycle::{self, Sessions};
use session_http::{Drivers, RequestFacts, SessionConfig};
use tower_layer::Layer;
use tower_service::Service;

use crate::cookies::{self, CookieOptions};
use crate::{CrossSiteProtection, Error};

/// Adds a lazily loaded [`Session`](session_core::Session) to every request's extensions and saves it after
/// the handler.
///
/// - A route that never touches the session costs no store call and sends no cookie.
/// - A changed session is saved once, in one store call, and the token is sent in
///   `Set-Cookie` (split over numbered cookies when large).
/// - An emptied or invalidated session that was stored gets a removal cookie.
/// - When the store is down or slow, the answer is **503** with no `Set-Cookie`, so
///   the client keeps its cookie; the cause is logged. A session too large to store
///   is **413**.
/// - Unsafe requests a browser marks cross-site get **403** before any session work
///   ([`CrossSiteProtection`], on by default).
/// - `Cache-Control: private, no-store` on responses that set or remove the cookie;
///   `Vary: Cookie` on responses of requests that read the session.
/// - By default a **5xx answer from the handler is not saved** (a failed request
///   should not half-apply its session changes); see
///   [`save_on_server_error`](Self::save_on_server_error).
///
/// ```
/// use axum::{routing::get, Router};
/// use session_core::MemoryStore;
/// use session_tower::{Session, SessionLayer};
///
/// async fn visits(session: Session) -> Result<String, session_tower::Error> {
///     let n = session.increment("visits", 1).await?;
///     Ok(format!("visit number {n}"))
/// }
///
/// let app: Router = Router::new()
///     .route("/", get(visits))
///     .layer(SessionLayer::new(MemoryStore::new()));
/// ```
#[derive(Clone, Debug)]
pub struct SessionLayer {
    shared: Arc<Sessions>,
}

impl SessionLayer {
    /// A layer over `store` with the default expiry (one hour idle) and cookie.
    pub fn new(store: impl SessionStore) -> Self {
        SessionLayer::from_arc(Arc::new(store))
    }

    /// A layer over a shared store.
    pub fn from_arc(store: Arc<dyn SessionStore>) -> Self {
        SessionLayer {
            shared: Arc::new(Sessions::new(store)),
        }
    }

    /// Builds the store named by `config.default` (Masonite's driver name) and the
    /// layer around it, with the configured expiry and cookie. `cookie` is built in,
    /// `redis` with the `redis-store` feature; naming a driver that is not there is a
    /// configuration error that says so. For a driver of your own, see
    /// [`from_config_with`](Self::from_config_with).
    pub async fn from_config(config: &SessionConfig) -> Result<Self, Error> {
        SessionLayer::from_config_with(config, &Drivers::new()).await
    }

    /// [`from_config`](Self::from_config), with drivers of your own that
    /// `session.toml` can name.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use session_core::{MemoryStore, SessionStore};
    /// use session_tower::{Drivers, SessionConfig, SessionLayer};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_tower::Error> {
    /// let config = SessionConfig::from_toml_str(r#"
    ///     default = "memory"
    ///     [memory]
    ///     max_session_bytes = 4096
    /// "#)?;
    /// let drivers = Drivers::new().with("memory", |table| {
    ///     let bytes = table.get("max_session_bytes").and_then(|v| v.as_integer()).unwrap_or(65536);
    ///     let store = MemoryStore::new().with_max_session_bytes(bytes as usize);
    ///     Ok(Arc::new(store) as Arc<dyn SessionStore>)
    /// });
    /// let layer = SessionLayer::from_config_with(&config, &drivers).await?;
    /// # let _ = layer; Ok(()) }
    /// ```
    pub async fn from_config_with(
        config: &SessionConfig,
        drivers: &Drivers,
    ) -> Result<Self, Error> {
        let store = drivers.build(config).await?;
        Ok(SessionLayer::from_arc(store)
            .with_expiry(config.expiry())
            .with_cookie(CookieOptions::from_settings(&config.cookie)))
    }

    fn edit(mut self, f: impl FnOnce(&mut Sessions)) -> Self {
        let shared = Arc::make_mut(&mut self.shared);
        f(shared);
        self
    }

    /// Sets the expiry policy.
    pub fn with_expiry(self, expiry: Expiry) -> Self {
        self.edit(|s| s.expiry = expiry)
    }

    /// Sets the cookie's name and attributes.
    pub fn with_cookie(self, cookie: CookieOptions) -> Self {
        self.edit(|s| s.set_cookie(cookie))
    }

    /// Sessions end after `idle` without a request, in the store and in the browser
    /// (a persistent cookie whose `Max-Age` follows the idle deadline), in one call:
    /// what tower-sessions' `Expiry::OnInactivity` does.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_core::MemoryStore;
    /// use session_tower::SessionLayer;
    ///
    /// let layer = SessionLayer::new(MemoryStore::new())
    ///     .with_inactivity_expiry(Duration::from_secs(600));
    /// ```
    pub fn with_inactivity_expiry(self, idle: std::time::Duration) -> Self {
        self.edit(|s| s.expire_after_inactivity(idle))
    }

    /// Sets the cross-site request protection (on by default: see
    /// [`CrossSiteProtection`]).
    pub fn with_cross_site_protection(self, protection: CrossSiteProtection) -> Self {
        self.edit(|s| s.cross_site = protection)
    }

    /// Save the session even when the handler answers 5xx (default: false).
    pub fn save_on_server_error(self, yes: bool) -> Self {
        self.edit(|s| s.save_on_server_error = yes)
    }

    /// Sends every session's lifecycle events (created, signed in, regenerated,
    /// signed out, revoked) to `sink`, for an audit log.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use session_core::{MemoryStore, SessionEvent};
    /// use session_tower::SessionLayer;
    ///
    /// let sessions = SessionLayer::new(MemoryStore::new())
    ///     .with_events(Arc::new(|event: &SessionEvent| tracing::info!(?event, "session")));
    /// ```
    pub fn with_events(self, sink: session_core::EventSink) -> Self {
        self.edit(|s| s.events = Some(sink))
    }

    /// The users of this SessionLayer's store, for use outside a request (an admin page, a
    /// background job): list and revoke a user's sessions.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// use session_core::MemoryStore;
    /// use session_tower::SessionLayer;
    ///
    /// let sessions = SessionLayer::new(MemoryStore::new());
    /// let users = sessions.users();
    /// assert_eq!(users.revoke_all("ada").await?, 0);
    /// # Ok(()) }
    /// ```
    pub fn users(&self) -> session_core::Users {
        self.shared.users()
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service [`SessionLayer`] wraps around an inner service.
#[derive(Clone)]
pub struct SessionService<S> {
    inner: S,
    shared: Arc<Sessions>,
}

impl<S> std::fmt::Debug for SessionService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionService").finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let method = request.method().as_str();
        let cookie_headers = cookies::values(request.headers());
        let Some(begun) = self
            .shared
            .begin(method, || facts(&request), cookie_headers)
        else {
            tracing::info!(method = %request.method(), uri = %request.uri(), "cross-site request refused");
            return Box::pin(async { Ok(status_only(StatusCode::FORBIDDEN)) });
        };
        request.extensions_mut().insert(begun.session.clone());
        // The service that was made ready is called here, before the future starts.
        let response = self.inner.call(request);
        let shared = self.shared.clone();
        Box::pin(async move {
            let mut response = response.await?;
            let outcome = shared.end(&begun, response.status().as_u16()).await;
            if let Some(status) = outcome.failure {
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return Ok(status_only(status));
            }
            let headers = response.headers_mut();
            let varies = lifecycle::varies_by_cookie(
                headers.get_all(VARY).iter().filter_map(|v| v.to_str().ok()),
            );
            if outcome.vary_cookie && !varies {
                headers.append(VARY, HeaderValue::from_static("Cookie"));
            }
            cookies::append(headers, outcome.set_cookies);
            if outcome.no_store {
                headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
            }
            Ok(response)
        })
    }
}

/// What the cross-site protection looks at, off `request`.
fn facts<B>(request: &Request<B>) -> RequestFacts<'_> {
    let headers = request.headers();
    RequestFacts::from_request(
        request.method().as_str(),
        request.uri().scheme_str(),
        request.uri().authority().map(|a| a.as_str()),
        |name| headers.get(name).map(|v| v.as_bytes()),
    )
}

fn status_only<B: Default>(status: StatusCode) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = status;
    response
}
