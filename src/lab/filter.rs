//! The lab's link rules as classic BPF socket filters, and the same rules in
//! Rust so the model can tell which captured segments the filters dropped.
//!
//! TCP runs a socket's filter on each segment that arrives for it, after
//! AF_PACKET capture saw it, with the data starting at the TCP header (the
//! IP header is already pulled): offset 4 is the sequence number, 8 the
//! acknowledgment number, 12 the data offset, 13 the flags, and the packet's
//! length is the TCP header plus the payload. A filter that returns 0 drops
//! the segment as if the wire had lost it.
//!
//! Classic BPF keeps no state between packets, so neither rule counts:
//!
//! - `loss`: a hash of (seq, ack, TSval, IPv4 identification) decides.
//!   Linux puts NOP NOP TS first in every segment after the handshake, so
//!   TSval is at offset 24; a segment without it hashes a 0 there. The
//!   identification is read from the IP header through the network-header
//!   offset (`SKF_NET_OFF`), 0 for IPv6. Linux numbers a connected socket's
//!   IPv4 packets one by one, so a resent copy is decided afresh even within
//!   the millisecond of the copy before (TSval alone made a fast
//!   retransmission on loopback share its original's fate); SYNs always pass.
//!   SKF_AD_RANDOM would be simpler, but then nobody could say which
//!   captured segments were dropped: with a hash, [`crate::model::link::loss_drops`] says it.
//! - `drop`: the receiving peer learns where the incoming stream began (its
//!   `rcv_nxt` through TCP_REPAIR's queue sequence, less TCP_INFO's
//!   `bytes_received`) and its MSS (TCP_MAXSEG), and the filter drops data
//!   segments whose sequence number is one of the chosen starts — every copy,
//!   until the link is restored.

/// What the filter returns to keep a segment whole.
const ACCEPT: u32 = u32::MAX;
/// What it returns to drop one.
const DROP: u32 = 0;

use crate::model::link::LOSS_RANGE;

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

const LDB: u32 = libc::BPF_LD | libc::BPF_B | libc::BPF_ABS;
const LDH: u32 = libc::BPF_LD | libc::BPF_H | libc::BPF_ABS;
/// Loads at this offset and above read the network (IP) header.
const NET: u32 = libc::SKF_NET_OFF as u32;
const LDW: u32 = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
const RET: u32 = libc::BPF_RET | libc::BPF_K;
const SYN: u32 = 0x02;

/// Drops everything.
#[must_use]
pub fn cut_program() -> Vec<libc::sock_filter> {
    vec![stmt(RET, DROP)]
}

