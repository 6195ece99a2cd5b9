//! Pair ids, shards and per-pair seeds, all cut by FNV-1a 64 over the id's bytes.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use serde::{Serialize, Serializer};

/// FNV-1a 64-bit hash of `bytes`: stable across machines, platforms and releases.
///
/// ```
/// assert_eq!(imgdist::batch::fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
/// assert_eq!(imgdist::batch::fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
/// ```
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    fnv1a64_extend(0xcbf2_9ce4_8422_2325, bytes)
}

fn fnv1a64_extend(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The `sliced` seed of one pair: FNV-1a 64 over the 8 little-endian bytes of `seed` followed
/// by the UTF-8 bytes of the pair id.
pub fn pair_seed(seed: u64, id: &str) -> u64 {
    fnv1a64_extend(fnv1a64(&seed.to_le_bytes()), id.as_bytes())
}

/// One part of a run split `count` ways: the pairs whose id hashes to `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which part, `0 ≤ index < count`.
    pub index: u64,
    /// How many parts.
    pub count: u64,
}

impl Shard {
    /// True when the pair with this id belongs to the shard: `fnv1a64(id) mod count == index`.
    pub fn contains(&self, id: &str) -> bool {
        fnv1a64(id.as_bytes()) % self.count == self.index
    }

    /// As [`Shard::contains`], for an id as a plan holds it.
    pub fn contains_id(&self, id: PairId<'_>) -> bool {
        id.fnv1a64() % self.count == self.index
    }
}

impl FromStr for Shard {
    type Err = Error;

    /// Parses `K/N` with `0 ≤ K < N`.
    fn from_str(s: &str) -> Result<Shard> {
        let bad = |reason: String| Error::InvalidParameter {
            name: "--shard",
            reason,
        };
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| bad(format!("'{s}': expected K/N, e.g. 0/4")))?;
        let parse = |v: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| bad(format!("'{s}': '{v}' is not a whole number")))
        };
        let (index, count) = (parse(k)?, parse(n)?);
        if count == 0 || index >= count {
            return Err(bad(format!(
                "'{s}': need 0 ≤ K < N (shards are numbered from 0)"
            )));
        }
        Ok(Shard { index, count })
    }
}
/// A pair's id as a [`Plan`](super::Plan) holds it: an id of its own, or the default `A|B` kept as its two
/// paths. It hashes, compares and writes as the string it stands for, without building it.
///
/// ```
/// use imgdist::batch::{PairId, fnv1a64, pair_seed};
/// let id = PairId::Joined("x.png", "y.png");
/// assert_eq!(id, PairId::Given("x.png|y.png"));
/// assert_eq!(id.to_string(), "x.png|y.png");
/// assert_eq!(id.fnv1a64(), fnv1a64(b"x.png|y.png"));
/// assert_eq!(id.seed(7), pair_seed(7, "x.png|y.png"));
/// ```
#[derive(Debug, Clone, Copy)]
pub enum PairId<'p> {
    /// An id given in a manifest.
    Given(&'p str),
    /// The default id: path A, `|`, path B.
    Joined(&'p str, &'p str),
}

impl<'p> PairId<'p> {
    /// The pieces whose concatenation is the id.
    fn parts(self) -> [&'p str; 3] {
        match self {
            PairId::Given(id) => [id, "", ""],
            PairId::Joined(a, b) => [a, "|", b],
        }
    }

    /// [`fnv1a64`] of the id's UTF-8 bytes (what [`Shard`]s are cut by).
    pub fn fnv1a64(self) -> u64 {
        self.fold_fnv(fnv1a64(b""))
    }

    /// The pair's `sliced` seed: [`pair_seed`]`(seed, id)`.
    pub fn seed(self, seed: u64) -> u64 {
        self.fold_fnv(fnv1a64(&seed.to_le_bytes()))
    }

    fn fold_fnv(self, hash: u64) -> u64 {
        self.parts()
            .iter()
            .fold(hash, |h, part| fnv1a64_extend(h, part.as_bytes()))
    }

