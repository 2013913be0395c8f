//! One bounded map with least-recently-used eviction, for everything a caller can
//! make the provider remember: the backend clients per provider object and
//! credentials (`server::client_cache`), the Secrets watched in Kubernetes
//! (`source::kube`).
//!
//! Lookups hash borrowed parts and compare them with the stored key, so a hit
//! allocates nothing; the owned key is made only when an entry is added.

use crate::{Error, Result};
use std::hash::{BuildHasher, Hash};
use std::sync::Mutex;

/// Entries whose keys share a hash.
type Bucket<K, V> = Vec<Entry<K, V>>;

struct Entry<K, V> {
    key: K,
    value: V,
    /// The map's use counter at the last use: exact recency, even within one clock tick.
    recency: u64,
}

struct Entries<K, V> {
    buckets: foldhash::HashMap<u64, Bucket<K, V>>,
    len: usize,
    uses: u64,
}

/// A map of at most `max_entries` entries; when full, the least recently used one
/// makes room for a new one.
pub(crate) struct Lru<K, V> {
    entries: Mutex<Entries<K, V>>,
    /// foldhash, seeded per process: keys come from requests, and a lookup is on
    /// every call (SipHash costs a few hundred instructions there).
    hasher: foldhash::fast::RandomState,
    /// Names the map in the error of a poisoned lock.
    what: &'static str,
}

impl<K, V: Clone> Lru<K, V> {
    /// An empty map; `what` names it in errors (`"client cache"`).
    pub(crate) fn new(what: &'static str) -> Self {
        Lru {
            entries: Mutex::new(Entries {
                buckets: foldhash::HashMap::default(),
                len: 0,
                uses: 0,
            }),
            hasher: foldhash::fast::RandomState::default(),
            what,
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Entries<K, V>>> {
        self.entries
            .lock()
            .map_err(|_| Error::internal(format!("{} lock poisoned", self.what)))
    }

    /// The value whose key `is` the one looked up (hashed as `parts`, which must
    /// hash as the key's parts do when it was added), marked used; or, when there is
    /// none, the one `make` builds, after the least recently used entries made room
    /// for it within `max_entries` (at least 1).
    pub(crate) fn get_or_insert_with(
        &self,
        parts: impl Hash,
        is: impl Fn(&K) -> bool,
        max_entries: usize,
        make: impl FnOnce() -> (K, V),
    ) -> Result<V> {
        let hash = self.hasher.hash_one(parts);
        let mut entries = self.lock()?;
        let entries = &mut *entries;
        entries.uses += 1;
        let use_number = entries.uses;
        if let Some(entry) = entries
            .buckets
            .get_mut(&hash)
            .and_then(|bucket| bucket.iter_mut().find(|entry| is(&entry.key)))
        {
            entry.recency = use_number;
            return Ok(entry.value.clone());
        }
        while entries.len >= max_entries.max(1) && evict_oldest(entries) {}
        let (key, value) = make();
        entries.buckets.entry(hash).or_default().push(Entry {
            key,
            value: value.clone(),
            recency: use_number,
        });
        entries.len += 1;
        Ok(value)
    }

    /// The value whose key `is` the one looked up (hashed as `parts`), marked
    /// used, if there is one.
    pub(crate) fn get(&self, parts: impl Hash, is: impl Fn(&K) -> bool) -> Result<Option<V>> {
        let hash = self.hasher.hash_one(parts);
        let mut entries = self.lock()?;
        let entries = &mut *entries;
        entries.uses += 1;
        let use_number = entries.uses;
        Ok(entries
            .buckets
            .get_mut(&hash)
            .and_then(|bucket| bucket.iter_mut().find(|entry| is(&entry.key)))
            .map(|entry| {
                entry.recency = use_number;
                entry.value.clone()
            }))
    }

    /// Keeps only the entries for which `keep` is true.
    pub(crate) fn retain(&self, mut keep: impl FnMut(&K, &V) -> bool) -> Result<()> {
        let mut entries = self.lock()?;
        let entries = &mut *entries;
        let mut removed = 0;
        entries.buckets.retain(|_, bucket| {
            let before = bucket.len();
            bucket.retain(|entry| keep(&entry.key, &entry.value));
            removed += before - bucket.len();
            !bucket.is_empty()
        });
        entries.len -= removed;
        Ok(())
    }

    /// How many entries the map holds.
    pub(crate) fn len(&self) -> usize {
        self.lock().map(|entries| entries.len).unwrap_or(0)
    }
}

/// Drops the least recently used entry; false when there is none.
fn evict_oldest<K, V>(entries: &mut Entries<K, V>) -> bool {
    let oldest = entries
        .buckets
        .iter()
        .flat_map(|(hash, bucket)| {
            bucket
                .iter()
                .enumerate()
                .map(move |(index, entry)| (*hash, index, entry.recency))
        })
        .min_by_key(|(_, _, recency)| *recency);
    let Some((hash, index, _)) = oldest else {
        return false;
    };
    if let Some(bucket) = entries.buckets.get_mut(&hash) {
        bucket.swap_remove(index);
        if bucket.is_empty() {
            entries.buckets.remove(&hash);
        }
        entries.len -= 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(lru: &Lru<String, u32>, key: &str, value: u32, max: usize) -> u32 {
        lru.get_or_insert_with(key, |k| k == key, max, || (key.to_string(), value))
            .unwrap()
    }

    #[test]
    fn a_hit_returns_the_stored_value_and_a_miss_adds_one() {
        let lru = Lru::new("test");
        assert_eq!(get(&lru, "a", 1, 10), 1);
        assert_eq!(get(&lru, "a", 2, 10), 1, "a hit keeps the first value");
        assert_eq!(get(&lru, "b", 3, 10), 3);
        assert_eq!(lru.len(), 2);
    }

    #[test]
    fn the_least_recently_used_entry_goes_first() {
        let lru = Lru::new("test");
        get(&lru, "a", 1, 2);
        get(&lru, "b", 2, 2);
        get(&lru, "a", 0, 2); // a is now more recent than b
        get(&lru, "c", 3, 2); // evicts b
        assert_eq!(lru.len(), 2);
        assert_eq!(get(&lru, "a", 9, 2), 1, "a stayed");
        assert_eq!(get(&lru, "b", 9, 2), 9, "b was evicted and is built again");
    }

    #[test]
    fn keys_with_the_same_hash_are_told_apart() {
        // Every lookup hashes the same parts: one bucket, told apart by `is`.
        let lru: Lru<String, u32> = Lru::new("test");
        for (key, value) in [("x", 1), ("y", 2), ("z", 3)] {
            lru.get_or_insert_with("same", |k| k == key, 10, || (key.to_string(), value))
                .unwrap();
        }
        let y = lru
            .get_or_insert_with("same", |k| k == "y", 10, || ("y".into(), 0))
            .unwrap();
        assert_eq!(y, 2);
        assert_eq!(lru.len(), 3);
    }

    #[test]
    fn retain_drops_what_it_is_told_and_counts_right() {
        let lru = Lru::new("test");
        for (key, value) in [("a", 1), ("b", 2), ("c", 3)] {
            get(&lru, key, value, 10);
        }
        lru.retain(|_, value| value % 2 == 1).unwrap();
        assert_eq!(lru.len(), 2);
        assert_eq!(get(&lru, "b", 7, 10), 7, "b was dropped");
    }

    #[test]
    fn a_zero_bound_still_holds_one_entry() {
        let lru = Lru::new("test");
        get(&lru, "a", 1, 0);
        get(&lru, "b", 2, 0);
        assert_eq!(lru.len(), 1);
    }
}
