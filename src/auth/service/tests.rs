//! Unit tests of the login sequence: lockout, known sources, the hashing bound, busy
//! audits and the timing of skipped verifications, with time passed in.

use super::*;
use crate::config::{Argon2Config, LockoutConfig};
use crate::domain::LockKey;
use crate::store::test_support::memory_store;
use crate::store::NewUser;

const NOW_MS: i64 = 1_700_000_000_000;

async fn service_with_alice(policy: Policy) -> (AuthService, Vec<u8>) {
    let store = memory_store().await;
    let hasher = Arc::new(
        Hasher::new(Argon2Config {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
            ..Argon2Config::default()
        })
        .unwrap(),
    );
    let secret = totp::generate_secret();
    let phc = hasher.hash("hunter2hunter2").unwrap();
    store
        .create_user(&NewUser {
            username: "alice",
            password_hash: &phc,
            is_superuser: false,
            totp_secret: Some(&secret),
            must_change_password: false,
            password_expires_at: None,
            now: 0,
        })
        .await
        .unwrap();
    (AuthService::new(store, hasher, policy, 0, 16), secret)
}

fn attempt(user: &str) -> Attempt<'_> {
    Attempt {
        username: user,
        ip: "10.0.0.1",
        source: "10.0.0.1",
        now_ms: NOW_MS,
    }
}

fn default_policy() -> Policy {
    Policy::from(&LockoutConfig::default())
}

