//! KV-sync speed and memory on SQLite, side by side in one run on copies of one database file:
//!
//! - answering `sync` for 100,000 keys (nothing differs) next to reading the 100,000
//!   `(key, e_tag)` pairs raw through sea-orm (target: within 1.2×), and next to SQLAlchemy
//!   reading them;
//! - the memory the sync allocates beyond its request, at 50,000 and 100,000 keys (target:
//!   independent of the key count; it holds one page of 50,000 rows);
//! - applying a `set` that replaces 10,000 keys next to plain sea-orm doing it row by row
//!   (find, delete, insert in one transaction) and SQLAlchemy Core (`DELETE … IN`, executemany
//!   `INSERT`) (target: faster than SQLAlchemy Core).
//!
//! Run with: `cargo bench -p db-kvstore --bench kv` (SQLAlchemy's rows need `python3` with
//! `sqlalchemy`, which Alembic brings; without it they are skipped).

#![expect(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::path::Path;
use std::time::{Duration, Instant};

use db_kvstore::wire::{KvSetItem, KvSetRequest, KvSyncRequest, WireInt};
use db_kvstore::{KvStore, KvStores, Parsed};
use peak_alloc::PeakAlloc;
use sea_orm::ActiveValue::Set;
use sea_orm::{ConnectionTrait, EntityTrait, Statement, TransactionTrait};

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

const KEYS: usize = 100_000;
const SET_KEYS: usize = 10_000;
const RUNS: usize = 7;

#[expect(unreachable_pub, reason = "an entity module as users write it")]
mod plate {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "kv_plate")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub e_tag: i64,
        pub plate: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn store() -> KvStore<plate::Entity> {
    KvStore::<plate::Entity>::new(|_, value| {
        let plate = value.as_str().ok_or("a plate is a string")?.to_owned();
        Ok(Parsed::new(plate::ActiveModel {
            plate: Set(plate),
            ..Default::default()
        }))
    })
}

fn key(i: usize) -> String {
    format!("plate-{i:06}")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn open(path: &Path) -> db_core::Database {
    db_core::Database::open(db_core::OpenOptions::new(format!(
        "sqlite://{}",
        path.display()
    )))
    .await
    .expect("open")
}

/// A database of `n` plates with e_tag = index.
async fn prepare(path: &Path, n: usize) {
    let db = open(path).await;
    db.execute_unprepared(
        "CREATE TABLE kv_plate (key VARCHAR(64) NOT NULL PRIMARY KEY, e_tag BIGINT NOT NULL, plate VARCHAR(32) NOT NULL)",
    )
    .await
    .expect("create");
    let txn = db.connection().begin().await.expect("begin");
    for chunk in (0..n).collect::<Vec<_>>().chunks(5_000) {
        plate::Entity::insert_many(chunk.iter().map(|&i| plate::ActiveModel {
            key: Set(key(i)),
            e_tag: Set(i64::try_from(i).unwrap_or_default()),
            plate: Set(format!("G-{i}")),
        }))
        .exec_without_returning(&txn)
        .await
        .expect("insert");
    }
    txn.commit().await.expect("commit");
    db.close().await.expect("close");
}

fn sync_request(n: usize) -> KvSyncRequest {
    KvSyncRequest {
        service: "svc".into(),
        kvs: (0..n)
            .map(|i| (key(i), Some(WireInt(i128::try_from(i).unwrap_or_default()))))
            .collect(),
    }
}

async fn raw_pairs(db: &db_core::Database) -> usize {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT key, e_tag FROM kv_plate",
        ))
        .await
        .expect("read");
    rows.iter()
        .map(|r| {
            let k: String = r.try_get_by_index(0).expect("key");
            let t: i64 = r.try_get_by_index(1).expect("e_tag");
            k.len() + usize::try_from(t).unwrap_or_default()
        })
        .count()
}

