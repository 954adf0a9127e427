//! Public keys and certificates as a login factor, through the russh client: the strict
//! rule (`publickey, password, totp`) and `publickey, totp`, odd method orders (password
//! before the key, a key offered twice, a new round after a refused one), a bad signature counted as a
//! failure, certificates audited with their key id and serial, and a removed key ending the
//! session that used it. The stock OpenSSH client runs the same story in `openssh_keys.rs`.

use std::sync::Arc;
use std::time::Duration;

use moat::commands;
use moat::config::{AuthConfig, Config};
use russh::client::AuthResult;
use russh::keys::PrivateKeyWithHashAlg;
use russh::MethodKind;
use ssh_key::private::{Ed25519Keypair, KeypairData};
use ssh_key::PrivateKey;

use crate::common::*;

fn rule(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn strict(c: &mut Config) {
    c.auth = AuthConfig {
        require: rule(&["publickey", "password", "totp"]),
        ..AuthConfig::default()
    };
}

pub fn new_key() -> PrivateKey {
    let seed: [u8; 32] = rand::random();
    PrivateKey::new(
        KeypairData::Ed25519(Ed25519Keypair::from_seed(&seed)),
        "test",
    )
    .unwrap()
}

/// Register `key` for `user` the way an operator does (`moat user key add`).
async fn add_key(server: &TestServer, user: &str, key: &PrivateKey) -> String {
    let mut out = Vec::new();
    let line = key.public_key().to_openssh().unwrap();
    commands::key_add(&server.config, user, &line, "test", &mut out)
        .await
        .expect("key add");
    String::from_utf8(out).unwrap()
}

async fn offer_key(conn: &mut Conn, user: &str, key: &PrivateKey) -> AuthResult {
    conn.authenticate_publickey(
        user,
        PrivateKeyWithHashAlg::new(Arc::new(key.clone()), None),
    )
    .await
    .expect("publickey")
}

fn partial(r: &AuthResult) -> bool {
    matches!(
        r,
        AuthResult::Failure {
            partial_success: true,
            ..
        }
    )
}

fn methods(r: &AuthResult) -> Vec<MethodKind> {
    match r {
        AuthResult::Failure {
            remaining_methods, ..
        } => remaining_methods.iter().copied().collect(),
        AuthResult::Success => Vec::new(),
    }
}

async fn audited(server: &TestServer, needle: &str) -> Vec<moat::store::AuditEntry> {
    server
        .store
        .recent_audit(200)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.reason.as_deref().is_some_and(|r| r.contains(needle)))
        .collect()
}

