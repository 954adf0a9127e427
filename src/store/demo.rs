//! The demo data set that `moat serve --demo` loads.
//!
//! [`load`] creates a small but realistic blog schema (`authors`, `tags`,
//! `posts`, `comments`, `post_tags`) in the target SQLite database and fills
//! it with about 10,000 rows of generated data. It declares the column types a
//! real application would use (`BOOLEAN`, `TIMESTAMP`, `REAL`, nullable
//! columns, `CHECK` constraints, foreign keys with `ON DELETE CASCADE`, a few
//! indexes), so every part of the console has something to show.
//!
//! The generator is seeded with a fixed value ([`SEED`]), so two loads always
//! produce the same rows: tests and screenshots are stable. Timestamps are
//! `TEXT` in the form `YYYY-MM-DD HH:MM:SS` between 2023-01-01 and 2026-03-31
//! (UTC), computed with a small civil-from-days conversion.
//!
//! A handful of rows near the top of their tables deliberately carry values a
//! terminal must never interpret, to show off the console's sanitizer:
//!
//! * author 5's bio contains a right-to-left override (`U+202E`);
//! * post 3's title contains a zero-width space (`U+200B`);
//! * comment 2's body contains `ESC[2J ESC[31m` (clear screen, red);
//! * comment 4's body contains an OSC title-set sequence `ESC]0;pwned BEL`.
//!
//! Everything happens in one `BEGIN IMMEDIATE` transaction: either the whole
//! data set is there afterwards or nothing changed. Values are always bound
//! parameters of a handful of prepared statements reused in a loop.

use std::collections::{BTreeSet, HashSet};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sqlx::{SqliteConnection, SqlitePool};

/// What [`load`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoOutcome {
    /// The demo tables were created and filled; `rows` is the total number of
    /// rows inserted across all tables.
    Created {
        /// Rows inserted, all tables together.
        rows: u64,
    },
    /// Table `authors` already existed, so nothing was touched.
    AlreadyPresent,
}

/// Seed of the generator; changing it changes every generated value.
pub const SEED: u64 = 0x6d6f_6174_6465_6d6f; // "moatdemo"

/// Rows [`load`] puts in `authors`.
pub const AUTHOR_COUNT: usize = 200;
/// Rows [`load`] puts in `tags`.
pub const TAG_COUNT: usize = TAGS.len();
/// Rows [`load`] puts in `posts`.
pub const POST_COUNT: usize = 2_000;
/// Rows [`load`] puts in `comments`.
pub const COMMENT_COUNT: usize = 6_000;
/// Rows [`load`] puts in `post_tags`.
pub const POST_TAG_COUNT: usize = 2_000;
/// Rows [`load`] inserts in total.
pub const TOTAL_ROWS: u64 =
    (AUTHOR_COUNT + TAG_COUNT + POST_COUNT + COMMENT_COUNT + POST_TAG_COUNT) as u64;

/// The schema, as a blog application would declare it.
const SCHEMA: &str = "
CREATE TABLE authors (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    email      TEXT NOT NULL UNIQUE,
    bio        TEXT NULL,
    is_active  BOOLEAN NOT NULL DEFAULT 1,
    joined_at  TIMESTAMP NOT NULL
);
CREATE TABLE tags (
    id    INTEGER PRIMARY KEY,
    name  TEXT NOT NULL UNIQUE,
    slug  TEXT NOT NULL UNIQUE
);
CREATE TABLE posts (
    id            INTEGER PRIMARY KEY,
    author_id     INTEGER NOT NULL REFERENCES authors(id),
    title         TEXT NOT NULL,
    slug          TEXT NOT NULL UNIQUE,
    body          TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('draft', 'published', 'archived')),
    published_at  TIMESTAMP NULL,
    view_count    INTEGER NOT NULL DEFAULT 0,
    rating        REAL NULL,
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX idx_posts_author_id ON posts(author_id);
CREATE INDEX idx_posts_status ON posts(status);
CREATE INDEX idx_posts_created_at ON posts(created_at);
CREATE TABLE comments (
    id           INTEGER PRIMARY KEY,
    post_id      INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    author_name  TEXT NOT NULL,
    body         TEXT NOT NULL,
    is_approved  BOOLEAN NOT NULL,
    created_at   TIMESTAMP NOT NULL
);
CREATE INDEX idx_comments_post_id ON comments(post_id);
CREATE TABLE post_tags (
    post_id  INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    tag_id   INTEGER NOT NULL REFERENCES tags(id),
    PRIMARY KEY (post_id, tag_id)
);
";

const INSERT_AUTHOR: &str =
    "INSERT INTO authors (id, name, email, bio, is_active, joined_at) VALUES (?, ?, ?, ?, ?, ?)";
const INSERT_TAG: &str = "INSERT INTO tags (id, name, slug) VALUES (?, ?, ?)";
const INSERT_POST: &str = "INSERT INTO posts \
     (id, author_id, title, slug, body, status, published_at, view_count, rating, created_at) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
const INSERT_COMMENT: &str = "INSERT INTO comments \
     (id, post_id, author_name, body, is_approved, created_at) VALUES (?, ?, ?, ?, ?, ?)";
const INSERT_POST_TAG: &str = "INSERT INTO post_tags (post_id, tag_id) VALUES (?, ?)";

/// Create and fill the demo tables if absent (checked via `sqlite_master` for
/// table `authors`); idempotent.
///
/// Runs in a single `BEGIN IMMEDIATE` transaction, so a concurrent second
/// call waits for the first and then reports [`DemoOutcome::AlreadyPresent`].
///
/// # Errors
///
/// Any database error. If some but not all demo tables already exist, the
/// `CREATE TABLE` fails; on every error the transaction is rolled back, so the
/// database is left as it was.
pub async fn load(pool: &SqlitePool) -> Result<DemoOutcome, sqlx::Error> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let present: i64 = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?)",
    )
    .bind("authors")
    .fetch_one(&mut *tx)
    .await?;
    if present != 0 {
        tx.rollback().await?;
        return Ok(DemoOutcome::AlreadyPresent);
    }
    let data = generate(SEED);
    sqlx::raw_sql(SCHEMA).execute(&mut *tx).await?;
    let rows = insert(&mut tx, &data).await?;
    tx.commit().await?;
    Ok(DemoOutcome::Created { rows })
}

