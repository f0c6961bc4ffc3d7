//! The server under test: the release binary, started with a fresh SQLite
//! database in a temporary folder, in sandbox mode, on a free port.

use std::{
    fs::File,
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::http::{self, Conn};

/// Fake credentials: the tool signs (and encrypts) pushes with them.
pub const APPID: &str = "wx0000000000000000";
pub const TOKEN: &str = "loadtestToken0000000000000000000";
/// 43 characters, obviously fake.
pub const AES_KEY: &str = "LoadTestFakeAesKey0000000000000000000000000";
/// The service account's id (`ToUserName`).
pub const ACCOUNT: &str = "gh_loadtest0001";

pub struct ServerSpec<'a> {
    pub binary: &'a Path,
    pub site_root: &'a Path,
    pub theme_dir: &'a Path,
    pub aes: bool,
    /// More settings, applied last.
    pub env: &'a [(String, String)],
    /// A program the server runs under, with its arguments (valgrind for
    /// the instruction counts); empty: none.
    pub wrapper: &'a [String],
    /// The database (`DATABASE_URL`); `None`: a fresh SQLite file in the
    /// server's temporary folder.
    pub database: Option<&'a str>,
}

pub struct Server {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub host: String,
    pub db_path: PathBuf,
    /// The server's `DATABASE_URL` (SQLite: `db_path`).
    pub database_url: String,
    log_path: PathBuf,
    /// Removed when the server is dropped.
    _dir: tempfile::TempDir,
}

impl Server {
    pub async fn start(spec: &ServerSpec<'_>) -> Result<Server, String> {
        let dir = tempfile::Builder::new()
            .prefix("loadtest-")
            .tempdir()
            .map_err(|e| format!("cannot make a temporary folder: {e}"))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let db_path = dir.path().join("site.db");
        let log_path = dir.path().join("server.log");
        let database_url = match spec.database {
            Some(url) => url.to_owned(),
            None => format!("sqlite://{}", db_path.display()),
        };
        let mut server = Server {
            child: None,
            addr,
            host: addr.to_string(),
            db_path,
            database_url,
            log_path,
            _dir: dir,
        };
        server.launch(spec).await?;
        Ok(server)
    }

    /// Starts the server again on the same database (after [`Self::crash`]),
    /// on a new port.
    pub async fn restart(&mut self, spec: &ServerSpec<'_>) -> Result<(), String> {
        self.crash();
        self.addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        self.host = self.addr.to_string();
        self.launch(spec).await
    }

    async fn launch(&mut self, spec: &ServerSpec<'_>) -> Result<(), String> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(|e| format!("cannot create the log: {e}"))?;
        let log2 = log
            .try_clone()
            .map_err(|e| format!("cannot create the log: {e}"))?;
        let dir = self
            .db_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();

        let mut command = match spec.wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(spec.binary);
                command
            }
            None => Command::new(spec.binary),
        };
        // Run in the temporary folder so that no `.env` of the project is read.
        command
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        // Settings the tool does not choose must not leak in from the shell.
        for (name, _) in std::env::vars() {
            if name.starts_with("WECHAT_")
                || name.starts_with("LOGIN_")
                || name.starts_with("DEEPSEEK_")
                || name.starts_with("WRITING_")
                || name.starts_with("LEPTOS_")
                || matches!(
                    name.as_str(),
                    "DATABASE_URL" | "THEME_DIR" | "SESSION_DAYS" | "TRUST_PROXY_HEADERS"
                )
            {
                command.env_remove(name);
            }
        }
        command
            .env("LEPTOS_SITE_ADDR", self.addr.to_string())
            .env("LEPTOS_SITE_ROOT", spec.site_root)
            // cargo-leptos compiles this name in; a plain `cargo build` does not.
            .env("LEPTOS_OUTPUT_NAME", "site")
            .env("LEPTOS_ENV", "PROD")
            .env("DATABASE_URL", &self.database_url)
            .env("THEME_DIR", spec.theme_dir)
            .env("WECHAT_SANDBOX", "1")
            .env("WECHAT_APPID", APPID)
            .env("WECHAT_TOKEN", TOKEN)
            // All of the tool's browsers share one address: lift the limits
            // (the server-wide stream cap then follows the open-files limit).
            .env("LOGIN_START_PER_MINUTE", "0")
            .env("LOGIN_START_SITE_PER_MINUTE", "0")
            .env("LOGIN_STREAMS_PER_ADDRESS", "0")
            .env("LOGIN_STREAMS_MAX", "0")
            .env("RUST_LOG", "warn");
        if spec.aes {
            command.env("WECHAT_ENCODING_AES_KEY", AES_KEY);
        }
        for (name, value) in spec.env {
            command.env(name, value);
        }
        self.child = Some(
            command
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", spec.binary.display()))?,
        );
        // Under valgrind the start-up is some 50 times slower.
        let limit = if spec.wrapper.is_empty() { 60 } else { 600 };
        self.wait_healthy(limit).await
    }

    async fn wait_healthy(&mut self, limit: u64) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(limit);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!(
                        "the server exited during start-up ({status}):\n{}",
                        self.log_tail()
                    ));
                }
            }
            if let Ok(mut conn) = Conn::connect(self.addr).await {
                if let Ok(response) = conn
                    .request(&http::get(&self.host, "/healthz", "connection: close\r\n"))
                    .await
                {
                    if response.head.status == 200 {
                        return Ok(());
                    }
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the server did not answer /healthz within {limit} s:\n{}",
                    self.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The server's resident memory in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// CPU time the server has used so far (user + system).
    pub fn cpu(&self) -> Option<Duration> {
        cpu_of(self.pid()?)
    }

    /// The server's log file.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last lines the server logged.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Lines the server logged at WARN or above (it runs with `RUST_LOG=warn`).
    pub fn log_lines(&self) -> usize {
        std::fs::read_to_string(&self.log_path)
            .map(|l| l.lines().count())
            .unwrap_or(0)
    }

    /// Kills the server without warning (SIGKILL), as a crash would.
    pub fn crash(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.crash();
    }
}

/// CPU time (user + system) of process `pid`, from `/proc/<pid>/stat`.
pub fn cpu_of(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // SAFETY: a plain query of a constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks = if ticks > 0 { ticks as u64 } else { 100 };
    Some(Duration::from_nanos(
        (utime + stime) * 1_000_000_000 / ticks,
    ))
}

fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port on 127.0.0.1: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Raises this process's open-file limit to the hard maximum; children
/// (the server) inherit it. Returns the new limit.
pub fn raise_open_files() -> u64 {
    // SAFETY: plain system calls on a local struct.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur
    }
}
