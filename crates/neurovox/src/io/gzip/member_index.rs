//! The layout of neurovox's indexed gzip (docs/formats.md): the `NV` subfield in each data
//! member's header, the index members at the end of the file, and [`MemberIndex`], which
//! reads them back and checks them against the file.
//!
//! Both sides of the format live here so that the reader ([`super::reader`]) and the writer
//! ([`super::writer`]) depend on the format, not on each other.

use crate::error::{Error, Result};
use std::fs::File;
use std::io;
use std::path::Path;

/// The ID (SI1, SI2) of our gzip extra subfield.
pub const SUBFIELD_ID: [u8; 2] = *b"NV";
/// The layout version written in every subfield.
pub const LAYOUT_VERSION: u8 = 1;
/// Length of a data member's header: the fixed 10 bytes, XLEN, and one 14-byte subfield.
pub const MEMBER_HEADER_LEN: usize = 26;
/// Index entries per index member (the last one also holds the footer, and an extra field
/// holds at most 65535 bytes).
pub const MAX_INDEX_ENTRIES_PER_MEMBER: usize = 8186;
/// Bytes at the end of a file that locate its index: the footer and the last index member's
/// empty deflate body and trailer.
pub const TAIL_LEN: usize = FOOTER_LEN + EMPTY_BODY_AND_TRAILER.len();

/// The largest member index read: 24 bytes per member of about 1 MiB, so files of over
/// 2 TiB. A larger claim (from a remote server's size, say) is refused before allocating.
pub const MAX_INDEX_BYTES: u64 = 64 << 20;

/// Subfield kinds (the payload's second byte).
const KIND_DATA: u8 = 0;
const KIND_INDEX: u8 = 1;
const KIND_LAST_INDEX: u8 = 2;
/// Payload of a data member's subfield: version, kind, member length, uncompressed size.
const DATA_PAYLOAD_LEN: u16 = 10;
/// Payload bytes of an index subfield before its entries: version, kind, entry count.
const INDEX_PAYLOAD_HEAD: usize = 4;
/// One index entry: compressed member length and uncompressed size, u32 LE each.
const ENTRY_LEN: usize = 8;
/// The footer at the end of the last index member's payload.
const FOOTER_LEN: usize = 32;
const FOOTER_MAGIC: [u8; 4] = *b"NVIX";
/// An empty final fixed-Huffman deflate block, CRC32 = 0 and ISIZE = 0.
const EMPTY_BODY_AND_TRAILER: [u8; 10] = [0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0];
/// An index member's bytes around its payload: header (10), XLEN (2), subfield header (4),
/// body and trailer (10).
const INDEX_MEMBER_OVERHEAD: usize = 26;
/// The smallest data member: header, a 2-byte deflate stream, trailer.
const MIN_DATA_MEMBER_LEN: u32 = MEMBER_HEADER_LEN as u32 + 2 + 8;
/// DEFLATE's largest expansion factor (258-byte matches coded in 1 bit each, rounded up).
const MAX_DEFLATE_RATIO: u64 = 1032;
/// gzip's fixed header bytes as we write them: magic, CM = deflate, FLG = FEXTRA, MTIME = 0,
/// XFL = 0, OS = 255 (unknown).
const GZIP_HEAD: [u8; 10] = [0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 255];

/// A data member's header for a member of `member_len` bytes holding `size` bytes.
pub(crate) fn data_member_header(member_len: u32, size: u32) -> [u8; MEMBER_HEADER_LEN] {
    let mut h = [0u8; MEMBER_HEADER_LEN];
    h[..10].copy_from_slice(&GZIP_HEAD);
    h[10..12].copy_from_slice(&(4 + DATA_PAYLOAD_LEN).to_le_bytes());
    h[12..14].copy_from_slice(&SUBFIELD_ID);
    h[14..16].copy_from_slice(&DATA_PAYLOAD_LEN.to_le_bytes());
    h[16] = LAYOUT_VERSION;
    h[17] = KIND_DATA;
    h[18..22].copy_from_slice(&member_len.to_le_bytes());
    h[22..26].copy_from_slice(&size.to_le_bytes());
    h
}