/// Drops the segments [`crate::model::link::loss_drops`] names.
#[must_use]
pub fn loss_program(per_10k: u32) -> Vec<libc::sock_filter> {
    use libc::BPF_XOR;
    use libc::{BPF_ALU, BPF_AND, BPF_IMM, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JMP, BPF_JSET, BPF_K};
    use libc::{BPF_LD, BPF_MEM, BPF_MISC, BPF_MOD, BPF_MUL, BPF_RSH, BPF_ST, BPF_TAX, BPF_X};
    vec![
        /* 0 */ stmt(LDB, 13),
        /* 1 */ jump(BPF_JMP | BPF_JSET | BPF_K, SYN, 39, 0),
        /* 2 */ stmt(LDW, 4),
        /* 3 */ stmt(BPF_ALU | BPF_MUL | BPF_K, 0x9E37_79B1),
        /* 4 */ stmt(BPF_ST, 0),
        /* 5 */ stmt(LDW, 8),
        /* 6 */ stmt(BPF_MISC | BPF_TAX, 0),
        /* 7 */ stmt(BPF_LD | BPF_MEM, 0),
        /* 8 */ stmt(BPF_ALU | BPF_XOR | BPF_X, 0),
        /* 9 */ stmt(BPF_ALU | BPF_MUL | BPF_K, 0x85EB_CA6B),
        /* 10 */ stmt(BPF_ST, 0),
        // TSval when the header is long enough and starts NOP NOP TS, else 0.
        /* 11 */
        stmt(LDB, 12),
        /* 12 */ jump(BPF_JMP | BPF_JGE | BPF_K, 0x80, 0, 4),
        /* 13 */ stmt(LDW, 20),
        /* 14 */ jump(BPF_JMP | BPF_JEQ | BPF_K, 0x0101_080A, 0, 2),
        /* 15 */ stmt(LDW, 24),
        /* 16 */ stmt(BPF_JMP | BPF_JA, 1),
        /* 17 */ stmt(BPF_LD | BPF_IMM, 0),
        /* 18 */ stmt(BPF_MISC | BPF_TAX, 0),
        /* 19 */ stmt(BPF_LD | BPF_MEM, 0),
        /* 20 */ stmt(BPF_ALU | BPF_XOR | BPF_X, 0),
        /* 21 */ stmt(BPF_ALU | BPF_MUL | BPF_K, 0xC2B2_AE35),
        /* 22 */ stmt(BPF_ST, 0),
        // The IPv4 identification, or 0 when the IP header is not IPv4's.
        /* 23 */
        stmt(LDB, NET),
        /* 24 */ stmt(BPF_ALU | BPF_AND | BPF_K, 0xf0),
        /* 25 */ jump(BPF_JMP | BPF_JEQ | BPF_K, 0x40, 0, 2),
        /* 26 */ stmt(LDH, NET + 4),
        /* 27 */ stmt(BPF_JMP | BPF_JA, 1),
        /* 28 */ stmt(BPF_LD | BPF_IMM, 0),
        /* 29 */ stmt(BPF_MISC | BPF_TAX, 0),
        /* 30 */ stmt(BPF_LD | BPF_MEM, 0),
        /* 31 */ stmt(BPF_ALU | BPF_XOR | BPF_X, 0),
        /* 32 */ stmt(BPF_ALU | BPF_MUL | BPF_K, 0x27D4_EB2F),
        /* 33 */ stmt(BPF_ST, 0),
        /* 34 */ stmt(BPF_ALU | BPF_RSH | BPF_K, 16),
        /* 35 */ stmt(BPF_MISC | BPF_TAX, 0),
        /* 36 */ stmt(BPF_LD | BPF_MEM, 0),
        /* 37 */ stmt(BPF_ALU | BPF_XOR | BPF_X, 0),
        /* 38 */ stmt(BPF_ALU | BPF_MOD | BPF_K, LOSS_RANGE),
        /* 39 */ jump(BPF_JMP | BPF_JGE | BPF_K, per_10k, 1, 0),
        /* 40 */ stmt(RET, DROP),
        /* 41 */ stmt(RET, ACCEPT),
    ]
}

/// Drops data segments whose sequence number is one of `seqs` (absolute).
#[must_use]
pub fn drop_program(seqs: &[u32]) -> Vec<libc::sock_filter> {
    use libc::{BPF_ALU, BPF_AND, BPF_JEQ, BPF_JGT, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_LEN};
    use libc::{BPF_MISC, BPF_RSH, BPF_TAX, BPF_W, BPF_X};
    // At most 200 starts: every jump below stays within a u8.
    let seqs = &seqs[..seqs.len().min(200)];
    let n = seqs.len() as u8;
    let mut p = vec![
        stmt(LDB, 13),
        // A SYN: to the accept below.
        jump(BPF_JMP | BPF_JSET | BPF_K, SYN, 6, 0),
        // X = the header's length; data only when the segment is longer.
        stmt(LDB, 12),
        stmt(BPF_ALU | BPF_RSH | BPF_K, 2),
        stmt(BPF_ALU | BPF_AND | BPF_K, 0x3c),
        stmt(BPF_MISC | BPF_TAX, 0),
        stmt(BPF_LD | BPF_W | BPF_LEN, 0),
        jump(BPF_JMP | BPF_JGT | BPF_X, 0, 1, 0),
        stmt(RET, ACCEPT),
        stmt(LDW, 4),
    ];
    for (i, &s) in seqs.iter().enumerate() {
        // Match: jump over the rest of the comparisons and the accept.
        let to_drop = n - i as u8;
        p.push(jump(BPF_JMP | BPF_JEQ | BPF_K, s, to_drop, 0));
    }
    p.push(stmt(RET, ACCEPT));
    p.push(stmt(RET, DROP));
    p
}

