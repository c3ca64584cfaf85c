#!/usr/bin/env python3
"""Times the TUI as a user meets it, in a real pseudo-terminal (120x40):

- time to first frame of `synack demo handshake`: from exec to the first
  drawn header (the screen's own first bytes are its mode switches);
- CPU of an idle screen: once the script is over (the lab stays up, TIME-WAIT
  counts down), the CPU time synack's screen process uses in 10 s.

Usage: python3 benches/screen_timing.py [path/to/synack]   (default: target/release/synack)
Needs root, or unprivileged user namespaces, for the lab.
"""
import fcntl, os, pty, select, statistics, struct, sys, termios, time

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/synack"
TICK = os.sysconf("SC_CLK_TCK")


def spawn(args):
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "xterm-256color"
        os.execv(BIN, [BIN] + args)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    return pid, fd


def read_until(fd, needle, timeout):
    """Reads the pty until `needle` appears; returns (seconds waited, bytes)."""
    start = time.monotonic()
    seen = b""
    while time.monotonic() - start < timeout:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
            if needle in seen:
                return time.monotonic() - start, seen
    raise SystemExit(f"`{needle!r}` not seen within {timeout}s")


def drain(fd, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                os.read(fd, 65536)
            except OSError:
                return


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def quit(pid, fd):
    os.write(fd, b"q")
    drain(fd, 1.0)
    os.waitpid(pid, 0)
    os.close(fd)


firsts = []
for _ in range(7):
    pid, fd = spawn(["demo", "handshake"])
    t, _ = read_until(fd, b"handshake", 10)
    firsts.append(t)
    quit(pid, fd)
print(f"time to first frame (demo handshake, 7 runs): median {statistics.median(firsts)*1000:.0f} ms, "
      f"min {min(firsts)*1000:.0f} ms, max {max(firsts)*1000:.0f} ms")

pid, fd = spawn(["demo", "handshake", "--pace", "0"])
read_until(fd, b"script over", 20)
drain(fd, 1.0)
before = cpu_seconds(pid)
drain(fd, 10.0)
used = cpu_seconds(pid) - before
quit(pid, fd)
print(f"idle screen (lab up, TIME-WAIT counting down), 10 s: {used:.2f} s CPU = {used*10:.1f}% of one core")