#[tokio::test]
async fn password_then_code_then_replay_refused() {
    let (auth, secret) = service_with_alice(default_policy()).await;
    let a = attempt("alice");
    let PasswordCheck::NeedCode(pending) = auth.check_password(&a, "hunter2hunter2").await.unwrap()
    else {
        panic!("password should pass");
    };
    let code = totp::code_at(&secret, totp::step_at((NOW_MS / 1000) as u64));
    let id = auth.check_code(&pending, &a, &code).await.unwrap().unwrap();
    assert_eq!(id.username, "alice");
    assert_eq!(
        auth.check_code(&pending, &a, &code).await.unwrap(),
        Err(Reason::Replay)
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_user_fail_alike_to_the_caller() {
    let (auth, _) = service_with_alice(default_policy()).await;
    let bad = auth
        .check_password(&attempt("alice"), "nope")
        .await
        .unwrap();
    let ghost = auth
        .check_password(&attempt("ghost"), "hunter2hunter2")
        .await
        .unwrap();
    assert!(matches!(
        bad,
        PasswordCheck::Failed(Refusal {
            reason: Reason::BadPassword,
            ..
        })
    ));
    assert!(matches!(
        ghost,
        PasswordCheck::Failed(Refusal {
            reason: Reason::UnknownUser,
            ..
        })
    ));
}

#[tokio::test]
async fn a_locked_user_is_refused_without_hashing_even_with_the_right_password() {
    let policy = Policy {
        pair_limit: 2,
        ..default_policy()
    };
    let (auth, _) = service_with_alice(policy).await;
    let a = attempt("alice");
    for _ in 0..2 {
        let PasswordCheck::Failed(r) = auth.check_password(&a, "nope").await.unwrap() else {
            panic!()
        };
        auth.record_failure(&a, r).await.unwrap();
    }
    let r = auth.check_password(&a, "hunter2hunter2").await.unwrap();
    assert!(
        matches!(
            r,
            PasswordCheck::Failed(Refusal {
                reason: Reason::Locked(LockScope::Pair),
                ..
            })
        ),
        "{r:?}"
    );
    // Audited: two failures, one lockout.
    let log = auth.store.recent_audit(10).await.unwrap();
    assert_eq!(log.iter().filter(|e| e.action == "lockout").count(), 1);
    assert_eq!(
        log.iter()
            .filter(|e| e.reason.as_deref() == Some("bad password"))
            .count(),
        2
    );
    // After the cool-off the right password works again.
    let later = Attempt {
        now_ms: NOW_MS + 901_000,
        ..a
    };
    assert!(matches!(
        auth.check_password(&later, "hunter2hunter2").await.unwrap(),
        PasswordCheck::NeedCode(_)
    ));
}

#[tokio::test]
async fn one_source_gets_at_most_half_of_the_hashing_capacity() {
    let (auth, _) = service_with_alice(default_policy()).await;
    let a = attempt("alice");
    // This address already uses its half of the capacity: refused at once.
    let marks: Vec<_> = (0..auth.in_flight.per_source)
        .map(|i| {
            auth.in_flight
                .mark(a.source, &format!("u{i}"), false)
                .unwrap()
        })
        .collect();
    let r = auth.check_password(&a, "hunter2hunter2").await.unwrap();
    assert!(matches!(
        r,
        PasswordCheck::Failed(Refusal {
            reason: Reason::Busy,
            ..
        })
    ));
    // Another address is not affected.
    let other = Attempt {
        ip: "10.0.0.2",
        source: "10.0.0.2",
        ..a
    };
    assert!(matches!(
        auth.check_password(&other, "hunter2hunter2").await.unwrap(),
        PasswordCheck::NeedCode(_)
    ));
    drop(marks);
    let r = auth.check_password(&a, "hunter2hunter2").await.unwrap();
    assert!(matches!(r, PasswordCheck::NeedCode(_)));
    // Busy refusals are not counted against the user.
    auth.record_failure(
        &a,
        Refusal {
            reason: Reason::Busy,
            user_exists: true,
        },
    )
    .await
    .unwrap();
    assert!(auth.store.list_failure_counters().await.unwrap().is_empty());
}

#[test]
fn one_username_gets_at_most_a_quarter_and_strangers_leave_a_quarter() {
    let f = InFlight::new(16);
    assert_eq!((f.per_source, f.per_user, f.strangers), (8, 2, 12));
    // An insider looping on their own password from addresses they logged in from.
    let insider: Vec<_> = (0..2)
        .map(|i| f.mark(&format!("10.0.0.{i}"), "mallory", true).unwrap())
        .collect();
    assert_eq!(
        f.mark("10.0.0.9", "mallory", true).err(),
        Some(Full::User),
        "a third verification of one username waits its turn"
    );
    assert!(
        f.mark("10.0.0.9", "alice", true).is_ok(),
        "others still verify"
    );
    // Strangers (unknown pairs) from many addresses fill their three quarters…
    let strangers: Vec<_> = (0..12)
        .map(|i| {
            f.mark(&format!("10.1.0.{i}"), &format!("guess{i}"), false)
                .unwrap()
        })
        .collect();
    assert_eq!(
        f.mark("10.1.1.1", "guess99", false).err(),
        Some(Full::Strangers)
    );
    // …and with the insider still holding their share, a known source gets in.
    let known = f.mark("10.2.0.1", "alice", true);
    assert!(known.is_ok());
    drop((strangers, known, insider));
    // The smallest pool that keeps anything aside still keeps a slot for others.
    let small = InFlight::new(4);
    let _insider = small.mark("10.0.0.1", "mallory", true).unwrap();
    let _strangers: Vec<_> = (0..2)
        .map(|i| {
            small
                .mark(&format!("10.1.0.{i}"), &format!("x{i}"), false)
                .unwrap()
        })
        .collect();
    assert!(small.mark("10.9.9.9", "alice", true).is_ok());
    let c = f.counts.lock().unwrap();
    assert!(c.by_source.is_empty() && c.by_user.is_empty() && c.strangers == 0);
}

#[test]
fn busy_refusals_are_audited_at_most_every_ten_seconds_with_a_count() {
    let mut b = BusyLog::default();
    assert_eq!(b.note(0), Some(1));
    assert_eq!(b.note(1_000), None);
    assert_eq!(b.note(9_999), None);
    assert_eq!(
        b.note(10_000),
        Some(3),
        "the two suppressed ones and this one"
    );
    assert_eq!(b.note(10_001), None);
}

fn at<'a>(user: &'a str, ip: &'static str, now_ms: i64) -> Attempt<'a> {
    Attempt {
        username: user,
        ip,
        source: ip,
        now_ms,
    }
}

#[tokio::test]
async fn strangers_cannot_lock_a_known_source_out_and_locked_refusals_are_not_counted() {
    let policy = Policy {
        user_limit: 10,
        ip_limit: 3,
        pair_limit: 5,
        known_source_secs: 30 * 86_400,
        ..default_policy()
    };
    let (auth, _) = service_with_alice(policy).await;
    let id = Identity {
        user_id: 1,
        username: "alice".into(),
        is_superuser: false,
        backup_codes_left: None,
        onboarding: Onboarding::Done,
        key: None,
    };
    // alice logs in from her usual address; she has a live session.
    let home = at("alice", "10.0.0.1", NOW_MS);
    auth.record_success(&home, &id).await.unwrap();
    auth.store
        .session_started(&crate::store::LiveSession {
            id: "s1",
            user_id: 1,
            username: "alice",
            source_ip: "10.0.0.1",
            now: NOW_MS / 1000,
            now_ms: NOW_MS,
            key_id: None,
        })
        .await
        .unwrap();
    // Strangers guess her password from ten other addresses: the username locks.
    const IPS: [&str; 10] = [
        "10.9.0.1",
        "10.9.0.2",
        "10.9.0.3",
        "10.9.0.4",
        "10.9.0.5",
        "10.9.0.6",
        "10.9.0.7",
        "10.9.0.8",
        "10.9.0.9",
        "10.9.0.10",
    ];
    for ip in IPS {
        let a = at("alice", ip, NOW_MS + 1000);
        let PasswordCheck::Failed(r) = auth.check_password(&a, "wrong").await.unwrap() else {
            panic!("wrong password passed")
        };
        auth.record_failure(&a, r).await.unwrap();
    }
    let stranger = at("alice", "10.9.0.11", NOW_MS + 2000);
    let PasswordCheck::Failed(r) = auth
        .check_password(&stranger, "hunter2hunter2")
        .await
        .unwrap()
    else {
        panic!("a stranger's address should be refused while the username is locked")
    };
    assert_eq!(r.reason, Reason::Locked(LockScope::User));
    // alice's own address still gets in with the right password…
    let later = at("alice", "10.0.0.1", NOW_MS + 2000);
    assert!(matches!(
        auth.check_password(&later, "hunter2hunter2").await.unwrap(),
        PasswordCheck::NeedCode(_)
    ));
    // …and her live session was not asked to end.
    assert!(auth
        .store
        .sessions_to_end(&["s1".to_string()])
        .await
        .unwrap()
        .is_empty());
    // A refusal of an already locked key is audited with the key, not counted.
    let before = auth.store.list_failure_counters().await.unwrap();
    auth.record_failure(&stranger, r).await.unwrap();
    assert_eq!(auth.store.list_failure_counters().await.unwrap(), before);
    let log = auth.store.recent_audit(1).await.unwrap();
    assert_eq!(log[0].reason.as_deref(), Some("locked: this username"));
}

#[tokio::test]
async fn addresses_of_one_ipv6_network_are_counted_as_one_source() {
    let policy = Policy {
        ip_limit: 3,
        ..default_policy()
    };
    let (auth, _) = service_with_alice(policy).await;
    for ip in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"] {
        let a = Attempt {
            username: "ghost",
            ip,
            source: "2001:db8:1:2::/64",
            now_ms: NOW_MS,
        };
        let PasswordCheck::Failed(r) = auth.check_password(&a, "guess").await.unwrap() else {
            panic!()
        };
        auth.record_failure(&a, r).await.unwrap();
    }
    let counters = auth.store.list_failure_counters().await.unwrap();
    assert_eq!(counters.len(), 1, "{counters:?}");
    assert_eq!(counters[0].0, LockKey::ip("2001:db8:1:2::/64"));
    assert!(
        counters[0].1.locked_until.is_some(),
        "three addresses, one lock"
    );
    // The audit keeps each real address.
    let log = auth.store.recent_audit(10).await.unwrap();
    assert!(log
        .iter()
        .any(|e| e.source_ip.as_deref() == Some("2001:db8:1:2:ffff::3")));
}

#[test]
fn a_skipped_verification_waits_as_long_as_a_recent_real_one() {
    let t = RecentTimes::default();
    assert_eq!(
        t.sample(),
        None,
        "nothing measured yet: the caller falls back"
    );
    for ms in 1..=100 {
        t.note(std::time::Duration::from_millis(ms));
    }
    for _ in 0..50 {
        let d = t.sample().unwrap();
        // Only the last 64 are kept: 37..=100 ms.
        assert!((37..=100).contains(&d.as_millis()), "{d:?}");
    }
}

/// alice under `require = ["publickey", "password", "totp"]`, with one registered key.
async fn strict_alice() -> (AuthService, Vec<u8>, ssh_key::PrivateKey) {
    let (auth, secret) = service_with_alice(default_policy()).await;
    let config = crate::config::Config {
        auth: crate::config::AuthConfig {
            require: ["publickey", "password", "totp"].map(String::from).to_vec(),
            ..Default::default()
        },
        ..Default::default()
    };
    let auth = auth.with_key_rules(crate::auth::keys::KeyRules::load(&config).unwrap());
    let key = crate::auth::keys::cert::tests::key();
    let parsed =
        crate::auth::keys::parse_public_key(&key.public_key().to_openssh().unwrap()).unwrap();
    let audit = AuditEntry::default();
    auth.store
        .add_user_key(
            1,
            &crate::store::NewKey {
                algorithm: &parsed.algorithm,
                public_key: &parsed.openssh,
                fingerprint: &parsed.fingerprint,
                comment: "",
                now: 0,
            },
            &audit,
        )
        .await
        .unwrap();
    (auth, secret, key)
}

#[tokio::test]
async fn the_key_comes_first_and_the_round_without_it_fails_at_the_end() {
    let (auth, secret, key) = strict_alice().await;
    let a = attempt("alice");
    let ed25519 = ssh_key::Algorithm::Ed25519;
    // Without the key: password right, code right, refused as `no key` at the end.
    let PasswordCheck::NeedCode(pending) = auth.check_password(&a, "hunter2hunter2").await.unwrap()
    else {
        panic!("the round goes on to the code");
    };
    let code = totp::code_at(&secret, totp::step_at(a.now_secs() as u64));
    assert_eq!(
        auth.check_code(&pending, &a, &code).await.unwrap(),
        Err(Reason::NoKey)
    );
    // With it: the pass carries the key into the identity.
    let KeyCheck::Passed(pass) = auth
        .check_key(&a, key.public_key(), &ed25519)
        .await
        .unwrap()
    else {
        panic!("alice's key passes");
    };
    assert!(pass.factors.publickey && pass.factors.password);
    let later = Attempt {
        now_ms: NOW_MS + 30_000,
        ..a
    };
    let PasswordCheck::NeedCode(pending) = auth
        .check_password_after_key(&later, "hunter2hunter2", Some(&pass))
        .await
        .unwrap()
    else {
        panic!("password passes");
    };
    let code = totp::code_at(&secret, totp::step_at(later.now_secs() as u64));
    let who = auth
        .check_code(&pending, &later, &code)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(who.key.as_ref().and_then(|k| k.key_id), Some(1));

    // Someone else's name, a stranger's key, SHA-1 RSA: refused, not counted.
    let stranger = crate::auth::keys::cert::tests::key();
    for (user, k, alg) in [
        ("bob", key.public_key(), ed25519.clone()),
        ("alice", stranger.public_key(), ed25519.clone()),
        (
            "alice",
            key.public_key(),
            ssh_key::Algorithm::Rsa { hash: None },
        ),
    ] {
        let r = auth.check_key(&attempt(user), k, &alg).await.unwrap();
        assert!(
            matches!(r, KeyCheck::Refused { counted: false }),
            "{user}: {r:?}"
        );
    }
    // Nothing so far was counted (the caller records the no-key refusal)...
    let alice = [LockKey::user("alice")];
    assert!(auth
        .store
        .failure_counters(&alice)
        .await
        .unwrap()
        .is_empty());
    // ...but a registered key whose signature never came is a failure.
    auth.unsigned_offer(&a, key.public_key().key_data())
        .await
        .unwrap();
    auth.unsigned_offer(&attempt("alice"), stranger.public_key().key_data())
        .await
        .unwrap();
    let counters = auth
        .store
        .failure_counters(&[LockKey::user("alice")])
        .await
        .unwrap();
    assert!(
        counters.iter().any(|(_, c)| c.failures == 1),
        "one unsigned offer of alice's key (a stranger's is nothing): {counters:?}"
    );
}
