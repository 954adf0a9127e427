//! The demo data set that `moat serve --demo` loads.
//!
//! [`load`] creates a small but realistic blog schema (`authors`, `tags`,
//! `posts`, `comments`, `post_tags`) in the target database and fills it with about
//! 10,000 rows of generated data. It declares the column types a real application would
//! use (`BOOLEAN`, `TIMESTAMP`, `REAL`, nullable columns, `CHECK` constraints, foreign
//! keys with `ON DELETE CASCADE`, a few indexes), so every part of the console has
//! something to show. This module generates the rows; the SQL that creates the tables in
//! each database's own types and inserts the rows is the store's
//! ([`Store::load_demo`]).
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
//! Everything happens in one write transaction: either the whole data set is there
//! afterwards or nothing changed.

#[cfg(test)]
mod tests;
mod words;

use std::collections::{BTreeSet, HashSet};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

pub use crate::store::DemoOutcome;
use crate::store::{DemoAuthor, DemoComment, DemoPost, DemoRows, Store, StoreError};
use words::*;

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

/// Create and fill the demo tables if absent (checked by looking for table `authors`);
/// idempotent. See [`Store::load_demo`].
pub async fn load(store: &Store) -> Result<DemoOutcome, StoreError> {
    store.load_demo(&generate(SEED).rows()).await
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

impl DemoData {
    /// The rows as the store inserts them (timestamps as text).
    fn rows(&self) -> DemoRows {
        DemoRows {
            authors: self
                .authors
                .iter()
                .map(|a| DemoAuthor {
                    name: a.name.clone(),
                    email: a.email.clone(),
                    bio: a.bio.clone(),
                    is_active: a.is_active,
                    joined_at: format_ts(a.joined_at),
                })
                .collect(),
            tags: self
                .tags
                .iter()
                .map(|(name, slug)| ((*name).to_string(), slug.clone()))
                .collect(),
            posts: self
                .posts
                .iter()
                .map(|p| DemoPost {
                    author_id: p.author_id,
                    title: p.title.clone(),
                    slug: p.slug.clone(),
                    body: p.body.clone(),
                    status: p.status.as_str(),
                    published_at: p.published_at.map(format_ts),
                    view_count: p.view_count,
                    rating: p.rating,
                    created_at: format_ts(p.created_at),
                })
                .collect(),
            post_tags: self.post_tags.clone(),
            comments: self
                .comments
                .iter()
                .map(|c| DemoComment {
                    post_id: c.post_id,
                    author_name: c.author_name.clone(),
                    body: c.body.clone(),
                    is_approved: c.is_approved,
                    created_at: format_ts(c.created_at),
                })
                .collect(),
        }
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
