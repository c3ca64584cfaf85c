//! The lab's link rules as the model applies them to captured segments, to
//! note which ones the link dropped after capture. The lab's BPF filters
//! (`crate::lab::filter`) compute the same hash; a test there runs the
//! programs against these functions.

use crate::tcp::Segment;

/// The loss hash's range: `loss 5%` drops hashes below 500.
pub const LOSS_RANGE: u32 = 10_000;

/// The hash the loss filter computes, in Rust (32-bit wrapping, as BPF).
#[must_use]
pub fn loss_hash(seq: u32, ack: u32, tsval: u32) -> u32 {
    let mut h = seq.wrapping_mul(0x9E37_79B1);
    h ^= ack;
    h = h.wrapping_mul(0x85EB_CA6B);
    h ^= tsval;
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^= h >> 16;
    h % LOSS_RANGE
}

/// Whether `link loss` at `per_10k` drops this segment (`tsval`: its
/// timestamp option's value, if it has one).
#[must_use]
pub fn loss_drops(syn: bool, seq: u32, ack: u32, tsval: Option<u32>, per_10k: u32) -> bool {
    !syn && loss_hash(seq, ack, tsval.unwrap_or(0)) < per_10k
}

/// The relative sequence numbers (`seq` as `--json` shows them: the SYN is
/// 0) at which the chosen full-sized segments start.
#[must_use]
pub fn drop_starts(segments: &[u32], mss: u32) -> Vec<u32> {
    segments
        .iter()
        .map(|&n| n.saturating_sub(1).wrapping_mul(mss).wrapping_add(1))
        .collect()
}

/// What the lab's link drops (the filters' rules, as the model applies them).
#[derive(Clone, Debug)]
pub enum LinkRule {
    Cut,
    /// In 10,000ths.
    Loss(u32),
    /// Data segments at these relative sequence numbers.
    Drop(Vec<u32>),
}

impl LinkRule {
    #[must_use]
    pub fn drops(&self, seg: &Segment, rel_seq: u32) -> bool {
        match self {
            LinkRule::Cut => true,
            LinkRule::Loss(per_10k) => seg.tcp.is_some_and(|h| {
                let tsval = h.options.timestamps.map(|(v, _)| v);
                loss_drops(h.flags.syn(), h.seq, h.ack, tsval, *per_10k)
            }),
            LinkRule::Drop(at) => seg
                .tcp
                .is_some_and(|h| !h.flags.syn() && seg.payload_len > 0 && at.contains(&rel_seq)),
        }
    }
}
