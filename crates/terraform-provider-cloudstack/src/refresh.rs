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
    /// Facts that never change for the life of an object (see [`RefreshCache::fact`]).
    facts: Mutex<HashMap<String, Arc<OnceCell<Shared>>>>,
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

    /// A fact about one object that cannot change while the object exists
    /// (e.g. the project that owns a public IP: an address never moves to
    /// another project), fetched once per process however many callers ask,
    /// and kept across changes. A fetch that fails or finds nothing (`None`)
    /// is not kept: the next caller asks again.
    pub async fn fact<T, E, F, Fut>(&self, key: &str, fetch: F) -> Result<Option<T>, E>
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<T>, E>>,
    {
        let cell = self.fact_cell::<T>(key);
        // Single flight: concurrent callers wait for the first one's fetch;
        // once known, the fact is answered without calling `fetch`.
        let fetched = cell
            .get_or_try_init(|| async {
                match fetch().await {
                    Ok(Some(v)) => Ok::<Shared, Result<(), E>>(Arc::new(v)),
                    Ok(None) => Err(Ok(())),
                    Err(e) => Err(Err(e)),
                }
            })
            .await;
        match fetched {
            Ok(v) => Ok(v.downcast_ref::<T>().cloned()),
            Err(Ok(())) => Ok(None),
            Err(Err(e)) => Err(e),
        }
    }

    /// Records a [`fact`](RefreshCache::fact) this process learned on the
    /// way (e.g. from a create's answer), so nobody fetches it again.
    pub fn know<T: Send + Sync + 'static>(&self, key: &str, value: T) {
        let cell = self.fact_cell::<T>(key);
        // Already known (the same fact): nothing to do.
        let _ = cell.set(Arc::new(value));
    }

    /// The cell holding fact `key` of type `T`, made empty on first use.
    fn fact_cell<T: 'static>(&self, key: &str) -> Arc<OnceCell<Shared>> {
        lock(&self.facts)
            .entry(key_of::<T>(key))
            .or_default()
            .clone()
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

    #[tokio::test]
    async fn facts_are_fetched_once_and_outlive_changes_but_misses_are_asked_again() {
        let cache = RefreshCache::default();
        let calls = AtomicUsize::new(0);
        let owner = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            Ok::<_, ()>(Some("project-1".to_string()))
        };
        let (a, b) = tokio::join!(cache.fact("ip=1", owner), cache.fact("ip=1", owner));
        assert_eq!(a.unwrap().as_deref(), Some("project-1"));
        assert_eq!(b.unwrap().as_deref(), Some("project-1"));
        cache.clear();
        assert_eq!(
            cache.fact("ip=1", owner).await.unwrap().as_deref(),
            Some("project-1")
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // nothing found, or a failure: not kept
        let missing = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<Option<String>, ()>(None)
        };
        assert_eq!(cache.fact("ip=2", missing).await, Ok(None));
        assert_eq!(cache.fact("ip=2", missing).await, Ok(None));
        let failing = || async { Err::<Option<String>, _>("down") };
        assert_eq!(cache.fact("ip=3", failing).await, Err("down"));
        assert_eq!(
            cache.fact("ip=3", owner).await.unwrap().as_deref(),
            Some("project-1")
        );
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        // a fact learned on the way is not fetched
        cache.know("ip=4", "project-4".to_string());
        assert_eq!(
            cache.fact("ip=4", owner).await.unwrap().as_deref(),
            Some("project-4")
        );
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn a_second_read_is_busy() {
        let cache = RefreshCache::default();
        assert!(!cache.busy::<u8>("vms"));
        assert!(cache.busy::<u8>("vms"));
        assert!(!cache.busy::<u16>("vms"));
    }
}
