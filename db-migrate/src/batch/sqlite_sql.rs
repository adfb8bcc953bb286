//! Just enough of SQLite's SQL to edit a `CREATE TABLE` statement element by element: a
//! tokenizer, the split of the body into top-level column definitions and table constraints,
//! and the parts of a column definition a batch alteration changes.

/// A token: its kind and where it stands in the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) kind: Kind,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A bare word or a quoted identifier (`"x"`, `` `x` ``, `[x]`).
    Ident,
    /// A string literal.
    Str,
    /// A number.
    Num,
    /// One punctuation character.
    Punct(char),
}

/// Splits `sql` into tokens, skipping whitespace and comments.
pub(crate) fn tokenize(sql: &str) -> Vec<Token> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let closing = |open: u8| match open {
            b'[' => b']',
            other => other,
        };
        match c {
            c if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i = (i + 2).min(b.len());
                continue;
            }
            b'\'' | b'"' | b'`' | b'[' => {
                let close = closing(c);
                i += 1;
                while i < b.len() {
                    if b[i] == close {
                        if close != b']' && b.get(i + 1) == Some(&close) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i = (i + 1).min(b.len());
                let kind = if c == b'\'' { Kind::Str } else { Kind::Ident };
                out.push(Token {
                    kind,
                    start,
                    end: i,
                });
                continue;
            }
            c if c.is_ascii_digit()
                || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) =>
            {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                    i += 1;
                }
                out.push(Token {
                    kind: Kind::Num,
                    start,
                    end: i,
                });
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || b[i] == b'_'
                        || b[i] == b'$'
                        || b[i] >= 0x80)
                {
                    i += 1;
                }
                out.push(Token {
                    kind: Kind::Ident,
                    start,
                    end: i,
                });
                continue;
            }
            _ => {
                i += 1;
                out.push(Token {
                    kind: Kind::Punct(c as char),
                    start,
                    end: i,
                });
            }
        }
    }
    out
}

/// The identifier a token names, unquoted.
pub(crate) fn ident(sql: &str, t: Token) -> String {
    let raw = &sql[t.start..t.end];
    match raw.as_bytes().first() {
        Some(b'"') => raw[1..raw.len() - 1].replace("\"\"", "\""),
        Some(b'`') => raw[1..raw.len() - 1].replace("``", "`"),
        Some(b'[') => raw[1..raw.len() - 1].to_owned(),
        _ => raw.to_owned(),
    }
}

fn is_word(sql: &str, t: Token, word: &str) -> bool {
    t.kind == Kind::Ident && sql[t.start..t.end].eq_ignore_ascii_case(word)
}

/// A `CREATE TABLE` statement cut into its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CreateTable {
    /// The elements of the body, as written, in order.
    pub(crate) elements: Vec<Element>,
    /// What follows the body (`WITHOUT ROWID`, `STRICT`), as written.
    pub(crate) options: String,
}

/// One top-level element of a `CREATE TABLE` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Element {
    /// A column definition.
    Column(ColumnDef),
    /// A table constraint, with its name when it has one.
    Constraint {
        name: Option<String>,
        kind: ConstraintKind,
        columns: Vec<String>,
        text: String,
    },
}

/// What a table constraint is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConstraintKind {
    PrimaryKey,
    Unique,
    Check,
    ForeignKey,
}

/// A column definition split into the parts a batch alteration edits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ColumnDef {
    pub(crate) name: String,
    /// The declared type as written (may be empty).
    pub(crate) type_sql: String,
    pub(crate) not_null: bool,
    /// The default expression as written, without `DEFAULT`.
    pub(crate) default: Option<String>,
    /// Every other column constraint as written (PRIMARY KEY, UNIQUE, CHECK, REFERENCES,
    /// COLLATE, GENERATED …), in order.
    pub(crate) rest: Vec<String>,
}

impl ColumnDef {
    /// The definition as SQL.
    pub(crate) fn to_sql(&self) -> String {
        let mut s = db_core::Dialect::Sqlite.quote_trusted(&self.name);
        if !self.type_sql.is_empty() {
            s.push(' ');
            s.push_str(&self.type_sql);
        }
        if self.not_null {
            s.push_str(" NOT NULL");
        }
        if let Some(d) = &self.default {
            s.push_str(" DEFAULT ");
            s.push_str(d);
        }
        for r in &self.rest {
            s.push(' ');
            s.push_str(r);
        }
        s
    }
}

impl Element {
    /// The element as SQL.
    pub(crate) fn to_sql(&self) -> String {
        match self {
            Element::Column(c) => c.to_sql(),
            Element::Constraint { text, .. } => text.clone(),
        }
    }
}

