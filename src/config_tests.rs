//! Loading and validating `moat.toml`: defaults, unknown keys, every rule `validate`
//! enforces, and what a reload may change.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_validate() {
    let v = Config::default().validate().unwrap();
    assert_eq!(v.listen.to_string(), "127.0.0.1:2222");
    assert_eq!(v.allowlist.len(), 2);
    assert_eq!(Config::default().argon2.memory_kib, 19456);
}

#[test]
fn the_example_file_is_the_defaults() {
    let example = Config::from_toml(include_str!("../config.example.toml")).unwrap();
    assert_eq!(example, Config::default());
}

#[test]
fn limits_must_make_sense() {
    let bad = |toml: &str| {
        let c = Config::from_toml(&format!("[limits]\n{toml}\n")).unwrap();
        c.validate().unwrap_err().to_string()
    };
    let err = bad("max_preauth_total = 20\npreauth_drop_start = 21");
    assert!(err.contains("limits.preauth_drop_start"), "{err}");
    let err = bad("preauth_drop_percent = 101");
    assert!(err.contains("limits.preauth_drop_percent"), "{err}");
    let err = bad("version_grace_ms = 0");
    assert!(err.contains("limits.version_grace_ms"), "{err}");
    let err = bad("ipv6_prefix = 0");
    assert!(err.contains("limits.ipv6_prefix"), "{err}");
    let err = bad("ipv6_prefix = 129");
    assert!(err.contains("limits.ipv6_prefix"), "{err}");
    let err = bad("max_preauth_per_source = 0");
    assert!(err.contains("limits.max_preauth_per_source"), "{err}");
    let err = bad("bulk_max_rows = 0");
    assert!(err.contains("limits.bulk_max_rows"), "{err}");
    assert_eq!(Config::default().limits.bulk_max_rows, 10_000);
    // start = full turns early drop off; that is allowed.
    let off = Config::from_toml(
        "[limits]\nmax_preauth_total = 20\npreauth_drop_start = 20\npreauth_drop_percent = 0\n",
    )
    .unwrap();
    assert!(off.validate().is_ok());
    assert!(Config::from_toml("[limits]\npreauth_start = 3\n").is_err());
}

#[test]
fn session_times_must_make_sense() {
    let warn_too_long =
        Config::from_toml("[session]\nidle_timeout_secs = 60\nidle_warning_secs = 60\n").unwrap();
    let err = warn_too_long.validate().unwrap_err().to_string();
    assert!(err.contains("session.idle_warning_secs"), "{err}");
    let zero = Config::from_toml("[accounts]\none_time_password_hours = 0\n").unwrap();
    assert!(zero.validate().is_err());
    let typo = Config::from_toml("[session]\nidle_timeout = 5\n").unwrap_err();
    assert!(typo.to_string().contains("idle_timeout"), "{typo}");
}

#[test]
fn recording_settings_are_checked() {
    let c = Config::from_toml(
        "[recording]\nenabled = true\nrecord_input = true\nretention_days = 30\nrecordings_dir = \"/var/lib/moat/rec\"\n",
    )
    .unwrap();
    assert!(c.validate().is_ok());
    assert!(c.recording.record_input);
    let bad = |toml: &str| {
        Config::from_toml(toml)
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string()
    };
    let err = bad("export_dir = \"out\"\n[recording]\nrecordings_dir = \"out/rec\"\n");
    assert!(err.contains("recording.recordings_dir"), "{err}");
    let err = bad("export_dir = \"./data/out\"\n[recording]\nrecordings_dir = \"data\"\n");
    assert!(err.contains("recording.recordings_dir"), "{err}");
    let err = bad("[recording]\nretention_days = 99999\n");
    assert!(err.contains("recording.retention_days"), "{err}");
    for mib in ["0", "4097"] {
        let err = bad(&format!("[recording]\nreplay_max_mib = {mib}\n"));
        assert!(err.contains("recording.replay_max_mib"), "{err}");
    }
    let ok = Config::from_toml("[recording]\nreplay_max_mib = 256\n").unwrap();
    assert_eq!(ok.recording.replay_max_mib, 256);
    assert!(Config::from_toml("[recording]\nretention = 3\n").is_err());
    // Turned off, the directory is not used, so it is not checked.
    let off = Config::from_toml(
        "export_dir = \"out\"\n[recording]\nenabled = false\nrecordings_dir = \"out\"\n",
    )
    .unwrap();
    assert!(off.validate().is_ok());
}

#[test]
fn auth_rules_are_checked_and_named() {
    let err = |toml: &str| {
        Config::from_toml(toml)
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string()
    };
    assert!(err("[auth]\nrequire = [\"totp\"]\n").contains("auth.require"));
    assert!(err("[auth.groups]\nops = [\"password\"]\n").contains("auth.groups.ops"));
    assert!(err("trusted_user_ca_keys = \"ca.pub\"\n").contains("trusted_user_ca_keys"));
    let typo = Config::from_toml("[auth]\nrequired = []\n").unwrap_err();
    assert!(typo.to_string().contains("required"), "{typo}");
    let strict = Config::from_toml(
        "trusted_user_ca_keys = \"ca.pub\"\n[auth]\nrequire = [\"publickey\", \"totp\"]\n",
    )
    .unwrap();
    assert!(strict.validate().is_ok());
}

#[test]
fn unknown_key_is_named() {
    let err = Config::from_toml("listen = \"127.0.0.1:1\"\nlisen = 3\n").unwrap_err();
    assert!(err.to_string().contains("lisen"), "{err}");
    let err = Config::from_toml("[argon2]\nmemory = 3\n").unwrap_err();
    assert!(err.to_string().contains("memory"), "{err}");
}

