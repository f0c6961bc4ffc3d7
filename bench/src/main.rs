//! `loadtest`: starts the release server with a fresh database and measures
//! the login path and the pages. See bench/README.md.
//!
//! ```sh
//! cargo run --release -p loadtest -- --server target/release/server [--quick]
//! ```

mod articles;
mod callbacks;
mod cleanup;
mod engines;
mod http;
mod instructions;
mod login;
mod pages;
mod server;
mod stats;
mod writing;

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::{Duration, Instant},
};

use login::{Browser, Signer, Target};
use server::{Server, ServerSpec};
use stats::{count, ms, Latencies};

const USAGE: &str = "\
loadtest: measure the login path and the pages of the release server.

usage: cargo run --release -p loadtest -- --server <release server binary> [options]

  --server PATH         the server binary to start (required)
  --site-root PATH      static files (default: <repo>/target/site)
  --theme-dir PATH      page data (default: <repo>/theme)
  --quick               small sizes, for a smoke test (< 1 minute)
  --rate N              scans per second in the latency runs (default 500)
  --sse LIST            waiting SSE browsers per run (default 1,1000,10000)
  --poll LIST           waiting polling browsers per run (default 1,1000)
  --poll-interval MS    the pollers' interval (default 1000)
  --callbacks N         scans in each throughput run (default 10000)
  --callback-conns N    connections of the throughput runs (default 64)
  --start-conns N       connections starting logins (default 32)
  --page-conns N        keep-alive connections for pages (default 64)
  --seconds N           measuring time per page (default 10)
  --backlog N           stale rows of each kind for the clean-up run (default 500000)
  --cleanup-scans N     scans during the clean-up run (default 5000)
  --writing LIST        concurrent generations per writing run (default 100,1000)
  --writing-pace N      DeepSeek's pace in the writing runs, tokens per second (default 50)
  --only LIST           phases to run: sse,poll,callbacks,aes,pages,cleanup,static,writing (default all),
                        and instructions (not by default: the pages under valgrind's callgrind),
                        and engines (not by default: SQLite next to PostgreSQL, needs --postgres)
  --instr-requests N    requests per page in the instructions phase (default 100)
  --callgrind-dir DIR   keep the instructions phase's callgrind dumps there (for callgrind_annotate)
  --postgres URL        a PostgreSQL role that may create databases, for the engines phase
                        (e.g. postgres://wensi_test:wensi-test-only@127.0.0.1:5432/postgres)
  --cross N             waiting browsers in the engines phase's scan-to-browser run (default 1000)
  --strict              also exit non-zero when a target is missed
  --env NAME=VALUE      one more setting for the servers (repeatable; for experiments)
";

/// Run only when asked for: `instructions` needs valgrind, `engines` a
/// PostgreSQL server (`--postgres`).
const EXTRA_PHASES: [&str; 2] = ["instructions", "engines"];

const PHASES: [&str; 8] = [
    "sse",
    "poll",
    "callbacks",
    "aes",
    "pages",
    "cleanup",
    "static",
    "writing",
];

struct Options {
    server: PathBuf,
    site_root: PathBuf,
    theme_dir: PathBuf,
    rate: f64,
    sse: Vec<usize>,
    poll: Vec<usize>,
    poll_interval: Duration,
    callbacks: usize,
    callback_conns: usize,
    start_conns: usize,
    page_conns: usize,
    seconds: f64,
    backlog: u64,
    cleanup_scans: usize,
    writing: Vec<usize>,
    writing_pace: u32,
    instr_requests: usize,
    callgrind_dir: Option<PathBuf>,
    phases: Vec<String>,
    strict: bool,
    env: Vec<(String, String)>,
    postgres: Option<String>,
    cross: usize,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn parse_options() -> Result<Options, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mut o = Options {
        server: PathBuf::new(),
        site_root: repo_root().join("target/site"),
        theme_dir: repo_root().join("theme"),
        rate: 500.0,
        sse: if quick {
            vec![1, 200]
        } else {
            vec![1, 1000, 10_000]
        },
        poll: if quick { vec![1, 200] } else { vec![1, 1000] },
        poll_interval: Duration::from_secs(1),
        callbacks: if quick { 500 } else { 10_000 },
        callback_conns: 64,
        start_conns: 32,
        page_conns: 64,
        seconds: if quick { 2.0 } else { 10.0 },
        backlog: if quick { 20_000 } else { 500_000 },
        cleanup_scans: if quick { 500 } else { 5_000 },
        writing: if quick { vec![20] } else { vec![100, 1000] },
        writing_pace: 50,
        instr_requests: if quick { 20 } else { 100 },
        callgrind_dir: None,
        phases: PHASES.map(String::from).to_vec(),
        strict: false,
        env: Vec::new(),
        postgres: None,
        cross: if quick { 100 } else { 1000 },
    };
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        let number = |name: &str, v: String| -> Result<f64, String> {
            v.parse::<f64>()
                .ok()
                .filter(|n| *n > 0.0)
                .ok_or(format!("{name}: not a positive number: {v}"))
        };
        let list = |name: &str, v: String| -> Result<Vec<usize>, String> {
            v.split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| {
                    s.trim()
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or(format!("{name}: not a list of positive numbers: {v}"))
                })
                .collect()
        };
        match arg.as_str() {
            "--server" => o.server = value("--server")?.into(),
            "--site-root" => o.site_root = value("--site-root")?.into(),
            "--theme-dir" => o.theme_dir = value("--theme-dir")?.into(),
            "--quick" => {}
            "--strict" => o.strict = true,
            "--rate" => o.rate = number("--rate", value("--rate")?)?,
            "--sse" => o.sse = list("--sse", value("--sse")?)?,
            "--poll" => o.poll = list("--poll", value("--poll")?)?,
            "--poll-interval" => {
                o.poll_interval = Duration::from_secs_f64(
                    number("--poll-interval", value("--poll-interval")?)? / 1000.0,
                )
            }
            "--callbacks" => o.callbacks = number("--callbacks", value("--callbacks")?)? as usize,
            "--callback-conns" => {
                o.callback_conns = number("--callback-conns", value("--callback-conns")?)? as usize
            }
            "--start-conns" => {
                o.start_conns = number("--start-conns", value("--start-conns")?)? as usize
            }
            "--page-conns" => {
                o.page_conns = number("--page-conns", value("--page-conns")?)? as usize
            }
            "--seconds" => o.seconds = number("--seconds", value("--seconds")?)?,
            "--backlog" => o.backlog = number("--backlog", value("--backlog")?)? as u64,
            "--cleanup-scans" => {
                o.cleanup_scans = number("--cleanup-scans", value("--cleanup-scans")?)? as usize
            }
            "--writing" => o.writing = list("--writing", value("--writing")?)?,
            "--writing-pace" => {
                o.writing_pace = number("--writing-pace", value("--writing-pace")?)? as u32
            }
            "--instr-requests" => {
                o.instr_requests = number("--instr-requests", value("--instr-requests")?)? as usize
            }
            "--callgrind-dir" => o.callgrind_dir = Some(value("--callgrind-dir")?.into()),
            "--postgres" => o.postgres = Some(value("--postgres")?),
            "--cross" => o.cross = number("--cross", value("--cross")?)? as usize,
            "--only" => {
                o.phases = value("--only")?
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .collect();
                for phase in &o.phases {
                    if !PHASES.contains(&phase.as_str()) && !EXTRA_PHASES.contains(&phase.as_str())
                    {
                        return Err(format!("--only: unknown phase {phase:?}"));
                    }
                }
            }
            "--env" => {
                let pair = value("--env")?;
                let (name, value) = pair
                    .split_once('=')
                    .ok_or(format!("--env: expected NAME=VALUE, got {pair:?}"))?;
                o.env.push((name.to_owned(), value.to_owned()));
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if o.server.as_os_str().is_empty() {
        return Err("--server is required".into());
    }
    let absolute = |p: &Path| std::fs::canonicalize(p).map_err(|e| format!("{}: {e}", p.display()));
    o.server = absolute(&o.server)?;
    o.theme_dir = absolute(&o.theme_dir)?;
    o.site_root = absolute(&o.site_root)?;
    Ok(o)
}

/// One line of the result table.
struct Row {
    what: String,
    setting: String,
    result: String,
    p50: String,
    p99: String,
    max: String,
    target: String,
    /// `Some(true)` met, `Some(false)` missed, `None` no target.
    met: Option<bool>,
}

impl Row {
    fn new(what: impl Into<String>, setting: impl Into<String>) -> Self {
        Row {
            what: what.into(),
            setting: setting.into(),
            result: String::new(),
            p50: String::new(),
            p99: String::new(),
            max: String::new(),
            target: String::new(),
            met: None,
        }
    }

    fn times(mut self, l: &mut Latencies) -> Self {
        self.p50 = ms(l.percentile(50.0));
        self.p99 = ms(l.percentile(99.0));
        self.max = ms(l.max());
        self
    }
}

/// Everything measured, and everything that went wrong.
#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    /// Lost or duplicated logins, broken answers: the run fails.
    problems: Vec<String>,
    notes: Vec<String>,
    starts: Latencies,
    start_time: Duration,
    /// Scans answered "logged in", per server: all must survive a crash.
    logins: usize,
}

impl Report {
    fn print(&self) {
        println!();
        println!("| measurement | setting | result | p50 | p99 | max | target | |");
        println!("|---|---|---|---|---|---|---|---|");
        for r in &self.rows {
            let verdict = match r.met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "",
            };
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                r.what, r.setting, r.result, r.p50, r.p99, r.max, r.target, verdict
            );
        }
        if !self.notes.is_empty() {
            println!();
            for note in &self.notes {
                println!("- {note}");
            }
        }
    }
}

