//! Which factors a login needs (`[auth] require`, and stricter rules for superusers and
//! groups), and which certificate principals stand for a user.
//!
//! A rule is one of `["password", "totp"]` (the default), `["publickey", "password",
//! "totp"]` or `["publickey", "totp"]`, written in the order the factors are asked. A user
//! needs every factor of every rule that applies to them (the default, `require_superuser`
//! for superusers, `[auth.groups]` for each of their groups): rules only ever add factors,
//! so a group rule can make a login stricter, never weaker.

use std::collections::BTreeMap;

use crate::config::AuthConfig;

/// The factors of a login. A TOTP code (or a backup code) is always one of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Factors {
    /// A registered public key or a certificate from a trusted CA, asked first.
    pub publickey: bool,
    /// The password, asked after the key.
    pub password: bool,
}

impl Default for Factors {
    fn default() -> Self {
        Factors::PASSWORD_TOTP
    }
}

impl Factors {
    pub const PASSWORD_TOTP: Factors = Factors {
        publickey: false,
        password: true,
    };

    /// Parse a rule as written in config.
    pub fn parse(list: &[String]) -> Result<Factors, String> {
        const ORDER: [&str; 3] = ["publickey", "password", "totp"];
        let mut at = 0;
        let mut seen = [false; 3];
        for name in list {
            let Some(i) = ORDER.iter().position(|o| o == name) else {
                return Err(format!(
                    "`{}` is not a factor (publickey, password, totp)",
                    name.escape_debug()
                ));
            };
            if seen[i] || i < at {
                return Err(
                    "list each factor once, in the order they are asked: publickey, password, totp"
                        .into(),
                );
            }
            seen[i] = true;
            at = i;
        }
        let factors = Factors {
            publickey: seen[0],
            password: seen[1],
        };
        if !seen[2] || !(factors.publickey || factors.password) {
            return Err(
                "must be [\"password\", \"totp\"], [\"publickey\", \"password\", \"totp\"] or \
                 [\"publickey\", \"totp\"]: a TOTP code and at least one of a key or a password"
                    .into(),
            );
        }
        Ok(factors)
    }

    /// Every factor of both.
    pub fn and(self, other: Factors) -> Factors {
        Factors {
            publickey: self.publickey || other.publickey,
            password: self.password || other.password,
        }
    }

    /// As written in config (`publickey, password, totp`).
    pub fn describe(self) -> String {
        let mut parts = Vec::new();
        if self.publickey {
            parts.push("publickey");
        }
        if self.password {
            parts.push("password");
        }
        parts.push("totp");
        parts.join(", ")
    }
}

/// The login rules of `[auth]`, checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Methods {
    default: Factors,
    superuser: Option<Factors>,
    groups: BTreeMap<String, Factors>,
    principals: BTreeMap<String, Vec<String>>,
}

impl Methods {
    /// Check `[auth]`; the error names the key.
    pub fn from_config(auth: &AuthConfig) -> Result<Methods, (String, String)> {
        let default = Factors::parse(&auth.require).map_err(|m| ("auth.require".into(), m))?;
        let superuser = match &auth.require_superuser {
            v if v.is_empty() => None,
            v => Some(Factors::parse(v).map_err(|m| ("auth.require_superuser".into(), m))?),
        };
        let mut groups = BTreeMap::new();
        for (group, list) in &auth.groups {
            let f = Factors::parse(list).map_err(|m| (format!("auth.groups.{group}"), m))?;
            groups.insert(group.clone(), f);
        }
        for (user, list) in &auth.principals {
            if list.is_empty() || list.iter().any(|p| p.is_empty()) {
                return Err((
                    format!("auth.principals.{user}"),
                    "must list at least one principal, none empty".into(),
                ));
            }
        }
        Ok(Methods {
            default,
            superuser,
            groups,
            principals: auth.principals.clone(),
        })
    }

