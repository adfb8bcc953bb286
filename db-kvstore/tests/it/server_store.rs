//! `db_kvstore::server::ServerStore` on every backend: e_tags from one counter, never given
//! twice (across reopening and concurrent writers), imports that keep unchanged entries'
//! e_tags, and pushes that reach a device or fall back to a full sync.

use std::collections::BTreeMap;
use std::time::Duration;

use db_kvstore::Local;
use db_kvstore::server::{ServerStore, push_change, sync_device};
use db_testkit::backend_tests;
use serde_json::json;

use crate::support::{NAME, create_tables, device, plates};

backend_tests! {
    async fn e_tags_are_never_given_twice(test_db: TestDb) {
        let db = test_db.open().await;
        let store = ServerStore::open(&db).await.expect("open");
        // Opening again (another process, a restart) keeps the counter.
        let again = ServerStore::open(&db).await.expect("open again");
        let (a, none) = store.put(NAME, "a", &json!({"plate": "A-1"})).await.expect("put");
        assert_eq!(none, None);
        let (a2, previous) = again.put(NAME, "a", &json!({"plate": "A-2"})).await.expect("put");
        assert_eq!(previous, Some(a));
        assert!(a2 > a, "a later e_tag: {a2} after {a}");
        // Concurrent writers through two handles: all e_tags distinct.
        let mut tasks = Vec::new();
        for i in 0..20 {
            let s = if i % 2 == 0 { store.clone() } else { again.clone() };
            tasks.push(tokio::spawn(async move {
                s.put(NAME, &format!("k{i}"), &json!({"plate": format!("P{i}")})).await.expect("put").0
            }));
        }
        let mut tags = vec![a, a2];
        for t in tasks {
            tags.push(t.await.expect("task"));
        }
        let count = tags.len();
        tags.sort_unstable();
        tags.dedup();
        assert_eq!(tags.len(), count, "distinct e_tags");
        assert_eq!(store.delete(NAME, "a").await.expect("delete"), Some(a2));
        let (a3, previous) = store.put(NAME, "a", &json!({"plate": "A-2"})).await.expect("put");
        assert_eq!(previous, None);
        assert!(tags.iter().all(|t| *t < a3), "a deleted key's new e_tag is new");
        // A key longer than the column is refused before the database.
        let long = "k".repeat(600);
        assert!(matches!(
            store.put(NAME, &long, &json!(1)).await,
            Err(db_kvstore::Error::EntryTooLarge { .. })
        ));
    }

    async fn imports_keep_unchanged_e_tags_and_reach_the_device(test_db: TestDb) {
        let db = test_db.open().await;
        create_tables(&db).await;
        let store = ServerStore::open(&db).await.expect("open");
        let file: BTreeMap<String, serde_json::Value> = BTreeMap::from([
            ("a".into(), json!({"plate": "A-1"})),
            ("b".into(), json!({"plate": "B-1"})),
        ]);
        let first = store.import(NAME, &file).await.expect("import");
        assert_eq!(first.changed, ["a", "b"]);
        let before = store.entries(NAME).await.expect("entries");
        let device = Local(device(&db));
        sync_device(&device, NAME, &before, 500, Duration::from_secs(5)).await.expect("sync");

        let mut file = file;
        file.insert("b".into(), json!({"plate": "B-2"}));
        file.remove("a");
        file.insert("c".into(), json!({"plate": "C-1"}));
        let second = store.import(NAME, &file).await.expect("import");
        assert_eq!((second.changed, second.removed, second.unchanged), (vec!["b".to_owned(), "c".to_owned()], vec!["a".to_owned()], 0));
        let again = store.import(NAME, &file).await.expect("import");
        assert_eq!((again.changed.len(), again.removed.len(), again.unchanged), (0, 0, 2));
        let after = store.entries(NAME).await.expect("entries");
        assert!(after["b"].e_tag > before["b"].e_tag);
        let summary = sync_device(&device, NAME, &after, 500, Duration::from_secs(5)).await.expect("sync");
        assert_eq!((summary.added, summary.changed, summary.deleted), (1, 1, 1));
        let rows: Vec<(String, String)> = plates(&db).await.into_iter().map(|(k, _, p)| (k, p)).collect();
        assert_eq!(rows, [("b".into(), "B-2".into()), ("c".into(), "C-1".into())]);

        // A pushed change applies; one built on a stale e_tag falls back to a full sync.
        let (tag, previous) = store.put(NAME, "c", &json!({"plate": "C-2"})).await.expect("put");
        let entries = store.entries(NAME).await.expect("entries");
        push_change(&device, NAME, "c", entries.get("c"), previous, &entries, Duration::from_secs(5)).await.expect("push");
        assert_eq!(plates(&db).await[1], ("c".into(), tag, "C-2".into()));
        let (tag, _) = store.put(NAME, "b", &json!({"plate": "B-3"})).await.expect("put");
        let entries = store.entries(NAME).await.expect("entries");
        push_change(&device, NAME, "b", entries.get("b"), Some(1), &entries, Duration::from_secs(5)).await.expect("push repaired by a sync");
        assert_eq!(plates(&db).await[0], ("b".into(), tag, "B-3".into()));
    }
}
