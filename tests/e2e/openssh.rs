//! The stock OpenSSH client, driven the way a person would: `ssh` runs inside tmux, the
//! two prompts are answered through SSH_ASKPASS, keys are typed with send-keys and the
//! screen is read with capture-pane.
//!
//! Skipped with a printed notice when `ssh` or `tmux` is missing; `.ci/run` installs both
//! and sets `MOAT_TEST_REQUIRE_OPENSSH` so that CI cannot skip.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::*;

pub(crate) fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A tmux server of our own (its own socket), killed on drop.
pub(crate) struct Tmux {
    socket: String,
}

impl Tmux {
    pub(crate) fn start(cmd: &str) -> Tmux {
        let socket = format!("moat-test-{}-{}", std::process::id(), rand_suffix());
        let tmux = Tmux { socket };
        let ok = tmux
            .cmd(&["new-session", "-d", "-s", "t", "-x", "100", "-y", "30", cmd])
            .status
            .success();
        assert!(ok, "tmux new-session failed");
        tmux
    }

    fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux")
    }

    pub(crate) fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.cmd(&["send-keys", "-t", "t", k]);
        }
    }

    pub(crate) async fn wait_for(&self, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {needle:?}; screen:\n{screen}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}

/// An askpass program answering `Password` and `Verification code` prompts from files.
pub(crate) fn write_askpass(dir: &Path, password: &str, code: &str) -> String {
    std::fs::write(dir.join("password"), format!("{password}\n")).unwrap();
    std::fs::write(dir.join("code"), format!("{code}\n")).unwrap();
    let script = dir.join("askpass.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncase \"$1\" in\n  *assword*) cat '{d}/password' ;;\n  *\"Verification code\"*) cat '{d}/code' ;;\n  *) echo \"unexpected prompt: $1\" >&2; exit 1 ;;\nesac\n",
            d = dir.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script.display().to_string()
}

fn ssh_command(server: &TestServer, askpass: &str, user: &str, extra: &str) -> String {
    format!(
        "env SSH_ASKPASS='{askpass}' SSH_ASKPASS_REQUIRE=force DISPLAY=:0 TERM=xterm-256color \
         ssh -F /dev/null -p {port} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
         -o LogLevel=ERROR {extra} {user}@127.0.0.1; echo SSH-EXITED-$?; sleep 60",
        port = server.addr.port()
    )
}

/// Start `ssh` as `user` in tmux against `server`, with an askpass that answers the right
/// password and a fresh code; `extra` are more `ssh` options.
fn start_ssh(server: &TestServer, dir: &Path, user: &str, extra: &str) -> Tmux {
    let askpass = write_askpass(dir, PASSWORD, &server.next_code(user));
    Tmux::start(&ssh_command(server, &askpass, user, extra))
}

pub(crate) fn skip_without_tools() -> bool {
    let missing: Vec<&str> = ["ssh", "tmux"].into_iter().filter(|t| !have(t)).collect();
    if missing.is_empty() {
        return false;
    }
    // CI sets this so a machine without the tools fails instead of silently skipping.
    if std::env::var_os("MOAT_TEST_REQUIRE_OPENSSH").is_some() {
        panic!(
            "MOAT_TEST_REQUIRE_OPENSSH is set but {} is missing",
            missing.join(" and ")
        );
    }
    eprintln!(
        "SKIPPED: the OpenSSH test needs {} (install openssh-client and tmux)",
        missing.join(" and ")
    );
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssh_keyboard_interactive_login_browse_and_quit() {
    if skip_without_tools() {
        return;
    }
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let tmux = start_ssh(&server, dir.path(), "admin", "");

    let index = tmux.wait_for("post_tags").await;
    assert!(
        index.contains("moat › models") && index.contains("authors"),
        "{index}"
    );
    tmux.keys(&["j", "j", "j", "Enter"]);
    tmux.wait_for("When Kafka is the wrong answer").await;
    tmux.keys(&["Enter"]);
    tmux.wait_for("body").await;
    tmux.keys(&["Escape"]);
    tmux.wait_for("row 1 of 2,000").await;
    tmux.keys(&["q", "q"]);
    tmux.wait_for("SSH-EXITED-0").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssh_password_method_then_code() {
    if skip_without_tools() {
        return;
    }
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let tmux = start_ssh(
        &server,
        dir.path(),
        "admin",
        "-o PreferredAuthentications=password,keyboard-interactive",
    );
    tmux.wait_for("post_tags").await;
    tmux.keys(&["q"]);
    tmux.wait_for("SSH-EXITED-0").await;

    // A wrong password never reaches the console.
    let bad = write_askpass(dir.path(), "not the password", &server.next_code("admin"));
    let tmux = Tmux::start(&ssh_command(
        &server,
        &bad,
        "admin",
        "-o NumberOfPasswordPrompts=1",
    ));
    let screen = tmux.wait_for("SSH-EXITED-255").await;
    assert!(screen.contains("Permission denied"), "{screen}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssh_first_login_enrols_from_the_qr_code_and_sets_a_password() {
    if skip_without_tools() {
        return;
    }
    let server = TestServer::start().await;
    let otp = server.add_one_time_user("olive").await;
    let dir = tempfile::tempdir().unwrap();
    // Only the password prompt comes: no code is asked before a device is enrolled.
    let askpass = write_askpass(dir.path(), &otp, "no code is asked yet");
    let tmux = Tmux::start(&ssh_command(&server, &askpass, "olive", ""));
    tmux.wait_for("URI:").await;
    // Read the QR code off the real terminal, as a phone would.
    let rows: Vec<String> = tmux.screen().lines().map(str::to_string).collect();
    let uri = qr::decode_screen(&rows).expect("the QR code reads in a real terminal");
    assert!(uri.starts_with("otpauth://totp/moat:olive?"), "{uri}");
    let b32 = uri
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("secret="))
        .unwrap()
        .to_string();
    let secret = totp_rs::Secret::Encoded(b32).to_bytes().unwrap();
    let code = moat::auth::totp::code_at(&secret, moat::auth::totp::step_at(now()));
    tmux.keys(&[&code, "Enter"]);
    tmux.wait_for("Choose your own password").await;
    tmux.keys(&[
        "violet-staple-orbit-42",
        "Tab",
        "violet-staple-orbit-42",
        "Enter",
    ]);
    tmux.wait_for("Your account is ready").await;
    tmux.keys(&["q"]);
    tmux.wait_for("SSH-EXITED-0").await;
    server.stop().await;
}
