//! Sessions for actix-web: [`SessionMiddleware`] puts a lazily loaded session on every
//! request and saves it once after the handler; [`Session`] is the extractor. The
//! configuration is the same `session.toml` as for axum ([`SessionConfig`]), and the
//! cookie behaviour is the same code: attributes, chunking past 4 KB, removal, cache
//! headers, cross-site protection (`session_http::lifecycle`).
//!
//! # Example
//!
//! ```no_run
//! use actix_web::{web, App, HttpServer};
//! use session_actix::{Session, SessionConfig, SessionMiddleware};
//!
//! async fn index(session: Session) -> Result<String, session_actix::Error> {
//!     let visits = session.increment("visits", 1).await?;
//!     let notice: Option<String> = session.get("notice").await?;
//!     Ok(format!("visit {visits}, notice: {notice:?}"))
//! }
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // session.toml if present, SESSION_DRIVER / APP_KEY from the environment.
//!     let config = SessionConfig::load(None)?;
//!     let sessions = SessionMiddleware::from_config(&config).await?;
//!     HttpServer::new(move || App::new().wrap(sessions.clone()).route("/", web::get().to(index)))
//!         .bind("127.0.0.1:8080")?
//!         .run()
//!         .await?;
//!     Ok(())
//! }
//! ```
//!
//! # Features
//!
//! `redis-store`, `redis-tls`, `postgres-store`, `mysql-store` and `sqlite-store` let `session.toml` name those
//! drivers, as with `session-tower`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::future::{ready, Future, Ready};
use std::ops::Deref;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{HeaderValue, CACHE_CONTROL, COOKIE, SET_COOKIE, VARY};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use session_core::{Expiry, SessionStore};
use session_http::framing::{cookie_header_text, CookieOptions};
use session_http::lifecycle::{self, Sessions};
use session_http::RequestFacts;

pub use session_cookie::{CookieStore, Key, Keyring};
pub use session_core::{Device, EventSink, SessionEvent, Users};
pub use session_http::{CrossSiteProtection, Drivers, SessionConfig};

/// What a handler using the session can fail with: answered 503 when the store is
/// down or slow, 413 when the session is too large to store, 500 otherwise (the
/// cause is logged, not sent).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The session failed, or building the store from `session.toml` did (see
    /// [`session_core::Error`]).
    #[error(transparent)]
    Session(#[from] session_core::Error),
    /// A handler asked for the session on a route without [`SessionMiddleware`].
    #[error("no session on this request: wrap the app (or scope) that serves this route in `SessionMiddleware`")]
    MissingMiddleware,
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        let code = match self {
            Error::Session(e) => lifecycle::status_of(e),
            Error::MissingMiddleware => 500,
        };
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        tracing::error!(error = %self, "session error");
        let status = self.status_code();
        HttpResponse::build(status).body(status.canonical_reason().unwrap_or("error"))
    }
}

/// The request's session, as an actix-web extractor. Derefs to
/// [`session_core::Session`], so every session method is there. Extracting never
/// touches the store.
#[derive(Clone, Debug)]
pub struct Session(pub session_core::Session);

impl Deref for Session {
    type Target = session_core::Session;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl FromRequest for Session {
    type Error = Error;
    type Future = Ready<Result<Session, Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = request.extensions().get::<session_core::Session>().cloned();
        ready(session.map(Session).ok_or(Error::MissingMiddleware))
    }
}

/// The middleware: `App::new().wrap(SessionMiddleware::new(store))`.
///
/// No store call for routes that never touch the session, one save after the
/// handler, `Set-Cookie` with `HttpOnly`, `SameSite=Lax`, `Path=/` by default, a
/// removal cookie when a stored session is emptied or invalidated, 503 with the
/// cookie untouched when the store fails, 413 when the session is too large, and no
/// save on 5xx answers unless asked; cross-site unsafe requests are answered 403.
#[derive(Clone, Debug)]
pub struct SessionMiddleware {
    shared: Arc<Sessions>,
}

impl SessionMiddleware {
    /// Sessions in `store`, with the default expiry and cookie.
    pub fn new(store: impl SessionStore) -> Self {
        Self::from_arc(Arc::new(store))
    }

    /// Sessions in a shared store.
    pub fn from_arc(store: Arc<dyn SessionStore>) -> Self {
        SessionMiddleware {
            shared: Arc::new(Sessions::new(store)),
        }
    }

    /// The store `config` names (built-in drivers), with its expiry and cookie.
    pub async fn from_config(config: &SessionConfig) -> Result<Self, Error> {
        Self::from_config_with(config, &Drivers::new()).await
    }