/// Starts `n` browsers; their start times count toward the start-to-QR row.
async fn start(
    target: &Target,
    n: usize,
    o: &Options,
    report: &mut Report,
) -> Result<Vec<Browser>, String> {
    let began = Instant::now();
    let browsers = login::start_browsers(target, n, o.start_conns, &mut report.starts).await?;
    report.start_time += began.elapsed();
    Ok(browsers)
}

fn say(text: impl AsRef<str>) {
    eprintln!("loadtest: {}", text.as_ref());
}

async fn run(o: &Options) -> Result<Report, String> {
    let mut report = Report::default();
    let runs = |phase: &str| o.phases.iter().any(|p| p == phase);

    let hash_file = o.server.parent().map(|d| d.join("hash.txt"));
    if !hash_file.as_ref().is_some_and(|f| f.exists()) {
        report.notes.push(format!(
            "no hash.txt beside {}: pages link unfingerprinted /pkg/ names (copy cargo-leptos's target/release/hash.txt there)",
            o.server.display()
        ));
    }

    if runs("sse") || runs("poll") || runs("callbacks") || runs("pages") || runs("static") {
        say("starting the server (plain pushes)");
        let (mut server, target) = start_server(o, false).await?;
        say(format!(
            "server pid {} on {}",
            server.pid().unwrap_or(0),
            server.addr
        ));
        // The first start fetches the access token; the rest use the cache.
        login::start_browsers(&target, 1, 1, &mut Latencies::default()).await?;
        let signer = Signer::plain();
        let rss = || server.rss_kib();

        let mut sse_p50 = std::collections::HashMap::new();
        if runs("sse") {
            let mut largest: Option<(usize, u64, u64)> = None;
            for &n in &o.sse {
                say(format!("scan-to-browser over SSE: {n} waiting"));
                let browsers = start(&target, n, o, &mut report).await?;
                let mut run = login::sse_run(
                    &target,
                    &target,
                    &rss,
                    &signer,
                    browsers,
                    o.rate,
                    o.callback_conns.max(128),
                )
                .await?;
                report.logins += run.confirmed;
                report.problems.append(&mut run.problems);
                let limit = if n <= 1000 { 20.0 } else { 100.0 };
                let p99 = run.latency.percentile(99.0);
                sse_p50.insert(n, run.latency.percentile(50.0));
                let mut row = Row::new(
                    "scan → browser, SSE",
                    format!("{} waiting, scans at {}/s", count(n as f64), count(o.rate)),
                )
                .times(&mut run.latency);
                row.result = format!(
                    "{} of {} confirmed",
                    count(run.confirmed as f64),
                    count(n as f64)
                );
                row.target = format!("p99 ≤ {limit} ms");
                row.met = Some(p99.as_secs_f64() * 1000.0 <= limit);
                report.rows.push(row);
                let mut cb = run.callback_times;
                report.notes.push(format!(
                    "SSE run with {n} waiting: callback answered in p50 {} / p99 {} (from its scheduled send time)",
                    ms(cb.percentile(50.0)),
                    ms(cb.percentile(99.0))
                ));
                if let (Some(before), Some(after)) = (run.rss_before_kib, run.rss_waiting_kib) {
                    if largest.is_none_or(|(m, _, _)| n > m) {
                        largest = Some((n, before, after));
                    }
                }
            }
            if let Some((n, before, after)) = largest {
                let per = (after as f64 - before as f64) / n as f64;
                let mut row = Row::new(
                    "server memory per waiting SSE browser",
                    format!("{} idle streams", count(n as f64)),
                );
                row.result = format!(
                    "{per:.1} KiB (RSS {} → {} MiB)",
                    before / 1024,
                    after / 1024
                );
                row.target = "≤ 30 KB".into();
                // /proc counts KiB; the target is in kB.
                row.met = Some(per * 1.024 <= 30.0);
                report.rows.push(row);
            }
        }

        if runs("poll") {
            for &n in &o.poll {
                say(format!("scan-to-browser by polling: {n} waiting"));
                let browsers = start(&target, n, o, &mut report).await?;
                let mut run = login::poll_run(
                    &target,
                    &signer,
                    browsers,
                    o.rate,
                    o.poll_interval,
                    o.callback_conns.max(128),
                )
                .await?;
                report.logins += run.confirmed;
                report.problems.append(&mut run.problems);
                let p50 = run.latency.percentile(50.0);
                let mut row = Row::new(
                    format!("scan → browser, polling every {}", ms(run.interval)),
                    format!("{} waiting, scans at {}/s", count(n as f64), count(o.rate)),
                )
                .times(&mut run.latency);
                row.result = format!(
                    "{} of {} confirmed",
                    count(run.confirmed as f64),
                    count(n as f64)
                );
                if let Some(sse) = sse_p50.get(&n).filter(|d| !d.is_zero()) {
                    row.target = format!("p50 {:.0}× SSE's", p50.as_secs_f64() / sse.as_secs_f64());
                }
                report.rows.push(row);
            }
        }

        if runs("callbacks") {
            say(format!("callback throughput: {} plain scans", o.callbacks));
            let browsers = start(&target, o.callbacks, o, &mut report).await?;
            let run = callbacks::throughput_run(
                &target,
                &server.database_url,
                &signer,
                &browsers,
                o.callback_conns,
                200,
                &|| server.cpu(),
            )
            .await?;
            report.logins += run.sent;
            add_throughput_row(&mut report, "plain", run, o.callback_conns);
        }

        if report.starts.len() > 0 {
            let mut starts = std::mem::take(&mut report.starts);
            let mut row = Row::new(
                "start → QR (POST /api/login/start)",
                format!("{} connections, token cached", o.start_conns),
            )
            .times(&mut starts);
            row.result = format!(
                "{}/s ({} starts)",
                count(starts.len() as f64 / report.start_time.as_secs_f64()),
                count(starts.len() as f64)
            );
            report.rows.push(row);
        }

        if runs("pages") {
            pages_phase(&target, &server.db_path, &|| server.cpu(), o, &mut report).await?;
        }
        if runs("static") {
            static_phase(&target, &|| server.cpu(), o, &mut report).await?;
        }

        check_after_crash(&mut server, &mut report, "plain").await?;
    }

    if runs("aes") {
        say("starting a second server (AES safe mode)");
        let (mut server, target) = start_server(o, true).await?;
        login::start_browsers(&target, 1, 1, &mut Latencies::default()).await?;
        say(format!("callback throughput: {} AES scans", o.callbacks));
        let browsers = login::start_browsers(
            &target,
            o.callbacks,
            o.start_conns,
            &mut Latencies::default(),
        )
        .await?;
        let run = callbacks::throughput_run(
            &target,
            &server.database_url,
            &Signer::aes(),
            &browsers,
            o.callback_conns,
            200,
            &|| server.cpu(),
        )
        .await?;
        // A server of its own: its logins are counted afresh.
        report.logins = run.sent;
        add_throughput_row(&mut report, "AES safe mode", run, o.callback_conns);
        check_after_crash(&mut server, &mut report, "AES").await?;
    }

    if runs("cleanup") {
        cleanup_phase(o, &mut report).await?;
    }

    if runs("writing") {
        writing_phase(o, &mut report).await?;
    }

    if runs("instructions") {
        instructions_phase(o, &mut report).await?;
    }

    if runs("engines") {
        engines::phase(o, &mut report).await?;
    }

    let lost_or_dup = report
        .problems
        .iter()
        .filter(|p| p.starts_with("LOST") || p.starts_with("DUPLICATED"))
        .count();
    let mut row = Row::new("lost or duplicated logins", "every run above");
    row.result = if report.problems.is_empty() {
        "0".into()
    } else {
        format!(
            "{} problems ({lost_or_dup} lost/duplicated)",
            report.problems.len()
        )
    };
    row.target = "0".into();
    row.met = Some(report.problems.is_empty());
    report.rows.push(row);
    Ok(report)
}

