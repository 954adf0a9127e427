//! The `publickey` method: keys and certificates, forwarded to `auth::service`.
//!
//! russh asks the handler twice. First whether a key is worth a signature
//! ([`Handler::key_offered`]): moat says yes to every key of a kind it takes, whoever the
//! user, so the answer tells nothing (OpenSSH's "this key would be accepted" oracle is
//! gone). Then, only for a valid signature, whether the key logs in
//! ([`Handler::key_verified`], [`Handler::certificate_verified`]).
//!
//! russh refuses a bad signature without telling the handler. An offer that is not
//! followed by a verified signature before the connection's next request (or its end) is
//! therefore counted as a try, and, for a key registered to that user, as a failure
//! toward lockout: someone holds the public key and not the private one. (A client that
//! cannot sign after offering, e.g. a FIDO key nobody touched, is counted the same way.)
//!
//! A key that passes is answered with partial success; a second key on the same
//! connection is refused (one key step per login), a refused key is not a failed round.

use russh::server::{Auth, PublicKeyOffer, VerifiedPublicKey};
use russh::{MethodKind, MethodSet};
use ssh_key::public::KeyData;

use super::{now_ms, Handler};
use crate::auth::{Attempt, KeyCheck, KeyPass};
use crate::domain::log_text;
use crate::store::StoreError;

impl Handler {
    /// The key step that passed on this connection for `user`, if any.
    pub(super) fn key_for(&self, user: &str) -> Option<&KeyPass> {
        self.key.as_ref().filter(|k| k.username == user)
    }

    /// An earlier offer got no valid signature: it costs a try (and, for a registered
    /// key, a failure, recorded off the answer's path so its timing tells nothing).
    /// Returns the refusal when it was the connection's last try.
    pub(super) fn settle_offer(&mut self) -> Option<Auth> {
        let (user, key) = self.offer.take()?;
        self.unsigned_offer(user, key);
        self.count_round();
        (self.failures >= self.max_failures).then(Auth::reject)
    }

    /// Record an offer that never got a valid signature, in the background.
    pub(super) fn unsigned_offer(&self, user: String, key: KeyData) {
        let (auth, ip, source) = (self.auth.clone(), self.ip.clone(), self.source.clone());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let a = Attempt {
                    username: &user,
                    ip: &ip,
                    source: &source,
                    now_ms: now_ms(),
                };
                if let Err(e) = auth.unsigned_offer(&a, &key).await {
                    tracing::error!(error = %e, "recording an unsigned key offer failed");
                }
            });
        }
    }

    /// `publickey` without a verified signature yet (a probe, or before verifying).
    pub(super) async fn key_offered(&mut self, user: &str, offer: PublicKeyOffer<'_>) -> Auth {
        if let Some(refused) = self.settle_offer() {
            return refused;
        }
        // A key request in the middle of a password/code round abandons that round.
        let previous = std::mem::take(&mut self.stage);
        if let Some(refused) = self.abandon(previous).await {
            return refused;
        }
        if self.key_for(user).is_some()
            || !self
                .auth
                .offer_acceptable(offer.public_key.key_data(), offer.algorithm)
        {
            return Auth::reject();
        }
        self.offer = Some((user.to_string(), offer.public_key.key_data().clone()));
        Auth::Accept
    }

    /// A public key whose signature russh verified.
    pub(super) async fn key_verified(&mut self, user: &str, key: VerifiedPublicKey<'_>) -> Auth {
        self.offer = None;
        if self.key_for(user).is_some() {
            return Auth::reject();
        }
        let checked = self
            .auth
            .check_key(&self.attempt(user), key.public_key, key.algorithm)
            .await;
        self.key_step(user, checked)
    }

    /// A certificate whose holder's signature russh verified.
    pub(super) async fn certificate_verified(
        &mut self,
        user: &str,
        certificate: &ssh_key::Certificate,
    ) -> Auth {
        self.offer = None;
        if self.key_for(user).is_some() {
            return Auth::reject();
        }
        let checked = self
            .auth
            .check_certificate(&self.attempt(user), certificate)
            .await;
        self.key_step(user, checked)
    }

    fn key_step(&mut self, user: &str, checked: Result<KeyCheck, StoreError>) -> Auth {
        match checked {
            Ok(KeyCheck::Passed(pass)) => {
                tracing::info!(user = %log_text(user), peer = %self.peer, "key step passed");
                let next: &[MethodKind] = if pass.factors.password {
                    &[MethodKind::KeyboardInteractive, MethodKind::Password]
                } else {
                    &[MethodKind::KeyboardInteractive]
                };
                self.key = Some(pass);
                Auth::Reject {
                    proceed_with_methods: Some(MethodSet::from(next)),
                    partial_success: true,
                }
            }
            Ok(KeyCheck::Refused { counted }) => {
                if counted {
                    self.count_round();
                }
                Auth::reject()
            }
            Err(e) => {
                tracing::error!(error = %e, "key check failed");
                Auth::reject()
            }
        }
    }
}
