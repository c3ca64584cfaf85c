//! Live capture from a Linux `AF_PACKET` socket, set up by hand (the steps
//! below, each a pitfall measured here) and read through a `TPACKET_V3`
//! ring, as libpcap reads it:
//!
//! 1. `socket(AF_PACKET, SOCK_RAW, 0)`: protocol 0, so nothing is queued
//!    before the filter is attached (the bind to `ETH_P_ALL` starts delivery);
//! 2. `PACKET_IGNORE_OUTGOING` (Linux ≥ 4.20), else the filter drops
//!    `PACKET_OUTGOING`: on `lo` every packet then appears once, not twice;
//! 3. the classic BPF filter, whose accept value trims frames to the snap
//!    length;
//! 4. a receive ring of 8 blocks of 1 MiB shared with the kernel (`mmap`):
//!    the kernel writes frames with their timestamps into a block and hands
//!    the block over when it is full or 10 ms old; synack reads the frames
//!    where they are and gives the block back. One `poll` per block instead
//!    of three system calls per packet.
//! 5. the bind to the interface.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::bpf::{self, compile_filter};
use super::{CaptureError, CaptureStats, Filter, Frame};
use crate::tcp::LinkType;
use crate::time::Timestamp;

// linux/if_packet.h, asm-generic/socket.h, asm-generic/sockios.h. Defined
// here because libc does not export all of them for every target.
const SOL_PACKET: libc::c_int = 263;
const PACKET_RX_RING: libc::c_int = 5;
const PACKET_STATISTICS: libc::c_int = 6;
const PACKET_VERSION: libc::c_int = 10;
/// `enum tpacket_versions`: V1, V2, V3.
const TPACKET_V3: libc::c_int = 2;
const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
const ETH_P_ALL: u16 = 0x0003;

/// The ring: blocks of 1 MiB, 8 of them (room for ~30,000 trimmed frames).
const BLOCK_SIZE: u32 = 1 << 20;
const BLOCK_COUNT: u32 = 4;
/// Only used to size the ring's bookkeeping; V3 packs frames by their length.
const FRAME_SIZE: u32 = 2048;
/// A block not full yet is handed over after this long: what a quiet capture
/// (a demo) adds to each packet's delay.
const BLOCK_TIMEOUT_MS: u32 = 10;
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
const SO_ATTACH_FILTER: libc::c_int = 26;

/// How long `next_frame` waits for a packet: short enough for a UI loop to
/// notice a quit, long enough not to spin. `poll` takes whole milliseconds.
const READ_TIMEOUT: Duration = Duration::from_millis(100);
/// Snap lengths are clamped to this range: below it not even the headers fit.
const MIN_SNAPLEN: u32 = 128;
const MAX_SNAPLEN: u32 = 262_144;

/// ARPHRD_* types (/sys/class/net/IF/type) whose frames start with an
/// Ethernet header.
const ARPHRD_ETHER: u32 = 1;
const ARPHRD_LOOPBACK: u32 = 772;

#[repr(C)]
#[derive(Default)]
struct TpacketStats {
    tp_packets: libc::c_uint,
    tp_drops: libc::c_uint,
}

/// `struct tpacket_req3`.
#[repr(C)]
struct TpacketReq3 {
    block_size: u32,
    block_nr: u32,
    frame_size: u32,
    frame_nr: u32,
    retire_blk_tov: u32,
    sizeof_priv: u32,
    feature_req_word: u32,
}

// `struct tpacket_block_desc` (its `tpacket_hdr_v1`): byte offsets.
const BLOCK_STATUS: usize = 8;
const BLOCK_NUM_PKTS: usize = 12;
const BLOCK_FIRST_PKT: usize = 16;
// `struct tpacket3_hdr`: byte offsets.
const PKT_NEXT_OFFSET: usize = 0;
const PKT_SEC: usize = 4;
const PKT_NSEC: usize = 8;
const PKT_SNAPLEN: usize = 12;
const PKT_LEN: usize = 16;
const PKT_MAC: usize = 24;

