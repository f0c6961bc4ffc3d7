//! Backups: taken while the site runs and logins go on, restored into a
//! wiped database, with the users and sessions back (`server backup` /
//! `server restore`, through the library and through the binary).

mod common;

use std::{path::Path, process::Command, time::Duration};

use common::spawn;
use server::backup::{self, BackupError};

const ALICE: &str = "oAliceFakeOpenid0000000000001";

/// Starts a server on the database in `dir`, logs a browser in; the server
/// and the browser (with its session cookie).
async fn site_with_a_login(dir: &Path) -> (common::TestApp, reqwest::Client) {
    let url = format!("sqlite://{}/site.db", dir.display());
    let app = spawn(&[("DATABASE_URL", &url)]).await;
    let id = app.start().await;
    app.scan(ALICE, &id, false).await;
    assert_eq!(app.complete(&id).await.status(), 200);
    assert_eq!(app.get("/api/me").await.status(), 200);
    let browser = app.browser.clone();
    (app, browser)
}

fn wipe(database: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = database.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(name);
    }
    assert!(!database.exists());
}

/// Restores once the stopped server has closed its connections.
async fn restore_when_stopped(file: &Path, database: &Path) -> backup::Summary {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match backup::restore(file, database) {
            Err(BackupError::InUse(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            other => return other.unwrap(),
        }
    }
}

#[tokio::test]
async fn a_backup_taken_while_the_site_runs_restores_users_and_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("site.db");
    let (app, browser) = site_with_a_login(dir.path()).await;

    // More logins while the backup runs: the copy is of one instant.
    let busy = {
        let base = app.base.clone();
        tokio::spawn(async move {
            let client = common::new_browser();
            for _ in 0..20 {
                let _ = client.post(format!("{base}/api/login/start")).send().await;
            }
        })
    };
    let file = dir.path().join("backup-1.db");
    let taken = {
        let (database, file) = (database.clone(), file.clone());
        tokio::task::spawn_blocking(move || backup::backup(&database, &file))
            .await
            .unwrap()
            .unwrap()
    };
    busy.await.unwrap();
    assert_eq!((taken.users, taken.sessions), (1, 1));
    assert!(taken.bytes > 0);
    // One self-contained file: nothing left beside it.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("backup-1.db") && name != "backup-1.db")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Never over a running site.
    let err = backup::restore(&file, &database).unwrap_err();
    assert!(matches!(err, BackupError::InUse(_)), "{err}");

    let old_base = app.base.clone();
    drop(app);
    // Wait until the old server stopped answering.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while reqwest::get(format!("{old_base}/healthz")).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server did not stop"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wipe(&database);

    let restored = restore_when_stopped(&file, &database).await;
    assert_eq!((restored.users, restored.sessions), (1, 1));

    let url = format!("sqlite://{}", database.display());
    let app = spawn(&[("DATABASE_URL", &url)]).await;
    // The browser's session cookie (cookies are per host, not port) is
    // still good: the session came back.
    let me = browser.get(app.url("/api/me")).send().await.unwrap();
    assert_eq!(me.status(), 200);
    let me: serde_json::Value = me.json().await.unwrap();
    assert!(me["user"]["display_name"]
        .as_str()
        .is_some_and(|n| !n.is_empty()));
    assert_eq!(app.count("users").await, 1);
}

#[tokio::test]
async fn a_backup_never_overwrites_and_a_restore_takes_only_our_database() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = site_with_a_login(dir.path()).await;
    let database = dir.path().join("site.db");

    let existing = dir.path().join("existing.db");
    std::fs::write(&existing, "keep me").unwrap();
    let err = backup::backup(&database, &existing).unwrap_err();
    assert!(matches!(err, BackupError::Exists(_)), "{err}");
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me");

    let err = backup::backup(&dir.path().join("nope.db"), &dir.path().join("b.db")).unwrap_err();
    assert!(matches!(err, BackupError::NoDatabase(_)), "{err}");

    drop(app);
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let target = other.join("site.db");
    // Garbage, an empty file, and a SQLite file of something else.
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, [0x53u8, 0x51, 0x4c, 0xff, 0x00].repeat(500)).unwrap();
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, "").unwrap();
    let foreign = dir.path().join("foreign.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('hi');")
        .unwrap();
    for bad in [&garbage, &empty, &foreign] {
        let err = backup::restore(bad, &target).unwrap_err();
        assert!(
            matches!(err, BackupError::NotABackup { .. }),
            "{}: {err}",
            bad.display()
        );
    }
    let err = backup::restore(&dir.path().join("missing.db"), &target).unwrap_err();
    assert!(matches!(err, BackupError::NoBackup(_)), "{err}");
    // Nothing was put in place of the database.
    let has_users = rusqlite::Connection::open(&target)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'users'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap();
    assert_eq!(has_users, 0);
}

/// The same through the binary, as the owner runs it: settings from `.env`
/// in the current folder.
#[tokio::test]
async fn the_commands_back_up_and_restore() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = site_with_a_login(dir.path()).await;
    std::fs::write(dir.path().join(".env"), "DATABASE_URL=sqlite://site.db\n").unwrap();
    let server = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_server"))
            .args(args)
            .current_dir(dir.path())
            .env_remove("DATABASE_URL")
            .output()
            .unwrap()
    };

    let out = server(&["backup", "nightly.db"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("用户 1 个") && said.contains("登录会话 1 个"),
        "{said}"
    );

    let out = server(&["backup", "nightly.db"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("不会覆盖"));

    let out = server(&["restore", "nightly.db"]);
    assert!(!out.status.success(), "refused while the site runs");
    assert!(String::from_utf8_lossy(&out.stderr).contains("停止网站"));

    let out = server(&["backup"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("用法"));
    drop(app);
}