/// Insert every generated row; returns the number of rows inserted.
async fn insert(conn: &mut SqliteConnection, data: &DemoData) -> Result<u64, sqlx::Error> {
    let mut rows = 0;
    for (id, a) in (1_i64..).zip(&data.authors) {
        rows += sqlx::query(INSERT_AUTHOR)
            .bind(id)
            .bind(&a.name)
            .bind(&a.email)
            .bind(a.bio.as_deref())
            .bind(a.is_active)
            .bind(format_ts(a.joined_at))
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    for (id, (name, slug)) in (1_i64..).zip(&data.tags) {
        rows += sqlx::query(INSERT_TAG)
            .bind(id)
            .bind(*name)
            .bind(slug)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    for (id, p) in (1_i64..).zip(&data.posts) {
        rows += sqlx::query(INSERT_POST)
            .bind(id)
            .bind(p.author_id)
            .bind(&p.title)
            .bind(&p.slug)
            .bind(&p.body)
            .bind(p.status.as_str())
            .bind(p.published_at.map(format_ts))
            .bind(p.view_count)
            .bind(p.rating)
            .bind(format_ts(p.created_at))
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    for &(post_id, tag_id) in &data.post_tags {
        rows += sqlx::query(INSERT_POST_TAG)
            .bind(post_id)
            .bind(tag_id)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    for (id, c) in (1_i64..).zip(&data.comments) {
        rows += sqlx::query(INSERT_COMMENT)
            .bind(id)
            .bind(c.post_id)
            .bind(&c.author_name)
            .bind(&c.body)
            .bind(c.is_approved)
            .bind(format_ts(c.created_at))
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    Ok(rows)
}

// ---------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
const fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `(year, month, day)` of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Seconds since the Unix epoch as `YYYY-MM-DD HH:MM:SS` (UTC).
fn format_ts(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(DAY));
    let s = secs.rem_euclid(DAY);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        s / 3_600,
        s % 3_600 / 60,
        s % 60
    )
}

const DAY: i64 = 86_400;
/// 2023-01-01 00:00:00 UTC: the earliest timestamp in the data set.
const BASE: i64 = days_from_civil(2023, 1, 1) * DAY;
/// 2026-03-31 23:59:59 UTC: the latest timestamp in the data set.
const END: i64 = days_from_civil(2026, 4, 1) * DAY - 1;
/// Authors join until the end of 2025.
const LAST_JOIN: i64 = days_from_civil(2026, 1, 1) * DAY - 1;

// ---------------------------------------------------------------------------
// Word lists
// ---------------------------------------------------------------------------

/// `(display, ascii for e-mail)`.
const FIRST_NAMES: &[(&str, &str)] = &[
    ("Alice", "alice"),
    ("Ben", "ben"),
    ("Chloé", "chloe"),
    ("Dmitri", "dmitri"),
    ("Emma", "emma"),
    ("François", "francois"),
    ("Grace", "grace"),
    ("Hiroshi", "hiroshi"),
    ("Inès", "ines"),
    ("Jonas", "jonas"),
    ("Kwame", "kwame"),
    ("Lena", "lena"),
    ("Łukasz", "lukasz"),
    ("Maya", "maya"),
    ("Ngozi", "ngozi"),
    ("Olivia", "olivia"),
    ("Priya", "priya"),
    ("Rafael", "rafael"),
    ("Søren", "soren"),
    ("Tomás", "tomas"),
    ("Uma", "uma"),
    ("Victor", "victor"),
    ("Wei", "wei"),
    ("Yara", "yara"),
    ("Zoë", "zoe"),
    ("Aoife", "aoife"),
    ("Björn", "bjorn"),
    ("Carlos", "carlos"),
    ("Daniel", "daniel"),
    ("Elif", "elif"),
    ("Fatima", "fatima"),
    ("Gustavo", "gustavo"),
    ("Hannah", "hannah"),
    ("Ivan", "ivan"),
    ("Julia", "julia"),
    ("Kenji", "kenji"),
    ("Leila", "leila"),
    ("Marek", "marek"),
    ("Nadia", "nadia"),
    ("Oscar", "oscar"),
    ("Paula", "paula"),
    ("Rosa", "rosa"),
    ("Sam", "sam"),
    ("Thandiwe", "thandiwe"),
    ("Yusuf", "yusuf"),
    ("Mårten", "marten"),
    ("Noémie", "noemie"),
    ("Siobhán", "siobhan"),
];

/// `(display, ascii for e-mail)`.
const LAST_NAMES: &[(&str, &str)] = &[
    ("Smith", "smith"),
    ("García", "garcia"),
    ("Müller", "muller"),
    ("Nakamura", "nakamura"),
    ("Okafor", "okafor"),
    ("Kowalski", "kowalski"),
    ("Johansson", "johansson"),
    ("Ødegaard", "odegaard"),
    ("Fernández", "fernandez"),
    ("Dubois", "dubois"),
    ("Rossi", "rossi"),
    ("Patel", "patel"),
    ("Kim", "kim"),
    ("Nguyen", "nguyen"),
    ("O'Brien", "obrien"),
    ("Dvořák", "dvorak"),
    ("Novak", "novak"),
    ("Silva", "silva"),
    ("Yılmaz", "yilmaz"),
    ("Andersen", "andersen"),
    ("Brown", "brown"),
    ("Chen", "chen"),
    ("Haddad", "haddad"),
    ("Ivanova", "ivanova"),
    ("Jensen", "jensen"),
    ("Lefèvre", "lefevre"),
    ("Mensah", "mensah"),
    ("Nowak", "nowak"),
    ("Popescu", "popescu"),
    ("Schröder", "schroder"),
    ("Tanaka", "tanaka"),
    ("van der Berg", "vanderberg"),
    ("Walsh", "walsh"),
    ("Þórsson", "thorsson"),
    ("Núñez", "nunez"),
    ("Adeyemi", "adeyemi"),
];

/// Names written family-name first without a space, `(display, e-mail local part)`.
const FULL_NAMES: &[(&str, &str)] = &[
    ("韩梅梅", "han.meimei"),
    ("王芳", "wang.fang"),
    ("张伟", "zhang.wei"),
    ("佐藤花子", "sato.hanako"),
    ("김민준", "kim.minjun"),
];

/// The first authors, so non-ASCII names show on the first screen.
const FEATURED_AUTHORS: &[(&str, &str)] = &[
    ("José García", "jose.garcia"),
    ("Zoë Clarke", "zoe.clarke"),
    ("李雷", "li.lei"),
    ("Øyvind Hansen", "oyvind.hansen"),
];

const EMAIL_DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "example.net",
    "mail.example.com",
    "dev.example.org",
];

const ROLES: &[&str] = &[
    "Staff engineer",
    "SRE",
    "Backend developer",
    "Database administrator",
    "Platform engineer",
    "Engineering manager",
    "Security engineer",
    "Freelance consultant",
    "Data engineer",
    "Developer advocate",
    "CTO",
];

const ORGS: &[&str] = &[
    "a logistics startup",
    "a mid-sized bank",
    "a public broadcaster",
    "a university hospital",
    "an ad-tech company",
    "a two-person consultancy",
    "a game studio",
    "a payments company",
    "an open-source foundation",
    "a satellite-imagery company",
];

const CITIES: &[&str] = &[
    "São Paulo",
    "Kraków",
    "Reykjavík",
    "Zürich",
    "Tromsø",
    "Montréal",
    "München",
    "Lagos",
    "Osaka",
    "Dublin",
    "Melbourne",
    "Toronto",
];

const BIO_EXTRAS: &[&str] = &[
    "Writes about {topic}.",
    "Mostly here for the {topic} posts.",
    "Previously ran {tech} for a living.",
    "Has opinions about {topic}.",
    "Will talk about {tech} for as long as you let them.",
    "Believes every outage is a gift, eventually.",
    "Maintains a few small open-source tools.",
    "Recovering perfectionist.",
];

const TAGS: &[&str] = &[
    "Rust",
    "PostgreSQL",
    "SQLite",
    "Kubernetes",
    "Observability",
    "Security",
    "Performance",
    "Databases",
    "DevOps",
    "Testing",
    "Career",
    "Frontend",
    "Go",
    "Python",
    "Distributed Systems",
    "Networking",
    "Linux",
    "Terminal",
    "SSH",
    "Incident Review",
    "Architecture",
    "API Design",
    "Machine Learning",
    "Open Source",
    "Tooling",
    "Cloud",
    "Cost",
    "Privacy",
    "Accessibility",
    "Documentation",
    "Hiring",
    "Product",
    "Data Engineering",
    "Caching",
    "Concurrency",
    "Compilers",
    "WebAssembly",
    "Embedded",
    "Retrospective",
    "Tutorial",
];

const TECHS: &[&str] = &[
    "Postgres",
    "SQLite",
    "Kafka",
    "Redis",
    "Kubernetes",
    "Terraform",
    "Envoy",
    "gRPC",
    "GraphQL",
    "ClickHouse",
    "Elasticsearch",
    "RabbitMQ",
    "Nix",
    "Docker",
    "Prometheus",
    "Grafana",
    "S3",
    "MySQL",
    "Consul",
    "Vault",
    "WireGuard",
    "OpenTelemetry",
    "HAProxy",
    "Cassandra",
];

const LANGS: &[&str] = &[
    "Rust",
    "Go",
    "Python",
    "Bash",
    "SQL",
    "TypeScript",
    "Elixir",
];

const TOPICS: &[&str] = &[
    "zero-downtime deploys",
    "connection pooling",
    "schema migrations",
    "feature flags",
    "incident response",
    "capacity planning",
    "structured logging",
    "rate limiting",
    "backpressure",
    "database indexing",
    "cache invalidation",
    "blue-green deployments",
    "chaos engineering",
    "load testing",
    "SLOs",
    "secret rotation",
    "multi-region failover",
    "query planning",
    "data retention",
    "on-call",
    "code review",
    "dependency upgrades",
    "observability",
    "terminal UIs",
];

const THINGS: &[&str] = &[
    "job queue",
    "deploy pipeline",
    "search index",
    "rate limiter",
    "CLI",
    "cron job",
    "health check",
    "connection pool",
    "build cache",
    "log shipper",
    "billing service",
    "admin console",
    "webhook dispatcher",
    "migration script",
    "load balancer",
];

const THINGS_PLURAL: &[&str] = &[
    "queues",
    "secrets",
    "blobs",
    "feature flags",
    "cron jobs",
    "JSON columns",
    "retries",
    "sessions",
    "counters",
    "UUIDs",
];

const ADJECTIVES: &[&str] = &[
    "flaky",
    "slow",
    "haunted",
    "memory-hungry",
    "silent",
    "intermittent",
    "self-inflicted",
    "very expensive",
];

const DAYS: &[&str] = &[
    "Monday",
    "Black Friday",
    "New Year's Eve",
    "Tuesday",
    "leap-day",
    "Friday-afternoon",
];

const HARDWARE: &[&str] = &[
    "a Raspberry Pi",
    "ARM laptops",
    "spot instances",
    "a single VM",
    "bare metal",
    "NVMe drives",
];

const TITLES: &[&str] = &[
    "How we cut {tech} failover to {secs} seconds",
    "Why we moved from {tech} to {tech2}",
    "{n} things I learned running {tech} in production",
    "A gentle introduction to {topic}",
    "Debugging a {adj} {thing} in {tech}",
    "The hidden cost of {topic}",
    "What {years} years of {topic} taught us",
    "Postmortem: the {day} {tech} outage",
    "Benchmarking {tech} against {tech2} on {hw}",
    "Making our {tech} builds {x}x faster",
    "{topic}, without the hype",
    "Notes from migrating {n} services to {tech}",
    "Scaling {tech} to {k}k requests per second",
    "A field guide to {topic}",
    "Inside our {tech} on-call rotation",
    "When {tech} is the wrong answer",
    "Reading the {tech} source so you don't have to",
    "We replaced a {thing} with {n} lines of {lang}",
    "Our {tech} bill dropped {pct}% and nobody noticed",
    "{tech} at {k}k writes per second: a retrospective",
    "Please stop putting {things} in {tech}",
    "The boring {topic} checklist we actually use",
    "Why our {thing} was slow, and what fixed it",
    "Lessons from a year of {topic} at a small company",
    "I rewrote our {thing} in {lang}. Here's what happened",
    "{topic} with {tech}: what the docs don't tell you",
    "Running {tech} on {hw}: {n} months in",
    "From {tech} to {tech2} in {n} weeks",
    "How {lang} changed the way we think about {topic}",
    "The {adj} {thing}: a story about {topic}",
    "Is {tech} still worth it in {year}?",
    "Our {tech} upgrade checklist, {year} edition",
    "{n} {tech} settings we wish we had changed sooner",
];

const OPENERS: &[&str] = &[
    "",
    "",
    "",
    "",
    "In practice, ",
    "At first, ",
    "Looking back, ",
    "To our surprise, ",
    "Honestly, ",
    "For a while, ",
    "By the third week, ",
    "Predictably, ",
    "In hindsight, ",
    "On paper, ",
    "Once we had metrics, ",
];

const SUBJECTS: &[&str] = &[
    "the team",
    "our on-call engineer",
    "the migration",
    "the query planner",
    "{tech}",
    "every deploy",
    "the old cron job",
    "the staging cluster",
    "nobody on the team",
    "the {thing}",
    "our first prototype",
    "the rollback plan",
    "the dashboard",
    "a single misconfigured flag",
    "the customer-facing API",
    "the new {thing}",
    "our approach to {topic}",
];

const PREDICATES: &[&str] = &[
    "turned out to be the real bottleneck",
    "held up far better than anyone expected",
    "needed a second, slower look",
    "quietly doubled our p99 latency",
    "was much easier to reason about",
    "kept paging us at three in the morning",
    "made the graphs look healthier than they were",
    "saved us roughly a day a week",
    "broke in a way nobody had written a test for",
    "was doing twice the work it needed to",
    "became the first thing new hires asked about",
    "failed loudly, which was exactly what we wanted",
    "hid a retry storm behind a friendly error message",
    "got simpler every time we deleted code from it",
    "depended on a clock nobody had synchronised",
    "ran fine until the first real traffic spike",
    "was the cheapest part of the whole system",
    "needed a proper runbook more than a rewrite",
    "taught us more about {topic} than any book",
    "looked fine in staging and nowhere else",
];

const TAILS: &[&str] = &[
    ".",
    ".",
    ".",
    ".",
    " under load.",
    " once we added the right index.",
    " after the third retry.",
    " in the end.",
    " on a Friday afternoon, of course.",
    " for about six months.",
    " without anyone noticing.",
    ", at least according to the metrics.",
    " during the holiday freeze.",
    " with {tech} in the mix.",
];

const STANDALONE: &[&str] = &[
    "We wrote everything down in a runbook and rehearsed it twice.",
    "The fix was four lines; finding it took two weeks.",
    "None of this required new hardware.",
    "We now run the same check in CI on every pull request.",
    "If you only take one thing from this post, measure before you tune.",
    "The graphs below tell the story better than I can.",
    "Yes, we tried turning it off and on again.",
    "We kept the old path behind a feature flag for a month, just in case.",
    "It is worth saying that {tech} was not the problem here.",
    "Most of the improvement came from deleting things.",
    "The short version: {topic} is a people problem first.",
    "Our SLO dashboard finally stopped lying to us.",
    "We set a budget of {secs} seconds and worked backwards from it.",
];

const COMMENT_SENTENCES: &[&str] = &[
    "Great write-up!",
    "We hit exactly this last year.",
    "Did you try tuning {tech} before going down this path?",
    "Thanks, the part about {topic} saved me a day.",
    "I disagree with the conclusion, but the numbers are interesting.",
    "Any chance you could share the benchmark scripts?",
    "+1, bookmarking this.",
    "This aged well.",
    "How did you handle rollbacks?",
    "Small typo in the second paragraph: \"recieve\".",
    "We run {tech} at a much smaller scale and saw the same thing.",
    "Would love a follow-up on {topic}.",
    "Sharing this with my team.",
    "The diagram in the middle finally made it click for me.",
    "Have you measured the impact on p99, not just the average?",
    "Counterpoint: we tried this and went back to {tech2}.",
    "Honest postmortems like this are rare. Thank you.",
    "What did the on-call load look like afterwards?",
    "Is the {thing} code open source?",
    "Ten out of ten, would get paged again.",
    "This is the kind of post I wish I had read two years ago.",
    "How big is the team that maintains this?",
];

const HANDLES: &[&str] = &[
    "sre_dave",
    "kernelpanic",
    "null_pointer",
    "yaml_engineer",
    "pagerduty_survivor",
    "db_whisperer",
    "curl_pipe_bash",
    "oncall_owl",
    "segfault",
    "tabs_not_spaces",
    "rubber_duck",
    "latency_hunter",
];

// ---------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
struct Author {
    name: String,
    email: String,
    bio: Option<String>,
    is_active: bool,
    joined_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Draft,
    Published,
    Archived,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Published => "published",
            Status::Archived => "archived",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Post {
    author_id: i64,
    title: String,
    slug: String,
    body: String,
    status: Status,
    published_at: Option<i64>,
    view_count: i64,
    rating: Option<f64>,
    created_at: i64,
    /// What the post is about, reused by its comments.
    words: Words,
}

#[derive(Debug, Clone, PartialEq)]
struct Comment {
    post_id: i64,
    author_name: String,
    body: String,
    is_approved: bool,
    created_at: i64,
}

/// Everything [`load`] inserts, in insertion order; ids are positions + 1.
#[derive(Debug, Clone, PartialEq)]
struct DemoData {
    authors: Vec<Author>,
    tags: Vec<(&'static str, String)>,
    posts: Vec<Post>,
    /// `(post_id, tag_id)`, sorted.
    post_tags: Vec<(i64, i64)>,
    comments: Vec<Comment>,
}

/// Generate the whole data set from `seed`.
fn generate(seed: u64) -> DemoData {
    let mut rng = StdRng::seed_from_u64(seed);
    let authors = gen_authors(&mut rng);
    let tags = TAGS.iter().map(|&name| (name, slugify(name))).collect();
    let posts = gen_posts(&mut rng, &authors);
    let post_tags = gen_post_tags(&mut rng);
    let comments = gen_comments(&mut rng, &posts);
    DemoData {
        authors,
        tags,
        posts,
        post_tags,
        comments,
    }
}

/// Pick one element; the lists are all non-empty constants.
fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items.choose(rng).copied().unwrap_or_default()
}

/// Pick one number.
fn pick_num(rng: &mut StdRng, items: &[u32]) -> u32 {
    items.choose(rng).copied().unwrap_or(1)
}

/// A uniformly random timestamp in `lo..hi` (`lo` if the range is empty).
fn between(rng: &mut StdRng, lo: i64, hi: i64) -> i64 {
    if hi > lo {
        rng.gen_range(lo..hi)
    } else {
        lo
    }
}

/// Random choice by weight, optionally among a prefix of the items.
struct Weighted {
    cumulative: Vec<f64>,
}

impl Weighted {
    fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut total = 0.0;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                total += w.max(0.0);
                total
            })
            .collect();
        Self { cumulative }
    }

    /// An index in `0..n` (clamped to the number of items), chosen by weight.
    fn pick_prefix(&self, rng: &mut StdRng, n: usize) -> usize {
        let n = n.min(self.cumulative.len());
        let Some(&total) = n.checked_sub(1).and_then(|last| self.cumulative.get(last)) else {
            return 0;
        };
        let r = rng.gen::<f64>() * total;
        self.cumulative
            .get(..n)
            .unwrap_or_default()
            .partition_point(|&c| c <= r)
            .min(n - 1)
    }

    fn pick(&self, rng: &mut StdRng) -> usize {
        self.pick_prefix(rng, self.cumulative.len())
    }
}

