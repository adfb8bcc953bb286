//! The one place that keeps secrets and unbounded user values out of messages: every error
//! text, log line and JSON error field the toolkit shows goes through [`scrub`]; URLs are shown
//! as [`redact_url`] writes them; user values are shown through [`bounded`].
//!
//! A password can hide in a URL's user-info, in a query parameter (`?password=…`, libpq's
//! `sslpassword`), in a driver's message quoting the URL it could not parse, or in a
//! configuration line. [`scrub`] hides all of these: every URL-shaped word is redacted, every
//! `password=…`-style pair loses its value, and every secret this process has seen
//! ([`remember_secrets`], called by every open) is replaced wherever it appears.

use std::borrow::Cow;
use std::sync::{Mutex, OnceLock};

/// What replaces a secret.
const MASK: &str = "***";

/// The most characters of a user value a message shows ([`bounded`]).
pub const MAX_SHOWN_CHARS: usize = 200;

/// Parameter names that carry a password (libpq's `password`, `sslpassword`; the spellings
/// other drivers and DSNs use), compared without case.
const SECRET_KEYS: [&str; 7] = [
    "password",
    "pass",
    "pwd",
    "passwd",
    "sslpassword",
    "pgpassword",
    "mysql_pwd",
];

fn is_secret_key(key: &str) -> bool {
    SECRET_KEYS.iter().any(|s| key.eq_ignore_ascii_case(s))
}

fn secrets() -> &'static Mutex<Vec<String>> {
    static SECRETS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Remembers the passwords `url` carries ([`url_secrets`]), so that [`scrub`] hides them in
/// any text this process shows from now on. [`Database::open`](crate::Database::open) calls
/// it for every URL it is given; call it for URLs a program prints on its own.
pub fn remember_secrets(url: &str) {
    let found = url_secrets(url);
    if found.is_empty() {
        return;
    }
    let mut known = secrets()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for s in found {
        if !known.contains(&s) && known.len() < 64 {
            known.push(s);
        }
    }
}

/// The passwords `url` carries, in the spellings a message may quote them: the user-info's
/// password (as written and percent-decoded), every secret query parameter's value, and for a
/// URL that does not parse, everything between the first `:` of the user-info and its last
/// `@` (where its password may be).
#[must_use]
pub fn url_secrets(url: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |s: &str| {
        if !s.is_empty() && s != MASK && !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    };
    if let Some((_, rest)) = url.split_once("://")
        && let Some(at) = rest.rfind('@')
    {
        let userinfo = &rest[..at];
        if let Some((_, password)) = userinfo.split_once(':') {
            add(password);
            if let Ok(decoded) = percent_decode(password) {
                add(&decoded);
            }
        }
    }
    if let Some((_, query)) = url.split_once('?') {
        for pair in query.split(['&', ';', '#']) {
            if let Some((k, v)) = pair.split_once('=')
                && is_secret_key(k)
            {
                add(v);
                if let Ok(decoded) = percent_decode(v) {
                    add(&decoded);
                }
            }
        }
    }
    out
}

fn percent_decode(s: &str) -> Result<String, std::str::Utf8Error> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
}

/// `url` for messages and logs: the password of the user-info and every password-like query
/// parameter replaced by `***`; a URL that does not parse is not shown beyond its scheme
/// (`postgres://***`), since where its password ends cannot be told; at most
/// [`MAX_SHOWN_CHARS`] characters.
#[must_use]
pub fn redact_url(url: &str) -> String {
    bounded(&redact_url_whole(url)).into_owned()
}

