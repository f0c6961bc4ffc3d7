use std::process::ExitCode;

use server::{config::Config, startup::Application, telemetry};

/// Rendering a page allocates and frees many small strings; with glibc's
/// allocator that was about a sixth of a page's CPU time (bench/README.md).
/// Built without transparent huge pages (`no_thp`): with them, every open
/// event stream cost ~30 KiB of memory instead of ~20.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // An optional, untracked `.env` fills in settings the environment lacks.
    match dotenvy::dotenv() {
        Ok(_) => {}
        Err(err) if err.not_found() => {}
        Err(err) => {
            eprintln!("the server cannot start: .env is not readable: {err}");
            return ExitCode::FAILURE;
        }
    }
    telemetry::init();

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
}
