//! The demo over real HTTP on the SQLite driver, configured as `session.toml` would
//! (a database file of the test's own): the same scenarios every driver passes.

mod common;

use common::*;
use session_tower::SessionConfig;

/// The server and the directory its database file lives in (removed when dropped).
async fn server() -> Result<(tempfile::TempDir, String), Box<dyn std::error::Error + Send + Sync>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("sessions.db");
    let config = SessionConfig::from_toml_str(&format!(
        "default = \"sqlite\"\n[sqlite]\npath = {:?}\n",
        path.to_string_lossy()
    ))?;
    let (layer, _) = session_demo::session_layer(config).await?;
    Ok((dir, serve(layer).await?))
}

http_scenarios!(server());