fn redact_url_whole(url: &str) -> String {
    let scheme = url.split_once("://").map(|(s, _)| s);
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let secret_param = parsed.query_pairs().any(|(k, _)| is_secret_key(&k));
            if parsed.password().is_none() && !secret_param {
                return url.to_owned();
            }
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some(MASK));
            }
            if secret_param {
                let pairs: Vec<(String, String)> = parsed
                    .query_pairs()
                    .map(|(k, v)| {
                        let value = if is_secret_key(&k) {
                            MASK.to_owned()
                        } else {
                            v.into_owned()
                        };
                        (k.into_owned(), value)
                    })
                    .collect();
                parsed.query_pairs_mut().clear().extend_pairs(pairs);
            }
            parsed.to_string().replace("%2A%2A%2A", MASK)
        }
        Err(_) if !url.contains(['@', '?', '#']) && !url.to_ascii_lowercase().contains("pass") => {
            url.to_owned()
        }
        Err(_) => format!("{}://{MASK}", scheme.unwrap_or("?")),
    }
}

/// `value` as a message may show it: whole up to [`MAX_SHOWN_CHARS`] characters, else cut
/// there and marked `… (N bytes in all)`.
#[must_use]
pub fn bounded(value: &str) -> Cow<'_, str> {
    bounded_to(value, MAX_SHOWN_CHARS)
}

/// `value` cut after `max_chars` characters, as [`bounded`] (for texts that hold a user
/// value among other words, such as a parser's message).
#[must_use]
pub fn bounded_to(value: &str, max_chars: usize) -> Cow<'_, str> {
    match value.char_indices().nth(max_chars) {
        None => Cow::Borrowed(value),
        Some((cut, _)) => Cow::Owned(format!("{}… ({} bytes in all)", &value[..cut], value.len())),
    }
}

/// `text` with every secret removed: each URL-shaped word as [`redact_url`] shows it, the
/// value of each `password=…`-style pair (`password=x`, `PGPASSWORD=x`, `"password": "x"`)
/// masked, and every secret [`remember_secrets`] has seen replaced by `***`.
#[must_use]
pub fn scrub(text: &str) -> String {
    let mut out = mask_secret_pairs(&redact_url_words(text));
    let known = secrets()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for secret in known.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), MASK);
        }
    }
    out
}

/// `error` with its text through [`scrub`] when that changes it (a driver error quoting a
/// URL becomes a [`DbErr::Custom`](sea_orm::DbErr::Custom) of the scrubbed text).
#[must_use]
pub fn scrub_db_err(error: sea_orm::DbErr) -> sea_orm::DbErr {
    let text = error.to_string();
    let clean = scrub(&text);
    if clean == text {
        error
    } else {
        sea_orm::DbErr::Custom(clean)
    }
}

