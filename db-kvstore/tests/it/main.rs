//! Integration tests of db-kvstore: the wire format, the device side on SQLite, PostgreSQL
//! and MariaDB, the sync handler in paused time, and the NATS transport.

mod convergence;
mod differential;
mod handler;
mod large;
mod nats;
mod server_store;
mod store;
mod support;
mod wire;
