//! The JSON API: one route per `Session` method (SPEC section 9).

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use session_tower::Session;

type Answer = Result<Response, session_tower::Error>;

fn not_found(key: &str) -> Response {
    let body = Json(json!({ "error": format!("no value under `{key}`") }));
    (StatusCode::NOT_FOUND, body).into_response()
}

/// A 400 answer with a JSON error message.
fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

/// The request body as JSON, or what is wrong with it.
fn json_body(body: &Bytes) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|e| format!("the body is not valid JSON: {e}"))
}

fn found_or_404(key: &str, value: Option<Value>) -> Response {
    match value {
        Some(v) => Json(v).into_response(),
        None => not_found(key),
    }
}

/// `GET /api/session`: every value.
pub async fn all(session: Session) -> Answer {
    Ok(Json(session.all().await?).into_response())
}

/// `GET /api/session/{key}`: 200 with the value, 404 when absent.
pub async fn get(session: Session, Path(key): Path<String>) -> Answer {
    let value = session.get::<Value>(&key).await?;
    Ok(found_or_404(&key, value))
}

/// `HEAD /api/session/{key}`: 200 when present, 404 when absent.
pub async fn has(session: Session, Path(key): Path<String>) -> Answer {
    let status = if session.has(&key).await? {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    Ok(status.into_response())
}

/// `PUT /api/session/{key}` with a JSON body: stores it, 204.
pub async fn set(session: Session, Path(key): Path<String>, body: Bytes) -> Answer {
    let value = match json_body(&body) {
        Ok(v) => v,
        Err(message) => return Ok(bad_request(message)),
    };
    session.set(&key, &value).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /api/session/{key}`: 204.
pub async fn delete(session: Session, Path(key): Path<String>) -> Answer {
    session.delete(&key).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/session/{key}/pull`: 200 with the value (now removed), 404 when absent.
pub async fn pull(session: Session, Path(key): Path<String>) -> Answer {
    let value = session.pull::<Value>(&key).await?;
    Ok(found_or_404(&key, value))
}

/// `POST /api/flash/{key}` with a JSON body: flashes it, 204.
pub async fn flash(session: Session, Path(key): Path<String>, body: Bytes) -> Answer {
    let value = match json_body(&body) {
        Ok(v) => v,
        Err(message) => return Ok(bad_request(message)),
    };
    session.flash(&key, &value).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PUT /api/counter/{key}` with a JSON integer body: adds it, 200 with the new value.
pub async fn increment(session: Session, Path(key): Path<String>, body: Bytes) -> Answer {
    let by = match json_body(&body).map(|v| v.as_i64()) {
        Ok(Some(by)) => by,
        Ok(None) => return Ok(bad_request("the body must be a JSON integer".into())),
        Err(message) => return Ok(bad_request(message)),
    };
    match session.increment(&key, by).await {
        Ok(n) => Ok(Json(n).into_response()),
        Err(
            e @ (session_core::Error::Decode { .. } | session_core::Error::CounterOverflow { .. }),
        ) => {
            let body = Json(json!({ "error": e.to_string() }));
            Ok((StatusCode::CONFLICT, body).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// `DELETE /api/session`: flush, 204.
pub async fn flush(session: Session) -> Answer {
    session.flush().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/session/regenerate`: new id, same data, 204.
pub async fn regenerate(session: Session) -> Answer {
    session.regenerate().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/session/invalidate`: flush, new id, old destroyed, 204.
pub async fn invalidate(session: Session) -> Answer {
    session.invalidate().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
