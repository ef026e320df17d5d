//! The `optima` command line. Scripts depend on it: keep verbs and flags stable.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::auth::Role;
use crate::config::{Config, Overrides, ServerOverrides};

#[derive(Debug, Parser)]
#[command(name = "optima", version, about = "The R3AL cloud backend", args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// `serve` is the default verb: its flags work without it.
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate(Common),
    /// Print a signed bearer token (and nothing else) on stdout.
    Token(TokenArgs),
    /// Write a consistent copy of the database, safe while the server runs.
    Backup(BackupArgs),
    /// Manage the master key that wraps Tactical HQ's data keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Re-wrap every data key under a new master key (generated unless `tactical.master_key`
    /// is configured); prints a JSON report. Safe while the server runs.
    Rotate(Common),
}

#[derive(Debug, Args, Clone, Default)]
struct Common {
    /// Configuration file (default: ./config.toml when present).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory: database, blobs, keys (overrides `data_dir`).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Args, Clone, Default)]
struct ServeArgs {
    #[command(flatten)]
    common: Common,
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free one).
    #[arg(long, value_name = "ADDR")]
    bind: Option<String>,
}

#[derive(Debug, Args)]
struct TokenArgs {
    #[command(flatten)]
    common: Common,
    /// The user id the token names (any string the app uses).
    #[arg(long)]
    user: String,
    #[arg(long, value_enum, default_value = "user")]
    role: Role,
    /// Lifetime in seconds (default: `auth.token_ttl_secs`).
    #[arg(long, value_name = "SECONDS")]
    ttl: Option<u64>,
}

#[derive(Debug, Args)]
struct BackupArgs {
    #[command(flatten)]
    common: Common,
    /// Where to write the copy (must not exist yet).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

fn load(common: &Common, bind: Option<String>) -> Result<Config, String> {
    let overrides = Overrides { data_dir: common.data_dir.clone(), server: bind.map(|bind| ServerOverrides { bind }) };
    Config::load(common.config.as_deref(), overrides).map_err(|e| e.to_string())
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => serve(cli.serve),
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Migrate(common)) => migrate(&common),
        Some(Command::Token(args)) => token(&args),
        Some(Command::Backup(args)) => backup(&args),
        Some(Command::Keys(KeysCommand::Rotate(common))) => rotate_keys(&common),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> Result<(), String> {
    let config = load(&args.common, args.bind)?;
    crate::telemetry::init(&config.log);
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        // Handlers first: a signal that arrives as soon as the server is ready must be seen.
        let stop = shutdown_signal().map_err(|e| format!("cannot install signal handlers: {e}"))?;
        let server = crate::app::start(config).await.map_err(|e| e.to_string())?;
        server.wait(stop).await.map_err(|e| e.to_string())?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// Resolves on SIGINT or SIGTERM.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        tracing::info!("shutdown requested: finishing in-flight requests");
    })
}

fn migrate(common: &Common) -> Result<(), String> {
    let config = load(common, None)?;
    let applied = crate::db::migrate(&config.database_path(), &config.database).map_err(|e| e.to_string())?;
    if applied.is_empty() {
        println!("{}: schema is up to date", config.database_path().display());
    } else {
        println!("{}: applied {}", config.database_path().display(), applied.join(", "));
    }
    Ok(())
}

fn token(args: &TokenArgs) -> Result<(), String> {
    let config = load(&args.common, None)?;
    let tokens = crate::app::token_service(&config).map_err(|e| e.to_string())?;
    let ttl = args.ttl.unwrap_or(config.auth.token_ttl_secs);
    if args.user.is_empty() {
        return Err("--user must not be empty".into());
    }
    let (token, _) = tokens.mint(&args.user, args.role, ttl).map_err(|e| e.to_string())?;
    println!("{token}");
    Ok(())
}

fn backup(args: &BackupArgs) -> Result<(), String> {
    let config = load(&args.common, None)?;
    if args.out.exists() {
        return Err(format!("{} already exists; choose a new file", args.out.display()));
    }
    let db = config.database_path();
    if !db.is_file() {
        return Err(format!("no database at {}", db.display()));
    }
    let size = crate::db::backup(&db, &args.out, &config.database).map_err(|e| e.to_string())?;
    println!("{}: {size} bytes", args.out.display());
    Ok(())
}

fn rotate_keys(common: &Common) -> Result<(), String> {
    let config = load(common, None)?;
    let report = crate::features::tactical::rotation::rotate(&config)?;
    println!("{}", serde_json::to_string(&report).map_err(|e| e.to_string())?);
    Ok(())
}
