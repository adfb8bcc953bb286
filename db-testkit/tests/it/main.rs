//! Integration tests of db-testkit: templates and their clone pools, the exit clean-up and the
//! sweep after a killed run, skip reporting and backend choice — through a small SQL harness
//! (db-testkit does not depend on db-migrate; db-migrate's own tests drive a real `Migrator`).

mod harness;
mod pool;
mod skips;
mod templates;
