//! Keys and certificates with the stock OpenSSH client and keys made by `ssh-keygen`,
//! under the strict rule (`[auth] require = ["publickey", "password", "totp"]`): a key
//! added with the `moat` binary logs in with password and code and shows in `key list`;
//! removing it ends that session; without the key, or with another user's, the login is
//! refused; a certificate from the trusted CA for principal `alice` logs in, an expired
//! one, one for another principal and a revoked one do not. (Skipped like `openssh.rs`
//! when `ssh`/`tmux` are missing.)

use std::path::{Path, PathBuf};
use std::process::Command;

use moat::config::AuthConfig;

use crate::common::*;
use crate::openssh::{skip_without_tools, write_askpass, Tmux};

fn keygen(args: &[&str]) {
    let out = Command::new("ssh-keygen")
        .args(args)
        .output()
        .expect("ssh-keygen");
    assert!(
        out.status.success(),
        "ssh-keygen {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh ed25519 key pair at `dir/name` (and `.pub`).
fn new_key(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    keygen(&[
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-C",
        name,
        "-f",
        path.to_str().unwrap(),
    ]);
    path
}

/// Sign `key`.pub with `ca` into `key-cert.pub` (which `ssh -i key` then offers).
fn certify(ca: &Path, key: &Path, id: &str, principal: &str, validity: &str, serial: &str) {
    keygen(&[
        "-q",
        "-s",
        ca.to_str().unwrap(),
        "-I",
        id,
        "-n",
        principal,
        "-V",
        validity,
        "-z",
        serial,
        &format!("{}.pub", key.display()),
    ]);
}

/// A config file naming the test server's database and keys, for the `moat` binary.
fn config_file(server: &TestServer, dir: &Path) -> PathBuf {
    let path = dir.join("moat.toml");
    std::fs::write(
        &path,
        format!(
            "database_url = \"{}\"\nkeys_dir = \"{}\"\n\
             [argon2]\nmemory_kib = 64\niterations = 1\nparallelism = 1\n",
            server.config.database_url,
            server.config.keys_dir.display()
        ),
    )
    .unwrap();
    path
}

/// Run the `moat` binary; its stdout, or a panic with its stderr.
fn moat(config: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_moat"))
        .env("MOAT_LOG", "warn")
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("moat");
    assert!(
        out.status.success(),
        "moat {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `ssh` as `user` with identity `key` only, answering password and a fresh code.
fn ssh(server: &TestServer, dir: &Path, user: &str, key: Option<&Path>, extra: &str) -> Tmux {
    let askpass = write_askpass(dir, PASSWORD, &server.next_code(user));
    let identity = match key {
        Some(k) => format!("-i {} -o IdentitiesOnly=yes", k.display()),
        None => "-o PubkeyAuthentication=no".into(),
    };
    Tmux::start(&format!(
        "env SSH_ASKPASS='{askpass}' SSH_ASKPASS_REQUIRE=force DISPLAY=:0 TERM=xterm-256color \
         ssh -F /dev/null -p {port} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
         -o LogLevel=ERROR -o NumberOfPasswordPrompts=1 {identity} {extra} {user}@127.0.0.1; \
         echo SSH-EXITED-$?; sleep 60",
        port = server.addr.port()
    ))
}

/// `ssh` offering only `key` (no password round): refused unless the key passes.
fn key_only(server: &TestServer, user: &str, key: &Path) -> Tmux {
    Tmux::start(&format!(
        "ssh -F /dev/null -p {port} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
         -o BatchMode=yes -o PreferredAuthentications=publickey -o IdentitiesOnly=yes \
         -i {key} {user}@127.0.0.1; echo SSH-EXITED-$?; sleep 60",
        port = server.addr.port(),
        key = key.display()
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssh_keys_and_certificates_under_the_strict_rule() {
    if skip_without_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = new_key(d, "user_ca");
    let revoked = d.join("revoked_keys");
    std::fs::write(&revoked, "# revoked certificate serials\nserial:99\n").unwrap();
    let (ca_pub, revoked_file) = (d.join("user_ca.pub"), revoked.clone());
    let mut server = TestServer::start_with(
        move |c| {
            c.auth = AuthConfig {
                require: ["publickey", "password", "totp"].map(String::from).to_vec(),
                ..AuthConfig::default()
            };
            c.trusted_user_ca_keys = Some(ca_pub);
            c.revoked_keys = Some(revoked_file);
        },
        None,
    )
    .await;
    for u in ["kim", "lee", "alice"] {
        server.add_user(u, true).await;
    }
    let config = config_file(&server, d);

    // A key added with the binary shows in `key list`, and logs in with password + code.
    let kim = new_key(d, "kim");
    let line = std::fs::read_to_string(format!("{}.pub", kim.display())).unwrap();
    let added = moat(&config, &["user", "key", "add", "kim", line.trim()]);
    assert!(
        added.starts_with("key #1 added for kim: SHA256:"),
        "{added}"
    );
    let fingerprint = added
        .split_whitespace()
        .find(|w| w.starts_with("SHA256:"))
        .unwrap()
        .to_string();
    let listed = moat(&config, &["user", "key", "list", "kim"]);
    assert!(
        listed.contains(&fingerprint) && listed.contains("ssh-ed25519"),
        "{listed}"
    );
    let tmux = ssh(&server, d, "kim", Some(&kim), "");
    tmux.wait_for("post_tags").await;

    // Removing it ends that session.
    let removed = moat(&config, &["user", "key", "remove", "kim", &fingerprint]);
    assert!(removed.contains("1 open session"), "{removed}");
    let screen = tmux.wait_for("SSH-EXITED").await;
    assert!(screen.contains("session ended"), "{screen}");

    // Without the key: both prompts, then refused. With kim's key as lee: refused.
    let tmux = ssh(&server, d, "kim", None, "");
    let screen = tmux.wait_for("SSH-EXITED-255").await;
    assert!(screen.contains("Permission denied"), "{screen}");
    let lee_tries_kims = new_key(d, "kim2");
    let line = std::fs::read_to_string(format!("{}.pub", lee_tries_kims.display())).unwrap();
    moat(&config, &["user", "key", "add", "kim", line.trim()]);
    let tmux = key_only(&server, "lee", &lee_tries_kims);
    let screen = tmux.wait_for("SSH-EXITED-255").await;
    assert!(screen.contains("Permission denied"), "{screen}");

    // Certificates from the trusted CA: for principal alice, valid now, logs in.
    let alice = new_key(d, "alice");
    certify(&ca, &alice, "alice@laptop", "alice", "-5m:+1h", "42");
    let tmux = ssh(&server, d, "alice", Some(&alice), "");
    tmux.wait_for("post_tags").await;
    let audit = server.store.recent_audit(50).await.unwrap();
    assert!(
        audit.iter().any(|e| e.outcome == "success"
            && e.reason
                .as_deref()
                .is_some_and(|r| r.contains("\"alice@laptop\" serial 42"))),
        "{audit:?}"
    );
    drop(tmux);

    // Expired, for another principal, revoked: refused.
    for (name, principal, validity, serial) in [
        ("expired", "alice", "20200101:20200102", "43"),
        ("for_bob", "bob", "-5m:+1h", "44"),
        ("revoked", "alice", "-5m:+1h", "99"),
    ] {
        let key = new_key(d, name);
        certify(
            &ca,
            &key,
            &format!("{name}@laptop"),
            principal,
            validity,
            serial,
        );
        let tmux = key_only(&server, "alice", &key);
        let screen = tmux.wait_for("SSH-EXITED-255").await;
        assert!(screen.contains("Permission denied"), "{name}: {screen}");
    }
    let audit = server.store.recent_audit(100).await.unwrap();
    let reasons: Vec<&str> = audit.iter().filter_map(|e| e.reason.as_deref()).collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("key revoked") && r.contains("serial 99")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("no principal") && r.contains("serial 44")),
        "{reasons:?}"
    );
    server.stop().await;
}
