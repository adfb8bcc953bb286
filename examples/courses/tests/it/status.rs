//! Machine-readable status: `current --format json` and `current --check-heads` (exit 3 unless
//! the database is at every head) in each state — base, behind, at head, on two branches at
//! once, at a revision the scripts do not know — and `heads`, `history` and `check` as JSON.

use db_testkit::backend_tests;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::{HEAD, migrate, ok, stderr, stdout};

fn current_json(url: &str) -> Value {
    serde_json::from_str(&ok(url, &["current", "--format", "json"])).expect("one JSON document")
}

/// `current --check-heads`: its exit code and stderr.
fn check_heads(url: &str) -> (Option<i32>, String) {
    let o = migrate(url, &["current", "--check-heads"]);
    (o.status.code(), stderr(&o))
}

backend_tests! {
    async fn current_reports_every_state(test_db: TestDb) {
        let url = test_db.url();
        // Base: nothing applied (an empty database; `current` never creates one).
        test_db.open().await.close().await.expect("close");
        let base = current_json(url);
        assert_eq!(base["current"], json!([]));
        assert_eq!(base["heads"], json!([HEAD]));
        assert_eq!(base["at_head"], json!(false));
        assert_eq!(base["unresolved"], Value::Null);
        assert_eq!(check_heads(url), (Some(3), format!("error: the database is at <base>, not at head ({HEAD})\n")));
        // Behind: one revision.
        ok(url, &["upgrade", "+1"]);
        let behind = current_json(url);
        assert_eq!(behind["current"], json!(["1b9f0c7e5a21"]));
        assert_eq!(behind["at_head"], json!(false));
        let rev = &behind["revisions"][0];
        assert_eq!(rev["revision"], json!("1b9f0c7e5a21"));
        assert_eq!(rev["down_revisions"], json!([]));
        assert_eq!(rev["message"], json!("create users and organizations"));
        assert_eq!((rev["is_head"].clone(), rev["is_current"].clone()), (json!(false), json!(true)));
        assert_eq!(check_heads(url).0, Some(3));
        // Two branches at once: two rows, neither the head.
        ok(url, &["upgrade", "9a3b5c7d2e14"]);
        ok(url, &["upgrade", "f1e2d3c4b5a6"]);
        let branches = current_json(url);
        let mut rows: Vec<String> = serde_json::from_value(branches["current"].clone()).expect("ids");
        rows.sort();
        assert_eq!(rows, ["9a3b5c7d2e14", "f1e2d3c4b5a6"]);
        assert_eq!(branches["at_head"], json!(false));
        assert_eq!(branches["revisions"].as_array().map(Vec::len), Some(2));
        assert_eq!(check_heads(url), (Some(3), format!("error: the database is at 9a3b5c7d2e14, f1e2d3c4b5a6, not at head ({HEAD})\n")));
        // At head: exit 0, and the text output is Alembic's.
        ok(url, &["upgrade", "head"]);
        let head = current_json(url);
        assert_eq!((head["current"].clone(), head["at_head"].clone()), (json!([HEAD]), json!(true)));
        assert_eq!(head["revisions"][0]["is_head"], json!(true));
        assert_eq!(head["unknown"], json!([]));
        let o = migrate(url, &["current", "--check-heads"]);
        assert_eq!(o.status.code(), Some(0));
        assert_eq!(stdout(&o), format!("{HEAD} (head)\n"));
        // A revision these scripts do not know (a newer release ran, say).
        let db = test_db.open().await;
        db.execute_unprepared("UPDATE alembic_version SET version_num = 'feedfacecafe'").await.expect("update");
        db.close().await.expect("close");
        let unknown = current_json(url);
        assert_eq!(unknown["current"], json!(["feedfacecafe"]));
        assert_eq!(unknown["unknown"], json!(["feedfacecafe"]));
        assert_eq!(unknown["revisions"], json!([]));
        assert_eq!(unknown["at_head"], json!(false));
        assert_eq!(check_heads(url).0, Some(3));
    }

    async fn heads_history_and_check_as_json(test_db: TestDb) {
        let url = test_db.url();
        ok(url, &["upgrade", "6b8a4f2e1c93"]);
        let heads: Value = serde_json::from_str(&ok(url, &["heads", "--format", "json"])).expect("json");
        assert_eq!(heads["heads"].as_array().map(Vec::len), Some(1));
        assert_eq!(heads["heads"][0]["revision"], json!(HEAD));
        assert_eq!(heads["heads"][0]["is_current"], Value::Null, "heads does not read the database");
        let history: Value = serde_json::from_str(&ok(url, &["history", "-i", "--format", "json"])).expect("json");
        let revisions = history["revisions"].as_array().expect("array");
        assert_eq!(revisions.len(), 11);
        assert_eq!(revisions[0]["revision"], json!(HEAD), "newest first");
        let merge = revisions.iter().find(|r| r["revision"] == json!("6b8a4f2e1c93")).expect("merge");
        assert_eq!((merge["is_merge_point"].clone(), merge["is_current"].clone()), (json!(true), json!(true)));
        assert_eq!(merge["down_revisions"], json!(["9a3b5c7d2e14", "f1e2d3c4b5a6"]));
        let branch = revisions.iter().find(|r| r["revision"] == json!("e7a2c8b41d56")).expect("branch point");
        assert_eq!((branch["is_branch_point"].clone(), branch["is_current"].clone()), (json!(true), json!(false)));
        let range: Value = serde_json::from_str(&ok(url, &["history", "-r", "6b8a4f2e1c93:", "--format", "json"])).expect("json");
        let ids: Vec<&str> = range["revisions"].as_array().expect("array").iter().filter_map(|r| r["revision"].as_str()).collect();
        assert_eq!(ids, [HEAD, "d2c4e6a8b0f1", "6b8a4f2e1c93"]);
        assert_eq!(range["revisions"][0]["is_current"], Value::Null);
        // check: not at head is an error (exit 1); at head the JSON says ok.
        assert_eq!(migrate(url, &["check", "--format", "json"]).status.code(), Some(1));
        ok(url, &["upgrade", "head"]);
        let check: Value = serde_json::from_str(&ok(url, &["check", "--format", "json"])).expect("json");
        assert_eq!(check, json!({"ok": true, "changes": [], "changed_scripts": []}));
        let db = test_db.open().await;
        db.execute_unprepared("CREATE INDEX ix_extra ON courses (name)").await.expect("index");
        db.close().await.expect("close");
        let o = migrate(url, &["check", "--format", "json"]);
        assert_eq!(o.status.code(), Some(1));
        let check: Value = serde_json::from_str(&stdout(&o)).expect("json");
        assert_eq!(check["ok"], json!(false));
        assert_eq!(check["changes"].as_array().map(Vec::len), Some(1), "{check}");
    }
}
