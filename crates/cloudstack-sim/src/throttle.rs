//! `--api-rate-limit`: CloudStack's API throttling (the api-limit plugin, `api.throttling.*`)
//! as it behaves: per account (here per API key), a fixed window starting at the first
//! request, every request counted (refused ones too), and beyond the limit a 429 with
//! CloudStack's own text saying when the window ends.

use crate::error::{code, ApiError};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window (`api.throttling.interval`, seconds; we model 1 s: "requests per second").
const WINDOW: Duration = Duration::from_secs(1);

/// Counts requests per API key.
#[derive(Debug)]
pub struct RateLimiter {
    max: u32,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    /// At most `max` requests per second per key.
    pub fn new(max: u32) -> Self {
        RateLimiter {
            max,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request of `api_key` at `now`; the 429 CloudStack answers beyond the limit.
    pub fn check(&self, api_key: &str, now: Instant) -> Result<(), ApiError> {
        let Ok(mut windows) = self.windows.lock() else {
            return Ok(());
        };
        let w = windows.entry(api_key.to_string()).or_insert((now, 0));
        if now.saturating_duration_since(w.0) >= WINDOW {
            *w = (now, 0);
        }
        w.1 = w.1.saturating_add(1);
        if w.1 <= self.max {
            return Ok(());
        }
        let left = WINDOW.saturating_sub(now.saturating_duration_since(w.0));
        Err(ApiError::with_code(
            code::API_LIMIT_EXCEED,
            format!(
                "The given user has reached his/her account api limit, please retry after [{}] ms.",
                left.as_millis()
            ),
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fixed_window_per_key_counting_refusals() {
        let l = RateLimiter::new(2);
        let t0 = Instant::now();
        assert!(l.check("a", t0).is_ok());
        assert!(l.check("a", t0 + Duration::from_millis(10)).is_ok());
        let e = l.check("a", t0 + Duration::from_millis(400)).unwrap_err();
        assert_eq!(e.errorcode, 429);
        assert_eq!(
            e.errortext,
            "The given user has reached his/her account api limit, please retry after [600] ms."
        );
        // Another key has its own window.
        assert!(l.check("b", t0 + Duration::from_millis(400)).is_ok());
        // The window ends one second after it began, whatever was refused meanwhile.
        assert!(l.check("a", t0 + Duration::from_millis(999)).is_err());
        assert!(l.check("a", t0 + Duration::from_millis(1000)).is_ok());
    }
}
