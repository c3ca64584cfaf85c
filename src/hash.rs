//! Hash maps for synack's own tables (connections, sockets, ids), hashed
//! with foldhash, seeded per process, instead of std's SipHash: under a
//! flood SipHash alone was a tenth of synack's time.

/// A `HashMap` with the fast hasher.
pub type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// A `HashSet` with the fast hasher.
pub type Set<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

use std::net::{SocketAddr, SocketAddrV4};

/// Feeds a socket address to a hasher in one or two words (its address
/// and port packed together), where the derived `Hash` of `SocketAddr` makes
/// a call and three writes: the tables keyed by addresses hash several per
/// packet. Equal addresses feed equal words, as `Hash` requires (the IPv6
/// flow label and scope, which equality also compares, are left out: that
/// only lets unequal keys share a word).
pub fn addr<H: std::hash::Hasher>(a: &SocketAddr, h: &mut H) {
    match a {
        SocketAddr::V4(v4) => {
            h.write_u64(v4_word(v4));
        }
        SocketAddr::V6(v6) => {
            h.write_u128(v6.ip().to_bits());
            h.write_u64(1 << 32 | u64::from(v6.port()));
        }
    }
}

/// A socket's or a connection's two ends: the first, and the second
/// unless there is none (a listener).
pub type Ends = (SocketAddr, Option<SocketAddr>);

/// A key made of two ends, that [`SockMap`] can take apart and put back.
pub trait SockKeyed: Copy + Eq + std::hash::Hash {
    fn ends(&self) -> Ends;
    fn from_ends(ends: Ends) -> Self;
}

impl SockKeyed for Ends {
    fn ends(&self) -> Ends {
        *self
    }
    fn from_ends(ends: Ends) -> Self {
        ends
    }
}

/// Two IPv4 ends in 14 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
struct V4Ends(SocketAddrV4, Option<SocketAddrV4>);

/// An IPv4 address and port as one 48-bit number, ordered as
/// `SocketAddrV4` orders them (address, then port).
#[must_use]
pub fn v4_word(a: &SocketAddrV4) -> u64 {
    u64::from(a.ip().to_bits()) << 16 | u64::from(a.port())
}

impl std::hash::Hash for V4Ends {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        // 48 bits each: `u64::MAX` is no address.
        h.write_u64(v4_word(&self.0));
        h.write_u64(self.1.as_ref().map_or(u64::MAX, v4_word));
    }
}

impl V4Ends {
    fn of(ends: Ends) -> Option<Self> {
        let SocketAddr::V4(a) = ends.0 else {
            return None;
        };
        match ends.1 {
            None => Some(V4Ends(a, None)),
            Some(SocketAddr::V4(b)) => Some(V4Ends(a, Some(b))),
            Some(SocketAddr::V6(_)) => None,
        }
    }

    fn ends(self) -> Ends {
        (SocketAddr::V4(self.0), self.1.map(SocketAddr::V4))
    }
}

/// A map keyed by two socket ends. The tables of a busy port (connections
/// followed, sockets shown, the kernel's sockets) hold tens of thousands of
/// keys, mostly IPv4: those are kept in 14 bytes instead of 64 (a third to
/// a half of each slot), anything else (IPv6, families mixed) as it is.
#[derive(Debug, Clone)]
pub struct SockMap<K, V> {
    v4: Map<V4Ends, V>,
    other: Map<K, V>,
}

impl<K, V> Default for SockMap<K, V> {
    fn default() -> Self {
        Self {
            v4: Map::default(),
            other: Map::default(),
        }
    }
}

impl std::fmt::Debug for V4Ends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.ends(), f)
    }
}

impl<K: SockKeyed, V> SockMap<K, V> {
    #[must_use]
    pub fn len(&self) -> usize {
        self.v4.len() + self.other.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.other.is_empty()
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        match V4Ends::of(key.ends()) {
            Some(k) => self.v4.get(&k),
            None => self.other.get(key),
        }
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        match V4Ends::of(key.ends()) {
            Some(k) => self.v4.get_mut(&k),
            None => self.other.get_mut(key),
        }
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    /// Sets the value of `key`; the one it replaces, if any.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match V4Ends::of(key.ends()) {
            Some(k) => self.v4.insert(k, value),
            None => self.other.insert(key, value),
        }
    }

    /// The value of `key`, made with `new` if there is none.
    pub fn get_or_insert_with(&mut self, key: K, new: impl FnOnce() -> V) -> &mut V {
        match V4Ends::of(key.ends()) {
            Some(k) => self.v4.entry(k).or_insert_with(new),
            None => self.other.entry(key).or_insert_with(new),
        }
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        match V4Ends::of(key.ends()) {
            Some(k) => self.v4.remove(&k),
            None => self.other.remove(key),
        }
    }

    /// Every key with its value, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (K, &V)> {
        let v4 = self.v4.iter().map(|(k, v)| (K::from_ends(k.ends()), v));
        v4.chain(self.other.iter().map(|(k, v)| (*k, v)))
    }

    /// Every key with its value, to change, in no particular order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (K, &mut V)> {
        let v4 = self.v4.iter_mut().map(|(k, v)| (K::from_ends(k.ends()), v));
        v4.chain(self.other.iter_mut().map(|(k, v)| (*k, v)))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.v4.values().chain(self.other.values())
    }

    /// Keeps only the entries `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(K, &mut V) -> bool) {
        self.v4.retain(|k, v| keep(K::from_ends(k.ends()), v));
        self.other.retain(|k, v| keep(*k, v));
    }
}

