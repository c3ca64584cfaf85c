//! The lab's link rules as the model applies them to captured segments, to
//! note which ones the link dropped after capture. The lab's BPF filters
//! (`crate::lab::filter`) compute the same hash; a test there runs the
//! programs against these functions.

use crate::tcp::Segment;

/// The loss hash's range: `loss 5%` drops hashes below 500.
pub const LOSS_RANGE: u32 = 10_000;

/// What a segment's fate is decided by: the same numbers the loss filter
/// reads from it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LossKey {
    pub syn: bool,
    pub seq: u32,
    pub ack: u32,
    /// Its timestamp option's value, if it has one.
    pub tsval: Option<u32>,
    /// The IPv4 identification (0 for IPv6): a resent copy has its own even
    /// within the millisecond of the one before (on loopback a fast
    /// retransmission comes microseconds later, with the same TSval, and
    /// without it was dropped again every time).
    pub ip_id: u16,
}

/// The hash the loss filter computes, in Rust (32-bit wrapping, as BPF).
#[must_use]
pub fn loss_hash(k: LossKey) -> u32 {
    let mut h = k.seq.wrapping_mul(0x9E37_79B1);
    h ^= k.ack;
    h = h.wrapping_mul(0x85EB_CA6B);
    h ^= k.tsval.unwrap_or(0);
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^= u32::from(k.ip_id);
    h = h.wrapping_mul(0x27D4_EB2F);
    h ^= h >> 16;
    h % LOSS_RANGE
}

/// Whether `link loss` at `per_10k` drops this segment.
#[must_use]
pub fn loss_drops(k: LossKey, per_10k: u32) -> bool {
    !k.syn && loss_hash(k) < per_10k
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
                let key = LossKey {
                    syn: h.flags.syn(),
                    seq: h.seq,
                    ack: h.ack,
                    tsval: h.options.timestamps.map(|(v, _)| v),
                    ip_id: seg.ip_id,
                };
                loss_drops(key, *per_10k)
            }),
            LinkRule::Drop(at) => seg
                .tcp
                .is_some_and(|h| !h.flags.syn() && seg.payload_len > 0 && at.contains(&rel_seq)),
        }
    }
}