    /// [`from_config`](Self::from_config), with drivers of your own that
    /// `session.toml` can name.
    pub async fn from_config_with(
        config: &SessionConfig,
        drivers: &Drivers,
    ) -> Result<Self, Error> {
        let store = drivers.build(config).await?;
        Ok(Self::from_arc(store)
            .with_expiry(config.expiry())
            .with_cookie(CookieOptions::from_settings(&config.cookie)))
    }

    fn edit(mut self, f: impl FnOnce(&mut Sessions)) -> Self {
        f(Arc::make_mut(&mut self.shared));
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
    /// (a persistent cookie whose `Max-Age` follows the idle deadline), in one call.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_actix::SessionMiddleware;
    /// use session_core::MemoryStore;
    ///
    /// let sessions = SessionMiddleware::new(MemoryStore::new())
    ///     .with_inactivity_expiry(Duration::from_secs(600));
    /// ```
    pub fn with_inactivity_expiry(self, idle: std::time::Duration) -> Self {
        self.edit(|s| s.expire_after_inactivity(idle))
    }

    /// Sets the cross-site request protection (on by default).
    pub fn with_cross_site_protection(self, protection: CrossSiteProtection) -> Self {
        self.edit(|s| s.cross_site = protection)
    }

    /// Saves the session after 5xx answers too (default: not).
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
    /// use session_actix::SessionMiddleware;
    ///
    /// let sessions = SessionMiddleware::new(MemoryStore::new())
    ///     .with_events(Arc::new(|event: &SessionEvent| tracing::info!(?event, "session")));
    /// ```
    pub fn with_events(self, sink: session_core::EventSink) -> Self {
        self.edit(|s| s.events = Some(sink))
    }

    /// The users of this SessionMiddleware's store, for use outside a request (an admin page, a
    /// background job): list and revoke a user's sessions.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// use session_core::MemoryStore;
    /// use session_actix::SessionMiddleware;
    ///
    /// let sessions = SessionMiddleware::new(MemoryStore::new());
    /// let users = sessions.users();
    /// assert_eq!(users.revoke_all("ada").await?, 0);
    /// # Ok(()) }
    /// ```
    pub fn users(&self) -> session_core::Users {
        self.shared.users()
    }
}

impl<S, B> Transform<S, ServiceRequest> for SessionMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = SessionService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SessionService {
            service: Rc::new(service),
            shared: self.shared.clone(),
        }))
    }
}

/// The service [`SessionMiddleware`] wraps around the app.
pub struct SessionService<S> {
    service: Rc<S>,
    shared: Arc<Sessions>,
}

impl<S, B> Service<ServiceRequest> for SessionService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let service = self.service.clone();
        let shared = self.shared.clone();
        Box::pin(async move {
            let cookie_headers = request
                .headers()
                .get_all(COOKIE)
                .filter_map(|v| cookie_header_text(v.as_bytes()));
            let method = request.method().as_str();
            let Some(begun) = shared.begin(method, || facts(&request), cookie_headers) else {
                tracing::info!(method = %request.method(), uri = %request.uri(), "cross-site request refused");
                let response = HttpResponse::new(StatusCode::FORBIDDEN);
                return Ok(request.into_response(response).map_into_right_body());
            };
            request.extensions_mut().insert(begun.session.clone());
            let mut response = service.call(request).await?;
            let outcome = shared.end(&begun, response.status().as_u16()).await;
            if let Some(status) = outcome.failure {
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let (request, _) = response.into_parts();
                let response = HttpResponse::new(status);
                return Ok(ServiceResponse::new(request, response).map_into_right_body());
            }
            let headers = response.headers_mut();
            let varies =
                lifecycle::varies_by_cookie(headers.get_all(VARY).filter_map(|v| v.to_str().ok()));
            if outcome.vary_cookie && !varies {
                headers.append(VARY, HeaderValue::from_static("Cookie"));
            }
            for cookie in outcome.set_cookies {
                match HeaderValue::try_from(cookie) {
                    Ok(v) => headers.append(SET_COOKIE, v),
                    Err(e) => {
                        tracing::error!(error = %e, "session cookie is not a valid header value")
                    }
                }
            }
            if outcome.no_store {
                headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
            }
            Ok(response.map_into_left_body())
        })
    }
}

/// What the cross-site protection looks at, off `request`.
fn facts(request: &ServiceRequest) -> RequestFacts<'_> {
    let headers = request.headers();
    RequestFacts::from_request(
        request.method().as_str(),
        request.uri().scheme_str(),
        request.uri().authority().map(|a| a.as_str()),
        |name| headers.get(name).map(|v| v.as_bytes()),
    )
}
