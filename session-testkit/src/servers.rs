//! Throwaway `redis-server` processes on free loopback ports, for tests that need a
//! server of their own: a single node (optionally with `requirepass`, or any other
//! arguments: TLS, `--replicaof`), one to kill and restart, a Redis Sentinel, or a
//! Redis Cluster (with replicas if asked).
//!
//! Each server runs under a small shell watchdog that stops it when the test process
//! exits, however it exits, so no server outlives its tests. `Drop` stops it sooner.
//!
//! ```no_run
//! use session_testkit::servers::RedisServer;
//!
//! let server = RedisServer::start()?;
//! println!("redis on {}", server.url());
//! # Ok::<(), session_testkit::servers::ServerError>(())
//! ```

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why a server could not be started; the message says how to fix it.
#[derive(Debug)]
pub struct ServerError(pub String);

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ServerError {}

const HOW_TO_INSTALL: &str =
    "install Redis (`apt-get install redis-server`, which also brings redis-cli) or run `bash scripts/test`, which does";

/// One `redis-server` process.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    password: Option<String>,
    cluster: bool,
    extra: Vec<String>,
    /// A configuration file given first (a sentinel's, which it rewrites).
    config_file: Option<PathBuf>,
    dir: PathBuf,
    watchdog: Option<Child>,
}