#[cfg(test)]
mod tests {
    //! The programs run by a small classic-BPF interpreter on hand-made TCP
    //! headers: they must agree with the Rust rules the model uses.

    use super::*;
    use crate::model::link::{LossKey, drop_starts, loss_drops};

    /// Runs a classic BPF program over `pkt` (the TCP header on), with no
    /// IP header before it.
    fn run(prog: &[libc::sock_filter], pkt: &[u8]) -> u32 {
        run_ip(prog, &[], pkt)
    }

    /// Runs a classic BPF program over `pkt`, with `ip` as the network
    /// header (enough of the opcodes for ours). A load out of bounds ends
    /// the program with 0, as in the kernel.
    fn run_ip(prog: &[libc::sock_filter], ip: &[u8], pkt: &[u8]) -> u32 {
        let (mut a, mut x, mut m) = (0u32, 0u32, [0u32; 16]);
        let mut pc = 0usize;
        let load = |k: u32, size: usize| -> Option<u32> {
            let (bytes, off) = if k >= NET {
                (ip, (k - NET) as usize)
            } else {
                (pkt, k as usize)
            };
            let b = bytes.get(off..off + size)?;
            Some(b.iter().fold(0u32, |v, &byte| (v << 8) | u32::from(byte)))
        };
        loop {
            let ins = prog[pc];
            let code = u32::from(ins.code);
            pc += 1;
            let class = code & 0x07;
            match class {
                libc::BPF_LD => {
                    let size = match code & 0x18 {
                        libc::BPF_W => 4,
                        libc::BPF_H => 2,
                        _ => 1,
                    };
                    a = match code & 0xe0 {
                        libc::BPF_ABS => match load(ins.k, size) {
                            Some(v) => v,
                            None => return 0,
                        },
                        libc::BPF_IMM => ins.k,
                        libc::BPF_MEM => m[ins.k as usize],
                        libc::BPF_LEN => pkt.len() as u32,
                        other => panic!("ld mode {other:#x}"),
                    };
                }
                libc::BPF_ST => m[ins.k as usize] = a,
                libc::BPF_ALU => {
                    let v = if code & 0x08 == libc::BPF_X { x } else { ins.k };
                    a = match code & 0xf0 {
                        libc::BPF_MUL => a.wrapping_mul(v),
                        libc::BPF_XOR => a ^ v,
                        libc::BPF_RSH => a >> v,
                        libc::BPF_AND => a & v,
                        libc::BPF_MOD => a % v,
                        other => panic!("alu {other:#x}"),
                    };
                }
                libc::BPF_MISC => x = a,
                libc::BPF_JMP => {
                    let v = if code & 0x08 == libc::BPF_X { x } else { ins.k };
                    let taken = match code & 0xf0 {
                        libc::BPF_JA => {
                            pc += ins.k as usize;
                            continue;
                        }
                        libc::BPF_JEQ => a == v,
                        libc::BPF_JGT => a > v,
                        libc::BPF_JGE => a >= v,
                        libc::BPF_JSET => a & v != 0,
                        other => panic!("jmp {other:#x}"),
                    };
                    pc += usize::from(if taken { ins.jt } else { ins.jf });
                }
                libc::BPF_RET => return ins.k,
                other => panic!("class {other:#x}"),
            }
        }
    }

    fn header(seq: u32, ack: u32, flags: u8, ts: Option<u32>, payload: usize) -> Vec<u8> {
        let mut h = vec![0u8; 20];
        h[4..8].copy_from_slice(&seq.to_be_bytes());
        h[8..12].copy_from_slice(&ack.to_be_bytes());
        h[13] = flags;
        if let Some(ts) = ts {
            h.extend_from_slice(&[1, 1, 8, 10]);
            h.extend_from_slice(&ts.to_be_bytes());
            h.extend_from_slice(&7u32.to_be_bytes());
        }
        h[12] = ((h.len() / 4) as u8) << 4;
        h.resize(h.len() + payload, b'x');
        h
    }

