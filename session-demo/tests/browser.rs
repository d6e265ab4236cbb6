//! The demo as a newcomer meets it: the real binary started with no configuration,
//! then driven by headless Chromium through WebDriver (Debian's `chromium` and
//! `chromium-driver`; `scripts/test` installs them).

mod common;

use common::{wait_for, Running};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::Locator;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use session_testkit::servers::free_port;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;
type Boxed = Box<dyn std::error::Error + Send + Sync>;

/// `cargo run -p session-demo` as built by cargo for this test: no session.toml, no
/// session environment variables.
fn start_demo(port: u16) -> Result<(Running, tempfile::TempDir), Boxed> {
    start_demo_with(port, None)
}

/// The demo binary in an empty directory; with `config`, that text is written to
/// `custom.toml` there and passed as `--config custom.toml`.
fn start_demo_with(port: u16, config: Option<&str>) -> Result<(Running, tempfile::TempDir), Boxed> {
    let dir = temp_dir("session-demo-zero-config")?;
    let mut command = Command::new(env!("CARGO_BIN_EXE_session-demo"));
    if let Some(text) = config {
        std::fs::write(dir.path().join("custom.toml"), text)?;
        command.args(["--config", "custom.toml"]);
    }
    let child = command
        .current_dir(dir.path())
        .env("SESSION_DEMO_ADDR", format!("127.0.0.1:{port}"))
        .env_remove("APP_KEY")
        .env_remove("SESSION_DRIVER")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    Ok((Running(child), dir))
}