/// The subject matter of one post: fills the `{…}` placeholders of templates.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Words {
    tech: &'static str,
    tech2: &'static str,
    topic: &'static str,
    thing: &'static str,
}

impl Words {
    fn random(rng: &mut StdRng) -> Self {
        let tech = pick(rng, TECHS);
        let mut tech2 = pick(rng, TECHS);
        for _ in 0..8 {
            if tech2 != tech {
                break;
            }
            tech2 = pick(rng, TECHS);
        }
        Self {
            tech,
            tech2,
            topic: pick(rng, TOPICS),
            thing: pick(rng, THINGS),
        }
    }

    /// Replace every `{key}` in `template`; unknown keys are kept verbatim.
    fn fill(&self, rng: &mut StdRng, template: &str) -> String {
        let mut out = String::with_capacity(template.len() + 32);
        let mut rest = template;
        while let Some((before, after)) = rest.split_once('{') {
            out.push_str(before);
            let Some((key, after)) = after.split_once('}') else {
                out.push('{');
                out.push_str(after);
                return out;
            };
            match key {
                "tech" => out.push_str(self.tech),
                "tech2" => out.push_str(self.tech2),
                "topic" => out.push_str(self.topic),
                "thing" => out.push_str(self.thing),
                "things" => out.push_str(pick(rng, THINGS_PLURAL)),
                "lang" => out.push_str(pick(rng, LANGS)),
                "adj" => out.push_str(pick(rng, ADJECTIVES)),
                "day" => out.push_str(pick(rng, DAYS)),
                "hw" => out.push_str(pick(rng, HARDWARE)),
                "n" => push_num(&mut out, pick_num(rng, &[3, 5, 7, 10, 12, 15, 20, 40])),
                "secs" => push_num(&mut out, pick_num(rng, &[2, 3, 4, 5, 8, 11, 30])),
                "x" => push_num(&mut out, pick_num(rng, &[2, 3, 4, 5, 10, 40])),
                "years" => push_num(&mut out, pick_num(rng, &[2, 3, 5, 7, 10])),
                "k" => push_num(&mut out, pick_num(rng, &[5, 10, 20, 50, 120, 300])),
                "year" => push_num(&mut out, pick_num(rng, &[2023, 2024, 2025, 2026])),
                "pct" => push_num(&mut out, pick_num(rng, &[18, 23, 30, 41, 60, 72])),
                _ => {
                    out.push('{');
                    out.push_str(key);
                    out.push('}');
                }
            }
            rest = after;
        }
        out.push_str(rest);
        out
    }
}

