//! Packet capture.