/// True if `header` is the header of the data member `entry` describes. MTIME, XFL and OS
/// (bytes 4–9) are not compared.
pub(crate) fn member_header_matches(header: &[u8], entry: &MemberEntry) -> bool {
    let want = data_member_header(entry.len, entry.size);
    header.len() >= MEMBER_HEADER_LEN
        && header[..4] == want[..4]
        && header[10..MEMBER_HEADER_LEN] == want[10..]
}

/// Bytes of the index members for `count` data members.
pub(super) fn index_len(count: usize) -> u64 {
    let members = count.div_ceil(MAX_INDEX_ENTRIES_PER_MEMBER).max(1) as u64;
    members * INDEX_MEMBER_OVERHEAD as u64
        + members * INDEX_PAYLOAD_HEAD as u64
        + (count * ENTRY_LEN) as u64
        + FOOTER_LEN as u64
}

/// The index members for data members of `(compressed length, uncompressed size)`.
pub(super) fn encode_index(entries: &[(u32, u32)]) -> Vec<u8> {
    let total: u64 = entries.iter().map(|&(_, size)| u64::from(size)).sum();
    let total_len = index_len(entries.len());
    let mut crc = crc32fast::Hasher::new();
    let mut out = Vec::with_capacity(usize::try_from(total_len).unwrap_or(0));
    let groups: Vec<&[(u32, u32)]> = if entries.is_empty() {
        vec![&[]]
    } else {
        entries.chunks(MAX_INDEX_ENTRIES_PER_MEMBER).collect()
    };
    let last = groups.len() - 1;
    for (g, group) in groups.iter().enumerate() {
        let is_last = g == last;
        let payload =
            INDEX_PAYLOAD_HEAD + group.len() * ENTRY_LEN + if is_last { FOOTER_LEN } else { 0 };
        // Both fit: MAX_INDEX_ENTRIES_PER_MEMBER keeps XLEN <= 65535.
        let len = payload as u16;
        out.extend_from_slice(&GZIP_HEAD);
        out.extend_from_slice(&(len + 4).to_le_bytes());
        out.extend_from_slice(&SUBFIELD_ID);
        out.extend_from_slice(&len.to_le_bytes());
        out.push(LAYOUT_VERSION);
        out.push(if is_last { KIND_LAST_INDEX } else { KIND_INDEX });
        out.extend_from_slice(&(group.len() as u16).to_le_bytes());
        for &(member_len, size) in *group {
            let mut entry = [0u8; ENTRY_LEN];
            entry[..4].copy_from_slice(&member_len.to_le_bytes());
            entry[4..].copy_from_slice(&size.to_le_bytes());
            crc.update(&entry);
            out.extend_from_slice(&entry);
        }
        if is_last {
            out.extend_from_slice(&total.to_le_bytes());
            out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
            out.extend_from_slice(&total_len.to_le_bytes());
            out.extend_from_slice(&crc.clone().finalize().to_le_bytes());
            out.extend_from_slice(&FOOTER_MAGIC);
        }
        out.extend_from_slice(&EMPTY_BODY_AND_TRAILER);
    }
    debug_assert_eq!(out.len() as u64, total_len);
    out
}

// ------------------------------------------------------------------------------------------
// Reading the index back

/// One data member, as the index lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberEntry {
    /// Offset of the member's first byte in the file.
    pub offset: u64,
    /// The member's length in the file (header, deflate data, trailer).
    pub len: u32,
    /// Offset of the member's first decompressed byte in the decompressed stream.
    pub out: u64,
    /// The member's decompressed size.
    pub size: u32,
}

/// The member index at the end of a file written by
/// [`ParallelGzWriter`](super::writer::ParallelGzWriter), checked against
/// the file's length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberIndex {
    members: Vec<MemberEntry>,
    total: u64,
    index_offset: u64,
}

