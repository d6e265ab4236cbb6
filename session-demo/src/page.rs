//! The HTML page: what the demo shows and how it runs, a visit counter, flash
//! messages, the signed-in user, labelled forms, and the JSON API.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::{HOST, LOCATION};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use serde::Deserialize;
use session_tower::Session;

use crate::About;

/// `GET /` on axum.
pub async fn index(
    State(about): State<Arc<About>>,
    headers: HeaderMap,
    session: Session,
) -> Result<Html<String>, session_tower::Error> {
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    Ok(Html(render(&about, host, &session).await?))
}

/// The page for `session` (a visit counted), as served to `host`.
pub(crate) async fn render(
    about: &About,
    host: Option<&str>,
    session: &session_core::Session,
) -> Result<String, session_core::Error> {
    let host = host.map_or_else(|| "127.0.0.1:8000".to_owned(), escape);
    let visits = session.increment("visits", 1).await?;
    let message: Option<String> = session.get("message").await?;
    let user = session.user().await?;
    let token = session.csrf_token().await?;
    let hidden = format!(
        r#"<input type="hidden" name="_token" value="{}">"#,
        escape(&token)
    );
    let message = message
        .map(|m| {
            format!(
                r#"<p id="flash" class="flash" role="status">{}</p>"#,
                escape(&m)
            )
        })
        .unwrap_or_default();
    let account = match user {
        Some(user) => format!(
            r#"<p id="user">Signed in as <strong>{}</strong></p>
<form method="post" action="/logout">{hidden}<button id="logout" type="submit">Sign out</button></form>
{}"#,
            escape(&user),
            devices_card(session, &hidden).await?
        ),
        None => format!(
            r#"<p id="user">Not signed in</p>
<form method="post" action="/login">{hidden}<label for="username">Your name</label>
<div class="row"><input id="username" name="username" autocomplete="username" required>
<button id="login" type="submit">Sign in</button></div></form>"#
        ),
    };
    let driver = escape(&about.driver);
    let storage = match (about.driver.as_str(), about.revocable) {
        ("cookie", false) => "the whole session is sealed (XChaCha20-Poly1305) in your browser's cookie; no server keeps anything",
        ("cookie", true) => "the whole session is sealed (XChaCha20-Poly1305) in your browser's cookie; the server keeps only a registry of signed-in sessions, so that signing out sticks",
        ("redis", _) => "the session is kept in Redis; your cookie holds only its random id",
        _ => "the session is kept by this store; your cookie holds only its id",
    };
    // What signing out does is the store's to say: a cookie session lives in the
    // cookie, and without a registry a copy of it taken before sign-out still opens it.
    let sign_out = match (about.driver.as_str(), about.revocable) {
        ("cookie", false) => "signing out clears the cookie in this browser, but the cookie driver keeps nothing on the server, so a copy of the cookie taken before sign-out still opens the session until it expires (at most the session lifetime); set <code>[cookie] registry</code> to end it for good",
        ("cookie", true) => "signing out ends it in the cookie driver's registry, so no copy of the cookie opens it again",
        _ => "signing out destroys it in the store, so no copy of the cookie opens it again",
    };
    let random_key = if about.random_key {
        r#"<p id="random-key" class="warn">No cookie key is configured, so the demo made a random one: every session ends when the demo stops. Set <code>APP_KEY</code> (base64 of 32 bytes) or <code>[cookie] key</code> in <code>session.toml</code> to keep them.</p>"#
    } else {
        ""
    };
    Ok(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Session demo</title>
<style>{STYLE}</style>
</head><body>
<header>
<h1>Session demo</h1>
<p class="lead">This page keeps its state in a web session: a counter, a flash message
and a signed-in user, each stored with one call of the session API
(<code>increment</code>, <code>flash</code>, <code>login</code>).</p>
<p id="about">Running on the <strong id="driver">{driver}</strong> driver: {storage}.</p>
{random_key}
</header>
<main>
{message}
<section class="card" aria-labelledby="visits-title">
<h2 id="visits-title">Visits</h2>
<p class="big"><span id="visits">{visits}</span></p>
<p class="note">Reload the page: each visit adds one to a counter in your session.</p>
</section>
<section class="card" aria-labelledby="flash-title">
<h2 id="flash-title">Flash a message</h2>
<form method="post" action="/flash">{hidden}<label for="message">Message for the next page</label>
<div class="row"><input id="message" name="message" required>
<button id="send" type="submit">Flash it</button></div></form>
<p class="note">A flash message is shown by the next page you see, then it is gone: reload and it has disappeared.</p>
</section>
<section class="card" aria-labelledby="account-title">
<h2 id="account-title">Sign in</h2>
{account}
<p class="note" id="sign-out-note">Signing in gives the session a new id (against session fixation); {sign_out}.</p>
</section>
<section class="card wide" aria-labelledby="safety-title">
<h2 id="safety-title">Protected forms</h2>
<p id="protection">Every form here carries a token of your session, and a form posted from another site is refused with 403 before it touches the session.</p>
</section>
<section class="card wide" aria-labelledby="api-title">
<h2 id="api-title">JSON API</h2>
<p>One route per session method; bodies and answers are JSON, for example
<code>curl -c jar -b jar -X PUT -H 'content-type: application/json' -d '"ada"' http://{host}/api/session/user</code>.</p>
<table id="api">
<thead><tr><th scope="col">Route</th><th scope="col">Session method</th></tr></thead>
<tbody>
<tr><td><code>GET /api/session</code></td><td>all keys and values</td></tr>
<tr><td><code>GET /api/session/{{key}}</code></td><td><code>get</code> (404 when absent)</td></tr>
<tr><td><code>HEAD /api/session/{{key}}</code></td><td><code>has</code></td></tr>
<tr><td><code>PUT /api/session/{{key}}</code></td><td><code>set</code></td></tr>
<tr><td><code>DELETE /api/session/{{key}}</code></td><td><code>delete</code></td></tr>
<tr><td><code>POST /api/session/{{key}}/pull</code></td><td><code>pull</code> (get and delete)</td></tr>
<tr><td><code>POST /api/flash/{{key}}</code></td><td><code>flash</code></td></tr>
<tr><td><code>DELETE /api/session</code></td><td><code>flush</code></td></tr>
<tr><td><code>PUT /api/counter/{{key}}</code></td><td><code>increment</code></td></tr>
<tr><td><code>POST /api/session/regenerate</code></td><td><code>regenerate</code></td></tr>
<tr><td><code>POST /api/session/invalidate</code></td><td><code>invalidate</code></td></tr>
<tr><td><code>POST /api/login</code></td><td><code>login</code> (body <code>{{"user": "ada"}}</code>)</td></tr>
<tr><td><code>GET /api/me</code></td><td><code>user</code> (401 when not signed in)</td></tr>
<tr><td><code>GET /api/me/sessions</code></td><td><code>devices</code>: your sessions</td></tr>
<tr><td><code>DELETE /api/me/sessions/{{id}}</code></td><td><code>revoke_device</code></td></tr>
<tr><td><code>POST /api/me/sessions/revoke-others</code></td><td><code>revoke_other_devices</code></td></tr>
<tr><td><code>POST /api/logout</code></td><td><code>logout</code></td></tr>
</tbody></table>
</section>
</main>
</body></html>"#
    ))
}

