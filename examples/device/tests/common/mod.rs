//! Shared by the integration tests and the fleet benchmark (`#[path]`-included by both).

use std::io::BufRead;
use std::time::Duration;

/// Starts this package's `kv-server` program with `args` and returns once it logs that it
/// serves, within `ready_within`; the process is killed when the returned guard drops.
///
/// # Panics
/// When the program cannot be started or does not serve in time (a test or benchmark
/// failure).
pub(crate) fn start_kv_server(args: &[&str], ready_within: Duration) -> db_testkit::KillOnDrop {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kv-server"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("kv-server");
    let out = child.stdout.take().expect("stdout");
    let server = db_testkit::KillOnDrop(child);
    let (ready, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if line.contains("serving") {
                let _ = ready.send(());
            }
        }
    });
    wait.recv_timeout(ready_within)
        .expect("the kv-server process starts serving");
    server
}
