//! Property: for random server histories with injected faults (lost sets, refused values,
//! stale pushes, interrupted syncs), once a sync succeeds the device's tables equal the
//! server's maps.

use std::collections::{BTreeMap, HashMap};

use db_testkit::kv::{FakeKvServer, Faults};
use proptest::prelude::*;
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{Value, json};

use crate::support::{GATES, NAME, create_tables, device, gate, plates};

#[derive(Clone, Debug)]
enum Op {
    /// Server sets a plate (`valid = false`: a value the device refuses).
    PutPlate { key: u8, plate: u8, valid: bool },
    /// Server sets a gate.
    PutGate { key: u8, open: bool },
    /// Server deletes a key.
    Remove { gates: bool, key: u8 },
    /// Server pushes keys, with the device's e_tags as last seen (`stale`: from an older
    /// snapshot, which the device may refuse).
    Push {
        gates: bool,
        keys: Vec<u8>,
        stale: bool,
    },
    /// The next `n` sets never reach the device.
    LoseSets(u8),
    /// A sync (it may fail or be cut short by the faults).
    Sync { gates: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..6, 0u8..4, prop::bool::weighted(0.85)).prop_map(|(key, plate, valid)| Op::PutPlate { key, plate, valid }),
        2 => (0u8..4, any::<bool>()).prop_map(|(key, open)| Op::PutGate { key, open }),
        2 => (any::<bool>(), 0u8..6).prop_map(|(gates, key)| Op::Remove { gates, key }),
        3 => (any::<bool>(), prop::collection::vec(0u8..6, 1..4), any::<bool>()).prop_map(|(gates, keys, stale)| Op::Push { gates, keys, stale }),
        1 => (1u8..3).prop_map(Op::LoseSets),
        2 => any::<bool>().prop_map(|gates| Op::Sync { gates }),
    ]
}

fn key(k: u8) -> String {
    format!("k{k}")
}

async fn device_tags(db: &db_core::Database, gates: bool) -> HashMap<String, i64> {
    if gates {
        gate::Entity::find()
            .all(db)
            .await
            .expect("gates")
            .into_iter()
            .map(|g| (g.key, g.e_tag))
            .collect()
    } else {
        plates(db)
            .await
            .into_iter()
            .map(|(k, t, _)| (k, t))
            .collect()
    }
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let db = db_core::Database::connect("sqlite::memory:")
        .await
        .expect("open");
    create_tables(&db).await;
    let device = device(&db);
    let server = FakeKvServer::new(device.clone());
    let mut snapshot: [HashMap<String, i64>; 2] = Default::default();
    for op in ops {
        match op {
            Op::PutPlate {
                key: k,
                plate,
                valid,
            } => {
                let value = if valid {
                    json!({"plate": format!("P{plate}")})
                } else {
                    json!({"plate": plate})
                };
                server.put(NAME, &key(k), value);
            }
            Op::PutGate { key: k, open } => {
                server.put(GATES, &key(k), json!(open));
            }
            Op::Remove { gates, key: k } => {
                server.remove(if gates { GATES } else { NAME }, &key(k))
            }
            Op::Push { gates, keys, stale } => {
                let service = if gates { GATES } else { NAME };
                let tags = if stale {
                    snapshot[usize::from(gates)].clone()
                } else {
                    device_tags(&db, gates).await
                };
                let keys: Vec<String> = keys.into_iter().map(key).collect();
                let mut unique: Vec<&str> = keys.iter().map(String::as_str).collect();
                unique.sort_unstable();
                unique.dedup();
                // Refusals (stale e_tags, invalid values) are expected; the sync heals them.
                let _ = server.push(service, &unique, &tags).await;
            }
            Op::LoseSets(n) => server.inject(Faults {
                lose_sets: u32::from(n),
                ..Faults::default()
            }),
            Op::Sync { gates } => {
                let _ = server.sync(if gates { GATES } else { NAME }).await;
            }
        }
        snapshot = [device_tags(&db, false).await, device_tags(&db, true).await];
    }
    // The server fixes values the device refuses, faults stop, and a sync succeeds.
    for (k, entry) in server.entries(NAME) {
        if !entry.value["plate"].is_string() {
            server.put(NAME, &k, json!({"plate": "fixed"}));
        }
    }
    server.clear_faults();
    server
        .sync(NAME)
        .await
        .map_err(|e| TestCaseError::fail(format!("final sync: {e}")))?;
    server
        .sync(GATES)
        .await
        .map_err(|e| TestCaseError::fail(format!("final sync: {e}")))?;

    let want_plates: BTreeMap<String, (i64, Value)> = server
        .entries(NAME)
        .into_iter()
        .map(|(k, e)| (k, (e.e_tag, e.value["plate"].clone())))
        .collect();
    let have_plates: BTreeMap<String, (i64, Value)> = plates(&db)
        .await
        .into_iter()
        .map(|(k, t, p)| (k, (t, json!(p))))
        .collect();
    prop_assert_eq!(have_plates, want_plates);
    let want_gates: BTreeMap<String, (i64, bool)> = server
        .entries(GATES)
        .into_iter()
        .map(|(k, e)| (k, (e.e_tag, e.value.as_bool().unwrap_or_default())))
        .collect();
    let have_gates: BTreeMap<String, (i64, bool)> = gate::Entity::find()
        .order_by_asc(gate::Column::Key)
        .all(&db)
        .await
        .expect("gates")
        .into_iter()
        .map(|g| (g.key, (g.e_tag, g.open)))
        .collect();
    prop_assert_eq!(have_gates, want_gates);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn the_device_converges_to_the_server(ops in prop::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(run(ops))?;
    }
}