/// The ring's memory, shared with the kernel.
struct Ring {
    base: *mut u8,
    len: usize,
}

// SAFETY: the mapping is plain memory; one thread at a time reads it
// (LiveCapture is moved to the capture thread, never shared).
unsafe impl Send for Ring {}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: base/len are what mmap returned; nothing borrows the ring
        // once it is dropped.
        unsafe {
            libc::munmap(self.base.cast(), self.len);
        }
    }
}

/// Frames from one network interface, filtered and trimmed in the kernel.
pub struct LiveCapture {
    iface: String,
    /// Dropped after the ring (fields drop in order): the mapping goes first.
    ring: Ring,
    sock: OwnedFd,
    /// The block being read.
    block: usize,
    /// In that block: the next frame's offset and how many frames are left;
    /// `None` when the block is not ours yet.
    cursor: Option<(usize, u32)>,
}

impl std::fmt::Debug for LiveCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveCapture")
            .field("iface", &self.iface)
            .field("fd", &self.sock.as_raw_fd())
            .finish_non_exhaustive()
    }
}

/// Names of the network interfaces, for error messages and pickers.
#[must_use]
pub fn interface_names() -> Vec<String> {
    pnet_datalink::interfaces()
        .into_iter()
        .map(|i| i.name)
        .collect()
}

impl LiveCapture {
    /// Opens a capture on `iface` that delivers the packets `filter` accepts,
    /// each trimmed to `snaplen` bytes (clamped to 128..=262144).
    ///
    /// # Errors
    /// [`CaptureError::PermissionDenied`] without `CAP_NET_RAW`,
    /// [`CaptureError::NoSuchInterface`], [`CaptureError::NotEthernet`],
    /// [`CaptureError::FilterTooLarge`], or [`CaptureError::Setup`] naming the
    /// step that failed.
    pub fn open(iface: &str, filter: &Filter, snaplen: u32) -> Result<Self, CaptureError> {
        Self::open_with(iface, filter, snaplen, false)
    }

    /// `bpf_drops_outgoing`: skip PACKET_IGNORE_OUTGOING and use the filter's
    /// fallback (tests exercise it on kernels that have the option).
    fn open_with(
        iface: &str,
        filter: &Filter,
        snaplen: u32,
        bpf_drops_outgoing: bool,
    ) -> Result<Self, CaptureError> {
        let interfaces = pnet_datalink::interfaces();
        let Some(interface) = interfaces.iter().find(|i| i.name == iface) else {
            return Err(CaptureError::NoSuchInterface {
                name: iface.to_owned(),
                available: interfaces.into_iter().map(|i| i.name).collect(),
            });
        };
        match arphrd_type(iface) {
            Some(ARPHRD_ETHER | ARPHRD_LOOPBACK) | None => {}
            Some(arphrd) => {
                return Err(CaptureError::NotEthernet {
                    name: iface.to_owned(),
                    arphrd,
                });
            }
        }
        let snaplen = snaplen.clamp(MIN_SNAPLEN, MAX_SNAPLEN);
        let setup = |what: &'static str| {
            let iface = iface.to_owned();
            move |source| CaptureError::Setup {
                iface,
                what,
                source,
            }
        };

