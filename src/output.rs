//! Headless views of the event stream: `--json` (one object per line, the
//! contract in DESIGN.md) and `--text` (one readable ladder line per event).
//! Both are flushed per line so pipes see events as they happen.

use std::fmt::Write as _;
use std::io::{self, Write};

use serde_json::{Map, Value, json};

use crate::event::{
    CallEvent, Event, LabAction, LabEvent, Origin, PacketEvent, QueueEvent, StateEvent, StepEvent,
    sanitize,
};
use crate::i18n::Lang;
use crate::tcp::track::Role;
use crate::tcp::{Proto, TcpOptions};
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
        if !shown(event) {
            return Ok(());
        }
        let t = self.t(event.ts());
        self.line.clear();
        match self.format {
            Format::Json => {
                let value = json_value(t, event, self.lang);
                // Serializing a Value built from strings and numbers cannot fail.
                self.line.push_str(&value.to_string());
            }
            Format::Text => text_line(&mut self.line, t, event, self.lang),
        }
        self.line.push('\n');
        self.out.write_all(self.line.as_bytes())?;
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
        LabAction::Kill { endpoint } => ("kill", endpoint.clone()),
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

/// Option strings as the contract writes them: `mss=65495`, `sack_perm`,
/// `ts=VAL/ECR`, `wscale=7`, `sack=L-R` (relative), `opt=KIND/LEN`.
#[must_use]
pub fn option_strings(opts: &TcpOptions, sack_base: Option<u32>) -> Vec<String> {
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
    for &(l, r) in opts.sack_blocks() {
        let base = sack_base.unwrap_or(0);
        v.push(format!(
            "sack={}-{}",
            l.wrapping_sub(base),
            r.wrapping_sub(base)
        ));
    }
    for &(kind, len) in opts.unknown_options() {
        v.push(format!("opt={kind}/{len}"));
    }
    v
}

/// The base of the receiver's sequence space, from a segment's absolute and
/// relative ACK: SACK blocks name bytes of that space.
fn sack_base(p: &PacketEvent) -> Option<u32> {
    let tcp = p.segment.tcp?;
    tcp.flags.ack().then(|| tcp.ack.wrapping_sub(p.ack))
}

fn round6(t: f64) -> Value {
    // Microsecond precision is what the kernel timestamps carry on loopback
    // in practice; six decimals keep lines short and stable.
    let r = (t * 1e6).round() / 1e6;
    serde_json::Number::from_f64(r).map_or(Value::Null, Value::Number)
}

/// The contract's JSON object for one event.
#[must_use]
pub fn json_value(t: f64, event: &Event, lang: Lang) -> Value {
    let mut m = Map::new();
    m.insert("t".into(), round6(t));
    match event {
        Event::Packet(p) => packet_json(&mut m, p),
        Event::Call(c) => call_json(&mut m, c),
        Event::Lab(l) => lab_json(&mut m, l),
        Event::Step(s) => step_json(&mut m, s, lang),
        Event::State(s) => state_json(&mut m, s),
        Event::Queue(q) => queue_json(&mut m, q),
        Event::SocketQueues(q) => {
            m.insert("kind".into(), json!("socket_queues"));
            m.insert("conn".into(), q.conn.map_or(Value::Null, |c| json!(c.0)));
            m.insert("endpoint".into(), json!(q.endpoint));
            m.insert("local".into(), json!(q.local.to_string()));
            m.insert("remote".into(), json!(q.remote.to_string()));
            m.insert("recv_q".into(), json!(q.recv_q));
            m.insert("send_q".into(), json!(q.send_q));
        }
        Event::Warning { message, .. } => {
            m.insert("kind".into(), json!("warning"));
            m.insert("message".into(), json!(message));
        }
    }
    Value::Object(m)
}

