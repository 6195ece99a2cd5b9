//! The decoded inputs of a run, bounded by a byte budget.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use super::{error_chain, lock};
use crate::load::{LoadOptions, Source, load};
use crate::mass::Mass;

/// A decoded input, or why it could not be decoded (shared by every pair that uses it).
pub type Loaded = std::result::Result<Arc<Mass>, Arc<str>>;

/// Decoded inputs of one run (one set of [`LoadOptions`]), keyed by their index in
/// [`Plan::inputs`](super::Plan::inputs), bounded by a byte budget with least-recently-used eviction.
///
/// Each input is decoded by one thread while others needing it wait, so it is decoded once as
/// long as it stays in the cache. Failures (missing file, undecodable, zero mass) are cached too.
#[derive(Debug)]
pub struct MassCache {
    inputs: Vec<String>,
    opts: LoadOptions,
    budget: usize,
    slots: Vec<RwLock<Option<Loaded>>>,
    last_used: Vec<AtomicU64>,
    clock: AtomicU64,
    held: AtomicUsize,
    decodes: AtomicUsize,
    evicting: Mutex<()>,
}

impl MassCache {
    /// A cache for `inputs` loaded with `opts`, keeping at most about `budget` bytes of masses.
    pub fn new(inputs: Vec<String>, opts: LoadOptions, budget: usize) -> MassCache {
        let n = inputs.len();
        MassCache {
            inputs,
            opts,
            budget,
            slots: (0..n).map(|_| RwLock::new(None)).collect(),
            last_used: (0..n).map(|_| AtomicU64::new(0)).collect(),
            clock: AtomicU64::new(1),
            held: AtomicUsize::new(0),
            decodes: AtomicUsize::new(0),
            evicting: Mutex::new(()),
        }
    }

    /// How many times an input was decoded so far.
    pub fn decodes(&self) -> usize {
        self.decodes.load(Ordering::Relaxed)
    }

    /// The mass of input `i`, decoding it if it is not held.
    ///
    /// # Panics
    /// If `i` is not an index of the inputs.
    pub fn get(&self, i: usize) -> Loaded {
        let stamp = self.clock.fetch_add(1, Ordering::Relaxed);
        self.last_used[i].store(stamp, Ordering::Relaxed);
        // Many threads read a held mass at once; only decoding takes the slot exclusively, so a
        // thread needing an input being decoded waits for it instead of decoding it again.
        let held = self.slots[i].read().unwrap_or_else(|p| p.into_inner());
        if let Some(loaded) = &*held {
            return loaded.clone();
        }
        drop(held);
        let mut slot = self.slots[i].write().unwrap_or_else(|p| p.into_inner());
        if let Some(loaded) = &*slot {
            return loaded.clone();
        }
        let loaded = self.decode(i);
        self.decodes.fetch_add(1, Ordering::Relaxed);
        *slot = Some(loaded.clone());
        drop(slot);
        let bytes = loaded.as_ref().map_or(0, |m| mass_bytes(m));
        if self.held.fetch_add(bytes, Ordering::Relaxed) + bytes > self.budget {
            self.evict(i);
        }
        loaded
    }

    fn decode(&self, i: usize) -> Loaded {
        let path = &self.inputs[i];
        if path == "-" {
            return Err("standard input cannot be a pair's input in batch mode".into());
        }
        load(&Source::parse(path), &self.opts)
            .map(Arc::new)
            .map_err(|e| error_chain(&e).into())
    }

    /// Drops the least recently used masses (never `keep`) until the budget holds.
    fn evict(&self, keep: usize) {
        let _one_at_a_time = lock(&self.evicting);
        let mut held: Vec<(u64, usize)> = (0..self.slots.len())
            .filter(|&j| j != keep)
            .map(|j| (self.last_used[j].load(Ordering::Relaxed), j))
            .collect();
        held.sort_unstable();
        for (_, j) in held {
            if self.held.load(Ordering::Relaxed) <= self.budget {
                break;
            }
            // A slot being decoded right now is busy and recent: leave it.
            if let Ok(mut slot) = self.slots[j].try_write()
                && let Some(Ok(mass)) = &*slot
            {
                self.held.fetch_sub(mass_bytes(mass), Ordering::Relaxed);
                *slot = None;
            }
        }
    }
}

fn mass_bytes(m: &Mass) -> usize {
    let (rows, cols) = m.shape();
    8 * (rows * cols + rows + cols) + std::mem::size_of::<Mass>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_decodes_once_within_its_budget_and_evicts_beyond() {
        let dir = tempfile::tempdir().unwrap();
        let inputs: Vec<String> = (0..3)
            .map(|k| {
                let path = dir.path().join(format!("m{k}.csv"));
                std::fs::write(&path, format!("1,{k}\n0,1\n")).unwrap();
                path.display().to_string()
            })
            .chain(["missing.csv".to_string()])
            .collect();
        let opts = LoadOptions::default();
        let cache = MassCache::new(inputs.clone(), opts.clone(), 1 << 20);
        for _ in 0..3 {
            for i in 0..3 {
                assert_eq!(
                    cache.get(i).unwrap().as_slice()[1],
                    i as f64 / (i + 2) as f64
                );
            }
            assert!(
                cache
                    .get(3)
                    .unwrap_err()
                    .contains("missing.csv: cannot read")
            );
        }
        assert_eq!(
            cache.decodes(),
            4,
            "each input decoded once, failures included"
        );
        // Room for one mass: alternating between two inputs decodes every time.
        let one = mass_bytes(&cache.get(0).unwrap());
        let small = MassCache::new(inputs, opts, one);
        for i in [0, 1, 0, 1, 1] {
            small.get(i).unwrap();
        }
        assert_eq!(small.decodes(), 4);
    }
}
