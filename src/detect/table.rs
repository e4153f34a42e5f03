//! The per-rule key tables: detector state by key hash.
//!
//! A key is already a seeded 64-bit hash (see `hash_key`), so a slot is
//! found from the key's low bits with no hashing, and — unlike a general
//! map — where a key lives is known before it is looked up. The engine
//! uses that to ask for every rule's slot of an event at once
//! ([`KeyTable::prefetch`]), so the cache misses of five rules keyed on
//! the same account overlap instead of queueing one behind the other;
//! with 80k+ keys per rule those misses are most of the detection cost.
//!
//! Open addressing with linear probing, at most 3/4 full; a slot is a key
//! and an optional value (16 bytes for a `Box`). Keys leave through
//! [`KeyTable::retain`] (expiry), which rebuilds the table, or one at a
//! time through [`KeyTable::remove`], which shifts the rest of the run
//! back: no tombstones.

/// Keys (64-bit hashes) → values, probed linearly from the key's low bits.
#[derive(Debug)]
pub struct KeyTable<V> {
    slots: Vec<Slot<V>>,
    len: usize,
}

#[derive(Debug)]
struct Slot<V> {
    key: u64,
    val: Option<V>,
}

impl<V> Default for KeyTable<V> {
    fn default() -> Self {
        KeyTable {
            slots: Vec::new(),
            len: 0,
        }
    }
}

impl<V> KeyTable<V> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    fn home(&self, key: u64) -> usize {
        key as usize & self.mask()
    }

    /// The slot holding `key`, if any.
    fn find(&self, key: u64) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let mask = self.mask();
        let mut i = self.home(key);
        loop {
            let s = &self.slots[i];
            s.val.as_ref()?;
            if s.key == key {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    pub fn get(&self, key: &u64) -> Option<&V> {
        self.find(*key).and_then(|i| self.slots[i].val.as_ref())
    }

    pub fn get_mut(&mut self, key: &u64) -> Option<&mut V> {
        self.find(*key).and_then(|i| self.slots[i].val.as_mut())
    }

    pub fn contains_key(&self, key: &u64) -> bool {
        self.find(*key).is_some()
    }

    /// The value under `key`, put there first (the default) if absent.
    pub fn get_or_default(&mut self, key: u64) -> &mut V
    where
        V: Default,
    {
        let i = match self.find(key) {
            Some(i) => i,
            None => self.add(key, V::default()),
        };
        self.slots[i].val.get_or_insert_with(V::default)
    }

    /// Puts `val` under `key`, returning the value it replaces.
    pub fn insert(&mut self, key: u64, val: V) -> Option<V> {
        match self.find(key) {
            Some(i) => self.slots[i].val.replace(val),
            None => {
                self.add(key, val);
                None
            }
        }
    }

    /// Puts a key known to be absent, growing first if needed; its slot.
    fn add(&mut self, key: u64, val: V) -> usize {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        self.place(key, val)
    }

    fn grow(&mut self) {
        let cap = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(&mut self.slots, Self::empty_slots(cap));
        self.len = 0;
        for s in old {
            if let Some(v) = s.val {
                self.place(s.key, v);
            }
        }
    }

    fn empty_slots(cap: usize) -> Vec<Slot<V>> {
        (0..cap).map(|_| Slot { key: 0, val: None }).collect()
    }

    /// Puts a key known to be absent, with room known to be there; its slot.
    fn place(&mut self, key: u64, val: V) -> usize {
        let mask = self.mask();
        let mut i = self.home(key);
        while self.slots[i].val.is_some() {
            i = (i + 1) & mask;
        }
        self.slots[i] = Slot {
            key,
            val: Some(val),
        };
        self.len += 1;
        i
    }

    /// Takes `key`'s value out. The entries after it in its run move back
    /// into the hole where their probe may pass it, so every key stays
    /// reachable from its home slot without a tombstone.
    pub fn remove(&mut self, key: &u64) -> Option<V> {
        let mut hole = self.find(*key)?;
        let val = self.slots[hole].val.take();
        self.len -= 1;
        let mask = self.mask();
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            if self.slots[j].val.is_none() {
                return val;
            }
            // the entry at `j` may fill the hole when its probe from its
            // home slot passes the hole on the way to `j`
            let from_home = j.wrapping_sub(self.home(self.slots[j].key)) & mask;
            if j.wrapping_sub(hole) & mask <= from_home {
                self.slots.swap(hole, j);
                hole = j;
            }
        }
    }

    /// Keeps the entries `keep` says yes to. Rebuilds the table, shrinking
    /// it when most keys went (an expiry after a burst gives memory back).
    pub fn retain(&mut self, mut keep: impl FnMut(&u64, &mut V) -> bool) {
        let kept: Vec<(u64, V)> = std::mem::take(&mut self.slots)
            .into_iter()
            .filter_map(|s| s.val.map(|v| (s.key, v)))
            .filter_map(|(k, mut v)| keep(&k, &mut v).then_some((k, v)))
            .collect();
        self.len = 0;
        if kept.is_empty() {
            return;
        }
        let cap = (kept.len() * 4 / 3 + 1).next_power_of_two().max(16);
        self.slots = Self::empty_slots(cap);
        for (k, v) in kept {
            self.place(k, v);
        }
    }

    /// Asks the CPU for the cache lines of `key`'s home slot (a value kept
    /// in place may run into the next line), ahead of a lookup. Only a
    /// hint: it changes no state and cannot fault.
    #[inline]
    pub fn prefetch(&self, key: u64) {
        if let Some(s) = self.slots.get(self.home(key)) {
            let start = s as *const Slot<V> as *const u8;
            prefetch(start);
            prefetch(start.wrapping_add(std::mem::size_of::<Slot<V>>() - 1));
        }
    }
}

