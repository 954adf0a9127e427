//! The permission engine: pure and synchronous. The session asks it before every store
//! call; the TUI never does (it only greys out).
//!
//! Today the rule is the foundation's: a superuser may do everything, anyone else nothing
//! (groups, model and object permissions arrive with the permissions issue and extend
//! [`decide`] without changing its callers).

/// Who is acting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actor {
    pub is_superuser: bool,
}

/// What they want to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    View,
    Add,
    Change,
    Delete,
}

/// The answer, with a reason worth auditing when it is a denial.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(&'static str),
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow)
    }
}

/// May `actor` perform `action` on `model`?
pub fn decide(actor: Actor, action: Action, model: &str) -> Decision {
    let _ = (action, model);
    if actor.is_superuser {
        Decision::Allow
    } else {
        Decision::Deny("no permission on this model")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn superuser_may_everything_others_nothing_yet() {
        let root = Actor { is_superuser: true };
        let jane = Actor {
            is_superuser: false,
        };
        for action in [Action::View, Action::Add, Action::Change, Action::Delete] {
            assert!(decide(root, action, "posts").is_allowed());
            assert!(!decide(jane, action, "posts").is_allowed());
        }
    }
}