/// Wait (up to [`WAIT`]) for an audit row whose reason contains `needle`.
async fn wait_audited(server: &TestServer, needle: &str) -> moat::store::AuditEntry {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(e) = audited(server, needle).await.into_iter().next() {
            return e;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no audit row with {needle:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

on_every_database! {
    async fn key_then_password_and_code_and_never_without_the_key() {
        let mut server = TestServer::start_with(strict, None).await;
        server.add_user("bob", false).await;
        let (jane_key, bob_key) = (new_key(), new_key());
        let added = add_key(&server, "jane", &jane_key).await;
        assert!(added.starts_with("key #"), "{added}");
        add_key(&server, "bob", &bob_key).await;

        // Key, then password and code: in.
        let mut conn = connect(server.addr).await;
        let r = offer_key(&mut conn, "jane", &jane_key).await;
        assert!(partial(&r), "{r:?}");
        assert_eq!(methods(&r), [MethodKind::KeyboardInteractive, MethodKind::Password]);
        let code = server.next_code("jane");
        let outcome = ki_login(&mut conn, "jane", &[PASSWORD, &code]).await;
        assert!(outcome.success, "{outcome:?}");
        assert_eq!(outcome.prompts, ["Password: ", "Verification code: "]);
        let ok = wait_audited(&server, "key SHA256:").await;
        assert_eq!(ok.outcome, "success");
        disconnect(conn).await;

        // The same without the key: both prompts, then the one refusal (counted, audited).
        let mut conn = connect(server.addr).await;
        let code = server.next_code("jane");
        let outcome = ki_login(&mut conn, "jane", &[PASSWORD, &code]).await;
        assert!(!outcome.success, "{outcome:?}");
        assert_eq!(outcome.prompts, ["Password: ", "Verification code: "]);
        let wrong = ki_login(&mut conn, "jane", &["not it", "000000"]).await;
        assert_eq!(outcome.failure, wrong.failure, "a right password without the key looks like a wrong one");
        wait_audited(&server, "public key required, none given").await;
        disconnect(conn).await;

        // Another user's key, and a key for a user that does not exist: the same refusal.
        let mut conn = connect(server.addr).await;
        let theirs = offer_key(&mut conn, "jane", &bob_key).await;
        let ghost = offer_key(&mut conn, "ghost", &bob_key).await;
        let stranger = offer_key(&mut conn, "jane", &new_key()).await;
        assert!(!theirs.success() && !partial(&theirs), "{theirs:?}");
        assert_eq!(format!("{theirs:?}"), format!("{ghost:?}"));
        assert_eq!(format!("{theirs:?}"), format!("{stranger:?}"));
        // Refused keys are not failures: nothing counted against jane.
        let counters = server.store.list_failure_counters().await.unwrap();
        // (Two failures each: the round without the key and the wrong password.)
        assert!(
            counters.iter().all(|(k, c)| !k.to_string().contains("jane") || c.failures == 2),
            "{counters:?}"
        );
        disconnect(conn).await;
        server.stop().await;
    }
}

#[tokio::test]
async fn odd_orders_are_held_to_key_then_password_then_code() {
    let mut server = TestServer::start_with(strict, None).await;
    for u in ["ann", "ben", "cat", "dan"] {
        server.add_user(u, false).await;
    }
    let keys: Vec<PrivateKey> = (0..5).map(|_| new_key()).collect();
    add_key(&server, "ann", &keys[0]).await;
    add_key(&server, "ben", &keys[1]).await;
    add_key(&server, "ben", &keys[2]).await;
    add_key(&server, "cat", &keys[3]).await;
    add_key(&server, "dan", &keys[4]).await;

    // Password and code first (refused: no key yet), then the key, then the round again.
    let mut conn = connect(server.addr).await;
    let first = ki_login(&mut conn, "ann", &[PASSWORD, &server.next_code("ann")]).await;
    assert!(!first.success, "{first:?}");
    assert!(partial(&offer_key(&mut conn, "ann", &keys[0]).await));
    let second = ki_login(&mut conn, "ann", &[PASSWORD, &server.next_code("ann")]).await;
    assert!(second.success, "{second:?}");
    disconnect(conn).await;

    // A key offered twice (another of ben's): the second is refused, the first still holds.
    let mut conn = connect(server.addr).await;
    assert!(partial(&offer_key(&mut conn, "ben", &keys[1]).await));
    let again = offer_key(&mut conn, "ben", &keys[2]).await;
    assert!(!again.success() && !partial(&again), "{again:?}");
    let same = offer_key(&mut conn, "ben", &keys[1]).await;
    assert!(!same.success() && !partial(&same), "{same:?}");
    let outcome = ki_login(&mut conn, "ben", &[PASSWORD, &server.next_code("ben")]).await;
    assert!(outcome.success, "{outcome:?}");
    disconnect(conn).await;

    // A new round after a refused one (wrong password): the refusal costs a try, the key
    // still holds. (A round abandoned half-way, at the code prompt, takes the same path
    // as without keys; the russh client cannot send one, see attacks.rs.)
    let mut conn = connect(server.addr).await;
    assert!(partial(&offer_key(&mut conn, "cat", &keys[3]).await));
    let wrong = ki_login(&mut conn, "cat", &["not the password", "000000"]).await;
    assert!(!wrong.success, "{wrong:?}");
    let outcome = ki_login(&mut conn, "cat", &[PASSWORD, &server.next_code("cat")]).await;
    assert!(outcome.success, "{outcome:?}");
    wait_audited(&server, "bad password").await;
    disconnect(conn).await;

    // The password method after the key: partial success, then the code.
    let mut conn = connect(server.addr).await;
    assert!(partial(&offer_key(&mut conn, "dan", &keys[4]).await));
    let r = conn.authenticate_password("dan", PASSWORD).await.unwrap();
    assert!(partial(&r), "{r:?}");
    let outcome = ki_login(&mut conn, "dan", &[&server.next_code("dan")]).await;
    assert!(outcome.success, "{outcome:?}");
    assert_eq!(outcome.prompts, ["Verification code: "]);
    disconnect(conn).await;
    server.stop().await;
}

#[tokio::test]
async fn publickey_and_code_asks_only_the_code_after_the_key() {
    let mut server = TestServer::start_with(
        |c| {
            c.auth.require = rule(&["publickey", "totp"]);
        },
        None,
    )
    .await;
    server.add_user("dee", false).await;
    let key = new_key();
    add_key(&server, "dee", &key).await;
    let mut conn = connect(server.addr).await;
    let r = offer_key(&mut conn, "dee", &key).await;
    assert_eq!(methods(&r), [MethodKind::KeyboardInteractive]);
    let outcome = ki_login(&mut conn, "dee", &[&server.next_code("dee")]).await;
    assert!(outcome.success, "{outcome:?}");
    assert_eq!(outcome.prompts, ["Verification code: "]);
    disconnect(conn).await;

    // Without the key the password round runs and is refused, right password or not.
    let mut conn = connect(server.addr).await;
    let outcome = ki_login(&mut conn, "dee", &[PASSWORD, &server.next_code("dee")]).await;
    assert!(!outcome.success, "{outcome:?}");
    disconnect(conn).await;
    server.stop().await;
}

#[tokio::test]
async fn a_group_rule_asks_its_members_for_a_key_and_nobody_else() {
    let mut server = TestServer::start_with(
        |c| {
            c.auth.groups = [("ops".to_string(), rule(&["publickey", "password", "totp"]))].into();
        },
        None,
    )
    .await;
    server.add_user("olga", false).await;
    let mut out = Vec::new();
    commands::group_add(&server.config, "ops", &[], "test", &mut out)
        .await
        .unwrap();
    server
        .store
        .add_memberships(
            server.store.user_id("olga").await.unwrap().unwrap(),
            &[server.store.group_id("ops").await.unwrap().unwrap()],
            &moat::store::AuditEntry::default(),
        )
        .await
        .unwrap();
    // jane (not in ops) logs in as always; a key of hers is refused, not a way around.
    let jane_key = new_key();
    add_key(&server, "jane", &jane_key).await;
    let mut conn = connect(server.addr).await;
    let r = offer_key(&mut conn, "jane", &jane_key).await;
    assert!(!partial(&r), "{r:?}");
    let ok = ki_login(&mut conn, "jane", &[PASSWORD, &server.next_code("jane")]).await;
    assert!(ok.success, "{ok:?}");
    disconnect(conn).await;
    // olga (in ops) needs hers.
    let mut conn = connect(server.addr).await;
    let no = ki_login(&mut conn, "olga", &[PASSWORD, &server.next_code("olga")]).await;
    assert!(!no.success, "{no:?}");
    let olga_key = new_key();
    add_key(&server, "olga", &olga_key).await;
    assert!(partial(&offer_key(&mut conn, "olga", &olga_key).await));
    let yes = ki_login(&mut conn, "olga", &[PASSWORD, &server.next_code("olga")]).await;
    assert!(yes.success, "{yes:?}");
    disconnect(conn).await;
    server.stop().await;
}

/// Signs for `claimed` with `actual`: a well-formed signature that does not verify.
struct WrongSigner {
    actual: PrivateKey,
}

impl russh::Signer for WrongSigner {
    type Error = russh::AgentAuthError;

    async fn auth_sign(
        &mut self,
        _key: &russh::keys::agent::AgentIdentity,
        _hash_alg: Option<ssh_key::HashAlg>,
        mut to_sign: Vec<u8>,
    ) -> Result<Vec<u8>, Self::Error> {
        let sig: ssh_key::Signature =
            russh::keys::signature::Signer::sign(&self.actual, &to_sign[..]);
        let t = b"ssh-ed25519";
        let s = sig.as_bytes();
        let blob_len = 4 + t.len() + 4 + s.len();
        to_sign.extend_from_slice(&(blob_len as u32).to_be_bytes());
        to_sign.extend_from_slice(&(t.len() as u32).to_be_bytes());
        to_sign.extend_from_slice(t);
        to_sign.extend_from_slice(&(s.len() as u32).to_be_bytes());
        to_sign.extend_from_slice(s);
        Ok(to_sign)
    }
}

#[tokio::test]
async fn a_bad_signature_for_a_registered_key_is_a_counted_failure() {
    let mut server = TestServer::start_with(strict, None).await;
    server.add_user("eve", false).await;
    let key = new_key();
    add_key(&server, "eve", &key).await;
    let mut conn = connect(server.addr).await;
    let mut signer = WrongSigner { actual: new_key() };
    let r = conn
        .authenticate_publickey_with("eve", key.public_key().clone(), None, &mut signer)
        .await
        .expect("publickey_with");
    assert!(!r.success() && !partial(&r), "{r:?}");
    // The next request shows the signature never came.
    let _ = ki_login(&mut conn, "eve", &["x", "y"]).await;
    let row = wait_audited(&server, "key offered, no valid signature").await;
    assert_eq!(row.actor.as_deref(), Some("eve"));
    disconnect(conn).await;
    let counters = server.store.list_failure_counters().await.unwrap();
    let eve = counters
        .iter()
        .find(|(k, _)| k.to_string() == "user eve")
        .map(|(_, c)| c.failures);
    assert!(eve.is_some_and(|n| n >= 2), "{counters:?}");
    server.stop().await;
}

#[tokio::test]
async fn certificates_are_audited_with_key_id_and_serial_and_removing_a_key_ends_its_session() {
    let dir = tempfile::tempdir().unwrap();
    let ca = new_key();
    let ca_file = dir.path().join("user_ca.pub");
    std::fs::write(&ca_file, ca.public_key().to_openssh().unwrap()).unwrap();
    let revoked = dir.path().join("revoked_keys");
    std::fs::write(&revoked, "serial:13\n").unwrap();
    let (ca_path, revoked_path) = (ca_file.clone(), revoked.clone());
    let mut server = TestServer::start_with(
        move |c| {
            strict(c);
            c.trusted_user_ca_keys = Some(ca_path);
            c.revoked_keys = Some(revoked_path);
        },
        None,
    )
    .await;
    server.add_user("fay", false).await;
    let now = now();
    let cert = |serial: u64, principal: &str, from: u64, to: u64, user: &PrivateKey| {
        let nonce: [u8; 32] = rand::random();
        let mut b = ssh_key::certificate::Builder::new(
            nonce.to_vec(),
            user.public_key().key_data().clone(),
            from,
            to,
        )
        .unwrap();
        b.serial(serial).unwrap();
        b.key_id(format!("{principal}@laptop")).unwrap();
        b.valid_principal(principal).unwrap();
        b.sign(&ca).unwrap()
    };
    let user_key = new_key();
    let mut conn = connect(server.addr).await;
    let good = cert(7, "fay", now - 60, now + 3600, &user_key);
    let r = conn
        .authenticate_openssh_cert("fay", Arc::new(user_key.clone()), good)
        .await
        .unwrap();
    assert!(partial(&r), "{r:?}");
    let outcome = ki_login(&mut conn, "fay", &[PASSWORD, &server.next_code("fay")]).await;
    assert!(outcome.success, "{outcome:?}");
    let row = wait_audited(&server, "certificate \"fay@laptop\" serial 7").await;
    assert_eq!(row.outcome, "success");
    disconnect(conn).await;

    for (serial, principal, from, to, why) in [
        (8, "fay", now - 7200, now - 3600, "expired"),
        (9, "jane", now - 60, now + 3600, "no principal"),
        (13, "fay", now - 60, now + 3600, "key revoked"),
    ] {
        let mut conn = connect(server.addr).await;
        let c = cert(serial, principal, from, to, &user_key);
        let r = conn
            .authenticate_openssh_cert("fay", Arc::new(user_key.clone()), c)
            .await
            .unwrap();
        assert!(!r.success() && !partial(&r), "{why}: {r:?}");
        disconnect(conn).await;
        if why != "expired" {
            // russh itself refuses an expired certificate before moat sees it.
            let row = wait_audited(&server, &format!("serial {serial}")).await;
            assert!(
                row.reason.as_deref().is_some_and(|r| r.contains(why)),
                "{row:?}"
            );
        }
    }

    // A registered key's session ends when the key is removed.
    let key = new_key();
    add_key(&server, "fay", &key).await;
    let mut conn = connect(server.addr).await;
    assert!(partial(&offer_key(&mut conn, "fay", &key).await));
    let outcome = ki_login(&mut conn, "fay", &[PASSWORD, &server.next_code("fay")]).await;
    assert!(outcome.success, "{outcome:?}");
    let mut console = Console::open(&conn, 100, 30, "xterm").await;
    console.wait_for("moat › models").await;
    let mut out = Vec::new();
    let fp = key
        .public_key()
        .fingerprint(ssh_key::HashAlg::Sha256)
        .to_string();
    commands::key_remove(&server.config, "fay", &fp, "test", &mut out)
        .await
        .unwrap();
    let said = String::from_utf8(out).unwrap();
    assert!(said.contains("1 open session"), "{said}");
    console.wait_for("session ended").await;
    console.wait_closed().await;
    server.stop().await;
}

/// `moat user key …` through the binary: what it prints is sanitized, bad input is one
/// line on stderr and a non-zero exit.
#[tokio::test]
async fn the_key_commands_sanitize_and_refuse_in_one_line() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("moat.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = \"{}\"\nkeys_dir = \"{}\"\n",
            server.config.database_url,
            server.config.keys_dir.display()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_moat"))
            .env("MOAT_LOG", "warn")
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .expect("moat")
    };
    let key = new_key();
    let line = format!(
        "{} evil\x1b[31mred\u{202e}",
        key.public_key().to_openssh().unwrap()
    );
    let out = run(&["user", "key", "add", "jane", &line]);
    assert!(out.status.success(), "{out:?}");
    let listed = run(&["user", "key", "list", "jane"]);
    let text = String::from_utf8(listed.stdout).unwrap();
    assert!(
        !text.contains('\x1b') && !text.contains('\u{202e}'),
        "{text:?}"
    );
    assert!(
        text.contains("\\x1b") && text.contains("ssh-ed25519"),
        "{text}"
    );
    assert!(text.contains("never"), "not used yet: {text}");

    for (args, says) in [
        (
            vec!["user", "key", "add", "jane", "ssh-ed25519 AAAA"],
            "not an OpenSSH public key",
        ),
        (
            vec!["user", "key", "add", "jane", &line],
            "already registered",
        ),
        (vec!["user", "key", "add", "nobody", &line], "no such user"),
        (
            vec!["user", "key", "remove", "jane", "laptop"],
            "neither a key id",
        ),
        (vec!["user", "key", "remove", "jane", "999"], "no key #999"),
    ] {
        let out = run(&args);
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    let out = run(&["user", "key", "remove", "jane", "1"]);
    assert!(out.status.success(), "{out:?}");
    let listed = run(&["user", "key", "list", "jane"]);
    assert!(String::from_utf8(listed.stdout)
        .unwrap()
        .contains("jane has no keys"));
    server.stop().await;
}

#[tokio::test]
async fn rsa_keys_log_in_with_sha2_signatures_and_never_with_sha1() {
    let mut server = TestServer::start_with(strict, None).await;
    server.add_user("ray", false).await;
    let rsa = PrivateKey::random(
        &mut russh::keys::key::safe_rng(),
        ssh_key::Algorithm::Rsa { hash: None },
    )
    .expect("an RSA key");
    add_key(&server, "ray", &rsa).await;
    let mut conn = connect(server.addr).await;
    let sha1 = conn
        .authenticate_publickey(
            "ray",
            PrivateKeyWithHashAlg::new(Arc::new(rsa.clone()), None),
        )
        .await
        .unwrap();
    assert!(
        !sha1.success() && !partial(&sha1),
        "ssh-rsa (SHA-1): {sha1:?}"
    );
    let sha2 = conn
        .authenticate_publickey(
            "ray",
            PrivateKeyWithHashAlg::new(Arc::new(rsa), Some(ssh_key::HashAlg::Sha512)),
        )
        .await
        .unwrap();
    assert!(partial(&sha2), "rsa-sha2-512: {sha2:?}");
    let outcome = ki_login(&mut conn, "ray", &[PASSWORD, &server.next_code("ray")]).await;
    assert!(outcome.success, "{outcome:?}");
    disconnect(conn).await;
    server.stop().await;
}

/// The SHA256 fingerprint moat registered for `user`'s only key.
async fn registered_fingerprint(server: &TestServer, user: &str) -> String {
    // `user` is one of the test's own names.
    sqlx::query_scalar(&format!(
        "SELECT k.fingerprint FROM moat_user_keys k JOIN moat_users u ON u.id = k.user_id \
         WHERE u.username = '{user}'"
    ))
    .fetch_one(server.store.pool())
    .await
    .expect("a key")
}

async fn audit_count(server: &TestServer, actor: &str, action: &str, outcome: &str) -> i64 {
    sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM moat_audit_log WHERE actor = '{actor}' AND action = '{action}' \
         AND outcome = '{outcome}'"
    ))
    .fetch_one(server.store.pool())
    .await
    .unwrap()
}

on_every_database! {
    async fn keys_in_the_console_add_with_step_up_list_and_remove() {
        const ENTER: &[u8] = b"\r";
        // A fresh code is needed 2 s after the last one (the login's).
        let mut server = TestServer::start_with(|c| c.accounts.step_up_secs = 2, None).await;
        server.add_user("kim", false).await;
        let key = new_key();
        let line = key.public_key().to_openssh().unwrap();

        let conn = login(&server, "kim").await;
        let mut c = Console::open(&conn, 160, 30, "xterm").await;
        c.wait_for(" moat").await;
        c.keys(&[b":", b"keys", ENTER]).await;
        c.wait_for("no keys yet").await;

        // A line that is no key: the reason at once (no code asked), and the line is gone.
        c.send(b"a").await;
        c.wait_for("paste public key").await;
        c.keys(&[b"\x1b[200~ssh-ed25519 AAAAnotakey laptop\x1b[201~", ENTER]).await;
        let refused = c.wait_for("key not added").await;
        assert!(refused.contains("not an OpenSSH public key"), "{refused}");
        assert!(!refused.contains("Verification code") && !refused.contains("AAAAnotakey"), "{refused}");
        c.send(b"a").await;
        let empty = c.wait_for("paste public key").await;
        assert!(!empty.contains("notakey"), "the bad line is not kept: {empty}");
        c.send(b"\x1b").await;

        // A key: pasted, then a fresh code, then listed.
        tokio::time::sleep(Duration::from_millis(2200)).await;
        c.send(b"a").await;
        c.wait_for("paste public key").await;
        c.keys(&[format!("\x1b[200~{line}\x1b[201~").as_bytes(), ENTER]).await;
        c.wait_for("Verification code (step-up)").await;
        assert_eq!(
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM moat_user_keys")
                .fetch_one(server.store.pool())
                .await
                .unwrap(),
            0,
            "nothing added before the code"
        );
        let code = server.next_code("kim");
        c.keys(&[code.as_bytes(), ENTER]).await;
        c.wait_for("key added: SHA256:").await;
        let fp = registered_fingerprint(&server, "kim").await;
        let listed = c.wait_for(&fp).await;
        assert!(listed.contains("ssh-ed25519") && listed.contains("test") && listed.contains("never"), "{listed}");
        assert_eq!(audit_count(&server, "kim", "user_key_add", "success").await, 1);

        // Removed after a question naming it (within the code's window: no new code).
        c.send(b"x").await;
        c.wait_for(&format!("Remove your key {fp} (\"test\")?")).await;
        c.send(b"y").await;
        c.wait_for("no keys yet").await;
        assert_eq!(audit_count(&server, "kim", "user_key_remove", "success").await, 1);
        c.send(b"\x03").await;
        c.wait_closed().await;
        disconnect(conn).await;

        // Not a manager: another user's keys are refused, and the refusal audited.
        add_key(&server, "kim", &key).await;
        let jane = session_actor(&server, "jane").await;
        use moat::tui::protocol::{ManageCmd, Panel};
        for cmd in [
            ManageCmd::Load(Panel::Keys(Some("kim".into()))),
            ManageCmd::RemoveKey { user: Some("kim".into()), id: 1 },
        ] {
            match server.sessions.execute(&jane, moat::tui::Cmd::Manage(cmd)).await {
                Some(moat::tui::Msg::Failed(why)) => {
                    assert!(why.starts_with("permission denied"), "{why}")
                }
                Some(moat::tui::Msg::StepUp(_)) => {}
                other => panic!("not refused: {other:?}"),
            }
        }
        assert!(audit_count(&server, "jane", "keys", "denied").await >= 1);

        // A manager: `K` on `:users` shows kim's keys and removes one.
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 160, 30, "xterm").await;
        c.wait_for("post_tags").await;
        c.keys(&[b":", b"users", ENTER]).await;
        c.wait_for("kim").await;
        c.keys(&[b"G", b"K"]).await;
        c.wait_for("keys of kim").await;
        c.wait_for(&fp).await;
        c.send(b"x").await;
        c.wait_for(&format!("Remove the key of kim {fp}")).await;
        c.send(b"y").await;
        c.wait_for("kim has no keys").await;
        assert_eq!(audit_count(&server, "admin", "user_key_remove", "success").await, 1);
        c.send(b"\x03").await;
        c.wait_closed().await;
        disconnect(conn).await;
        server.stop().await;
    }
}

