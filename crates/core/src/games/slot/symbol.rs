//! Symbols: [`SymbolId`], a symbol's name held inline so outcomes allocate nothing, and
//! [`Sym`], its index in the game's symbol list, which the hot paths use.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest symbol id: ids travel in every outcome sent to players.
pub const MAX_SYMBOL_ID_LEN: usize = 16;

/// Symbols are indexed by their position in `symbols` in the hot paths.
pub(crate) type Sym = u8;

/// A symbol id held inline (ids are at most [`MAX_SYMBOL_ID_LEN`] bytes), so building an
/// outcome allocates no strings. Serialised as a plain JSON string.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SymbolId {
    len: u8,
    bytes: [u8; MAX_SYMBOL_ID_LEN],
}

impl SymbolId {
    /// `None` if `id` is longer than [`MAX_SYMBOL_ID_LEN`] bytes.
    pub fn new(id: &str) -> Option<SymbolId> {
        if id.len() > MAX_SYMBOL_ID_LEN {
            return None;
        }
        let mut bytes = [0u8; MAX_SYMBOL_ID_LEN];
        bytes[..id.len()].copy_from_slice(id.as_bytes());
        Some(SymbolId {
            len: id.len() as u8,
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        // Built from a whole `&str`, so the bytes are valid UTF-8.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or_default()
    }
}

impl std::ops::Deref for SymbolId {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for SymbolId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SymbolId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for SymbolId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SymbolId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for SymbolId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SymbolId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        SymbolId::new(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "symbol id {text:?} is longer than {MAX_SYMBOL_ID_LEN} bytes"
            ))
        })
    }
}