        // SAFETY: plain syscall with constant arguments; the result is checked.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            let source = io::Error::last_os_error();
            return Err(match source.raw_os_error() {
                Some(libc::EPERM | libc::EACCES) => CaptureError::PermissionDenied {
                    exe: std::env::current_exe().map_or_else(
                        |_| "<path to synack>".to_owned(),
                        |p| p.display().to_string(),
                    ),
                    source,
                },
                _ => setup("creating the packet socket")(source),
            });
        }
        // SAFETY: `raw` is a fresh descriptor nobody else owns.
        let sock = unsafe { OwnedFd::from_raw_fd(raw) };

        let ignore_outgoing = if bpf_drops_outgoing {
            Err(io::Error::from_raw_os_error(libc::ENOPROTOOPT))
        } else {
            set_int(&sock, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        };
        let drop_outgoing = match ignore_outgoing {
            Ok(()) => false,
            // Linux < 4.20: the filter drops the outgoing copies instead.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOPROTOOPT | libc::EINVAL)) => true,
            Err(e) => return Err(setup("ignoring outgoing copies")(e)),
        };

        let mut program = compile_filter(filter, snaplen, drop_outgoing);
        if program.len() > bpf::MAX_INSNS {
            return Err(CaptureError::FilterTooLarge { len: program.len() });
        }
        let fprog = libc::sock_fprog {
            len: program.len() as libc::c_ushort,
            filter: program.as_mut_ptr(),
        };
        // SAFETY: `fprog` points to `program`, alive for the call; the kernel
        // copies the program.
        let rc = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                SO_ATTACH_FILTER,
                (&raw const fprog).cast(),
                size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(setup("attaching the BPF filter")(io::Error::last_os_error()));
        }

        set_int(&sock, SOL_PACKET, PACKET_VERSION, TPACKET_V3)
            .map_err(setup("choosing the TPACKET_V3 ring"))?;
        let req = TpacketReq3 {
            block_size: BLOCK_SIZE,
            block_nr: BLOCK_COUNT,
            frame_size: FRAME_SIZE,
            frame_nr: BLOCK_SIZE / FRAME_SIZE * BLOCK_COUNT,
            retire_blk_tov: BLOCK_TIMEOUT_MS,
            sizeof_priv: 0,
            feature_req_word: 0,
        };
        // SAFETY: passes a pointer to a live tpacket_req3 and its size.
        let rc = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                SOL_PACKET,
                PACKET_RX_RING,
                (&raw const req).cast(),
                size_of::<TpacketReq3>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(setup("setting up the receive ring")(
                io::Error::last_os_error(),
            ));
        }
        let len = (BLOCK_SIZE * BLOCK_COUNT) as usize;
        // SAFETY: maps the ring the kernel just made for this socket.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                sock.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(setup("mapping the receive ring")(io::Error::last_os_error()));
        }
        let ring = Ring {
            base: base.cast(),
            len,
        };

        let index = interface.index;
        // SAFETY: sockaddr_ll is plain old data; all-zero is valid.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as libc::c_ushort;
        sll.sll_protocol = ETH_P_ALL.to_be();
        sll.sll_ifindex = index as libc::c_int;
        // SAFETY: binds to a sockaddr_ll of the size given.
        let rc = unsafe {
            libc::bind(
                sock.as_raw_fd(),
                (&raw const sll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(setup("binding to the interface")(io::Error::last_os_error()));
        }
        Ok(Self {
            iface: iface.to_owned(),
            ring,
            sock,
            block: 0,
            cursor: None,
        })
    }

    fn block_base(&self, block: usize) -> *mut u8 {
        // SAFETY (of the callers' use): block < BLOCK_COUNT, inside the mapping.
        self.ring.base.wrapping_add(block * BLOCK_SIZE as usize)
    }

    /// The block's status word, read with acquire ordering: the frames the
    /// kernel wrote before setting it are visible after.
    fn block_status(&self, block: usize) -> u32 {
        let p = self
            .block_base(block)
            .wrapping_add(BLOCK_STATUS)
            .cast::<u32>();
        // SAFETY: an aligned u32 inside the mapping.
        let v = unsafe { std::ptr::read_volatile(p) };
        std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
        v
    }

    /// Gives the current block back to the kernel and moves to the next.
    fn release_block(&mut self) {
        let p = self
            .block_base(self.block)
            .wrapping_add(BLOCK_STATUS)
            .cast::<u32>();
        std::sync::atomic::fence(std::sync::atomic::Ordering::Release);
        // SAFETY: an aligned u32 inside the mapping; the block is ours until now.
        unsafe { std::ptr::write_volatile(p, TP_STATUS_KERNEL) };
        self.block = (self.block + 1) % BLOCK_COUNT as usize;
        self.cursor = None;
    }

    /// Waits at most the read timeout (100 ms) for one frame; `Ok(None)` on
    /// timeout.
    ///
    /// # Errors
    /// [`CaptureError::Read`] when the socket fails (e.g. the interface went
    /// away).
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        self.frame(true)
    }

    /// The next frame if the kernel has handed one over already; `Ok(None)`
    /// at once otherwise (a reader flushes what it gathered, then waits).
    ///
    /// # Errors
    /// As [`LiveCapture::next_frame`].
    pub fn try_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        self.frame(false)
    }

    fn frame(&mut self, wait: bool) -> Result<Option<Frame<'_>>, CaptureError> {
        let u32_at = |base: *const u8, off: usize| {
            // SAFETY: callers pass offsets inside a block the kernel handed over.
            unsafe { std::ptr::read_unaligned(base.wrapping_add(off).cast::<u32>()) }
        };
        loop {
            match self.cursor {
                Some((_, 0)) => self.release_block(),
                Some((off, left)) => {
                    let block = self.block_base(self.block).cast_const();
                    let pkt = block.wrapping_add(off);
                    let next = u32_at(pkt, PKT_NEXT_OFFSET) as usize;
                    let secs = u32_at(pkt, PKT_SEC);
                    let nanos = u32_at(pkt, PKT_NSEC);
                    let snaplen = u32_at(pkt, PKT_SNAPLEN) as usize;
                    let wire = u32_at(pkt, PKT_LEN);
                    // SAFETY: tp_mac is a u16 inside the frame header.
                    let mac = usize::from(unsafe {
                        std::ptr::read_unaligned(pkt.wrapping_add(PKT_MAC).cast::<u16>())
                    });
                    let start = off + mac;
                    if start + snaplen > BLOCK_SIZE as usize || (next == 0 && left > 1) {
                        // Never trusted blindly: a broken block is given back.
                        self.release_block();
                        continue;
                    }
                    self.cursor = Some((off + next, left - 1));
                    // SAFETY: the frame lies inside the block, which stays ours
                    // (and unchanged) until the next call releases it.
                    let data =
                        unsafe { std::slice::from_raw_parts(block.wrapping_add(start), snaplen) };
                    let link = LinkType::Ethernet;
                    return Ok(Some(Frame {
                        link,
                        ts: Timestamp::from_parts(u64::from(secs), nanos),
                        data,
                        // tp_len: the frame's length before the snap length
                        // trimmed it, as tcpdump records it.
                        orig_len: wire,
                    }));
                }
                None => {
                    if self.block_status(self.block) & TP_STATUS_USER != 0 {
                        let block = self.block_base(self.block).cast_const();
                        let first = u32_at(block, BLOCK_FIRST_PKT) as usize;
                        let count = u32_at(block, BLOCK_NUM_PKTS);
                        self.cursor = Some((first, count));
                        continue;
                    }
                    if !wait {
                        return Ok(None);
                    }
                    let mut p = libc::pollfd {
                        fd: self.sock.as_raw_fd(),
                        events: libc::POLLIN | libc::POLLERR,
                        revents: 0,
                    };
                    let ms = READ_TIMEOUT.as_millis() as libc::c_int;
                    // SAFETY: one valid pollfd.
                    let n = unsafe { libc::poll(&raw mut p, 1, ms) };
                    if n < 0 {
                        let e = io::Error::last_os_error();
                        if e.kind() == io::ErrorKind::Interrupted {
                            return Ok(None);
                        }
                        return Err(CaptureError::Read {
                            iface: self.iface.clone(),
                            source: e,
                        });
                    }
                    if n == 0 {
                        return Ok(None);
                    }
                    if p.revents & (libc::POLLERR | libc::POLLNVAL) != 0
                        && self.block_status(self.block) & TP_STATUS_USER == 0
                    {
                        // SO_ERROR tells what; a vanished interface ends here.
                        let mut err: libc::c_int = 0;
                        let mut len = size_of::<libc::c_int>() as libc::socklen_t;
                        // SAFETY: reads one c_int into a live variable.
                        unsafe {
                            libc::getsockopt(
                                self.sock.as_raw_fd(),
                                libc::SOL_SOCKET,
                                libc::SO_ERROR,
                                (&raw mut err).cast(),
                                &raw mut len,
                            );
                        }
                        return Err(CaptureError::Read {
                            iface: self.iface.clone(),
                            source: io::Error::from_raw_os_error(if err == 0 {
                                libc::EIO
                            } else {
                                err
                            }),
                        });
                    }
                }
            }
        }
    }

    /// Kernel counters since the last call (reading resets them).
    ///
    /// # Errors
    /// [`CaptureError::Read`] when the kernel refuses the query.
    pub fn take_stats(&mut self) -> Result<CaptureStats, CaptureError> {
        let mut stats = TpacketStats::default();
        let mut len = size_of::<TpacketStats>() as libc::socklen_t;
        // SAFETY: `stats` and `len` are valid for writes of the sizes given.
        // With a V3 ring the kernel's struct has a third counter; it copies
        // only the length asked for.
        let rc = unsafe {
            libc::getsockopt(
                self.sock.as_raw_fd(),
                SOL_PACKET,
                PACKET_STATISTICS,
                (&raw mut stats).cast(),
                &raw mut len,
            )
        };
        if rc != 0 {
            return Err(CaptureError::Read {
                iface: self.iface.clone(),
                source: io::Error::last_os_error(),
            });
        }
        Ok(CaptureStats {
            received: u64::from(stats.tp_packets),
            dropped: u64::from(stats.tp_drops),
        })
    }
}

