//! Exports as their owner gets them back: where a user's exports live, which of them a
//! user may see (their own, not expired), the SFTP session that hands them out read-only
//! (every download and every refusal audited), their expiry, and `:exports`.
//!
//! Ownership is the directory: `export_dir/<user id>/`, made 0700 by the export itself.
//! A user id never changes (a username might one day; a path built from it would then
//! hand the files to whoever takes the old name), and the id is what every session
//! already carries. Because SQLite may give a deleted user's id to the next user
//! created, a file older than its owner's account is not theirs ([`visible`]).
//!
//! Nothing a client sends becomes a filesystem path: a request names `exports/NAME`,
//! and NAME is served only if it is, character for character, one of the names read
//! from the user's own directory (regular files only: a symlink is never listed, and a
//! download opens with `O_NOFOLLOW`).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::lifecycle::{Authenticated, Companion, LiveGuard};
use super::{now_ms, Actor, Context};
use crate::auth::Onboarding;
use crate::config::SessionConfig;
use crate::store::{AuditEntry, Store};
use crate::tui::protocol::{ExportEntry, ExportList};
use crate::tui::Msg;

/// The directory an SFTP client sees its exports in (`get exports/NAME`).
pub const DIR: &str = "exports";
/// The model audit rows about exports name.
pub const MODEL: &str = "moat_exports";
/// A download, and a refused attempt to read (stat, list, open) anything.
pub const DOWNLOAD: &str = "export_download";
/// A refused attempt to change anything (write, remove, rename, mkdir, setstat…).
pub const CHANGE: &str = "export_change";
/// An export deleted by its owner from `:exports`.
pub const DELETE: &str = "export_delete";
/// What an audit row keeps of a path a client sent (it is the client's text).
const PATH_IN_AUDIT: usize = 200;

/// What the server knows about exports beyond their directory.
#[derive(Debug, Default)]
pub struct Exports {
    /// Hours an export is kept (`export_ttl_hours`).
    pub ttl_hours: u64,
    /// The port SSH (and so SFTP) is served on, for the "how to fetch" hints; set when
    /// the server starts listening.
    pub port: AtomicU16,
}

impl Exports {
    pub fn new(ttl_hours: u64) -> Exports {
        Exports {
            ttl_hours,
            port: AtomicU16::new(0),
        }
    }

    fn ttl_secs(&self) -> i64 {
        i64::try_from(self.ttl_hours)
            .unwrap_or(i64::MAX)
            .saturating_mul(3600)
    }
}

/// One export on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportFile {
    pub name: String,
    pub size: u64,
    /// Unix seconds, from the name moat gave it.
    pub created: i64,
    /// Unix seconds: not served from then on, deleted by the next housekeeping pass.
    pub expires: i64,
}

/// What a client's path names, once it is one of the few shapes served: the home
/// directory (`/`, `.`), `exports`, or a name in it. Anything else — `..` anywhere, any
/// other directory, a longer path — is `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    Home,
    Exports,
    File(&'a str),
}

/// The shape of `path` (absolute or relative to the home directory `/`).
pub fn target(path: &str) -> Option<Target<'_>> {
    let mut parts = path.split('/').filter(|p| !p.is_empty() && *p != ".");
    let parts: Vec<&str> = parts.by_ref().take(3).collect();
    if parts.contains(&"..") || path.contains('\0') {
        return None;
    }
    match parts.as_slice() {
        [] => Some(Target::Home),
        [DIR] => Some(Target::Exports),
        [DIR, name] => Some(Target::File(name)),
        _ => None,
    }
}

/// The absolute form of a target, as `realpath` answers it.
pub fn absolute(t: Target<'_>) -> String {
    match t {
        Target::Home => "/".into(),
        Target::Exports => format!("/{DIR}"),
        Target::File(name) => format!("/{DIR}/{name}"),
    }
}

