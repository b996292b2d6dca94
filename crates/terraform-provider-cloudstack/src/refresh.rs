//! The one refresh cache: Terraform reads every resource at the start of a
//! plan, in parallel, and many resources share one CloudStack listing (every
//! VM of the account; the rules of one public IP, which the mesostack module
//! gives two rule resources per node). One paged `list*` call then serves
//! all those reads instead of one call each.
//!
//! A listing lives [`TTL`] and is fetched once however many reads wait for
//! it (single flight). Terraform starts the provider afresh for each walk
//! (plan, apply) and every change this process makes drops all listings
//! ([`RefreshCache::clear`]), so a listing never outlives the refresh it was
//! taken for.

use std::{
    any::Any,
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use tokio::sync::OnceCell;

/// How long one listing answers the reads of a refresh.
pub const TTL: Duration = Duration::from_secs(5);

/// A listing once fetched (its element type is known to the caller only).
type Shared = Arc<dyn Any + Send + Sync>;

#[derive(Debug)]
struct Entry {
    /// When the listing was started.
    started: Instant,
    cell: Arc<OnceCell<Shared>>,
}

/// Short-lived, single-flight listings keyed by what they list (element
/// type and scope, e.g. `ipaddressid=...`). Shared by every clone of the
/// provider's [`crate::provider::Client`].
#[derive(Debug, Default)]
pub struct RefreshCache {
    listings: Mutex<HashMap<String, Entry>>,
    /// When the last read of each key arrived (see [`RefreshCache::busy`]).
    reads: Mutex<HashMap<String, Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// The key of a listing: the element type (so a key never holds another
/// type) and the scope.
fn key_of<T: 'static>(scope: &str) -> String {
    format!("{:?}|{scope}", std::any::TypeId::of::<T>())
}

impl RefreshCache {
    /// The listing of `T` for `scope`, fetched by the first caller within
    /// [`TTL`]; concurrent callers wait for that one call. A failed fetch is
    /// not kept: the next caller tries again.
    pub async fn listing<T, E, F, Fut>(&self, scope: &str, fetch: F) -> Result<Arc<Vec<T>>, E>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<T>, E>>,
    {
        let key = key_of::<T>(scope);
        let cell = {
            let mut map = lock(&self.listings);
            map.retain(|_, e| e.started.elapsed() < TTL);
            map.entry(key)
                .or_insert_with(|| Entry {
                    started: Instant::now(),
                    cell: Arc::new(OnceCell::new()),
                })
                .cell
                .clone()
        };
        let shared = cell
            .get_or_try_init(|| async {
                let items: Arc<Vec<T>> = Arc::new(fetch().await?);
                Ok::<Shared, E>(items)
            })
            .await?
            .clone();
        match shared.downcast::<Vec<T>>() {
            Ok(items) => Ok(items),
            // the key holds the TypeId, so a listing of another type is never found
            Err(_) => unreachable!("refresh cache key {scope:?} holds another type"),
        }
    }

    /// Records a read of `T` in `scope`; true when another read came within
    /// [`TTL`] (so a listing pays off: a lone read stays one lookup by id).
    pub fn busy<T: 'static>(&self, scope: &str) -> bool {
        let now = Instant::now();
        let mut reads = lock(&self.reads);
        reads.retain(|_, t| now - *t < TTL);
        reads.insert(key_of::<T>(scope), now).is_some()
    }

    /// Drops every listing (this process changed something).
    pub fn clear(&self) {
        lock(&self.listings).clear();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn one_fetch_serves_concurrent_reads_until_cleared() {
        let cache = RefreshCache::default();
        let calls = AtomicUsize::new(0);
        let fetch = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            Ok::<_, ()>(vec![1u32, 2, 3])
        };
        let (a, b) = tokio::join!(cache.listing("ip=1", fetch), cache.listing("ip=1", fetch));
        assert_eq!(*a.unwrap(), vec![1, 2, 3]);
        assert_eq!(*b.unwrap(), vec![1, 2, 3]);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // another scope, or another element type, is another listing
        cache.listing("ip=2", fetch).await.unwrap();
        let strings = cache
            .listing("ip=1", || async { Ok::<_, ()>(vec!["x".to_string()]) })
            .await
            .unwrap();
        assert_eq!(*strings, vec!["x"]);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        cache.clear();
        cache.listing("ip=1", fetch).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn failures_are_not_kept() {
        let cache = RefreshCache::default();
        let r: Result<Arc<Vec<u8>>, &str> = cache.listing("s", || async { Err("down") }).await;
        assert_eq!(r.unwrap_err(), "down");
        let r: Result<Arc<Vec<u8>>, &str> = cache.listing("s", || async { Ok(vec![7]) }).await;
        assert_eq!(*r.unwrap(), vec![7]);
    }

    #[test]
    fn a_second_read_is_busy() {
        let cache = RefreshCache::default();
        assert!(!cache.busy::<u8>("vms"));
        assert!(cache.busy::<u8>("vms"));
        assert!(!cache.busy::<u16>("vms"));
    }
}
