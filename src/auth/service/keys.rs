//! The key step of a login: a registered public key, or a user certificate from a trusted
//! CA, asked before the password and the code when the user's rule (`[auth] require`, a
//! superuser's or a group's) says so.
//!
//! What a client is told never depends on whether the user exists or the key is theirs:
//! every key of a kind moat takes is answered "sign with it" (so nobody learns from the
//! offer), and after the signature an unknown user, a key of someone else, a user whose
//! rule needs no key and a locked user all get the same refusal, after the same delay
//! (russh's rejection time). A key offered and refused is not a failure; a revoked key, a
//! key of a disabled user and a registered key whose signature never came are, and are
//! counted toward lockout like a wrong password.

use std::net::IpAddr;

use ssh_key::public::KeyData;
use ssh_key::{Algorithm, Certificate, PublicKey};

use super::{
    Attempt, AuthService, Credential, Identity, KeyUse, Onboarding, PendingLogin, Reason, Refusal,
};
use crate::auth::keys::{self, cert, Factors};
use crate::store::{LoginUser, StoreError};

/// A key step that passed: whose, with what, and what their rule still asks.
#[derive(Clone, Debug)]
pub struct KeyPass {
    pub user_id: i64,
    pub username: String,
    pub factors: Factors,
    pub used: KeyUse,
}

/// The answer to a key or certificate.
#[derive(Debug)]
pub enum KeyCheck {
    Passed(KeyPass),
    /// Refused; `counted` when the attempt was a failure (it costs one of the
    /// connection's tries; lockout counting is already done).
    Refused {
        counted: bool,
    },
}

/// What a login asks after its key passed.
#[derive(Debug)]
pub enum AfterKey {
    /// The password (then the code): the rule asks for it, or the user has no TOTP device
    /// yet and logs in with a one-time password.
    Password,
    /// The code alone (`["publickey", "totp"]`).
    Code(PendingLogin),
}

const fn refused(counted: bool) -> Result<KeyCheck, StoreError> {
    Ok(KeyCheck::Refused { counted })
}

impl AuthService {
    /// Whether any login rule takes keys (then `publickey` is offered to every client).
    pub fn takes_keys(&self) -> bool {
        self.key_rules().methods.uses_keys()
    }

    /// Whether an offered key is worth a signature: a kind moat takes, named with an
    /// algorithm moat takes (no SHA-1 RSA), when any rule takes keys. Said of every such
    /// key for every username, so the offer tells nothing.
    pub fn offer_acceptable(&self, key: &KeyData, algorithm: &Algorithm) -> bool {
        self.takes_keys()
            && keys::check_signature_algorithm(algorithm).is_ok()
            && keys::check_key_data(key).is_ok()
    }

    /// A public key whose signature russh verified.
    pub async fn check_key(
        &self,
        a: &Attempt<'_>,
        key: &PublicKey,
        algorithm: &Algorithm,
    ) -> Result<KeyCheck, StoreError> {
        if !self.offer_acceptable(key.key_data(), algorithm) {
            return refused(false);
        }
        let fp = keys::fingerprint(key.key_data());
        let Some(user) = self.store.login_user(a.username).await? else {
            return refused(false);
        };
        let Some(key_id) = self.store.login_key(user.id, &fp).await? else {
            return refused(false);
        };
        let used = KeyUse {
            key_id: Some(key_id),
            what: format!("key {fp} (#{key_id})"),
            credential: Credential::Key(Box::new(key.key_data().clone())),
        };
        match self.key_rules().revocations() {
            Err(e) => {
                tracing::error!(error = %e, "revoked_keys cannot be read: every key is refused");
                return refused(false);
            }
            Ok(list) if list.revokes_key(key.key_data()) => {
                let refusal = Refusal {
                    reason: Reason::KeyRevoked,
                    user_exists: true,
                };
                self.record_failure_noting(a, refusal, Some(&used.what))
                    .await?;
                return refused(true);
            }
            Ok(_) => {}
        }
        self.key_holder(a, user, used).await
    }