/// When the export called `name` was made (unix seconds), if `name` is one moat makes:
/// `MODEL-YYYYMMDD-HHMMSS-xxxxxx.csv`, the model part 1 to 40 of `A-Z a-z 0-9 _ -`.
pub fn created_at(name: &str) -> Option<i64> {
    let stem = name.strip_suffix(".csv")?;
    let mut parts = stem.rsplitn(4, '-');
    let (suffix, time, date, model) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let hex = |s: &str| {
        s.len() == 6
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let model_ok = (1..=40).contains(&model.len())
        && model
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !(model_ok && digits(date, 8) && digits(time, 6) && hex(suffix)) {
        return None;
    }
    let stamp = format!(
        "{}-{}-{} {}:{}:{}",
        &date[..4],
        &date[4..6],
        &date[6..],
        &time[..2],
        &time[2..4],
        &time[4..]
    );
    crate::domain::parse_time(&stamp)
}

/// Whether an export made at `created` is its directory owner's, and still served at
/// `now`: made no earlier than the owner's account (`owner_since`), and younger than
/// the time to live.
pub fn visible(created: i64, owner_since: i64, now: i64, ttl_secs: i64) -> bool {
    created >= owner_since && now < created.saturating_add(ttl_secs)
}

/// The directory of `user_id`'s exports.
pub fn user_dir(root: &Path, user_id: i64) -> PathBuf {
    root.join(user_id.to_string())
}

/// Whether `dir` is a real directory (not a symlink to one); `false` if it is missing.
fn real_dir(dir: &Path) -> io::Result<bool> {
    match std::fs::symlink_metadata(dir) {
        Ok(m) => Ok(m.file_type().is_dir()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// The exports in `dir` that are served at `now`, newest first: regular files with
/// names moat makes, [`visible`] to an owner created at `owner_since`.
pub fn scan(dir: &Path, owner_since: i64, now: i64, ttl_secs: i64) -> io::Result<Vec<ExportFile>> {
    if !real_dir(dir)? {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        // The entry's own type: a symlink is a symlink, whatever it points at.
        if !entry.file_type()?.is_file() {
            continue;
        }
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let Some(created) = created_at(&name) else {
            continue;
        };
        if !visible(created, owner_since, now, ttl_secs) {
            continue;
        }
        out.push(ExportFile {
            size: entry.metadata()?.len(),
            expires: created.saturating_add(ttl_secs),
            name,
            created,
        });
    }
    out.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.name.cmp(&b.name)));
    Ok(out)
}

/// Open `name` in `dir` for reading, never through a symlink (`O_NOFOLLOW`), and only a
/// regular file.
fn open_file(dir: &Path, name: &str) -> io::Result<std::fs::File> {
    if !real_dir(dir)? {
        return Err(io::ErrorKind::NotFound.into());
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(dir.join(name))?;
    if !file.metadata()?.file_type().is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    Ok(file)
}

/// Delete the exports under `root` that expired at `now` (a directory per user, and
/// files left directly in `root` by moat before exports had owners). Only regular files
/// with names moat makes are touched. Returns how many went.
pub fn remove_expired(root: &Path, now: i64, ttl_secs: i64) -> io::Result<usize> {
    if !real_dir(root)? {
        return Ok(0);
    }
    let mut removed = 0;
    let mut sweep = |dir: &Path| -> io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_file() {
                continue;
            }
            let name = entry.file_name();
            let Some(created) = name.to_str().and_then(created_at) else {
                continue;
            };
            if now >= created.saturating_add(ttl_secs) {
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    };
    sweep(root)?;
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let is_user_dir = entry.file_type()?.is_dir()
            && entry
                .file_name()
                .to_str()
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if is_user_dir {
            sweep(&entry.path())?;
        }
    }
    Ok(removed)
}

/// A client's path as an audit row keeps it: cut to a bounded length.
fn audit_path(path: &str) -> String {
    path.chars().take(PATH_IN_AUDIT).collect()
}

/// Why an SFTP request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Not one of the user's exports, or not a path served: permission denied.
    Denied,
    /// The file could not be read (gone since it was listed, a disk error).
    Failed,
}

/// An SFTP session: a logged-in session that asked for the `sftp` subsystem instead of
/// a console. It serves the user's own exports, read-only, until the session ends —
/// asked from anywhere (an operator, a disabled account), idle for
/// `idle_timeout_secs` or past `max_session_secs` — as a console would.
pub struct Transfer {
    actor: Actor,
    store: Store,
    dir: PathBuf,
    ttl_secs: i64,
    owner_since: i64,
    timeouts: SessionConfig,
    started: tokio::time::Instant,
    last_request: std::sync::Mutex<tokio::time::Instant>,
    last_input: Arc<AtomicI64>,
    end: watch::Receiver<Option<String>>,
    /// The session's place in the registries, when SFTP is its first channel (beside a
    /// console, the console holds it).
    _live: Option<LiveGuard>,
    /// Kept so the transport keeps seeing the session as opened.
    _shell: Option<watch::Sender<bool>>,
}

impl std::fmt::Debug for Transfer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transfer")
            .field("user", &self.actor.username)
            .field("session", &self.actor.session_id)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// The time to live of exports, in seconds.
    fn export_ttl_secs(&self) -> i64 {
        self.exports.ttl_secs()
    }

    /// When `user_id`'s account was created: files in their directory older than that
    /// are not theirs. `None` when it cannot be read (nothing is then served).
    async fn owner_since(&self, user_id: i64) -> Option<i64> {
        match self.store.user_created_at(user_id).await {
            Ok(Some(at)) => Some(at),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "could not read an export owner's account");
                None
            }
        }
    }

    /// `actor`'s exports served now.
    async fn own_exports(&self, actor: &Actor) -> Result<Vec<ExportFile>, String> {
        let Some(since) = self.owner_since(actor.user_id).await else {
            return Err("exports: the database could not answer; try again".into());
        };
        let dir = user_dir(&self.export_dir, actor.user_id);
        let ttl = self.export_ttl_secs();
        let now = now_ms() / 1000;
        tokio::task::spawn_blocking(move || scan(&dir, since, now, ttl))
            .await
            .unwrap_or_else(|_| Err(io::Error::other("the scan stopped")))
            .map_err(|e| format!("exports: cannot read the export directory: {e}"))
    }

    /// `:exports`: the user's own exports, and how to fetch them.
    pub(super) async fn exports_list(&self, actor: &Actor) -> Result<Msg, Msg> {
        let files = self.own_exports(actor).await.map_err(Msg::Failed)?;
        Ok(Msg::Exports(ExportList {
            user: actor.username.clone(),
            port: self.exports.port.load(Ordering::Relaxed),
            ttl_hours: self.exports.ttl_hours,
            now: now_ms() / 1000,
            entries: files
                .into_iter()
                .map(|f| ExportEntry {
                    name: f.name,
                    size: f.size,
                    created: f.created,
                    expires: f.expires,
                })
                .collect(),
        }))
    }

    /// `d` on `:exports`: delete one of one's own exports (audited). A name that is not
    /// one of them is refused and audited like an SFTP request for it.
    pub(super) async fn delete_export(&self, actor: &Actor, name: &str) -> Result<Msg, Msg> {
        let files = self.own_exports(actor).await.map_err(Msg::Failed)?;
        let Some(file) = files.into_iter().find(|f| f.name == name) else {
            self.audit_export(actor, DELETE, name, Some("not one of your exports"))
                .await;
            return Err(Msg::Failed(format!("{name}: not one of your exports")));
        };
        let path = user_dir(&self.export_dir, actor.user_id).join(&file.name);
        if let Err(e) = std::fs::remove_file(&path) {
            if e.kind() != io::ErrorKind::NotFound {
                return Err(Msg::Failed(format!("{name}: not deleted: {e}")));
            }
        }
        self.audit_export(actor, DELETE, &file.name, None).await;
        Ok(Msg::Notice(format!("deleted {DIR}/{}", file.name)))
    }

    /// Write an audit row about an export: a success, or (with `denied`) a refusal.
    async fn audit_export(&self, actor: &Actor, action: &str, what: &str, denied: Option<&str>) {
        audit_export(&self.store, actor, action, what, denied).await;
    }

    /// The session `login` asked for SFTP instead of a console. Only a fully
    /// authenticated session gets it (not one still enrolling or choosing its password),
    /// and only while it has not been ended; the refusal is audited and its reason
    /// returned for the client.
    pub async fn transfer(&self, login: Authenticated) -> Result<Transfer, String> {
        let (who, actor, mut live, started, shell) = login.into_parts();
        let onboarded = who.onboarding == Onboarding::Done;
        self.refuse_unfinished(onboarded, &actor).await?;
        if let Some(reason) = self.ended_before_console(&mut live).await {
            return Err(format!("session ended: {reason}"));
        }
        let companion = Companion {
            onboarded,
            started,
            end: live.end(),
            last_input: live.last_input(),
            actor,
        };
        let transfer = self.transfer_for(companion).await?;
        shell.send_replace(true);
        tracing::info!(user = %transfer.actor.username, session = %transfer.actor.session_id, "sftp session opened");
        Ok(Transfer {
            _live: Some(live),
            _shell: Some(shell),
            ..transfer
        })
    }

    /// SFTP on a later channel of a session's connection, beside its console (see
    /// [`Authenticated::companion`]): the same rules as [`Context::transfer`], and it ends
    /// with the session.
    pub async fn transfer_beside(&self, session: Companion) -> Result<Transfer, String> {
        self.refuse_unfinished(session.onboarded, &session.actor)
            .await?;
        if let Some(reason) = session.end.borrow().clone() {
            return Err(format!("session ended: {reason}"));
        }
        // The session's first channel is gone (its registry entry with it): the
        // connection is closing.
        if session.end.has_changed().is_err() {
            return Err("session ended".into());
        }
        if let Some(reason) = self.ended_in_database(session.id()).await {
            return Err(format!("session ended: {reason}"));
        }
        let transfer = self.transfer_for(session).await?;
        tracing::info!(user = %transfer.actor.username, session = %transfer.actor.session_id, "sftp channel opened beside the session");
        Ok(transfer)
    }

    /// A session still setting up its account gets no SFTP: audited, and the reason.
    async fn refuse_unfinished(&self, onboarded: bool, actor: &Actor) -> Result<(), String> {
        if onboarded {
            return Ok(());
        }
        audit_export(
            &self.store,
            actor,
            DOWNLOAD,
            "sftp",
            Some("account set-up not finished"),
        )
        .await;
        Err("finish setting up your account first (ssh in for the console)".into())
    }

    /// The transfer for `session`, holding no place in the registries yet.
    async fn transfer_for(&self, session: Companion) -> Result<Transfer, String> {
        let Some(owner_since) = self.owner_since(session.actor.user_id).await else {
            return Err("the database could not answer; try again".into());
        };
        Ok(Transfer {
            dir: user_dir(&self.export_dir, session.actor.user_id),
            ttl_secs: self.export_ttl_secs(),
            owner_since,
            store: self.store.clone(),
            timeouts: self.timeouts,
            started: session.started,
            last_request: std::sync::Mutex::new(tokio::time::Instant::now()),
            last_input: session.last_input,
            end: session.end,
            actor: session.actor,
            _live: None,
            _shell: None,
        })
    }

    /// Hourly (with the recordings' housekeeping): delete expired exports.
    pub async fn remove_expired_exports(&self, now_ms: i64) -> io::Result<usize> {
        let root = self.export_dir.clone();
        let ttl = self.export_ttl_secs();
        tokio::task::spawn_blocking(move || remove_expired(&root, now_ms / 1000, ttl))
            .await
            .unwrap_or_else(|_| Err(io::Error::other("the sweep stopped")))
    }
}

