//! Differential test against openmodule 18.5's real KV store: generated `kv_sync` request
//! sequences, several faults per set, run through openmodule (`openmodule/differential.py`, in a
//! Python with `openmodule==18.5.0`) and through [`KvStores`], each on its own SQLite file, the
//! same raw request bytes on both sides. After every request both must give the same reply
//! (status; fields of `ok` replies; the ETag text of a `handler_error` exactly, other handler
//! errors by class; no reply alike), the same table contents and the same change notifications.
//!
//! The deliberate differences, each accepted in [`accepted`] and counted:
//! - a key twice in one set is refused here; openmodule refuses it only when two of them carry
//!   values (`IntegrityError`), and otherwise applies it (the sequence ends there: the
//!   states differ by design);
//! - a value without an e_tag is refused here; openmodule lets SQLite invent one (the
//!   sequence ends);
//! - notifications: openmodule reports deleted keys in its table's order, this store in the
//!   request's (compared as sets), and openmodule also calls its notifier when nothing
//!   changed (empty notifications are left out).
//!
//! The Python is `OPENMODULE_PYTHON`, else `~/.cache/db-toolkit/openmodule-18.5.0/bin/python`
//! (`.ci/run` makes that virtualenv). A fixed seed makes CI reproducible; `KV_DIFF_SEED` and
//! `KV_DIFF_SEQUENCES` explore further.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use db_kvstore::wire::RequestEnvelope;
use db_kvstore::{IncomingRequest, KvStore, KvStores, Parsed, RequestHandler};
use sea_orm::ActiveValue::Set;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::Value;

const NAME: &str = "om_kvdiff";
const RESOURCE: &str = "dev-1";

macro_rules! entry_entity {
    ($module:ident, $table:literal) => {
        #[expect(
            unreachable_pub,
            reason = "entity modules are written as users write them, with pub items"
        )]
        mod $module {
            use sea_orm::entity::prelude::*;

            #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model {
                #[sea_orm(primary_key, auto_increment = false)]
                pub key: String,
                pub e_tag: i64,
                pub descr: String,
            }

            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}

            impl ActiveModelBehavior for ActiveModel {}
        }
    };
}

entry_entity!(kv_plain, "kv_plain");
entry_entity!(kv_a, "kv_a");
entry_entity!(kv_b, "kv_b");
entry_entity!(kv_c, "kv_c");

#[expect(
    unreachable_pub,
    reason = "entity modules are written as users write them, with pub items"
)]
mod kv_child {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "kv_child")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub key: String,
        pub name: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `describe` of `differential.py`: a text telling every JSON value apart.
fn describe(value: &Value, depth: usize) -> String {
    match value {
        Value::Null => "n".into(),
        Value::Bool(true) => "t".into(),
        Value::Bool(false) => "f".into(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                format!("i{i}")
            } else if let Some(u) = n.as_u64() {
                format!("i{u}")
            } else {
                format!("d{:016x}", n.as_f64().unwrap_or(f64::NAN).to_bits())
            }
        }
        Value::String(s) => format!("s{}", Value::String(s.clone())),
        Value::Array(a) if depth >= 3 => format!("L{}", a.len()),
        Value::Object(o) if depth >= 3 => format!("D{}", o.len()),
        Value::Array(a) => format!(
            "[{}]",
            a.iter()
                .map(|v| describe(v, depth + 1))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            format!(
                "{{{}}}",
                keys.iter()
                    .map(|k| format!(
                        "{}:{}",
                        Value::String((*k).clone()),
                        describe(&o[*k], depth + 1)
                    ))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        }
    }
}

/// `parse` of `differential.py`: refuses a dict with `reject`; the description otherwise.
fn check_value(value: &Value) -> Result<String, db_kvstore::BoxError> {
    if value.as_object().is_some_and(|o| o.contains_key("reject")) {
        return Err("rejected by parse_value".into());
    }
    Ok(describe(value, 0))
}

macro_rules! plain_store {
    ($module:ident) => {
        KvStore::<$module::Entity>::new(|_key, value| {
            Ok(Parsed::new($module::ActiveModel {
                descr: Set(check_value(&value)?),
                ..Default::default()
            }))
        })
    };
}

const LAYOUTS: [&str; 3] = ["single", "multi", "children"];