impl MemberIndex {
    /// Reads the index of the gzip file at `path`: `Ok(None)` if the file does not end with
    /// one, a Format error if it does but the index is inconsistent (see
    /// [`MemberIndex::read_from`]).
    ///
    /// ```
    /// use neurovox::io::gzip::{compress_to_vec, MemberIndex};
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("a.gz");
    /// std::fs::write(&path, compress_to_vec(&vec![1u8; 2_500_000], 2))?;
    /// let index = MemberIndex::open(&path)?.expect("written with an index");
    /// assert_eq!(index.total_size(), 2_500_000);
    /// assert_eq!(index.members().len(), 3);
    /// assert_eq!(index.members()[1].out, 1 << 20);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Option<Self>> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| Error::io(e).with_path(path))?;
        Self::read_from(&file).map_err(|e| e.with_path(path))
    }

    /// Reads the index at the end of `file` with two positioned reads (the last
    /// [`TAIL_LEN`] bytes, then the index members) and checks it strictly: the footer's
    /// magic, every index member's header, flags, subfield ID, version, kind and lengths,
    /// the entries' CRC32, the counts, and that the members exactly tile the file before the
    /// index. `Ok(None)` if the file does not end with our footer; a Format error (naming
    /// the byte) if it does but something does not hold.
    pub fn read_from(file: &File) -> Result<Option<Self>> {
        let file_len = file.metadata().map_err(Error::io)?.len();
        Self::read_with(file_len, |offset, buf| read_full_at(file, offset, buf))
    }

    /// [`MemberIndex::read_from`] for bytes read by `read_at` (which fills a buffer at an
    /// offset and says how much it filled) from a file of `file_len` bytes: a remote object,
    /// say, whose length a server gave. An index over [`MAX_INDEX_BYTES`] is a Limit error
    /// before anything is allocated for it.
    pub fn read_with(
        file_len: u64,
        mut read_at: impl FnMut(u64, &mut [u8]) -> Result<usize>,
    ) -> Result<Option<Self>> {
        if file_len < TAIL_LEN as u64 {
            return Ok(None);
        }
        let mut tail = [0u8; TAIL_LEN];
        let n = read_at(file_len - TAIL_LEN as u64, &mut tail)?;
        let Some(index_len) = Self::parse_tail(&tail[..n], file_len)? else {
            return Ok(None);
        };
        if index_len > MAX_INDEX_BYTES {
            return Err(Error::limit(format!(
                "the gzip member index claims {index_len} bytes, over the {MAX_INDEX_BYTES} \
                 this reader takes"
            )));
        }
        // parse_tail checked index_len <= file_len, and the cap bounds it.
        let start = file_len - index_len;
        let mut region = vec![0u8; usize::try_from(index_len).map_err(|_| too_big(index_len))?];
        if read_at(start, &mut region)? != region.len() {
            return Err(Error::format(
                "the file shrank while its gzip member index was read",
            ));
        }
        Self::parse(&region, file_len).map(Some)
    }

    /// From the file's last [`TAIL_LEN`] bytes: the length of the index (all index members),
    /// or `None` if the tail is not our footer.
    pub fn parse_tail(tail: &[u8], file_len: u64) -> Result<Option<u64>> {
        if tail.len() != TAIL_LEN
            || tail[FOOTER_LEN..] != EMPTY_BODY_AND_TRAILER
            || tail[FOOTER_LEN - 4..FOOTER_LEN] != FOOTER_MAGIC
        {
            return Ok(None);
        }
        let count = u64_at(tail, 8);
        let index_len = u64_at(tail, 16);
        let at = file_len.saturating_sub(TAIL_LEN as u64) + 16;
        let max_count = file_len / u64::from(MIN_DATA_MEMBER_LEN);
        if count > max_count {
            return Err(Error::format(format!(
                "the gzip member index lists {count} members, more than a file of \
                 {file_len} bytes can hold"
            ))
            .offset(at - 8));
        }
        let want = index_len_for(count);
        if index_len != want || index_len > file_len {
            return Err(Error::format(format!(
                "the gzip member index claims {index_len} bytes, but {count} members take \
                 {want} (and the file has {file_len})"
            ))
            .offset(at));
        }
        Ok(Some(index_len))
    }

    /// Parses the index members (`region`, the last bytes of a file of `file_len` bytes).
    pub fn parse(region: &[u8], file_len: u64) -> Result<Self> {
        let start = file_len
            .checked_sub(region.len() as u64)
            .ok_or_else(|| Error::format("the gzip member index is longer than the file"))?;
        let bad = |msg: String, at: usize| Error::format(msg).offset(start + at as u64);
        let mut pos = 0usize;
        let mut raw: Vec<(u32, u32)> = Vec::new();
        let mut crc = crc32fast::Hasher::new();
        let footer = loop {
            let member_start = pos;
            let head = region
                .get(pos..pos + 16)
                .ok_or_else(|| bad("the gzip member index is cut short".into(), pos))?;
            if head[..4] != GZIP_HEAD[..4] {
                return Err(bad(
                    format!(
                        "a gzip member index member starts {:02x?}, not 1f 8b 08 04 \
                         (gzip, deflate, FEXTRA only)",
                        &head[..4]
                    ),
                    pos,
                ));
            }
            let xlen = usize::from(u16::from_le_bytes([head[10], head[11]]));
            let len = usize::from(u16::from_le_bytes([head[14], head[15]]));
            if head[12..14] != SUBFIELD_ID || len + 4 != xlen {
                return Err(bad(
                    "a gzip member index member's extra field is not exactly one NV subfield"
                        .into(),
                    pos + 10,
                ));
            }
            let payload = region
                .get(pos + 16..pos + 16 + len)
                .ok_or_else(|| bad("the gzip member index is cut short".into(), pos))?;
            if len < INDEX_PAYLOAD_HEAD || payload[0] != LAYOUT_VERSION {
                return Err(bad(
                    format!(
                        "unknown gzip member index version {}",
                        payload.first().copied().unwrap_or(0)
                    ),
                    pos + 16,
                ));
            }
            let kind = payload[1];
            let n = usize::from(u16::from_le_bytes([payload[2], payload[3]]));
            let footer_len = match kind {
                KIND_INDEX => 0,
                KIND_LAST_INDEX => FOOTER_LEN,
                _ => {
                    return Err(bad(
                        format!("gzip member index member has kind {kind}, not 1 or 2"),
                        pos + 17,
                    ));
                }
            };
            if n > MAX_INDEX_ENTRIES_PER_MEMBER
                || len != INDEX_PAYLOAD_HEAD + n * ENTRY_LEN + footer_len
            {
                return Err(bad(
                    format!("a gzip member index member of {n} entries has a {len}-byte payload"),
                    pos + 14,
                ));
            }
            let entries = &payload[INDEX_PAYLOAD_HEAD..INDEX_PAYLOAD_HEAD + n * ENTRY_LEN];
            crc.update(entries);
            raw.extend(
                entries
                    .chunks_exact(ENTRY_LEN)
                    .map(|e| (u32_at(e, 0), u32_at(e, 4))),
            );
            pos += 16 + len;
            if region.get(pos..pos + EMPTY_BODY_AND_TRAILER.len()) != Some(&EMPTY_BODY_AND_TRAILER)
            {
                return Err(bad(
                    "a gzip member index member is not an empty member (03 00, CRC 0, size 0)"
                        .into(),
                    pos,
                ));
            }
            pos += EMPTY_BODY_AND_TRAILER.len();
            if kind == KIND_LAST_INDEX {
                break &payload[len - FOOTER_LEN..];
            }
            // Every index member but the last is full.
            if n != MAX_INDEX_ENTRIES_PER_MEMBER {
                return Err(bad(
                    format!("a gzip member index member before the last holds {n} entries"),
                    member_start + 18,
                ));
            }
        };
        if pos != region.len() {
            return Err(bad(
                "bytes follow the last gzip member index member".into(),
                pos,
            ));
        }
        let total = u64_at(footer, 0);
        let count = u64_at(footer, 8);
        let want_crc = u32_at(footer, 24);
        let got_crc = crc.finalize();
        if got_crc != want_crc {
            return Err(bad(
                format!(
                    "the CRC32 of the gzip member index entries is {got_crc:#010x}, the footer \
                     says {want_crc:#010x}: the index is corrupt"
                ),
                region.len() - TAIL_LEN + 24,
            ));
        }
        if count != raw.len() as u64 {
            return Err(bad(
                format!(
                    "the gzip member index footer counts {count} members, the index lists {}",
                    raw.len()
                ),
                region.len() - TAIL_LEN + 8,
            ));
        }
        let mut members = Vec::with_capacity(raw.len());
        let (mut offset, mut out) = (0u64, 0u64);
        let full_member =
            INDEX_MEMBER_OVERHEAD + INDEX_PAYLOAD_HEAD + MAX_INDEX_ENTRIES_PER_MEMBER * ENTRY_LEN;
        for (i, &(len, size)) in raw.iter().enumerate() {
            if len < MIN_DATA_MEMBER_LEN
                || size == 0
                || u64::from(size) > u64::from(len) * MAX_DEFLATE_RATIO
            {
                let (g, k) = (
                    i / MAX_INDEX_ENTRIES_PER_MEMBER,
                    i % MAX_INDEX_ENTRIES_PER_MEMBER,
                );
                let at = g * full_member + 16 + INDEX_PAYLOAD_HEAD + k * ENTRY_LEN;
                return Err(Error::format(format!(
                    "gzip member index entry {i} ({len} bytes holding {size}) is impossible"
                ))
                .offset(start + at as u64));
            }
            members.push(MemberEntry {
                offset,
                len,
                out,
                size,
            });
            offset += u64::from(len);
            out += u64::from(size);
        }
        if offset != start {
            return Err(Error::format(format!(
                "the gzip members in the index end at byte {offset}, but the index starts at \
                 byte {start}"
            ))
            .offset(start));
        }
        if out != total {
            return Err(Error::format(format!(
                "the gzip member index's sizes add up to {out}, the footer says {total}"
            ))
            .offset(file_len - TAIL_LEN as u64));
        }
        Ok(MemberIndex {
            members,
            total,
            index_offset: start,
        })
    }

    /// The data members, in file order.
    pub fn members(&self) -> &[MemberEntry] {
        &self.members
    }

    /// The decompressed size of the whole stream.
    pub fn total_size(&self) -> u64 {
        self.total
    }

    /// Where the index members begin (the length of the data members).
    pub fn index_offset(&self) -> u64 {
        self.index_offset
    }

    /// The member holding decompressed byte `out`, if `out` is below the total.
    pub fn member_at(&self, out: u64) -> Option<usize> {
        if out >= self.total {
            return None;
        }
        self.members
            .partition_point(|m| m.out <= out)
            .checked_sub(1)
    }
}