/// Write an audit row about an export (see [`Context::audit_export`]).
async fn audit_export(
    store: &Store,
    actor: &Actor,
    action: &str,
    what: &str,
    denied: Option<&str>,
) {
    let mut entry = AuditEntry {
        pk: Some(audit_path(what)),
        ..actor.audit(action, MODEL)
    };
    if let Some(why) = denied {
        entry.outcome = "denied".into();
        entry.reason = Some(why.to_string());
    }
    if let Err(e) = store.audit(&[entry]).await {
        tracing::error!(error = %e, "auditing an export request failed");
    }
}

impl Transfer {
    /// Who this session is.
    pub fn username(&self) -> &str {
        &self.actor.username
    }

    /// A request came in: the session is not idle.
    pub fn touch(&self) {
        if let Ok(mut at) = self.last_request.lock() {
            *at = tokio::time::Instant::now();
        }
        self.last_input.store(now_ms() / 1000, Ordering::Relaxed);
    }

    /// The user's exports served now.
    pub async fn list(&self) -> Vec<ExportFile> {
        let (dir, since, ttl) = (self.dir.clone(), self.owner_since, self.ttl_secs);
        let now = now_ms() / 1000;
        match tokio::task::spawn_blocking(move || scan(&dir, since, now, ttl)).await {
            Ok(Ok(files)) => files,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "could not read an export directory");
                Vec::new()
            }
            Err(_) => Vec::new(),
        }
    }

    /// The export `name`, if it is one of the user's (exactly that name) and served now.
    pub async fn find(&self, name: &str) -> Option<ExportFile> {
        self.list().await.into_iter().find(|f| f.name == name)
    }

    /// Open the export `name` for a download: refused (and audited) unless it is one of
    /// the user's, served now; audited as a download when opened.
    pub async fn open(
        &self,
        name: &str,
        asked: &str,
    ) -> Result<(std::fs::File, ExportFile), Refused> {
        let Some(file) = self.find(name).await else {
            self.refuse(DOWNLOAD, asked, "not one of your exports")
                .await;
            return Err(Refused::Denied);
        };
        let (dir, stored) = (self.dir.clone(), file.name.clone());
        let opened = tokio::task::spawn_blocking(move || open_file(&dir, &stored))
            .await
            .unwrap_or_else(|_| Err(io::Error::other("the open stopped")));
        match opened {
            Ok(f) => {
                audit_export(&self.store, &self.actor, DOWNLOAD, &file.name, None).await;
                Ok((f, file))
            }
            Err(e) => {
                tracing::warn!(error = %e, "an export could not be opened");
                Err(Refused::Failed)
            }
        }
    }

    /// Audit a refused request: `action` is [`DOWNLOAD`] for reads, [`CHANGE`] for
    /// writes; `path` is what the client asked for.
    pub async fn refuse(&self, action: &str, path: &str, why: &str) {
        tracing::info!(user = %self.actor.username, action, why, "sftp request refused");
        audit_export(&self.store, &self.actor, action, path, Some(why)).await;
    }

    /// Resolves when the session must end, with why: it was ended (anywhere), it was
    /// idle for `idle_timeout_secs`, or it reached `max_session_secs`.
    pub async fn ended(&self) -> String {
        let mut end = self.end.clone();
        let max_at = self.started + Duration::from_secs(self.timeouts.max_session_secs);
        loop {
            if let Some(reason) = end.borrow().clone() {
                return format!("session ended: {reason}");
            }
            let idle_at = self
                .last_request
                .lock()
                .map(|at| *at)
                .unwrap_or(self.started)
                + Duration::from_secs(self.timeouts.idle_timeout_secs);
            let now = tokio::time::Instant::now();
            if now >= max_at {
                return "maximum session time reached: session closed".into();
            }
            if now >= idle_at {
                return "idle timeout: session closed".into();
            }
            tokio::select! {
                changed = end.changed() => {
                    if changed.is_err() {
                        return "session ended".into();
                    }
                }
                _ = tokio::time::sleep_until(idle_at.min(max_at)) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "posts-20261201-103000-ab12cd.csv";

    #[test]
    fn only_the_few_shapes_served_are_targets() {
        assert_eq!(target("."), Some(Target::Home));
        assert_eq!(target("/"), Some(Target::Home));
        assert_eq!(target(""), Some(Target::Home));
        assert_eq!(target("exports"), Some(Target::Exports));
        assert_eq!(target("/exports/"), Some(Target::Exports));
        assert_eq!(target("./exports"), Some(Target::Exports));
        assert_eq!(target("exports/x.csv"), Some(Target::File("x.csv")));
        assert_eq!(target("/exports//x.csv"), Some(Target::File("x.csv")));
        for bad in [
            "..",
            "/..",
            "exports/..",
            "exports/../exports/x.csv",
            "../exports/x.csv",
            "/etc/passwd",
            "/etc",
            "exports/1/x.csv",
            "exports/x.csv/y",
            "other",
            "/exports2",
            "Exports",
            "exports/a\0b",
        ] {
            assert_eq!(target(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn realpath_answers_absolute_paths() {
        assert_eq!(absolute(Target::Home), "/");
        assert_eq!(absolute(Target::Exports), "/exports");
        assert_eq!(absolute(Target::File(NAME)), format!("/exports/{NAME}"));
    }

    #[test]
    fn names_moat_makes_carry_their_time() {
        assert_eq!(
            created_at(NAME),
            crate::domain::parse_time("2026-12-01 10:30:00")
        );
        assert!(created_at("post_tags-20261201-103000-000000.csv").is_some());
        assert!(created_at("a-b-20261201-103000-abcdef.csv").is_some());
        for bad in [
            "posts-20261201-103000-ab12cd.csv.part",
            "posts-20261201-103000-AB12CD.csv",
            "posts-20261201-1030-ab12cd.csv",
            "posts-2026120-103000-ab12cd.csv",
            "-20261201-103000-ab12cd.csv",
            "20261201-103000-ab12cd.csv",
            "po sts-20261201-103000-ab12cd.csv",
            "../posts-20261201-103000-ab12cd.csv",
            "posts-20261301-103000-ab12cd.csv",
            "posts-20261201-256000-ab12cd.csv",
            ".csv",
            "passwd",
        ] {
            assert_eq!(created_at(bad), None, "{bad:?}");
        }
        let long = format!("{}-20261201-103000-ab12cd.csv", "a".repeat(41));
        assert_eq!(created_at(&long), None);
    }

    #[test]
    fn an_export_is_served_from_its_owners_creation_until_it_expires() {
        let ttl = 24 * 3600;
        assert!(visible(1000, 1000, 1000, ttl));
        assert!(visible(1000, 0, 1000 + ttl - 1, ttl));
        assert!(!visible(1000, 0, 1000 + ttl, ttl), "expired");
        assert!(
            !visible(999, 1000, 1000, ttl),
            "older than its owner's account"
        );
    }

    fn stamp(secs: i64) -> String {
        crate::domain::format_time(secs)
            .trim_end_matches(" UTC")
            .replace(['-', ':'], "")
            .replace(' ', "-")
    }

    #[test]
    fn scan_lists_regular_files_with_moat_names_only() {
        let root = tempfile::tempdir().unwrap();
        let dir = user_dir(root.path(), 7);
        std::fs::create_dir_all(&dir).unwrap();
        let now = 2_000_000_000;
        let ttl = 3600;
        let fresh = format!("posts-{}-aaaaaa.csv", stamp(now - 60));
        let newer = format!("tags-{}-bbbbbb.csv", stamp(now - 10));
        let old = format!("posts-{}-cccccc.csv", stamp(now - ttl - 1));
        std::fs::write(dir.join(&fresh), "a,b\r\n").unwrap();
        std::fs::write(dir.join(&newer), "x").unwrap();
        std::fs::write(dir.join(&old), "old").unwrap();
        std::fs::write(dir.join("notes.txt"), "not an export").unwrap();
        let secret = root.path().join("secret");
        std::fs::write(&secret, "secret").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&secret, dir.join(format!("x-{}-dddddd.csv", stamp(now))))
            .unwrap();
        std::fs::create_dir(dir.join(format!("d-{}-eeeeee.csv", stamp(now)))).unwrap();
        let files = scan(&dir, 0, now, ttl).unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, [newer.as_str(), fresh.as_str()]);
        assert_eq!(files[1].size, 5);
        assert_eq!(files[1].expires, now - 60 + ttl);
        // An owner created after the files does not see them.
        assert!(scan(&dir, now, now, ttl).unwrap().is_empty());
        // No directory yet: nothing, not an error.
        assert!(scan(&user_dir(root.path(), 8), 0, now, ttl)
            .unwrap()
            .is_empty());
        // A user directory that is a symlink is not followed.
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&dir, user_dir(root.path(), 9)).unwrap();
            assert!(scan(&user_dir(root.path(), 9), 0, now, ttl)
                .unwrap()
                .is_empty());
            assert!(open_file(&user_dir(root.path(), 9), &fresh).is_err());
        }
        // Opening never follows a symlink, even under a name moat makes.
        #[cfg(unix)]
        assert!(open_file(&dir, &format!("x-{}-dddddd.csv", stamp(now))).is_err());
        assert!(open_file(&dir, &fresh).is_ok());
    }

    #[test]
    fn expired_exports_are_removed_and_nothing_else() {
        let root = tempfile::tempdir().unwrap();
        let dir = user_dir(root.path(), 3);
        std::fs::create_dir_all(&dir).unwrap();
        let now = 2_000_000_000;
        let ttl = 3600;
        let old = format!("posts-{}-aaaaaa.csv", stamp(now - ttl));
        let fresh = format!("posts-{}-bbbbbb.csv", stamp(now - ttl + 1));
        let legacy = format!("posts-{}-cccccc.csv", stamp(now - 2 * ttl));
        std::fs::write(dir.join(&old), "").unwrap();
        std::fs::write(dir.join(&fresh), "").unwrap();
        std::fs::write(root.path().join(&legacy), "").unwrap();
        std::fs::write(dir.join("keep.txt"), "").unwrap();
        let other = root.path().join("not-a-user");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join(&old), "").unwrap();
        assert_eq!(remove_expired(root.path(), now, ttl).unwrap(), 2);
        assert!(!dir.join(&old).exists());
        assert!(!root.path().join(&legacy).exists());
        assert!(dir.join(&fresh).exists());
        assert!(dir.join("keep.txt").exists());
        assert!(other.join(&old).exists(), "only user directories are swept");
        assert_eq!(
            remove_expired(&root.path().join("missing"), now, ttl).unwrap(),
            0
        );
    }
}
