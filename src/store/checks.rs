//! Columns a CHECK constraint limits to a fixed list of text values, read from the SQL the
//! database reports: SQLite's `CREATE TABLE` text, PostgreSQL's `pg_get_constraintdef`
//! and MariaDB's `CHECK_CLAUSE`. The console offers those values as a pick list, as it
//! does an enum's labels, so `bogus` is refused when typed rather than on save.
//!
//! Only the plain shapes are understood — `col IN ('a', 'b')` and PostgreSQL's rendering
//! of it, `col = ANY (ARRAY['a'::text, 'b'::text])`, with casts and parentheses anywhere.
//! Anything else (`NOT IN`, `OR`, functions, numbers) is left to the database to check,
//! as before: a wrong guess would refuse a value the database accepts.

use crate::domain::ColumnInfo;

/// A token of SQL text, as far as this reader needs.
#[derive(Clone, Debug, PartialEq)]
enum Token {
    /// An unquoted word (an identifier or a keyword).
    Word(String),
    /// A quoted identifier (`"x"`, `` `x` ``).
    Quoted(String),
    /// A string literal, unescaped.
    Str(String),
    Open,
    Close,
    /// `[` or `]`: SQLite's `[name]` quoting, PostgreSQL's `ARRAY[...]` and `text[]`.
    Bracket,
    Comma,
    Equals,
    /// `::` (a PostgreSQL cast).
    Cast,
    /// `;` between clauses.
    Semicolon,
    /// Anything else (numbers, operators): present, so a clause with it never matches.
    Other,
}

/// How a string literal in the SQL text escapes a quote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quotes {
    /// `''` only (SQL standard: SQLite, PostgreSQL); a backslash is a backslash.
    Doubled,
    /// `''` or a backslash escape (`\'`, `\\`, `\n`): how MariaDB writes its CHECK clauses
    /// back, whatever the session's `sql_mode`.
    Backslash,
}

/// The tokens of `sql`; `None` when a quote is never closed.
fn tokenize(sql: &str, quotes: Quotes) -> Option<Vec<Token>> {
    let mut out = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        let quoted = |close: char, chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
            let mut text = String::new();
            loop {
                match chars.next()? {
                    '\\' if close == '\'' && quotes == Quotes::Backslash => {
                        text.push(match chars.next()? {
                            'n' => '\n',
                            'r' => '\r',
                            't' => '\t',
                            '0' => '\0',
                            'Z' => '\x1a',
                            other => other,
                        });
                    }
                    ch if ch == close && chars.peek() == Some(&close) => {
                        chars.next();
                        text.push(close);
                    }
                    ch if ch == close => return Some(text),
                    ch => text.push(ch),
                }
            }
        };
        let token = match c {
            c if c.is_whitespace() => continue,
            '\'' => Token::Str(quoted('\'', &mut chars)?),
            '"' => Token::Quoted(quoted('"', &mut chars)?),
            '`' => Token::Quoted(quoted('`', &mut chars)?),
            '(' => Token::Open,
            ')' => Token::Close,
            '[' | ']' => Token::Bracket,
            ',' => Token::Comma,
            '=' => Token::Equals,
            ';' => Token::Semicolon,
            ':' if chars.peek() == Some(&':') => {
                chars.next();
                Token::Cast
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut word = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_alphanumeric() || n == '_' || n == '$' {
                        word.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                Token::Word(word)
            }
            _ => Token::Other,
        };
        out.push(token);
    }
    Some(out)
}

/// Words a PostgreSQL cast's type name may continue with (`character varying`,
/// `timestamp without time zone`).
const TYPE_WORDS: [&str; 5] = ["varying", "precision", "with", "without", "zone"];

/// `tokens` without parentheses, brackets and casts: what is left of `(status)::text =
/// ANY ((ARRAY['a'::character varying])::text[])` is `status = ANY ARRAY 'a'`.
fn plain(tokens: &[Token]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut iter = tokens.iter().peekable();
    while let Some(t) = iter.next() {
        match t {
            Token::Open | Token::Close | Token::Bracket => {}
            Token::Cast => {
                // The type's first word, then the words only a type name continues with
                // (`time` only after `with`/`without`).
                iter.next();
                while let Some(Token::Word(w)) = iter.peek() {
                    let w = w.to_ascii_lowercase();
                    if TYPE_WORDS.contains(&w.as_str()) || w == "time" {
                        iter.next();
                    } else {
                        break;
                    }
                }
                // `varchar(20)`, `text[]`: a type's modifiers (numbers, read as Other) and
                // brackets; parentheses and brackets go anyway.
                while matches!(
                    iter.peek(),
                    Some(Token::Other | Token::Open | Token::Close | Token::Bracket)
                ) {
                    iter.next();
                }
            }
            t => out.push(t.clone()),
        }
    }
    out
}

fn is_word(t: &Token, word: &str) -> bool {
    matches!(t, Token::Word(w) if w.eq_ignore_ascii_case(word))
}

/// `column IN 'a' , 'b'` or `column = ANY ARRAY 'a' , 'b'` (after [`plain`]): the column
/// and its values.
fn in_list(tokens: &[Token]) -> Option<(String, Vec<String>)> {
    let tokens = plain(tokens);
    let (column, rest) = tokens.split_first()?;
    let column = match column {
        Token::Quoted(name) => name.clone(),
        Token::Word(name) if !is_word(column, "not") => name.clone(),
        _ => return None,
    };
    let list = match rest {
        [op, list @ ..] if is_word(op, "in") => list,
        [Token::Equals, any, array, list @ ..]
            if is_word(any, "any") && is_word(array, "array") =>
        {
            list
        }
        _ => return None,
    };
    let mut values = Vec::new();
    for (i, t) in list.iter().enumerate() {
        match (i % 2, t) {
            (0, Token::Str(v)) => values.push(v.clone()),
            (1, Token::Comma) => {}
            _ => return None,
        }
    }
    (list.len() % 2 == 1).then_some((column, values))
}

