//! A classic BPF program (the kernel's socket filter language) that keeps
//! only the packets synack shows, trimmed to a snap length before they are
//! queued: the kernel spends receive-buffer memory only on what passes.
//!
//! The program is emitted through a tiny assembler with labels. Conditional
//! jumps (8-bit offsets) only ever go a few instructions forward; far jumps
//! are `ja` (32-bit offset), so the program is valid for any number of ports
//! and hosts. The kernel limits a program to 4096 instructions (BPF_MAXINSNS);
//! `LiveCapture::open` checks that.

use std::net::IpAddr;

use super::Filter;

/// The kernel's limit on a classic BPF program's length.
pub const MAX_INSNS: usize = 4096;

// Instruction classes, sizes, modes and operations (linux/filter.h, linux/bpf_common.h).
const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;
const W: u16 = 0x00;
const H: u16 = 0x08;
const B: u16 = 0x10;
const ABS: u16 = 0x20;
const IND: u16 = 0x40;
const MSH: u16 = 0xa0;
const JA: u16 = 0x00;
const JEQ: u16 = 0x10;
const JSET: u16 = 0x40;
const K: u16 = 0x00;

/// `SKF_AD_OFF + SKF_AD_PKTTYPE`: the ancillary load of the packet type.
const AD_PKTTYPE: u32 = 0xffff_f000 + 4;
/// `PACKET_OUTGOING` (linux/if_packet.h).
const PACKET_OUTGOING: u32 = 4;

const ETHERTYPE_IPV4: u32 = 0x0800;
const ETHERTYPE_IPV6: u32 = 0x86dd;
const PROTO_TCP: u32 = 6;
const PROTO_UDP: u32 = 17;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Label(usize);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Next,
    To(Label),
}

#[derive(Clone, Copy, Debug)]
enum Item {
    Insn {
        code: u16,
        k: u32,
    },
    Cond {
        code: u16,
        k: u32,
        jt: Target,
        jf: Target,
    },
    Jump(Label),
    Mark(Label),
}

/// Why a program could not be assembled (a bug in the code generator).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AsmError {
    UnplacedLabel,
    BackwardJump,
    TooFar,
}

#[derive(Default)]
struct Asm {
    items: Vec<Item>,
    labels: usize,
}

impl Asm {
    fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }

    fn mark(&mut self, l: Label) {
        self.items.push(Item::Mark(l));
    }

    fn insn(&mut self, code: u16, k: u32) {
        self.items.push(Item::Insn { code, k });
    }

    fn cond(&mut self, code: u16, k: u32, jt: Target, jf: Target) {
        self.items.push(Item::Cond { code, k, jt, jf });
    }

    fn ja(&mut self, l: Label) {
        self.items.push(Item::Jump(l));
    }

    fn ret(&mut self, k: u32) {
        self.insn(RET | K, k);
    }

    fn assemble(&self) -> Result<Vec<libc::sock_filter>, AsmError> {
        let mut at = vec![None; self.labels];
        let mut pc = 0u32;
        for item in &self.items {
            match item {
                Item::Mark(l) => at[l.0] = Some(pc),
                _ => pc += 1,
            }
        }
        let offset = |pc: u32, target: Label| -> Result<u32, AsmError> {
            let to = at[target.0].ok_or(AsmError::UnplacedLabel)?;
            to.checked_sub(pc + 1).ok_or(AsmError::BackwardJump)
        };
        let short = |pc: u32, t: Target| -> Result<u8, AsmError> {
            match t {
                Target::Next => Ok(0),
                Target::To(l) => u8::try_from(offset(pc, l)?).map_err(|_| AsmError::TooFar),
            }
        };
        let mut out = Vec::with_capacity(pc as usize);
        for item in &self.items {
            let pc = out.len() as u32;
            let insn = match *item {
                Item::Mark(_) => continue,
                Item::Insn { code, k } => filter(code, 0, 0, k),
                Item::Cond { code, k, jt, jf } => filter(code, short(pc, jt)?, short(pc, jf)?, k),
                Item::Jump(l) => filter(JMP | JA, 0, 0, offset(pc, l)?),
            };
            out.push(insn);
        }
        Ok(out)
    }

    /// Continues when A equals one of `values`; otherwise returns 0 (reject).
    fn require_any(&mut self, values: &[u32]) {
        let ok = self.label();
        for &v in values {
            self.goto_if_eq(v, ok);
        }
        self.ret(0);
        self.mark(ok);
    }

    /// `if A == v goto far` with only local conditional jumps.
    fn goto_if_eq(&mut self, v: u32, far: Label) {
        let skip = self.label();
        self.cond(JMP | JEQ | K, v, Target::Next, Target::To(skip));
        self.ja(far);
        self.mark(skip);
    }

    /// Returns `accept` when the 16-bit word at `[x + src_off]` or
    /// `[x + src_off + 2]` (source and destination port) is one of `ports`,
    /// 0 otherwise. `indexed`: offsets are relative to X.
    fn ports(&mut self, ports: &[u16], src_off: u32, indexed: bool, accept: u32) {
        let mode = if indexed { IND } else { ABS };
        for off in [src_off, src_off + 2] {
            self.insn(LD | H | mode, off);
            for &p in ports {
                let skip = self.label();
                self.cond(JMP | JEQ | K, u32::from(p), Target::Next, Target::To(skip));
                self.ret(accept);
                self.mark(skip);
            }
        }
        self.ret(0);
    }
}

