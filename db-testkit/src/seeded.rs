//! A small deterministic random generator for generative tests (differential runs against
//! Alembic and openmodule): the same seed gives the same cases on every machine, so a CI
//! failure reproduces with `…_SEED=<seed>`.

/// xorshift64* (Vigna): fast, deterministic, good enough to pick cases; not for secrets.
///
/// ```
/// let mut rng = db_testkit::SeededRng::new(7);
/// let pick = *rng.pick(&["a", "b"]);
/// assert!(rng.below(10) < 10);
/// assert!(pick == "a" || pick == "b");
/// ```
#[derive(Clone, Debug)]
pub struct SeededRng(u64);

impl SeededRng {
    /// A generator for `seed` (any value; zero is made odd).
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// The seed from the environment variable `var`, else `default`, as a generator.
    #[must_use]
    pub fn from_env(var: &str, default: u64) -> Self {
        Self::new(env_number(var, default))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % n as u64).unwrap_or(0)
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// One of `items` (not empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The number in the environment variable `var`, else `default` (a case count, a seed).
#[must_use]
pub fn env_number<T: std::str::FromStr>(var: &str, default: T) -> T {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}
