//! What each JSON API route answers, framework-neutral: the axum
//! routes (`api`) and the actix-web routes (`actix`) only carry these answers.

use serde_json::{json, Value};
use session_core::{Error, Session};

/// A status and an optional JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body, if any.
    pub body: Option<Value>,
}

type Result<T = Answer> = std::result::Result<T, Error>;

fn status(status: u16) -> Answer {
    Answer { status, body: None }
}

fn json(status: u16, body: Value) -> Answer {
    Answer {
        status,
        body: Some(body),
    }
}

fn found_or_404(key: &str, value: Option<Value>) -> Answer {
    match value {
        Some(v) => json(200, v),
        None => json(404, json!({ "error": format!("no value under `{key}`") })),
    }
}

/// The request body as JSON, or the 400 answer saying what is wrong with it.
fn json_body(body: &[u8]) -> std::result::Result<Value, Answer> {
    serde_json::from_slice(body).map_err(|e| {
        json(
            400,
            json!({ "error": format!("the body is not valid JSON: {e}") }),
        )
    })
}

/// `GET /api/session`: every value.
pub async fn all(session: &Session) -> Result {
    Ok(json(
        200,
        serde_json::to_value(session.all().await?).unwrap_or_default(),
    ))
}

/// `GET /api/session/{key}`: 200 with the value, 404 when absent.
pub async fn get(session: &Session, key: &str) -> Result {
    Ok(found_or_404(key, session.get::<Value>(key).await?))
}

/// `HEAD /api/session/{key}`: 200 when present, 404 when absent.
pub async fn has(session: &Session, key: &str) -> Result {
    Ok(status(if session.has(key).await? { 200 } else { 404 }))
}

/// `PUT /api/session/{key}` with a JSON body: stores it, 204.
pub async fn set(session: &Session, key: &str, body: &[u8]) -> Result {
    let value = match json_body(body) {
        Ok(v) => v,
        Err(answer) => return Ok(answer),
    };
    session.set(key, &value).await?;
    Ok(status(204))
}

/// `DELETE /api/session/{key}`: 204.
pub async fn delete(session: &Session, key: &str) -> Result {
    session.delete(key).await?;
    Ok(status(204))
}

/// `POST /api/session/{key}/pull`: 200 with the value (now removed), 404 when absent.
pub async fn pull(session: &Session, key: &str) -> Result {
    Ok(found_or_404(key, session.pull::<Value>(key).await?))
}

/// `POST /api/flash/{key}` with a JSON body: flashes it, 204.
pub async fn flash(session: &Session, key: &str, body: &[u8]) -> Result {
    let value = match json_body(body) {
        Ok(v) => v,
        Err(answer) => return Ok(answer),
    };
    session.flash(key, &value).await?;
    Ok(status(204))
}

/// `PUT /api/counter/{key}` with a JSON integer body: adds it, 200 with the new value.
pub async fn increment(session: &Session, key: &str, body: &[u8]) -> Result {
    let by = match json_body(body).map(|v| v.as_i64()) {
        Ok(Some(by)) => by,
        Ok(None) => {
            return Ok(json(
                400,
                json!({ "error": "the body must be a JSON integer" }),
            ))
        }
        Err(answer) => return Ok(answer),
    };
    match session.increment(key, by).await {
        Ok(n) => Ok(json(200, json!(n))),
        Err(e @ (Error::Decode { .. } | Error::CounterOverflow { .. })) => {
            Ok(json(409, json!({ "error": e.to_string() })))
        }
        Err(e) => Err(e),
    }
}

/// `DELETE /api/session`: flush, 204.
pub async fn flush(session: &Session) -> Result {
    session.flush().await?;
    Ok(status(204))
}

/// `POST /api/session/regenerate`: new id, same data, 204.
pub async fn regenerate(session: &Session) -> Result {
    session.regenerate().await?;
    Ok(status(204))
}

/// `POST /api/session/invalidate`: flush, new id, old destroyed, 204.
pub async fn invalidate(session: &Session) -> Result {
    session.invalidate().await?;
    Ok(status(204))
}

/// The answer to an error of the users routes: 401 when not signed in, 501 when the
/// store keeps no index of users' sessions (the body says which setting gives one).
fn users_error(error: Error) -> Result {
    match error {
        Error::NotSignedIn => Ok(json(401, json!({ "error": "not signed in" }))),
        e @ Error::NoUserIndex { .. } => Ok(json(501, json!({ "error": e.to_string() }))),
        e => Err(e),
    }
}

/// The longest user id the demo accepts, in bytes.
const MAX_USER_BYTES: usize = 256;

/// `POST /api/login` with `{"user": "ada"}`: signs in (new id, new form token), 204.
pub async fn login(session: &Session, body: &[u8]) -> Result {
    let user = match json_body(body) {
        Ok(v) => v.get("user").and_then(Value::as_str).map(str::to_owned),
        Err(answer) => return Ok(answer),
    };
    let Some(user) = user.filter(|u| !u.trim().is_empty() && u.len() <= MAX_USER_BYTES) else {
        return Ok(json(
            400,
            json!({ "error": format!("the body must be {{\"user\": \"...\"}}, a name of 1 to {MAX_USER_BYTES} bytes") }),
        ));
    };
    session.login(&user).await?;
    Ok(status(204))
}

/// `GET /api/me`: 200 `{"user": ...}`, 401 when not signed in.
pub async fn me(session: &Session) -> Result {
    match session.user().await? {
        Some(user) => Ok(json(200, json!({ "user": user }))),
        None => users_error(Error::NotSignedIn),
    }
}

/// `GET /api/me/sessions`: 200 with the user's live sessions (`id`, `current`,
/// `created_ms`, `last_seen_ms`).
pub async fn my_sessions(session: &Session) -> Result {
    match session.devices().await {
        Ok(devices) => Ok(json(200, serde_json::to_value(devices).unwrap_or_default())),
        Err(e) => users_error(e),
    }
}

/// `DELETE /api/me/sessions/{id}`: 204, or 404 when it is not one of the user's.
pub async fn revoke_session(session: &Session, id: &str) -> Result {
    match session.revoke_device(id).await {
        Ok(true) => Ok(status(204)),
        Ok(false) => Ok(json(404, json!({ "error": "no such session of yours" }))),
        Err(e) => users_error(e),
    }
}

/// `POST /api/me/sessions/revoke-others`: 200 `{"revoked": n}`.
pub async fn revoke_others(session: &Session) -> Result {
    match session.revoke_other_devices().await {
        Ok(n) => Ok(json(200, json!({ "revoked": n }))),
        Err(e) => users_error(e),
    }
}

/// `POST /api/logout`: ends and revokes the session, 204.
pub async fn logout(session: &Session) -> Result {
    session.logout().await?;
    Ok(status(204))
}
