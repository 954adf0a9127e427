//! `moat` — the command line. Parses arguments, loads config, runs a command from
//! [`moat::commands`], and turns any error into one line on stderr.
//!
//! Exit codes: 0 success (and `doctor` with no finding), 1 failure (and `doctor` with
//! findings), 2 a usage error (arguments clap refuses). A closed pipe on stdout
//! (`moat audit export | head`) ends the command quietly, with 0.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use moat::commands::{self, CommandError};
use moat::config::{Config, LogFormat};
use moat::tui::sanitize::SafeText;

#[derive(Parser)]
#[command(
    name = "moat",
    version = moat::VERSION,
    about = "An admin console for a SQL database, served over SSH"
)]
struct Cli {
    /// Config file (default: ./moat.toml if present, else built-in defaults).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Do not name the database on stderr (it is named when neither --config nor
    /// MOAT_DATABASE_URL chose it).
    #[arg(short, long, global = true)]
    quiet: bool,
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
    /// Check moat's own security (files, configuration, users, the audit chain, columns
    /// that look like secrets); each finding with its fix. Exit 1 with findings.
    Doctor {
        #[arg(long, value_enum, default_value_t = DoctorFormat::Text)]
        format: DoctorFormat,
    },
    /// Reports for audits.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
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

#[derive(Clone, Copy, ValueEnum)]
enum DoctorFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Table,
    Csv,
    Json,
}

#[derive(Subcommand)]
enum ReportCommand {
    /// Every user: superuser, groups, permissions, 2FA, backup codes, last login,
    /// failed logins in the last 30 days, one-time password, disabled.
    Users {
        /// Only superusers.
        #[arg(long)]
        superusers: bool,
        /// Only users who have not logged in for this long (90d, 12w; never logged in:
        /// created before then).
        #[arg(long, value_name = "AGE", value_parser = days)]
        dormant: Option<u64>,
        /// Only users without a confirmed TOTP device.
        #[arg(long = "no-2fa")]
        no_2fa: bool,
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
    },
}