impl<T> KeyTable<Box<T>> {
    /// Asks for the cache lines of `key`'s boxed value, if the key is here
    /// (its slot should have been prefetched a while before). A rule's
    /// state spans several lines and a step reads fields all over it.
    #[inline]
    pub fn prefetch_value(&self, key: u64) {
        if let Some(v) = self.get(&key) {
            let start = &**v as *const T as *const u8;
            for off in (0..std::mem::size_of::<T>()).step_by(64) {
                prefetch(start.wrapping_add(off));
            }
        }
    }
}

/// A prefetch hint for the line holding `p`.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is part of SSE, which every x86_64 CPU has; it is
    // a hint that never faults and changes no memory, whatever the address
    // (the callers point into live allocations anyway).
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(p as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u64, u32),
        Bump(u64),
        Remove(u64),
        Retain(u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        // few distinct low bits, so runs collide and wrap around the end
        let key = (0u64..64).prop_map(|k| k.wrapping_mul(0x1_0000_0001) ^ (k & 3));
        prop_oneof![
            4 => (key.clone(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            2 => key.clone().prop_map(Op::Bump),
            2 => key.prop_map(Op::Remove),
            1 => (1u32..5).prop_map(Op::Retain),
        ]
    }

    proptest! {
        /// Any sequence of inserts, updates, removals and retains leaves the table
        /// holding exactly what a `HashMap` holds.
        #[test]
        fn behaves_like_a_map(ops in proptest::collection::vec(op(), 0..400)) {
            let mut t = KeyTable::default();
            let mut m = HashMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => prop_assert_eq!(t.insert(k, v), m.insert(k, v)),
                    Op::Bump(k) => {
                        let (a, b) = (t.get_or_default(k), m.entry(k).or_default());
                        *a = a.wrapping_add(1);
                        *b = b.wrapping_add(1);
                    }
                    Op::Remove(k) => prop_assert_eq!(t.remove(&k), m.remove(&k)),
                    Op::Retain(d) => {
                        t.retain(|_, v| *v % d == 0);
                        m.retain(|_, v| *v % d == 0);
                    }
                }
                prop_assert_eq!(t.len(), m.len());
                for k in 0u64..64 {
                    let k = k.wrapping_mul(0x1_0000_0001) ^ (k & 3);
                    prop_assert_eq!(t.get(&k), m.get(&k));
                }
            }
            let mut got = Vec::new();
            t.retain(|k, v| {
                got.push((*k, *v));
                true
            });
            let mut want: Vec<_> = m.into_iter().collect();
            got.sort();
            want.sort();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn stays_at_most_three_quarters_full_and_shrinks_after_an_expiry() {
        let mut t = KeyTable::default();
        for k in 0..10_000u64 {
            t.insert(k.wrapping_mul(0x9E37_79B9_7F4A_7C15), k);
        }
        assert!(t.slots.len() * 3 >= t.len() * 4);
        t.retain(|_, v| *v < 100);
        assert_eq!(t.len(), 100);
        assert!(t.slots.len() <= 256, "{}", t.slots.len());
        t.retain(|_, _| false);
        assert!(t.is_empty() && t.get(&0).is_none());
        t.prefetch(1);
    }
}