#[tokio::test]
async fn a_reload_holds_the_next_login_to_the_new_auth_rules_and_a_bad_one_changes_nothing() {
    let mut server = TestServer::start().await;
    server.add_user("bob", false).await;
    server.add_user("cat", false).await;
    let key = new_key();
    add_key(&server, "bob", &key).await;
    // Password and code are enough today.
    let _jane = login(&server, "jane").await;

    // SIGHUP with `require = ["publickey", "password", "totp"]`: the next login needs the key.
    let mut strict_config = server.config.clone();
    strict(&mut strict_config);
    server.ssh.reload(&strict_config).expect("reload");
    let mut conn = connect(server.addr).await;
    let code = server.next_code("jane");
    let outcome = ki_login(&mut conn, "jane", &[PASSWORD, &code]).await;
    assert!(!outcome.success, "{outcome:?}");
    disconnect(conn).await;
    let mut conn = connect(server.addr).await;
    assert!(partial(&offer_key(&mut conn, "bob", &key).await));
    let code = server.next_code("bob");
    assert!(ki_login(&mut conn, "bob", &[PASSWORD, &code]).await.success);
    disconnect(conn).await;

    // A reload naming a CA file that is not there is refused whole: the strict rule stays,
    // and so does the rest of the old configuration.
    let mut bad = server.config.clone();
    bad.trusted_user_ca_keys = Some("/nonexistent/user_ca.pub".into());
    assert!(server.ssh.reload(&bad).is_err());
    let mut conn = connect(server.addr).await;
    let code = server.next_code("cat");
    let outcome = ki_login(&mut conn, "cat", &[PASSWORD, &code]).await;
    assert!(!outcome.success, "still strict: {outcome:?}");
    server.stop().await;
}

