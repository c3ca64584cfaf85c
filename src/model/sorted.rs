//! A queue kept in key order, for keys that arrive almost in order (times):
//! the usual insert is at the back, the rare late one lands near it.
//!
//! Items live in chunks of at most [`CHUNK`] (twice that before a split), so
//! the memory follows what is held — no single buffer that doubles and keeps
//! its peak — and an insert or a removal in the middle moves at most one
//! chunk's items. Finding the chunk is a binary search over the chunks.

use std::collections::VecDeque;

/// Items per chunk.
const CHUNK: usize = 512;

pub struct SortedQueue<K, V> {
    chunks: VecDeque<VecDeque<(K, V)>>,
    len: usize,
    /// An emptied chunk kept for the next one (a busy queue would otherwise
    /// allocate and free one every `CHUNK` items).
    spare: Option<VecDeque<(K, V)>>,
}

impl<K, V> Default for SortedQueue<K, V> {
    fn default() -> Self {
        Self {
            chunks: VecDeque::new(),
            len: 0,
            spare: None,
        }
    }
}

impl<K: Ord + Copy, V> SortedQueue<K, V> {
    #[cfg(test)]
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The item with the smallest key.
    #[must_use]
    pub fn first(&self) -> Option<&(K, V)> {
        self.chunks.front().and_then(VecDeque::front)
    }

    /// The item `i` places behind the first (0: the first), if any.
    #[must_use]
    pub fn get(&self, mut i: usize) -> Option<&(K, V)> {
        for c in &self.chunks {
            if i < c.len() {
                return c.get(i);
            }
            i -= c.len();
        }
        None
    }

    fn fresh_chunk(&mut self) -> VecDeque<(K, V)> {
        self.spare
            .take()
            .unwrap_or_else(|| VecDeque::with_capacity(CHUNK))
    }

    fn drop_chunk(&mut self, i: usize) {
        if let Some(c) = self.chunks.remove(i) {
            if self.spare.is_none() && c.capacity() <= 2 * CHUNK {
                self.spare = Some(c);
            }
        }
    }

    /// Inserts after every item whose key is not greater: equal keys keep
    /// their insertion order.
    pub fn insert(&mut self, key: K, value: V) {
        self.len += 1;
        let at_back = self
            .chunks
            .back()
            .and_then(VecDeque::back)
            .is_none_or(|(k, _)| *k <= key);
        if at_back {
            if self.chunks.back().is_none_or(|c| c.len() >= CHUNK) {
                let c = self.fresh_chunk();
                self.chunks.push_back(c);
            }
            if let Some(c) = self.chunks.back_mut() {
                c.push_back((key, value));
            }
            return;
        }
        // The first chunk holding a greater key (the last one does).
        let i = self
            .chunks
            .partition_point(|c| c.back().is_some_and(|(k, _)| *k <= key));
        let Some(c) = self.chunks.get_mut(i) else {
            return;
        };
        let at = c.partition_point(|(k, _)| *k <= key);
        c.insert(at, (key, value));
        if c.len() > 2 * CHUNK {
            let tail = c.split_off(CHUNK);
            self.chunks.insert(i + 1, tail);
        }
    }

    /// Takes the item with the smallest key.
    pub fn pop_first(&mut self) -> Option<(K, V)> {
        let c = self.chunks.front_mut()?;
        let item = c.pop_front();
        if c.is_empty() {
            self.drop_chunk(0);
        }
        if item.is_some() {
            self.len -= 1;
        }
        item
    }

    /// Removes the first item with exactly this key.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let i = self
            .chunks
            .partition_point(|c| c.back().is_some_and(|(k, _)| k < key));
        let c = self.chunks.get_mut(i)?;
        let at = c.partition_point(|(k, _)| k < key);
        if c.get(at).is_none_or(|(k, _)| k != key) {
            return None;
        }
        let (_, v) = c.remove(at)?;
        if c.is_empty() {
            self.drop_chunk(i);
        }
        self.len -= 1;
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(q: &mut SortedQueue<u64, u32>) -> Vec<(u64, u32)> {
        std::iter::from_fn(|| q.pop_first()).collect()
    }

    #[test]
    fn keeps_key_order_and_insertion_order_for_equal_keys() {
        let mut q = SortedQueue::new();
        for (k, v) in [(5, 0), (1, 1), (5, 2), (3, 3), (9, 4), (3, 5)] {
            q.insert(k, v);
        }
        assert_eq!(q.len(), 6);
        assert_eq!(q.first(), Some(&(1, 1)));
        assert_eq!(q.get(0), q.first());
        assert_eq!(q.get(4), Some(&(5, 2)));
        assert_eq!(q.get(6), None);
        assert_eq!(
            drain(&mut q),
            [(1, 1), (3, 3), (3, 5), (5, 0), (5, 2), (9, 4)]
        );
        assert!(q.is_empty());
    }

    #[test]
    fn matches_a_sorted_vector_across_many_chunks() {
        // Mostly in order, with late keys and removals, over many chunks:
        // the same as a stable sort of what went in minus what came out.
        let mut q = SortedQueue::new();
        let mut model: Vec<(u64, u32)> = Vec::new();
        let mut rng = crate::test_rng::Rng::new(7);
        for i in 0..20_000u32 {
            let late = rng.below(1000) as u64;
            let key = u64::from(i).saturating_sub(if late < 50 { late * 40 } else { 0 });
            q.insert(key, i);
            model.push((key, i));
            if late > 990 {
                // Equal keys leave in insertion order: the earliest goes.
                let target = model[rng.below(model.len())].0;
                let at = model.iter().position(|(k, _)| *k == target).unwrap();
                assert_eq!(q.remove(&target), Some(model[at].1));
                model.remove(at);
            }
        }
        // A burst of late keys into one chunk splits it.
        for i in 0..1500u32 {
            q.insert(100, 100_000 + i);
            model.push((100, 100_000 + i));
        }
        assert_eq!(q.remove(&u64::MAX), None);
        model.sort_by_key(|(k, _)| *k);
        assert_eq!(q.len(), model.len());
        for i in [
            0,
            1,
            CHUNK - 1,
            CHUNK,
            3 * CHUNK + 7,
            model.len() - 1,
            model.len(),
        ] {
            assert_eq!(q.get(i), model.get(i), "item {i}");
        }
        assert_eq!(drain(&mut q), model);
    }
}