    /// A user certificate whose signature (by its key) russh verified.
    pub async fn check_certificate(
        &self,
        a: &Attempt<'_>,
        certificate: &Certificate,
    ) -> Result<KeyCheck, StoreError> {
        // One set of rules for the whole check, whatever a reload does meanwhile.
        let rules = self.key_rules();
        if !rules.methods.uses_keys() || rules.cas.is_empty() {
            return refused(false);
        }
        let Ok(ip) = a.ip.parse::<IpAddr>() else {
            return refused(false);
        };
        let principals = rules.methods.principals_for(a.username);
        let now = u64::try_from(a.now_secs()).unwrap_or(0);
        let facts = match cert::check(certificate, &rules.cas, &principals, ip, now) {
            Ok(facts) => facts,
            Err(why) => {
                // One of our CA's certificates, refused: worth a line for operators (who
                // holds an expired or misused certificate), not a failure.
                if why.from_trusted_ca() {
                    let facts = cert::CertFacts::of(certificate);
                    let text = format!("certificate refused ({why}): {}", facts.describe());
                    let entry = self.entry(a, "login", "failure", &text);
                    self.store.audit(&[entry]).await?;
                }
                return refused(false);
            }
        };
        let used = KeyUse {
            key_id: None,
            what: facts.describe(),
            credential: Credential::Certificate(Box::new(certificate.clone())),
        };
        let user = self.store.login_user(a.username).await?;
        match rules.revocations() {
            Err(e) => {
                tracing::error!(error = %e, "revoked_keys cannot be read: every certificate is refused");
                return refused(false);
            }
            Ok(list) => {
                if let Some(why) = list.revokes_certificate(certificate) {
                    let refusal = Refusal {
                        reason: Reason::KeyRevoked,
                        user_exists: user.is_some(),
                    };
                    let note = format!("{} ({why})", used.what);
                    self.record_failure_noting(a, refusal, Some(&note)).await?;
                    return refused(true);
                }
            }
        }
        let Some(user) = user else {
            return refused(false);
        };
        self.key_holder(a, user, used).await
    }

    /// The rest of a key step once the key stands for `user`: their rule must ask for a
    /// key, no lockout may hold, the account must be active.
    async fn key_holder(
        &self,
        a: &Attempt<'_>,
        user: LoginUser,
        used: KeyUse,
    ) -> Result<KeyCheck, StoreError> {
        let factors = self.factors_of(&user).await?;
        if !factors.publickey {
            // A key is never a way around the password: a user whose rule needs none is
            // refused it like a stranger's key.
            return refused(false);
        }
        let known = self.known_source(a, true).await?;
        if let Some(scope) = self.locked(a, true, known).await? {
            let refusal = Refusal {
                reason: Reason::Locked(scope),
                user_exists: true,
            };
            self.record_failure_noting(a, refusal, Some(&used.what))
                .await?;
            return refused(true);
        }
        if !user.is_active {
            let refusal = Refusal {
                reason: Reason::Disabled,
                user_exists: true,
            };
            self.record_failure_noting(a, refusal, Some(&used.what))
                .await?;
            return refused(true);
        }
        if let Some(id) = used.key_id {
            self.store.key_used(id, a.now_secs()).await?;
        }
        Ok(KeyCheck::Passed(KeyPass {
            user_id: user.id,
            username: user.username,
            factors,
            used,
        }))
    }

    /// What the login asks after `pass`.
    pub async fn after_key(&self, pass: &KeyPass) -> Result<AfterKey, StoreError> {
        if pass.factors.password {
            return Ok(AfterKey::Password);
        }
        let Some(user) = self.store.login_user(&pass.username).await? else {
            return Ok(AfterKey::Password);
        };
        match &user.totp {
            Some(device) if device.confirmed && user.id == pass.user_id => {
                Ok(AfterKey::Code(PendingLogin {
                    identity: Identity {
                        user_id: user.id,
                        username: user.username.clone(),
                        is_superuser: user.is_superuser,
                        backup_codes_left: None,
                        onboarding: if user.must_change_password {
                            Onboarding::ChangePassword
                        } else {
                            Onboarding::Done
                        },
                        key: Some(pass.used.clone()),
                    },
                    secret: device.secret.clone(),
                    last_step: device.last_step,
                    missing_key: false,
                }))
            }
            _ => Ok(AfterKey::Password),
        }
    }

    /// A key was offered (and accepted for signing) on a connection that then moved on, or
    /// hung up, without a valid signature for it. For a key registered to the user that is
    /// a failure (someone holds the public key, not the private one); for any other key
    /// it is nothing.
    pub async fn unsigned_offer(&self, a: &Attempt<'_>, key: &KeyData) -> Result<(), StoreError> {
        let Some(user) = self.store.login_user(a.username).await? else {
            return Ok(());
        };
        let fp = keys::fingerprint(key);
        let Some(key_id) = self.store.login_key(user.id, &fp).await? else {
            return Ok(());
        };
        let refusal = Refusal {
            reason: Reason::BadSignature,
            user_exists: true,
        };
        self.record_failure_noting(a, refusal, Some(&format!("key {fp} (#{key_id})")))
            .await
    }

    /// The factors `user`'s rules ask for (groups are read only when a group has a rule).
    pub(super) async fn factors_of(&self, user: &LoginUser) -> Result<Factors, StoreError> {
        let rules = self.key_rules();
        let methods = &rules.methods;
        if !methods.needs_groups() {
            return Ok(methods.for_user(user.is_superuser, &[]));
        }
        let groups = self.store.user_group_names(user.id).await?;
        Ok(methods.for_user(user.is_superuser, &groups))
    }
}