/// The signed-in user's devices, each with when it signed in and was last seen, and
/// a button that signs out the others; or why this driver cannot list them.
async fn devices_card(
    session: &session_core::Session,
    hidden: &str,
) -> Result<String, session_core::Error> {
    let devices = match session.devices().await {
        Ok(devices) => devices,
        Err(e @ session_core::Error::NoUserIndex { .. }) => {
            return Ok(format!(
                r#"<p id="devices-unavailable" class="note">Your other devices cannot be listed here: {}.</p>"#,
                escape(&e.to_string())
            ))
        }
        Err(e) => return Err(e),
    };
    let now = session_core::now_ms();
    let ago = |ms: u64| {
        let minutes = now.saturating_sub(ms) / 60_000;
        match minutes {
            0 => "just now".to_owned(),
            1 => "1 minute ago".to_owned(),
            n => format!("{n} minutes ago"),
        }
    };
    let items: String = devices
        .iter()
        .map(|d| {
            let label = if d.current {
                "This browser"
            } else {
                "Another device"
            };
            format!(
                r#"<li class="device{}" data-id="{}">{label}: signed in {}, last seen {}</li>"#,
                if d.current { " current" } else { "" },
                escape(&d.id),
                ago(d.created_ms),
                ago(d.last_seen_ms),
            )
        })
        .collect();
    let others = match devices.iter().filter(|d| !d.current).count() {
        0 => "No other device is signed in as you".to_owned(),
        1 => "One other device is signed in as you".to_owned(),
        n => format!("{n} other devices are signed in as you"),
    };
    Ok(format!(
        r#"<h3 id="devices-title">Your devices ({})</h3>
<ul id="devices" aria-labelledby="devices-title">{items}</ul>
<form method="post" action="/logout-others">{hidden}<button id="logout-others" type="submit">Sign out other devices</button></form>
<p class="note" id="devices-note">{others}; signing them out ends their sessions on their next request.</p>"#,
        devices.len()
    ))
}