/// Peak bytes the sync allocates beyond what was allocated before it (request included).
async fn sync_memory(dir: &Path, n: usize) -> usize {
    let path = dir.join(format!("mem{n}.sqlite3"));
    prepare(&path, n).await;
    let db = open(&path).await;
    let mut stores = KvStores::new(&db, "svc", "r");
    stores.add(store()).expect("store");
    let request = sync_request(n);
    let before = ALLOC.current_usage();
    ALLOC.reset_peak_usage();
    let answer = stores.sync(&request).await.expect("served").expect("sync");
    let peak = ALLOC.peak_usage().saturating_sub(before);
    assert!(answer.missing.is_empty() && answer.changes.is_empty());
    peak
}

fn set_request(n: usize, round: i64) -> KvSetRequest {
    KvSetRequest {
        service: "svc".into(),
        kvs: (0..n)
            .map(|i| {
                let base = i64::try_from(i).unwrap_or_default();
                KvSetItem {
                    key: key(i),
                    value: format!("\"N-{i}-{round}\""),
                    e_tag: Some(WireInt::from(base + 1_000_000 * (round + 1))),
                    previous_e_tag: Some(WireInt::from(base + 1_000_000 * round)),
                }
            })
            .collect(),
    }
}

/// What a sea-orm user writes by hand: per key, find, delete and insert, in one transaction.
async fn plain_set(db: &db_core::Database, request: &KvSetRequest) {
    let txn = db.connection().begin().await.expect("begin");
    for kv in &request.kvs {
        let found = plate::Entity::find_by_id(kv.key.clone())
            .one(&txn)
            .await
            .expect("find");
        assert!(found.is_some());
        plate::Entity::delete_by_id(kv.key.clone())
            .exec(&txn)
            .await
            .expect("delete");
        let value: String = serde_json::from_str(&kv.value).expect("json");
        plate::Entity::insert(plate::ActiveModel {
            key: Set(kv.key.clone()),
            e_tag: Set(kv.e_tag.and_then(WireInt::as_i64).unwrap_or_default()),
            plate: Set(value),
        })
        .exec_without_returning(&txn)
        .await
        .expect("insert");
    }
    txn.commit().await.expect("commit");
}

const SQLALCHEMY: &str = r#"
import json, sys, time, sqlalchemy as sa
path, n, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
engine = sa.create_engine(f"sqlite:///{path}")
t = sa.Table("kv_plate", sa.MetaData(), sa.Column("key", sa.String, primary_key=True),
             sa.Column("e_tag", sa.BigInteger), sa.Column("plate", sa.String))
reads, sets = [], []
for r in range(runs):
    s = time.perf_counter()
    with engine.connect() as c:
        pairs = c.execute(sa.select(t.c.key, t.c.e_tag)).all()
    reads.append(time.perf_counter() - s)
    keys = [f"plate-{i:06}" for i in range(n)]
    rows = [{"key": k, "e_tag": 5_000_000 + r * 100_000 + i, "plate": json.loads(f'"S-{i}"')} for i, k in enumerate(keys)]
    s = time.perf_counter()
    with engine.begin() as c:
        current = dict(c.execute(sa.select(t.c.key, t.c.e_tag).where(t.c.key.in_(keys))).all())
        c.execute(sa.delete(t).where(t.c.key.in_(keys)))
        c.execute(sa.insert(t), rows)
    sets.append(time.perf_counter() - s)
