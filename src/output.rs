//! Headless views of the event stream: `--json` (one object per line, the
//! contract in docs/events.md) and `--text` (one readable ladder line per event).
//! Both are flushed per line so pipes see events as they happen.

pub mod export;
pub mod sink;

use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::SocketAddr;

use crate::event::{
    CheckEvent, CongestionEvent, Event, LabAction, Origin, PacketEvent, StateEvent, sanitize,
};
use crate::i18n::{Lang, labels};
use crate::tcp::track::Role;
use crate::tcp::{Proto, SeqNum, TcpOptions};
use crate::time::Timestamp;

/// The headless formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per event (the contract).
    Json,
    /// One readable ladder line per event.
    Text,
}

/// Writes events to a byte sink in one of the headless formats.
pub struct Writer<W: Write> {
    format: Format,
    /// The language of narration.
    lang: Lang,
    out: W,
    /// The first event's time: `t` counts from here.
    t0: Option<Timestamp>,
    line: String,
}

impl<W: Write> Writer<W> {
    pub fn new(format: Format, lang: Lang, out: W) -> Self {
        Self {
            format,
            lang,
            out,
            t0: None,
            line: String::with_capacity(256),
        }
    }

    /// Seconds since the first event written (which itself is at 0).
    fn t(&mut self, ts: Timestamp) -> f64 {
        let t0 = *self.t0.get_or_insert(ts);
        ts.seconds_since(t0)
    }

    /// Writes one event as one line and flushes it. Events the contract does
    /// not show (a step without narration, the lab's teardown) write nothing.
    ///
    /// # Errors
    /// The sink's error (a closed pipe shows up here as `BrokenPipe`).
    pub fn write(&mut self, event: &Event) -> io::Result<()> {
        self.add(event);
        self.flush()
    }

    /// Adds an event's line to what [`Writer::flush`] writes: a batch of
    /// events goes out in one write, still as soon as it is made.
    pub fn add(&mut self, event: &Event) {
        if !shown(event) {
            return;
        }
        let t = self.t(event.ts());
        match self.format {
            Format::Json => json_line(&mut self.line, t, event, self.lang),
            Format::Text => text_line(&mut self.line, t, event, self.lang),
        }
        self.line.push('\n');
    }

