//! The `optima` command line. Scripts depend on it: keep verbs and flags stable.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::auth::Role;
use crate::config::{Config, Overrides, ServerOverrides, StorageBackend};

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
    /// Write a whole backup (database, blobs, keys, and a manifest of checksums) to a new
    /// folder; safe while the server runs.
    Backup(BackupArgs),
    /// Bring a backup back into an empty data directory, verifying it against its manifest.
    Restore(RestoreArgs),
    /// Manage the master key that wraps Tactical HQ's data keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage the blob store.
    #[command(subcommand)]
    Storage(StorageCommand),
    /// Move the database to another backend.
    #[command(subcommand)]
    Db(DbCommand),
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Copy a stopped server's SQLite database (the data folder's) into an empty PostgreSQL
    /// database: applies the migrations, copies every table in one transaction, and commits only
    /// once row counts and the audit chain verify. Refuses a target that holds any rows.
    Copy(DbCopyArgs),
}

#[derive(Debug, Args)]
struct DbCopyArgs {
    #[command(flatten)]
    common: Common,
    /// The PostgreSQL database to copy into: `postgres://user:password@host:5432/dbname`. The
    /// other `[database]` settings (TLS, timeouts) come from the configuration.
    #[arg(long, value_name = "URL")]
    to: String,
}

#[derive(Debug, Subcommand)]
enum StorageCommand {
    /// Copy every object from one backend to another (both as configured), skipping those the
    /// target already holds with the same size and SHA-256. Interrupt it at any time (Ctrl-C
    /// stops after the object in hand) and run it again to resume; it ends by verifying every
    /// object in the target.
    Copy(CopyArgs),
}

#[derive(Debug, Args)]
struct CopyArgs {
    #[command(flatten)]
    common: Common,
    #[arg(long, value_enum)]
    from: StorageBackend,
    #[arg(long, value_enum)]
    to: StorageBackend,
    /// Copy only this bucket (name or alias); default: all five.
    #[arg(long, value_name = "NAME")]
    bucket: Option<String>,
    /// Show what would be copied, write nothing.
    #[arg(long)]
    dry_run: bool,
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
    /// The user id the token names: 1 to 128 of ASCII letters, digits and `_ - . @ +`.
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
    /// The folder to write the backup to (must not exist yet).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

#[derive(Debug, Args)]
struct RestoreArgs {
    #[command(flatten)]
    common: Common,
    /// The backup folder (as `optima backup` wrote it).
    #[arg(long, value_name = "DIR")]
    from: PathBuf,
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
        Some(Command::Restore(args)) => restore(&args),
        Some(Command::Keys(KeysCommand::Rotate(common))) => rotate_keys(&common),
        Some(Command::Storage(StorageCommand::Copy(args))) => storage_copy(&args),
        Some(Command::Db(DbCommand::Copy(args))) => db_copy(&args),
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
    if config.database.is_postgres() {
        let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
        return runtime.block_on(async {
            let db = crate::db::postgres::PgDb::connect(&config.database).await.map_err(|e| e.to_string())?;
            let applied = db.migrate().await.map_err(|e| e.to_string())?;
            if applied.is_empty() {
                println!("{}: schema is up to date", db.target());
            } else {
                println!("{}: applied {}", db.target(), applied.join(", "));
            }
            Ok(())
        });
    }
    let applied = crate::db::migrate(&config.database_path(), &config.database).map_err(|e| e.to_string())?;
    if applied.is_empty() {
        println!("{}: schema is up to date", config.database_path().display());
    } else {
        println!("{}: applied {}", config.database_path().display(), applied.join(", "));
    }
    Ok(())
}

/// Backups copy the SQLite file with the blobs and keys beside it: refused while `database.url`
/// names PostgreSQL, whose own tools back it up, rather than quietly copy a file the server
/// does not use.
fn sqlite_only(config: &Config, verb: &str) -> Result<(), String> {
    if config.database.is_postgres() {
        return Err(format!(
            "`optima {verb}` works on the embedded SQLite database, and `database.url` names PostgreSQL: back it up \
             with its own tools (pg_dump, Cloud SQL's automated backups) and the blobs with `optima storage copy`"
        ));
    }
    Ok(())
}

fn token(args: &TokenArgs) -> Result<(), String> {
    let config = load(&args.common, None)?;
    // A token minted with a secret only this machine has would be refused by every server.
    config.require_shared_secrets().map_err(|e| e.to_string())?;
    let tokens = crate::app::token_service(&config).map_err(|e| e.to_string())?;
    let ttl = args.ttl.unwrap_or(config.auth.token_ttl_secs);
    let (token, _) = tokens.mint(&args.user, args.role, ttl).map_err(|e| e.to_string())?;
    println!("{token}");
    Ok(())
}

fn backup(args: &BackupArgs) -> Result<(), String> {
    use crate::backup::{Target, Trigger, write};
    let config = load(&args.common, None)?;
    sqlite_only(&config, "backup")?;
    let target = Target::Dir(args.out.clone());
    let manifest = with_interrupt(|stop| async move {
        let mut show = progress_printer("copied");
        write(&config, &target, Trigger::Command, &stop, &mut show).await.map_err(|e| e.to_string())
    })?;
    println!(
        "backup written to {}: database and {} key files, {} blobs ({}), snapshot of {}",
        args.out.display(),
        manifest.files.len() - 1,
        manifest.blob_count,
        human_bytes(manifest.blob_bytes as f64),
        manifest.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    );
    Ok(())
}

fn restore(args: &RestoreArgs) -> Result<(), String> {
    let config = load(&args.common, None)?;
    sqlite_only(&config, "restore")?;
    let from = args.from.clone();
    let data_dir = config.data_dir.clone();
    let manifest = with_interrupt(|stop| async move {
        let mut show = progress_printer("restored");
        crate::backup::restore(&config, &from, &stop, &mut show).await.map_err(|e| e.to_string())
    })?;
    println!(
        "restored {} into {}: database and {} key files, {} blobs ({}), all verified against the manifest",
        args.from.display(),
        data_dir.display(),
        manifest.files.len() - 1,
        manifest.blob_count,
        human_bytes(manifest.blob_bytes as f64)
    );
    Ok(())
}

/// Runs `work` on a new runtime with a flag that Ctrl-C sets (a second Ctrl-C quits at once).
fn with_interrupt<T, F>(work: impl FnOnce(std::sync::Arc<std::sync::atomic::AtomicBool>) -> F) -> Result<T, String>
where
    F: std::future::Future<Output = Result<T, String>>,
{
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("stopping after the object in hand (Ctrl-C again to quit now)");
                flag.store(true, Ordering::SeqCst);
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
        work(stop).await
    })
}

