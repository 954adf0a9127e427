//! What a session recording must leave out: keys typed into a secret field, and screens
//! that show a secret.
//!
//! Secret fields: the password forms (`:password`, the forced change after a one-time
//! password), the enrolment code and the step-up code prompt. Secret screens: the
//! enrolment screen (its QR code and base32 secret are the user's second factor), new
//! backup codes, and the box with a one-time password that creating a user or resetting
//! 2FA shows on the users screen. Whoever may replay recordings must not learn from them
//! how to log in as someone else.

use super::app::App;
use super::prompt::PromptFor;

impl App {
    /// Whether a key typed now goes into a secret field (a password, an enrolment or
    /// step-up code).
    pub fn typing_secret(&self) -> bool {
        matches!(&self.prompt, Some(p) if matches!(p.what, PromptFor::StepUp(_)))
            || self.stack.last().is_some_and(|s| s.takes_secrets())
    }

    /// Whether the screen shows a secret now (a TOTP secret, backup codes, a one-time
    /// password).
    pub fn showing_secret(&self) -> bool {
        self.backup_codes.is_some()
            || self.secret_dialog
            || self.stack.last().is_some_and(|s| s.shows_secrets())
    }
}

#[cfg(test)]
mod tests {
    use crate::tui::app::App;
    use crate::tui::input::{Input, KeyEvent};
    use crate::tui::protocol::{ManageMsg, Msg, Secret, Setup};
    use crate::tui::screens::UsersScreen;

    fn key(app: &mut App, c: char) {
        app.update(Msg::Input(Input::Key(KeyEvent::char(c))));
    }

    #[test]
    fn secret_fields_and_screens() {
        let (mut app, _) = App::new("alice", 50, (80, 24));
        assert!(!app.typing_secret() && !app.showing_secret());
        app.update(Msg::StepUp("delete".into()));
        assert!(app.typing_secret(), "the step-up prompt");
        assert!(!app.showing_secret(), "its code shows as dots");

        let (enrol, _) = App::for_setup("bob", 50, (80, 24), Setup::Enrol);
        assert!(enrol.typing_secret() && enrol.showing_secret());
        let (mut forced, _) = App::for_setup("bob", 50, (80, 24), Setup::ChangePassword);
        assert!(forced.typing_secret() && !forced.showing_secret());
        key(&mut forced, 'x');
        assert!(forced.typing_secret());

        let (mut codes, _) = App::new("alice", 50, (80, 24));
        codes.update(Msg::BackupCodes {
            codes: vec![Secret("1234-5678".into())],
        });
        assert!(codes.showing_secret());

        let (mut users, _) = App::new("alice", 50, (80, 24));
        users.stack.push(crate::tui::app::Entry {
            screen: Box::new(UsersScreen::default()),
            stale: false,
        });
        assert!(!users.showing_secret());
        users.update(Msg::Manage(ManageMsg::Show(vec![
            "one-time password: abc".into()
        ])));
        assert!(users.showing_secret());
    }
}
