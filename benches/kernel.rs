//! What the kernel view costs per socket: a sock_diag dump of a real table
//! (400 established connections and 400 TIME-WAIT sockets on one port),
//! whole and listeners only, and the decoding of the kernel's real answers
//! alone. Needs no privilege. A dump walks the whole connection table of the
//! namespace, other ports' sockets too (the port filter runs on each): its
//! cost per socket returned depends on what else the machine holds.
//!
//!     cargo bench --bench kernel

use std::hint::black_box;
use std::net::{TcpListener, TcpStream};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use synack::kernel::diag::{DiagSocket, Parsed, parse_datagram};

const CONNECTIONS: usize = 400;

/// A listener with `CONNECTIONS` open connections (both ends) and as many
/// closed by the client first (TIME-WAIT on the client's side).
fn table() -> (u16, Vec<TcpStream>, TcpListener) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let mut open = Vec::new();
    for _ in 0..CONNECTIONS {
        open.push(TcpStream::connect(addr).expect("connect"));
        open.push(listener.accept().expect("accept").0);
        let closing = TcpStream::connect(addr).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        drop(closing);
        drop(server);
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    (addr.port(), open, listener)
}

fn bench_diag(c: &mut Criterion) {
    let (port, _open, _listener) = table();
    let mut diag = DiagSocket::open().expect("sock_diag");
    let mut socks = Vec::new();
    diag.keep_answers();
    diag.dump(&[port], &mut socks).expect("dump");
    let answers = diag.take_answers();
    let returned = socks.len() as u64;
    assert!(
        returned > 2 * CONNECTIONS as u64,
        "the table: {returned} sockets"
    );

    let mut group = c.benchmark_group("sock_diag");
    group.throughput(Throughput::Elements(returned));
    group.bench_function("dump of one port, per socket returned", |b| {
        let mut diag = DiagSocket::open().expect("sock_diag");
        let mut out = Vec::new();
        b.iter(|| {
            diag.dump(&[port], &mut out).expect("dump");
            black_box(out.len())
        });
    });
    group.bench_function("decode of the kernel's answers, per socket", |b| {
        let mut out = Vec::with_capacity(socks.len());
        b.iter(|| {
            out.clear();
            let mut done = 0;
            for (seq, datagram) in &answers {
                done += usize::from(parse_datagram(datagram, *seq, &mut out) == Parsed::Done);
            }
            black_box((out.len(), done))
        });
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("listeners only, per walk", |b| {
        let mut diag = DiagSocket::open().expect("sock_diag");
        let mut out = Vec::new();
        b.iter(|| {
            diag.dump_listeners(&[port], &mut out).expect("dump");
            black_box(out.len())
        });
    });
    group.finish();
}

criterion_group!(benches, bench_diag);
criterion_main!(benches);