fn set_int(
    sock: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: passes a pointer to a live c_int and its size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&raw const value).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The interface's ARPHRD_* type, when sysfs tells it.
fn arphrd_type(iface: &str) -> Option<u32> {
    if iface.contains('/') || iface.starts_with('.') {
        return None;
    }
    std::fs::read_to_string(format!("/sys/class/net/{iface}/type"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::process::{Command, Stdio};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread;
    use std::time::Duration;

    use super::*;
    use crate::capture::{FileCapture, Filter};

    /// Live capture needs CAP_NET_RAW (root, or an ordinary user's private
    /// namespace: tests/common/userns.rs) and tcpdump: without them the test
    /// fails, saying why.
    fn cannot_run(reason: &str) {
        panic!(
            "\n*** LIVE CAPTURE TEST CANNOT RUN: {reason}.\n*** Run as root, or as a user who \
             may create user namespaces, with tcpdump installed. ***\n"
        );
    }

    /// Listeners on 127.0.0.1 and [::1] with the same port.
    fn listeners() -> (TcpListener, TcpListener, u16) {
        for _ in 0..50 {
            let l6 = TcpListener::bind("[::1]:0").expect("bind [::1]");
            let port = l6.local_addr().unwrap().port();
            if let Ok(l4) = TcpListener::bind(("127.0.0.1", port)) {
                return (l4, l6, port);
            }
        }
        panic!("no port free on both 127.0.0.1 and [::1]");
    }

    /// Handshake, a small request, a bulk reply (64 KiB segments on lo), and
    /// an orderly close from both sides.
    fn exchange(listener: &TcpListener, addr: SocketAddr, reply: usize) {
        let l = listener.try_clone().unwrap();
        let server = thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut req = [0u8; 100];
            s.read_exact(&mut req).unwrap();
            s.write_all(&vec![7u8; reply]).unwrap();
            let mut rest = Vec::new();
            s.read_to_end(&mut rest).unwrap();
        });
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(&[1u8; 100]).unwrap();
        let mut got = vec![0u8; reply];
        c.read_exact(&mut got).unwrap();
        drop(c);
        server.join().unwrap();
    }

    /// (source port, destination port, TCP flags) of an Ethernet frame.
    fn ports_and_flags(frame: &[u8]) -> Option<(u16, u16, u8)> {
        let tcp = match frame.get(12..14)? {
            [0x08, 0x00] => 14 + 4 * usize::from(frame.get(14)? & 0xf),
            [0x86, 0xdd] => 14 + 40,
            _ => return None,
        };
        let t = frame.get(tcp..tcp + 14)?;
        Some((
            u16::from_be_bytes([t[0], t[1]]),
            u16::from_be_bytes([t[2], t[3]]),
            t[13],
        ))
    }

    struct Captured {
        ts: Timestamp,
        data: Vec<u8>,
        orig_len: u32,
    }

    #[test]
    fn loopback_capture_sees_each_packet_once_like_tcpdump() {
        let (l4, l6, port) = listeners();
        let other = TcpListener::bind("127.0.0.1:0").unwrap();
        let other_port = other.local_addr().unwrap().port();
        let filter = Filter {
            ports: vec![port],
            hosts: vec![],
        };

        let mut cap = match LiveCapture::open("lo", &filter, crate::capture::DEFAULT_SNAPLEN) {
            Ok(c) => c,
            Err(e) => return cannot_run(&format!("cannot capture on lo: {e}")),
        };
        let dir = std::env::temp_dir().join(format!("synack-test-{}-live", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dump = dir.join("tcpdump.pcap");
        let tcpdump = Command::new("tcpdump")
            .args([
                "-i",
                "lo",
                "-U",
                "--immediate-mode",
                "-Z",
                "root",
                "-s",
                "256",
                "-B",
                "16384",
            ])
            .args(["--time-stamp-precision=nano", "-w"])
            .arg(&dump)
            .arg(format!("tcp port {port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        let mut tcpdump = match tcpdump {
            Ok(t) => t,
            Err(e) => return cannot_run(&format!("cannot run tcpdump: {e}")),
        };
        // tcpdump says "listening on lo" once its filter is in place.
        let mut stderr = tcpdump.stderr.take().unwrap();
        let mut said = Vec::new();
        let mut byte = [0u8; 1];
        while !String::from_utf8_lossy(&said).contains("listening on") {
            match stderr.read(&mut byte) {
                Ok(1) => said.push(byte[0]),
                _ => panic!("tcpdump did not start: {}", String::from_utf8_lossy(&said)),
            }
        }
        let _ = cap.take_stats(); // count from here on

        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut frames = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    if let Some(f) = cap.next_frame().expect("next_frame") {
                        frames.push(Captured {
                            ts: f.ts,
                            data: f.data.to_vec(),
                            orig_len: f.orig_len,
                        });
                    }
                }
                let stats = cap.take_stats().expect("take_stats");
                (frames, stats)
            })
        };

        let start = Timestamp::now();
        exchange(&l4, SocketAddr::from(([127, 0, 0, 1], port)), 200_000);
        exchange(
            &l6,
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)),
            200_000,
        );
        exchange(&other, SocketAddr::from(([127, 0, 0, 1], other_port)), 1000);
        thread::sleep(Duration::from_millis(400));
        let end = Timestamp::now();
        stop.store(true, Ordering::Relaxed);
        let (ours, stats) = reader.join().unwrap();

        // SAFETY: signals the tcpdump child this test started.
        unsafe { libc::kill(tcpdump.id() as libc::pid_t, libc::SIGINT) };
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
        assert!(
            tcpdump.wait().unwrap().success() || !rest.is_empty(),
            "tcpdump: {rest}"
        );

        let mut theirs = Vec::new();
        let mut file = FileCapture::open(&dump).expect("read tcpdump's file");
        while let Some(f) = file.next_frame().expect("tcpdump's file reads") {
            theirs.push(Captured {
                ts: f.ts,
                data: f.data.to_vec(),
                orig_len: f.orig_len,
            });
        }
        eprintln!(
            "captured {} frames, tcpdump {} ({}); stats {stats:?}",
            ours.len(),
            theirs.len(),
            rest.trim().replace('\n', "; ")
        );

        // Two connections, each exactly one SYN and one SYN-ACK; nothing on the other port.
        let flags: Vec<(u16, u16, u8)> = ours
            .iter()
            .map(|f| ports_and_flags(&f.data).expect("TCP frame"))
            .collect();
        assert!(
            flags.iter().all(|&(s, d, _)| s == port || d == port),
            "only port {port}"
        );
        assert!(
            flags
                .iter()
                .all(|&(s, d, _)| s != other_port && d != other_port)
        );
        assert_eq!(
            flags.iter().filter(|f| f.2 & 0x12 == 0x02).count(),
            2,
            "one SYN per connection"
        );
        assert_eq!(
            flags.iter().filter(|f| f.2 & 0x12 == 0x12).count(),
            2,
            "one SYN-ACK per connection"
        );
        assert_eq!(
            flags.iter().filter(|f| f.2 & 0x01 != 0).count(),
            4,
            "two FINs per connection"
        );

        // The same packets as tcpdump, in the same order, trimmed, with their wire lengths.
        assert!(
            rest.lines()
                .any(|l| l.trim() == "0 packets dropped by kernel"),
            "tcpdump lost packets, cannot compare: {rest}"
        );
        assert_eq!(ours.len(), theirs.len(), "frame count differs from tcpdump");
        let mut exact_ts = 0;
        let mut max_diff = 0f64;
        for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
            assert!(o.data.len() <= crate::capture::DEFAULT_SNAPLEN as usize);
            assert_eq!(o.data, t.data, "frame {i} bytes");
            assert_eq!(o.orig_len, t.orig_len, "frame {i} wire length");
            let diff = o.ts.seconds_since(t.ts).abs();
            assert!(
                diff < 0.005,
                "frame {i}: timestamp {} vs tcpdump {}",
                o.ts,
                t.ts
            );
            exact_ts += usize::from(o.ts == t.ts);
            max_diff = max_diff.max(diff);
        }
        eprintln!(
            "{exact_ts} of {} timestamps identical to tcpdump's, largest difference {:.1} µs",
            ours.len(),
            max_diff * 1e6
        );
        assert!(
            ours.iter().any(|f| f.orig_len > 10_000),
            "bulk segments keep their wire length"
        );

        // Timestamps are the kernel's: within the test's run, never going back.
        for w in ours.windows(2) {
            assert!(
                w[0].ts <= w[1].ts,
                "timestamps go back: {} then {}",
                w[0].ts,
                w[1].ts
            );
        }
        assert!(ours.first().unwrap().ts >= start && ours.last().unwrap().ts <= end);

        assert_eq!(stats.dropped, 0, "kernel drops");
        assert!(
            stats.received >= ours.len() as u64,
            "{stats:?} for {} frames",
            ours.len()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The fallback for kernels before 4.20: the filter itself drops the
    /// outgoing copies (ancillary load of the packet type), checked on the
    /// real kernel.
    #[test]
    fn bpf_fallback_also_sees_each_packet_once() {
        let (l4, _l6, port) = listeners();
        let filter = Filter {
            ports: vec![port],
            hosts: vec![],
        };
        let mut cap = match LiveCapture::open_with("lo", &filter, 256, true) {
            Ok(c) => c,
            Err(e) => return cannot_run(&format!("cannot capture on lo: {e}")),
        };
        exchange(&l4, SocketAddr::from(([127, 0, 0, 1], port)), 1000);
        let mut flags = Vec::new();
        let mut idle = 0;
        while idle < 2 {
            match cap.next_frame().expect("next_frame") {
                Some(f) => flags.push(ports_and_flags(f.data).expect("TCP frame").2),
                None => idle += 1,
            }
        }
        assert_eq!(
            flags.iter().filter(|&&f| f & 0x12 == 0x02).count(),
            1,
            "one SYN: {flags:x?}"
        );
        assert_eq!(
            flags.iter().filter(|&&f| f & 0x12 == 0x12).count(),
            1,
            "one SYN-ACK: {flags:x?}"
        );
        assert_eq!(
            flags.iter().filter(|&&f| f & 0x01 != 0).count(),
            2,
            "two FINs: {flags:x?}"
        );
    }

    #[test]
    fn unknown_interface_lists_the_available_ones() {
        let err = LiveCapture::open("no-such-if0", &Filter::default(), 256).unwrap_err();
        match &err {
            CaptureError::NoSuchInterface { available, .. } => {
                assert!(available.iter().any(|n| n == "lo"))
            }
            other => panic!("{other}"),
        }
        assert!(err.to_string().contains("lo"), "{err}");
    }
}