fn tables(layout: &str) -> &'static [&'static str] {
    match layout {
        "single" => &["kv_plain"],
        "multi" => &["kv_a", "kv_b"],
        _ => &["kv_c", "kv_child"],
    }
}

fn services(layout: &str) -> Vec<String> {
    match layout {
        "single" => vec![NAME.to_owned()],
        "multi" => vec![format!("{NAME}_a"), format!("{NAME}_b")],
        _ => vec![format!("{NAME}_c")],
    }
}

async fn device(layout: &str, db: &db_core::Database) -> KvStores {
    for table in tables(layout) {
        let sql = if *table == "kv_child" {
            "CREATE TABLE kv_child (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL \
             REFERENCES kv_c(key) ON DELETE CASCADE, name TEXT NOT NULL)"
                .to_owned()
        } else {
            format!(
                "CREATE TABLE {table} (key TEXT PRIMARY KEY, e_tag BIGINT NOT NULL, descr TEXT NOT NULL)"
            )
        };
        db.execute_unprepared(&sql).await.expect("table");
    }
    let mut stores = KvStores::new(db, NAME, RESOURCE);
    match layout {
        "single" => {
            stores.add(plain_store!(kv_plain)).expect("add");
        }
        "multi" => {
            stores.add(plain_store!(kv_a).suffix("a")).expect("add");
            stores
                .add(
                    plain_store!(kv_b)
                        .suffix("b")
                        .comparison_value(|m: &kv_b::Model| Value::String(m.descr.clone())),
                )
                .expect("add");
        }
        _ => {
            stores
                .add(
                    KvStore::<kv_c::Entity>::new(|key, value| {
                        let descr = check_value(&value)?;
                        let mut parsed = Parsed::new(kv_c::ActiveModel {
                            descr: Set(descr),
                            ..Default::default()
                        });
                        if let Some(children) = value.get("children").and_then(Value::as_array) {
                            for child in children {
                                let name = child.as_str().ok_or("a child is a string")?;
                                parsed =
                                    parsed.child(db_kvstore::Child::new(kv_child::ActiveModel {
                                        key: Set(key.to_owned()),
                                        name: Set(name.to_owned()),
                                        ..Default::default()
                                    }));
                            }
                        }
                        Ok(parsed)
                    })
                    .suffix("c"),
                )
                .expect("add");
        }
    }
    stores
}

/// What one request did on one side.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
struct Outcome {
    reply: Option<Value>,
    tables: BTreeMap<String, Vec<Vec<Value>>>,
    notes: Vec<Vec<String>>,
}

async fn dump(db: &db_core::Database, layout: &str) -> BTreeMap<String, Vec<Vec<Value>>> {
    let mut out = BTreeMap::new();
    for table in tables(layout) {
        let sql = if *table == "kv_child" {
            "SELECT key, name FROM kv_child".to_owned()
        } else {
            format!("SELECT key, e_tag, descr FROM {table}")
        };
        let rows = db
            .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .expect("dump");
        let mut rows: Vec<Vec<Value>> = rows
            .iter()
            .map(|r| {
                if *table == "kv_child" {
                    let k: String = r.try_get_by_index(0).expect("key");
                    let n: String = r.try_get_by_index(1).expect("name");
                    vec![k.into(), n.into()]
                } else {
                    let k: String = r.try_get_by_index(0).expect("key");
                    let e: i64 = r.try_get_by_index(1).expect("e_tag");
                    let d: String = r.try_get_by_index(2).expect("descr");
                    vec![k.into(), e.into(), d.into()]
                }
            })
            .collect();
        rows.sort_by_key(|r| r.iter().map(ToString::to_string).collect::<Vec<_>>());
        out.insert((*table).to_owned(), rows);
    }
    out
}

