//! The peer process: `synack __peer NAME`, started by the runner inside the
//! lab. It makes real libc socket calls and reports each one. This file is
//! its entry, [`peer_main`]: it reads the runner's commands and hands them to
//! the threads that run them.
//!
//! - [`protocol`]: the lines between the runner and a peer.
//! - [`executor`]: runs the calls, reports each, and keeps the peer's sockets.
//! - [`sys`]: libc helpers: errno, a socket's address and options, filters.
//! - [`child`]: the forked child (`server fork`), which may not allocate.
//!
//! Threads: the main thread reads commands and applies `link` at once; socket
//! calls run in order on a worker thread (`serve` adds an accept thread and one
//! thread per connection; `serve epoll` and `serve select` add one thread that
//! runs the whole event loop; `read busy` and `heartbeat` loop on the worker
//! itself, so the endpoint's next call waits for them); a ticker announces
//! calls that block.

mod child;
mod executor;
mod protocol;
mod sys;

pub use protocol::{
    Command, ERRNO_NAMES, InfoLine, Line, PARENT_PID_ENV, REPORTED_CALLS, REPORTED_FLAGS,
    errno_name,
};

use std::io::BufRead;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use super::script::{Call, Endpoint};
use executor::Peer;

/// The `__peer NAME` subcommand. Returns the process exit code.
#[must_use]
pub fn peer_main(name: &str) -> i32 {
    // SAFETY: prctl/getppid/signal with constant arguments.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    // The parent may have died before PR_SET_PDEATHSIG took effect.
    if let Some(parent) = std::env::var(PARENT_PID_ENV)
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
    {
        // SAFETY: getppid has no arguments.
        if unsafe { libc::getppid() } != parent {
            return 1;
        }
    }
    pin_to_first_cpu();
    let Some(me) = Endpoint::from_name(name) else {
        eprintln!("synack __peer: unknown endpoint {name}");
        return 2;
    };
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let (ipv6, port) = match lines.next().map(|l| l.map(|l| serde_json::from_str(&l))) {
        Some(Ok(Ok(Command::Hello { ipv6, port }))) => (ipv6, port),
        _ => {
            eprintln!("synack __peer: expected a Hello line on stdin");
            return 2;
        }
    };
    let peer = Arc::new(Peer::new(me, ipv6, port));
    let (work_tx, work_rx) = mpsc::channel::<(u64, Call)>();
    let worker = {
        let peer = Arc::clone(&peer);
        std::thread::spawn(move || {
            for (id, call) in work_rx {
                peer.run_call(&call);
                peer.emit(&Line {
                    done: Some(id),
                    ..Line::default()
                });
            }
        })
    };
    {
        let peer = Arc::clone(&peer);
        std::thread::spawn(move || {
            // TCP_INFO is read every 10th tick (50 ms): a few times a
            // second while a transfer runs, reported only when it changed.
            for tick in 0u64.. {
                std::thread::sleep(Duration::from_millis(5));
                peer.announce_blocked();
                if tick % 10 == 9 {
                    peer.report_infos();
                }
            }
        });
    }
    for line in lines {
        let Ok(line) = line else { break };
        match serde_json::from_str::<Command>(&line) {
            Ok(Command::Call {
                id,
                call,
                child: true,
            }) => peer.child_call(id, &call),
            Ok(Command::Call { id, call, .. }) => {
                if work_tx.send((id, call)).is_err() {
                    break;
                }
            }
            Ok(Command::Link { id, rule }) => {
                let drop_at = peer.link(rule);
                peer.emit(&Line {
                    done: Some(id),
                    drop_at,
                    ..Line::default()
                });
            }
            Ok(Command::Hello { .. }) => {}
            Err(e) => peer.warn(&format!("bad command {line:?}: {e}")),
        }
    }
    // stdin closed: the runner is done with us.
    drop(work_tx);
    drop(worker);
    0
}

/// Every peer runs on the same CPU (the first one it may use). The kernel
/// arms a socket's timers on the CPU that touched the socket last, and
/// timers of one CPU that expire in the same tick run in one softirq pass,
/// before the packets they send are delivered: two retransmitted FINs then
/// cross on the wire every time (simultaneous close), instead of only when
/// both timers happened to sit on the same CPU. The lab's work is tiny; one
/// CPU is plenty.
fn pin_to_first_cpu() {
    // SAFETY: cpu_set_t is plain old data; the calls get valid pointers and sizes.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &raw mut set) != 0 {
            return;
        }
        let Some(first) = (0..libc::CPU_SETSIZE as usize).find(|&c| libc::CPU_ISSET(c, &set))
        else {
            return;
        };
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(first, &mut one);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &raw const one);
    }
}
