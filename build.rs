//! Compiles the PostgreSQL variants of the tests as runnable when `MOAT_TEST_POSTGRES_URL`
//! is set, and as ignored tests (reason: the variable is unset) otherwise, so that
//! `cargo test` says it skipped them. See `src/store/testing.rs`.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(moat_postgres)");
    println!("cargo::rerun-if-env-changed=MOAT_TEST_POSTGRES_URL");
    if std::env::var_os("MOAT_TEST_POSTGRES_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=moat_postgres");
    }
}
