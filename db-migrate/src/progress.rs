//! The migrator CLI's output on stderr: one plain line per event (level and message, no span
//! prefix), and, when stderr is a terminal, a progress bar over the steps of a run that the
//! log lines print above. The bar follows the runner's `migration` spans (`step` of `of`).

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// The progress bar of the current run, if one is shown; `enabled` when stderr is a terminal.
#[derive(Clone, Default)]
pub(crate) struct Progress {
    bar: Arc<Mutex<Option<ProgressBar>>>,
    enabled: bool,
}

impl Progress {
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            bar: Arc::default(),
            enabled,
        }
    }

    fn current(&self) -> Option<ProgressBar> {
        self.bar
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Removes the bar (the run ended, or failed).
    pub(crate) fn clear(&self) {
        if let Some(bar) = self
            .bar
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            bar.finish_and_clear();
        }
    }
}

/// The fields of a `migration` span.
#[derive(Default)]
struct StepFields {
    revision: String,
    direction: String,
    step: u64,
    of: u64,
}

impl Visit for StepFields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "step" => self.step = value,
            "of" => self.of = value,
            _ => {}
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_u64(field, u64::try_from(value).unwrap_or(0));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "direction" {
            value.clone_into(&mut self.direction);
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "revision" => self.revision = format!("{value:?}"),
            "direction" => self.direction = format!("{value:?}"),
            _ => {}
        }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Progress {
    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        if !self.enabled || attrs.metadata().name() != "migration" {
            return;
        }
        let mut f = StepFields::default();
        attrs.record(&mut f);
        let mut slot = self.bar.lock().unwrap_or_else(PoisonError::into_inner);
        let bar = slot.get_or_insert_with(|| {
            let bar = ProgressBar::with_draw_target(Some(f.of), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        bar.set_length(f.of);
        bar.set_position(f.step.saturating_sub(1));
        bar.set_message(format!("{} {}", f.direction, f.revision));
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if !self.enabled || ctx.span(&id).is_none_or(|s| s.name() != "migration") {
            return;
        }
        if let Some(bar) = self.current() {
            bar.inc(1);
        }
    }
}

/// A log line, written in one piece, above the bar when there is one.
pub(crate) struct LineWriter {
    progress: Progress,
    buf: Vec<u8>,
}

impl Write for LineWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        let data = std::mem::take(&mut self.buf);
        let write = || {
            let _ = std::io::stderr().write_all(&data);
        };
        match self.progress.current() {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }
}

impl<'a> MakeWriter<'a> for Progress {
    type Writer = LineWriter;
    fn make_writer(&'a self) -> LineWriter {
        LineWriter {
            progress: self.clone(),
            buf: Vec::new(),
        }
    }
}

/// `LEVEL message`, without the span prefix or the structured fields (the runner's
/// messages say which migration they are about and how long it took).
pub(crate) struct Plain;

impl<S, N> FormatEvent<S, N> for Plain
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let _ = ctx;
        let mut message = Message(String::new());
        event.record(&mut message);
        let text = db_core::scrub(&message.0);
        writeln!(writer, "{:>5} {}", event.metadata().level(), text)
    }
}

/// An event's `message` (its other fields are for services that collect them).
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            value.clone_into(&mut self.0);
        }
    }
}