/// Runs one sequence through [`KvStores`] as a device takes requests off the bus.
async fn ours(
    layout: &str,
    requests: &[String],
    dir: &std::path::Path,
    index: usize,
) -> Vec<Outcome> {
    let url = format!("sqlite://{}/ours{index}.sqlite3", dir.display());
    let db = db_core::Database::connect(&url).await.expect("open");
    let stores = device(layout, &db).await;
    let mut changes = stores.subscribe();
    let mut out = Vec::new();
    for payload in requests {
        let reply = match RequestEnvelope::decode(payload.as_bytes()) {
            Ok(envelope) => stores
                .handle(IncomingRequest {
                    channel: "kv_sync".into(),
                    kind: envelope.kind,
                    resource: envelope.resource,
                    request: envelope.request.unwrap_or(Value::Null),
                })
                .await
                .map(|r| r.to_json()),
            Err(_) => None,
        };
        let mut notes = Vec::new();
        while let Ok(changed) = changes.try_recv() {
            let mut keys = changed.keys;
            keys.sort();
            notes.push(keys);
        }
        out.push(Outcome {
            reply,
            tables: dump(&db, layout).await,
            notes,
        });
    }
    db.close().await.expect("close");
    out
}

// ---- generation -----------------------------------------------------------------------

use db_testkit::SeededRng as Rng;

/// One entry of a set, each field as the JSON text sent (`None`: left out).
#[derive(Clone, Debug)]
struct Item {
    key: String,
    value: Option<String>,
    e_tag: Option<String>,
    previous: Option<String>,
}

/// The faults a set can carry; several per set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    WrongPrevious,
    NoPrevious,
    PreviousForAbsent,
    Duplicate,
    NoETag,
    ETagOutOfRange,
    ETagInvalid,
    ETagOddSpelling,
    BadJson,
    ExoticValue,
    Rejected,
    NotAString,
}

const FAULTS: [Fault; 12] = [
    Fault::WrongPrevious,
    Fault::NoPrevious,
    Fault::PreviousForAbsent,
    Fault::Duplicate,
    Fault::NoETag,
    Fault::ETagOutOfRange,
    Fault::ETagInvalid,
    Fault::ETagOddSpelling,
    Fault::BadJson,
    Fault::ExoticValue,
    Fault::Rejected,
    Fault::NotAString,
];

/// JSON texts orjson refuses.
fn bad_json(rng: &mut Rng) -> String {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    match rng.below(12) {
        0 => "NaN".into(),
        1 => "-Infinity".into(),
        2 => "[1,]".into(),
        3 => "\u{feff}1".into(),
        4 => "\"\\ud800\"".into(),
        5 => "\"\\udc00x\"".into(),
        6 => "1e400".into(),
        7 => "01".into(),
        8 => "{\"a\": 1,}".into(),
        9 => deep(1025),
        10 => "\"a\u{1}\"".into(),
        _ => "1 2".into(),
    }
}

/// JSON texts orjson reads, with its number and string rules at their edges.
fn exotic_json(rng: &mut Rng) -> String {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    match rng.below(20) {
        0 => "-0".into(),
        1 => "{\"a\": -0, \"b\": [-0, -0.0, 0e0, -0E-0]}".into(),
        2 => "18446744073709551616".into(),
        3 => "-9223372036854775809".into(),
        4 => "9223372036854775808".into(),
        5 => "1e-400".into(),
        6 => "{\"a\":1,\"a\":2,\"b\":{\"c\":3,\"c\":[4]}}".into(),
        7 => deep(300),
        8 => deep(1024),
        9 => "\"\\ud83d\\ude00 \\u0000 \u{e9}\"".into(),
        10 => "0.1".into(),
        11 => "1.7976931348623157e308".into(),
        12 => "5e-324".into(),
        13 => " \t\n\r 1 \r\n".into(),
        14 => "123456789012345678901234567890".into(),
        15 => "1E2".into(),
        16 => "-1.5e-7".into(),
        17 => "2.2250738585072011e-308".into(),
        18 => "[9007199254740993, 0.30000000000000004, 1e23]".into(),
        _ => "{\"\": [true, false, null], \"\\u00e9\": \"x\"}".into(),
    }
}

fn plain_value(rng: &mut Rng, children: bool) -> String {
    match rng.below(if children { 7 } else { 6 }) {
        0 => "\"AB-123\"".into(),
        1 => format!(
            "{{\"plate\": \"X-{}\", \"n\": {}}}",
            rng.below(100),
            rng.below(9)
        ),
        2 => "[1, 2, 3]".into(),
        3 => format!("{}", rng.below(1000)),
        4 => "true".into(),
        5 => format!("{{\"n\": {}.5}}", rng.below(10)),
        _ => format!("{{\"children\": [\"a{}\", \"b\"]}}", rng.below(5)),
    }
}