/// How the process ended, if it did within `limit`.
async fn exit_within(process: &mut Running, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(exit)) = process.0.try_wait() {
            return Some(exit);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

#[tokio::test]
async fn zero_config_demo_serves_the_page_says_so_and_stops_on_sigterm() -> TestResult {
    let port = free_port()?;
    let (mut demo, _dir) = start_demo(port)?;
    wait_for(&format!("http://127.0.0.1:{port}/health")).await?;
    let page = reqwest::get(format!("http://127.0.0.1:{port}/"))
        .await?
        .text()
        .await?;
    assert!(page.contains("Session demo") && page.contains(r#"<span id="visits">1</span>"#));
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(demo.0.id().to_string())
        .status()?;
    assert!(status.success());
    let exit = exit_within(&mut demo, Duration::from_secs(10))
        .await
        .ok_or("the demo did not stop within 10 s of SIGTERM")?;
    assert!(exit.success(), "graceful shutdown exits 0, got {exit}");
    let mut log = String::new();
    if let Some(mut out) = demo.0.stdout.take() {
        out.read_to_string(&mut log)?;
    }
    assert!(
        log.contains("random key"),
        "the log must say a random key is in use:\n{log}"
    );
    assert!(log.contains("shutting down"), "{log}");
    Ok(())
}

#[tokio::test]
async fn the_binary_reads_its_config_file_and_switches_to_redis() -> TestResult {
    let redis = session_testkit::servers::RedisServer::start()?;
    let config = format!(
        "default = \"redis\"\n\n[redis]\nhost = \"127.0.0.1\"\nport = {}\npassword = \"\"\noptions = {{ db = 2 }}\ntimeout = 60\nnamespace = \"masonite4\"\n",
        redis.port()
    );
    let port = free_port()?;
    let (_demo, _dir) = start_demo_with(port, Some(&config))?;
    let base = format!("http://127.0.0.1:{port}");
    wait_for(&format!("{base}/health")).await?;
    let client = reqwest::Client::builder().cookie_store(true).build()?;
    let r = client
        .put(format!("{base}/api/session/user"))
        .body("\"ada\"")
        .send()
        .await?;
    assert_eq!(r.status(), reqwest::StatusCode::NO_CONTENT);
    let r = client
        .get(format!("{base}/api/session/user"))
        .send()
        .await?;
    assert_eq!(r.json::<Value>().await?, json!("ada"));
    // The session is in that Redis, in db 2, under the namespace, with the timeout.
    let keys = redis.cli(&["-n", "2", "--scan", "--pattern", "masonite4:*"])?;
    let keys: Vec<&str> = keys.lines().filter(|k| !k.is_empty()).collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let ttl: i64 = redis.cli(&["-n", "2", "ttl", keys[0]])?.trim().parse()?;
    assert!((55..=60).contains(&ttl), "TTL {ttl}");
    Ok(())
}

/// Headless Chromium driven through Debian's `chromedriver` by fantoccini (a
/// maintained WebDriver client), each browser with a profile of its own.
struct Browser {
    client: fantoccini::Client,
    _driver: Running,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Result<Browser, Boxed> {
        for program in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
            if !std::path::Path::new(program).exists() {
                return Err(format!(
                    "{program} is missing: `apt-get install chromium chromium-driver` (or run `bash scripts/test`, which does)"
                )
                .into());
            }
        }
        let port = free_port()?;
        let driver = Running(
            Command::new("/usr/bin/chromedriver")
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?,
        );
        let root = format!("http://127.0.0.1:{port}");
        wait_for(&format!("{root}/status")).await?;
        let profile = temp_dir("session-demo-chromium")?;
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                         "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         format!("--user-data-dir={}", profile.path().display())]
            }),
        );
        // Plain HTTP to the local chromedriver: no TLS stack is needed.
        let client = fantoccini::ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&root)
            .await?;
        Ok(Browser {
            client,
            _driver: driver,
            _profile: profile,
        })
    }

    async fn open(&self, url: &str) -> Result<(), Boxed> {
        Ok(self.client.goto(url).await?)
    }

    async fn text(&self, css: &str) -> Result<String, Boxed> {
        Ok(self.client.find(Locator::Css(css)).await?.text().await?)
    }

    /// The text of `css` once the page shows `expected` there (navigation after a
    /// click may still be under way), or what it showed last after 5 s.
    async fn text_when(&self, css: &str, expected: &str) -> Result<String, Boxed> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = self.text(css).await.unwrap_or_default();
            if text == expected || Instant::now() > deadline {
                return Ok(text);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn has(&self, css: &str) -> Result<bool, Boxed> {
        Ok(!self.client.find_all(Locator::Css(css)).await?.is_empty())
    }

    async fn type_into(&self, css: &str, text: &str) -> Result<(), Boxed> {
        let field = self.client.find(Locator::Css(css)).await?;
        Ok(field.send_keys(text).await?)
    }

    async fn click(&self, css: &str) -> Result<(), Boxed> {
        self.client.find(Locator::Css(css)).await?.click().await?;
        Ok(())
    }

    /// Waits until the page's URL is `url` (a form that submits itself navigates).
    async fn lands_on(&self, url: &str) -> Result<(), Boxed> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = self.client.current_url().await?;
            if now.as_str() == url {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("the browser stayed at {now}, never reached {url}").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs `script` in the page and gives its return value.
    async fn script(&self, script: &str) -> Result<Value, Boxed> {
        Ok(self.client.execute(script, Vec::new()).await?)
    }

    /// The page's HTML as the browser holds it now.
    async fn source(&self) -> Result<String, Boxed> {
        Ok(self.client.source().await?)
    }

    /// A PNG of the window, saved as `target/screenshots/NAME.png`; gives its path.
    async fn screenshot(&self, name: &str) -> Result<std::path::PathBuf, Boxed> {
        let png = self.client.screenshot().await?;
        // target/<profile>/deps/this-test -> target/screenshots
        let exe = std::env::current_exe()?;
        let target = exe
            .ancestors()
            .nth(3)
            .ok_or("the test binary is not in target/<profile>/deps")?;
        let dir = target.join("screenshots");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    async fn reload(&self) -> Result<(), Boxed> {
        Ok(self.client.refresh().await?)
    }

    /// Ends the WebDriver session, which closes Chromium (chromedriver is killed when
    /// the browser is dropped).
    async fn close(self) -> Result<(), Boxed> {
        Ok(self.client.close().await?)
    }
}

#[tokio::test]
async fn help_prints_usage_and_exits_0_and_a_wrong_argument_exits_2() -> TestResult {
    let help = Command::new(env!("CARGO_BIN_EXE_session-demo"))
        .arg("--help")
        .output()?;
    assert!(help.status.success(), "{help:?}");
    let text = String::from_utf8_lossy(&help.stdout);
    for expected in [
        "Usage: session-demo",
        "--addr",
        "SESSION_DEMO_ADDR",
        "--config",
    ] {
        assert!(
            text.contains(expected),
            "`{expected}` missing from --help:\n{text}"
        );
    }
    let wrong = Command::new(env!("CARGO_BIN_EXE_session-demo"))
        .arg("--bogus")
        .output()?;
    assert_eq!(wrong.status.code(), Some(2), "{wrong:?}");
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("--bogus"));
    Ok(())
}

#[tokio::test]
async fn the_page_explains_itself_and_labels_every_form() -> TestResult {
    let port = free_port()?;
    let (_demo, _dir) = start_demo(port)?;
    let home = format!("http://127.0.0.1:{port}/");
    wait_for(&home).await?;
    let b = Browser::start().await?;
    b.client.set_window_size(1200, 1400).await?;
    b.open(&home).await?;

    // What it demonstrates, which driver runs, and that the key is random.
    let lead = b.text(".lead").await?;
    assert!(lead.contains("web session"), "{lead}");
    assert_eq!(b.text("#driver").await?, "cookie");
    assert!(b.text("#about").await?.contains("sealed"));
    let random = b.text("#random-key").await?;
    assert!(
        random.contains("random") && random.contains("APP_KEY"),
        "{random}"
    );
    assert!(b.text("#protection").await?.contains("403"));
    // The JSON API: one row per route.
    let routes = b
        .script("return [...document.querySelectorAll('#api tbody tr')].map(r => r.cells[0].textContent)")
        .await?;
    let routes: Vec<&str> = routes
        .as_array()
        .ok_or("no API table")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(routes.len(), 17, "{routes:?}");
    assert!(routes.contains(&"GET /api/me/sessions"), "{routes:?}");
    assert!(routes.contains(&"PUT /api/counter/{key}"), "{routes:?}");
    // Every visible form control has a label, and every form its session token.
    let unlabelled = b
        .script(
            "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                .filter(i => !(i.id && document.querySelector('label[for=\"' + i.id + '\"]')))
                .map(i => i.outerHTML)",
        )
        .await?;
    assert_eq!(unlabelled, json!([]), "form controls without a label");
    let forms = b
        .script("return [...document.forms].map(f => !!f.querySelector('input[name=_token]'))")
        .await?;
    assert_eq!(
        forms,
        json!([true, true]),
        "flash and sign-in forms, each with its token"
    );
    // Styled: the cards are laid out, not the browser's default page.
    let radius = b
        .script("return getComputedStyle(document.querySelector('.card')).borderRadius")
        .await?;
    assert_eq!(radius, json!("12px"));

    // A flash, so the screenshot shows every part of the page.
    b.type_into("#message", "Hello from the browser test")
        .await?;
    b.click("#send").await?;
    assert_eq!(
        b.text_when("#flash", "Hello from the browser test").await?,
        "Hello from the browser test"
    );
    let shot = b.screenshot("session-demo").await?;
    eprintln!("screenshot of the demo page: {}", shot.display());
    b.close().await?;
    Ok(())
}

#[tokio::test]
async fn a_real_browser_counts_flashes_signs_in_and_out() -> TestResult {
    let port = free_port()?;
    let (_demo, _dir) = start_demo(port)?;
    let home = format!("http://127.0.0.1:{port}/");
    wait_for(&home).await?;
    let b = Browser::start().await?;

    b.open(&home).await?;
    assert_eq!(b.text_when("#visits", "1").await?, "1");
    b.reload().await?;
    assert_eq!(
        b.text_when("#visits", "2").await?,
        "2",
        "the counter goes up on reload"
    );

    b.type_into("#message", "Hello from Chromium").await?;
    b.click("#send").await?;
    assert_eq!(
        b.text_when("#flash", "Hello from Chromium").await?,
        "Hello from Chromium",
        "the flash shows after the redirect"
    );
    assert_eq!(b.text_when("#visits", "3").await?, "3");
    b.reload().await?;
    assert_eq!(b.text_when("#visits", "4").await?, "4");
    assert!(
        !b.has("#flash").await?,
        "the flash is gone on the next reload"
    );

    b.type_into("#username", "ada").await?;
    b.click("#login").await?;
    assert_eq!(
        b.text_when("#user", "Signed in as ada").await?,
        "Signed in as ada"
    );
    assert_eq!(
        b.text_when("#flash", "Signed in as ada").await?,
        "Signed in as ada"
    );
    // The zero-config cookie driver keeps no registry, and the page says so.
    let unavailable = b.text("#devices-unavailable").await?;
    assert!(unavailable.contains("registry"), "{unavailable}");
    b.click("#logout").await?;
    assert_eq!(
        b.text_when("#user", "Not signed in").await?,
        "Not signed in"
    );
    assert_eq!(b.text_when("#flash", "Signed out").await?, "Signed out");
    assert_eq!(
        b.text_when("#visits", "1").await?,
        "1",
        "signing out starts a new session"
    );
    b.close().await?;
    Ok(())
}

/// Two browsers signed in as one user on the cookie driver with a Redis registry:
/// each lists both devices, and "Sign out other devices" in one signs the other out
/// for good.
#[tokio::test]
async fn one_browser_signs_the_other_out() -> TestResult {
    let redis = session_testkit::servers::RedisServer::start()?;
    let config = format!(
        "default = \"cookie\"\n[cookie]\nregistry = \"redis\"\n[redis]\nport = {}\n",
        redis.port()
    );
    let port = free_port()?;
    let (_demo, _dir) = start_demo_with(port, Some(&config))?;
    let home = format!("http://127.0.0.1:{port}/");
    wait_for(&home).await?;
    let (laptop, phone) = (Browser::start().await?, Browser::start().await?);
    for b in [&laptop, &phone] {
        b.open(&home).await?;
        b.type_into("#username", "ada").await?;
        b.click("#login").await?;
        assert_eq!(
            b.text_when("#user", "Signed in as ada").await?,
            "Signed in as ada"
        );
    }
    laptop.reload().await?;
    assert_eq!(
        laptop
            .text_when("#devices-title", "Your devices (2)")
            .await?,
        "Your devices (2)"
    );
    let current = laptop
        .script("return document.querySelectorAll('#devices li.current').length")
        .await?;
    assert_eq!(current, json!(1));
    laptop.click("#logout-others").await?;
    assert_eq!(
        laptop
            .text_when("#flash", "Signed out 1 other device(s)")
            .await?,
        "Signed out 1 other device(s)"
    );
    phone.reload().await?;
    assert_eq!(
        phone.text_when("#user", "Not signed in").await?,
        "Not signed in",
        "the other browser is still signed in"
    );
    laptop.reload().await?;
    assert_eq!(laptop.text("#user").await?, "Signed in as ada");
    assert_eq!(laptop.text("#devices-title").await?, "Your devices (1)");
    laptop.client.set_window_size(1200, 1400).await?;
    let shot = laptop.screenshot("session-demo-devices").await?;
    eprintln!("screenshot of the devices card: {}", shot.display());
    laptop.close().await?;
    phone.close().await?;
    Ok(())
}

/// A page on another site (`localhost` is not the same site as `127.0.0.1`) whose
/// form posts itself to `target` as soon as it loads, the way a forged form would.
async fn attacker_site(target: &str) -> Result<String, Boxed> {
    let page = format!(
        r#"<!doctype html><html><body><h1>Win a prize</h1>
<form id="forged" method="post" action="{target}"><input name="username" value="mallory"></form>
<script>document.getElementById('forged').submit();</script></body></html>"#
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let page = page.clone();
            async move { axum::response::Html(page) }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://localhost:{port}/"))
}

/// Cross-site protection: a form on another site that posts itself to the demo (the attack of a
/// top-level cross-site POST, which SameSite=Lax lets through) neither signs the
/// user in as someone else nor signs her out.
#[tokio::test]
async fn a_forged_cross_site_form_is_refused_in_a_real_browser() -> TestResult {
    let port = free_port()?;
    let (_demo, _dir) = start_demo(port)?;
    let home = format!("http://127.0.0.1:{port}/");
    wait_for(&home).await?;
    let b = Browser::start().await?;

    // A visitor who is not signed in meets a forged sign-in form.
    b.open(&home).await?;
    assert_eq!(
        b.text_when("#user", "Not signed in").await?,
        "Not signed in"
    );
    b.open(&attacker_site(&format!("{home}login")).await?)
        .await?;
    b.lands_on(&format!("{home}login")).await?;
    let answer = b.source().await?;
    assert!(
        !answer.contains("This form has expired"),
        "the forged form reached the handler; the layer must refuse it first: {answer}"
    );
    b.open(&home).await?;
    assert_eq!(
        b.text_when("#user", "Not signed in").await?,
        "Not signed in",
        "a cross-site form signed the visitor in as someone else"
    );

    // A signed-in user meets a forged sign-out form.
    b.type_into("#username", "ada").await?;
    b.click("#login").await?;
    assert_eq!(
        b.text_when("#user", "Signed in as ada").await?,
        "Signed in as ada"
    );
    b.open(&attacker_site(&format!("{home}logout")).await?)
        .await?;
    b.lands_on(&format!("{home}logout")).await?;
    b.open(&home).await?;
    assert_eq!(
        b.text_when("#user", "Signed in as ada").await?,
        "Signed in as ada",
        "a cross-site form signed the user out"
    );
    b.close().await?;
    Ok(())
}

/// Startup checks: a Redis that cannot be used is reported at startup with its cause, and
/// the demo does not claim to be listening.
#[tokio::test]
async fn the_binary_names_an_unusable_redis_at_startup() -> TestResult {
    let protected = session_testkit::servers::RedisServer::start_with_password("right")?;
    for (redis, cause) in [
        (
            format!("port = {}\nconnect_timeout_ms = 300", free_port()?),
            "nothing listens",
        ),
        (
            format!("port = {}\npassword = \"wrong\"", protected.port()),
            "password",
        ),
        (
            "host = \"no-such-host.invalid\"\nconnect_timeout_ms = 300".to_owned(),
            "does not resolve",
        ),
    ] {
        let config = format!("default = \"redis\"\n\n[redis]\n{redis}\n");
        let (mut demo, _dir) = start_demo_with(free_port()?, Some(&config))?;
        let exit = exit_within(&mut demo, Duration::from_secs(15))
            .await
            .ok_or_else(|| format!("the demo kept running with [redis] {redis}"))?;
        assert!(!exit.success(), "the demo started with an unusable redis");
        let mut log = String::new();
        if let Some(mut out) = demo.0.stdout.take() {
            out.read_to_string(&mut log)?;
        }
        assert!(
            log.contains(cause),
            "[redis] {redis}: the log does not say {cause:?}:\n{log}"
        );
        assert!(!log.contains("listening"), "{log}");
    }
    Ok(())
}

/// A folder of its own, removed when dropped.
fn temp_dir(prefix: &str) -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new().prefix(prefix).tempdir()
}