/// Every `scheme://…` word of `text` through [`redact_url_whole`]; a word ends at whitespace
/// or a quote.
fn redact_url_words(text: &str) -> String {
    if !text.contains("://") {
        return text.to_owned();
    }
    let is_end = |c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>');
    let is_scheme = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let start = rest[..pos]
            .char_indices()
            .rev()
            .take_while(|&(_, c)| is_scheme(c))
            .last()
            .map_or(pos, |(i, _)| i);
        let after = &rest[pos + 3..];
        let end = pos + 3 + after.find(is_end).unwrap_or(after.len());
        out.push_str(&rest[..start]);
        let word = &rest[start..end];
        // A trailing `)`, `,` or `.` belongs to the sentence, not the URL.
        let trimmed = word.trim_end_matches([')', ',', '.', ';', ']']);
        out.push_str(&redact_url_whole(trimmed));
        out.push_str(&word[trimmed.len()..]);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The value after each secret key followed by `=` or `:` (optionally quoted) masked.
fn mask_secret_pairs(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    if !SECRET_KEYS.iter().any(|k| lower.contains(k)) {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        let word_start = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let key = word_start
            .then(|| {
                SECRET_KEYS
                    .iter()
                    .filter(|k| lower.as_bytes()[i..].starts_with(k.as_bytes()))
                    .max_by_key(|k| k.len())
            })
            .flatten();
        let Some(key) = key else {
            i += 1;
            continue;
        };
        let mut j = i + key.len();
        if bytes
            .get(j)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            i += 1;
            continue;
        }
        // `key"`, then spaces, `=` or `:`, spaces, an optional quote.
        if bytes.get(j) == Some(&b'"') {
            j += 1;
        }
        while bytes.get(j) == Some(&b' ') {
            j += 1;
        }
        if !matches!(bytes.get(j), Some(b'=' | b':')) {
            i += 1;
            continue;
        }
        j += 1;
        while bytes.get(j) == Some(&b' ') {
            j += 1;
        }
        let quote = bytes.get(j).copied().filter(|b| matches!(b, b'"' | b'\''));
        if quote.is_some() {
            j += 1;
        }
        let value_start = j;
        while j < bytes.len() {
            let b = bytes[j];
            let ends = match quote {
                Some(q) => b == q,
                None => {
                    b.is_ascii_whitespace()
                        || matches!(b, b'&' | b';' | b',' | b'`' | b'\'' | b'"' | b')')
                }
            };
            if ends {
                break;
            }
            j += 1;
        }
        if j > value_start {
            out.push_str(&text[copied..value_start]);
            out.push_str(MASK);
            copied = j;
        }
        i = j.max(i + 1);
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::{bounded, redact_url, remember_secrets, scrub, url_secrets};

    #[test]
    fn redacts_password_only() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            redact_url("sqlite://data/x.sqlite3"),
            "sqlite://data/x.sqlite3"
        );
        assert_eq!(redact_url("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(
            redact_url("postgres://u@h/x?sslmode=disable&password=S3cret"),
            "postgres://u@h/x?sslmode=disable&password=***"
        );
    }

    /// Random passwords in every part a URL or a configuration can hold one: neither
    /// [`redact_url`] nor [`scrub`] of any text quoting it shows the secret.
    #[test]
    fn no_spelling_of_a_password_survives() {
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet: Vec<char> = "abcXYZ019/?#@:%&=;!~*'() +.,[]{}\"\\é".chars().collect();
        for round in 0..400 {
            let len = 6 + (next() % 10) as usize;
            let mut secret: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            secret.insert_str(0, "Zq9");
            let spellings = [
                format!("postgres://postgres:{secret}@127.0.0.1:5432/postgres"),
                format!("postgres://postgres:{secret}@127.0.0.1:99999/x"),
                format!("mysql://root:{secret}@127.0.0.1/x?ssl-mode=disabled"),
                format!("postgres://p@127.0.0.1/x?password={secret}"),
                format!("postgres://p@127.0.0.1/x?sslmode=disable&PassWord={secret}"),
            ];
            for url in &spellings {
                remember_secrets(url);
                for shown in [
                    redact_url(url),
                    scrub(url),
                    scrub(&format!(
                        "error with configuration: invalid port number in `{url}`"
                    )),
                    scrub(&format!("url = \"{url}\"")),
                ] {
                    assert!(!shown.contains(&secret), "round {round}: {url} -> {shown}");
                }
            }
            for line in [
                format!("password = \"{secret}\""),
                format!("PGPASSWORD={secret} psql"),
                format!("{{\"password\": \"{secret}\"}}"),
            ] {
                // Not remembered: a pair's value is masked by its key alone.
                let shown = scrub(&line);
                let visible = secret
                    .split(['"', ' ', '&', ';', ',', '`', '\'', ')'])
                    .next()
                    .unwrap_or("");
                if visible.len() > 3 {
                    assert!(!shown.contains(visible), "{line} -> {shown}");
                }
            }
        }
        assert_eq!(url_secrets("postgres://u:a%40b@h/x"), ["a%40b", "a@b"]);
    }

    #[test]
    fn long_values_are_cut() {
        let long = "x".repeat(50_000);
        let shown = bounded(&long);
        assert!(shown.len() < 300, "{}", shown.len());
        assert!(shown.ends_with("(50000 bytes in all)"));
        assert_eq!(bounded("short"), "short");
        let url = format!("postgres://u@h/{long}");
        assert!(redact_url(&url).len() < 300);
    }
}