fn push_num(out: &mut String, n: u32) {
    out.push_str(&n.to_string());
}

/// Upper-case the first character.
fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Lower-case ASCII letters and digits, everything else collapsed into `-`.
fn slugify(s: &str) -> String {
    let mut slug = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    slug
}

/// Return `base` or, if taken, `base-2`, `base-3`, …; records the result.
fn unique(taken: &mut HashSet<String>, base: &str, sep: &str, suffix: &str) -> String {
    let mut candidate = format!("{base}{suffix}");
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = format!("{base}{sep}{n}{suffix}");
        n += 1;
    }
    taken.insert(candidate.clone());
    candidate
}

fn gen_authors(rng: &mut StdRng) -> Vec<Author> {
    // Joining dates first, sorted, so ids grow with joined_at; the first
    // author is the blog's founder, there from day one.
    let mut joined: Vec<i64> = (0..AUTHOR_COUNT)
        .map(|i| {
            if i == 0 {
                BASE + 9 * 3_600 + 17 * 60
            } else {
                between(rng, BASE + DAY, LAST_JOIN)
            }
        })
        .collect();
    joined.sort_unstable();

    let mut emails = HashSet::new();
    let mut authors = Vec::with_capacity(AUTHOR_COUNT);
    for (i, joined_at) in joined.into_iter().enumerate() {
        let (name, local) = match FEATURED_AUTHORS.get(i) {
            Some(&(name, local)) => (name.to_string(), local.to_string()),
            None => random_author_name(rng),
        };
        let domain = pick(rng, EMAIL_DOMAINS);
        let email = unique(&mut emails, &local, "", &format!("@{domain}"));
        let bio = if i == 4 {
            // Hostile: a right-to-left override makes "notes_txt.exe" render
            // as "notes_exe.txt" in a terminal that honours it.
            Some(
                "Security engineer. Ships release notes as notes_\u{202e}txt.exe — ask me why."
                    .to_string(),
            )
        } else if rng.gen_bool(0.3) {
            None
        } else {
            Some(random_bio(rng))
        };
        let is_active = i < 8 || rng.gen_bool(0.88);
        authors.push(Author {
            name,
            email,
            bio,
            is_active,
            joined_at,
        });
    }
    authors
}

