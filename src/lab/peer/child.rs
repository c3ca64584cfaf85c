//! The forked child (`server fork`): its whole life, from the fork to its
//! `close`. It was forked from a multi-threaded process, so it allocates
//! nothing and takes no lock: raw syscalls on stack buffers, its reports
//! written as protocol lines by hand.

use super::protocol::errno_name;

/// A line buffer on the stack, for the forked child (no allocation).
struct StackLine {
    buf: [u8; 256],
    len: usize,
}

impl StackLine {
    fn new() -> Self {
        Self {
            buf: [0; 256],
            len: 0,
        }
    }

    fn push(&mut self, s: &[u8]) -> &mut Self {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
        self
    }

    fn num(&mut self, mut v: u64) -> &mut Self {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.push(&digits[i..])
    }

    fn write_out(&self) {
        // SAFETY: writes our own buffer to stdout; a short line is one atomic pipe write.
        unsafe { libc::write(1, self.buf.as_ptr().cast(), self.len) };
    }
}

/// The wall clock in nanoseconds, by a raw syscall.
fn raw_now_ns() -> u64 {
    // SAFETY: timespec is plain old data; clock_gettime is async-signal-safe.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &raw mut ts) };
    (ts.tv_sec as u64).saturating_mul(1_000_000_000) + ts.tv_nsec as u64
}

/// One call of the child's, as a protocol line on stdout.
fn child_report(call: &[u8], args: &[u8], ret: i32, err: i32) {
    let mut l = StackLine::new();
    l.push(b"{\"ts_ns\":")
        .num(raw_now_ns())
        .push(b",\"call\":\"")
        .push(call);
    l.push(b"\",\"args\":\"")
        .push(args)
        .push(b"\",\"result\":\"");
    if ret < 0 {
        l.push(errno_name(err).unwrap_or("EIO").as_bytes());
    } else {
        l.push(b"ok");
    }
    l.push(b"\",\"child\":true}\n");
    l.write_out();
}

/// The forked child's whole life: raw syscalls only (we were forked from a
/// multi-threaded process, so no allocation and no locks).
pub(super) fn child_loop(parent: i32, rd: i32, conn: i32, listener: Option<i32>) -> ! {
    // SAFETY: raw syscalls on our own fds and buffers; the loop ends in _exit.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        if libc::getppid() != parent {
            libc::_exit(0);
        }
        if let Some(l) = listener {
            let ret = libc::close(l);
            child_report(b"close", b"listener", ret, *libc::__errno_location());
        }
        let mut conn = Some(conn);
        let mut msg = [0u8; 9];
        loop {
            let n = libc::read(rd, msg.as_mut_ptr().cast(), msg.len());
            if n != 9 {
                libc::_exit(0);
            }
            let mut id = [0u8; 8];
            id.copy_from_slice(&msg[..8]);
            if let Some(fd) = conn.take() {
                let ret = libc::close(fd);
                child_report(b"close", b"connection", ret, *libc::__errno_location());
            }
            let mut l = StackLine::new();
            l.push(b"{\"done\":")
                .num(u64::from_le_bytes(id))
                .push(b"}\n");
            l.write_out();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_line_formats_numbers() {
        let mut l = StackLine::new();
        l.push(b"x").num(0).push(b",").num(1_234_567_890_123);
        assert_eq!(&l.buf[..l.len], b"x0,1234567890123");
    }
}