    /// An IPv4 header with this identification, or an IPv6 header.
    fn ip_header(v4_id: Option<u16>) -> Vec<u8> {
        match v4_id {
            Some(id) => {
                let mut h = vec![0x45, 0, 0, 60];
                h.extend_from_slice(&id.to_be_bytes());
                h.extend_from_slice(&[0x40, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
                h
            }
            None => {
                let mut h = vec![0x60, 0, 0, 0, 0, 40, 6, 64];
                h.extend_from_slice(&[0; 32]);
                h
            }
        }
    }

    #[test]
    fn the_loss_program_drops_what_the_model_says() {
        let mut dropped = 0;
        let mut x = 12_345u32;
        for i in 0..4000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let (seq, ack) = (x, x.rotate_left(13) ^ i);
            let ts = (i % 3 != 0).then_some(x >> 3);
            let syn = i % 50 == 0;
            let flags = if syn { 0x12 } else { 0x10 };
            // Every fifth an IPv6 packet: no identification.
            let id = (i % 5 != 0).then_some((x >> 7) as u16);
            let pkt = header(seq, ack, flags, ts, (i % 4) as usize * 100);
            let verdict = run_ip(&loss_program(500), &ip_header(id), &pkt) == DROP;
            let key = LossKey {
                syn,
                seq,
                ack,
                tsval: ts,
                ip_id: id.unwrap_or(0),
            };
            assert_eq!(verdict, loss_drops(key, 500), "{i}");
            dropped += u32::from(verdict);
        }
        // About 5% (of the 98% that are not SYNs).
        assert!((140..260).contains(&dropped), "{dropped}");
        let v4 = ip_header(Some(7));
        let pkt = header(1, 2, 0x10, None, 10);
        assert_eq!(run_ip(&loss_program(0), &v4, &pkt), ACCEPT);
        assert_eq!(run_ip(&loss_program(LOSS_RANGE), &v4, &pkt), DROP);
    }

    #[test]
    fn copies_of_a_segment_sent_in_the_same_millisecond_are_decided_apart() {
        // The same seq, ack and TSval (a fast retransmission on loopback,
        // microseconds after the original): only the identification differs.
        let pkt = header(1_000, 2_000, 0x10, Some(77), 988);
        let verdicts: Vec<bool> = (0..200u16)
            .map(|id| run_ip(&loss_program(2_000), &ip_header(Some(id)), &pkt) == DROP)
            .collect();
        let dropped = verdicts.iter().filter(|d| **d).count();
        // 20% of 200: far from all or none.
        assert!(
            (15..70).contains(&dropped),
            "{dropped} of 200 copies dropped"
        );
        // Over IPv6 the copies share one fate, as the model says.
        let v6 = ip_header(None);
        let key = LossKey {
            syn: false,
            seq: 1_000,
            ack: 2_000,
            tsval: Some(77),
            ip_id: 0,
        };
        assert_eq!(
            run_ip(&loss_program(2_000), &v6, &pkt) == DROP,
            loss_drops(key, 2_000)
        );
    }

    #[test]
    fn the_drop_program_drops_data_at_the_chosen_starts_only() {
        let base = 0xFFFF_FF00u32; // the stream wraps past 2^32
        let starts = drop_starts(&[2, 4], 988);
        assert_eq!(starts, vec![989, 2965]);
        let seqs: Vec<u32> = starts.iter().map(|s| base.wrapping_add(*s)).collect();
        let prog = drop_program(&seqs);
        for (seq, flags, len, dropped) in [
            (seqs[0], 0x10, 988, true),
            (seqs[1], 0x18, 100, true),
            (seqs[0], 0x10, 0, false), // a pure ACK at that number
            (seqs[0], 0x02, 0, false), // a SYN
            (seqs[0] + 1, 0x10, 988, false),
            (base.wrapping_add(1), 0x10, 988, false),
        ] {
            let pkt = header(seq, 5, flags, Some(9), len);
            assert_eq!(run(&prog, &pkt) == DROP, dropped, "{seq} {flags:#x} {len}");
        }
        assert_eq!(run(&cut_program(), &header(1, 2, 0x10, None, 0)), DROP);
    }
}