/// `(display name, e-mail local part)`.
fn random_author_name(rng: &mut StdRng) -> (String, String) {
    if rng.gen_bool(0.05) {
        if let Some(&(name, local)) = FULL_NAMES.choose(rng) {
            return (name.to_string(), local.to_string());
        }
    }
    let (first, first_ascii) = FIRST_NAMES.choose(rng).copied().unwrap_or(("Alex", "alex"));
    let (last, last_ascii) = LAST_NAMES.choose(rng).copied().unwrap_or(("Doe", "doe"));
    let local = match rng.gen_range(0..4) {
        0 => format!("{first_ascii}.{last_ascii}"),
        1 => {
            let initial: String = first_ascii.chars().take(1).collect();
            format!("{initial}{last_ascii}")
        }
        2 => format!("{first_ascii}_{last_ascii}"),
        _ => format!("{first_ascii}{}", rng.gen_range(10..100)),
    };
    (format!("{first} {last}"), local)
}

fn random_bio(rng: &mut StdRng) -> String {
    let words = Words::random(rng);
    let mut bio = format!("{} at {}.", pick(rng, ROLES), pick(rng, ORGS));
    if rng.gen_bool(0.7) {
        bio.push(' ');
        let extra = pick(rng, BIO_EXTRAS);
        bio.push_str(&words.fill(rng, extra));
    }
    if rng.gen_bool(0.4) {
        bio.push_str(" Based in ");
        bio.push_str(pick(rng, CITIES));
        bio.push('.');
    }
    bio
}

