//! Sets and maps of hashes that live inside their owner while small.
//!
//! Most principals touch few subjects: a customer reads their own record, a
//! service its handful. A `HashSet` per key per rule is one more heap block
//! per event to miss in the cache (and to allocate), for one element. These
//! keep up to [`INLINE`] hashes in place, in the key's state the engine has
//! already fetched, and spill to a hash table past that.

use std::collections::{HashMap, HashSet};

use super::Prehashed;

/// Hashes kept in place before spilling.
const INLINE: usize = 4;

/// A set of 64-bit hashes.
#[derive(Debug, Clone)]
pub enum SmallSet {
    Inline { len: u8, items: [u64; INLINE] },
    Spilled(HashSet<u64, Prehashed>),
}

impl Default for SmallSet {
    fn default() -> Self {
        SmallSet::Inline {
            len: 0,
            items: [0; INLINE],
        }
    }
}

impl SmallSet {
    /// Adds `h`; true when it was not there.
    pub fn insert(&mut self, h: u64) -> bool {
        match self {
            SmallSet::Inline { len, items } => {
                let n = *len as usize;
                if items[..n].contains(&h) {
                    return false;
                }
                if n < INLINE {
                    items[n] = h;
                    *len += 1;
                    return true;
                }
                let mut set: HashSet<u64, Prehashed> =
                    HashSet::with_capacity_and_hasher(INLINE * 4, Prehashed);
                set.extend(items.iter().copied());
                set.insert(h);
                *self = SmallSet::Spilled(set);
                true
            }
            SmallSet::Spilled(set) => set.insert(h),
        }
    }

    pub fn contains(&self, h: &u64) -> bool {
        match self {
            SmallSet::Inline { len, items } => items[..*len as usize].contains(h),
            SmallSet::Spilled(set) => set.contains(h),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            SmallSet::Inline { len, .. } => *len as usize,
            SmallSet::Spilled(set) => set.len(),
        }
    }

    /// Empties the set; a spilled one keeps its table (a heavy reader's
    /// next bucket will need it again).
    pub fn clear(&mut self) {
        match self {
            SmallSet::Inline { len, .. } => *len = 0,
            SmallSet::Spilled(set) => set.clear(),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        let (inline, spilled) = match self {
            SmallSet::Inline { len, items } => (&items[..*len as usize], None),
            SmallSet::Spilled(set) => (&[][..], Some(set)),
        };
        inline
            .iter()
            .copied()
            .chain(spilled.into_iter().flatten().copied())
    }
}

/// A map from 64-bit hashes to times.
#[derive(Debug, Clone)]
pub enum SmallMap {
    Inline {
        len: u8,
        items: [(u64, i64); INLINE],
    },
    Spilled(HashMap<u64, i64, Prehashed>),
}

impl Default for SmallMap {
    fn default() -> Self {
        SmallMap::Inline {
            len: 0,
            items: [(0, 0); INLINE],
        }
    }
}

impl SmallMap {
    /// Sets `h`'s value to `v`.
    pub fn insert(&mut self, h: u64, v: i64) {
        match self {
            SmallMap::Inline { len, items } => {
                let n = *len as usize;
                if let Some(e) = items[..n].iter_mut().find(|e| e.0 == h) {
                    e.1 = v;
                } else if n < INLINE {
                    items[n] = (h, v);
                    *len += 1;
                } else {
                    let mut map: HashMap<u64, i64, Prehashed> =
                        HashMap::with_capacity_and_hasher(INLINE * 4, Prehashed);
                    map.extend(items.iter().copied());
                    map.insert(h, v);
                    *self = SmallMap::Spilled(map);
                }
            }
            SmallMap::Spilled(map) => {
                map.insert(h, v);
            }
        }
    }

    pub fn len(&self) -> usize {
        match self {
            SmallMap::Inline { len, .. } => *len as usize,
            SmallMap::Spilled(map) => map.len(),
        }
    }

    /// Keeps the entries `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(u64, i64) -> bool) {
        match self {
            SmallMap::Inline { len, items } => {
                let mut n = 0;
                for i in 0..*len as usize {
                    if keep(items[i].0, items[i].1) {
                        items[n] = items[i];
                        n += 1;
                    }
                }
                *len = n as u8;
            }
            SmallMap::Spilled(map) => map.retain(|&h, &mut v| keep(h, v)),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, i64)> + '_ {
        let (inline, spilled) = match self {
            SmallMap::Inline { len, items } => (&items[..*len as usize], None),
            SmallMap::Spilled(map) => (&[][..], Some(map)),
        };
        inline
            .iter()
            .copied()
            .chain(spilled.into_iter().flatten().map(|(&h, &v)| (h, v)))
    }
}

