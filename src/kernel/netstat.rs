//! Listen-queue counters from `/proc/net/netstat` (the `TcpExt` table).
//!
//! The file belongs to the network namespace of the thread that opens it
//! (`thread-self`: a process's threads may sit in different namespaces when a
//! restarted lab made a new one), so inside a lab these are the lab's counters.

use super::KernelError;

const PATH: &str = "/proc/thread-self/net/netstat";

/// `(TcpExtListenOverflows, TcpExtListenDrops)`: SYNs or final ACKs dropped
/// because an accept queue was full, and every drop at a listener (overflows
/// included).
///
/// # Errors
/// The file cannot be read, or lacks one of the counters.
pub fn listen_counters() -> Result<(u64, u64), KernelError> {
    let text =
        std::fs::read_to_string(PATH).map_err(|source| KernelError::Proc { path: PATH, source })?;
    parse_listen_counters(&text)
}

/// Parses the two counters from the text of `/proc/net/netstat`: a header line
/// of names and a line of values for each table, both prefixed `TcpExt:`.
fn parse_listen_counters(text: &str) -> Result<(u64, u64), KernelError> {
    let overflows =
        counter(text, "TcpExt:", "ListenOverflows").ok_or(KernelError::MissingCounter {
            path: PATH,
            field: "TcpExt ListenOverflows",
        })?;
    let drops = counter(text, "TcpExt:", "ListenDrops").ok_or(KernelError::MissingCounter {
        path: PATH,
        field: "TcpExt ListenDrops",
    })?;
    Ok((overflows, drops))
}

fn counter(text: &str, table: &str, name: &str) -> Option<u64> {
    let mut lines = text.lines().filter(|l| l.starts_with(table));
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        let names = names[table.len()..].split_whitespace();
        let values = values[table.len()..].split_whitespace();
        if let Some((_, value)) = names.zip(values).find(|(n, _)| *n == name) {
            return value.parse().ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops TCPHPHits\n\
TcpExt: 0 0 7 9 1234\n\
IpExt: InNoRoutes InTruncatedPkts\n\
IpExt: 0 0\n";

    #[test]
    fn parses_listen_counters() {
        assert_eq!(parse_listen_counters(SAMPLE).unwrap(), (7, 9));
    }

    #[test]
    fn missing_or_garbage_is_an_error_not_a_panic() {
        assert!(parse_listen_counters("").is_err());
        assert!(parse_listen_counters("TcpExt: ListenOverflows\n").is_err());
        assert!(
            parse_listen_counters("TcpExt: ListenOverflows ListenDrops\nTcpExt: x 1\n").is_err()
        );
        assert!(parse_listen_counters("IpExt: ListenOverflows ListenDrops\nIpExt: 1 2\n").is_err());
    }

    #[test]
    fn reads_this_namespace() {
        let (overflows, drops) = listen_counters().expect("/proc/net/netstat is readable");
        assert!(drops >= overflows, "ListenDrops counts overflows too");
    }
}
