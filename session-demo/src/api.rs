//! The JSON API on axum: each route carries the answer of [`answers`](crate::answers).

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use session_tower::Session;

use crate::answers::{self, Answer};

type Result = std::result::Result<Response, session_tower::Error>;

fn respond(answer: std::result::Result<Answer, session_core::Error>) -> Result {
    let answer = answer?;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Ok(match answer.body {
        Some(body) => (status, Json(body)).into_response(),
        None => status.into_response(),
    })
}

/// `GET /api/session`.
pub async fn all(session: Session) -> Result {
    respond(answers::all(&session).await)
}

/// `GET /api/session/{key}`.
pub async fn get(session: Session, Path(key): Path<String>) -> Result {
    respond(answers::get(&session, &key).await)
}

/// `HEAD /api/session/{key}`.
pub async fn has(session: Session, Path(key): Path<String>) -> Result {
    respond(answers::has(&session, &key).await)
}

/// `PUT /api/session/{key}`.
pub async fn set(session: Session, Path(key): Path<String>, body: Bytes) -> Result {
    respond(answers::set(&session, &key, &body).await)
}

/// `DELETE /api/session/{key}`.
pub async fn delete(session: Session, Path(key): Path<String>) -> Result {
    respond(answers::delete(&session, &key).await)
}

/// `POST /api/session/{key}/pull`.
pub async fn pull(session: Session, Path(key): Path<String>) -> Result {
    respond(answers::pull(&session, &key).await)
}

/// `POST /api/flash/{key}`.
pub async fn flash(session: Session, Path(key): Path<String>, body: Bytes) -> Result {
    respond(answers::flash(&session, &key, &body).await)
}

/// `PUT /api/counter/{key}`.
pub async fn increment(session: Session, Path(key): Path<String>, body: Bytes) -> Result {
    respond(answers::increment(&session, &key, &body).await)
}

/// `DELETE /api/session`.
pub async fn flush(session: Session) -> Result {
    respond(answers::flush(&session).await)
}

/// `POST /api/session/regenerate`.
pub async fn regenerate(session: Session) -> Result {
    respond(answers::regenerate(&session).await)
}

/// `POST /api/session/invalidate`.
pub async fn invalidate(session: Session) -> Result {
    respond(answers::invalidate(&session).await)
}

/// `POST /api/login`.
pub async fn login(session: Session, body: Bytes) -> Result {
    respond(answers::login(&session, &body).await)
}

/// `GET /api/me`.
pub async fn me(session: Session) -> Result {
    respond(answers::me(&session).await)
}

/// `GET /api/me/sessions`.
pub async fn my_sessions(session: Session) -> Result {
    respond(answers::my_sessions(&session).await)
}

/// `DELETE /api/me/sessions/{id}`.
pub async fn revoke_session(session: Session, Path(id): Path<String>) -> Result {
    respond(answers::revoke_session(&session, &id).await)
}

/// `POST /api/me/sessions/revoke-others`.
pub async fn revoke_others(session: Session) -> Result {
    respond(answers::revoke_others(&session).await)
}

/// `POST /api/logout`.
pub async fn logout(session: Session) -> Result {
    respond(answers::logout(&session).await)
}
