//! Integration tests of db-migrate: the revision graph and targets, and the runner on SQLite,
//! PostgreSQL and MariaDB.

mod graph;
mod runner;
mod support;