fn gen_posts(rng: &mut StdRng, authors: &[Author]) -> Vec<Post> {
    let mut created: Vec<i64> = (0..POST_COUNT)
        .map(|_| between(rng, BASE + 3 * DAY, END - 3_600))
        .collect();
    created.sort_unstable();

    // A few prolific authors, a long tail of occasional ones.
    let weights = Weighted::new(authors.iter().map(|_| 1.0 / rng.gen_range(0.04..1.0)));
    let joined: Vec<i64> = authors.iter().map(|a| a.joined_at).collect();

    let mut slugs = HashSet::new();
    let mut titles = HashSet::new();
    let mut posts = Vec::with_capacity(POST_COUNT);
    for (i, created_at) in created.into_iter().enumerate() {
        let eligible = joined.partition_point(|&j| j <= created_at).max(1);
        let author_id = weights.pick_prefix(rng, eligible) as i64 + 1;

        let (words, title) = if i == 2 {
            // Hostile: a zero-width space between "Zero" and "-width".
            let title = "Zero\u{200b}-width spaces broke our slug generator".to_string();
            (Words::random(rng), title)
        } else {
            gen_title(rng, &titles)
        };
        titles.insert(title.clone());
        let slug = unique(&mut slugs, &slugify(&title), "-", "");
        let body = gen_body(rng, &words);

        let recent = END - created_at < 45 * DAY;
        let old = created_at < BASE + (END - BASE) / 2;
        let status = match rng.gen_range(0..100) {
            r if recent && r < 45 => Status::Draft,
            r if !recent && r < 8 => Status::Draft,
            r if old && r >= 80 => Status::Archived,
            r if !recent && r >= 95 => Status::Archived,
            _ => Status::Published,
        };
        let published_at = match status {
            Status::Draft => None,
            _ => {
                let room = (END - created_at).min(10 * DAY);
                Some(created_at + between(rng, 10 * 60, room))
            }
        };
        let view_count = match status {
            Status::Draft => 0,
            _ => 10f64.powf(rng.gen_range(1.0..4.8)).round() as i64,
        };
        let rating = match status {
            Status::Draft => None,
            _ if rng.gen_bool(0.25) => None,
            _ => {
                let u: f64 = rng.gen();
                Some(((1.0 + 4.0 * (1.0 - u * u)) * 10.0).round() / 10.0)
            }
        };
        posts.push(Post {
            author_id,
            title,
            slug,
            body,
            status,
            published_at,
            view_count,
            rating,
            created_at,
            words,
        });
    }
    posts
}

/// A post's subject and title; a few tries at a title not used yet (a
/// repeat is still possible, and then gets a `-2` slug).
fn gen_title(rng: &mut StdRng, used: &HashSet<String>) -> (Words, String) {
    let mut attempt = 0;
    loop {
        let words = Words::random(rng);
        let template = pick(rng, TITLES);
        let title = capitalize(&words.fill(rng, template));
        attempt += 1;
        if attempt >= 12 || !used.contains(&title) {
            return (words, title);
        }
    }
}

/// Between 300 and 2,000 characters in at least two paragraphs separated by
/// blank lines.
fn gen_body(rng: &mut StdRng, words: &Words) -> String {
    const MIN: usize = 300;
    const MAX: usize = 2_000;
    let target = rng.gen_range(MIN..=MAX - 200);
    let mut body = String::with_capacity(target + 200);
    let mut paragraphs = 1;
    let mut in_paragraph = 0;
    let mut paragraph_len = rng.gen_range(2..=5);
    loop {
        let sentence = gen_sentence(rng, words);
        let sep = usize::from(in_paragraph > 0);
        let len = body.chars().count();
        if len + sep + sentence.chars().count() > MAX {
            break;
        }
        if in_paragraph > 0 {
            body.push(' ');
        }
        body.push_str(&sentence);
        in_paragraph += 1;
        let len = body.chars().count();
        let done = len >= target && paragraphs >= 2;
        if done && in_paragraph >= 2 {
            break;
        }
        if in_paragraph >= paragraph_len && !done && len + 2 < MAX {
            body.push_str("\n\n");
            paragraphs += 1;
            in_paragraph = 0;
            paragraph_len = rng.gen_range(2..=5);
        }
    }
    let trimmed = body.trim_end().len();
    body.truncate(trimmed);
    body
}

fn gen_sentence(rng: &mut StdRng, words: &Words) -> String {
    if rng.gen_bool(0.15) {
        let template = pick(rng, STANDALONE);
        return words.fill(rng, template);
    }
    let opener = pick(rng, OPENERS);
    let subject = pick(rng, SUBJECTS);
    let predicate = pick(rng, PREDICATES);
    let tail = pick(rng, TAILS);
    let raw = format!("{opener}{subject} {predicate}{tail}");
    let filled = words.fill(rng, &raw);
    // Product names keep their own spelling at the start of a sentence.
    if opener.is_empty() && subject == "{tech}" {
        filled
    } else {
        capitalize(&filled)
    }
}