/// Two socket addresses in 16 bytes instead of 64: two IPv4 ones as they
/// are, any other two behind a box.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pair {
    V4(SocketAddrV4, SocketAddrV4),
    Other(Box<(SocketAddr, SocketAddr)>),
}

impl Pair {
    #[must_use]
    pub fn new(a: SocketAddr, b: SocketAddr) -> Self {
        match (a, b) {
            (SocketAddr::V4(a), SocketAddr::V4(b)) => Pair::V4(a, b),
            _ => Pair::Other(Box::new((a, b))),
        }
    }

    /// The two addresses, in the order given.
    #[must_use]
    pub fn get(&self) -> (SocketAddr, SocketAddr) {
        match self {
            Pair::V4(a, b) => (SocketAddr::V4(*a), SocketAddr::V4(*b)),
            Pair::Other(p) => **p,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::hash::{BuildHasher, Hasher};
    use std::net::SocketAddr;

    fn word(a: &str) -> u64 {
        let a: SocketAddr = a.parse().unwrap_or_else(|e| panic!("{a}: {e}"));
        let mut h = foldhash::fast::FixedState::with_seed(7).build_hasher();
        super::addr(&a, &mut h);
        h.finish()
    }

    #[test]
    fn addresses_hash_apart_by_address_port_and_family() {
        let all = [
            "127.0.0.1:80",
            "127.0.0.1:81",
            "127.0.0.2:80",
            "0.0.0.0:0",
            "[::1]:80",
            "[::1]:81",
            "[::ffff:127.0.0.1]:80",
            "[::]:0",
        ];
        let words: std::collections::BTreeSet<u64> = all.iter().map(|a| word(a)).collect();
        assert_eq!(words.len(), all.len());
        assert_eq!(word("127.0.0.1:80"), word("127.0.0.1:80"));
    }

    fn ends(a: &str, b: Option<&str>) -> super::Ends {
        let p = |s: &str| -> SocketAddr { s.parse().unwrap_or_else(|e| panic!("{s}: {e}")) };
        (p(a), b.map(p))
    }

    #[test]
    fn a_sock_map_keeps_every_key_as_given_ipv4_in_the_small_table() {
        let mut map = super::SockMap::<super::Ends, usize>::default();
        let keys = [
            ends("127.0.0.1:40000", Some("127.0.0.1:7000")),
            ends("127.0.0.1:7000", None),
            ends("127.0.0.1:7000", Some("127.0.0.1:40000")),
            ends("[::1]:7000", Some("[::1]:40000")),
            ends("[::]:7000", None),
            // Families mixed: kept whole, as given.
            ends("127.0.0.1:7000", Some("[::1]:40000")),
            ends("[fe80::1%2]:7000", Some("[fe80::2%2]:40000")),
            ends("[fe80::1%3]:7000", Some("[fe80::2%3]:40000")),
        ];
        for (i, k) in keys.iter().enumerate() {
            if i % 2 == 0 {
                assert_eq!(map.insert(*k, i), None);
            } else {
                *map.get_or_insert_with(*k, || 100) += i;
            }
        }
        assert_eq!(
            map.v4.len(),
            3,
            "the IPv4 connection both ways and the listener"
        );
        assert_eq!(map.other.len(), 5);
        assert_eq!(map.len(), keys.len());
        for (i, k) in keys.iter().enumerate() {
            let want = if i % 2 == 0 { i } else { 100 + i };
            assert_eq!(map.get(k), Some(&want), "{k:?}");
        }
        let mut back: Vec<String> = map.iter().map(|(k, v)| format!("{k:?} {v}")).collect();
        let mut again: Vec<String> = map.iter_mut().map(|(k, v)| format!("{k:?} {v}")).collect();
        back.sort_unstable();
        again.sort_unstable();
        let mut want: Vec<String> = keys
            .iter()
            .map(|k| format!("{k:?} {}", map.get(k).expect("kept")))
            .collect();
        want.sort_unstable();
        assert_eq!(back, want, "iteration gives each key back as it was");
        assert_eq!(again, want);
        assert_eq!(map.values().count(), keys.len());
        *map.get_mut(&keys[0]).expect("kept") = 7;
        assert_eq!(map.insert(keys[0], 8), Some(7));
        assert!(map.contains_key(&keys[0]));
        assert_eq!(map.remove(&keys[0]), Some(8));
        assert!(!map.contains_key(&keys[0]) && map.remove(&keys[0]).is_none());
        assert_eq!(map.remove(&keys[5]), Some(105));
        map.retain(|k, _| k.1.is_some());
        assert_eq!(map.len(), keys.len() - 4, "the two listeners went");
        assert!(!map.is_empty());
    }

    #[test]
    fn a_pair_gives_back_its_two_addresses_in_order() {
        for (a, b) in [
            ("127.0.0.1:40000", "127.0.0.1:7000"),
            ("127.0.0.1:7000", "127.0.0.1:40000"),
            ("[::1]:7000", "[::1]:40000"),
            ("127.0.0.1:7000", "[::1]:40000"),
            ("[fe80::1%2]:7000", "[fe80::2%2]:40000"),
        ] {
            let e = ends(a, Some(b));
            let (a, b) = (e.0, e.1.expect("given"));
            assert_eq!(super::Pair::new(a, b).get(), (a, b));
        }
        assert_eq!(size_of::<super::Pair>(), 16);
    }
}