/// The page's style sheet.
const STYLE: &str = "
:root{color-scheme:light dark;--bg:#f6f7fb;--card:#fff;--text:#1d2330;--muted:#5b6475;--accent:#3b5bdb;--line:#dde1ea;--ok:#e6f6ea;--okline:#7cc48d;--warn:#fff4d6;--warnline:#e0b542}
@media (prefers-color-scheme:dark){:root{--bg:#14171f;--card:#1d212c;--text:#e8eaf0;--muted:#a1a8b8;--accent:#7c95ff;--line:#2e3442;--ok:#183524;--okline:#3f8f57;--warn:#3a3016;--warnline:#a8872f}}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;background:var(--bg);color:var(--text)}
header,main{max-width:60rem;margin:0 auto;padding:1.5rem}
header{padding-bottom:0}
h1{margin:.2em 0;font-size:2rem}
h2{margin:0 0 .6em;font-size:1.15rem}
.lead{font-size:1.1rem;color:var(--muted);max-width:44rem}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(17rem,1fr));gap:1rem}
ul#devices{padding-left:1.2rem}
.device.current{font-weight:600}
h3{font-size:1rem;margin:1rem 0 .4rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:1.2rem 1.3rem;box-shadow:0 1px 2px rgba(0,0,0,.04)}
.wide{grid-column:1/-1}
.big{font-size:2.6rem;font-weight:700;margin:0;color:var(--accent)}
.note{color:var(--muted);font-size:.9rem;margin-bottom:0}
.flash{grid-column:1/-1;margin:0;background:var(--ok);border:1px solid var(--okline);border-radius:10px;padding:.8rem 1rem}
.warn{background:var(--warn);border:1px solid var(--warnline);border-radius:10px;padding:.7rem 1rem}
label{display:block;font-weight:600;margin-bottom:.3rem}
.row{display:flex;gap:.5rem}
input{flex:1;min-width:0;font:inherit;padding:.45rem .6rem;border:1px solid var(--line);border-radius:8px;background:var(--bg);color:var(--text)}
button{font:inherit;font-weight:600;padding:.45rem 1rem;border:0;border-radius:8px;background:var(--accent);color:#fff;cursor:pointer}
button:hover{filter:brightness(1.1)}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.88em}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line)}
th{color:var(--muted);font-weight:600}
";

