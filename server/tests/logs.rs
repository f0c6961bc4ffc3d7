//! Request logs and ids, from the binary as it runs: one line per request
//! (JSON with `LOG_FORMAT=json`), the id in the line and in `x-request-id`,
//! static files answered without either, and a client's id never taken.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

struct Server {
    child: Child,
    base: String,
    lines: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(settings: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("favicon.svg"), "<svg/>").unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let theme = concat!(env!("CARGO_MANIFEST_DIR"), "/../theme");
        let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
        command
            .current_dir(dir.path())
            .env_clear()
            .env("WECHAT_SANDBOX", "1")
            .env("THEME_DIR", theme)
            .env("DATABASE_URL", "sqlite://site.db")
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("LEPTOS_SITE_ROOT", dir.path())
            .env("RUST_LOG", "info")
            // cargo-leptos compiles this name in; a test build does not, and
            // Leptos would print a (non-JSON) warning about it.
            .env("LEPTOS_OUTPUT_NAME", "site")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (name, value) in settings {
            command.env(name, value);
        }
        let mut child = command.spawn().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the server did not start: {:?}",
                lines.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Server {
            child,
            base,
            lines,
            _dir: dir,
        }
    }

    /// The log lines so far, once a line containing `needle` has arrived.
    fn lines_with(&self, needle: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let lines = self.lines.lock().unwrap().clone();
            if lines.iter().any(|l| l.contains(needle)) || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[tokio::test]
async fn json_lines_carry_the_route_status_and_the_id_the_answer_sends() {
    let server = Server::start(&[("LOG_FORMAT", "json")]);
    let response = reqwest::Client::new()
        .get(format!("{}/api/login/{}", server.base, "f".repeat(32)))
        .header("x-request-id", "client-chosen-id")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(id, "client-chosen-id", "a client's id is not taken");
    assert_eq!(id.len(), 10);

    let lines = server.lines_with(&id);
    for line in &lines {
        let parsed: Result<serde_json::Value, _> = serde_json::from_str(line);
        assert!(parsed.is_ok(), "not one JSON object per line: {line}");
    }
    let answered: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l["span"]["id"] == id.as_str())
        .collect();
    assert_eq!(answered.len(), 1, "{lines:#?}");
    let line = &answered[0];
    assert_eq!(line["message"], "answered");
    assert_eq!(line["status"], 404);
    assert!(line["latency_ms"].as_f64().is_some());
    assert_eq!(line["span"]["method"], "GET");
    // The route pattern, not the visitor's path.
    assert_eq!(line["span"]["route"], "/api/login/{id}");
    assert!(!lines.iter().any(|l| l.contains("fffffffff")), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.contains("client-chosen-id")));
}

#[tokio::test]
async fn static_files_are_not_logged_and_text_is_the_default() {
    let server = Server::start(&[]);
    let client = reqwest::Client::new();
    let icon = client
        .get(format!("{}/favicon.svg", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(icon.status(), 200);
    assert!(icon.headers().get("x-request-id").is_none());
    let page = client
        .get(format!("{}/", server.base))
        .send()
        .await
        .unwrap();
    let id = page.headers()["x-request-id"].to_str().unwrap().to_owned();

    let lines = server.lines_with(&id);
    let line = lines
        .iter()
        .find(|l| l.contains(&id))
        .expect("the page's line");
    assert!(
        line.contains("answered") && line.contains("status=200"),
        "{line}"
    );
    assert!(line.contains(r#"route="/""#), "{line}");
    assert!(
        !line.contains('\u{1b}'),
        "no colours outside a terminal: {line}"
    );
    assert!(!lines.iter().any(|l| l.contains("favicon")), "{lines:#?}");
}

#[tokio::test]
async fn a_trusted_proxys_id_is_logged_beside_ours() {
    let server = Server::start(&[("TRUST_PROXY_HEADERS", "1"), ("LOG_FORMAT", "json")]);
    let client = reqwest::Client::new();
    let response = client
        .get(format!("{}/healthz", server.base))
        .header("x-request-id", "5f0e3c9a7b2d4e1f8a6b3c2d1e0f9a8b")
        .send()
        .await
        .unwrap();
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 10);
    let forged = client
        .get(format!("{}/healthz", server.base))
        .header("x-request-id", "a b\" forged")
        .send()
        .await
        .unwrap();
    let forged_id = forged.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let lines = server.lines_with(&forged_id);
    let line = |id: &str| -> serde_json::Value {
        let line = lines.iter().find(|l| l.contains(id)).expect("a line");
        serde_json::from_str(line).unwrap()
    };
    assert_eq!(
        line(&id)["span"]["proxy_id"],
        "5f0e3c9a7b2d4e1f8a6b3c2d1e0f9a8b"
    );
    assert!(line(&forged_id)["span"].get("proxy_id").is_none());
}
