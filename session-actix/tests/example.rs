//! The example app, run as a user runs it (`cargo run -p session-actix --example
//! actix_minimal`): the built binary against a real HTTP client with a cookie jar.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

#[tokio::test]
async fn the_minimal_example_counts_visits_in_the_cookie_session() -> Result {
    // target/<profile>/deps/this-test -> target/<profile>/examples/actix_minimal (named
    // apart from session-examples' `minimal`: a workspace build puts both in one place)
    let exe = std::env::current_exe()?;
    let profile = exe
        .parent()
        .and_then(|d| d.parent())
        .ok_or("not in target/<profile>/deps")?;
    let binary = profile.join("examples").join("actix_minimal");
    if !binary.exists() {
        return Err(format!(
            "{} is not built: run `cargo test -p session-actix`",
            binary.display()
        )
        .into());
    }
    let mut child = Command::new(binary)
        .env("ADDR", "127.0.0.1:0")
        .env_remove("APP_KEY")
        .env_remove("SESSION_DRIVER")
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    let base = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(base) = line.strip_prefix("listening on ") {
                return Ok::<_, std::io::Error>(Some(base.to_owned()));
            }
        }
        Ok(None)
    })
    .await??
    .ok_or("the example exited before it listened")?;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let client = reqwest::Client::builder().cookie_store(true).build()?;
    for n in 1..=3 {
        let response = client.get(&base).send().await?;
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(
            response.text().await?,
            format!("You have been here {n} times.\n")
        );
    }
    let other = reqwest::Client::builder().cookie_store(true).build()?;
    assert_eq!(
        other.get(&base).send().await?.text().await?,
        "You have been here 1 times.\n"
    );
    Ok(())
}