/// A free loopback port (whose cluster bus port, +10000, is free too).
pub fn free_port() -> Result<u16, ServerError> {
    for _ in 0..50 {
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| ServerError(format!("cannot bind a loopback port: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| ServerError(e.to_string()))?
            .port();
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return Ok(port);
        }
    }
    Err(ServerError("no free loopback port pair found".into()))
}

impl RedisServer {
    /// A plain node on a free port.
    pub fn start() -> Result<Self, ServerError> {
        Self::launch(free_port()?, None, false)
    }

    /// A node that requires `password` (`requirepass`).
    pub fn start_with_password(password: &str) -> Result<Self, ServerError> {
        Self::launch(free_port()?, Some(password.to_owned()), false)
    }

    /// A plain node given more `redis-server` arguments (`["--tls-port", "7001"]`,
    /// `["--replicaof", "127.0.0.1", "7000"]`, ...); its plain port answers
    /// [`cli`](Self::cli) as always.
    pub fn start_with_args(args: &[&str]) -> Result<Self, ServerError> {
        let mut server = Self::prepare(free_port()?, None, false)?;
        server.extra = args.iter().map(|a| format!("'{a}'")).collect();
        server.spawn()?;
        Ok(server)
    }

    /// A Redis Sentinel (`redis-server sentinel.conf --sentinel`) monitoring the
    /// master on 127.0.0.1:`master_port` as `name`, with a quorum of `quorum`, which
    /// declares it down after 1 s without an answer and gives a failover 5 s.
    pub fn start_sentinel(
        name: &str,
        master_port: u16,
        quorum: usize,
    ) -> Result<Self, ServerError> {
        let mut server = Self::prepare(free_port()?, None, false)?;
        let path = server.dir.join("sentinel.conf");
        let config = format!(
            "sentinel monitor {name} 127.0.0.1 {master_port} {quorum}\n\
             sentinel down-after-milliseconds {name} 1000\n\
             sentinel failover-timeout {name} 5000\n\
             sentinel parallel-syncs {name} 1\n"
        );
        std::fs::write(&path, config)
            .map_err(|e| ServerError(format!("cannot write {}: {e}", path.display())))?;
        server.config_file = Some(path);
        server.spawn()?;
        Ok(server)
    }

    fn launch(port: u16, password: Option<String>, cluster: bool) -> Result<Self, ServerError> {
        let mut server = Self::prepare(port, password, cluster)?;
        server.spawn()?;
        Ok(server)
    }

    fn prepare(port: u16, password: Option<String>, cluster: bool) -> Result<Self, ServerError> {
        let dir = std::env::temp_dir().join(format!(
            "session-testkit-redis-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| ServerError(format!("cannot create {}: {e}", dir.display())))?;
        Ok(RedisServer {
            port,
            password,
            cluster,
            extra: Vec::new(),
            config_file: None,
            dir,
            watchdog: None,
        })
    }

    fn spawn(&mut self) -> Result<(), ServerError> {
        let mut args = vec![
            format!("--port {}", self.port),
            "--bind 127.0.0.1".to_owned(),
            "--save ''".to_owned(),
            "--appendonly no".to_owned(),
            format!("--dir '{}'", self.dir.display()),
            "--daemonize no".to_owned(),
        ];
        if let Some(p) = &self.password {
            args.push(format!("--requirepass '{p}'"));
            args.push(format!("--masterauth '{p}'"));
        }
        if self.cluster {
            args.push("--cluster-enabled yes".to_owned());
            args.push(format!("--cluster-config-file nodes-{}.conf", self.port));
            args.push("--cluster-node-timeout 2000".to_owned());
        }
        args.extend(self.extra.iter().cloned());
        if let Some(config) = &self.config_file {
            args.insert(0, format!("'{}' --sentinel", config.display()));
        }
        // The watchdog: runs the server, stops it when the test process is gone and
        // then removes its folder (servers kept in statics are never dropped). A
        // server stopped by the test keeps its folder for a restart.
        let script = format!(
            "redis-server {args} >'{dir}/log' 2>&1 & r=$!; echo $r >'{dir}/pid'; \
             trap 'kill $r 2>/dev/null' EXIT TERM; \
             while kill -0 {parent} 2>/dev/null && kill -0 $r 2>/dev/null; do sleep 0.2; done; \
             if ! kill -0 {parent} 2>/dev/null; then \
               kill $r 2>/dev/null; wait $r 2>/dev/null; rm -rf '{dir}'; \
             fi",
            args = args.join(" "),
            dir = self.dir.display(),
            parent = std::process::id()
        );
        which("redis-server")?;
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                ServerError(format!("cannot start redis-server: {e}; {HOW_TO_INSTALL}"))
            })?;
        self.watchdog = Some(child);
        self.wait_until(true)
    }

    /// Waits until the port accepts (`up`) or refuses (`!up`) connections.
    fn wait_until(&self, up: bool) -> Result<(), ServerError> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let accepting = TcpStream::connect(("127.0.0.1", self.port)).is_ok();
            if accepting == up && (!up || self.cli(&["ping"]).is_ok_and(|o| o.contains("PONG"))) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
        Err(ServerError(format!(
            "redis-server on port {} did not {} within 10 s; its log:\n{log}",
            self.port,
            if up { "start" } else { "stop" }
        )))
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://[:password@]127.0.0.1:port`.
    pub fn url(&self) -> String {
        match &self.password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// The folder the server runs in (its log is `log` there), for files a test
    /// gives it.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Runs `redis-cli` against this server and returns its output.
    pub fn cli(&self, args: &[&str]) -> Result<String, ServerError> {
        let mut cmd = Command::new("redis-cli");
        cmd.arg("-h")
            .arg("127.0.0.1")
            .arg("-p")
            .arg(self.port.to_string());
        if let Some(p) = &self.password {
            cmd.arg("-a").arg(p).arg("--no-auth-warning");
        }
        let out = cmd
            .args(args)
            .output()
            .map_err(|e| ServerError(format!("cannot run redis-cli: {e}; {HOW_TO_INSTALL}")))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// For a master: true when a replica has acknowledged everything the master
    /// wrote (its `INFO replication` offset has reached the master's), so killing
    /// the master loses no write. A replica still in its first sync has not.
    pub fn replica_caught_up(&self) -> Result<bool, ServerError> {
        let info = self.cli(&["info", "replication"])?;
        let field = |line: &str, name: &str| -> Option<u64> {
            line.split(',')
                .find_map(|part| part.trim().strip_prefix(name))
                .and_then(|n| n.trim().parse().ok())
        };
        let master = info
            .lines()
            .find_map(|line| field(line, "master_repl_offset:"));
        let replica = info
            .lines()
            .filter(|line| line.starts_with("slave0:"))
            .find_map(|line| field(line.trim_start_matches("slave0:"), "offset="));
        Ok(matches!((master, replica), (Some(m), Some(r)) if r >= m))
    }

    /// Stops the server (SIGKILL, like a crash) and waits until its port refuses.
    pub fn kill(&mut self) -> Result<(), ServerError> {
        let Some(mut watchdog) = self.watchdog.take() else {
            return Ok(());
        };
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("pid")) {
            let _ = Command::new("kill").arg("-9").arg(pid.trim()).status();
        }
        // The server may linger as the watchdog's zombie; end the watchdog too.
        let _ = watchdog.kill();
        let _ = watchdog.wait();
        self.wait_until(false)
    }

    /// Starts the server again on the same port (empty: it keeps nothing on disk).
    pub fn restart(&mut self) -> Result<(), ServerError> {
        self.spawn()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn which(program: &str) -> Result<(), ServerError> {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|p| p.join(program).is_file()))
        .unwrap_or(false);
    if found {
        Ok(())
    } else {
        Err(ServerError(format!(
            "`{program}` is not on PATH; {HOW_TO_INSTALL}"
        )))
    }
}

/// A Redis Cluster of `n` masters (with replicas if asked), slots assigned.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `masters` cluster-enabled nodes and assigns all 16384 slots.
    pub fn start(masters: usize) -> Result<Self, ServerError> {
        Self::start_with_replicas(masters, 0)
    }

    /// Starts `masters` masters with `replicas` replicas each (a replica takes over
    /// when its master has not answered for the node timeout, 2 s) and assigns all
    /// 16384 slots.
    pub fn start_with_replicas(masters: usize, replicas: usize) -> Result<Self, ServerError> {
        let count = masters * (1 + replicas);
        let mut nodes = Vec::with_capacity(count);
        for _ in 0..count {
            nodes.push(RedisServer::launch(free_port()?, None, true)?);
        }
        let addrs: Vec<String> = nodes.iter().map(RedisServer::addr).collect();
        let mut create = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .arg("--cluster-replicas")
            .arg(replicas.to_string())
            .arg("--cluster-yes")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| ServerError(format!("cannot run redis-cli: {e}; {HOW_TO_INSTALL}")))?;
        // `--cluster create` waits for the nodes to agree, without a limit of its own.
        let deadline = Instant::now() + Duration::from_secs(60);
        while create
            .try_wait()
            .map_err(|e| ServerError(e.to_string()))?
            .is_none()
        {
            if Instant::now() > deadline {
                let _ = create.kill();
                let _ = create.wait();
                return Err(ServerError(
                    "redis-cli --cluster create did not finish within 60 s".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = create
            .wait_with_output()
            .map_err(|e| ServerError(e.to_string()))?;
        if !out.status.success() {
            return Err(ServerError(format!(
                "redis-cli --cluster create failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let cluster = RedisCluster { nodes };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let ok = cluster.nodes.iter().all(|n| {
                n.cli(&["cluster", "info"])
                    .is_ok_and(|info| info.contains("cluster_state:ok"))
                    && n.cli(&["info", "replication"]).is_ok_and(|info| {
                        info.contains("role:master") || info.contains("master_link_status:up")
                    })
            });
            if ok {
                return Ok(cluster);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(ServerError(
            "the Redis Cluster did not reach cluster_state:ok (replicas in sync) within 20 s"
                .into(),
        ))
    }

    /// `host:port` of every node.
    pub fn addrs(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::addr).collect()
    }

    /// The nodes.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// The nodes, to kill or restart one.
    pub fn nodes_mut(&mut self) -> &mut [RedisServer] {
        &mut self.nodes
    }
}
