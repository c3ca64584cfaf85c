//! Naming peers: which lab peer owns a socket, from the local addresses its
//! calls reported (`client2`, `server` …), and when each listener's
//! `listen()` returned.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::event::{EndpointName, Event};
use crate::hash::Map;
use crate::tcp::track::Role;
use crate::time::Timestamp;

#[derive(Default)]
pub(super) struct Names {
    /// Lab peers by the local address of their sockets.
    by_local: Map<SocketAddr, String>,
    /// When each lab listener's listen() returned.
    listen_calls: Map<SocketAddr, Timestamp>,
}

impl Names {
    /// A lab peer's socket has this local address (from its call reports).
    /// A forked child keeps its parent's sockets and name.
    pub fn learn_peer(&mut self, local: SocketAddr, peer: &str) {
        // The first peer on an address keeps it: a second server binding the
        // same port later (SO_REUSEADDR) must not rename the first one's sockets.
        let name = peer.strip_suffix("-child").unwrap_or(peer);
        self.by_local
            .entry(local)
            .or_insert_with(|| name.to_owned());
    }

    pub fn learn_listen(&mut self, local: SocketAddr, ts: Timestamp) {
        self.listen_calls.insert(local, ts);
    }

    /// When the lab's listen() on `local` returned, if it did.
    pub fn listen_call(&self, local: SocketAddr) -> Option<Timestamp> {
        self.listen_calls.get(&local).copied()
    }

    /// The peer owning `local`: by the address itself, else by the wildcard
    /// address of its port (a socket bound to 0.0.0.0; a connect() that
    /// failed reports 0.0.0.0 and the port its SYN was sent from).
    pub fn owner_of(&self, local: SocketAddr) -> Option<&String> {
        if self.by_local.is_empty() {
            return None;
        }
        self.by_local.get(&local).or_else(|| {
            let any: IpAddr = match local {
                SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
                SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
            };
            self.by_local.get(&SocketAddr::new(any, local.port()))
        })
    }

    /// The peer's name, or the role's (`client`, `server`, no allocation)
    /// where no peer owns it.
    pub fn endpoint(&self, local: SocketAddr, role: Role) -> EndpointName {
        self.owner_of(local)
            .map_or(Cow::Borrowed(role.as_str()), |n| Cow::Owned(n.clone()))
    }

    /// Names the peer owning an event's socket as the event leaves. A peer
    /// tells a socket's address only when its call returns (connect()) or
    /// blocks for a while, so the SYN-SENT and the first packets of a
    /// connect() came before its name: held since, they get it now, and the
    /// socket has one name from its first event on.
    pub fn name_owner(&self, event: &mut Event) {
        if self.by_local.is_empty() {
            return;
        }
        let (local, endpoint) = match event {
            // A listener is `listener`, by the contract.
            Event::State(s) if s.remote.is_some() => (s.local, &mut s.endpoint),
            Event::Check(c) if c.remote.is_some() => (c.local, &mut c.endpoint),
            Event::SocketQueues(q) => (q.local, &mut q.endpoint),
            Event::Congestion(c) => (c.local, &mut c.endpoint),
            Event::Packet(p) => {
                p.endpoint = self.owner_of(p.segment.src).map(|n| Cow::Owned(n.clone()));
                return;
            }
            _ => return,
        };
        if let Some(name) = self.owner_of(local) {
            if endpoint.as_ref() != name.as_str() {
                *endpoint = Cow::Owned(name.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_peer_keeps_an_address_and_wildcards_name_their_port() {
        let mut n = Names::default();
        let a: SocketAddr = "127.0.0.1:7000".parse().unwrap();
        n.learn_peer("0.0.0.0:7000".parse().unwrap(), "server-child");
        n.learn_peer("0.0.0.0:7000".parse().unwrap(), "server2");
        assert_eq!(n.owner_of(a).map(String::as_str), Some("server"));
        assert_eq!(
            n.endpoint("127.0.0.1:40000".parse().unwrap(), Role::Client),
            "client"
        );
    }
}
