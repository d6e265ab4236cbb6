//! The same demo on actix-web with `session-actix`: the same page, forms and JSON
//! API (the same route answers and page as the axum demo), for the
//! same HTTP scenarios.
//!
//! ```no_run
//! # async fn run() -> Result<(), session_demo::Error> {
//! let config = session_tower::SessionConfig::load(None)?;
//! let sessions = session_actix::SessionMiddleware::from_config(&config).await
//!     .map_err(|e| std::io::Error::other(e.to_string()))?;
//! let listener = std::net::TcpListener::bind("127.0.0.1:8001")?;
//! let about = session_demo::About::new(config.default.clone(), false);
//! session_demo::actix::serve(listener, sessions, about).await?;
//! # Ok(()) }
//! ```

use actix_web::http::header::{ContentType, HOST, LOCATION};
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use session_actix::{Error, Session, SessionMiddleware};

use crate::answers::{self, Answer};
use crate::page::{self, FormAnswer, LoginForm, MessageForm, TokenForm};
use crate::About;

type Result = std::result::Result<HttpResponse, Error>;

fn respond(answer: std::result::Result<Answer, session_core::Error>) -> Result {
    let answer = answer?;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Ok(match answer.body {
        Some(body) => HttpResponse::build(status).json(body),
        None => HttpResponse::new(status),
    })
}

fn form_answer(answer: std::result::Result<FormAnswer, session_core::Error>) -> Result {
    Ok(match answer? {
        FormAnswer::Home => HttpResponse::SeeOther()
            .insert_header((LOCATION, "/"))
            .finish(),
        FormAnswer::Forged => HttpResponse::Forbidden().body(page::FORGED),
    })
}

async fn index(about: web::Data<About>, request: HttpRequest, session: Session) -> Result {
    let host = request.headers().get(HOST).and_then(|h| h.to_str().ok());
    let html = page::render(&about, host, &session).await?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::html())
        .body(html))
}

async fn flash_form(session: Session, form: web::Form<MessageForm>) -> Result {
    form_answer(page::flash_message(&session, &form.message, &form.token).await)
}

async fn login(session: Session, form: web::Form<LoginForm>) -> Result {
    form_answer(page::sign_in(&session, &form.username, &form.token).await)
}

async fn logout(session: Session, form: web::Form<TokenForm>) -> Result {
    form_answer(page::sign_out(&session, &form.token).await)
}

async fn all(session: Session) -> Result {
    respond(answers::all(&session).await)
}

async fn get(session: Session, key: web::Path<String>) -> Result {
    respond(answers::get(&session, &key).await)
}

async fn has(session: Session, key: web::Path<String>) -> Result {
    respond(answers::has(&session, &key).await)
}

async fn set(session: Session, key: web::Path<String>, body: web::Bytes) -> Result {
    respond(answers::set(&session, &key, &body).await)
}

async fn delete(session: Session, key: web::Path<String>) -> Result {
    respond(answers::delete(&session, &key).await)
}

async fn pull(session: Session, key: web::Path<String>) -> Result {
    respond(answers::pull(&session, &key).await)
}

async fn flash(session: Session, key: web::Path<String>, body: web::Bytes) -> Result {
    respond(answers::flash(&session, &key, &body).await)
}

async fn increment(session: Session, key: web::Path<String>, body: web::Bytes) -> Result {
    respond(answers::increment(&session, &key, &body).await)
}

async fn flush(session: Session) -> Result {
    respond(answers::flush(&session).await)
}

async fn regenerate(session: Session) -> Result {
    respond(answers::regenerate(&session).await)
}

async fn invalidate(session: Session) -> Result {
    respond(answers::invalidate(&session).await)
}

async fn logout_others(session: Session, form: web::Form<TokenForm>) -> Result {
    form_answer(page::sign_out_others(&session, &form.token).await)
}

async fn api_login(session: Session, body: web::Bytes) -> Result {
    respond(answers::login(&session, &body).await)
}

async fn me(session: Session) -> Result {
    respond(answers::me(&session).await)
}

async fn my_sessions(session: Session) -> Result {
    respond(answers::my_sessions(&session).await)
}

async fn revoke_session(session: Session, id: web::Path<String>) -> Result {
    respond(answers::revoke_session(&session, &id).await)
}

async fn revoke_others(session: Session) -> Result {
    respond(answers::revoke_others(&session).await)
}

async fn api_logout(session: Session) -> Result {
    respond(answers::logout(&session).await)
}

/// The demo's routes (the middleware is added by [`serve`]).
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/", web::get().to(index))
        .route("/flash", web::post().to(flash_form))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout))
        .route("/health", web::get().to(|| async { "ok" }))
        .route("/api/session/regenerate", web::post().to(regenerate))
        .route("/api/session/invalidate", web::post().to(invalidate))
        .service(
            web::resource("/api/session")
                .route(web::get().to(all))
                .route(web::delete().to(flush)),
        )
        .route("/api/session/{key}/pull", web::post().to(pull))
        .service(
            web::resource("/api/session/{key}")
                .route(web::head().to(has))
                .route(web::get().to(get))
                .route(web::put().to(set))
                .route(web::delete().to(delete)),
        )
        .route("/api/flash/{key}", web::post().to(flash))
        .route("/api/counter/{key}", web::put().to(increment))
        .route("/logout-others", web::post().to(logout_others))
        .route("/api/login", web::post().to(api_login))
        .route("/api/logout", web::post().to(api_logout))
        .route("/api/me", web::get().to(me))
        .route("/api/me/sessions", web::get().to(my_sessions))
        .route(
            "/api/me/sessions/revoke-others",
            web::post().to(revoke_others),
        )
        .route("/api/me/sessions/{id}", web::delete().to(revoke_session));
}

/// Serves the demo on `listener` with `sessions`, until the server stops.
pub async fn serve(
    listener: std::net::TcpListener,
    sessions: SessionMiddleware,
    about: About,
) -> std::io::Result<()> {
    let about = web::Data::new(about);
    HttpServer::new(move || {
        App::new()
            .app_data(about.clone())
            .wrap(sessions.clone())
            .configure(routes)
    })
    .workers(2)
    .listen(listener)?
    .run()
    .await
}