/// N visitors generating at DeepSeek's pace and following over SSE (a
/// server and a DeepSeek stand-in of their own, for each N).
async fn writing_phase(o: &Options, report: &mut Report) -> Result<(), String> {
    let spec = writing::WritingSpec {
        binary: &o.server,
        site_root: &o.site_root,
        theme_dir: &o.theme_dir,
        env: &o.env,
        pace: o.writing_pace,
    };
    for &n in &o.writing {
        say(format!(
            "writing: {n} generations at {} tokens/s, each followed over SSE",
            o.writing_pace
        ));
        let mut run = writing::run(&spec, n).await?;
        let lost = run
            .problems
            .iter()
            .filter(|p| p.starts_with("LOST"))
            .count();
        let p99 = run.latency.percentile(99.0);
        let mut row = Row::new(
            "token → browser, added delay",
            format!(
                "{} generations at {} tokens/s",
                count(n as f64),
                o.writing_pace
            ),
        )
        .times(&mut run.latency);
        row.result = format!(
            "{} tokens in {:.0} s",
            count(run.tokens as f64),
            run.took.as_secs_f64()
        );
        row.target = if n >= 1000 {
            "p99 ≤ 10 ms".into()
        } else {
            String::new()
        };
        row.met = (n >= 1000).then(|| p99 <= Duration::from_millis(10));
        report.rows.push(row);
        if let (Some(before), Some(active)) = (run.rss_before_kib, run.rss_active_kib) {
            let per = (active as f64 - before as f64) / n as f64;
            let mut row = Row::new(
                "server memory per active generation",
                format!("{} running, each followed", count(n as f64)),
            );
            row.result = format!(
                "{per:.1} KiB (RSS {} → {} MiB)",
                before / 1024,
                active / 1024
            );
            row.target = "≤ 64 KB".into();
            row.met = Some(per * 1.024 <= 64.0);
            report.rows.push(row);
        }
        let mut row = Row::new(
            "database writes while all run",
            format!(
                "{} running, {:.0} s",
                count(n as f64),
                run.window.as_secs_f64()
            ),
        );
        row.result = format!(
            "{:.1} commits/s holding {} version updates/s{}",
            run.commits_per_second,
            count(run.updates_per_second),
            run.disk_bytes_per_second
                .map(|b| format!(", {} KB/s to disk", count(b / 1000.0)))
                .unwrap_or_default()
        );
        report.rows.push(row);
        let mut row = Row::new(
            "lost or reordered tokens",
            format!("{} generations", count(n as f64)),
        );
        row.result = if lost == 0 && run.problems.is_empty() {
            "0 (every stored article = what its browser got)".into()
        } else {
            format!("{} problems", run.problems.len())
        };
        row.target = "0".into();
        row.met = Some(run.problems.is_empty());
        report.rows.push(row);
        if let Some(cpu) = run.cpu_per_token {
            report.notes.push(format!(
                "writing, {n} generations: the server spent {:.1} µs of CPU per token (DeepSeek stand-in excluded)",
                cpu.as_secs_f64() * 1e6
            ));
        }
        if !run.warnings.is_empty() {
            report.notes.push(format!(
                "writing, {n} generations: the server logged:\n{}",
                run.warnings
            ));
        }
        for problem in run.problems.iter().take(10) {
            report.problems.push(format!("writing: {problem}"));
        }
        if run.problems.len() > 10 {
            report
                .problems
                .push(format!("writing: … {} more", run.problems.len() - 10));
        }
    }
    Ok(())
}

