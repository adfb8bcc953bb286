//! SQLite's rules.

use super::SessionScope;

/// SQLite takes any name; only the common rules (no NUL, controls or quotes) apply.
pub(super) fn check(_name: &str) -> Result<(), String> {
    Ok(())
}

/// A SQLite connection works in its `main` database; there are no schemas.
pub(super) fn session_scope() -> SessionScope {
    SessionScope {
        database: "main".into(),
        schema: "main".into(),
    }
}
