//! TLS (`rediss://`, `tls = true`): the client trusts the system's roots, or the
//! certificate authorities of `tls_ca_file` instead. Without the `tls` feature a TLS
//! setting is refused with the way to turn it on.

use redis::cluster::ClusterClientBuilder;
use redis::ConnectionInfo;

use crate::{Error, RedisSettings};

/// The client for one node.
pub(crate) fn client(
    info: ConnectionInfo,
    settings: &RedisSettings,
) -> Result<redis::Client, Error> {
    let target = info.addr().to_string();
    let failed = |source| Error::Redis {
        target: target.clone(),
        source,
    };
    match authorities(settings)? {
        #[cfg(feature = "tls")]
        Some(root_cert) => redis::Client::build_with_tls(
            info,
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(root_cert),
            },
        )
        .map_err(failed),
        _ => redis::Client::open(info).map_err(failed),
    }
}

/// The cluster client's builder, with the certificate authorities to trust.
pub(crate) fn cluster(
    builder: ClusterClientBuilder,
    settings: &RedisSettings,
) -> Result<ClusterClientBuilder, Error> {
    match authorities(settings)? {
        #[cfg(feature = "tls")]
        Some(root_cert) => Ok(builder.certs(redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(root_cert),
        })),
        _ => Ok(builder),
    }
}

/// The PEM text of `tls_ca_file`, if set; refuses TLS without the feature, and a CA
/// file for a connection that is not TLS.
fn authorities(settings: &RedisSettings) -> Result<Option<Vec<u8>>, Error> {
    let tls = settings.uses_tls();
    if tls && !cfg!(feature = "tls") {
        let field = if settings.url.is_some() {
            "redis.url"
        } else {
            "redis.tls"
        };
        return Err(config(
            field,
            "TLS needs the `tls` feature of session-redis (with session-tower: its `redis-tls` feature)",
        ));
    }
    let Some(path) = &settings.tls_ca_file else {
        return Ok(None);
    };
    if !tls {
        return Err(config(
            "redis.tls_ca_file",
            "is set, but the connection is not TLS: use a `rediss://` URL or `tls = true`",
        ));
    }
    let pem = std::fs::read(path).map_err(|e| {
        config(
            "redis.tls_ca_file",
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
        return Err(config(
            "redis.tls_ca_file",
            format!("{} holds no PEM certificate", path.display()),
        ));
    }
    Ok(Some(pem))
}

fn config(field: &str, reason: impl Into<String>) -> Error {
    Error::Config {
        field: field.into(),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_ca(url: &str, pem: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        let path = std::env::temp_dir().join(format!(
            "session-redis-ca-{}-{}.pem",
            std::process::id(),
            pem.len()
        ));
        std::fs::write(&path, pem).map_err(|e| config("test", e.to_string()))?;
        let settings = RedisSettings {
            url: Some(url.to_owned()),
            tls_ca_file: Some(path.clone()),
            ..RedisSettings::default()
        };
        let result = authorities(&settings);
        let _ = std::fs::remove_file(path);
        result
    }

    #[test]
    fn a_ca_file_must_hold_a_certificate_and_serve_a_tls_connection() {
        let pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        if cfg!(feature = "tls") {
            assert!(matches!(with_ca("rediss://h:1", pem), Ok(Some(_))));
            let error = with_ca("rediss://h:1", b"not a certificate")
                .err()
                .map(|e| e.to_string());
            assert!(error.is_some_and(|e| e.contains("no PEM certificate")));
        } else {
            let error = with_ca("rediss://h:1", pem).err().map(|e| e.to_string());
            assert!(error.is_some_and(|e| e.contains("`tls` feature")));
        }
        let error = with_ca("redis://h:1", pem).err().map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.contains("redis.tls_ca_file") && e.contains("not TLS")));
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let settings = RedisSettings {
            tls: true,
            tls_ca_file: Some("/nonexistent/ca.pem".into()),
            ..RedisSettings::default()
        };
        let error = authorities(&settings).err().map(|e| e.to_string());
        if cfg!(feature = "tls") {
            assert!(error.is_some_and(|e| e.contains("/nonexistent/ca.pem")));
        } else {
            assert!(error.is_some_and(|e| e.contains("redis.tls")));
        }
    }
}
