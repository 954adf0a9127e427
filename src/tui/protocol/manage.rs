//! Management messages: the users, groups, permissions, sessions and keys panels, what
//! they ask of the session ([`ManageCmd`]) and what comes back ([`ManageMsg`]).

/// Which management list is shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Panel {
    Users,
    User(String),
    Groups,
    Group(String),
    /// The object permissions on row `pk` of `model`.
    Row {
        model: String,
        pk: String,
    },
    /// Live sessions on every instance (superusers; holders of `moat.view_recordings`
    /// get no live list, only the word that they may replay).
    Sessions,
    /// Ended sessions and their recordings (`moat.view_recordings`).
    Ended,
    /// A user's public keys: one's own (`None`), or a user's (`moat.manage_users`).
    Keys(Option<String>),
}

/// A user or a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Who {
    User(String),
    Group(String),
}

/// Management requests; each is checked by the session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManageCmd {
    Load(Panel),
    CreateUser(String),
    CreateGroup(String),
    SetActive {
        user: String,
        active: bool,
    },
    Unlock {
        user: String,
    },
    Membership {
        user: String,
        group: String,
        member: bool,
    },
    ModelPerm {
        to: Who,
        codename: String,
        grant: bool,
    },
    ObjectPerm {
        model: String,
        pk: String,
        to: Who,
        codename: String,
        assign: bool,
    },
    /// Drop the user's TOTP device and backup codes and give them a new one-time password.
    ResetTwoFactor {
        user: String,
    },
    /// End a live session (any instance).
    EndSession {
        id: String,
    },
    /// Register a public key (an OpenSSH one-line key, as pasted) for oneself.
    AddKey {
        line: String,
    },
    /// Remove key `id` of `user` (`None`: one's own); sessions that logged in with it end.
    RemoveKey {
        user: Option<String>,
        id: i64,
    },
    /// Delete a user with everything that is theirs; their sessions end.
    DeleteUser {
        user: String,
    },
    /// Delete a group with its memberships and permissions.
    DeleteGroup {
        group: String,
    },
    RenameGroup {
        group: String,
        to: String,
    },
}

impl ManageCmd {
    /// Whether this changes anything (and so needs a fresh second factor).
    pub fn changes(&self) -> bool {
        !matches!(self, ManageCmd::Load(_))
    }
}

/// Answers to management requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManageMsg {
    Loaded(PanelData),
    /// A change was made: say so, and reload the list on top.
    Changed(String),
    /// Something to show once, in a box (a new user's password and TOTP URI).
    Show(Vec<String>),
}

/// The contents of a management panel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PanelData {
    Users {
        users: Vec<UserEntry>,
        /// Whether the viewer may reset a user's second factor (superusers).
        superuser: bool,
    },
    User {
        name: String,
        /// Groups the user belongs to.
        groups: Vec<String>,
        /// Model permissions: (codename, `direct` or the group it comes from).
        model_perms: Vec<(String, String)>,
        /// Object permissions: (codename, model, key, `direct` or the group).
        object_perms: Vec<(String, String, String, String)>,
    },
    Groups(Vec<GroupEntry>),
    Group {
        name: String,
        members: Vec<String>,
        perms: Vec<String>,
    },
    Row {
        model: String,
        pk: String,
        /// Who holds which codename on the row.
        grants: Vec<(Who, String)>,
    },
    Sessions {
        /// Unix seconds when the list was read (for idle times).
        now: i64,
        sessions: Vec<SessionEntry>,
        /// The viewer may see live sessions (superusers); otherwise `sessions` is empty.
        live: bool,
        /// The viewer may replay recordings: the ended sessions are offered.
        replay: bool,
    },
    /// Ended sessions, newest first.
    Ended(Vec<EndedEntry>),
    /// A user's public keys.
    Keys {
        /// As asked: `None` for one's own.
        user: Option<String>,
        /// Whose keys they are.
        name: String,
        keys: Vec<KeyEntry>,
    },
}

impl PanelData {
    /// The panel this is the contents of.
    pub fn panel(&self) -> Panel {
        match self {
            PanelData::Users { .. } => Panel::Users,
            PanelData::User { name, .. } => Panel::User(name.clone()),
            PanelData::Groups(_) => Panel::Groups,
            PanelData::Group { name, .. } => Panel::Group(name.clone()),
            PanelData::Row { model, pk, .. } => Panel::Row {
                model: model.clone(),
                pk: pk.clone(),
            },
            PanelData::Sessions { .. } => Panel::Sessions,
            PanelData::Ended(_) => Panel::Ended,
            PanelData::Keys { user, .. } => Panel::Keys(user.clone()),
        }
    }
}

/// A user in the users panel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserEntry {
    pub id: i64,
    pub name: String,
    pub superuser: bool,
    pub active: bool,
    pub locked: bool,
    pub groups: Vec<String>,
}

/// A group in the groups panel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub members: usize,
    pub perms: Vec<String>,
}

/// A live session in the sessions panel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionEntry {
    pub id: String,
    pub user: String,
    pub source_ip: String,
    /// Unix seconds.
    pub started_at: i64,
    pub last_input_at: i64,
    /// An end was asked for and has not reached the session yet.
    pub ending: bool,
}

/// An ended session in the sessions panel's second tab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndedEntry {
    pub id: String,
    pub user: String,
    pub source_ip: String,
    /// Unix milliseconds.
    pub started_ms: i64,
    /// `None`: its server stopped before it could say.
    pub ended_ms: Option<i64>,
    pub recording: RecordingState,
}

/// What there is to replay of an ended session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordingState {
    /// Not recorded (recording was off).
    None,
    /// Removed by retention.
    Removed,
    /// Its server stopped before sealing it (housekeeping seals it later).
    Unsealed,
    /// The recording could not be finished.
    Failed,
    /// Sealed into the audit chain: `size` bytes on disk, with input or not.
    Sealed { size: i64, input: bool },
}

impl RecordingState {
    /// Whether there is a recording to replay.
    pub fn replayable(&self) -> bool {
        matches!(
            self,
            RecordingState::Unsealed | RecordingState::Sealed { .. }
        )
    }

    /// How the CLI and the console say it: `none`, `12.3 KiB, with input`.
    pub fn describe(&self) -> String {
        match self {
            RecordingState::None => "none".into(),
            RecordingState::Removed => "removed (retention)".into(),
            RecordingState::Unsealed => "not sealed (its server stopped)".into(),
            RecordingState::Failed => "failed".into(),
            RecordingState::Sealed { size, input } => {
                let input = if *input { ", with input" } else { "" };
                format!("{}{input}", crate::domain::human_size(*size))
            }
        }
    }
}

/// A registered public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEntry {
    pub id: i64,
    /// OpenSSH name (`ssh-ed25519`).
    pub algorithm: String,
    /// `SHA256:…`.
    pub fingerprint: String,
    pub comment: String,
    /// Unix seconds.
    pub added: i64,
    pub last_used: Option<i64>,
}