    /// What a user needs: every rule that applies to them, together.
    pub fn for_user(&self, is_superuser: bool, groups: &[String]) -> Factors {
        let mut f = self.default;
        if is_superuser {
            if let Some(s) = self.superuser {
                f = f.and(s);
            }
        }
        for g in groups {
            if let Some(rule) = self.groups.get(g) {
                f = f.and(*rule);
            }
        }
        f
    }

    /// Whether any rule needs a key: then moat offers `publickey` to every client (before
    /// the user is known, nobody can be told apart).
    pub fn uses_keys(&self) -> bool {
        self.default.publickey
            || self.superuser.is_some_and(|f| f.publickey)
            || self.groups.values().any(|f| f.publickey)
    }

    /// Whether a user's groups can change their rule (then a login looks them up).
    pub fn needs_groups(&self) -> bool {
        !self.groups.is_empty()
    }

    /// The certificate principals that stand for `username`: those `[auth.principals]`
    /// lists for it, or else the username itself.
    pub fn principals_for(&self, username: &str) -> Vec<String> {
        self.principals
            .get(username)
            .cloned()
            .unwrap_or_else(|| vec![username.to_string()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_three_rules_parse_and_nothing_else() {
        assert_eq!(
            Factors::parse(&list(&["password", "totp"])),
            Ok(Factors::PASSWORD_TOTP)
        );
        assert_eq!(
            Factors::parse(&list(&["publickey", "password", "totp"])),
            Ok(Factors {
                publickey: true,
                password: true
            })
        );
        assert_eq!(
            Factors::parse(&list(&["publickey", "totp"])),
            Ok(Factors {
                publickey: true,
                password: false
            })
        );
        for bad in [
            &["totp"][..],
            &["password"],
            &["publickey"],
            &["publickey", "password"],
            &["totp", "password"],
            &["password", "password", "totp"],
            &["password", "totp", "sms"],
            &[],
        ] {
            assert!(Factors::parse(&list(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rules_only_add_factors() {
        let auth = AuthConfig {
            require: list(&["publickey", "totp"]),
            require_superuser: list(&["password", "totp"]),
            groups: [("ops".to_string(), list(&["password", "totp"]))].into(),
            ..AuthConfig::default()
        };
        let m = Methods::from_config(&auth).unwrap();
        let strict = Factors {
            publickey: true,
            password: true,
        };
        // The default needs a key: no rule takes it away, a superuser's adds the password.
        assert_eq!(m.for_user(true, &[]), strict);
        assert_eq!(m.for_user(false, &list(&["ops"])), strict);
        assert_eq!(
            m.for_user(false, &list(&["other"])),
            Factors {
                publickey: true,
                password: false
            }
        );
        assert!(m.uses_keys());

        let default = Methods::from_config(&AuthConfig::default()).unwrap();
        assert!(!default.uses_keys());
        assert!(!default.needs_groups());
        assert_eq!(
            default.for_user(true, &list(&["ops"])),
            Factors::PASSWORD_TOTP
        );
    }

    #[test]
    fn errors_name_the_key_and_principals_default_to_the_username() {
        let auth = AuthConfig {
            groups: [("ops".to_string(), list(&["publickey"]))].into(),
            ..AuthConfig::default()
        };
        assert_eq!(
            Methods::from_config(&auth).unwrap_err().0,
            "auth.groups.ops"
        );
        let auth = AuthConfig {
            principals: [("alice".to_string(), list(&["a.smith", "ops-alice"]))].into(),
            ..AuthConfig::default()
        };
        let m = Methods::from_config(&auth).unwrap();
        assert_eq!(m.principals_for("alice"), list(&["a.smith", "ops-alice"]));
        assert_eq!(m.principals_for("bob"), list(&["bob"]));
        let auth = AuthConfig {
            principals: [("alice".to_string(), vec![])].into(),
            ..AuthConfig::default()
        };
        assert!(Methods::from_config(&auth).is_err());
    }
}
