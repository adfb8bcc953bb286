//! Integration tests of db-migrate: the revision graph and targets, and the runner on SQLite,
//! PostgreSQL and MariaDB.

mod autogen;
mod backups;
mod batch;
mod cli;
mod differential;
mod graph;
mod init;
mod lint;
mod progress;
mod r0123456789ab_add_course_capacity;
mod runner;
mod safety;
mod scaffold;
mod support;
mod testkit;