/// The `column IN (...)` lists in `sql`: in each `CHECK (...)` clause when it has any (a
/// `CREATE TABLE`, a constraint definition), else in each `;`-separated clause.
pub fn in_lists(sql: &str, quotes: Quotes) -> Vec<(String, Vec<String>)> {
    let Some(tokens) = tokenize(sql, quotes) else {
        return Vec::new();
    };
    let mut clauses: Vec<&[Token]> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if is_word(&tokens[i], "check") && tokens.get(i + 1) == Some(&Token::Open) {
            let start = i + 2;
            let mut depth = 1usize;
            let mut j = start;
            while j < tokens.len() && depth > 0 {
                match tokens[j] {
                    Token::Open => depth += 1,
                    Token::Close => depth -= 1,
                    _ => {}
                }
                j += 1;
            }
            if depth == 0 {
                clauses.push(&tokens[start..j - 1]);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    if clauses.is_empty() && !tokens.iter().any(|t| is_word(t, "check")) {
        clauses = tokens.split(|t| *t == Token::Semicolon).collect();
    }
    clauses.into_iter().filter_map(in_list).collect()
}

/// Give each of `columns` the values the lists in `sql` limit it to. A column named by
/// two lists may take only the values both allow. Names match exactly, else ignoring ASCII
/// case (SQLite and MySQL compare column names so).
pub fn apply(columns: &mut [ColumnInfo], sql: &str, quotes: Quotes) {
    for (name, values) in in_lists(sql, quotes) {
        let found = match columns.iter().position(|c| c.name == name) {
            Some(i) => Some(i),
            None => columns
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(&name)),
        };
        let Some(col) = found.and_then(|i| columns.get_mut(i)) else {
            continue;
        };
        if col.check_values.is_empty() {
            col.check_values = values;
        } else {
            col.check_values.retain(|v| values.contains(v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists(sql: &str) -> Vec<(String, Vec<String>)> {
        in_lists(sql, Quotes::Doubled)
    }

    fn one(col: &str, values: &[&str]) -> Vec<(String, Vec<String>)> {
        vec![(
            col.to_string(),
            values.iter().map(|v| v.to_string()).collect(),
        )]
    }

    #[test]
    fn sqlite_create_table_column_and_table_checks() {
        let sql = "CREATE TABLE posts (id INTEGER PRIMARY KEY, \
                   status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft','published', 'it''s')), \
                   kind TEXT, CONSTRAINT k CHECK ( \"kind\" in ( 'a' ) ), \
                   n INTEGER CHECK (n > 0))";
        let got = lists(sql);
        assert_eq!(
            got,
            vec![
                one("status", &["draft", "published", "it's"]).remove(0),
                one("kind", &["a"]).remove(0),
            ]
        );
        assert_eq!(
            lists("CREATE TABLE t ([status] TEXT CHECK ([status] IN ('x', 'y')))"),
            one("status", &["x", "y"])
        );
    }

    #[test]
    fn postgres_constraint_definitions() {
        assert_eq!(
            lists("CHECK ((status = ANY (ARRAY['draft'::text, 'published'::text])))"),
            one("status", &["draft", "published"])
        );
        assert_eq!(
            lists(
                "CHECK (((status)::text = ANY ((ARRAY['draft'::character varying, \
                 'x y'::character varying(20)])::text[])))"
            ),
            one("status", &["draft", "x y"])
        );
        assert_eq!(
            lists("CHECK ((\"Odd Name\" = ANY (ARRAY['a'::text])))"),
            one("Odd Name", &["a"])
        );
    }

    #[test]
    fn mariadb_check_clauses_separated_by_semicolons() {
        assert_eq!(
            lists("`status` in ('draft','published');json_valid(`meta`)"),
            one("status", &["draft", "published"])
        );
        // MariaDB writes a quote in a value as \', and a backslash as \\.
        assert_eq!(
            in_lists(r"`state` in ('it\'s odd','a\\b','x''y')", Quotes::Backslash),
            one("state", &["it's odd", r"a\b", "x'y"])
        );
        // Elsewhere a backslash is itself.
        assert_eq!(lists(r"CHECK (s IN ('a\'))"), one("s", &[r"a\"]));
    }

    #[test]
    fn other_shapes_are_left_to_the_database() {
        for sql in [
            "CHECK (status NOT IN ('a'))",
            "CHECK (status IN ('a') OR status IS NULL)",
            "CHECK (lower(status) IN ('a'))",
            "CHECK (n IN (1, 2))",
            "CHECK (status IN ('a',))",
            "CHECK (status IN ())",
            "CHECK (status = 'a')",
            "CHECK (status IN ('unterminated",
            "CREATE TABLE t (a TEXT)",
            "",
        ] {
            assert_eq!(lists(sql), vec![], "{sql}");
        }
    }

    #[test]
    fn two_lists_on_one_column_leave_what_both_allow() {
        let mut cols = vec![ColumnInfo {
            name: "Status".into(),
            decl_type: "TEXT".into(),
            not_null: false,
            default: None,
            pk_ordinal: 0,
            pg_type: None,
            check_values: Vec::new(),
        }];
        apply(
            &mut cols,
            "CREATE TABLE t (Status TEXT CHECK (status IN ('a','b','c')), CHECK (Status IN ('c','a')))",
            Quotes::Doubled,
        );
        assert_eq!(cols[0].check_values, vec!["a", "c"]);
    }
}
