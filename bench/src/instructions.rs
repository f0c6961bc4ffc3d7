//! `--only instructions`: what each page costs the server in instructions,
//! counted by valgrind's callgrind. Requests per second and CPU time swing
//! by ±15% on a machine shared with other jobs; the number of instructions
//! the server executes for a page is the same from run to run, so it shows
//! a change of a few percent (before/after of one optimisation).
//!
//! The server runs under `valgrind --tool=callgrind` (about 50 times
//! slower). For each page: a warm-up, a dump (`callgrind_control -d`), N
//! requests one after another on one keep-alive connection, a second dump;
//! the second dump's total divided by N is the figure. Callgrind counts the
//! server's own instructions (user space: not the kernel's work of
//! sending the bytes). A dump is taken when the server next runs code, so
//! the tool sends `/healthz` until it is: those few requests (and the
//! server's timers) are counted too, well under 1% of N pages.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use crate::{
    http::{self, Conn},
    login::Target,
    pages,
};

/// One page: a name for the table, the path, the cookie.
pub struct Page<'a> {
    pub name: &'a str,
    pub path: &'a str,
    pub cookie: Option<&'a str>,
}

/// Instructions per request of each page, in the order given.
pub async fn count(
    target: &Target,
    pid: u32,
    out_dir: &Path,
    pages: &[Page<'_>],
    requests: usize,
) -> Result<Vec<u64>, String> {
    let mut conn = Conn::connect(target.addr)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let mut figures = Vec::new();
    for page in pages {
        let mut headers = pages::browser_headers("text/html");
        if let Some(cookie) = page.cookie {
            headers.push_str(&format!("cookie: {cookie}\r\n"));
        }
        let request = http::get(&target.host, page.path, &headers);
        for _ in 0..10 {
            get(&mut conn, &request, page.path).await?;
        }
        dump(target, pid).await?;
        let seen = dumps(out_dir)?;
        for _ in 0..requests {
            get(&mut conn, &request, page.path).await?;
        }
        dump(target, pid).await?;
        let new: Vec<PathBuf> = dumps(out_dir)?
            .into_iter()
            .filter(|f| !seen.contains(f))
            .collect();
        let [file] = &new[..] else {
            return Err(format!(
                "callgrind wrote {} dumps for one, in {}",
                new.len(),
                out_dir.display()
            ));
        };
        let total = totals(file)?;
        figures.push(total / requests as u64);
    }
    Ok(figures)
}

async fn get(conn: &mut Conn, request: &[u8], path: &str) -> Result<(), String> {
    let response = conn
        .request(request)
        .await
        .map_err(|e| format!("GET {path} failed: {e}"))?;
    if response.head.status != 200 {
        return Err(format!("GET {path} answered {}", response.head.status));
    }
    Ok(())
}

/// Asks callgrind for a dump and keeps the server busy until it is taken.
async fn dump(target: &Target, pid: u32) -> Result<(), String> {
    let mut child = tokio::process::Command::new("callgrind_control")
        .arg("-d")
        .arg(pid.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run callgrind_control: {e}"))?;
    let mut conn = Conn::connect(target.addr)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let health = http::get(&target.host, "/healthz", "");
    loop {
        tokio::select! {
            status = child.wait() => {
                let status = status.map_err(|e| e.to_string())?;
                return if status.success() {
                    Ok(())
                } else {
                    Err(format!("callgrind_control -d {pid}: {status}"))
                };
            }
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                let _ = conn.request(&health).await;
            }
        }
    }
}

/// The dump files callgrind wrote so far.
fn dumps(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("callgrind.out"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// The instructions a dump holds (its `totals:` or `summary:` line).
fn totals(file: &Path) -> Result<u64, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix("totals:").or(l.strip_prefix("summary:")))
        .and_then(|n| n.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("{}: no totals line", file.display()))
}

/// Whether valgrind is installed.
pub fn available() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}