fn gen_post_tags(rng: &mut StdRng) -> Vec<(i64, i64)> {
    // Popular tags first: weight falls off with the tag's position.
    let weights = Weighted::new((0..TAG_COUNT).map(|i| 1.0 / (i as f64 + 2.0).powf(0.6)));
    let mut pairs = BTreeSet::new();
    let mut attempts = 0;
    while pairs.len() < POST_TAG_COUNT && attempts < 100 * POST_TAG_COUNT {
        attempts += 1;
        let post_id = rng.gen_range(1..=POST_COUNT as i64);
        let tag_id = weights.pick(rng) as i64 + 1;
        pairs.insert((post_id, tag_id));
    }
    pairs.into_iter().collect()
}

fn gen_comments(rng: &mut StdRng, posts: &[Post]) -> Vec<Comment> {
    // Only visible posts get comments, and popular ones get more.
    let visible: Vec<(i64, i64, &Post)> = (1_i64..)
        .zip(posts)
        .filter_map(|(id, p)| p.published_at.map(|at| (id, at, p)))
        .collect();
    let weights = Weighted::new(visible.iter().map(|&(_, _, p)| 30.0 + p.view_count as f64));
    let mut comments = Vec::with_capacity(COMMENT_COUNT);
    if visible.is_empty() {
        return comments;
    }
    for _ in 0..COMMENT_COUNT {
        let Some(&(post_id, published_at, post)) = visible.get(weights.pick(rng)) else {
            continue;
        };
        let words = post.words;
        // Most comments arrive in the first days after publication.
        let room = END - published_at;
        let mut offset = 60 + (rng.gen::<f64>().powi(3) * (90 * DAY) as f64) as i64;
        if offset > room {
            offset = between(rng, 0, room + 1);
        }
        let sentences = rng.gen_range(1..=3);
        let body = (0..sentences)
            .map(|_| {
                let template = pick(rng, COMMENT_SENTENCES);
                words.fill(rng, template)
            })
            .collect::<Vec<_>>()
            .join(" ");
        comments.push(Comment {
            post_id,
            author_name: random_commenter(rng),
            body,
            is_approved: rng.gen_bool(0.85),
            created_at: published_at + offset,
        });
    }
    // Ids grow with time, as in a real table.
    comments.sort_by_key(|c| c.created_at);

    // Hostile: escape sequences that clear the screen and set the title.
    if let Some(c) = comments.get_mut(1) {
        c.author_name = "mallory".to_string();
        c.body = "Nice post! \x1b[2J\x1b[31mgotcha".to_string();
    }
    if let Some(c) = comments.get_mut(3) {
        c.author_name = "mallory".to_string();
        c.body = "Bookmarked.\x1b]0;pwned\x07 Check your window title.".to_string();
    }
    comments
}

