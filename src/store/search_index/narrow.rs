//! PostgreSQL: which words of a search term the trigram index should look up.
//!
//! `pg_trgm` answers `ILIKE '%number 777777%'` by intersecting the posting lists of every
//! trigram of the term. When one word is in nearly every row (`number` in
//! `Title number 1…1,000,000`), its trigrams' lists are as long as the table, and reading
//! them costs more than the rest of the search (1,362 buffers, 16 ms for a one-row answer
//! on 1,000,000 rows). Any substring of the term is in every row the term is in, so the
//! index may look up the term's rare words alone and the term itself still decides, as a
//! condition on the rows they propose: the same rows, from short posting lists.
//!
//! A word is rare when it is in at most [`RARE_PER_MILLE`] of a small random sample of the
//! searched columns ([`SAMPLE_ROWS`] rows, read with `TABLESAMPLE SYSTEM`). The sample
//! only chooses the plan; it never decides a result.

/// Rows in the sample a search reads to tell rare words from common ones.
pub const SAMPLE_ROWS: u32 = 1_000;

/// Characters read of each sampled value (a long text column must not make the sample
/// large; a word past this point is counted as absent, which at worst keeps the plain plan
/// or picks a word that is a little less rare).
pub const SAMPLE_CHARS: u32 = 200;

/// A word in at most this many of every 1,000 sampled rows is rare.
const RARE_PER_MILLE: usize = 10;

/// The fewest characters a word needs to be looked up on its own (a trigram).
const MIN_WORD_CHARS: usize = 3;

/// Past this many words in a term, or searched columns, the term is looked up whole:
/// telling rare words from common ones costs words × columns × sampled rows.
pub const MAX_WORDS: usize = 8;
pub const MAX_COLUMNS: usize = 8;

/// The words of `term` the index should look up instead of the whole term, rarest
/// first, spelled as in the term (PostgreSQL folds their case as it folds the term's);
/// empty when the whole term is the better lookup: it has fewer than two words or more
/// than [`MAX_WORDS`], no word is rare, or no word is common (then the whole term's
/// trigrams are all rare, and it is the most selective lookup there is).
///
/// `sample` holds rows of the searched columns' text; a word is in a row when one of
/// them holds it, ignoring ASCII case.
pub fn rare_words(term: &str, sample: &[Vec<String>]) -> Vec<String> {
    let words = words(term);
    if words.len() < 2 || words.len() > MAX_WORDS || sample.is_empty() {
        return Vec::new();
    }
    let rows: Vec<Vec<String>> = sample
        .iter()
        .map(|r| r.iter().map(|v| v.to_ascii_lowercase()).collect())
        .collect();
    let mut counted: Vec<(usize, String)> = words
        .into_iter()
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let n = rows
                .iter()
                .filter(|r| r.iter().any(|v| v.contains(&lower)))
                .count();
            (n, w)
        })
        .collect();
    let rare = |n: usize| n * 1_000 <= RARE_PER_MILLE * rows.len();
    if counted.iter().all(|(n, _)| rare(*n)) {
        return Vec::new();
    }
    counted.sort_by_key(|(n, _)| *n);
    counted
        .into_iter()
        .filter(|(n, _)| rare(*n))
        .map(|(_, w)| w)
        .collect()
}

/// The words of `term` that could be looked up on their own: runs of ASCII letters and
/// digits of at least three characters, as the term spells them, each once (ignoring
/// ASCII case), in the term's order. A run with any other character is no word here:
/// whether a non-ASCII letter folds the same alone as within the term depends on the
/// database's collation (ICU folds a final sigma by context), so such a term is looked
/// up whole.
pub fn words(term: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for w in term.split(|c: char| !c.is_alphanumeric()) {
        let ascii = w.chars().all(|c| c.is_ascii_alphanumeric());
        if ascii && w.len() >= MIN_WORD_CHARS && !words.iter().any(|x| x.eq_ignore_ascii_case(w)) {
            words.push(w.to_string());
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` rows of one column, `Title number 1`, `Title number 2`, …
    fn titles(n: usize) -> Vec<Vec<String>> {
        (1..=n).map(|i| vec![format!("Title number {i}")]).collect()
    }

    #[test]
    fn a_rare_word_beside_a_common_one_is_looked_up_alone() {
        assert_eq!(rare_words("number 777777", &titles(1_000)), ["777777"]);
        // Case and punctuation do not matter; the order is rarest first.
        let mut sample = titles(1_000);
        sample[0][0] = "Title number 424242 zebra".into();
        sample[1][0] = "Title number 9 zebra".into();
        assert_eq!(
            rare_words("ZEBRA, Number: 424242!", &sample),
            ["424242", "ZEBRA"]
        );
    }

    #[test]
    fn the_whole_term_is_looked_up_when_splitting_cannot_help() {
        let sample = titles(1_000);
        // One word (or one long enough): the term's trigrams are the word's.
        assert!(rare_words("777777", &sample).is_empty());
        assert!(rare_words("number 12", &sample).is_empty());
        assert!(rare_words("a 777777 b", &sample).is_empty());
        // Every word common: no lookup is cheaper than the term's.
        assert!(rare_words("title number", &sample).is_empty());
        // Every word rare: the term's trigrams are all rare already.
        assert!(rare_words("zebra 777777", &sample).is_empty());
        // Nothing sampled (an empty table): no word can be told rare.
        assert!(rare_words("number 777777", &[]).is_empty());
    }

    #[test]
    fn rare_means_at_most_one_row_in_a_hundred_of_the_sample_in_any_column() {
        // In 10 of 1,000 rows: rare. In 11: not.
        let mut sample: Vec<Vec<String>> = (0..1_000)
            .map(|_| vec!["common words".into(), String::new()])
            .collect();
        for row in sample.iter_mut().take(10) {
            row[1] = "a seldom word".into();
        }
        assert_eq!(rare_words("common seldom", &sample), ["seldom"]);
        sample[10][1] = "seldom".into();
        assert!(rare_words("common seldom", &sample).is_empty());
    }

    #[test]
    fn words_are_ascii_runs_of_letters_and_digits_of_three_or_more_as_spelt() {
        assert_eq!(words("Foo-bar_baz qu ÉCOLE 42 foo"), ["Foo", "bar", "baz"]);
        assert!(words("%_\\ ab").is_empty());
        // Non-ASCII letters fold by the database's rules: never looked up alone.
        assert!(words("İSTANBUL ΟΔΟΣ ǅemal straße").is_empty());
    }

    #[test]
    fn too_many_words_are_looked_up_whole() {
        let sample = titles(1_000);
        let rare = |n: usize| {
            (0..n)
                .map(|i| format!("w{i}x"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert!(rare_words(&format!("number {}", rare(MAX_WORDS)), &sample).is_empty());
        let enough = rare_words(&format!("number {}", rare(MAX_WORDS - 1)), &sample);
        assert_eq!(enough.len(), MAX_WORDS - 1);
    }
}