/// Progress on stderr: the first and last lines, and one a second in between.
fn progress_printer(verb: &str) -> impl FnMut(&crate::blobs::transfer::Progress) + Send + '_ {
    let mut last_line = std::time::Instant::now();
    move |p| {
        let first_or_last = p.objects_done == 0 || p.objects_done == p.objects_total;
        if first_or_last || last_line.elapsed() >= std::time::Duration::from_secs(1) {
            last_line = std::time::Instant::now();
            eprintln!("{}", progress_line(p, verb));
        }
    }
}

fn rotate_keys(common: &Common) -> Result<(), String> {
    let config = load(common, None)?;
    // In a cluster the master key lives in every instance's configuration, never in one
    // machine's keys folder: rotation re-wraps under the configured key.
    config.require_shared_secrets().map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let report = runtime.block_on(async {
        let database = crate::db::Database::open(&config.database_path(), &config.database).await.map_err(|e| e.to_string())?;
        let store = crate::stores::Stores::of(&database).tactical;
        crate::features::tactical::rotation::rotate(&*store, &config).await
    })?;
    println!("{}", serde_json::to_string(&report).map_err(|e| e.to_string())?);
    Ok(())
}

fn db_copy(args: &DbCopyArgs) -> Result<(), String> {
    use crate::db::copy::CopyError;
    let config = load(&args.common, None)?;
    let source = config.database_path();
    let mut target = config.database.clone();
    target.url = crate::config::DatabaseUrl::new(args.to.clone());
    // The URL holds the password: the message names the flag, never the value.
    if let Err(e) = target.url.parse() {
        let why = e.to_string();
        return Err(format!("--to {}", why.split_once("`database.url` ").map_or(why.as_str(), |(_, rest)| rest)));
    }
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let report = runtime.block_on(crate::db::copy::copy(&source, &target)).map_err(|e| match e {
        // The driver's own words: masked, should they ever quote the password.
        CopyError::Open(_) | CopyError::Target(_) => target.url.scrub(&e.to_string()),
        other => other.to_string(),
    })?;
    println!("{}: {report}", source.display());
    Ok(())
}

fn storage_copy(args: &CopyArgs) -> Result<(), String> {
    use crate::blobs::Bucket;
    use crate::blobs::transfer::{CopyJob, copy};

    let config = load(&args.common, None)?;
    if args.from == args.to {
        return Err("--from and --to name the same backend".into());
    }
    let buckets = match &args.bucket {
        Some(name) => vec![Bucket::parse(name).ok_or_else(|| {
            format!("unknown bucket `{name}`: use one of {}", Bucket::ALL.map(|b| b.name()).join(", "))
        })?],
        None => Bucket::ALL.to_vec(),
    };
    with_interrupt(|stop| async move {
        let from = crate::blobs::open(&config, args.from).map_err(|e| e.to_string())?;
        let to = crate::blobs::open(&config, args.to).map_err(|e| e.to_string())?;
        to.ensure_buckets().await.map_err(|e| format!("target: {e}"))?;
        let verb = if args.dry_run { "would copy" } else { "copied" };
        let mut show = progress_printer(verb);
        let job = CopyJob { from: &*from, to: &*to, buckets, dry_run: args.dry_run, stop: &stop, vanished_ok: false };
        let report = copy(job, &mut show).await.map_err(|e| e.to_string())?;
        let p = &report.progress;
        println!(
            "{verb} {} objects ({}), {} already in {} with the same size and SHA-256, {} failed",
            p.copied,
            human_bytes(p.bytes_copied as f64),
            p.skipped,
            args.to.as_str(),
            p.failed
        );
        for problem in &report.problems {
            println!("problem: {problem}");
        }
        if report.interrupted {
            return Err(format!("interrupted after {} of {} objects; run the same command again to resume", p.objects_done, p.objects_total));
        }
        if !args.dry_run {
            println!("verified {} of {} objects in {}", report.verified, p.objects_total, args.to.as_str());
        }
        match report.problems.len() {
            0 => Ok(()),
            n => Err(format!("{n} objects were not copied or did not verify")),
        }
    })
}

fn progress_line(p: &crate::blobs::transfer::Progress, verb: &str) -> String {
    let eta = p.eta().map_or_else(|| "-".to_owned(), |d| format!("{} s", d.as_secs()));
    format!(
        "{}/{} objects ({verb} {}, skipped {}, failed {}), {} of {}, {}/s, ETA {eta}",
        p.objects_done,
        p.objects_total,
        p.copied,
        p.skipped,
        p.failed,
        human_bytes(p.bytes_done as f64),
        human_bytes(p.bytes_total as f64),
        human_bytes(p.rate()),
    )
}

fn human_bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{value:.0} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}