fn random_commenter(rng: &mut StdRng) -> String {
    let (first, _) = FIRST_NAMES.choose(rng).copied().unwrap_or(("Alex", "alex"));
    let (last, _) = LAST_NAMES.choose(rng).copied().unwrap_or(("Doe", "doe"));
    match rng.gen_range(0..10) {
        0..=3 => {
            let initial: String = last.chars().next().into_iter().collect();
            format!("{first} {initial}.")
        }
        4..=6 => {
            let handle = pick(rng, HANDLES);
            if rng.gen_bool(0.5) {
                format!("{handle}{}", rng.gen_range(1..100))
            } else {
                handle.to_string()
            }
        }
        7 => "Anonymous".to_string(),
        8 => FULL_NAMES
            .choose(rng)
            .map_or_else(|| first.to_string(), |&(name, _)| name.to_string()),
        _ => format!("{first} {last}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::SqlitePoolOptions;
    use sqlx::Row;

    async fn pool() -> SqlitePool {
        SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .expect("in-memory pool")
    }

    async fn count(pool: &SqlitePool, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
    }

    async fn table_counts(pool: &SqlitePool) -> Vec<i64> {
        let mut counts = Vec::new();
        for table in ["authors", "tags", "posts", "comments", "post_tags"] {
            counts.push(count(pool, &format!("SELECT COUNT(*) FROM {table}")).await);
        }
        counts
    }

    #[tokio::test]
    async fn load_creates_tables_with_expected_counts() {
        let pool = pool().await;
        let outcome = load(&pool).await.expect("load");
        assert_eq!(outcome, DemoOutcome::Created { rows: 10_240 });
        assert_eq!(TOTAL_ROWS, 10_240);
        assert_eq!(
            table_counts(&pool).await,
            vec![200, 40, 2_000, 6_000, 2_000]
        );

        let indexes: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx_%' ORDER BY name",
        )
        .fetch_all(&pool)
        .await
        .expect("indexes");
        assert_eq!(
            indexes,
            [
                "idx_comments_post_id",
                "idx_posts_author_id",
                "idx_posts_created_at",
                "idx_posts_status"
            ]
        );
    }

    #[tokio::test]
    async fn second_load_is_a_no_op() {
        let pool = pool().await;
        load(&pool).await.expect("first load");
        let before = table_counts(&pool).await;
        let changes_before = count(&pool, "SELECT total_changes()").await;
        assert_eq!(
            load(&pool).await.expect("second load"),
            DemoOutcome::AlreadyPresent
        );
        assert_eq!(count(&pool, "SELECT total_changes()").await, changes_before);
        assert_eq!(table_counts(&pool).await, before);
    }

    #[tokio::test]
    async fn failed_load_leaves_nothing_behind() {
        let pool = pool().await;
        sqlx::query("CREATE TABLE posts (id INTEGER PRIMARY KEY)")
            .execute(&pool)
            .await
            .expect("create clashing table");
        assert!(load(&pool).await.is_err());
        assert_eq!(
            count(
                &pool,
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'"
            )
            .await,
            1
        );
    }

    #[tokio::test]
    async fn foreign_keys_are_consistent() {
        let pool = pool().await;
        load(&pool).await.expect("load");
        assert_eq!(count(&pool, "PRAGMA foreign_keys").await, 1);
        let violations = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(&pool)
            .await
            .expect("foreign_key_check");
        assert!(violations.is_empty(), "{} violations", violations.len());
    }

    #[tokio::test]
    async fn drafts_have_no_publication_date() {
        let pool = pool().await;
        load(&pool).await.expect("load");
        let drafts = count(&pool, "SELECT COUNT(*) FROM posts WHERE status = 'draft'").await;
        assert!(drafts > 50, "only {drafts} drafts");
        assert_eq!(
            count(
                &pool,
                "SELECT COUNT(*) FROM posts WHERE status = 'draft' AND published_at IS NOT NULL"
            )
            .await,
            0
        );
        assert_eq!(
            count(
                &pool,
                "SELECT COUNT(*) FROM posts WHERE status <> 'draft' AND published_at IS NULL"
            )
            .await,
            0
        );
        for status in ["published", "archived"] {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM posts WHERE status = ?")
                .bind(status)
                .fetch_one(&pool)
                .await
                .expect("status count");
            assert!(n > 50, "only {n} {status} posts");
        }
    }

    #[tokio::test]
    async fn hostile_rows_exist() {
        let pool = pool().await;
        load(&pool).await.expect("load");
        let find = |sql: &'static str, needle: &'static str| {
            let pool = pool.clone();
            async move {
                sqlx::query_scalar::<_, i64>(sql)
                    .bind(needle)
                    .fetch_all(&pool)
                    .await
                    .expect(sql)
            }
        };
        assert_eq!(
            find(
                "SELECT id FROM comments WHERE instr(body, ?) > 0",
                "\x1b[2J\x1b[31mgotcha"
            )
            .await,
            [2]
        );
        assert_eq!(
            find(
                "SELECT id FROM comments WHERE instr(body, ?) > 0",
                "\x1b]0;pwned\x07"
            )
            .await,
            [4]
        );
        assert_eq!(
            find("SELECT id FROM authors WHERE instr(bio, ?) > 0", "\u{202e}").await,
            [5]
        );
        assert_eq!(
            find("SELECT id FROM posts WHERE instr(title, ?) > 0", "\u{200b}").await,
            [3]
        );
        // No other row carries control characters by accident.
        assert_eq!(
            count(
                &pool,
                "SELECT COUNT(*) FROM comments WHERE instr(body, char(27)) > 0"
            )
            .await,
            2
        );
    }

    #[tokio::test]
    async fn values_are_well_formed() {
        let pool = pool().await;
        load(&pool).await.expect("load");
        // Timestamps: TEXT, right shape, inside 2023-01-01 .. 2026-03-31.
        for (table, column) in [
            ("authors", "joined_at"),
            ("posts", "created_at"),
            ("posts", "published_at"),
            ("comments", "created_at"),
        ] {
            let bad = count(
                &pool,
                &format!(
                    "SELECT COUNT(*) FROM {table} WHERE {column} IS NOT NULL AND (
                        typeof({column}) <> 'text'
                        OR {column} NOT GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]'
                        OR {column} < '2023-01-01 00:00:00' OR {column} > '2026-03-31 23:59:59'
                        OR datetime({column}) IS NOT {column})"
                ),
            )
            .await;
            assert_eq!(bad, 0, "{table}.{column}");
        }
        // Time flows forward.
        assert_eq!(
            count(
                &pool,
                "SELECT COUNT(*) FROM posts p JOIN authors a ON a.id = p.author_id
                 WHERE p.created_at < a.joined_at OR p.published_at < p.created_at"
            )
            .await,
            0
        );
        assert_eq!(
            count(
                &pool,
                "SELECT COUNT(*) FROM comments c JOIN posts p ON p.id = c.post_id
                 WHERE p.published_at IS NULL OR c.created_at < p.published_at"
            )
            .await,
            0
        );
        // Bodies: 300..=2000 characters, several paragraphs.
        assert_eq!(
            count(
                &pool,
                "SELECT COUNT(*) FROM posts WHERE length(body) NOT BETWEEN 300 AND 2000
                 OR instr(body, char(10, 10)) = 0"
            )
            .await,
            0
        );
        // Roughly 30% of bios are NULL.
        let null_bios = count(&pool, "SELECT COUNT(*) FROM authors WHERE bio IS NULL").await;
        assert!((40..=80).contains(&null_bios), "{null_bios} NULL bios");
        // Booleans are 0/1 integers, ratings are NULL or 1.0..=5.0 reals.
        assert_eq!(
            count(
                &pool,
                "SELECT COUNT(*) FROM authors WHERE typeof(is_active) <> 'integer' OR is_active NOT IN (0, 1)"
            )
            .await,
            0
        );
        assert_eq!(
            count(
                &pool,
                "SELECT COUNT(*) FROM posts WHERE rating IS NOT NULL
                 AND (typeof(rating) <> 'real' OR rating NOT BETWEEN 1.0 AND 5.0)"
            )
            .await,
            0
        );
        // Non-ASCII names are there, on the first screen.
        let first: Vec<String> = sqlx::query("SELECT name FROM authors ORDER BY id LIMIT 4")
            .fetch_all(&pool)
            .await
            .expect("names")
            .iter()
            .map(|r| r.get::<String, _>(0))
            .collect();
        assert_eq!(
            first,
            ["José García", "Zoë Clarke", "李雷", "Øyvind Hansen"]
        );
    }

    #[test]
    fn generation_is_deterministic() {
        assert_eq!(generate(SEED), generate(SEED));
        assert_ne!(generate(SEED).posts, generate(SEED + 1).posts);
    }

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(format_ts(0), "1970-01-01 00:00:00");
        assert_eq!(format_ts(BASE), "2023-01-01 00:00:00");
        assert_eq!(format_ts(1_709_164_800), "2024-02-29 00:00:00");
        assert_eq!(format_ts(END), "2026-03-31 23:59:59");
        assert_eq!(format_ts(-1), "1969-12-31 23:59:59");
        for days in -800_000..800_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("API Design"), "api-design");
        assert_eq!(
            slugify("Zero\u{200b}-width spaces broke our slug generator"),
            "zero-width-spaces-broke-our-slug-generator"
        );
        assert_eq!(slugify("  --Héllo, World!-- "), "h-llo-world");
    }
}
