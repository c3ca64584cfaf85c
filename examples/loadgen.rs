//! A loopback load for benchmarks: many short TCP connections on one port.
//! Each client connects, sends 8 bytes, reads them echoed, and closes; every
//! other connection closes with SO_LINGER 0 (a RST, no TIME-WAIT), the rest
//! close normally (the client keeps a TIME-WAIT socket).
//!
//! `cargo run --release --example loadgen -- PORT SECONDS [THREADS]`
//! prints the connections made.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(9999);
    let secs: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(4.0);
    let threads: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(4);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = TcpListener::bind(addr).expect("bind the load's port");
    let stop = Arc::new(AtomicBool::new(false));
    // The server: one thread accepting, echoing and closing after the client.
    {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(mut c) = conn else { continue };
                let mut buf = [0u8; 8];
                if c.read_exact(&mut buf).is_ok() {
                    let _ = c.write_all(&buf);
                    // Waits for the client's close, so the client closes first.
                    let _ = c.read(&mut buf);
                }
            }
        });
    }
    let made = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let clients: Vec<_> = (0..threads)
        .map(|_| {
            let made = Arc::clone(&made);
            std::thread::spawn(move || {
                let mut n = 0u64;
                while Instant::now() < end {
                    let Ok(mut s) = TcpStream::connect(addr) else {
                        std::thread::sleep(Duration::from_millis(1));
                        continue;
                    };
                    let mut buf = [7u8; 8];
                    if s.write_all(&buf).is_ok() && s.read_exact(&mut buf).is_ok() && n % 2 == 1 {
                        // SO_LINGER {on, 0}: close() sends RST, no TIME-WAIT.
                        let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
                    }
                    drop(s);
                    n += 1;
                    made.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for c in clients {
        let _ = c.join();
    }
    stop.store(true, Ordering::Relaxed);
    println!("{}", made.load(Ordering::Relaxed));
}
