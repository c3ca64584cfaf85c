//! Hash maps for synack's own tables (connections, sockets, ids), hashed
//! with foldhash, seeded per process, instead of std's SipHash: under a
//! flood SipHash alone was a tenth of synack's time.

/// A `HashMap` with the fast hasher.
pub type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// A `HashSet` with the fast hasher.
pub type Set<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
