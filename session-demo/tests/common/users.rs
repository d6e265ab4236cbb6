//! Users and devices over HTTP: sign-in, the user's sessions, revoking one and the
//! others, and a cookie copied before sign-out.

use reqwest::header::COOKIE;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use super::{bare, cookie_header, set_cookies, TestResult};

/// One browser, holding its session cookie by hand so that a copy can be replayed.
pub struct Device {
    client: Client,
    base: String,
    /// The Cookie header this browser sends.
    pub cookie: String,
}

impl Device {
    pub fn new(base: &str) -> Result<Device, reqwest::Error> {
        Ok(Device {
            client: bare()?,
            base: base.to_owned(),
            cookie: String::new(),
        })
    }

    /// Sends `method path` with `body`, keeping the cookies the answer sets; the
    /// status and the JSON body (Null when none).
    pub async fn send(
        &mut self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value), reqwest::Error> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let r = request.send().await?;
        // What the answer sets replaces the jar (a removal only empties it).
        if !set_cookies(&r).is_empty() {
            self.cookie = cookie_header(&r);
        }
        let status = r.status();
        let text = r.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    pub async fn login(&mut self, user: &str) -> Result<StatusCode, reqwest::Error> {
        let (status, _) = self
            .send(
                reqwest::Method::POST,
                "/api/login",
                Some(json!({ "user": user })),
            )
            .await?;
        Ok(status)
    }

    /// `GET /api/me`: the status and the user, if any.
    pub async fn me(&mut self) -> Result<(StatusCode, Option<String>), reqwest::Error> {
        let (status, body) = self.send(reqwest::Method::GET, "/api/me", None).await?;
        Ok((status, body["user"].as_str().map(str::to_owned)))
    }

    /// `GET /api/me/sessions`.
    pub async fn sessions(&mut self) -> Result<(StatusCode, Value), reqwest::Error> {
        self.send(reqwest::Method::GET, "/api/me/sessions", None)
            .await
    }

    /// This browser's own device id, from its listing.
    pub async fn own_id(&mut self) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        let (_, listed) = self.sessions().await?;
        listed
            .as_array()
            .and_then(|all| all.iter().find(|d| d["current"] == json!(true)))
            .and_then(|d| d["id"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| format!("no current session listed: {listed}").into())
    }
}

/// Every route of the users API as its status codes and bodies say, on a driver
/// that keeps an index (or a cookie driver with a registry); on a cookie driver
/// without one, listing answers 501 naming the setting, and a copy of a cookie
/// from before sign-out still opens (as documented).
pub async fn users_and_devices_answer_as_specified(base: &str) -> TestResult {
    // Names no other run uses: a shared database may hold earlier runs' sessions.
    let ada = unique("ada");
    let bob_name = unique("bob");
    let mut visitor = Device::new(base)?;
    assert_eq!(visitor.me().await?.0, StatusCode::UNAUTHORIZED);
    assert_eq!(visitor.sessions().await?.0, StatusCode::UNAUTHORIZED);
    let (status, _) = visitor
        .send(
            reqwest::Method::POST,
            "/api/login",
            Some(json!({ "name": "ada" })),
        )
        .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a body without `user`");

    let (mut laptop, mut phone, mut tablet, mut bob) = (
        Device::new(base)?,
        Device::new(base)?,
        Device::new(base)?,
        Device::new(base)?,
    );
    for device in [&mut laptop, &mut phone, &mut tablet] {
        assert_eq!(device.login(&ada).await?, StatusCode::NO_CONTENT);
    }
    assert_eq!(bob.login(&bob_name).await?, StatusCode::NO_CONTENT);
    assert_eq!(laptop.me().await?, (StatusCode::OK, Some(ada.clone())));

    let (status, listed) = laptop.sessions().await?;
    if status == StatusCode::NOT_IMPLEMENTED {
        // A cookie driver without a registry: says so, and a copy outlives sign-out.
        let error = listed["error"].as_str().unwrap_or_default();
        assert!(error.contains("registry"), "{error}");
        let copy = tablet.cookie.clone();
        let (status, _) = tablet
            .send(reqwest::Method::POST, "/api/logout", None)
            .await?;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(tablet.me().await?.0, StatusCode::UNAUTHORIZED);
        tablet.cookie = copy;
        assert_eq!(
            tablet.me().await?,
            (StatusCode::OK, Some(ada.clone())),
            "without a registry the copy opens, as the docs say"
        );
        return Ok(());
    }
    assert_eq!(status, StatusCode::OK);
    let listed = listed.as_array().cloned().unwrap_or_default();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert_eq!(
        listed
            .iter()
            .filter(|d| d["current"] == json!(true))
            .count(),
        1
    );
    for device in &listed {
        let id = device["id"].as_str().unwrap_or_default();
        assert!(!id.is_empty() && !laptop.cookie.contains(id), "{device}");
        assert!(device["created_ms"].as_u64().is_some_and(|t| t > 0));
        assert!(device["last_seen_ms"].as_u64() >= device["created_ms"].as_u64());
    }
    assert_eq!(bob.sessions().await?.1.as_array().map(Vec::len), Some(1));

    // Revoke one: the phone is signed out on its next request.
    let phone_id = phone.own_id().await?;
    let bob_id = bob.own_id().await?;
    let path = format!("/api/me/sessions/{phone_id}");
    let (status, _) = laptop.send(reqwest::Method::DELETE, &path, None).await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(phone.me().await?.0, StatusCode::UNAUTHORIZED);
    let (status, _) = laptop.send(reqwest::Method::DELETE, &path, None).await?;
    assert_eq!(status, StatusCode::NOT_FOUND, "revoked already");
    let path = format!("/api/me/sessions/{bob_id}");
    let (status, _) = laptop.send(reqwest::Method::DELETE, &path, None).await?;
    assert_eq!(status, StatusCode::NOT_FOUND, "not one of ada's");
    assert_eq!(bob.me().await?.0, StatusCode::OK);

    // Sign-out replay: a copy of the tablet's cookie from before sign-out opens nothing.
    let copy = tablet.cookie.clone();
    let (status, _) = tablet
        .send(reqwest::Method::POST, "/api/logout", None)
        .await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    tablet.cookie = copy;
    assert_eq!(
        tablet.me().await?.0,
        StatusCode::UNAUTHORIZED,
        "a copy of the cookie from before sign-out opened the session"
    );

    // Revoke the others: a new phone is signed out, the laptop stays.
    let mut phone = Device::new(base)?;
    phone.login(&ada).await?;
    let (status, body) = laptop
        .send(
            reqwest::Method::POST,
            "/api/me/sessions/revoke-others",
            None,
        )
        .await?;
    assert_eq!((status, body), (StatusCode::OK, json!({ "revoked": 1 })));
    assert_eq!(phone.me().await?.0, StatusCode::UNAUTHORIZED);
    assert_eq!(laptop.me().await?, (StatusCode::OK, Some(ada.clone())));
    let (_, listed) = laptop.sessions().await?;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(bob.me().await?.0, StatusCode::OK, "bob was signed out too");
    Ok(())
}

/// `name` with a suffix no other test run uses.
pub fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{name}-{}-{nanos}", std::process::id())
}
