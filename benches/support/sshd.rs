//! OpenSSH sshd + PAM (pam_unix password, then google-authenticator's code), run beside
//! moat for the login comparison: its own config, host key, PAM stack, user and TOTP
//! secret in a temp dir, bound over the system's files in a private mount namespace
//! (`unshare -m`), so nothing on the machine changes. Needs root, `/usr/sbin/sshd`
//! (Debian: openssh-server) and pam_google_authenticator (libpam-google-authenticator).

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::support::PASSWORD;

const SSHD: &str = "/usr/sbin/sshd";
const PAM_GA: &[&str] = &[
    "/lib/x86_64-linux-gnu/security/pam_google_authenticator.so",
    "/usr/lib/x86_64-linux-gnu/security/pam_google_authenticator.so",
    "/lib/security/pam_google_authenticator.so",
    "/usr/lib/security/pam_google_authenticator.so",
];

struct Sshd(Child);

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `n` logins as `moatbench` through the stock client (askpass answering `Password:` and
/// `Verification code:`), from starting `ssh` to the first byte of output (the shell's
/// prompt), in ms; or why it could not run here.
pub fn logins(n: usize) -> Result<Vec<f64>, String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("needs root (a private mount namespace for the PAM stack)".into());
    }
    if !std::path::Path::new(SSHD).exists() {
        return Err(format!("{SSHD} is missing (Debian: openssh-server)"));
    }
    if !PAM_GA.iter().any(|p| std::path::Path::new(p).exists()) {
        return Err(
            "pam_google_authenticator is missing (Debian: libpam-google-authenticator)".into(),
        );
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let d = dir.path();
    let path = |name: &str| d.join(name).display().to_string();
    let run = |cmd: &mut Command| -> Result<String, String> {
        let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{cmd:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f", &path("host")]))?;
    // The password hashed as Debian hashes new ones (yescrypt), else SHA-512 crypt.
    let hash = run(Command::new("mkpasswd").args(["-m", "yescrypt", PASSWORD]))
        .or_else(|_| run(Command::new("openssl").args(["passwd", "-6", PASSWORD])))?;
    let mut passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| e.to_string())?;
    passwd.push_str(&format!(
        "moatbench:x:4242:65534::{}:/bin/sh\n",
        d.display()
    ));
    let mut shadow = std::fs::read_to_string("/etc/shadow").map_err(|e| e.to_string())?;
    shadow.push_str(&format!("moatbench:{hash}:20000:0:99999:7:::\n"));
    let secret = moat::auth::totp::generate_secret();
    let write = |name: &str, text: &str, mode: u32| -> Result<(), String> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(d.join(name), text).map_err(|e| e.to_string())?;
        std::fs::set_permissions(d.join(name), std::fs::Permissions::from_mode(mode))
            .map_err(|e| e.to_string())
    };
    write("passwd", &passwd, 0o644)?;
    write("shadow", &shadow, 0o640)?;
    // No DISALLOW_REUSE: logins follow each other within one 30 s step.
    write(
        "ga",
        &format!(
            "{}\n\" TOTP_AUTH\n",
            moat::auth::totp::secret_base32(&secret)
        ),
        0o600,
    )?;
    write(
        "pam",
        &format!(
            "auth required pam_unix.so\n\
             auth required pam_google_authenticator.so secret={} user=root\n\
             account required pam_permit.so\n\
             session required pam_permit.so\n\
             password required pam_deny.so\n",
            path("ga")
        ),
        0o644,
    )?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    write(
        "sshd_config",
        &format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nUsePAM yes\n\
             KbdInteractiveAuthentication yes\nPasswordAuthentication no\n\
             PubkeyAuthentication no\nAuthenticationMethods keyboard-interactive\n\
             PrintMotd no\nPrintLastLog no\nUseDNS no\nStrictModes no\n",
            path("host"),
            path("sshd.pid")
        ),
        0o644,
    )?;
    std::fs::create_dir_all("/run/sshd").map_err(|e| e.to_string())?;
    let script = format!(
        "mount --bind {pam} /etc/pam.d/sshd && mount --bind {pw} /etc/passwd && \
         mount --bind {sh} /etc/shadow && exec {SSHD} -D -f {cfg}",
        pam = path("pam"),
        pw = path("passwd"),
        sh = path("shadow"),
        cfg = path("sshd_config"),
    );
    if !std::path::Path::new("/etc/pam.d/sshd").exists() {
        return Err("/etc/pam.d/sshd is missing (the bind mount needs it)".into());
    }
    let child = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("unshare: {e}"))?;
    let mut sshd = Sshd(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err("sshd did not start listening".into());
        }
        if let Ok(Some(status)) = sshd.0.try_wait() {
            return Err(format!("sshd exited: {status}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut ms = Vec::new();
    for _ in 0..n {
        let code = moat::auth::totp::code_at(
            &secret,
            moat::auth::totp::step_at(super::support::common::now()),
        );
        match crate::openssh_login(d, port, "moatbench", &code) {
            Some(t) => ms.push(t),
            None => return Err("a login through sshd printed nothing".into()),
        }
    }
    drop(sshd);
    Ok(ms)
}