    /// The id as a string: borrowed when given, built when joined.
    pub fn to_cow(self) -> Cow<'p, str> {
        match self {
            PairId::Given(id) => Cow::Borrowed(id),
            PairId::Joined(..) => Cow::Owned(self.to_string()),
        }
    }

    /// Replaces the contents of `buf` with the id (to look ids up without a new allocation
    /// each).
    pub fn write_into(self, buf: &mut String) {
        buf.clear();
        for part in self.parts() {
            buf.push_str(part);
        }
    }
}

/// The id as one string, written part by part (no joined copy is built).
impl Serialize for PairId<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for PairId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.parts().iter().try_for_each(|part| f.write_str(part))
    }
}

impl PartialEq for PairId<'_> {
    /// Equal when they stand for the same string, however they are held.
    fn eq(&self, other: &Self) -> bool {
        let (x, y) = (self.parts(), other.parts());
        let len = |p: &[&str; 3]| p.iter().map(|s| s.len()).sum::<usize>();
        len(&x) == len(&y)
            && x.iter()
                .flat_map(|s| s.bytes())
                .eq(y.iter().flat_map(|s| s.bytes()))
    }
}

impl Eq for PairId<'_> {}

impl PartialEq<str> for PairId<'_> {
    fn eq(&self, other: &str) -> bool {
        *self == PairId::Given(other)
    }
}

impl PartialEq<&str> for PairId<'_> {
    fn eq(&self, other: &&str) -> bool {
        *self == PairId::Given(other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_published_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        assert_ne!(pair_seed(0, "a|b"), pair_seed(1, "a|b"));
        assert_ne!(pair_seed(0, "a|b"), pair_seed(0, "b|a"));
    }

    #[test]
    fn shards_partition_the_ids() {
        let ids: Vec<String> = (0..500).map(|i| format!("p{i}")).collect();
        let shards: Vec<Shard> = (0..7).map(|k| format!("{k}/7").parse().unwrap()).collect();
        for id in &ids {
            assert_eq!(shards.iter().filter(|s| s.contains(id)).count(), 1, "{id}");
        }
        for s in &shards {
            let n = ids.iter().filter(|id| s.contains(id)).count();
            assert!(n > 30, "shard {s:?} holds only {n} of 500");
        }
        for bad in ["3/3", "1", "a/2", "0/0", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
    #[test]
    fn pair_ids_hash_compare_and_write_as_their_strings() {
        let cases = [
            PairId::Joined("dir/a.png", "dir/b.png"),
            PairId::Given("dir/a.png|dir/b.png"),
            PairId::Joined("a|b", "c"),
            PairId::Joined("", ""),
            PairId::Given(""),
            PairId::Joined("q\"uote\\", "tab\t\u{1}é"),
            PairId::Given("k"),
        ];
        for id in cases {
            let text = match id {
                PairId::Given(s) => s.to_string(),
                PairId::Joined(a, b) => format!("{a}|{b}"),
            };
            assert_eq!(id.to_string(), text);
            assert_eq!(id.to_cow(), text);
            assert_eq!(id.fnv1a64(), fnv1a64(text.as_bytes()), "{text}");
            assert_eq!(id.seed(42), pair_seed(42, &text), "{text}");
            let mut buf = "left over".to_string();
            id.write_into(&mut buf);
            assert_eq!(buf, text);
            let json = serde_json::to_vec(&id).unwrap();
            assert_eq!(json, serde_json::to_vec(&text).unwrap(), "{text}");
            for shard in (0..5).map(|index| Shard { index, count: 5 }) {
                assert_eq!(shard.contains_id(id), shard.contains(&text), "{text}");
            }
            for other in cases {
                assert_eq!(id == other, text == other.to_string(), "{id:?} {other:?}");
            }
            assert!(id == *text.as_str() && id == text.as_str());
            assert!(id != *format!("{text}x").as_str());
        }
        // Same length, same pieces elsewhere: compared byte by byte.
        assert_ne!(PairId::Joined("ab", "c"), PairId::Joined("a", "bc"));
        assert_eq!(PairId::Joined("a|b", "c"), PairId::Joined("a", "b|c"));
    }
}
