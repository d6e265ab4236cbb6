//! The examples, run as a user runs them (the built example binary, a real HTTP
//! client with a cookie jar), each checked for what its doc says it shows.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A running example and the address it listens on.
struct Example {
    base: String,
    _child: Child,
}

/// `target/<profile>/examples/<name>`, next to this test's `deps` folder; `cargo
/// test` builds the examples before it runs the tests.
fn binary(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let profile = exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or("the test binary is not in target/<profile>/deps")?;
    let path = profile.join("examples").join(name);
    if !path.exists() {
        return Err(format!(
            "{} is not built: run `cargo test -p session-examples`",
            path.display()
        )
        .into());
    }
    Ok(path)
}

async fn start(name: &str, args: &[&str], env: &[(&str, &str)]) -> Result<Example> {
    let mut child = Command::new(binary(name)?)
        .args(args)
        .env("ADDR", "127.0.0.1:0")
        .env_remove("APP_KEY")
        .env_remove("SESSION_DRIVER")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let base = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(base) = line.strip_prefix("listening on ") {
                return Ok::<_, std::io::Error>(Some(base.to_owned()));
            }
        }
        Ok(None)
    })
    .await??
    .ok_or_else(|| format!("example {name} exited before it listened"))?;
    // Keep reading its output so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Example {
        base,
        _child: child,
    })
}

fn client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder().cookie_store(true).build()?)
}

async fn text(response: reqwest::Response) -> Result<(u16, String)> {
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

#[tokio::test]
async fn minimal_counts_visits_in_the_cookie_session() -> Result {
    let app = start("minimal", &[], &[]).await?;
    let client = client()?;
    for n in 1..=3 {
        let (status, body) = text(client.get(&app.base).send().await?).await?;
        assert_eq!(status, 200);
        assert_eq!(body, format!("You have been here {n} times.\n"));
    }
    // Another browser has a session of its own.
    let (_, body) = text(self::client()?.get(&app.base).send().await?).await?;
    assert_eq!(body, "You have been here 1 times.\n");
    Ok(())
}

fn token_of(page: &str) -> Result<String> {
    let start = page
        .find(r#"name="_token" value=""#)
        .ok_or("no token in the form")?
        + 21;
    let len = page[start..].find('"').ok_or("unterminated token")?;
    Ok(page[start..start + len].to_owned())
}

#[tokio::test]
async fn login_regenerates_refuses_forged_forms_and_logout_ends_the_session() -> Result {
    let app = start("login", &[], &[]).await?;
    let client = client()?;
    let (_, page) = text(client.get(&app.base).send().await?).await?;
    assert!(page.contains("Not signed in"), "{page}");
    let token = token_of(&page)?;

    let url = format!("{}/login", app.base);
    let forged = client
        .post(&url)
        .form(&[("username", "mallory"), ("_token", "forged")]);
    assert_eq!(forged.send().await?.status().as_u16(), 403);

    let (status, page) = text(
        client
            .post(&url)
            .form(&[("username", "ada"), ("_token", &token)])
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Signed in as ada"), "{page}");
    // Sign-in made a new session, and with it a new form token.
    let signed_in_token = token_of(&page)?;
    assert_ne!(signed_in_token, token);

    let url = format!("{}/logout", app.base);
    let (_, page) = text(
        client
            .post(&url)
            .form(&[("_token", &signed_in_token)])
            .send()
            .await?,
    )
    .await?;
    assert!(page.contains("Not signed in"), "{page}");
    Ok(())
}

#[tokio::test]
async fn flash_is_shown_once_after_post_redirect_get() -> Result {
    let app = start("flash", &[], &[]).await?;
    let client = client()?;
    let (status, page) = text(
        client
            .post(&app.base)
            .form(&[("message", "hello")])
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, 200);
    assert!(page.contains("Saved: hello"), "{page}");
    let (_, page) = text(client.get(&app.base).send().await?).await?;
    assert!(!page.contains("Saved: hello"), "{page}");
    Ok(())
}

#[tokio::test]
async fn typed_keeps_a_struct_in_the_session() -> Result {
    let app = start("typed", &[], &[]).await?;
    let client = client()?;
    client
        .post(format!("{}/cart/apple", app.base))
        .send()
        .await?;
    client
        .post(format!("{}/cart/pear", app.base))
        .send()
        .await?;
    let (_, cart) = text(client.get(format!("{}/cart", app.base)).send().await?).await?;
    assert_eq!(cart, r#"{"items":["apple","pear"],"coupon":null}"#);
    Ok(())
}

#[tokio::test]
async fn custom_store_serves_sessions_from_its_own_map() -> Result {
    let app = start("custom_store", &[], &[]).await?;
    let client = client()?;
    let (_, first) = text(client.get(&app.base).send().await?).await?;
    let (_, second) = text(client.get(&app.base).send().await?).await?;
    assert_eq!(first, "visit 1, kept in the app's own map\n");
    assert_eq!(second, "visit 2, kept in the app's own map\n");
    Ok(())
}

#[tokio::test]
async fn redis_config_keeps_sessions_in_the_redis_session_toml_names() -> Result {
    let port = 6379;
    if std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        return Err("this test needs Redis on 127.0.0.1:6379: start redis-server (or run `bash scripts/test`)".into());
    }
    let dir = std::env::temp_dir().join(format!("session-examples-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let toml = dir.join("session.toml");
    std::fs::write(
        &toml,
        format!("default = \"redis\"\n[redis]\nhost = \"127.0.0.1\"\nport = {port}\nnamespace = \"session-examples\"\n"),
    )?;
    let path = toml.to_string_lossy().into_owned();
    let app = start("redis_config", &[&path], &[]).await?;
    let client = client()?;
    let (_, first) = text(client.get(&app.base).send().await?).await?;
    let (_, second) = text(client.get(&app.base).send().await?).await?;
    assert_eq!(
        (first.as_str(), second.as_str()),
        ("visit 1\n", "visit 2\n")
    );
    // A second app server on the same Redis continues the same session (the browser
    // sends its cookie to both: cookies do not depend on the port).
    let other = start("redis_config", &[&path], &[]).await?;
    let (_, third) = text(client.get(&other.base).send().await?).await?;
    assert_eq!(third, "visit 3\n");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Two browsers signed in as one user: each lists both, and one signs the other out.
#[tokio::test]
async fn devices_lists_a_users_browsers_and_signs_the_others_out() -> Result {
    let app = start("devices", &[], &[]).await?;
    let (laptop, phone) = (client()?, client()?);
    for browser in [&laptop, &phone] {
        let (_, page) = text(browser.get(&app.base).send().await?).await?;
        let token = token_of(&page)?;
        let (status, page) = text(
            browser
                .post(format!("{}/login", app.base))
                .form(&[("username", "ada"), ("_token", &token)])
                .send()
                .await?,
        )
        .await?;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("Signed in as ada"), "{page}");
    }
    let (_, page) = text(laptop.get(&app.base).send().await?).await?;
    assert_eq!(page.matches(r#"<li class="device">"#).count(), 2, "{page}");
    assert_eq!(page.matches("(this browser)").count(), 1, "{page}");
    let (_, page) = text(
        laptop
            .post(format!("{}/devices/revoke-others", app.base))
            .form(&[("_token", &token_of(&page)?)])
            .send()
            .await?,
    )
    .await?;
    assert_eq!(page.matches(r#"<li class="device">"#).count(), 1, "{page}");
    let (_, page) = text(phone.get(&app.base).send().await?).await?;
    assert!(page.contains("Not signed in"), "the other browser: {page}");
    Ok(())
}
