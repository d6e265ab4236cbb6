//! The one error type of `session-redis`.

use std::time::Duration;

/// What can go wrong setting up or talking to Redis.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `[redis]` setting is unusable.
    #[error("invalid `{field}`: {reason}")]
    Config {
        /// The setting (`redis.url`, `redis.cluster[0]`, ...).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// Redis could not be reached or answered with an error.
    #[error("redis at {target} failed: {source}{}", hint(source))]
    Redis {
        /// Where we tried to connect.
        target: String,
        /// What the client said.
        #[source]
        source: redis::RedisError,
    },
    /// Redis did not answer in time.
    #[error("redis at {target} did not answer within {after:?}")]
    Timeout {
        /// Where we tried to connect.
        target: String,
        /// The configured limit.
        after: Duration,
    },
}

/// What to do about a failure, by its cause.
fn hint(source: &redis::RedisError) -> &'static str {
    use redis::ErrorKind;
    if source.kind() == ErrorKind::AuthenticationFailed || source.code() == Some("NOAUTH") {
        "; the password (or username) is wrong: check `redis.password`, `redis.username` or the URL"
    } else if source.is_connection_refusal() {
        "; nothing listens there: is redis-server running? (start one with `redis-server --port PORT`)"
    } else if source.to_string().contains("failed to lookup address")
        || source.to_string().contains("Name or service not known")
    {
        "; the host name does not resolve: check `redis.host` or the URL"
    } else if source.to_string().contains("invalid peer certificate") {
        "; the server's TLS certificate is not one this client trusts: set `redis.tls_ca_file` to the PEM file of the CA that signed it (and connect by the name or address the certificate is for)"
    } else if source.to_string().contains("HELLO") || source.to_string().contains("TRACKING") {
        "; this server does not speak RESP3 or client tracking (Redis 6 or newer), which the near-cache needs: upgrade it, or set `redis.near_cache = false`"
    } else {
        ""
    }
}

impl From<Error> for session_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Config { field, reason } => session_core::Error::config(field, reason),
            Error::Timeout { after, .. } => session_core::Error::Timeout {
                store: "redis",
                after,
            },
            e @ Error::Redis { .. } => session_core::Error::Unavailable {
                store: "redis",
                source: Box::new(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_without_resp3_is_named_with_the_way_out() {
        let source = redis::RedisError::from((
            redis::ErrorKind::Server(redis::ServerErrorKind::ResponseError),
            "An error was signalled by the server",
            "unknown command 'HELLO'".to_owned(),
        ));
        let text = Error::Redis {
            target: "127.0.0.1:6379".into(),
            source,
        }
        .to_string();
        assert!(text.contains("near_cache = false"), "{text}");
    }
}