fn days(s: &str) -> Result<u64, String> {
    commands::parse_days(s)
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
    /// Write entries to stdout, oldest first: JSON lines, or CSV (quoted, with formulas
    /// defused, as the console's CSV export). Filters combine (all must hold).
    Export {
        #[arg(long, value_enum, default_value_t = AuditFormat::Jsonl)]
        format: AuditFormat,
        /// Only entries at or after this time (YYYY-MM-DD[ HH:MM:SS] UTC, or unix seconds).
        #[arg(long)]
        since: Option<String>,
        /// Only entries before this time (same forms; exclusive, so `--since 2026-11-01
        /// --until 2026-12-01` is November).
        #[arg(long)]
        until: Option<String>,
        /// Only entries by this actor.
        #[arg(long)]
        user: Option<String>,
        /// Only entries about this model.
        #[arg(long)]
        model: Option<String>,
        /// Only entries of this action (login, change, delete, grant, user_delete, …).
        #[arg(long)]
        action: Option<String>,
        /// Only entries with this outcome (success, failure, denied, …).
        #[arg(long)]
        outcome: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum AuditFormat {
    Jsonl,
    Csv,
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
    /// Every user: superuser, active, 2FA state, last login, one-time password pending
    /// or expired, groups (`moat report users` has the full audit report).
    List,
    /// Delete a user with their group memberships, permissions, object permissions, keys
    /// and second factor. Their open sessions end first (the account is disabled, then
    /// removed). Refused for the last active superuser; asks for --yes instead of a prompt.
    Delete {
        name: String,
        /// Really delete (without it, says what would go and changes nothing).
        #[arg(long)]
        yes: bool,
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
    /// Delete a group with its memberships, model and object permissions (members lose
    /// what they held only through it; the audit entry records all of it). Refused while
    /// the config names the group (auth.groups, exempt_groups).
    Delete {
        name: String,
        /// Really delete (without it, says what would go and changes nothing).
        #[arg(long)]
        yes: bool,
    },
    /// Rename a group; members and permissions stay with it. Refused if NEW exists or
    /// the config names either name (auth.groups, exempt_groups).
    Rename { old: String, new: String },
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
    /// Everything a user holds and through what (--user); a group's members and
    /// permissions (--group); or who can act on one row and through what: superuser,
    /// model permission (direct or via a group), object permission (direct or via a
    /// group) (--model M --key K).
    List(PermListArgs),
}

/// `--user U`, `--group G`, or `--model M --key K`: exactly one.
#[derive(clap::Args)]
#[command(group(
    clap::ArgGroup::new("subject")
        .required(true)
        .args(["user", "group", "model"])
))]
struct PermListArgs {
    #[arg(long, conflicts_with_all = ["group", "model"])]
    user: Option<String>,
    #[arg(long, conflicts_with = "model")]
    group: Option<String>,
    /// With --key: the row's model.
    #[arg(long, requires = "key")]
    model: Option<String>,
    /// The row's primary key (with --model).
    #[arg(long, requires = "model")]
    key: Option<String>,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // Errors quote names from the database and the command line: sanitized, on one
            // line, each cause once.
            let message = SafeText::new(&causes(&e));
            let _ = writeln!(std::io::stderr(), "moat: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Help and version as clap prints them (exit 0); any other argument error in one line
/// with the command's usage, exit 2.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let text = e.render().to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let usage = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Usage: "))
        .map(|u| format!(" (usage: {u})"))
        .unwrap_or_else(|| " (moat --help lists the commands)".into());
    let _ = writeln!(
        std::io::stderr(),
        "moat: {}{}",
        SafeText::new(first),
        SafeText::new(&usage)
    );
    ExitCode::from(2)
}

/// `e` and its causes, joined with `: `, leaving out a cause whose text is already said
/// (an error that quotes its source would otherwise print it twice).
fn causes(e: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

/// Whether `e` is a write to a closed stdout (the reader of a pipe went away).
fn broken_pipe(e: &anyhow::Error) -> bool {
    let pipe = |io: &std::io::Error| io.kind() == std::io::ErrorKind::BrokenPipe;
    e.downcast_ref::<std::io::Error>().is_some_and(pipe)
        || matches!(e.downcast_ref::<CommandError>(), Some(CommandError::Io(io)) if pipe(io))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::load(cli.config.as_deref(), std::env::vars())?;
    config.validate()?;
    init_logging(config.log_format);
    let explicit = cli.config.is_some() || std::env::var_os("MOAT_DATABASE_URL").is_some();
    if !explicit && !cli.quiet {
        let whence = match &config.origin.file {
            Some(file) => format!("config {}", file.display()),
            None => "no config file here: the built-in default".into(),
        };
        let _ = writeln!(
            std::io::stderr(),
            "moat: database {} ({}; -q hides this line)",
            SafeText::new(&config.database_shown()),
            SafeText::new(&whence)
        );
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let mut out = std::io::stdout();
    runtime.block_on(async {
        let op = operator();
        match cli.command {
            Command::Serve { demo } => {
                let reloads = reload_on_sighup(cli.config.clone());
                let terminal = std::io::IsTerminal::is_terminal(&out);
                commands::serve(
                    &config,
                    demo,
                    terminal,
                    &mut out,
                    shutdown_signal(),
                    reloads,
                )
                .await
            }
            Command::Doctor { format } => {
                let json = matches!(format, DoctorFormat::Json);
                let mut out = std::io::BufWriter::new(out.lock());
                let clean = commands::doctor(&config, json, commands::now_unix(), &mut out).await;
                std::io::Write::flush(&mut out)?;
                return Ok(if clean? {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                });
            }
            Command::Report {
                command:
                    ReportCommand::Users {
                        superusers,
                        dormant,
                        no_2fa,
                        format,
                    },
            } => {
                let filter = commands::UserFilter {
                    superusers,
                    dormant_days: dormant,
                    no_2fa,
                };
                let format = match format {
                    ReportFormat::Table => commands::Format::Table,
                    ReportFormat::Csv => commands::Format::Csv,
                    ReportFormat::Json => commands::Format::Json,
                };
                let mut out = std::io::BufWriter::new(out.lock());
                let done =
                    commands::report_users(&config, filter, format, commands::now_unix(), &mut out)
                        .await;
                std::io::Write::flush(&mut out)?;
                done
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
                UserCommand::List => {
                    commands::user_list(&config, commands::now_unix(), &mut out).await
                }
                UserCommand::Delete { name, yes } => {
                    commands::user_delete(&config, &name, yes, &op, &mut out).await
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
                GroupCommand::Delete { name, yes } => {
                    commands::group_delete(&config, &name, yes, &op, &mut out).await
                }
                GroupCommand::Rename { old, new } => {
                    commands::group_rename(&config, &old, &new, &op, &mut out).await
                }
            },
            Command::Perm { command } => match command {
                PermCommand::Assign(args) => {
                    commands::set_object_perm(&config, &args.perm(), true, &op, &mut out).await
                }
                PermCommand::Remove(args) => {
                    commands::set_object_perm(&config, &args.perm(), false, &op, &mut out).await
                }
                PermCommand::List(PermListArgs {
                    user: Some(user), ..
                }) => commands::perm_list(&config, &user, &mut out).await,
                PermCommand::List(PermListArgs {
                    group: Some(group), ..
                }) => commands::perm_list_group(&config, &group, &mut out).await,
                PermCommand::List(PermListArgs {
                    model: Some(model),
                    key: Some(key),
                    ..
                }) => commands::perm_list_row(&config, &model, &key, &mut out).await,
                PermCommand::List(_) => Err(CommandError::Usage(
                    "perm list wants --user U, --group G, or --model M --key K".into(),
                )),
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
                    format,
                    since,
                    until,
                    user,
                    model,
                    action,
                    outcome,
                } => {
                    let args = commands::ExportArgs {
                        since,
                        until,
                        user,
                        model,
                        action,
                        outcome,
                        csv: matches!(format, AuditFormat::Csv),
                    };
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
        }?;
        Ok(ExitCode::SUCCESS)
    })
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

/// Logs go to stderr; `MOAT_LOG` sets the filter (default `info`). As JSON, one object
/// a line: the event's fields at the top level, and `span` naming the session (its
/// `session_id`) on every line logged inside one.
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MOAT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,russh=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
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
