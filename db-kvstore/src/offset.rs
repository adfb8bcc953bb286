//! openmodule's deterministic sync offset: after a (re)connect each service waits
//! `random.Random(int(sha256(NAME).hexdigest(), 16)).uniform(0.0, 10.0)` seconds, so a fleet
//! reconnecting at once spreads its syncs, and the same service always waits the same
//! (`utils/kv_store.py`; `reference/kv-sync-protocol.md` §1.7).

use std::time::Duration;

use rand_mt::Mt;
use sha2::{Digest, Sha256};

/// The offset of service `name`, as openmodule computes it: between 0 and 10 s.
///
/// ```
/// let d = db_kvstore::sync_offset("om_access_service_1");
/// assert!((d.as_secs_f64() - 4.547840103616587).abs() < 1e-9); // nanosecond resolution
/// ```
#[must_use]
pub fn sync_offset(name: &str) -> Duration {
    Duration::from_secs_f64(uniform(name, 0.0, 10.0))
}

/// Python's `random.Random(seed).uniform(a, b)` for the seed `int(sha256(name).hexdigest(), 16)`.
fn uniform(name: &str, a: f64, b: f64) -> f64 {
    let digest = Sha256::digest(name.as_bytes());
    // `random.seed(int)` runs `init_by_array` over the integer's 32-bit words, least
    // significant first; the digest is big-endian, so its last four bytes come first.
    let mut key: Vec<u32> = digest
        .chunks(4)
        .rev()
        .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
        .collect();
    // Python's integer has no leading zero words.
    while key.len() > 1 && key.last() == Some(&0) {
        key.pop();
    }
    let mut mt = Mt::new_with_key(key);
    // `random.random()`: 53 bits from two outputs.
    let hi = f64::from(mt.next_u32() >> 5);
    let lo = f64::from(mt.next_u32() >> 6);
    let r = (hi * 67_108_864.0 + lo) / 9_007_199_254_740_992.0;
    a + (b - a) * r
}

#[cfg(test)]
mod tests {
    use super::uniform;

    #[test]
    fn matches_python() {
        // Vectors from reference/kv-sync-protocol.md §1.7, computed by CPython.
        for (name, expected) in [
            ("om_dev_unnamed_1", 8.560660060372886),
            ("test", 8.249986433981078),
            ("om_access_service_1", 4.547840103616587),
        ] {
            let got = uniform(name, 0.0, 10.0);
            assert!(
                (got - expected).abs() < 1e-12,
                "{name}: {got} != {expected}"
            );
        }
    }
}
