//! The persistent stat cache: path → (size, mtime, ctime, inode, hash), one file per project
//! root, read on every run (so it is a flat binary format, not JSON) and trusted only as far
//! as git's racy-timestamp rule allows.
//!
//! # Format (all integers little-endian)
//!
//! ```text
//! magic "FRGSTAT\n" | version u32 | trust_before_ns i64 | count u32
//! count × { path_len u32 | path | size u64 | mtime_ns i64 | ctime_ns i64 | ino u64 | flags u8 | blake3 [32] }
//! checksum: blake3 of everything above [32]
//! ```
//!
//! Entries are sorted by path, so loading merges them with the (sorted) walk in one pass.
//! A file with the wrong magic, version or checksum is discarded whole: everything is
//! rehashed, nothing is trusted.
//!
//! # The racy-timestamp rule
//!
//! A hash recorded for a file is trustworthy only if the file could not have changed in the
//! same timestamp tick after it was read. As in git, an entry whose mtime is not strictly
//! older than the cache file's own write time is re-hashed. forge also records
//! `trust_before_ns` (the run's start, less a margin for the kernel's coarse clock) and uses
//! whichever is earlier; and on filesystems with whole-second timestamps (mtime with zero
//! nanoseconds) an entry must be two seconds older still.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::walk::FileMeta;

const MAGIC: &[u8; 8] = b"FRGSTAT\n";
/// Bump when the layout above, or what an entry means, changes; old caches are then
/// discarded. 2: a link to a file inside the root hashes that file's content too, with
/// that file's metadata.
pub(crate) const VERSION: u32 = 2;
const HEADER: usize = 8 + 4 + 8 + 4;
const ENTRY_FIXED: usize = 4 + 8 + 8 + 8 + 8 + 1 + 32;

/// How far the filesystem clock may lag the system clock (Linux stamps files from a coarse
/// clock that is up to one scheduler tick behind).
pub(crate) const CLOCK_MARGIN_NS: i64 = 50_000_000;
/// Extra age required on filesystems that only keep whole seconds (FAT keeps two).
const COARSE_MARGIN_NS: i64 = 2_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry<'a> {
    pub path: &'a str,
    pub meta: FileMeta,
    pub hash: [u8; 32],
}

/// Whether a hash recorded for a file with this mtime may be trusted, given the latest
/// moment (nanoseconds since the epoch) before which changes are known to have been seen.
pub(crate) fn is_racy(mtime_ns: i64, trust_before_ns: i64) -> bool {
    let effective = if mtime_ns % 1_000_000_000 == 0 {
        mtime_ns.saturating_add(COARSE_MARGIN_NS)
    } else {
        mtime_ns
    };
    effective >= trust_before_ns
}

pub(crate) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

pub(crate) fn encode<'a>(
    trust_before_ns: i64,
    entries: impl ExactSizeIterator<Item = (&'a str, &'a FileMeta, &'a [u8; 32])>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + entries.len() * (ENTRY_FIXED + 48) + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&trust_before_ns.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for (path, meta, hash) in entries {
        out.extend_from_slice(&(path.len() as u32).to_le_bytes());
        out.extend_from_slice(path.as_bytes());
        out.extend_from_slice(&meta.size.to_le_bytes());
        out.extend_from_slice(&meta.mtime_ns.to_le_bytes());
        out.extend_from_slice(&meta.ctime_ns.to_le_bytes());
        out.extend_from_slice(&meta.ino.to_le_bytes());
        out.push(u8::from(meta.symlink));
        out.extend_from_slice(hash);
    }
    let sum = blake3::hash(&out);
    out.extend_from_slice(sum.as_bytes());
    out
}

/// A decoded cache: the entries (borrowing the file's bytes: no allocation per path, this
/// is on the no-op path) and the time before which their mtimes must lie.
#[derive(Debug)]
pub(crate) struct Decoded<'a> {
    pub trust_before_ns: i64,
    pub entries: Vec<Entry<'a>>,
}

/// Decodes a cache file, or `None` if it is not one this version wrote intact.
pub(crate) fn decode(bytes: &[u8]) -> Option<Decoded<'_>> {
    let body_len = bytes.len().checked_sub(32)?;
    let (body, sum) = bytes.split_at(body_len);
    if body.len() < HEADER || &body[..8] != MAGIC || blake3::hash(body).as_bytes() != sum {
        return None;
    }
    let mut r = Reader { buf: body, pos: 8 };
    if r.u32()? != VERSION {
        return None;
    }
    let trust_before_ns = r.i64()?;
    let count = r.u32()? as usize;
    // The count is checksummed, but cap the allocation by what the bytes can hold anyway.
    let mut entries = Vec::with_capacity(count.min(body.len() / ENTRY_FIXED));
    for _ in 0..count {
        let len = r.u32()? as usize;
        let path = std::str::from_utf8(r.take(len)?).ok()?;
        let meta = FileMeta {
            size: r.u64()?,
            mtime_ns: r.i64()?,
            ctime_ns: r.i64()?,
            ino: r.u64()?,
            symlink: r.take(1)?[0] != 0,
        };
        let hash: [u8; 32] = r.take(32)?.try_into().ok()?;
        entries.push(Entry { path, meta, hash });
    }
    (r.pos == body.len()).then_some(Decoded {
        trust_before_ns,
        entries,
    })
}

/// Reads the cache file at `path` and its write time (mtime, ns). Missing or unreadable →
/// `None` (and the caller rehashes). Decode with [`decode`]; trust entries only if they are
/// older than the earlier of the write time and the recorded `trust_before_ns`.
pub(crate) fn read(path: &Path) -> Option<(Vec<u8>, i64)> {
    let mut file = std::fs::File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::io::Read::read_to_end(&mut file, &mut bytes).ok()?;
    Some((bytes, FileMeta::from_metadata(&meta).mtime_ns))
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATHS: [&str; 3] = ["dir/file0.rs", "dir/file1.rs", "dir/file2.rs"];

    fn entries() -> Vec<Entry<'static>> {
        (0..3)
            .map(|i| Entry {
                path: PATHS[i as usize],
                meta: FileMeta {
                    size: i,
                    mtime_ns: 1_700_000_000_123_456_789 + i as i64,
                    ctime_ns: 5,
                    ino: 42 + i,
                    symlink: i == 2,
                },
                hash: [i as u8; 32],
            })
            .collect()
    }

    fn encoded() -> Vec<u8> {
        let e = entries();
        encode(99, e.iter().map(|e| (e.path, &e.meta, &e.hash)))
    }

    #[test]
    fn round_trips() {
        let bytes = encoded();
        let d = decode(&bytes).expect("decodes");
        assert_eq!(d.trust_before_ns, 99);
        assert_eq!(d.entries, entries());
    }

    #[test]
    fn any_flipped_or_missing_byte_is_rejected() {
        let good = encoded();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x40;
            assert!(decode(&bad).is_none(), "flipped byte {i} accepted");
        }
        for len in 0..good.len() {
            assert!(
                decode(&good[..len]).is_none(),
                "truncation to {len} accepted"
            );
        }
    }

    #[test]
    fn racy_rule() {
        let t = 1_700_000_000_500_000_000;
        assert!(!is_racy(t - 1, t));
        assert!(is_racy(t, t), "same tick as the cache write is racy");
        assert!(is_racy(t + 1, t));
        // whole-second filesystems need two more seconds of age
        assert!(is_racy(1_700_000_000_000_000_000, t));
        assert!(!is_racy(1_699_999_998_000_000_000, t));
    }
}