    /// Writes the lines added so far and flushes them.
    ///
    /// # Errors
    /// The sink's error (a closed pipe shows up here as `BrokenPipe`).
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.line.is_empty() {
            let r = self.out.write_all(self.line.as_bytes());
            self.line.clear();
            r?;
        }
        self.out.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Whether the contract has a line for this event.
fn shown(event: &Event) -> bool {
    match event {
        Event::Step(s) => s.narration.is_some(),
        Event::Lab(l) => l.action != LabAction::Closing,
        _ => true,
    }
}

/// The contract's `call` and `args` for what the lab did (`kill`, `client2`).
#[must_use]
pub fn lab_call(action: &LabAction) -> (&'static str, String) {
    match action {
        LabAction::Sleep(d) => ("sleep", crate::lab::runner::format_duration(*d)),
        LabAction::Sysctl { name, value } => ("sysctl", format!("{name}={value}")),
        LabAction::LinkCut { only } => ("link", link_args("cut", only.as_deref())),
        LabAction::LinkRestored { only } => ("link", link_args("restore", only.as_deref())),
        LabAction::LinkLoss { per_10k, only } => (
            "link",
            link_args(
                &format!(
                    "loss {}",
                    crate::lab::script::LinkRule::format_percent(*per_10k)
                ),
                only.as_deref(),
            ),
        ),
        LabAction::LinkDrop { segments, only, .. } => {
            let list: Vec<String> = segments.iter().map(u32::to_string).collect();
            (
                "link",
                link_args(&format!("drop {}", list.join(",")), only.as_deref()),
            )
        }
        LabAction::Kill { endpoint } => ("kill", endpoint.to_string()),
        LabAction::Ended => ("end", String::new()),
        LabAction::Closing => ("closing", String::new()),
    }
}

fn link_args(verb: &str, only: Option<&str>) -> String {
    match only {
        Some(e) => format!("{verb} {e}"),
        None => verb.to_owned(),
    }
}

/// Whether the first SACK block reports a duplicate (RFC 2883 D-SACK): it
/// lies below the cumulative ACK, or inside the second block.
#[must_use]
pub fn first_sack_is_dsack(opts: &TcpOptions, ack: Option<u32>) -> bool {
    let blocks = opts.sack_blocks();
    let Some(&(l, r)) = blocks.first() else {
        return false;
    };
    let below_ack = ack.is_some_and(|a| SeqNum(r).le(SeqNum(a)) && SeqNum(l).lt(SeqNum(a)));
    let inside_second = blocks
        .get(1)
        .is_some_and(|&(l2, r2)| SeqNum(l2).le(SeqNum(l)) && SeqNum(r).le(SeqNum(r2)));
    below_ack || inside_second
}

/// Option strings as the contract writes them: `mss=65495`, `sack_perm`,
/// `ts=VAL/ECR`, `wscale=7`, `sack=L-R` (relative), `dsack=L-R` (a first
/// block that reports a duplicate), `opt=KIND/LEN`. `sack`: the segment's
/// absolute ACK and the base its SACK blocks are relative to.
#[must_use]
pub fn option_strings(opts: &TcpOptions, sack: Option<(u32, u32)>) -> Vec<String> {
    let sack_base = sack.map(|(_, base)| base);
    let dsack = first_sack_is_dsack(opts, sack.map(|(ack, _)| ack));
    let mut v = Vec::new();
    if let Some(mss) = opts.mss {
        v.push(format!("mss={mss}"));
    }
    if opts.sack_perm {
        v.push("sack_perm".to_owned());
    }
    if let Some((val, ecr)) = opts.timestamps {
        v.push(format!("ts={val}/{ecr}"));
    }
    if let Some(ws) = opts.wscale {
        v.push(format!("wscale={ws}"));
    }
    for (i, &(l, r)) in opts.sack_blocks().iter().enumerate() {
        let base = sack_base.unwrap_or(0);
        v.push(format!(
            "{}={}-{}",
            if i == 0 && dsack { "dsack" } else { "sack" },
            l.wrapping_sub(base),
            r.wrapping_sub(base)
        ));
    }
    for &(kind, len) in opts.unknown_options() {
        v.push(format!("opt={kind}/{len}"));
    }
    v
}

/// [`option_strings`] as a JSON array, written in place (no string per option).
fn options_json(out: &mut String, opts: &TcpOptions, sack: Option<(u32, u32)>) {
    let dsack = first_sack_is_dsack(opts, sack.map(|(ack, _)| ack));
    out.push('[');
    let mut first = true;
    let mut item = |out: &mut String, name: &str, a: Option<u64>, b: Option<(char, u64)>| {
        if !first {
            out.push(',');
        }
        first = false;
        out.push('"');
        out.push_str(name);
        if let Some(a) = a {
            out.push('=');
            push_u64(out, a);
        }
        if let Some((sep, b)) = b {
            out.push(sep);
            push_u64(out, b);
        }
        out.push('"');
    };
    if let Some(mss) = opts.mss {
        item(out, "mss", Some(mss.into()), None);
    }
    if opts.sack_perm {
        item(out, "sack_perm", None, None);
    }
    if let Some((val, ecr)) = opts.timestamps {
        item(out, "ts", Some(val.into()), Some(('/', ecr.into())));
    }
    if let Some(ws) = opts.wscale {
        item(out, "wscale", Some(ws.into()), None);
    }
    let base = sack.map_or(0, |(_, base)| base);
    for (i, &(l, r)) in opts.sack_blocks().iter().enumerate() {
        let (l, r) = (l.wrapping_sub(base), r.wrapping_sub(base));
        let name = if i == 0 && dsack { "dsack" } else { "sack" };
        item(out, name, Some(l.into()), Some(('-', r.into())));
    }
    for &(kind, len) in opts.unknown_options() {
        item(out, "opt", Some(kind.into()), Some(('/', len.into())));
    }
    out.push(']');
}

/// A segment's absolute ACK and the base of the receiver's sequence space
/// (from its absolute and relative ACK): SACK blocks name bytes of that space.
fn sack_base(p: &PacketEvent) -> Option<(u32, u32)> {
    let tcp = p.segment.tcp?;
    tcp.flags
        .ack()
        .then(|| (tcp.ack, tcp.ack.wrapping_sub(p.ack)))
}

/// Writes one JSON object field by field into a string, in the order the
/// fields are added (`t`, `kind`, then the rest: what a reader looks at
/// first). No intermediate values: this runs once per packet.
struct Obj<'a> {
    out: &'a mut String,
    first: bool,
}

// The writers are inlined at every call, so that each key (a literal)
// is copied as bytes of a known length in place, not through a call to
// memmove: the JSON of a recorded flood's 216,082 events took 48 ms, 36 ms
// inlined (a fifth of the time had gone to those calls).
impl<'a> Obj<'a> {
    fn new(out: &'a mut String) -> Self {
        out.push('{');
        Self { out, first: true }
    }

    #[inline(always)]
    fn key(&mut self, k: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push('"');
        self.out.push_str(k);
        self.out.push_str("\":");
        self.out
    }

    #[inline(always)]
    fn str(&mut self, k: &str, v: &str) {
        let out = self.key(k);
        json_str(out, v);
    }