fn json_string(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

fn envelope(rng: &mut Rng, kind: &str, resource: Option<&str>, request: &str) -> String {
    let mut text = format!(
        "{{\"timestamp\": 1765000000.5, \"name\": \"kv-server\", \"type\": \"{kind}\", \"rpc_id\": \"{}\"",
        uuid::Uuid::from_u64_pair(rng.next_u64(), rng.next_u64())
    );
    if let Some(r) = resource {
        let _ = write!(text, ", \"resource\": {}", json_string(r));
    }
    let _ = write!(text, ", \"request\": {request}}}");
    text
}

/// The server's belief about the device: key → e_tag per service.
#[derive(Default)]
struct Model {
    tags: HashMap<String, BTreeMap<String, i64>>,
    next_tag: i64,
}

impl Model {
    fn fresh(&mut self, rng: &mut Rng) -> i64 {
        self.next_tag += 1 + rng.below(3) as i64;
        self.next_tag
    }
}

fn odd_spelling(rng: &mut Rng, tag: i64) -> String {
    let digits = tag.to_string();
    match rng.below(6) {
        0 => format!("\"{tag}\""),
        1 => format!("\" {tag}\\n\""),
        2 => format!("{tag}.0"),
        3 => format!("\"{tag}.00\""),
        4 => format!("\"+{tag}\""),
        _ if digits.len() > 1 => format!("\"{}_{}\"", &digits[..1], &digits[1..]),
        _ => format!("{tag}e0"),
    }
}

/// One `set`: 1–5 entries, then 0–3 faults.
fn generate_set(rng: &mut Rng, model: &mut Model, service: &str, children: bool) -> String {
    let state = model.tags.entry(service.to_owned()).or_default().clone();
    let existing: Vec<(&String, &i64)> = state.iter().collect();
    let mut items: Vec<Item> = Vec::new();
    let mut used: Vec<String> = Vec::new();
    for _ in 0..=rng.below(5) {
        let choice = rng.below(100);
        if choice < 55 && !existing.is_empty() {
            let (key, tag) = *rng.pick(&existing);
            if used.contains(key) {
                continue;
            }
            used.push(key.clone());
            let delete = choice < 15;
            items.push(Item {
                key: json_string(key),
                value: Some(if delete {
                    json_string("null")
                } else {
                    json_string(&plain_value(rng, children))
                }),
                e_tag: (!delete).then(|| model.fresh(rng).to_string()),
                previous: Some(tag.to_string()),
            });
        } else {
            let key = format!("k{}", rng.below(40));
            if used.contains(&key) || state.contains_key(&key) {
                continue;
            }
            used.push(key.clone());
            let delete = choice > 93;
            items.push(Item {
                key: json_string(&key),
                value: if delete {
                    (!rng.chance(50)).then(|| json_string("null"))
                } else {
                    Some(json_string(&plain_value(rng, children)))
                },
                e_tag: (!delete).then(|| model.fresh(rng).to_string()),
                previous: None,
            });
        }
    }
    let faults = match rng.below(100) {
        0..=29 => 0,
        30..=64 => 1,
        65..=87 => 2,
        _ => 3,
    };
    let mut fatal = false;
    for _ in 0..faults {
        if items.is_empty() {
            break;
        }
        let i = rng.below(items.len());
        let has_value = |it: &Item| it.value.as_deref().is_some_and(|v| v != "\"null\"");
        let mut fault = *rng.pick(&FAULTS);
        // The two faults openmodule may accept end a sequence's comparison: rarer.
        if matches!(fault, Fault::NoETag | Fault::Duplicate) && rng.chance(50) {
            fault = *rng.pick(&FAULTS);
        }
        match fault {
            Fault::WrongPrevious => {
                if let Some(p) = &items[i].previous {
                    items[i].previous = Some(format!("{}", p.parse::<i64>().unwrap_or(0) + 1000));
                    fatal = true;
                }
            }
            Fault::NoPrevious => {
                if items[i].previous.take().is_some() {
                    fatal = true;
                }
            }
            Fault::PreviousForAbsent => {
                if items[i].previous.is_none() {
                    items[i].previous = Some(format!("{}", rng.below(50)));
                    fatal = true;
                }
            }
            Fault::Duplicate => {
                let mut copy = items[i].clone();
                if rng.chance(30) {
                    copy.value = Some(json_string("null"));
                    copy.e_tag = None;
                }
                items.push(copy);
                fatal = true;
            }
            Fault::NoETag => {
                if has_value(&items[i]) {
                    items[i].e_tag = None;
                    fatal = true;
                }
            }
            Fault::ETagOutOfRange => {
                if has_value(&items[i]) {
                    items[i].e_tag = Some(
                        (*rng.pick(&[
                            "9223372036854775808",
                            "18446744073709551615",
                            "\"99999999999999999999\"",
                            "\"-9223372036854775809\"",
                            "\"9_223_372_036_854_775_808\"",
                        ]))
                        .to_owned(),
                    );
                    fatal = true;
                }
            }
            Fault::ETagInvalid => {
                let token = (*rng.pick(&[
                    "1.5",
                    "-9223372036854775809",
                    "-9223372036854775808.0",
                    "9.3e18",
                    "1e19",
                    "18446744073709551616",
                    "\"abc\"",
                    "\"1e3\"",
                    "\"1.5\"",
                    "\"_1\"",
                    "\"1__0\"",
                    "\"\"",
                    "[1]",
                    "{}",
                ]))
                .to_owned();
                if rng.chance(50) {
                    items[i].e_tag = Some(token);
                } else {
                    items[i].previous = Some(token);
                }
                fatal = true;
            }
            Fault::ETagOddSpelling => {
                if let Some(tag) = items[i].e_tag.as_ref().and_then(|t| t.parse::<i64>().ok()) {
                    items[i].e_tag = Some(odd_spelling(rng, tag));
                }
                if let Some(tag) = items[i]
                    .previous
                    .as_ref()
                    .and_then(|t| t.parse::<i64>().ok())
                    && rng.chance(50)
                {
                    items[i].previous = Some(odd_spelling(rng, tag));
                }
            }
            Fault::BadJson => {
                items[i].value = Some(json_string(&bad_json(rng)));
                if items[i].e_tag.is_none() {
                    items[i].e_tag = Some(model.fresh(rng).to_string());
                }
                fatal = true;
            }
            Fault::ExoticValue => {
                items[i].value = Some(json_string(&exotic_json(rng)));
                if items[i].e_tag.is_none() {
                    items[i].e_tag = Some(model.fresh(rng).to_string());
                }
            }
            Fault::Rejected => {
                let v = if children && rng.chance(50) {
                    "{\"children\": [\"a\", 3]}"
                } else {
                    "{\"reject\": 1}"
                };
                items[i].value = Some(json_string(v));
                if items[i].e_tag.is_none() {
                    items[i].e_tag = Some(model.fresh(rng).to_string());
                }
                fatal = true;
            }
            Fault::NotAString => {
                if rng.chance(50) {
                    items[i].value = Some("{\"a\": 1}".into());
                } else {
                    items[i].key = "17".into();
                }
                fatal = true;
            }
        }
    }
    if !fatal {
        let state = model.tags.entry(service.to_owned()).or_default();
        for it in &items {
            let key: String = serde_json::from_str(&it.key).unwrap_or_default();
            let deleted = it.value.as_deref().is_none_or(|v| v == "\"null\"");
            match it.e_tag.as_ref().and_then(|t| t.parse::<i64>().ok()) {
                Some(tag) if !deleted => {
                    state.insert(key, tag);
                }
                _ if deleted => {
                    state.remove(&key);
                }
                _ => {}
            }
        }
    }
    let entries: Vec<String> = items
        .iter()
        .map(|it| {
            let mut fields = vec![format!("\"key\": {}", it.key)];
            if let Some(v) = &it.value {
                fields.push(format!("\"value\": {v}"));
            }
            if let Some(e) = &it.e_tag {
                fields.push(format!("\"e_tag\": {e}"));
            }
            if let Some(p) = &it.previous {
                fields.push(format!("\"previous_e_tag\": {p}"));
            }
            format!("{{{}}}", fields.join(", "))
        })
        .collect();
    format!(
        "{{\"service\": {}, \"kvs\": [{}]}}",
        json_string(service),
        entries.join(", ")
    )
}

/// One `sync`: the server's map with keys dropped, added, changed, nulled, oddly spelt.
fn generate_sync(rng: &mut Rng, model: &mut Model, service: &str) -> String {
    let state = model.tags.get(service).cloned().unwrap_or_default();
    let mut entries: Vec<String> = Vec::new();
    for (key, tag) in &state {
        let token = match rng.below(12) {
            0 => continue,
            1 => format!("{}", tag + 7),
            2 => "null".to_owned(),
            3 => odd_spelling(rng, *tag),
            _ => tag.to_string(),
        };
        entries.push(format!("{}: {token}", json_string(key)));
    }
    for _ in 0..rng.below(3) {
        let token = match rng.below(8) {
            0 => "\"99999999999999999999\"".to_owned(),
            1 => "9223372036854775808".to_owned(),
            2 => "1.5".to_owned(),
            3 => "-9223372036854775809".to_owned(),
            _ => format!("{}", rng.below(100)),
        };
        entries.push(format!(
            "{}: {token}",
            json_string(&format!("x{}", rng.below(9)))
        ));
    }
    format!(
        "{{\"service\": {}, \"kvs\": {{{}}}}}",
        json_string(service),
        entries.join(", ")
    )
}

struct Sequence {
    layout: &'static str,
    requests: Vec<String>,
}

fn generate(rng: &mut Rng) -> Sequence {
    let layout = *rng.pick(&LAYOUTS);
    let served = services(layout);
    let mut model = Model {
        next_tag: rng.below(1000) as i64,
        ..Model::default()
    };
    let mut requests = Vec::new();
    for _ in 0..(10 + rng.below(12)) {
        let mut service = rng.pick(&served).clone();
        let mut resource = Some(RESOURCE);
        let mut kind = if rng.chance(30) { "sync" } else { "set" };
        match rng.below(40) {
            0 => service = NAME.to_owned() + "_zz",
            1 => resource = Some("dev-2"),
            2 => resource = None,
            3 => kind = "get",
            _ => {}
        }
        let request = if kind == "sync" {
            generate_sync(rng, &mut model, &service)
        } else {
            generate_set(rng, &mut model, &service, layout == "children")
        };
        requests.push(envelope(rng, kind, resource, &request));
    }
    Sequence { layout, requests }
}

// ---- comparison -----------------------------------------------------------------------

const ETAG_TEXTS: [&str; 3] = [
    "Previous ETag given but not in database",
    "No previous ETag",
    "Previous ETag does not match",
];

/// A reply reduced to what must agree: `ok` replies whole, the status of other errors, the
/// ETag text or the class of a handler error.
fn class(reply: Option<&Value>, python: bool) -> String {
    let Some(reply) = reply else {
        return "no reply".into();
    };
    let status = reply["status"].as_str().unwrap_or("?");
    if status == "ok" {
        return reply.to_string();
    }
    if status != "handler_error" {
        return status.to_owned();
    }
    let text = reply["exception"].as_str().unwrap_or("");
    if let Some(t) = ETAG_TEXTS.iter().find(|t| text.starts_with(**t)) {
        return format!("handler_error: {t}");
    }
    let kind = if python {
        if text.contains("too large to convert") || text.contains("OverflowError") {
            "e_tag beyond 64 bits"
        } else if text.contains("UNIQUE constraint failed") {
            "a key twice"
        } else if text.contains("rejected by parse_value") || text.contains("a child is a string") {
            "parse_value refused"
        } else {
            "bad JSON"
        }
    } else if text.contains("does not fit a 64-bit integer") {
        "e_tag beyond 64 bits"
    } else if text.contains("appears more than once") {
        "a key twice"
    } else if text.contains("was refused") {
        "parse_value refused"
    } else if text.contains("is not valid JSON") {
        "bad JSON"
    } else if text.contains("no e_tag") {
        "a value without e_tag"
    } else {
        "other"
    };
    format!("handler_error: {kind}")
}

/// The deliberate differences (see the module docs): `Some(name)` when accepted.
fn accepted(theirs: &str, mine: &str) -> Option<&'static str> {
    if mine == "handler_error: a key twice" && theirs.starts_with('{') {
        Some("a key twice, applied by openmodule (one value), refused here")
    } else if mine == "handler_error: a value without e_tag" && theirs.starts_with('{') {
        Some("a value without e_tag, given one by openmodule's SQLite, refused here")
    } else {
        None
    }
}

