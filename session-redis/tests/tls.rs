//! TLS against a real `redis-server --tls-port`, with certificates made here: a
//! private CA and a server certificate for 127.0.0.1 it signed. Needs the `tls`
//! feature, which `cargo test --workspace` turns on (the demo uses
//! `session-tower/redis-tls`).
mod common;

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use session_core::{Expiry, SessionStore};
use session_redis::{RedisSettings, RedisStore};
use session_testkit::servers::RedisServer;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// A TLS Redis and the PEM file of the CA that signed its certificate.
struct TlsRedis {
    server: RedisServer,
    tls_port: u16,
    ca_file: std::path::PathBuf,
    _files: tempfile::TempDir,
}

fn tls_redis() -> Result<TlsRedis, Box<dyn std::error::Error + Send + Sync>> {
    let files = temp_dir("session-redis-tls")?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "session-redis test CA");
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);
    let server_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
    let server_key = KeyPair::generate()?;
    let server_cert = server_params.signed_by(&server_key, &issuer)?;

    let path = |name: &str| files.path().join(name);
    std::fs::write(path("ca.crt"), ca_cert.pem())?;
    std::fs::write(path("server.crt"), server_cert.pem())?;
    std::fs::write(path("server.key"), server_key.serialize_pem())?;

    let tls_port = session_testkit::servers::free_port()?;
    let text = |p: std::path::PathBuf| p.to_string_lossy().into_owned();
    let (cert, key, ca_file) = (
        text(path("server.crt")),
        text(path("server.key")),
        text(path("ca.crt")),
    );
    let port = tls_port.to_string();
    let server = RedisServer::start_with_args(&[
        "--tls-port",
        &port,
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &ca_file,
        "--tls-auth-clients",
        "no",
    ])?;
    Ok(TlsRedis {
        server,
        tls_port,
        ca_file: path("ca.crt"),
        _files: files,
    })
}

fn settings(redis: &TlsRedis, url: String) -> RedisSettings {
    let mut settings = RedisSettings::default();
    settings.url = Some(url);
    settings.tls_ca_file = Some(redis.ca_file.clone());
    settings.namespace = common::fresh_namespace();
    settings
}

#[tokio::test]
async fn sessions_round_trip_over_rediss_with_a_private_ca() -> TestResult {
    let redis = tls_redis()?;
    for near_cache in [true, false] {
        let mut settings = settings(&redis, format!("rediss://127.0.0.1:{}", redis.tls_port));
        settings.near_cache = near_cache;
        let store: Arc<dyn SessionStore> = Arc::new(RedisStore::connect(&settings).await?);
        let token = common::save_new(&store, Expiry::default(), &[("user", "ada")]).await?;
        assert_eq!(
            common::read(&store, &token, "user").await?.as_deref(),
            Some("ada")
        );
        // The session is in this server: one key under the namespace.
        let keys =
            redis
                .server
                .cli(&["--scan", "--pattern", &format!("{}:*", settings.namespace)])?;
        assert_eq!(keys.lines().count(), 1, "{keys}");
    }
    // `tls = true` with host and port is the same connection.
    let mut settings = settings(&redis, String::new());
    settings.url = None;
    settings.port = redis.tls_port;
    settings.tls = true;
    let store: Arc<dyn SessionStore> = Arc::new(RedisStore::connect(&settings).await?);
    let token = common::save_new(&store, Expiry::default(), &[("user", "bob")]).await?;
    assert_eq!(
        common::read(&store, &token, "user").await?.as_deref(),
        Some("bob")
    );
    Ok(())
}

#[tokio::test]
async fn a_server_the_ca_did_not_sign_or_a_plain_url_is_refused_at_startup() -> TestResult {
    let redis = tls_redis()?;
    // Without the private CA, the system's roots do not trust the server.
    let mut untrusted = settings(&redis, format!("rediss://127.0.0.1:{}", redis.tls_port));
    untrusted.tls_ca_file = None;
    untrusted.connect_timeout_ms = 2000;
    let error = RedisStore::connect(&untrusted)
        .await
        .err()
        .ok_or("connected to an untrusted server")?;
    let text = error.to_string();
    assert!(text.contains("127.0.0.1"), "{text}");
    assert!(
        text.contains("certificate") && text.contains("redis.tls_ca_file"),
        "the error must name the certificate as the cause and the way out: {text}"
    );

    // A plain connection to the TLS port is no session store either.
    let mut plain = RedisSettings::default();
    plain.port = redis.tls_port;
    plain.connect_timeout_ms = 500;
    plain.response_timeout_ms = 500;
    assert!(RedisStore::connect(&plain).await.is_err());

    // A CA file for a connection that is not TLS is a configuration mistake.
    let mut mistaken = settings(&redis, format!("redis://127.0.0.1:{}", redis.server.port()));
    mistaken.near_cache = false;
    let error = RedisStore::connect(&mistaken)
        .await
        .err()
        .ok_or("a CA file without TLS was accepted")?;
    assert!(error.to_string().contains("redis.tls_ca_file"), "{error}");
    Ok(())
}

/// A folder of its own, removed when dropped.
fn temp_dir(prefix: &str) -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new().prefix(prefix).tempdir()
}
