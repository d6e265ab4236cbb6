//! The whole conformance kit on a 3-master Redis Cluster.
mod common;

session_testkit::conformance_tests!(|| async {
    let mut settings = session_redis::RedisSettings::default();
    settings.cluster = common::cluster().addrs();
    settings.namespace = common::fresh_namespace();
    common::connect(&settings).await
});
