//! The HTML page: a visit counter, flash messages, the signed-in user, and forms.

use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use serde::Deserialize;
use session_tower::Session;

/// `GET /`.
pub async fn index(session: Session) -> Result<Html<String>, session_tower::Error> {
    let visits = session.increment("visits", 1).await?;
    let message: Option<String> = session.get("message").await?;
    let user: Option<String> = session.get("user").await?;
    let token = session.csrf_token().await?;
    let hidden = format!(
        r#"<input type="hidden" name="_token" value="{}">"#,
        escape(&token)
    );
    let message = message
        .map(|m| format!(r#"<p id="flash" class="flash">{}</p>"#, escape(&m)))
        .unwrap_or_default();
    let account = match user {
        Some(user) => format!(
            r#"<p id="user">Signed in as <strong>{}</strong></p>
<form method="post" action="/logout">{hidden}<button id="logout" type="submit">Sign out</button></form>"#,
            escape(&user)
        ),
        None => format!(
            r#"<p id="user">Not signed in</p>
<form method="post" action="/login">{hidden}<input id="username" name="username" placeholder="name" required>
<button id="login" type="submit">Sign in</button></form>"#
        ),
    };
    Ok(Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Session demo</title>
<style>body{{font-family:sans-serif;max-width:40em;margin:2em auto}}.flash{{background:#efe;padding:.5em;border:1px solid #8c8}}</style>
</head><body>
<h1>Session demo</h1>
{message}
<p>Visits in this session: <span id="visits">{visits}</span></p>
{account}
<form method="post" action="/flash">{hidden}<input id="message" name="message" placeholder="a message for the next page" required>
<button id="send" type="submit">Flash it</button></form>
</body></html>"#
    )))
}

/// Form bodies with one text field.
#[derive(Deserialize)]
pub struct MessageForm {
    message: String,
    #[serde(rename = "_token", default)]
    token: String,
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    #[serde(rename = "_token", default)]
    token: String,
}

/// The sign-out form: its cross-site request token only.
#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(rename = "_token", default)]
    token: String,
}

fn back_home() -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, "/")]).into_response()
}

/// The answer to a form whose cross-site request token is not this session's.
fn forged() -> Response {
    (
        StatusCode::FORBIDDEN,
        "This form has expired or was not sent from this site; reload the page and try again.",
    )
        .into_response()
}

/// `POST /flash`: flash the message, redirect to `/`.
pub async fn flash(
    session: Session,
    Form(form): Form<MessageForm>,
) -> Result<Response, session_tower::Error> {
    if !session.verify_csrf_token(&form.token).await? {
        return Ok(forged());
    }
    session.flash("message", &form.message).await?;
    Ok(back_home())
}

/// `POST /login`: new session id (against fixation), remember the user.
pub async fn login(
    session: Session,
    Form(form): Form<LoginForm>,
) -> Result<Response, session_tower::Error> {
    if !session.verify_csrf_token(&form.token).await? {
        return Ok(forged());
    }
    session.regenerate().await?;
    session.set("user", form.username.trim()).await?;
    session
        .flash("message", &format!("Signed in as {}", form.username.trim()))
        .await?;
    Ok(back_home())
}

/// `POST /logout`: destroy the session; the goodbye lives in a new one.
pub async fn logout(
    session: Session,
    Form(form): Form<TokenForm>,
) -> Result<Response, session_tower::Error> {
    if !session.verify_csrf_token(&form.token).await? {
        return Ok(forged());
    }
    session.invalidate().await?;
    session.flash("message", "Signed out").await?;
    Ok(back_home())
}

/// Escapes text for HTML.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(
            super::escape(r#"<b a="1">&'"#),
            "&lt;b a=&quot;1&quot;&gt;&amp;&#39;"
        );
    }
}