    #[inline(always)]
    fn display(&mut self, k: &str, v: impl std::fmt::Display) {
        let out = self.key(k);
        out.push('"');
        // Addresses, state names: never characters JSON must escape.
        let _ = write!(out, "{v}");
        out.push('"');
    }

    #[inline(always)]
    fn addr(&mut self, k: &str, a: SocketAddr) {
        let out = self.key(k);
        out.push('"');
        push_addr(out, a);
        out.push('"');
    }

    #[inline(always)]
    fn num(&mut self, k: &str, v: impl Into<u64>) {
        let out = self.key(k);
        push_u64(out, v.into());
    }

    #[inline(always)]
    fn float(&mut self, k: &str, v: f64) {
        let out = self.key(k);
        json_f64(out, v);
    }

    #[inline(always)]
    fn null(&mut self, k: &str) {
        self.key(k).push_str("null");
    }

    /// One of synack's own words (`packet`, `SYN-SENT`, `client` …):
    /// written as it is, without looking for what JSON must escape.
    #[inline(always)]
    fn word(&mut self, k: &str, v: &'static str) {
        let out = self.key(k);
        push_word(out, v);
    }

    /// A list of synack's own words (flags, notes).
    #[inline(always)]
    fn words(&mut self, k: &str, vs: impl IntoIterator<Item = &'static str>) {
        let out = self.key(k);
        out.push('[');
        for (i, v) in vs.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_word(out, v);
        }
        out.push(']');
    }

    fn end(self) {
        self.out.push('}');
    }
}

/// `n` in decimal (what `write!` does, without its machinery: this runs
/// several times per packet).
#[inline(always)]
fn push_u64(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// An address as `Display` writes it; IPv4 without the formatter.
fn push_addr(out: &mut String, a: SocketAddr) {
    match a {
        SocketAddr::V4(v4) => {
            for (i, o) in v4.ip().octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_u64(out, u64::from(o));
            }
            out.push(':');
            push_u64(out, u64::from(v4.port()));
        }
        SocketAddr::V6(_) => {
            let _ = write!(out, "{a}");
        }
    }
}

/// A word of synack's own vocabulary, quoted: none holds a character JSON
/// escapes (the debug build checks).
#[inline(always)]
fn push_word(out: &mut String, w: &'static str) {
    debug_assert!(
        !w.bytes()
            .any(|b| b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b)),
        "{w:?} is not a plain word"
    );
    out.push('"');
    out.push_str(w);
    out.push('"');
}