/// Callbacks while the clean-up works through a backlog (a server of its
/// own, started on a database full of stale rows).
async fn cleanup_phase(o: &Options, report: &mut Report) -> Result<(), String> {
    let spec = ServerSpec {
        binary: &o.server,
        site_root: &o.site_root,
        theme_dir: &o.theme_dir,
        aes: false,
        env: &o.env,
        wrapper: &[],
        database: None,
    };
    say("clean-up run: creating the schema");
    let mut server = Server::start(&spec).await?;
    say(format!("clean-up run: {} logins started", o.cleanup_scans));
    let first = Target {
        addr: server.addr,
        host: server.host.clone(),
    };
    let browsers = login::start_browsers(
        &first,
        o.cleanup_scans,
        o.start_conns,
        &mut Latencies::default(),
    )
    .await?;
    server.crash();
    say(format!(
        "clean-up run: seeding {} stale rows of each kind",
        count(o.backlog as f64)
    ));
    let db = callbacks::open_db(&server.db_path).await?;
    let seeded = cleanup::seed_backlog(&db, o.backlog).await?;
    db.close().await;
    say("clean-up run: restarting the server (its clean-up starts with it)");
    let launched = Instant::now();
    server.restart(&spec).await?;
    let ready = launched.elapsed();
    let target = Target {
        addr: server.addr,
        host: server.host.clone(),
    };
    say(format!(
        "clean-up run: scanning the {} codes at {}/s meanwhile",
        o.cleanup_scans, o.rate
    ));
    let mut run = cleanup::run(
        &target,
        &server.db_path,
        launched,
        &browsers,
        o.rate,
        o.callback_conns.max(128),
    )
    .await?;
    report.problems.append(&mut run.problems);
    let max = run.callbacks.max();
    let mut row = Row::new(
        "scan callbacks during the clean-up",
        format!(
            "{} stale rows being removed, scans at {}/s",
            count(seeded as f64),
            count(o.rate)
        ),
    )
    .times(&mut run.callbacks);
    row.result = format!(
        "{} of {} answered 200, {} during it",
        count(run.ok as f64),
        count(run.scans as f64),
        count(run.during as f64)
    );
    row.target = "all 200, max ≤ 3 s".into();
    row.met = Some(max <= Duration::from_secs(3) && run.ok == run.scans);
    report.rows.push(row);
    report.notes.push(format!(
        "clean-up: {} stale rows gone {} after the start (the server answered /healthz after {})",
        count(seeded as f64),
        run.cleanup_took
            .map_or("NOT within 15 minutes".to_owned(), |d| format!(
                "{:.1} s",
                d.as_secs_f64()
            )),
        ms(ready),
    ));
    if run.cleanup_took.is_none() {
        report
            .problems
            .push("the clean-up did not finish within 15 minutes".into());
    }
    if server.log_lines() > 0 {
        report.notes.push(format!(
            "the clean-up run's server logged warnings; last lines:\n{}",
            server.log_tail()
        ));
    }
    Ok(())
}

