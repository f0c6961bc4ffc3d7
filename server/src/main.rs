use std::{io::IsTerminal, path::Path, process::ExitCode};

use server::{
    backup,
    cli::{self, Command},
    config::{self, Config, LogFormat},
    db, doctor, embedded,
    startup::Application,
    telemetry,
};

/// Rendering a page allocates and frees many small strings; with glibc's
/// allocator that was about a sixth of a page's CPU time (bench/README.md).
/// Built without transparent huge pages (`no_thp`): with them, every open
/// event stream cost ~30 KiB of memory instead of ~20.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args_os().skip(1)) {
        Ok(command) => command,
        Err(err) => {
            eprintln!("{err}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => {
            print!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Command::Version => {
            println!("server {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Command::InitTheme(dir) => return init_theme(&dir),
        Command::Run
        | Command::Backup(_)
        | Command::Restore(_)
        | Command::Doctor
        | Command::MoveToPostgres => {}
    }

    // An optional, untracked `.env` fills in settings the environment lacks.
    match dotenvy::dotenv() {
        Ok(_) => {}
        Err(err) if err.not_found() => {}
        Err(err) => {
            eprintln!("the server cannot start: .env is not readable: {err}");
            return ExitCode::FAILURE;
        }
    }

    match command {
        Command::Backup(file) => backup(&file),
        Command::Restore(file) => restore(&file),
        Command::Doctor => doctor(),
        Command::MoveToPostgres => move_to_postgres(),
        _ => run(),
    }
}

fn run() -> ExitCode {
    let format = match LogFormat::from_env() {
        Ok(format) => format,
        Err(err) => {
            eprintln!("the server cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init(format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!("the server cannot start: no async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let app = match Config::from_env() {
            Ok(config) => Application::build(config).await,
            Err(err) => Err(err.into()),
        };
        let app = match app {
            Ok(app) => app,
            Err(err) => {
                tracing::error!("the server cannot start: {err}");
                return ExitCode::FAILURE;
            }
        };

        tracing::info!("listening on http://{}", app.address());
        match app.run_until_stopped().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                tracing::error!("the server stopped with an error: {err}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Logs nothing (no subscriber): what it prints goes to the operator's
/// terminal only, and the secrets only when that is a terminal.
fn doctor() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("doctor 无法运行：{err}");
            return ExitCode::FAILURE;
        }
    };
    let report = runtime.block_on(doctor::run(|name| std::env::var(name).ok()));
    let show_secrets = std::io::stdout().is_terminal();
    print!("{}", report.render(show_secrets));
    if report.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn init_theme(dir: &Path) -> ExitCode {
    match embedded::write_default_theme(dir) {
        Ok(files) => {
            println!(
                "已把默认主题写入 {}（{files} 个文件）。修改后重启网站生效；设置 THEME_DIR={} 让网站使用它。",
                dir.display(),
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("写入主题失败：{err}");
            ExitCode::FAILURE
        }
    }
}

/// The database file `DATABASE_URL` names.
fn database_file() -> Result<std::path::PathBuf, String> {
    let url = config::database_url_from_env().map_err(|e| e.to_string())?;
    if db::Engine::of_url(&url) == Some(db::Engine::Postgres) {
        return Err(
            "DATABASE_URL 是 PostgreSQL：它的备份用 PostgreSQL 自己的工具，\
                    pg_dump -Fc -f 备份文件 库名 备份，pg_restore --clean -d 库名 备份文件 恢复\
                    （README「多个进程：PostgreSQL」）"
                .into(),
        );
    }
    db::file_of_url(&url).map_err(|e| e.to_string())
}

fn move_to_postgres() -> ExitCode {
    let source = match config::database_url_from_env() {
        Ok(url) => url,
        Err(err) => {
            eprintln!("复制失败：{err}");
            return ExitCode::FAILURE;
        }
    };
    let Some(target) = std::env::var("NEW_DATABASE_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
    else {
        eprintln!(
            "复制失败：没有设置 NEW_DATABASE_URL。把目标 PostgreSQL 库的地址放进它（环境变量或 .env），\
             例如 NEW_DATABASE_URL=postgres://wensi:密码@127.0.0.1:5432/wensi，再运行 server move-to-postgres"
        );
        return ExitCode::FAILURE;
    };
    let target = target.trim().to_owned();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("复制失败：{err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(server::move_to_postgres::run(&source, &target)) {
        Ok(moved) => {
            let rows = moved
                .tables
                .iter()
                .map(|(table, rows)| format!("{table} {rows}"))
                .collect::<Vec<_>>()
                .join("，");
            println!(
                "已复制 {} → {}（{rows}；{} 毫秒）。\n下一步：把 DATABASE_URL 改成 NEW_DATABASE_URL 的值，启动网站；原来的 SQLite 文件保留不动，确认无误后再自行处理。",
                source,
                db::display_url(&target),
                moved.millis
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("复制失败：{err}");
            ExitCode::FAILURE
        }
    }
}

fn backup(file: &Path) -> ExitCode {
    let result = database_file().and_then(|database| {
        backup::backup(&database, file)
            .map(|summary| (database, summary))
            .map_err(|e| e.to_string())
    });
    match result {
        Ok((database, summary)) => {
            println!(
                "已备份 {} → {}（{}，用户 {} 个，登录会话 {} 个）。恢复：停止网站后运行 server restore {}",
                database.display(),
                file.display(),
                size(summary.bytes),
                summary.users,
                summary.sessions,
                file.display()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("备份失败：{err}");
            ExitCode::FAILURE
        }
    }
}

fn restore(file: &Path) -> ExitCode {
    let result = database_file().and_then(|database| {
        backup::restore(file, &database)
            .map(|summary| (database, summary))
            .map_err(|e| e.to_string())
    });
    match result {
        Ok((database, summary)) => {
            println!(
                "已用 {} 恢复数据库 {}（用户 {} 个，登录会话 {} 个）。现在可以启动网站了。",
                file.display(),
                database.display(),
                summary.users,
                summary.sessions
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("恢复失败：{err}");
            ExitCode::FAILURE
        }
    }
}

fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MB", bytes as f64 / (1 << 20) as f64)
    } else {
        format!("{:.0} KB", (bytes as f64 / 1024.0).ceil())
    }
}
