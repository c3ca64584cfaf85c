#!/usr/bin/env python3
"""Times the TUI as a user meets it, in a real pseudo-terminal (120x40):

- time to first frame of `synack demo handshake`: from exec to the first
  drawn header (the screen's own first bytes are its mode switches);
- CPU of an idle screen: once the script is over (the lab stays up, TIME-WAIT
  counts down), the CPU time synack's screen process uses in 10 s;
- key to screen: in `demo close --step` at 80x24 (a projector), from a
  Space on a quiet screen to the first bytes the screen draws in answer
  (the title and the step's words; its rows follow as they come).

Usage: python3 benches/screen_timing.py [path/to/synack]   (default: target/release/synack)
Needs root, or unprivileged user namespaces, for the lab.
"""
import fcntl, os, pty, select, statistics, struct, sys, termios, time

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/synack"
TICK = os.sysconf("SC_CLK_TCK")


def spawn(args, rows=40, cols=120):
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "xterm-256color"
        os.execv(BIN, [BIN] + args)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    return pid, fd


def quiet(fd, still=0.4, limit=5.0):
    """Reads until nothing comes for `still` seconds (at most `limit`)."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], still)
        if not r:
            return True
        try:
            os.read(fd, 65536)
        except OSError:
            return False
    return False


def answer(fd, key, timeout=3.0):
    """Sends `key`; seconds until the screen's first bytes in answer."""
    start = time.monotonic()
    os.write(fd, key)
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        raise SystemExit(f"no answer to {key!r} within {timeout}s")
    return time.monotonic() - start


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

clicks = []
for _ in range(3):
    pid, fd = spawn(["demo", "close", "--step"], rows=24, cols=80)
    read_until(fd, b"paused", 10)
    for _ in range(6):
        if quiet(fd):
            clicks.append(answer(fd, b" "))
    quit(pid, fd)
clicks.sort()
print(f"key to screen (Space in demo close --step at 80x24, {len(clicks)} clicks): "
      f"median {statistics.median(clicks)*1000:.0f} ms, max {max(clicks)*1000:.0f} ms")