/// Bytes of the index members for `count` data members (0 if `count` is absurd).
fn index_len_for(count: u64) -> u64 {
    usize::try_from(count)
        .ok()
        .filter(|&c| c <= usize::MAX / ENTRY_LEN)
        .map_or(0, index_len)
}

fn too_big(n: u64) -> Error {
    Error::limit(format!("{n} bytes do not fit in memory on this platform"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads up to `buf.len()` bytes at `offset`; fewer only at the end of the file.
fn read_full_at(file: &File, offset: u64, buf: &mut [u8]) -> Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], offset + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(e)),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_claim_over_the_cap_is_a_limit_error_before_any_allocation() {
        // A footer as a server might send for an object it says is 1 TB: a consistent count
        // and length, both far over what a reader should allocate on the strength of them.
        let file_len: u64 = 1 << 40;
        let count: u64 = 50_000_000;
        let mut tail = vec![0u8; TAIL_LEN];
        tail[8..16].copy_from_slice(&count.to_le_bytes());
        tail[16..24].copy_from_slice(&index_len_for(count).to_le_bytes());
        tail[FOOTER_LEN - 4..FOOTER_LEN].copy_from_slice(&FOOTER_MAGIC);
        tail[FOOTER_LEN..].copy_from_slice(&EMPTY_BODY_AND_TRAILER);
        assert!(index_len_for(count) > MAX_INDEX_BYTES);
        let e = MemberIndex::read_with(file_len, |offset, buf| {
            assert_eq!(offset, file_len - TAIL_LEN as u64, "only the tail is read");
            buf.copy_from_slice(&tail);
            Ok(buf.len())
        })
        .unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Limit, "{e}");
    }
}