fn add_throughput_row(
    report: &mut Report,
    mode: &str,
    mut run: callbacks::ThroughputRun,
    conns: usize,
) {
    report.problems.append(&mut run.problems);
    let mut row = Row::new(
        format!("verified scan callbacks, {mode}"),
        format!("{} scans, {conns} connections", count(run.sent as f64)),
    )
    .times(&mut run.times);
    row.result = format!("{}/s, all stored", count(run.per_second));
    row.target = "≥ 3 000/s".into();
    row.met = Some(run.per_second >= 3000.0);
    report.rows.push(row);
    report.notes.push(format!(
        "{mode}: {} retried pushes answered the same and changed nothing",
        run.retries
    ));
    if let Some(cpu) = run.cpu_per_callback {
        report.notes.push(format!(
            "{mode}: the server spent {:.0} µs of CPU per callback",
            cpu.as_secs_f64() * 1e6
        ));
    }
}

/// The pages where visitors and writers are, side by side: each load gets
/// one-second turns (`--seconds` rounds), so that other jobs on the machine
/// affect them alike and their ratios are fair.
async fn pages_phase(
    target: &Target,
    db_path: &Path,
    cpu: &dyn Fn() -> Option<Duration>,
    o: &Options,
    report: &mut Report,
) -> Result<(), String> {
    let home = pages::fetch(target, "/").await?;
    if home.head.status != 200 {
        return Err(format!("GET / answered {}", home.head.status));
    }
    let assets = pages::linked_assets(&home.text());
    let Some(css) = assets.iter().find(|a| a.ends_with(".css")).cloned() else {
        report
            .problems
            .push("the home page links no stylesheet under /pkg/".into());
        return Ok(());
    };

    // A writer: logged in, with articles.
    let session = login::log_in(target, &Signer::plain()).await?;
    report.logins += 1;
    articles::seed(db_path).await?;
    check_writer_pages(target, &session).await?;

    let warmup = Duration::from_secs_f64((o.seconds / 5.0).clamp(0.5, 2.0));
    let rounds = o.seconds.round().max(1.0) as usize;
    let turn = |path, accept, cookie| pages::Load {
        path,
        accept,
        cookie,
        conns: o.page_conns,
        warmup,
        duration: Duration::from_secs(1),
    };
    say(format!(
        "pages: /, {css}, / rendered, / logged in, /write, /articles, in turns, {rounds} s each"
    ));
    let loads = [
        turn("/", "text/html", None),
        turn(&css, "text/css", None),
        // Any cookie makes the server render the page for the request.
        turn("/", "text/html", Some("theme=plain")),
        turn("/", "text/html", Some(&session)),
        turn("/write", "text/html", Some(&session)),
        turn("/articles", "text/html", Some(&session)),
    ];
    let runs = pages::interleaved(target, &loads, rounds, cpu).await?;
    let [mut anonymous, mut file, mut rendered, mut logged_in, mut write, mut list]: [pages::PageRun;
        6] = runs
        .try_into()
        .map_err(|_| "the page runs went missing".to_owned())?;

    let anonymous_rate = anonymous.per_second;
    let logged_in_rate = logged_in.per_second;
    let ratios = format!(
        "pages side by side (one run, in turns): logged-in home / anonymous home = {:.2} (target ≥ 0.25); /write / logged-in home = {:.2}, /articles / logged-in home = {:.2} (targets ≥ 1); server CPU per request: {} µs anonymous, {} µs rendered, {} µs logged in, {} µs /write, {} µs /articles",
        logged_in_rate / anonymous_rate.max(1.0),
        write.per_second / logged_in_rate.max(1.0),
        list.per_second / logged_in_rate.max(1.0),
        micros(&anonymous),
        micros(&rendered),
        micros(&logged_in),
        micros(&write),
        micros(&list),
    );
    let file_rate = file.per_second;
    let (write_rate, list_rate) = (write.per_second, list.per_second);
    let conns = o.page_conns;
    push_page_row(
        report,
        "SSR home page GET /, anonymous",
        &mut anonymous,
        conns,
        "≥ 20 000/s",
        Some(anonymous_rate >= 20_000.0),
    );
    push_page_row(
        report,
        &format!("static file GET {css}"),
        &mut file,
        conns,
        "≥ the home page",
        Some(file_rate >= anonymous_rate),
    );
    push_page_row(
        report,
        "SSR home page GET /, rendered for each request",
        &mut rendered,
        conns,
        "",
        None,
    );
    push_page_row(
        report,
        "SSR home page GET /, logged in",
        &mut logged_in,
        conns,
        "≥ 0.25 × anonymous",
        Some(logged_in_rate >= 0.25 * anonymous_rate),
    );
    push_page_row(
        report,
        "GET /write, logged in",
        &mut write,
        conns,
        "≥ the logged-in home",
        Some(write_rate >= logged_in_rate),
    );
    push_page_row(
        report,
        &format!("GET /articles, logged in, {} articles", articles::ARTICLES),
        &mut list,
        conns,
        "≥ the logged-in home",
        Some(list_rate >= logged_in_rate),
    );
    report.notes.push(ratios);
    Ok(())
}

