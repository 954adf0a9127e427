//! The console's screens, one file each: its state, its keys, the messages it takes, its
//! drawing and its key hints (see [`Screen`](super::screen::Screen)).
//!
//! - [`index`]: the models; [`list`]: a model's rows (and the row picker);
//!   [`record`]: one row; [`form`]: editing or creating a row, [`editor`]: a long text
//!   field; [`filter`]: a column's values to filter by; [`conflict`]: a save refused
//!   because the row changed; [`history`]: a row's audit trail; [`audit`]: the audit
//!   viewer; [`menu`]: a choice among a few (the bulk actions); [`columns`]: which
//!   columns a list shows; [`undo`]: confirming a revert or a restore from the audit
//!   trail.
//! - [`users`], [`groups`], [`sessions`], [`row_perms`]: management, sharing [`manage`];
//!   [`replay`]: a recorded session played back (from `:sessions`).
//! - [`enrol`], [`password`]: setting up an account and changing a password; [`keys`]:
//!   one's own SSH public keys (and a user's, from `:users`); [`exports`]: one's own
//!   exports and how to fetch them over SFTP.

pub mod audit;
pub mod bulk;
pub mod columns;
pub mod conflict;
pub mod editor;
pub mod enrol;
pub mod exports;
pub mod filter;
pub mod form;
pub mod groups;
pub mod history;
pub mod index;
pub mod keys;
pub mod list;
pub mod manage;
pub mod menu;
pub mod password;
pub mod record;
pub mod replay;
pub mod row_perms;
pub mod sessions;
pub mod text;
pub mod undo;
pub mod users;

pub use audit::AuditScreen;
pub use bulk::BulkSetScreen;
pub use columns::ColumnsScreen;
pub use conflict::ConflictScreen;
pub use editor::TextEditor;
pub use enrol::EnrolScreen;
pub use exports::ExportsScreen;
pub use filter::FilterScreen;
pub use form::FormScreen;
pub use groups::{GroupScreen, GroupsScreen};
pub use history::HistoryScreen;
pub use index::IndexScreen;
pub use keys::KeysScreen;
pub use list::ListScreen;
pub use menu::MenuScreen;
pub use password::PasswordScreen;
pub use record::RecordScreen;
pub use replay::ReplayScreen;
pub use row_perms::RowPermsScreen;
pub use sessions::SessionsScreen;
pub use text::TextScreen;
pub use undo::UndoScreen;
pub use users::{UserScreen, UsersScreen};