#[derive(Debug, Default)]
struct Tally {
    requests: usize,
    classes: BTreeMap<String, usize>,
    accepted: BTreeMap<&'static str, usize>,
    differences: Vec<String>,
}

fn compare(index: usize, seq: &Sequence, theirs: &[Outcome], mine: &[Outcome], tally: &mut Tally) {
    for (k, (a, o)) in theirs.iter().zip(mine).enumerate() {
        tally.requests += 1;
        let (ca, co) = (
            class(a.reply.as_ref(), true),
            class(o.reply.as_ref(), false),
        );
        let key = if ca.starts_with('{') {
            let kind = if ca.contains("additions") {
                "sync ok"
            } else {
                "set ok"
            };
            kind.to_owned()
        } else {
            ca.clone()
        };
        *tally.classes.entry(key).or_default() += 1;
        if let Some(why) = accepted(&ca, &co) {
            *tally.accepted.entry(why).or_default() += 1;
            return;
        }
        let notes = |n: &[Vec<String>]| -> Vec<Vec<String>> {
            n.iter().filter(|k| !k.is_empty()).cloned().collect()
        };
        if ca != co || a.tables != o.tables || notes(&a.notes) != notes(&o.notes) {
            tally.differences.push(format!(
                "sequence {index} ({}) request {k}: {}\n  openmodule: {ca}\n  ours:       {co}\n  tables openmodule: {:?}\n  tables ours:       {:?}\n  notes: {:?} / {:?}\n  raw replies: {:?} / {:?}",
                seq.layout, seq.requests[k], a.tables, o.tables, a.notes, o.notes, a.reply, o.reply
            ));
            return;
        }
    }
}

