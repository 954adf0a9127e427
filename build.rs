//! Build-time facts:
//!
//! - the git revision moat is built from, for `moat --version` and the `moat_build_info`
//!   metric (`MOAT_REVISION`, see [`revision`]);
//! - the PostgreSQL variants of the tests are compiled as runnable when
//!   `MOAT_TEST_POSTGRES_URL` is set, and as ignored tests (reason: the variable is unset)
//!   otherwise, so that `cargo test` says it skipped them; the MySQL/MariaDB variants
//!   likewise with `MOAT_TEST_MYSQL_URL`. See `src/store/testing.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(moat_postgres)");
    println!("cargo::rerun-if-env-changed=MOAT_TEST_POSTGRES_URL");
    if std::env::var_os("MOAT_TEST_POSTGRES_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=moat_postgres");
    }
    println!("cargo::rustc-check-cfg=cfg(moat_mysql)");
    println!("cargo::rerun-if-env-changed=MOAT_TEST_MYSQL_URL");
    if std::env::var_os("MOAT_TEST_MYSQL_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=moat_mysql");
    }
    println!("cargo::rerun-if-env-changed=MOAT_REVISION");
    println!("cargo::rustc-env=MOAT_REVISION={}", revision());
}

/// `MOAT_REVISION` if the packager set it; else `git` and the commit of this source tree,
/// when it is a git checkout of its own (a tarball unpacked inside another repository
/// must not take that one's commit); else `unknown revision`.
fn revision() -> String {
    if let Some(set) = std::env::var("MOAT_REVISION")
        .ok()
        .filter(|s| !s.trim().is_empty())
    {
        return set.trim().to_string();
    }
    let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from) else {
        return "unknown revision".into();
    };
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .args(args)
            .current_dir(&dir)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let top = git(&["rev-parse", "--show-toplevel"]).map(PathBuf::from);
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !top.is_some_and(|t| same(&t, &dir)) {
        return "unknown revision".into();
    }
    // Build again when HEAD moves: HEAD itself, the branch it points at, packed refs.
    let mut watched = vec!["HEAD".to_string()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    watched.push("packed-refs".into());
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
            let path = dir.join(path);
            if path.exists() {
                println!("cargo::rerun-if-changed={}", path.display());
            }
        }
    }
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(hash) if !hash.is_empty() => format!("git {hash}"),
        _ => "unknown revision".into(),
    }
}