#[test]
fn file_then_env_override() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.toml");
    std::fs::write(
        &path,
        "listen = \"127.0.0.1:9\"\nlogin_grace_secs = 5\n[argon2]\nmemory_kib = 64\niterations = 1\nparallelism = 1\n",
    )
    .unwrap();
    let c = Config::load(
        Some(&path),
        env(&[
            ("MOAT_LISTEN", "127.0.0.1:10"),
            ("MOAT_ALLOWLIST", "10.0.0.0/8, ::1/128"),
            ("PATH", "/bin"),
            ("MOAT_TEST_POSTGRES_URL", "x"),
        ]),
    )
    .unwrap();
    assert_eq!(c.listen, "127.0.0.1:10");
    assert_eq!(c.login_grace_secs, 5);
    assert_eq!(c.argon2.memory_kib, 64);
    assert_eq!(c.allowlist, vec!["10.0.0.0/8", "::1/128"]);
}

#[test]
fn errors_say_where_the_value_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.toml");
    let load = |text: &str, vars: &[(&str, &str)]| {
        std::fs::write(&path, text).unwrap();
        Config::load(Some(&path), env(vars))
    };
    // Unknown keys and wrong types: toml's own position.
    let err = load("listen = \"127.0.0.1:9\"\n  lisen = 3\n", &[]).unwrap_err();
    let err = err.to_string();
    assert!(
        err.contains("m.toml: line 2, column 3") && err.contains("lisen"),
        "{err}"
    );
    let err = load("[limits]\nipv6_prefix = \"64\"\n", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2, column 15"), "{err}");
    let err = load("listen = \n", &[]).unwrap_err().to_string();
    assert!(err.contains("line 1"), "{err}");
    // Values refused by validation: the key's place in the file…
    let c = load(
        "listen = \"127.0.0.1:9\"\n\n[limits]\nipv6_prefix = 0\n",
        &[],
    )
    .unwrap();
    let err = c.validate().unwrap_err().to_string();
    assert!(
        err.contains("m.toml, line 4, column 1") && err.contains("limits.ipv6_prefix"),
        "{err}"
    );
    let c = load("allowlist = [\"10.0.0.0/8\", \"nope\"]\n", &[]).unwrap();
    let err = c.validate().unwrap_err().to_string();
    assert!(
        err.contains("line 1, column 1") && err.contains("nope"),
        "{err}"
    );
    // …or the variable that set it.
    let c = load("listen = \"127.0.0.1:9\"\n", &[("MOAT_LISTEN", "nowhere")]).unwrap();
    let err = c.validate().unwrap_err().to_string();
    assert!(err.contains("environment variable MOAT_LISTEN"), "{err}");
    // A default that fails names no place.
    let c = Config {
        page_size: 1,
        ..Config::default()
    };
    assert!(c
        .validate()
        .unwrap_err()
        .to_string()
        .starts_with("config key"));
}

#[test]
fn unknown_env_key_is_named() {
    let err = Config::load(None, env(&[("MOAT_LISTN", "x")])).unwrap_err();
    assert!(err.to_string().contains("MOAT_LISTN"), "{err}");
    let err = Config::load(None, env(&[("MOAT_LOGIN_GRACE_SECS", "soon")])).unwrap_err();
    assert!(err.to_string().contains("soon"), "{err}");
}

#[test]
fn lists_from_the_environment_are_comma_separated() {
    let c = Config::load(None, env(&[("MOAT_DATABASE_SCHEMAS", "public, sales")])).unwrap();
    assert_eq!(c.database_schemas, ["public", "sales"]);
}

/// Every top-level key that is not a section is settable from the environment, typed
/// like its default: a value equal to the default round-trips.
#[test]
fn every_top_level_key_is_settable() {
    let defaults = toml::Table::try_from(Config::default()).unwrap();
    let keys = top_level_keys();
    assert!(
        keys.contains(&"listen") && keys.contains(&"argon2"),
        "{keys:?}"
    );
    for key in keys {
        let var = format!("MOAT_{}", key.to_ascii_uppercase());
        let raw = match defaults.get(*key) {
            Some(toml::Value::Table(_)) => {
                let err = Config::load(None, env(&[(&var, "1")])).unwrap_err();
                assert!(err.to_string().contains("section"), "{var}: {err}");
                continue;
            }
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string).unwrap_or(v.to_string()))
                .collect::<Vec<_>>()
                .join(","),
            Some(toml::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => continue, // unset by default: nothing to compare with
        };
        let c =
            Config::load(None, env(&[(&var, &raw)])).unwrap_or_else(|e| panic!("{var}={raw}: {e}"));
        assert_eq!(c, Config::default(), "{var}={raw}");
    }
    let err = Config::load(None, env(&[("MOAT_PROXY_HEADER_REQUIRED", "maybe")])).unwrap_err();
    assert!(err.to_string().contains("true or false"), "{err}");
}

#[test]
fn validate_names_bad_values() {
    let c = Config {
        allowlist: vec!["10.0.0.0/33".into()],
        ..Config::default()
    };
    assert!(c.validate().unwrap_err().to_string().contains("allowlist"));
    let c = Config {
        argon2: Argon2Config {
            memory_kib: 1,
            iterations: 1,
            parallelism: 1,
            ..Argon2Config::default()
        },
        ..Config::default()
    };
    assert!(c.validate().unwrap_err().to_string().contains("argon2"));
    let c = Config {
        allowlist: vec!["192.0.2.7".into()],
        ..Config::default()
    };
    assert_eq!(
        c.validate().unwrap().allowlist[0].to_string(),
        "192.0.2.7/32"
    );
}