print(json.dumps({"read": sorted(reads)[runs // 2], "set": sorted(sets)[runs // 2], "pairs": len(pairs)}))
"#;

/// SQLAlchemy's (read 100,000 pairs, Core set of `n` keys) medians, if Python has it.
fn sqlalchemy(path: &Path, n: usize) -> Option<(Duration, Duration)> {
    let out = std::process::Command::new("python3")
        .args(["-c", SQLALCHEMY])
        .arg(path)
        .arg(n.to_string())
        .arg(RUNS.to_string())
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "SQLAlchemy skipped: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some((
        Duration::from_secs_f64(v["read"].as_f64()?),
        Duration::from_secs_f64(v["set"].as_f64()?),
    ))
}

async fn run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = dir.path().join("base.sqlite3");
    prepare(&base, KEYS).await;
    let copy = |name: &str| {
        let p = dir.path().join(name);
        std::fs::copy(&base, &p).expect("copy");
        p
    };

    // sync of 100,000 keys vs. the raw read
    let db = open(&copy("sync.sqlite3")).await;
    let mut stores = KvStores::new(&db, "svc", "r");
    stores.add(store()).expect("store");
    let (mut raw, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let s = Instant::now();
        assert_eq!(raw_pairs(&db).await, KEYS);
        raw.push(s.elapsed());
        let request = sync_request(KEYS);
        let s = Instant::now();
        let answer = stores.sync(&request).await.expect("served").expect("sync");
        ours.push(s.elapsed());
        assert!(
            answer.additions.is_empty() && answer.changes.is_empty() && answer.missing.is_empty()
        );
    }
    let (raw, ours) = (median(raw), median(ours));

    // set of 10,000 keys: ours vs plain sea-orm, each on its own copy
    let db_set = open(&copy("set.sqlite3")).await;
    let mut set_stores = KvStores::new(&db_set, "svc", "r");
    set_stores.add(store()).expect("store");
    let db_plain = open(&copy("plain.sqlite3")).await;
    let (mut set_ours, mut set_plain) = (Vec::new(), Vec::new());
    for round in 0..RUNS {
        let round = i64::try_from(round).unwrap_or_default();
        let request = set_request(SET_KEYS, round);
        let s = Instant::now();
        set_stores
            .set(&request)
            .await
            .expect("served")
            .expect("set");
        set_ours.push(s.elapsed());
        let s = Instant::now();
        plain_set(&db_plain, &request).await;
        set_plain.push(s.elapsed());
    }
    let (set_ours, set_plain) = (median(set_ours), median(set_plain));

    let mem_50k = sync_memory(dir.path(), 50_000).await;
    let mem_100k = sync_memory(dir.path(), KEYS).await;
    let alchemy = sqlalchemy(&copy("alchemy.sqlite3"), SET_KEYS);

    println!("SQLite, medians of {RUNS} runs\n");
    println!(
        "| operation | db-kvstore | plain sea-orm | SQLAlchemy | ours / sea-orm | ours / SQLAlchemy |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    let alc = |i: usize| alchemy.map(|a| if i == 0 { a.0 } else { a.1 });
    let cell =
        |d: Option<Duration>| d.map_or_else(|| "–".to_owned(), |d| format!("{:.1} ms", ms(d)));
    let ratio = |a: Duration, b: Option<Duration>| {
        b.map_or_else(|| "–".to_owned(), |b| format!("{:.2}×", ms(a) / ms(b)))
    };
    println!(
        "| sync answer, {KEYS} keys (sea-orm: raw read of the pairs) | {:.1} ms | {:.1} ms | {} | {:.2}× | {} |",
        ms(ours),
        ms(raw),
        cell(alc(0)),
        ms(ours) / ms(raw),
        ratio(ours, alc(0))
    );
    println!(
        "| set replacing {SET_KEYS} keys (sea-orm: find, delete, insert per key; SQLAlchemy: Core) | {:.1} ms | {:.1} ms | {} | {:.2}× | {} |",
        ms(set_ours),
        ms(set_plain),
        cell(alc(1)),
        ms(set_ours) / ms(set_plain),
        ratio(set_ours, alc(1))
    );
    println!(
        "\nsync memory beyond the request: {:.1} KiB at 50,000 keys, {:.1} KiB at {KEYS} keys",
        mem_50k as f64 / 1024.0,
        mem_100k as f64 / 1024.0
    );
    println!(
        "targets: sync ≤ 1.2× raw: {}; set faster than SQLAlchemy Core: {}",
        if ms(ours) <= 1.2 * ms(raw) {
            "met"
        } else {
            "NOT met"
        },
        alc(1).map_or("not measured", |a| if set_ours < a {
            "met"
        } else {
            "NOT met"
        })
    );
    db.close().await.expect("close");
}

fn main() {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run());
}
