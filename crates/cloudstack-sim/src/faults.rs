//! Seeded fault injection (`--fault-rate`, `--fault-seed`): transient failures before or
//! after a change is applied, so clients' retry and recovery logic can be tested.
//!
//! Every request draws the same number of random values, so the same seed and the same
//! request order give the same faults. Faults never corrupt state: a "before" fault
//! answers without touching the world, an "after" fault answers once the change is
//! fully applied and saved.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Mutex;

/// One injected failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// 503 from "a proxy in front", nothing applied.
    UnavailableBefore,
    /// 530 internal error, nothing applied.
    InternalBefore,
    /// Connection closed without an answer, nothing applied.
    DropBefore,
    /// Change applied, then 503.
    UnavailableAfter,
    /// Change applied, then connection closed without an answer.
    DropAfter,
}

impl Fault {
    /// Whether the change is applied before the failure.
    pub fn after(self) -> bool {
        matches!(self, Fault::UnavailableAfter | Fault::DropAfter)
    }
    /// Short name for stats.
    pub fn name(self) -> &'static str {
        match self {
            Fault::UnavailableBefore => "unavailable_before",
            Fault::InternalBefore => "internal_error_before",
            Fault::DropBefore => "drop_before",
            Fault::UnavailableAfter => "unavailable_after",
            Fault::DropAfter => "drop_after",
        }
    }
}

/// Decides which requests fail.
#[derive(Debug)]
pub struct FaultInjector {
    rate: f64,
    rng: Mutex<ChaCha8Rng>,
}

impl FaultInjector {
    /// `rate` is clamped to 0..=1.
    pub fn new(rate: f64, seed: u64) -> Self {
        FaultInjector {
            rate: if rate.is_finite() {
                rate.clamp(0.0, 1.0)
            } else {
                0.0
            },
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
        }
    }

    /// Draws the fault for the next request (`mutating`: "after" faults are possible).
    pub fn draw(&self, mutating: bool) -> Option<Fault> {
        if self.rate <= 0.0 {
            return None;
        }
        let (hit, pick) = match self.rng.lock() {
            Ok(mut rng) => (rng.gen::<f64>(), rng.gen_range(0..5u32)),
            Err(_) => return None,
        };
        if hit >= self.rate {
            return None;
        }
        let kinds: &[Fault] = if mutating {
            &[
                Fault::UnavailableBefore,
                Fault::InternalBefore,
                Fault::DropBefore,
                Fault::UnavailableAfter,
                Fault::DropAfter,
            ]
        } else {
            &[
                Fault::UnavailableBefore,
                Fault::InternalBefore,
                Fault::DropBefore,
            ]
        };
        Some(kinds[pick as usize % kinds.len()])
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_faults_and_rate_roughly_respected() {
        let a = FaultInjector::new(0.3, 7);
        let b = FaultInjector::new(0.3, 7);
        let da: Vec<_> = (0..1000).map(|i| a.draw(i % 2 == 0)).collect();
        let db: Vec<_> = (0..1000).map(|i| b.draw(i % 2 == 0)).collect();
        assert_eq!(da, db);
        let n = da.iter().filter(|f| f.is_some()).count();
        assert!((200..400).contains(&n), "{n}");
        // Read-only requests never get "after" faults.
        assert!(da
            .iter()
            .enumerate()
            .all(|(i, f)| i % 2 == 0 || !f.map(Fault::after).unwrap_or(false)));
        assert!(FaultInjector::new(0.0, 1).draw(true).is_none());
    }
}