fn micros(run: &pages::PageRun) -> String {
    run.cpu_per_request
        .map_or("?".into(), |c| format!("{:.0}", c.as_secs_f64() * 1e6))
}

/// The writer's pages answer as a writer's: logged in, the desk, the list
/// with every article (so the load measures the real pages, not an error).
async fn check_writer_pages(target: &Target, session: &str) -> Result<(), String> {
    let write = pages::fetch_with_cookie(target, "/write", session).await?;
    let text = write.text();
    if write.head.status != 200 || !text.contains("m-writer") || text.contains("module-failed") {
        return Err(format!(
            "GET /write logged in answered {} without the writer",
            write.head.status
        ));
    }
    let list = pages::fetch_with_cookie(target, "/articles", session).await?;
    let rows = list.text().matches("data-testid=\"article-row\"").count();
    if list.head.status != 200 || rows != articles::ARTICLES {
        return Err(format!(
            "GET /articles logged in answered {} with {rows} articles, not {}",
            list.head.status,
            articles::ARTICLES
        ));
    }
    Ok(())
}

/// The site's in-memory static files against tower-http's `ServeDir` with
/// the build's precompressed files (the `servedir` binary beside this one),
/// on the same files, in turns.
async fn static_phase(
    target: &Target,
    cpu: &dyn Fn() -> Option<Duration>,
    o: &Options,
    report: &mut Report,
) -> Result<(), String> {
    let home = pages::fetch(target, "/").await?;
    let assets = pages::linked_assets(&home.text());
    let files: Vec<&String> = [".css", ".wasm"]
        .iter()
        .filter_map(|ext| assets.iter().find(|a| a.ends_with(ext)))
        .collect();
    if files.len() < 2 {
        report.problems.push(format!(
            "static: the home page links no stylesheet or wasm ({assets:?})"
        ));
        return Ok(());
    }
    let servedir = std::env::current_exe()
        .map_err(|e| format!("where am I: {e}"))?
        .with_file_name("servedir");
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?;
    say(format!(
        "static: starting {} on {addr} for {}",
        servedir.display(),
        o.site_root.display()
    ));
    let mut child = std::process::Command::new(&servedir)
        .arg("--root")
        .arg(&o.site_root)
        .arg("--addr")
        .arg(addr.to_string())
        .stdin(std::process::Stdio::null())
        .spawn()
        .map_err(|e| {
            format!(
                "cannot start {} (cargo build --release -p loadtest builds it): {e}",
                servedir.display()
            )
        })?;
    let result = async {
        let other = Target {
            addr,
            host: addr.to_string(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while pages::fetch(&other, files[0]).await.is_err() {
            if Instant::now() > deadline {
                return Err("servedir did not start".to_owned());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let pid = child.id();
        let other_cpu = move || server::cpu_of(pid);
        let warmup = Duration::from_secs_f64((o.seconds / 5.0).clamp(0.5, 2.0));
        let rounds = o.seconds.round().max(1.0) as usize;
        for file in &files {
            // Both must answer the same bytes, Brotli-compressed.
            let ours = pages::fetch(target, file).await?;
            let theirs = pages::fetch(&other, file).await?;
            if theirs.head.status != 200
                || theirs.head.header("content-encoding") != Some("br")
                || ours.head.header("content-encoding") != Some("br")
                || ours.body.len() != theirs.body.len()
            {
                report.problems.push(format!(
                    "static: {file} differs: ours {} {:?} {} B, ServeDir {} {:?} {} B",
                    ours.head.status,
                    ours.head.header("content-encoding"),
                    ours.body.len(),
                    theirs.head.status,
                    theirs.head.header("content-encoding"),
                    theirs.body.len()
                ));
                continue;
            }
            say(format!(
                "static: GET {file}, in-memory and ServeDir in turns, {rounds} s each"
            ));
            let load = pages::Load {
                path: file,
                accept: "*/*",
                cookie: None,
                conns: o.page_conns,
                warmup,
                duration: Duration::from_secs(1),
            };
            let mut runs = pages::in_turns(
                &[
                    pages::Turn { target, load, cpu },
                    pages::Turn {
                        target: &other,
                        load,
                        cpu: &other_cpu,
                    },
                ],
                rounds,
            )
            .await?;
            let (mut memory, mut servedir) = match (runs.pop(), runs.pop()) {
                (Some(servedir), Some(memory)) => (memory, servedir),
                _ => return Err("the static runs went missing".into()),
            };
            let faster = memory.per_second >= servedir.per_second;
            push_page_row(
                report,
                &format!("static {file}: in memory (server)"),
                &mut memory,
                o.page_conns,
                "≥ ServeDir",
                Some(faster),
            );
            push_page_row(
                report,
                &format!("static {file}: tower-http ServeDir, precompressed"),
                &mut servedir,
                o.page_conns,
                "",
                None,
            );
        }
        Ok(())
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn push_page_row(
    report: &mut Report,
    what: &str,
    run: &mut pages::PageRun,
    conns: usize,
    target: &str,
    met: Option<bool>,
) {
    let mut row = Row::new(what, format!("{conns} keep-alive connections")).times(&mut run.latency);
    row.result = format!(
        "{}/s ({} B each)",
        count(run.per_second),
        count(run.body_bytes as f64 / run.requests.max(1) as f64)
    );
    row.target = target.into();
    row.met = met;
    report.rows.push(row);
    if let Some(cpu) = run.cpu_per_request {
        report.notes.push(format!(
            "{what}: the server spent {:.0} µs of CPU per request",
            cpu.as_secs_f64() * 1e6
        ));
    }
    if run.errors > 0 {
        report.problems.push(format!(
            "GET {}: {} of {} requests failed (first: {})",
            run.path,
            run.errors,
            run.requests,
            run.first_error.clone().unwrap_or_default()
        ));
    }
}

/// Each page's instructions per request, the server under callgrind.
async fn instructions_phase(o: &Options, report: &mut Report) -> Result<(), String> {
    if !instructions::available() {
        return Err("the instructions phase needs valgrind (apt-get install valgrind)".into());
    }
    let temporary = tempfile::Builder::new()
        .prefix("loadtest-callgrind-")
        .tempdir()
        .map_err(|e| format!("cannot make a temporary folder: {e}"))?;
    let dir = match &o.callgrind_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            dir.clone()
        }
        None => temporary.path().to_owned(),
    };
    let wrapper = [
        "valgrind".to_owned(),
        "--tool=callgrind".to_owned(),
        format!(
            "--callgrind-out-file={}",
            dir.join("callgrind.out").display()
        ),
    ];
    say("instructions: starting the server under callgrind (slow)");
    let (server, target) = start_server_under(o, false, &wrapper).await?;
    let pid = server.pid().ok_or("the server has no pid")?;
    let session = login::log_in(&target, &Signer::plain()).await?;
    articles::seed(&server.db_path).await?;
    check_writer_pages(&target, &session).await?;
    let list = format!("GET /articles, logged in, {} articles", articles::ARTICLES);
    let pages = [
        instructions::Page {
            name: "SSR home page GET /, anonymous",
            path: "/",
            cookie: None,
        },
        instructions::Page {
            name: "SSR home page GET /, rendered for each request",
            path: "/",
            cookie: Some("theme=plain"),
        },
        instructions::Page {
            name: "SSR home page GET /, logged in",
            path: "/",
            cookie: Some(&session),
        },
        instructions::Page {
            name: "GET /write, logged in",
            path: "/write",
            cookie: Some(&session),
        },
        instructions::Page {
            name: &list,
            path: "/articles",
            cookie: Some(&session),
        },
    ];
    say(format!(
        "instructions: {} requests of each page, one after another",
        o.instr_requests
    ));
    let figures = instructions::count(&target, pid, &dir, &pages, o.instr_requests).await?;
    for (page, n) in pages.iter().zip(figures) {
        let mut row = Row::new(
            format!("{}: instructions per request", page.name),
            format!("callgrind, {} requests", o.instr_requests),
        );
        row.result = count(n as f64);
        report.rows.push(row);
    }
    drop(server);
    if let Some(dir) = &o.callgrind_dir {
        report.notes.push(format!(
            "callgrind dumps in {}: one per page after each warm-up, in the order of the rows (callgrind_annotate <file>)",
            dir.display()
        ));
    }
    Ok(())
}

/// Kills the server as a crash would and checks that every login it answered
/// "logged in" is in the database file.
async fn check_after_crash(
    server: &mut Server,
    report: &mut Report,
    name: &str,
) -> Result<(), String> {
    if server.log_lines() > 0 {
        report.notes.push(format!(
            "the {name} server logged warnings; last lines:\n{}",
            server.log_tail()
        ));
    }
    server.crash();
    let db = callbacks::open_db(&server.db_path).await?;
    // A completed login (the pages' logged-in visitor) is `consumed`.
    let stored = callbacks::count(
        &db,
        "SELECT COUNT(*) FROM login_attempts WHERE status IN ('confirmed', 'consumed')",
    )
    .await? as usize;
    db.close().await;
    if stored != report.logins {
        report.problems.push(format!(
            "LOST: after a crash the {name} server's database holds {stored} confirmed logins; it answered {} scans with \"logged in\"",
            report.logins
        ));
    } else {
        report.notes.push(format!(
            "{name} server killed (SIGKILL) after the runs: all {stored} logins it confirmed are in its database"
        ));
    }
    Ok(())
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("loadtest: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let files = server::raise_open_files();
    let needed = options
        .sse
        .iter()
        .chain(&options.poll)
        .copied()
        // A writing run: each generation a stream here and a DeepSeek
        // connection in and out of the stand-in.
        .chain(options.writing.iter().map(|n| n * 2))
        .max()
        .unwrap_or(0) as u64
        + 1024;
    if files < needed {
        eprintln!(
            "loadtest: the open-file limit is {files} even at its hard maximum; {needed} are needed (raise `ulimit -Hn`)"
        );
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("loadtest: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    say(format!(
        "{} cores, open-file limit {files}, server {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        options.server.display()
    ));
    let began = Instant::now();
    let report = match runtime.block_on(run(&options)) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("\nloadtest: FAILED: {e}");
            return ExitCode::FAILURE;
        }
    };
    report.print();
    println!("\n(run took {:.0} s)", began.elapsed().as_secs_f64());
    if !report.problems.is_empty() {
        eprintln!("\nloadtest: FAILED: logins or article text lost, duplicated or mangled:");
        for p in &report.problems {
            eprintln!("  - {p}");
        }
        return ExitCode::FAILURE;
    }
    let missed: Vec<&Row> = report
        .rows
        .iter()
        .filter(|r| r.met == Some(false))
        .collect();
    if !missed.is_empty() {
        eprintln!("\nloadtest: targets missed:");
        for r in &missed {
            eprintln!("  - {} ({}): {}", r.what, r.setting, r.target);
        }
        if options.strict {
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// Starts the server under test (AES safe mode when `aes`) and the address
/// the load goes to.
async fn start_server(o: &Options, aes: bool) -> Result<(Server, Target), String> {
    start_server_under(o, aes, &[]).await
}

/// [`start_server`] under `wrapper` (a program and its arguments).
async fn start_server_under(
    o: &Options,
    aes: bool,
    wrapper: &[String],
) -> Result<(Server, Target), String> {
    // Writing is configured (the writer's pages are measured); nothing in
    // these runs generates, so DeepSeek's address leads nowhere.
    let mut env = vec![
        (
            "DEEPSEEK_API_KEY".to_owned(),
            "sk-fake-key-for-loadtest".to_owned(),
        ),
        (
            "DEEPSEEK_BASE_URL".to_owned(),
            "http://127.0.0.1:9/not-used".to_owned(),
        ),
    ];
    env.extend(o.env.iter().cloned());
    let server = Server::start(&ServerSpec {
        binary: &o.server,
        site_root: &o.site_root,
        theme_dir: &o.theme_dir,
        aes,
        env: &env,
        wrapper,
        database: None,
    })
    .await?;
    let target = Target {
        addr: server.addr,
        host: server.host.clone(),
    };
    Ok((server, target))
}
