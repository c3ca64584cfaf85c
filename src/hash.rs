//! Hash maps for synack's own tables (connections, sockets, ids), hashed
//! with foldhash, seeded per process, instead of std's SipHash: under a
//! flood SipHash alone was a tenth of synack's time.

/// A `HashMap` with the fast hasher.
pub type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// A `HashSet` with the fast hasher.
pub type Set<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// Feeds a socket address to a hasher in one or two words (its address
/// and port packed together), where the derived `Hash` of `SocketAddr` makes
/// a call and three writes: the tables keyed by addresses hash several per
/// packet. Equal addresses feed equal words, as `Hash` requires (the IPv6
/// flow label and scope, which equality also compares, are left out: that
/// only lets unequal keys share a word).
pub fn addr<H: std::hash::Hasher>(a: &std::net::SocketAddr, h: &mut H) {
    match a {
        std::net::SocketAddr::V4(v4) => {
            h.write_u64(u64::from(v4.ip().to_bits()) << 16 | u64::from(v4.port()));
        }
        std::net::SocketAddr::V6(v6) => {
            h.write_u128(v6.ip().to_bits());
            h.write_u64(1 << 32 | u64::from(v6.port()));
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
}
