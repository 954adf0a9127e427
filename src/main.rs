//! `moat` — the command line. Parses arguments, loads config, runs a command from
//! [`moat::commands`], and turns any error into one line on stderr and exit code 1.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use moat::commands;
use moat::config::Config;

#[derive(Parser)]
#[command(
    name = "moat",
    version,
    about = "An admin console for a SQL database, served over SSH"
)]
struct Cli {
    /// Config file (default: ./moat.toml if present, else built-in defaults).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the SSH server.
    Serve {
        /// Create demo tables (authors, posts, comments, tags) if absent.
        #[arg(long)]
        demo: bool,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage groups.
    Group {
        #[command(subcommand)]
        command: GroupCommand,
    },
    /// Object permissions (on one row) and listings.
    Perm {
        #[command(subcommand)]
        command: PermCommand,
    },
    /// Create or update moat's own tables, then exit.
    Migrate,
    /// Failed-login counters and lockouts.
    Lockout {
        #[command(subcommand)]
        command: LockoutCommand,
    },
    /// The tamper-evident audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Live sessions on every instance: list them, or end one.
    Sessions {
        #[command(subcommand)]
        command: Option<SessionsCommand>,
    },
    /// Trigram indexes for `/` search (SQLite FTS5, PostgreSQL pg_trgm), made on request.
    SearchIndex {
        #[command(subcommand)]
        command: SearchIndexCommand,
    },
}

#[derive(Subcommand)]
enum SearchIndexCommand {
    /// Build an index on these columns of MODEL (SQLite: in batches, writes go on).
    Add {
        model: String,
        #[arg(required = true)]
        columns: Vec<String>,
    },
    /// Remove moat's index on MODEL (PostgreSQL: only on these columns, if named).
    Remove { model: String, columns: Vec<String> },
    /// List the search indexes moat uses.
    List,
}

#[derive(Subcommand)]
enum SessionsCommand {
    /// List live sessions (the default): id, user, source address, start, idle time.
    List {
        /// Ended sessions instead, newest first, with their recordings.
        #[arg(long)]
        ended: bool,
        /// With --ended: at most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Write a session's recording to stdout as an asciicast v2 file (`asciinema play`
    /// reads it). Refused if the file is not what the audit trail sealed.
    Export { id: String },
    /// Play a session's recording in this terminal (moat's own escape sequences only).
    Replay {
        id: String,
        /// Times real time; pauses are cut to 2 s first.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
    },
    /// End a session (its id, or a unique prefix of 4+ characters); it closes within
    /// a second on whichever instance runs it.
    End { id: String },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain; exits non-zero naming the first bad entry.
    Verify {
        /// A head recorded earlier (from `moat audit head`): also detects a cut tail.
        #[arg(long, value_name = "ID:HASH")]
        head: Option<String>,
        /// Check the chain only, not the session recordings it seals (e.g. on a host
        /// without recordings_dir).
        #[arg(long)]
        no_recordings: bool,
    },
    /// Print the last entry's ID:HASH, to keep somewhere else.
    Head,
    /// Write entries as JSON lines to stdout (oldest first).
    Export {
        #[arg(long, value_parser = ["jsonl"], default_value = "jsonl")]
        format: String,
        /// Only entries at or after this time (YYYY-MM-DD[ HH:MM:SS] UTC, or unix seconds).
        #[arg(long)]
        since: Option<String>,
        /// Only entries by this actor.
        #[arg(long)]
        user: Option<String>,
        /// Only entries about this model.
        #[arg(long)]
        model: Option<String>,
    },
}

#[derive(Subcommand)]
enum LockoutCommand {
    /// List failure counters (key, failures, locked until).
    List,
    /// Forget failure counters: of a user, of an address, or (both given) of that pair.
    Reset {
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        ip: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user. Without --password-stdin prints a one-time password: the first
    /// login enrols TOTP and sets a password. With it, enrols TOTP at once and prints
    /// the otpauth:// URI.
    Add {
        name: String,
        /// Give the user every permission.
        #[arg(long)]
        superuser: bool,
        /// Put the user in this group (repeatable).
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Replace the user's backup codes with 10 new single-use ones, printed once.
    BackupCodes { name: String },
    /// Remove the user's TOTP device and backup codes, end their sessions and print a
    /// new one-time password: they enrol again at the next login.
    #[command(name = "reset-2fa")]
    Reset2fa { name: String },
    /// Give the user model permissions (e.g. view_posts change_posts).
    Grant {
        name: String,
        #[arg(required = true)]
        codenames: Vec<String>,
    },
    /// Take model permissions back from the user.
    Revoke {
        name: String,
        #[arg(required = true)]
        codenames: Vec<String>,
    },
    /// Stop the user from logging in or doing anything.
    Disable { name: String },
    /// Let a disabled user in again.
    Enable { name: String },
    /// The user's public keys (a login factor where [auth] require lists publickey).
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Register a public key: 'ssh-ed25519 AAAA… comment' (ed25519, ecdsa P-256/P-384,
    /// RSA of 3072+ bits, sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com).
    Add { name: String, key: String },
    /// The user's keys: id, fingerprint, algorithm, added, last used, comment.
    List { name: String },
    /// Remove a key (its id or SHA256: fingerprint); sessions that used it end.
    Remove { name: String, key: String },
}

#[derive(Subcommand)]
enum GroupCommand {
    /// Create a group.
    Add {
        name: String,
        /// Give the group this permission (repeatable).
        #[arg(long = "perm", value_name = "CODENAME")]
        perms: Vec<String>,
    },
    /// Give the group model permissions.
    Grant {
        name: String,
        #[arg(required = true)]
        codenames: Vec<String>,
    },
    /// Take model permissions back from the group.
    Revoke {
        name: String,
        #[arg(required = true)]
        codenames: Vec<String>,
    },
    /// Groups with their members and permissions.
    List,
}

/// `--user U` or `--group G`, exactly one.
#[derive(clap::Args)]
#[group(required = true, multiple = false)]
struct Whom {
    #[arg(long)]
    user: Option<String>,
    #[arg(long)]
    group: Option<String>,
}

impl Whom {
    fn target(&self) -> commands::Target {
        match (&self.user, &self.group) {
            (Some(u), _) => commands::Target::User(u.clone()),
            (None, Some(g)) => commands::Target::Group(g.clone()),
            (None, None) => commands::Target::User(String::new()), // clap requires one
        }
    }
}

/// Who gets which permission on which row.
#[derive(clap::Args)]
struct ObjectPermArgs {
    #[command(flatten)]
    whom: Whom,
    codename: String,
    model: String,
    pk: String,
}

impl ObjectPermArgs {
    fn perm(self) -> commands::ObjectPerm {
        commands::ObjectPerm {
            target: self.whom.target(),
            codename: self.codename,
            model: self.model,
            pk: self.pk,
        }
    }
}

#[derive(Subcommand)]
enum PermCommand {
    /// Give a user or group a permission on one row: CODENAME MODEL PK.
    Assign(ObjectPermArgs),
    /// Take a permission on one row back.
    Remove(ObjectPermArgs),
    /// Everything a user holds, and through what.
    List {
        #[arg(long)]
        user: String,
    },
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Errors quote names from the database and the command line: sanitized, on one
            // line.
            let message = moat::tui::sanitize::SafeText::new(&format!("{e:#}"));
            eprintln!("moat: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging();
    let config = Config::load(cli.config.as_deref(), std::env::vars())?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let mut out = std::io::stdout();
    runtime.block_on(async {
        let op = operator();
        match cli.command {
            Command::Serve { demo } => {
                let reloads = reload_on_sighup(cli.config.clone());
                commands::serve(&config, demo, &mut out, shutdown_signal(), reloads).await
            }
            Command::User { command } => match command {
                UserCommand::Add {
                    name,
                    superuser,
                    groups,
                    password_stdin,
                } => {
                    let password = if password_stdin {
                        Some(read_password_stdin()?)
                    } else {
                        None
                    };
                    commands::user_add(&config, &name, superuser, &groups, password, &op, &mut out)
                        .await
                }
                UserCommand::BackupCodes { name } => {
                    commands::backup_codes(&config, &name, &op, &mut out).await
                }
                UserCommand::Reset2fa { name } => {
                    commands::reset_2fa(&config, &name, &op, &mut out).await
                }
                UserCommand::Grant { name, codenames } => {
                    let target = commands::Target::User(name);
                    commands::set_model_perms(&config, &target, &codenames, true, &op, &mut out)
                        .await
                }
                UserCommand::Revoke { name, codenames } => {
                    let target = commands::Target::User(name);
                    commands::set_model_perms(&config, &target, &codenames, false, &op, &mut out)
                        .await
                }
                UserCommand::Disable { name } => {
                    commands::user_set_active(&config, &name, false, &op, &mut out).await
                }
                UserCommand::Enable { name } => {
                    commands::user_set_active(&config, &name, true, &op, &mut out).await
                }
                UserCommand::Key {
                    command: KeyCommand::Add { name, key },
                } => commands::key_add(&config, &name, &key, &op, &mut out).await,
                UserCommand::Key {
                    command: KeyCommand::List { name },
                } => commands::key_list(&config, &name, &mut out).await,
                UserCommand::Key {
                    command: KeyCommand::Remove { name, key },
                } => commands::key_remove(&config, &name, &key, &op, &mut out).await,
            },
            Command::Group { command } => match command {
                GroupCommand::Add { name, perms } => {
                    commands::group_add(&config, &name, &perms, &op, &mut out).await
                }
                GroupCommand::Grant { name, codenames } => {
                    let target = commands::Target::Group(name);
                    commands::set_model_perms(&config, &target, &codenames, true, &op, &mut out)
                        .await
                }
                GroupCommand::Revoke { name, codenames } => {
                    let target = commands::Target::Group(name);
                    commands::set_model_perms(&config, &target, &codenames, false, &op, &mut out)
                        .await
                }
                GroupCommand::List => commands::group_list(&config, &mut out).await,
            },
            Command::Perm { command } => match command {
                PermCommand::Assign(args) => {
                    commands::set_object_perm(&config, &args.perm(), true, &op, &mut out).await
                }
                PermCommand::Remove(args) => {
                    commands::set_object_perm(&config, &args.perm(), false, &op, &mut out).await
                }
                PermCommand::List { user } => commands::perm_list(&config, &user, &mut out).await,
            },
            Command::Migrate => commands::migrate(&config, &mut out).await,
            Command::Audit { command } => match command {
                AuditCommand::Verify {
                    head,
                    no_recordings,
                } => {
                    commands::audit_verify_with(&config, head.as_deref(), !no_recordings, &mut out)
                        .await
                }
                AuditCommand::Head => commands::audit_head(&config, &mut out).await,
                AuditCommand::Export {
                    format: _,
                    since,
                    user,
                    model,
                } => {
                    let args = commands::ExportArgs { since, user, model };
                    let mut out = std::io::BufWriter::new(out.lock());
                    let done =
                        commands::audit_export(&config, &args, &mut out, &mut std::io::stderr())
                            .await;
                    std::io::Write::flush(&mut out)?;
                    done
                }
            },
            Command::Sessions {
                command: None | Some(SessionsCommand::List { ended: false, .. }),
            } => commands::sessions_list(&config, &mut out).await,
            Command::Sessions {
                command: Some(SessionsCommand::List { ended: true, limit }),
            } => commands::sessions_ended(&config, limit, &mut out).await,
            Command::Sessions {
                command: Some(SessionsCommand::Export { id }),
            } => {
                let mut out = std::io::BufWriter::new(out.lock());
                let done =
                    commands::session_export(&config, &id, &mut out, &mut std::io::stderr()).await;
                std::io::Write::flush(&mut out)?;
                done
            }
            Command::Sessions {
                command: Some(SessionsCommand::Replay { id, speed }),
            } => {
                commands::session_replay(&config, &id, speed, &mut out, &mut std::io::stderr())
                    .await
            }
            Command::Sessions {
                command: Some(SessionsCommand::End { id }),
            } => commands::session_end(&config, &id, &op, &mut out).await,
            Command::Lockout {
                command: LockoutCommand::List,
            } => commands::lockout_list(&config, &mut out).await,
            Command::Lockout {
                command: LockoutCommand::Reset { user, ip },
            } => {
                commands::lockout_reset(&config, user.as_deref(), ip.as_deref(), &op, &mut out)
                    .await
            }
            Command::SearchIndex { command } => match command {
                SearchIndexCommand::Add { model, columns } => {
                    commands::search_index::add(
                        &config,
                        &model,
                        &columns,
                        &op,
                        &mut out,
                        &mut std::io::stderr(),
                    )
                    .await
                }
                SearchIndexCommand::Remove { model, columns } => {
                    commands::search_index::remove(&config, &model, &columns, &op, &mut out).await
                }
                SearchIndexCommand::List => commands::search_index::list(&config, &mut out).await,
            },
        }
    })?;
    Ok(())
}

/// Who runs a CLI command, for the audit trail.
fn operator() -> String {
    std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into())
}

/// Reload the configuration (same file, same environment) on each SIGHUP.
fn reload_on_sighup(
    path: Option<PathBuf>,
) -> tokio::sync::mpsc::Receiver<Result<Config, moat::config::ConfigError>> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            let loaded = Config::load(path.as_deref(), std::env::vars());
            if tx.send(loaded).await.is_err() {
                return;
            }
        }
    });
    #[cfg(not(unix))]
    drop((tx, path));
    rx
}

/// One line from stdin, without its line ending.
fn read_password_stdin() -> Result<String, commands::CommandError> {
    let mut s = String::new();
    std::io::stdin().take(4096).read_to_string(&mut s)?;
    let line = s.lines().next().unwrap_or_default().to_string();
    Ok(line)
}

/// Logs go to stderr; `MOAT_LOG` sets the filter (default `info`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MOAT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,russh=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
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
        _ = ctrl_c => {},
        _ = term => {},
    }
}