fn packet_json(m: &mut Map<String, Value>, p: &PacketEvent) {
    let seg = &p.segment;
    m.insert("kind".into(), json!("packet"));
    m.insert("conn".into(), json!(p.conn.0));
    m.insert("proto".into(), json!(seg.proto.as_str()));
    m.insert("src".into(), json!(seg.src.to_string()));
    m.insert("dst".into(), json!(seg.dst.to_string()));
    m.insert("from".into(), json!(p.from.as_str()));
    if let (Proto::Tcp, Some(tcp)) = (seg.proto, seg.tcp) {
        m.insert("flags".into(), json!(tcp.flags.names().collect::<Vec<_>>()));
        m.insert("seq".into(), json!(p.seq));
        m.insert("ack".into(), json!(p.ack));
        m.insert("len".into(), json!(seg.payload_len));
        m.insert("win".into(), json!(p.win));
        if tcp.flags.contains(crate::tcp::Flags::URG) {
            m.insert("urg".into(), json!(tcp.urgent));
        }
        m.insert(
            "options".into(),
            json!(option_strings(&tcp.options, sack_base(p))),
        );
    } else {
        m.insert("len".into(), json!(seg.payload_len));
    }
    m.insert("notes".into(), json!(p.notes.names().collect::<Vec<_>>()));
}

fn call_json(m: &mut Map<String, Value>, c: &CallEvent) {
    m.insert("kind".into(), json!("call"));
    m.insert("endpoint".into(), json!(c.endpoint));
    m.insert("call".into(), json!(c.call));
    m.insert("args".into(), json!(c.args));
    match &c.result {
        None => {
            m.insert("phase".into(), json!("start"));
        }
        Some(r) => {
            m.insert("result".into(), json!(r.as_contract()));
        }
    }
    if let Some(local) = c.local {
        m.insert("local".into(), json!(local.to_string()));
    }
}

fn lab_json(m: &mut Map<String, Value>, l: &LabEvent) {
    let (call, args) = lab_call(&l.action);
    m.insert("kind".into(), json!("call"));
    m.insert("endpoint".into(), json!("lab"));
    m.insert("call".into(), json!(call));
    m.insert("args".into(), json!(args));
    m.insert("result".into(), json!(l.result.as_contract()));
    if l.origin == Origin::User {
        m.insert("by".into(), json!("user"));
    }
}

fn step_json(m: &mut Map<String, Value>, s: &StepEvent, lang: Lang) {
    m.insert("kind".into(), json!("narration"));
    m.insert("step".into(), json!(s.index));
    m.insert("of".into(), json!(s.total));
    m.insert("line".into(), json!(s.line));
    let text = s.narration.as_ref().map_or("", |n| n.text(lang));
    m.insert("text".into(), json!(text));
}

fn state_json(m: &mut Map<String, Value>, s: &StateEvent) {
    m.insert("kind".into(), json!("state"));
    m.insert("conn".into(), s.conn.map_or(Value::Null, |c| json!(c.0)));
    m.insert("endpoint".into(), json!(s.endpoint));
    m.insert("local".into(), json!(s.local.to_string()));
    m.insert(
        "remote".into(),
        s.remote.map_or(Value::Null, |r| json!(r.to_string())),
    );
    // null: the socket was first seen in `to` (it existed before synack looked).
    m.insert(
        "from".into(),
        s.from.map_or(Value::Null, |f| json!(f.as_str())),
    );
    m.insert("to".into(), json!(s.to.as_str()));
    m.insert("source".into(), json!(s.source.as_str()));
    if let Some(timer) = s.timer {
        m.insert("timer".into(), round6(timer));
    }
    if let Some(note) = &s.note {
        m.insert("note".into(), json!(note));
    }
}

fn queue_json(m: &mut Map<String, Value>, q: &QueueEvent) {
    m.insert("kind".into(), json!("queue"));
    m.insert("local".into(), json!(q.local.to_string()));
    m.insert("accept_queue".into(), json!(q.accept_queue));
    m.insert("backlog".into(), json!(q.backlog));
    m.insert("overflows".into(), json!(q.overflows));
    m.insert("drops".into(), json!(q.drops));
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
                let notes: Vec<_> = p.notes.names().collect();
                let _ = write!(out, "  !{}", notes.join(" !"));
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
        Event::Warning { message, .. } => {
            let _ = write!(out, "     warning: {}", sanitize(message));
        }
    }
}
