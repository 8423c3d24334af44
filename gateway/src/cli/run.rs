//! `gridsense run`: validates the configuration, runs the gateway until
//! SIGTERM or Ctrl-C, and reloads the rules on SIGHUP.

use std::path::Path;
use std::process::ExitCode;

use crate::app::{self, StartError};
use crate::clock::SharedClock;
use crate::config::{Config, validate};

/// Runs `run`: exits 2 if the configuration is invalid, 1 if the gateway
/// cannot start.
pub fn main(path: &Path, log_format: Option<crate::log::LogFormat>) -> ExitCode {
    let cfg = match validate::file(path) {
        Ok(v) => v.config,
        Err(problems) => {
            super::check::report(&problems);
            return ExitCode::from(2);
        }
    };
    crate::log::init(crate::log::choose(log_format, cfg.log.format));
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let clock = match crate::clock::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async {
        match run_until_signal(&cfg, path, clock).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Runs the gateway until SIGTERM or Ctrl-C, then shuts down gracefully
/// (every task stopped, the store flushed). On SIGHUP the file at `path` is
/// validated again and, if valid, its rules replace the running ones.
///
/// # Errors
/// [`StartError`] when it cannot start, [`StartError::Stopped`] when a stage
/// stopped while it ran (it is shut down first).
pub async fn run_until_signal(
    cfg: &Config,
    path: &Path,
    clock: SharedClock,
) -> Result<(), StartError> {
    let gw = app::start(cfg, clock).await?;
    crate::notify::notify("READY=1");
    if let Some(every) = crate::notify::watchdog_every() {
        let health = gw.health.clone();
        gw.tasks().spawn_stage("watchdog", async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    () = health.tasks.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let report = health.check().await;
                if report.ok {
                    crate::notify::notify("WATCHDOG=1");
                } else {
                    tracing::error!(problems = ?report.problems, "unhealthy: the watchdog is not fed");
                }
            }
        });
    }
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            what = gw.failed() => {
                gw.stop().await;
                return Err(StartError::Stopped(what));
            }
            () = hangup() => {
                if let Err(problems) = crate::reload::rules(&gw, path).await {
                    for p in problems {
                        tracing::error!(problem = %p, "reload refused; the old rules keep running");
                    }
                }
            }
        }
    }
    tracing::info!("shutting down");
    crate::notify::notify("STOPPING=1");
    gw.stop().await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGHUP (never elsewhere).
async fn hangup() {
    #[cfg(unix)]
    if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        s.recv().await;
        return;
    }
    std::future::pending::<()>().await;
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