/// Splits `sql` (a `CREATE TABLE … (…) …` statement) into its elements.
pub(crate) fn parse_create_table(sql: &str) -> Option<CreateTable> {
    let toks = tokenize(sql);
    let open = toks.iter().position(|t| t.kind == Kind::Punct('('))?;
    let mut depth = 0usize;
    let mut parts: Vec<Vec<Token>> = vec![Vec::new()];
    let mut close = None;
    for (i, &t) in toks.iter().enumerate().skip(open + 1) {
        match t.kind {
            Kind::Punct('(') => depth += 1,
            Kind::Punct(')') if depth == 0 => {
                close = Some(i);
                break;
            }
            Kind::Punct(')') => depth -= 1,
            Kind::Punct(',') if depth == 0 => {
                parts.push(Vec::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = parts.last_mut() {
            last.push(t);
        }
    }
    let close = close?;
    let options = toks.get(close + 1).map_or(String::new(), |t| {
        sql[t.start..]
            .trim()
            .trim_end_matches(';')
            .trim()
            .to_owned()
    });
    let elements = parts
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| parse_element(sql, p))
        .collect::<Option<Vec<_>>>()?;
    Some(CreateTable { elements, options })
}

const CONSTRAINT_START: [&str; 5] = ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"];
const COLUMN_CONSTRAINT: [&str; 10] = [
    "CONSTRAINT",
    "PRIMARY",
    "NOT",
    "NULL",
    "UNIQUE",
    "CHECK",
    "DEFAULT",
    "COLLATE",
    "REFERENCES",
    "GENERATED",
];

fn text_of(sql: &str, toks: &[Token]) -> String {
    match (toks.first(), toks.last()) {
        (Some(a), Some(b)) => sql[a.start..b.end].to_owned(),
        _ => String::new(),
    }
}

/// The identifiers of the first parenthesised list in `toks`.
fn column_list(sql: &str, toks: &[Token]) -> Vec<String> {
    let Some(open) = toks.iter().position(|t| t.kind == Kind::Punct('(')) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut depth = 0;
    for &t in &toks[open + 1..] {
        match t.kind {
            Kind::Punct('(') => depth += 1,
            Kind::Punct(')') if depth == 0 => break,
            Kind::Punct(')') => depth -= 1,
            Kind::Ident if depth == 0 => {
                let word = ident(sql, t);
                if !["ASC", "DESC", "COLLATE"]
                    .iter()
                    .any(|w| word.eq_ignore_ascii_case(w))
                {
                    out.push(word);
                }
            }
            _ => {}
        }
    }
    out
}

fn parse_element(sql: &str, toks: &[Token]) -> Option<Element> {
    let first = *toks.first()?;
    if CONSTRAINT_START.iter().any(|w| is_word(sql, first, w)) {
        let (name, body) = if is_word(sql, first, "CONSTRAINT") {
            (Some(ident(sql, *toks.get(1)?)), toks.get(2..)?)
        } else {
            (None, toks)
        };
        let head = *body.first()?;
        let kind = if is_word(sql, head, "PRIMARY") {
            ConstraintKind::PrimaryKey
        } else if is_word(sql, head, "UNIQUE") {
            ConstraintKind::Unique
        } else if is_word(sql, head, "CHECK") {
            ConstraintKind::Check
        } else {
            ConstraintKind::ForeignKey
        };
        let columns = if kind == ConstraintKind::Check {
            Vec::new()
        } else {
            column_list(sql, body)
        };
        return Some(Element::Constraint {
            name,
            kind,
            columns,
            text: text_of(sql, toks),
        });
    }
    let name = ident(sql, first);
    let mut i = 1;
    let mut depth = 0;
    let type_start = i;
    while i < toks.len() {
        let t = toks[i];
        match t.kind {
            Kind::Punct('(') => depth += 1,
            Kind::Punct(')') => depth -= 1,
            _ if depth == 0 && COLUMN_CONSTRAINT.iter().any(|w| is_word(sql, t, w)) => break,
            _ => {}
        }
        i += 1;
    }
    let type_sql = text_of(sql, &toks[type_start..i]);
    let mut col = ColumnDef {
        name,
        type_sql,
        not_null: false,
        default: None,
        rest: Vec::new(),
    };
    // Constraints: each starts at a keyword at depth 0 and runs to the next one.
    let mut starts = Vec::new();
    let mut depth = 0;
    for (j, &t) in toks.iter().enumerate().skip(i) {
        match t.kind {
            Kind::Punct('(') => depth += 1,
            Kind::Punct(')') => depth -= 1,
            _ if depth == 0 && COLUMN_CONSTRAINT.iter().any(|w| is_word(sql, t, w)) => {
                let prev = j.checked_sub(1).map(|p| toks[p]);
                let after_set_or_not = prev
                    .is_some_and(|p| is_word(sql, p, "SET") || is_word(sql, p, "NOT"))
                    && (is_word(sql, t, "NULL") || is_word(sql, t, "DEFAULT"));
                let not_deferrable = is_word(sql, t, "NOT")
                    && toks
                        .get(j + 1)
                        .is_some_and(|n| is_word(sql, *n, "DEFERRABLE"));
                let named = starts
                    .last()
                    .is_some_and(|&s: &usize| is_word(sql, toks[s], "CONSTRAINT") && j == s + 2);
                if !(after_set_or_not || not_deferrable || named) {
                    starts.push(j);
                }
            }
            _ => {}
        }
    }
    for (k, &s) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(toks.len());
        let clause = &toks[s..end];
        let head = clause[0];
        if is_word(sql, head, "NOT")
            && clause.get(1).is_some_and(|t| is_word(sql, *t, "NULL"))
            && clause.len() == 2
        {
            col.not_null = true;
        } else if is_word(sql, head, "NULL") && clause.len() == 1 {
            col.not_null = false;
        } else if is_word(sql, head, "DEFAULT") && clause.len() > 1 {
            col.default = Some(text_of(sql, &clause[1..]));
        } else {
            col.rest.push(text_of(sql, clause));
        }
    }
    Some(Element::Column(col))
}

#[cfg(test)]
mod tests {
    use super::{ConstraintKind, Element, parse_create_table};

    #[test]
    fn splits_sea_query_tables() {
        let sql = r#"CREATE TABLE "course_members" ( "id" varchar(36) NOT NULL PRIMARY KEY, "course_id" varchar(36) NOT NULL, "note" text DEFAULT 'a, b' CHECK (length(note) < 10), "n" integer NULL DEFAULT (1 + 2), "created_at" datetime_text NOT NULL DEFAULT CURRENT_TIMESTAMP, CONSTRAINT "fk_m_course" FOREIGN KEY ("course_id") REFERENCES "courses" ("id") ON DELETE CASCADE, UNIQUE (course_id, n) ) WITHOUT ROWID"#;
        let t = parse_create_table(sql).expect("parses");
        assert_eq!(t.options, "WITHOUT ROWID");
        assert_eq!(t.elements.len(), 7);
        let Element::Column(id) = &t.elements[0] else {
            panic!("column")
        };
        assert_eq!(
            (id.name.as_str(), id.type_sql.as_str(), id.not_null),
            ("id", "varchar(36)", true)
        );
        assert_eq!(id.rest, ["PRIMARY KEY"]);
        let Element::Column(note) = &t.elements[2] else {
            panic!("column")
        };
        assert_eq!(note.default.as_deref(), Some("'a, b'"));
        assert_eq!(note.rest, ["CHECK (length(note) < 10)"]);
        let Element::Column(n) = &t.elements[3] else {
            panic!("column")
        };
        assert_eq!((n.not_null, n.default.as_deref()), (false, Some("(1 + 2)")));
        let Element::Column(c) = &t.elements[4] else {
            panic!("column")
        };
        assert_eq!(
            (c.not_null, c.default.as_deref()),
            (true, Some("CURRENT_TIMESTAMP"))
        );
        assert_eq!(
            c.to_sql(),
            "\"created_at\" datetime_text NOT NULL DEFAULT CURRENT_TIMESTAMP"
        );
        let Element::Constraint {
            name,
            kind,
            columns,
            ..
        } = &t.elements[5]
        else {
            panic!("constraint")
        };
        assert_eq!(
            (name.as_deref(), *kind, columns.as_slice()),
            (
                Some("fk_m_course"),
                ConstraintKind::ForeignKey,
                &["course_id".to_owned()][..]
            )
        );
        let Element::Constraint { kind, columns, .. } = &t.elements[6] else {
            panic!("constraint")
        };
        assert_eq!((*kind, columns.len()), (ConstraintKind::Unique, 2));
    }

    #[test]
    fn column_references_keep_their_actions() {
        let sql = "CREATE TABLE c (p INTEGER NOT NULL REFERENCES parent(id) ON DELETE SET NULL DEFAULT 3)";
        let t = parse_create_table(sql).expect("parses");
        let Element::Column(p) = &t.elements[0] else {
            panic!("column")
        };
        assert!(p.not_null);
        assert_eq!(p.rest, ["REFERENCES parent(id) ON DELETE SET NULL"]);
        assert_eq!(p.default.as_deref(), Some("3"));
    }
}