/// Form bodies with one text field.
#[derive(Deserialize)]
pub struct MessageForm {
    pub(crate) message: String,
    #[serde(rename = "_token", default)]
    pub(crate) token: String,
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct LoginForm {
    pub(crate) username: String,
    #[serde(rename = "_token", default)]
    pub(crate) token: String,
}

/// The sign-out form: its cross-site request token only.
#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(rename = "_token", default)]
    pub(crate) token: String,
}

/// What a form post answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FormAnswer {
    /// 303 to `/`.
    Home,
    /// 403: the form's cross-site request token is not this session's.
    Forged,
}

/// The text of a [`FormAnswer::Forged`] answer.
pub(crate) const FORGED: &str =
    "This form has expired or was not sent from this site; reload the page and try again.";

impl IntoResponse for FormAnswer {
    fn into_response(self) -> Response {
        match self {
            FormAnswer::Home => (StatusCode::SEE_OTHER, [(LOCATION, "/")]).into_response(),
            FormAnswer::Forged => (StatusCode::FORBIDDEN, FORGED).into_response(),
        }
    }
}

/// Flash `message` for the next page.
pub(crate) async fn flash_message(
    session: &session_core::Session,
    message: &str,
    token: &str,
) -> Result<FormAnswer, session_core::Error> {
    if !session.verify_csrf_token(token).await? {
        return Ok(FormAnswer::Forged);
    }
    session.flash("message", message).await?;
    Ok(FormAnswer::Home)
}

/// Sign in: new session id (against fixation), remember the user.
pub(crate) async fn sign_in(
    session: &session_core::Session,
    username: &str,
    token: &str,
) -> Result<FormAnswer, session_core::Error> {
    if !session.verify_csrf_token(token).await? {
        return Ok(FormAnswer::Forged);
    }
    session.login(username.trim()).await?;
    session
        .flash("message", &format!("Signed in as {}", username.trim()))
        .await?;
    Ok(FormAnswer::Home)
}

/// Sign out: end the session (a server store destroys it; the cookie store can only
/// clear this browser's cookie); the goodbye lives in a new one.
pub(crate) async fn sign_out(
    session: &session_core::Session,
    token: &str,
) -> Result<FormAnswer, session_core::Error> {
    if !session.verify_csrf_token(token).await? {
        return Ok(FormAnswer::Forged);
    }
    session.logout().await?;
    session.flash("message", "Signed out").await?;
    Ok(FormAnswer::Home)
}

/// Sign out the user's other devices; this one stays signed in.
pub(crate) async fn sign_out_others(
    session: &session_core::Session,
    token: &str,
) -> Result<FormAnswer, session_core::Error> {
    if !session.verify_csrf_token(token).await? {
        return Ok(FormAnswer::Forged);
    }
    let ended = session.revoke_other_devices().await?;
    session
        .flash("message", &format!("Signed out {ended} other device(s)"))
        .await?;
    Ok(FormAnswer::Home)
}

/// `POST /flash`: flash the message, redirect to `/`.
pub async fn flash(
    session: Session,
    Form(form): Form<MessageForm>,
) -> Result<FormAnswer, session_tower::Error> {
    Ok(flash_message(&session, &form.message, &form.token).await?)
}

/// `POST /login`.
pub async fn login(
    session: Session,
    Form(form): Form<LoginForm>,
) -> Result<FormAnswer, session_tower::Error> {
    Ok(sign_in(&session, &form.username, &form.token).await?)
}

/// `POST /logout-others`.
pub async fn logout_others(
    session: Session,
    Form(form): Form<TokenForm>,
) -> Result<FormAnswer, session_tower::Error> {
    Ok(sign_out_others(&session, &form.token).await?)
}

/// `POST /logout`.
pub async fn logout(
    session: Session,
    Form(form): Form<TokenForm>,
) -> Result<FormAnswer, session_tower::Error> {
    Ok(sign_out(&session, &form.token).await?)
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