/// A JSON string: quotes, backslashes and control characters escaped.
fn json_str(out: &mut String, s: &str) {
    out.push('"');
    // 0x7f is DEL; 0xc2 starts the C1 controls (U+0080–U+009F, CSI among
    // them), which JSON allows raw but some terminals obey: escaped too.
    if !s
        .bytes()
        .any(|b| b == b'"' || b == b'\\' || b < 0x20 || b == 0x7f || b == 0xc2)
    {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Seconds with microsecond precision (what the kernel's timestamps carry on
/// loopback; six decimals keep lines short and stable), always with a point.
fn json_f64(out: &mut String, v: f64) {
    let micros = (v * 1e6).round();
    if !micros.is_finite() || micros.abs() >= 9e15 {
        out.push_str("null");
        return;
    }
    // The digits of a whole number of microseconds: what the shortest
    // round-trip form of micros / 1e6 is, without float formatting.
    if micros.is_sign_negative() {
        out.push('-');
    }
    let n = micros.abs() as u64;
    push_u64(out, n / 1_000_000);
    out.push('.');
    let mut frac = n % 1_000_000;
    if frac == 0 {
        out.push('0');
        return;
    }
    let mut width = 6;
    while frac % 10 == 0 {
        frac /= 10;
        width -= 1;
    }
    let digits = frac.checked_ilog10().map_or(1, |d| d + 1) as usize;
    for _ in digits..width {
        out.push('0');
    }
    push_u64(out, frac);
}

/// The contract's JSON object for one event, appended to `out` (no newline).
pub fn json_line(out: &mut String, t: f64, event: &Event, lang: Lang) {
    let mut o = Obj::new(out);
    o.float("t", t);
    match event {
        Event::Packet(p) => packet_json(&mut o, p),
        Event::Call(c) => {
            o.word("kind", "call");
            o.str("endpoint", &c.endpoint);
            o.str("call", &c.call);
            o.str("args", &c.args);
            match &c.result {
                None => o.str("phase", "start"),
                Some(r) => o.str("result", &r.as_contract()),
            }
            if let Some(n) = c.times {
                o.num("times", n);
            }
            if let Some(data) = &c.data {
                o.str("data", data);
            }
            if let Some(local) = c.local {
                o.display("local", local);
            }
        }
        Event::Lab(l) => {
            let (call, args) = lab_call(&l.action);
            o.word("kind", "call");
            o.str("endpoint", "lab");
            o.str("call", call);
            o.str("args", &args);
            o.str("result", &l.result.as_contract());
            if l.origin == Origin::User {
                o.str("by", "user");
            }
        }
        Event::Step(s) => {
            o.word("kind", "narration");
            o.num("step", s.index as u64);
            o.num("of", s.total as u64);
            o.num("line", s.line as u64);
            o.str("text", s.narration.as_ref().map_or("", |n| n.text(lang)));
        }
        Event::State(s) => state_json(&mut o, s),
        Event::Check(c) => check_json(&mut o, t, c),
        Event::Queue(q) => {
            o.word("kind", "queue");
            o.display("local", q.local);
            o.num("accept_queue", q.accept_queue);
            o.num("backlog", q.backlog);
            o.num("overflows", q.overflows);
            o.num("drops", q.drops);
        }
        Event::SocketQueues(q) => {
            o.word("kind", "socket_queues");
            match q.conn {
                Some(c) => o.num("conn", c.0),
                None => o.null("conn"),
            }
            o.str("endpoint", &q.endpoint);
            o.display("local", q.local);
            o.display("remote", q.remote);
            o.num("recv_q", q.recv_q);
            o.num("send_q", q.send_q);
        }
        Event::Congestion(c) => congestion_json(&mut o, c),
        Event::Warning { message, .. } => {
            o.word("kind", "warning");
            o.str("message", message);
        }
    }
    o.end();
}

fn congestion_json(o: &mut Obj<'_>, c: &CongestionEvent) {
    o.str("kind", "congestion");
    match c.conn {
        Some(n) => o.num("conn", n.0),
        None => o.null("conn"),
    }
    o.str("endpoint", &c.endpoint);
    o.display("local", c.local);
    o.display("remote", c.remote);
    o.str("source", c.source.as_str());
    o.str("state", &c.state.name());
    if let Some(from) = c.from {
        o.str("from", &from.name());
    }
    if let Some(v) = c.cwnd {
        o.num("cwnd", v);
    }
    if let Some(v) = c.ssthresh {
        o.num("ssthresh", v);
    }
    if let Some(v) = c.rtt_us {
        o.num("rtt_us", v);
    }
    if let Some(v) = c.retransmits {
        o.num("retransmits", v);
    }
    if let Some(v) = c.total_retrans {
        o.num("total_retrans", v);
    }
}

fn packet_json(o: &mut Obj<'_>, p: &PacketEvent) {
    let seg = &p.segment;
    o.word("kind", "packet");
    o.num("conn", p.conn.0);
    o.word("proto", seg.proto.as_str());
    o.addr("src", seg.src);
    o.addr("dst", seg.dst);
    o.word("from", p.from.as_str());
    if let Some(name) = &p.endpoint {
        o.str("endpoint", name);
    }
    if let (Proto::Tcp, Some(tcp)) = (seg.proto, seg.tcp) {
        o.words("flags", tcp.flags.names());
        o.num("seq", p.seq);
        o.num("ack", p.ack);
        o.num("len", seg.payload_len);
        o.num("win", p.win);
        if tcp.flags.contains(crate::tcp::Flags::URG) {
            o.num("urg", tcp.urgent);
        }
        options_json(o.key("options"), &tcp.options, sack_base(p));
    } else {
        o.num("len", seg.payload_len);
    }
    o.words("notes", p.notes.names());
    if let Some(d) = p.dup_ack {
        o.num("dup_ack_num", d.num);
        o.num("dup_ack_of", d.of);
    }
    if let Some(why) = &p.rst_reason {
        o.str("rst_reason", why);
    }
    if let Some(why) = &p.drop_reason {
        o.str("drop_reason", why);
    }
    if let Some(w) = p.retransmit {
        o.str("retransmit", w.as_str());
    }
}

fn state_json(o: &mut Obj<'_>, s: &StateEvent) {
    o.word("kind", "state");
    match s.conn {
        Some(c) => o.num("conn", c.0),
        None => o.null("conn"),
    }
    o.str("endpoint", &s.endpoint);
    o.addr("local", s.local);
    match s.remote {
        Some(r) => o.addr("remote", r),
        None => o.null("remote"),
    }
    // null: the socket was first seen in `to` (it existed before synack looked).
    match s.from {
        Some(f) => o.word("from", f.as_str()),
        None => o.null("from"),
    }
    o.word("to", s.to.as_str());
    o.word("source", s.source.as_str());
    if let Some(timer) = s.timer {
        o.float("timer", timer);
    }
    if let Some(note) = &s.note {
        o.str("note", note);
    }
}

fn check_json(o: &mut Obj<'_>, t: f64, c: &CheckEvent) {
    o.word("kind", "state_check");
    match c.conn {
        Some(n) => o.num("conn", n.0),
        None => o.null("conn"),
    }
    o.str("endpoint", &c.endpoint);
    o.addr("local", c.local);
    match c.remote {
        Some(r) => o.addr("remote", r),
        None => o.null("remote"),
    }
    o.str("state", c.shown.as_str());
    // On the same clock as `t`: the line that showed `state`.
    o.float("shown_at", t - c.ts.seconds_since(c.shown_at));
    o.str(
        "verdict",
        if c.withdraws() {
            "withdrawn"
        } else {
            "confirmed"
        },
    );
    o.str("actual", c.actual.as_str());
    o.str("source", c.source.as_str());
    if let Some(timer) = c.timer {
        o.float("timer", timer);
    }
    if let Some(note) = &c.note {
        o.str("note", note);
    }
}

/// One ladder line. Columns: time, connection, then what happened:
///
/// ```text
///   0.000000 #1  client 127.0.0.1:40000 ──[SYN]──────▶ 127.0.0.1:7000 server  seq=0 ack=0 win=65495 len=0  mss=65495 …
///   0.000031 #1  server 127.0.0.1:7000 ◀──[SYN,ACK]── …
///   0.000040     client  connect(127.0.0.1:7000) = ok
///   0.000050 #1  server  ESTABLISHED → FIN-WAIT-1 (kernel)
/// ```
fn text_line(out: &mut String, t: f64, event: &Event, lang: Lang) {
    let _ = write!(out, "{t:>11.6} ");
    match event {
        Event::Packet(p) => {
            let seg = &p.segment;
            let _ = write!(out, "#{:<3} ", p.conn.0);
            let (client_side, arrow_right) = match p.from {
                Role::Client => (seg.src, true),
                Role::Server => (seg.dst, false),
            };
            let server_side = if arrow_right { seg.dst } else { seg.src };
            let label = match (seg.proto, seg.tcp) {
                (Proto::Tcp, Some(tcp)) => format!("[{}]", tcp.flags),
                _ => "[UDP]".to_owned(),
            };
            let arrow = if arrow_right {
                format!("──{label:─<13}─▶")
            } else {
                format!("◀─{label:─>13}──")
            };
            let _ = write!(out, "{client_side:>21} {arrow} {server_side:<21}");
            if let (Proto::Tcp, Some(tcp)) = (seg.proto, seg.tcp) {
                let _ = write!(
                    out,
                    " seq={} ack={} win={} len={}",
                    p.seq, p.ack, p.win, seg.payload_len
                );
                if tcp.flags.contains(crate::tcp::Flags::URG) {
                    let _ = write!(out, " urg={}", tcp.urgent);
                }
                let opts = option_strings(&tcp.options, sack_base(p));
                if !opts.is_empty() {
                    let _ = write!(out, " <{}>", opts.join(" "));
                }
            } else {
                let _ = write!(out, " len={}", seg.payload_len);
            }
            if !p.notes.is_empty() {
                let notes: Vec<String> = p
                    .notes
                    .names()
                    .map(|n| match (n, p.dup_ack) {
                        ("dup_ack", Some(d)) => format!("dup_ack#{} (of packet {})", d.num, d.of),
                        _ => n.to_owned(),
                    })
                    .collect();
                let _ = write!(out, "  !{}", notes.join(" !"));
            }
            if let Some(why) = &p.rst_reason {
                let _ = write!(
                    out,
                    "  {}: {}",
                    labels(lang).rst_reason,
                    crate::i18n::rst_reason(lang, why)
                );
            }
            if let Some(w) = p.retransmit {
                let _ = write!(
                    out,
                    "  {}: {}",
                    crate::i18n::retransmit_field(lang, w),
                    crate::i18n::retransmit_words(lang, w)
                );
            }
            if let Some(why) = &p.drop_reason {
                let _ = write!(
                    out,
                    "  ✗ {}: {}",
                    labels(lang).drop_reason,
                    crate::i18n::drop_reason(
                        lang,
                        why,
                        p.notes.contains(crate::tcp::track::Notes::LOST)
                    )
                );
            }
        }
        Event::Call(c) => {
            let _ = write!(out, "     {:<8} ", sanitize(&c.endpoint));
            let _ = write!(out, "{}({})", sanitize(&c.call), sanitize(&c.args));
            match &c.result {
                None => out.push_str(" …"),
                Some(r) => {
                    let _ = write!(out, " = {}", sanitize(&r.as_contract()));
                }
            }
            if let Some(n) = c.times {
                let _ = write!(out, " ×{n}");
            }
            if let Some(data) = &c.data {
                let _ = write!(out, " \"{}\"", sanitize(data));
            }
            if let Some(local) = c.local {
                let _ = write!(out, "  [{local}]");
            }
        }
        Event::Lab(l) => {
            let (call, args) = lab_call(&l.action);
            let _ = write!(
                out,
                "     lab      {call}({}) = {}",
                sanitize(&args),
                sanitize(&l.result.as_contract())
            );
            if l.origin == Origin::User {
                out.push_str("  [by the user]");
            }
        }
        Event::Step(s) => {
            let text = s.narration.as_ref().map_or("", |n| n.text(lang));
            let _ = write!(out, "     step {}/{}  {}", s.index, s.total, sanitize(text));
        }
        Event::State(s) => {
            match s.conn {
                Some(c) => {
                    let _ = write!(out, "#{:<3} ", c.0);
                }
                None => out.push_str("     "),
            }
            let from = s.from.map_or("(first seen)", crate::tcp::TcpState::as_str);
            let _ = write!(
                out,
                "{:<8} {} {} → {}",
                sanitize(&s.endpoint),
                s.local,
                from,
                s.to
            );
            if let Some(timer) = s.timer {
                let _ = write!(out, " (timer {timer:.1}s)");
            }
            let _ = write!(out, " [{}]", s.source.as_str());
            if let Some(note) = &s.note {
                let _ = write!(out, " ({})", sanitize(note));
            }
        }
        Event::Check(c) => {
            match c.conn {
                Some(n) => {
                    let _ = write!(out, "#{:<3} ", n.0);
                }
                None => out.push_str("     "),
            }
            let _ = write!(out, "{:<8} {} ", sanitize(&c.endpoint), c.local);
            if c.withdraws() {
                let _ = write!(out, "{} withdrawn: it is {}", c.shown, c.actual);
            } else {
                let _ = write!(out, "{} confirmed", c.shown);
            }
            if let Some(timer) = c.timer {
                let _ = write!(out, " (timer {timer:.1}s)");
            }
            let _ = write!(out, " [{}]", c.source.as_str());
            if let Some(note) = &c.note {
                let _ = write!(out, " ({})", sanitize(note));
            }
        }
        Event::Queue(q) => {
            let _ = write!(
                out,
                "     listener {} accept queue {}/{}  overflows={} drops={}",
                q.local, q.accept_queue, q.backlog, q.overflows, q.drops
            );
        }
        Event::SocketQueues(q) => {
            match q.conn {
                Some(c) => {
                    let _ = write!(out, "#{:<3} ", c.0);
                }
                None => out.push_str("     "),
            }
            let _ = write!(
                out,
                "{:<8} {} recv-q {} send-q {}",
                sanitize(&q.endpoint),
                q.local,
                q.recv_q,
                q.send_q
            );
        }
        Event::Congestion(c) => congestion_text(out, c),
        Event::Warning { message, .. } => {
            let _ = write!(out, "     warning: {}", sanitize(message));
        }
    }
}

/// `#1   client   127.0.0.1:40000 congestion Open → Recovery cwnd=14 ssthresh=14 rtt=52us retrans=1 [socket's TCP_INFO]`:
/// a change says where it came from; a report of the window alone says
/// the state it stays in.
fn congestion_text(out: &mut String, c: &CongestionEvent) {
    match c.conn {
        Some(n) => {
            let _ = write!(out, "#{:<3} ", n.0);
        }
        None => out.push_str("     "),
    }
    let _ = write!(out, "{:<8} {} congestion ", sanitize(&c.endpoint), c.local);
    match c.from {
        Some(from) if c.is_change() => {
            let _ = write!(out, "{} → {}", from.name(), c.state.name());
        }
        None if c.is_change() => {
            let _ = write!(out, "→ {}", c.state.name());
        }
        _ => out.push_str(&c.state.name()),
    }
    if let Some(v) = c.cwnd {
        let _ = write!(out, " cwnd={v}");
    }
    if let Some(v) = c.ssthresh {
        let _ = write!(out, " ssthresh={v}");
    }
    if let Some(v) = c.rtt_us {
        let _ = write!(out, " rtt={v}us");
    }
    if let Some(v) = c.total_retrans {
        let _ = write!(out, " retrans={v}");
    }
    if let Some(v) = c.retransmits.filter(|&v| v > 0) {
        let _ = write!(out, " timeouts={v}");
    }
    let _ = write!(out, " [{}]", c.source.label());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{CallEvent, CallResult};
    use crate::time::Timestamp;

    #[test]
    fn numbers_are_written_as_display_writes_them() {
        let mut values: Vec<u64> = (0..1_000).collect();
        let mut p = 1u64;
        while let Some(next) = p.checked_mul(10) {
            values.extend([p - 1, p, p + 1, next - 1]);
            p = next;
        }
        values.extend([u64::MAX, u64::MAX - 1, 4_294_967_295, 65_535]);
        let mut out = String::new();
        for v in values {
            out.clear();
            push_u64(&mut out, v);
            assert_eq!(out, v.to_string());
        }
    }

    #[test]
    fn json_lines_are_json_whatever_the_text() {
        let hostile =
            "quote\" back\\ nl\n tab\t esc\x1b]0;t\x07 nul\0 zh 中文 \u{7f} csi\u{9b}2J ·°";
        let ev = Event::Warning {
            ts: Timestamp(5),
            message: hostile.to_owned(),
        };
        let mut line = String::new();
        json_line(&mut line, 0.000_001_4, &ev, Lang::En);
        let v: serde_json::Value = serde_json::from_str(&line).expect(&line);
        assert_eq!(v["message"], hostile);
        assert_eq!(v["kind"], "warning");
        assert_eq!(v["t"], 0.000_001);
        assert!(line.starts_with("{\"t\":"), "t comes first: {line}");
        assert!(!line.chars().any(char::is_control), "{line}");
        assert!(line.contains("\\u009b") && line.contains("·°"), "{line}");
        let mut whole = String::new();
        json_line(&mut whole, 2.0, &ev, Lang::En);
        assert!(whole.starts_with("{\"t\":2.0,"), "{whole}");
    }

    /// A busy loop's many calls in one report, and the bytes a read returned.
    #[test]
    fn a_call_says_how_many_times_and_what_it_read() {
        let call = |result: &str, times, bytes: &[u8]| {
            Event::Call(Box::new(CallEvent {
                ts: Timestamp(5),
                endpoint: "server".into(),
                call: "read".into(),
                args: "65536".into(),
                result: Some(CallResult::parse(result)),
                local: None,
                times,
                data: CallEvent::data_of(bytes),
            }))
        };
        let spun = call("EAGAIN", Some(48211), b"");
        let got = call("7", None, b"GET /\r\n");
        let mut j = String::new();
        json_line(&mut j, 0.5, &spun, Lang::En);
        let v: serde_json::Value = serde_json::from_str(&j).expect(&j);
        assert_eq!(
            (v["result"].as_str(), v["times"].as_u64()),
            (Some("EAGAIN"), Some(48211))
        );
        assert!(v.get("data").is_none(), "{j}");
        let mut j = String::new();
        json_line(&mut j, 0.5, &got, Lang::En);
        let v: serde_json::Value = serde_json::from_str(&j).expect(&j);
        assert_eq!(v["data"], "GET /\\r\\n");
        assert!(v.get("times").is_none(), "{j}");
        let mut t = String::new();
        text_line(&mut t, 0.5, &spun, Lang::En);
        assert!(t.ends_with("read(65536) = EAGAIN ×48211"), "{t}");
        let mut t = String::new();
        text_line(&mut t, 0.5, &got, Lang::En);
        assert!(t.ends_with("read(65536) = 7 \"GET /\\r\\n\""), "{t}");
        // Bulk reads show their count only; other bytes are escaped.
        assert_eq!(CallEvent::data_of(&[b'a'; 65]), None);
        assert_eq!(
            CallEvent::data_of(&[0, 0xff, b'"']).as_deref(),
            Some("\\x00\\xff\\\"")
        );
    }

    /// A segment the kernel dropped and resent: `drop_reason` and
    /// `retransmit` in the JSON, after the fields that were there before
    /// (which keep their meaning); the words in the text, in each language.
    #[test]
    fn a_dropped_and_resent_segment_says_so() {
        use crate::event::RetransmitWitness;
        use crate::tcp::track::{Analysis, ConnId, Notes, Role};
        use crate::tcp::{Flags, Segment};
        let packet = |why: Option<&str>, w: Option<RetransmitWitness>| {
            let mut seg = Segment::bare(
                Timestamp(5),
                "127.0.0.1:40000".parse().unwrap(),
                "127.0.0.1:7000".parse().unwrap(),
                Flags::ACK | Flags::PSH,
                1,
                1,
            );
            seg.payload_len = 988;
            Event::Packet(Box::new(PacketEvent {
                segment: Box::new(seg),
                analysis: Analysis {
                    conn: ConnId(1),
                    from: Role::Client,
                    seq: 3953,
                    ack: 1,
                    win: 65536,
                    notes: if why.is_some() {
                        // Lost on the lab's link: the receiver's socket filter.
                        Notes(Notes::RETRANSMISSION.0 | Notes::LOST.0)
                    } else {
                        Notes::RETRANSMISSION
                    },
                    dup_ack: None,
                },
                endpoint: Some("client".into()),
                raw: None,
                rst_reason: None,
                drop_reason: why.map(std::sync::Arc::from),
                retransmit: w,
            }))
        };
        let both = packet(Some("SOCKET_FILTER"), Some(RetransmitWitness::Kernel));
        let mut j = String::new();
        json_line(&mut j, 0.0, &both, Lang::En);
        assert!(
            j.ends_with(
                r#""notes":["retransmission","lost"],"drop_reason":"SOCKET_FILTER","retransmit":"kernel"}"#
            ),
            "{j}"
        );
        let mut j = String::new();
        json_line(
            &mut j,
            0.0,
            &packet(None, Some(RetransmitWitness::InferredOnly)),
            Lang::En,
        );
        assert!(j.ends_with(r#""retransmit":"inferred_only"}"#), "{j}");
        let mut j = String::new();
        json_line(&mut j, 0.0, &packet(None, None), Lang::En);
        assert!(
            !j.contains("drop_reason") && !j.contains("retransmit\""),
            "{j}"
        );
        let mut t = String::new();
        text_line(&mut t, 0.0, &both, Lang::En);
        assert!(
            t.ends_with(
                "  retransmission (kernel): the kernel resent it  ✗ dropped by the kernel: \
                 SOCKET_FILTER (the lab's link)"
            ),
            "{t}"
        );
        let mut t = String::new();
        text_line(&mut t, 0.0, &both, Lang::Zh);
        assert!(
            t.contains("内核确认重传") && t.contains("✗ 内核丢弃原因"),
            "{t}"
        );
    }

    /// A RST the kernel said why it sent: `rst_reason` in the JSON (the
    /// kernel's name), the name and its words in the text; nothing for a
    /// packet without one.
    #[test]
    fn a_rst_says_why_the_kernel_sent_it() {
        use crate::tcp::track::{Analysis, ConnId, Notes, Role};
        use crate::tcp::{Flags, Segment};
        let packet = |why: Option<&str>| {
            Event::Packet(Box::new(PacketEvent {
                segment: Box::new(Segment::bare(
                    Timestamp(5),
                    "127.0.0.1:7000".parse().unwrap(),
                    "127.0.0.1:40000".parse().unwrap(),
                    Flags::RST | Flags::ACK,
                    0,
                    1,
                )),
                analysis: Analysis {
                    conn: ConnId(1),
                    from: Role::Server,
                    seq: 1,
                    ack: 1,
                    win: 0,
                    notes: Notes::default(),
                    dup_ack: None,
                },
                endpoint: None,
                raw: None,
                rst_reason: why.map(str::to_owned),
                drop_reason: None,
                retransmit: None,
            }))
        };
        let mut j = String::new();
        json_line(&mut j, 0.0, &packet(Some("NO_SOCKET")), Lang::En);
        assert!(
            j.ends_with(r#""notes":[],"rst_reason":"NO_SOCKET"}"#),
            "{j}"
        );
        let mut j = String::new();
        json_line(&mut j, 0.0, &packet(None), Lang::En);
        assert!(!j.contains("rst_reason"), "{j}");
        let mut t = String::new();
        text_line(&mut t, 0.0, &packet(Some("NO_SOCKET")), Lang::En);
        assert!(
            t.ends_with("  reset reason (kernel): NO_SOCKET (nobody listens on this port)"),
            "{t}"
        );
        let mut t = String::new();
        text_line(&mut t, 0.0, &packet(Some("TCP_ABORT_ON_CLOSE")), Lang::Zh);
        assert!(
            t.ends_with("重置原因（内核）: TCP_ABORT_ON_CLOSE（关闭时还有未读数据）"),
            "{t}"
        );
        // A reason synack has no words for (a newer kernel's): its name.
        let mut t = String::new();
        text_line(&mut t, 0.0, &packet(Some("TCP_SOMETHING_NEW")), Lang::En);
        assert!(t.ends_with(": TCP_SOMETHING_NEW"), "{t}");
    }

    #[test]
    fn seconds_and_addresses_print_as_the_formatter_would() {
        // The shortest form of the value rounded to microseconds, with a point.
        let old = |v: f64| {
            let r = (v * 1e6).round() / 1e6;
            let s = format!("{r}");
            if s.contains('.') { s } else { s + ".0" }
        };
        let mut rng = crate::test_rng::Rng::new(12345);
        let mut values = vec![
            0.0,
            1.0,
            0.000_001,
            0.1,
            2.5e-7,
            59.999_999_6,
            3600.25,
            -0.25,
        ];
        for _ in 0..20_000 {
            let x = rng.next_u64();
            values.push((x >> 11) as f64 / (1u64 << 53) as f64 * 10f64.powi((x % 9) as i32 - 3));
        }
        for v in values {
            let mut got = String::new();
            json_f64(&mut got, v);
            assert_eq!(got, old(v), "t = {v:e}");
        }
        for a in [
            "0.0.0.0:0",
            "127.0.0.1:7000",
            "255.255.255.255:65535",
            "[::1]:80",
            "[fe80::1%2]:22",
        ] {
            let a: SocketAddr = a.parse().unwrap();
            let mut got = String::new();
            push_addr(&mut got, a);
            assert_eq!(got, a.to_string());
        }
    }
}