fn openmodule_python() -> Option<PathBuf> {
    let candidates = std::env::var_os("OPENMODULE_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain(
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/db-toolkit/openmodule-18.5.0/bin/python")),
        );
    for python in candidates {
        let ok = Command::new(&python)
            .args(["-c", "import openmodule.utils.kv_store, orjson, zmq"])
            .env("SETTINGS_MODULE", "sys")
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(python);
        }
    }
    let why = "no Python with openmodule==18.5.0 (set OPENMODULE_PYTHON, or run .ci/run)";
    assert!(
        std::env::var_os("CI").is_none(),
        "{why}; CI is set, so it is required"
    );
    db_testkit::skip(why);
    None
}

fn run_openmodule(
    python: &PathBuf,
    sequences: &[Sequence],
    workdir: &std::path::Path,
) -> Vec<Vec<Outcome>> {
    let request = serde_json::json!({
        "workdir": workdir,
        "sequences": sequences.iter().map(|s| serde_json::json!({"layout": s.layout, "requests": s.requests})).collect::<Vec<_>>(),
    });
    let out: Vec<Vec<Outcome>> = db_testkit::json_lines(
        Command::new(python).arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/it/openmodule/differential.py"
        )),
        &request,
    );
    assert_eq!(out.len(), sequences.len());
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agrees_with_openmodule_on_generated_requests() {
    let Some(python) = openmodule_python() else {
        return;
    };
    let n: usize = db_testkit::env_number("KV_DIFF_SEQUENCES", 220);
    let mut rng = Rng::from_env("KV_DIFF_SEED", 20_261_207);
    let sequences: Vec<Sequence> = (0..n).map(|_| generate(&mut rng)).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let theirs = run_openmodule(&python, &sequences, dir.path());
    let mut tally = Tally::default();
    for (index, (seq, theirs)) in sequences.iter().zip(&theirs).enumerate() {
        let mine = ours(seq.layout, &seq.requests, dir.path(), index).await;
        compare(index, seq, theirs, &mine, &mut tally);
    }
    eprintln!(
        "openmodule differential: {n} sequences, {} requests compared, {} differences\n  reply classes: {:?}\n  accepted differences: {:?}",
        tally.requests,
        tally.differences.len(),
        tally.classes,
        tally.accepted
    );
    assert!(
        tally.differences.is_empty(),
        "{} differences from openmodule:\n{}",
        tally.differences.len(),
        tally
            .differences
            .iter()
            .take(6)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