/// A key or certificate written into `revoked_keys` after its login ends the session it
/// opened (within a second or two), on top of refusing the next login.
#[tokio::test]
async fn revoking_a_key_or_certificate_ends_the_sessions_that_used_it() {
    let dir = tempfile::tempdir().unwrap();
    let ca = new_key();
    let ca_file = dir.path().join("user_ca.pub");
    std::fs::write(&ca_file, ca.public_key().to_openssh().unwrap()).unwrap();
    let revoked = dir.path().join("revoked_keys");
    std::fs::write(&revoked, "# nothing yet\n").unwrap();
    let (ca_path, revoked_path) = (ca_file.clone(), revoked.clone());
    let mut server = TestServer::start_with(
        move |c| {
            strict(c);
            c.trusted_user_ca_keys = Some(ca_path);
            c.revoked_keys = Some(revoked_path);
        },
        None,
    )
    .await;
    server.add_user("fay", false).await;
    server.add_user("gus", false).await;
    let now = now();
    let user_key = new_key();
    let nonce: [u8; 32] = rand::random();
    let mut b = ssh_key::certificate::Builder::new(
        nonce.to_vec(),
        user_key.public_key().key_data().clone(),
        now - 60,
        now + 3600,
    )
    .unwrap();
    b.serial(21).unwrap();
    b.key_id("fay@laptop").unwrap();
    b.valid_principal("fay").unwrap();
    let cert = b.sign(&ca).unwrap();

    // fay logs in with the certificate, gus with a registered key; both consoles open.
    let mut fay = connect(server.addr).await;
    let r = fay
        .authenticate_openssh_cert("fay", Arc::new(user_key.clone()), cert)
        .await
        .unwrap();
    assert!(partial(&r), "{r:?}");
    assert!(
        ki_login(&mut fay, "fay", &[PASSWORD, &server.next_code("fay")])
            .await
            .success
    );
    let mut fay_console = Console::open(&fay, 100, 30, "xterm").await;
    fay_console.wait_for("moat › models").await;
    let gus_key = new_key();
    add_key(&server, "gus", &gus_key).await;
    let mut gus = connect(server.addr).await;
    assert!(partial(&offer_key(&mut gus, "gus", &gus_key).await));
    assert!(
        ki_login(&mut gus, "gus", &[PASSWORD, &server.next_code("gus")])
            .await
            .success
    );
    let mut gus_console = Console::open(&gus, 100, 30, "xterm").await;
    gus_console.wait_for("moat › models").await;

    // The certificate's key id goes into the list: fay's session ends, gus's stays.
    std::fs::write(&revoked, "# nothing yet\nid:fay@laptop\n").unwrap();
    fay_console.wait_for("was revoked").await;
    fay_console.wait_closed().await;
    gus_console.send(b"j").await;
    assert!(
        !gus_console.screen().contains("revoked"),
        "{}",
        gus_console.screen()
    );
    // Now gus's key, by fingerprint.
    let fp = gus_key
        .public_key()
        .fingerprint(ssh_key::HashAlg::Sha256)
        .to_string();
    std::fs::write(&revoked, format!("id:fay@laptop\n{fp}\n")).unwrap();
    gus_console.wait_for("its key was revoked").await;
    gus_console.wait_closed().await;
    server.stop().await;
}
