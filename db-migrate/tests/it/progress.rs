//! The runner's tracing: one `migration` span per step (revision, direction, step of N), a
//! `done … in N ms` event with `duration_ms` after each, and `still running` every few
//! seconds while a long step runs.

use std::sync::{Arc, Mutex};

use db_migrate::{Migrator, PROGRESS_TARGET};
use sea_orm_migration::prelude::*;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use crate::support::{noop, sql};

/// Spans (name and fields) and progress events (message), in order.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.push_str(&format!(" {value:?}"));
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push_str(&format!(" {}={value}", field.name()));
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Recorder {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: Context<'_, S>,
    ) {
        let mut f = Fields(format!("span {}", attrs.metadata().name()));
        attrs.record(&mut f);
        self.0.lock().expect("lock").push(f.0);
    }
    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != PROGRESS_TARGET {
            return;
        }
        let inside = ctx.event_span(event).map_or("-", |s| s.name());
        let mut f = Fields(format!("event in {inside}:"));
        event.record(&mut f);
        self.0.lock().expect("lock").push(f.0);
    }
}

/// A migration that takes `seconds` to run.
struct Slow(u64);

impl MigrationName for Slow {
    fn name(&self) -> &str {
        "slow"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Slow {
    async fn up(&self, _: &SchemaManager) -> Result<(), DbErr> {
        tokio::time::sleep(std::time::Duration::from_secs(self.0)).await;
        Ok(())
    }
    async fn down(&self, _: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}

#[tokio::test]
async fn each_step_has_a_span_a_duration_and_says_it_is_alive() {
    let recorder = Recorder::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder.clone()));
    let m = Migrator::new(vec![
        sql(
            "aa00aa00aa00",
            &["CREATE TABLE t (id INTEGER PRIMARY KEY)"],
            &["DROP TABLE t"],
        ),
        db_migrate::Script::new("bb00bb00bb00", Slow(6))
            .revises("aa00aa00aa00")
            .message("slow"),
        noop("cc00cc00cc00").revises("bb00bb00bb00"),
    ])
    .expect("graph");
    let db = db_core::Database::connect("sqlite::memory:")
        .await
        .expect("db");
    m.upgrade(&db, "head").await.expect("upgrade");
    let lines = recorder.0.lock().expect("lock").clone();
    let spans: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("span migration"))
        .collect();
    assert_eq!(
        spans,
        [
            "span migration revision=aa00aa00aa00 direction=upgrade step=1 of=3",
            "span migration revision=bb00bb00bb00 direction=upgrade step=2 of=3",
            "span migration revision=cc00cc00cc00 direction=upgrade step=3 of=3",
        ],
        "{lines:#?}"
    );
    let events: Vec<&String> = lines.iter().filter(|l| l.starts_with("event")).collect();
    assert!(
        events[0].starts_with("event in migration: running upgrade <base> -> aa00aa00aa00"),
        "{events:#?}"
    );
    assert!(
        events.iter().any(
            |e| e.starts_with("event in migration: done upgrade aa00aa00aa00 in ")
                && e.contains("duration_ms=")
        ),
        "{events:#?}"
    );
    let alive: Vec<&&String> = events
        .iter()
        .filter(|e| e.contains("still running upgrade bb00bb00bb00 (5 s)"))
        .collect();
    assert_eq!(alive.len(), 1, "{events:#?}");
    let slow_done = events
        .iter()
        .find(|e| e.contains("done upgrade bb00bb00bb00 in "))
        .expect("done");
    let ms: u64 = slow_done
        .split("bb00bb00bb00 in ")
        .nth(1)
        .and_then(|r| r.split(" ms").next())
        .and_then(|n| n.parse().ok())
        .expect("ms");
    assert!(ms >= 6_000, "{slow_done}");
    // Downgrades too, counted from 1.
    recorder.0.lock().expect("lock").clear();
    m.downgrade(&db, "base").await.expect("downgrade");
    let lines = recorder.0.lock().expect("lock").clone();
    assert!(
        lines.contains(
            &"span migration revision=aa00aa00aa00 direction=downgrade step=3 of=3".to_owned()
        ),
        "{lines:#?}"
    );
}
