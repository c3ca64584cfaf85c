//! Frames read together, kept as bytes until the loop takes them.
//!
//! Between the capture thread and the run loop a packet waits as its
//! captured bytes (at most the snap length) and a 24-byte header, all of a
//! batch's frames in two buffers: ~100 bytes a packet under a loopback
//! flood, where a parsed segment with its boxes and queue slot is ~400 and
//! two allocations freed on another thread. The loop parses each frame when
//! it takes the batch, just before the reorder window.

use super::Frame;
use crate::tcp::LinkType;
use crate::time::Timestamp;

/// One frame's place in the batch's bytes and what the bytes don't say.
#[derive(Clone, Copy, Debug)]
struct Meta {
    ts: Timestamp,
    /// Where its bytes end (they start where the previous frame's end).
    end: u32,
    orig_len: u32,
    link: LinkType,
}

/// Frames in the order they were read, with whether the view keeps each
/// packet's bytes (the screen's details and hex dump, `--record`).
#[derive(Clone, Debug, Default)]
pub struct Frames {
    bytes: Vec<u8>,
    meta: Vec<Meta>,
    keep_bytes: bool,
}

impl Frames {
    /// An empty batch with room for `frames` frames of `bytes_each` bytes
    /// on average.
    #[must_use]
    pub fn with_capacity(frames: usize, bytes_each: usize, keep_bytes: bool) -> Self {
        Self {
            bytes: Vec::with_capacity(frames * bytes_each),
            meta: Vec::with_capacity(frames),
            keep_bytes,
        }
    }

    /// Copies a frame in.
    ///
    /// # Panics
    /// Never for a capture's frames (snap length ≤ 256 KB): the batch's
    /// bytes would have to pass 4 GB.
    pub fn push(&mut self, frame: &Frame<'_>) {
        self.bytes.extend_from_slice(frame.data);
        self.meta.push(Meta {
            ts: frame.ts,
            end: u32::try_from(self.bytes.len()).expect("a batch of frames under 4 GB"),
            orig_len: frame.orig_len,
            link: frame.link,
        });
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.meta.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    #[must_use]
    pub fn keep_bytes(&self) -> bool {
        self.keep_bytes
    }

    /// Gives back what a batch sent before it was full did not use (a quiet
    /// capture sends a few frames at a time; they may wait a while).
    pub fn trim(&mut self) {
        if self.bytes.len() < self.bytes.capacity() / 2 {
            self.bytes.shrink_to_fit();
            self.meta.shrink_to_fit();
        }
    }

    /// The frames, in the order they were pushed.
    pub fn iter(&self) -> impl Iterator<Item = Frame<'_>> {
        let mut start = 0usize;
        self.meta.iter().map(move |m| {
            let end = m.end as usize;
            let data = &self.bytes[start..end];
            start = end;
            Frame {
                link: m.link,
                ts: m.ts,
                data,
                orig_len: m.orig_len,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_back_as_they_went_in() {
        let datas: Vec<Vec<u8>> = (0..300u32)
            .map(|i| (0..(i * 7 % 257)).map(|b| (b ^ i) as u8).collect())
            .collect();
        let frames: Vec<Frame<'_>> = datas
            .iter()
            .enumerate()
            .map(|(i, d)| Frame {
                link: LinkType::ALL[i % LinkType::ALL.len()],
                ts: Timestamp(1_000 + i as u64 * 3),
                data: d,
                orig_len: d.len() as u32 + (i as u32 % 5) * 1000,
            })
            .collect();
        let mut batch = Frames::with_capacity(16, 8, true);
        for f in &frames {
            batch.push(f);
        }
        assert_eq!(batch.len(), frames.len());
        assert!(batch.keep_bytes());
        batch.trim();
        let back: Vec<Frame<'_>> = batch.iter().collect();
        assert_eq!(back, frames);
    }

    #[test]
    fn a_batch_sent_early_gives_back_its_room() {
        let data = [1u8; 66];
        let mut batch = Frames::with_capacity(512, 100, false);
        batch.push(&Frame {
            link: LinkType::Ethernet,
            ts: Timestamp(5),
            data: &data,
            orig_len: 66,
        });
        batch.trim();
        assert!(batch.bytes.capacity() < 1024, "{}", batch.bytes.capacity());
        assert_eq!(batch.iter().next().map(|f| f.data.len()), Some(66));
        assert!(batch.iter().nth(1).is_none());
        assert!(!Frames::default().keep_bytes() && Frames::default().is_empty());
    }
}