/// A field most keys' states never use, boxed on first write: one word in
/// every state instead of the field's full size (a principal's state is
/// fetched from memory on each of its events, so its size is time). Reads
/// of a field never written see an empty value.
#[derive(Debug, Default)]
pub struct Lazy<T>(Option<Box<T>>);

/// A type with a shared empty value, for [`Lazy`] fields never written.
pub trait Empty: Default + 'static {
    fn empty() -> &'static Self;
}

impl<T: Empty> std::ops::Deref for Lazy<T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.0 {
            Some(v) => v,
            None => T::empty(),
        }
    }
}

impl<T: Empty> Lazy<T> {
    /// The field, boxed first if never written.
    pub fn make(&mut self) -> &mut T {
        self.0.get_or_insert_with(Default::default)
    }

    /// The field, if ever written (to clear it without boxing an empty one).
    pub fn existing(&mut self) -> Option<&mut T> {
        self.0.as_deref_mut()
    }
}

impl Empty for std::collections::VecDeque<i64> {
    fn empty() -> &'static Self {
        static EMPTY: std::collections::VecDeque<i64> = std::collections::VecDeque::new();
        &EMPTY
    }
}

impl Empty for HashMap<u64, i64, Prehashed> {
    fn empty() -> &'static Self {
        static EMPTY: HashMap<u64, i64, Prehashed> = HashMap::with_hasher(Prehashed);
        &EMPTY
    }
}

impl Empty for Vec<Box<str>> {
    fn empty() -> &'static Self {
        static EMPTY: Vec<Box<str>> = Vec::new();
        &EMPTY
    }
}

impl Empty for SmallSet {
    fn empty() -> &'static Self {
        static EMPTY: SmallSet = SmallSet::Inline {
            len: 0,
            items: [0; INLINE],
        };
        &EMPTY
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever is inserted, cleared or retained, the small set and map
        /// hold what a `HashSet` and a `HashMap` hold, across the spill.
        #[test]
        fn they_behave_like_the_std_collections(
            ops in proptest::collection::vec((0u64..12, -5i64..5, 0u8..10), 0..200),
        ) {
            let (mut s, mut ss) = (SmallSet::default(), std::collections::HashSet::new());
            let (mut m, mut sm) = (SmallMap::default(), std::collections::HashMap::new());
            for (h, v, op) in ops {
                match op {
                    0 => {
                        s.clear();
                        ss.clear();
                    }
                    1 => {
                        m.retain(|_, x| x >= v);
                        sm.retain(|_, x| *x >= v);
                    }
                    _ => {
                        prop_assert_eq!(s.insert(h), ss.insert(h));
                        m.insert(h, v);
                        sm.insert(h, v);
                    }
                }
                prop_assert_eq!(s.len(), ss.len());
                prop_assert_eq!(m.len(), sm.len());
                prop_assert_eq!(s.contains(&h), ss.contains(&h));
            }
            let mut got: Vec<u64> = s.iter().collect();
            let mut want: Vec<u64> = ss.into_iter().collect();
            got.sort();
            want.sort();
            prop_assert_eq!(got, want);
            let mut got: Vec<(u64, i64)> = m.iter().collect();
            let mut want: Vec<(u64, i64)> = sm.into_iter().collect();
            got.sort();
            want.sort();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn a_few_stay_in_place_and_more_spill() {
        let mut s = SmallSet::default();
        for h in 0..INLINE as u64 {
            assert!(s.insert(h));
        }
        assert!(matches!(s, SmallSet::Inline { .. }));
        assert!(!s.insert(0));
        assert!(s.insert(99));
        assert!(matches!(s, SmallSet::Spilled(_)));
        assert_eq!(s.len(), INLINE + 1);
    }

    #[test]
    fn a_lazy_field_reads_empty_and_boxes_only_when_written() {
        let mut times: Lazy<std::collections::VecDeque<i64>> = Lazy::default();
        assert!(times.is_empty());
        assert!(times.existing().is_none(), "a read boxes nothing");
        times.make().push_back(7);
        assert_eq!(times.front(), Some(&7));
        times.existing().expect("written").clear();
        assert!(times.is_empty());
        let mut set: Lazy<SmallSet> = Lazy::default();
        assert!(!set.contains(&1) && set.len() == 0);
        assert!(set.make().insert(1));
        assert!(set.contains(&1));
    }
}