fn filter(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// Classic BPF program accepting TCP and UDP over IPv4 (unfragmented or
/// first fragment) and IPv6 (TCP/UDP directly after the fixed header, as
/// tcpdump does) whose source or destination port is one of `ports` (any when
/// empty) and whose source or destination address is one of `hosts` (any when
/// empty); returns `snaplen` for accepted packets, 0 otherwise.
///
/// `drop_outgoing`: also reject `PACKET_OUTGOING` via the ancillary load
/// `SKF_AD_PKTTYPE` (fallback for kernels without `PACKET_IGNORE_OUTGOING`).
///
/// The program can be longer than the kernel's [`MAX_INSNS`] when given
/// hundreds of ports or hosts; attaching it then fails.
#[must_use]
pub fn compile_filter(
    filter: &Filter,
    snaplen: u32,
    drop_outgoing: bool,
) -> Vec<libc::sock_filter> {
    // The generator only emits local conditional jumps, so assembling cannot
    // fail; should it ever, accepting everything is the safe side (the parser
    // downstream ignores what it does not show).
    generate(filter, snaplen, drop_outgoing)
        .assemble()
        .unwrap_or_else(|_| vec![filter_ret(snaplen)])
}

fn filter_ret(k: u32) -> libc::sock_filter {
    filter(RET | K, 0, 0, k)
}

fn generate(f: &Filter, snaplen: u32, drop_outgoing: bool) -> Asm {
    let mut a = Asm::default();
    let v4_hosts: Vec<u32> = f
        .hosts
        .iter()
        .filter_map(|h| match h {
            IpAddr::V4(v4) => Some(u32::from(*v4)),
            IpAddr::V6(_) => None,
        })
        .collect();
    let v6_hosts: Vec<[u32; 4]> = f
        .hosts
        .iter()
        .filter_map(|h| match h {
            IpAddr::V6(v6) => {
                let o = v6.octets();
                Some(std::array::from_fn(|i| {
                    u32::from_be_bytes([o[4 * i], o[4 * i + 1], o[4 * i + 2], o[4 * i + 3]])
                }))
            }
            IpAddr::V4(_) => None,
        })
        .collect();

    if drop_outgoing {
        let keep = a.label();
        a.insn(LD | W | ABS, AD_PKTTYPE);
        a.cond(
            JMP | JEQ | K,
            PACKET_OUTGOING,
            Target::Next,
            Target::To(keep),
        );
        a.ret(0);
        a.mark(keep);
    }

    // Ethernet: the EtherType at 12.
    let ipv6 = a.label();
    a.insn(LD | H | ABS, 12);
    a.goto_if_eq(ETHERTYPE_IPV6, ipv6);
    a.require_any(&[ETHERTYPE_IPV4]);

    // IPv4: protocol at 23, flags + fragment offset at 20, addresses at 26/30,
    // ports after the variable-length header.
    a.insn(LD | B | ABS, 23);
    a.require_any(&[PROTO_TCP, PROTO_UDP]);
    a.insn(LD | H | ABS, 20);
    let first_fragment = a.label();
    a.cond(
        JMP | JSET | K,
        0x1fff,
        Target::Next,
        Target::To(first_fragment),
    );
    a.ret(0);
    a.mark(first_fragment);
    if !f.hosts.is_empty() {
        let host_ok = a.label();
        for off in [26, 30] {
            a.insn(LD | W | ABS, off);
            for &h in &v4_hosts {
                a.goto_if_eq(h, host_ok);
            }
        }
        a.ret(0);
        a.mark(host_ok);
    }
    if f.ports.is_empty() {
        a.ret(snaplen);
    } else {
        a.insn(LDX | B | MSH, 14);
        a.ports(&f.ports, 14, true, snaplen);
    }

    // IPv6: next header at 20, source address 22..38, destination 38..54,
    // ports at 54/56 (no extension headers, as tcpdump's `tcp port N`).
    a.mark(ipv6);
    a.insn(LD | B | ABS, 20);
    a.require_any(&[PROTO_TCP, PROTO_UDP]);
    if !f.hosts.is_empty() {
        let host_ok = a.label();
        for base in [22, 38] {
            for words in &v6_hosts {
                let next_candidate = a.label();
                for (i, &w) in (0u32..).zip(words) {
                    a.insn(LD | W | ABS, base + 4 * i);
                    a.cond(JMP | JEQ | K, w, Target::Next, Target::To(next_candidate));
                }
                a.ja(host_ok);
                a.mark(next_candidate);
            }
        }
        a.ret(0);
        a.mark(host_ok);
    }
    if f.ports.is_empty() {
        a.ret(snaplen);
    } else {
        a.ports(&f.ports, 54, false, snaplen);
    }
    a
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    /// A classic BPF interpreter with the kernel's semantics for what the
    /// compiler emits: out-of-bounds loads end the program with 0.
    fn run(prog: &[libc::sock_filter], pkt: &[u8], pkttype: u32) -> u32 {
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        let load = |off: u32, size: usize| -> Option<u32> {
            let off = off as usize;
            let b = pkt.get(off..off.checked_add(size)?)?;
            Some(b.iter().fold(0u32, |acc, &v| (acc << 8) | u32::from(v)))
        };
        for _ in 0..=prog.len() {
            let i = prog[pc];
            let size = match i.code & 0x18 {
                W => 4,
                H => 2,
                _ => 1,
            };
            pc += 1;
            match i.code & 0x07 {
                LD if i.code & 0xe0 == ABS && i.k == AD_PKTTYPE => a = pkttype,
                LD if i.code & 0xe0 == ABS => match load(i.k, size) {
                    Some(v) => a = v,
                    None => return 0,
                },
                LD if i.code & 0xe0 == IND => match load(x.wrapping_add(i.k), size) {
                    Some(v) => a = v,
                    None => return 0,
                },
                LDX if i.code == LDX | B | MSH => match load(i.k, 1) {
                    Some(v) => x = 4 * (v & 0xf),
                    None => return 0,
                },
                JMP => {
                    let taken = match i.code & 0xf0 {
                        JA => {
                            pc += i.k as usize;
                            continue;
                        }
                        JEQ => a == i.k,
                        JSET => a & i.k != 0,
                        other => panic!("unexpected jump {other:#x}"),
                    };
                    pc += usize::from(if taken { i.jt } else { i.jf });
                }
                RET => return i.k,
                _ => panic!("unexpected instruction {:#x}", i.code),
            }
        }
        panic!("program did not return");
    }

    const SNAP: u32 = 256;

    fn eth(ethertype: u16) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&ethertype.to_be_bytes());
        f
    }

    fn v4(proto: u8, src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, frag: u16) -> Vec<u8> {
        let mut f = eth(0x0800);
        let mut ip = [0u8; 24]; // 4 bytes of options: IHL 6 checks the indexed load
        ip[0] = 0x46;
        ip[2..4].copy_from_slice(&44u16.to_be_bytes());
        ip[6..8].copy_from_slice(&frag.to_be_bytes());
        ip[9] = proto;
        ip[12..16].copy_from_slice(&src);
        ip[16..20].copy_from_slice(&dst);
        f.extend_from_slice(&ip);
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&[0u8; 16]);
        f
    }

    fn v6(next: u8, src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16) -> Vec<u8> {
        let mut f = eth(0x86dd);
        let mut ip = [0u8; 40];
        ip[0] = 0x60;
        ip[4..6].copy_from_slice(&20u16.to_be_bytes());
        ip[6] = next;
        ip[8..24].copy_from_slice(&src.octets());
        ip[24..40].copy_from_slice(&dst.octets());
        f.extend_from_slice(&ip);
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&[0u8; 16]);
        f
    }

    const LO4: [u8; 4] = [127, 0, 0, 1];
    const OTHER4: [u8; 4] = [10, 1, 2, 3];

    fn lo6() -> Ipv6Addr {
        Ipv6Addr::LOCALHOST
    }

    fn other6() -> Ipv6Addr {
        "2001:db8::5".parse().unwrap()
    }

    fn accepts(f: &Filter, pkt: &[u8]) -> bool {
        let prog = compile_filter(f, SNAP, false);
        match run(&prog, pkt, 0) {
            0 => false,
            SNAP => true,
            other => panic!("returned {other}"),
        }
    }

    fn ports(p: &[u16]) -> Filter {
        Filter {
            ports: p.to_vec(),
            hosts: vec![],
        }
    }

    #[test]
    fn any_filter_keeps_tcp_and_udp_only() {
        let any = Filter::default();
        assert!(accepts(&any, &v4(6, LO4, LO4, 1, 2, 0)));
        assert!(accepts(&any, &v4(17, LO4, LO4, 1, 2, 0)));
        assert!(accepts(&any, &v6(6, lo6(), lo6(), 1, 2)));
        assert!(accepts(&any, &v6(17, lo6(), lo6(), 1, 2)));
        assert!(!accepts(&any, &v4(1, LO4, LO4, 1, 2, 0)), "ICMP");
        assert!(!accepts(&any, &v6(58, lo6(), lo6(), 1, 2)), "ICMPv6");
        assert!(
            !accepts(&any, &v6(0, lo6(), lo6(), 1, 2)),
            "hop-by-hop header"
        );
        let mut arp = eth(0x0806);
        arp.extend_from_slice(&[0u8; 28]);
        assert!(!accepts(&any, &arp), "ARP");
        assert!(!accepts(&any, &[0u8; 5]), "runt");
        assert!(!accepts(&any, &eth(0x0800)), "IPv4 EtherType, no header");
    }

    #[test]
    fn fragments_after_the_first_are_rejected() {
        let any = Filter::default();
        let f = ports(&[7000]);
        // More-fragments flag alone: the first fragment, which has the ports.
        assert!(accepts(&f, &v4(6, LO4, LO4, 7000, 5, 0x2000)));
        assert!(!accepts(&f, &v4(6, LO4, LO4, 7000, 5, 0x2001)));
        assert!(!accepts(&any, &v4(17, LO4, LO4, 7000, 5, 0x0100)));
        // Don't-fragment is not a fragment.
        assert!(accepts(&f, &v4(6, LO4, LO4, 5, 7000, 0x4000)));
    }

    #[test]
    fn ports_match_source_or_destination() {
        let f = ports(&[7000, 8080]);
        for (s, d, want) in [
            (7000, 40000, true),
            (40000, 7000, true),
            (8080, 1, true),
            (1, 8080, true),
            (7001, 40000, false),
            (6999, 1, false),
        ] {
            assert_eq!(accepts(&f, &v4(6, LO4, LO4, s, d, 0)), want, "v4 {s}->{d}");
            assert_eq!(
                accepts(&f, &v4(17, LO4, LO4, s, d, 0)),
                want,
                "v4 udp {s}->{d}"
            );
            assert_eq!(accepts(&f, &v6(6, lo6(), lo6(), s, d)), want, "v6 {s}->{d}");
        }
        // Ports are read after the IPv4 header's real length (IHL 6 here):
        // bytes at the fixed offset of a 20-byte header don't count.
        let mut p = v4(6, LO4, LO4, 1, 2, 0);
        p[34..36].copy_from_slice(&7000u16.to_be_bytes());
        assert!(!accepts(&f, &p));
    }

    #[test]
    fn hosts_match_source_or_destination() {
        let f = Filter {
            ports: vec![],
            hosts: vec![IpAddr::V4(Ipv4Addr::from(LO4)), IpAddr::V6(lo6())],
        };
        assert!(accepts(&f, &v4(6, LO4, OTHER4, 1, 2, 0)));
        assert!(accepts(&f, &v4(6, OTHER4, LO4, 1, 2, 0)));
        assert!(!accepts(&f, &v4(6, OTHER4, OTHER4, 1, 2, 0)));
        assert!(accepts(&f, &v6(6, lo6(), other6(), 1, 2)));
        assert!(accepts(&f, &v6(6, other6(), lo6(), 1, 2)));
        assert!(!accepts(&f, &v6(6, other6(), other6(), 1, 2)));
        // Differs from ::1 only in the first word.
        let near: Ipv6Addr = "1::1".parse().unwrap();
        assert!(!accepts(&f, &v6(6, near, near, 1, 2)));

        // Only IPv6 hosts: no IPv4 packet can match.
        let only6 = Filter {
            ports: vec![],
            hosts: vec![IpAddr::V6(lo6())],
        };
        assert!(!accepts(&only6, &v4(6, LO4, LO4, 1, 2, 0)));
        assert!(accepts(&only6, &v6(17, lo6(), lo6(), 1, 2)));
    }

    #[test]
    fn hosts_and_ports_both_must_match() {
        let f = Filter {
            ports: vec![7000],
            hosts: vec![IpAddr::V4(Ipv4Addr::from(LO4))],
        };
        assert!(accepts(&f, &v4(6, LO4, OTHER4, 7000, 2, 0)));
        assert!(!accepts(&f, &v4(6, OTHER4, OTHER4, 7000, 2, 0)));
        assert!(!accepts(&f, &v4(6, LO4, OTHER4, 7001, 2, 0)));
    }

    #[test]
    fn outgoing_copies_dropped_on_request() {
        let pkt = v4(6, LO4, LO4, 7000, 1, 0);
        let f = ports(&[7000]);
        let with = compile_filter(&f, SNAP, true);
        let without = compile_filter(&f, SNAP, false);
        assert_eq!(run(&with, &pkt, 0), SNAP, "PACKET_HOST");
        assert_eq!(run(&with, &pkt, PACKET_OUTGOING), 0);
        assert_eq!(run(&without, &pkt, PACKET_OUTGOING), SNAP);
    }

    #[test]
    fn many_ports_and_hosts_need_no_far_conditional_jumps() {
        let hosts: Vec<IpAddr> = (0..200u32)
            .map(|i| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)))
            .chain((0..100u16).map(|i| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i))))
            .collect();
        let f = Filter {
            ports: (1000..1300).collect(),
            hosts,
        };
        let asm = generate(&f, SNAP, true);
        let prog = asm.assemble().expect("assembles");
        assert!(prog.len() > 255);
        assert!(accepts(&f, &v4(6, [10, 0, 0, 199], OTHER4, 1299, 5, 0)));
        assert!(!accepts(&f, &v4(6, [10, 0, 0, 200], OTHER4, 1299, 5, 0)));
        let last6 = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 99);
        assert!(accepts(&f, &v6(6, other6(), last6, 5, 1000)));
        assert!(!accepts(&f, &v6(6, other6(), last6, 5, 999)));
    }

    #[test]
    fn assembler_reports_bad_jumps() {
        let mut a = Asm::default();
        let far = a.label();
        a.cond(JMP | JEQ | K, 1, Target::To(far), Target::Next);
        for _ in 0..300 {
            a.ret(0);
        }
        a.mark(far);
        a.ret(1);
        assert_eq!(a.assemble().unwrap_err(), AsmError::TooFar);

        let mut a = Asm::default();
        let back = a.label();
        a.mark(back);
        a.ja(back);
        assert_eq!(a.assemble().unwrap_err(), AsmError::BackwardJump);

        let mut a = Asm::default();
        let nowhere = a.label();
        a.ja(nowhere);
        assert_eq!(a.assemble().unwrap_err(), AsmError::UnplacedLabel);
    }
}
