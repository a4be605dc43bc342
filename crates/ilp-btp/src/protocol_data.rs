//! ProtocolData: the ordered, named entries every BTP frame carries.

use bytes::{BufMut, Bytes};
use ilp_packet::oer::{self, Reader};

use crate::DecodeError;

/// The content type of a [`ProtocolEntry`] (a UInt8). Values without a const are kept and
/// written back unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct ContentType(pub u8);

impl ContentType {
    /// 0: `application/octet-stream` (binary, such as an ILP packet).
    pub const OCTET_STREAM: Self = Self(0);
    /// 1: `text/plain; charset=utf-8`.
    pub const TEXT_PLAIN_UTF8: Self = Self(1);
    /// 2: `application/json`.
    pub const APPLICATION_JSON: Self = Self(2);
}

/// One entry of [`ProtocolData`]: a subprotocol name (IA5), a content type and the data.
///
/// In a decoded frame the name and data are views of the frame's buffer (nothing is copied).
///
/// ```
/// use ilp_btp::{ContentType, ProtocolEntry};
///
/// let entry = ProtocolEntry::new("auth_token", ContentType::TEXT_PLAIN_UTF8, "secret")?;
/// assert_eq!(entry.name(), "auth_token");
/// assert_eq!(entry.as_str(), Some("secret"));
/// assert!(ProtocolEntry::new("jeton_é", ContentType::OCTET_STREAM, "").is_err());
/// # Ok::<(), ilp_btp::DecodeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProtocolEntry {
    name: Bytes,
    content_type: ContentType,
    data: Bytes,
}

impl ProtocolEntry {
    /// An entry; [`DecodeError::NotAscii`] (`protocolName`) when the name is not IA5 (ASCII).
    pub fn new(
        name: impl Into<Bytes>,
        content_type: ContentType,
        data: impl Into<Bytes>,
    ) -> Result<Self, DecodeError> {
        let name = name.into();
        DecodeError::check_ascii("protocolName", &name)?;
        Ok(Self {
            name,
            content_type,
            data: data.into(),
        })
    }

    /// An entry whose name is a literal known to be ASCII.
    pub(crate) fn from_static(name: &'static str, content_type: ContentType, data: Bytes) -> Self {
        debug_assert!(name.is_ascii());
        Self {
            name: Bytes::from_static(name.as_bytes()),
            content_type,
            data,
        }
    }

    /// The subprotocol name.
    #[must_use]
    pub fn name(&self) -> &str {
        std::str::from_utf8(&self.name).expect("ASCII is checked on construction")
    }

    /// The content type.
    #[must_use]
    pub const fn content_type(&self) -> ContentType {
        self.content_type
    }

    /// The data (a view of the frame's buffer when decoded; clone it to keep it, copying nothing).
    #[must_use]
    pub const fn data(&self) -> &Bytes {
        &self.data
    }

    /// The data as text, when it is UTF-8 (whatever the content type says).
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.data).ok()
    }

    fn encoded_len(&self) -> usize {
        oer::var_octets_len(self.name.len()) + 1 + oer::var_octets_len(self.data.len())
    }
}

/// The ordered entries of a frame. Entry 0 is the *primary* subprotocol, which decides what the
/// frame asks for; the others are side data. Names should be unique; when they are not,
/// [`ProtocolData::get`] finds the first.
///
/// ```
/// use ilp_btp::{ContentType, ProtocolData, ProtocolEntry};
///
/// let data: ProtocolData = [
///     ProtocolEntry::new("ilp", ContentType::OCTET_STREAM, &b"\x0d\x00"[..])?,
///     ProtocolEntry::new("note", ContentType::TEXT_PLAIN_UTF8, "hi")?,
/// ]
/// .into_iter()
/// .collect();
/// assert_eq!(data.primary().map(|e| e.name()), Some("ilp"));
/// assert_eq!(data.get("note").and_then(|e| e.as_str()), Some("hi"));
/// assert!(data.get("auth").is_none());
/// # Ok::<(), ilp_btp::DecodeError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ProtocolData(Vec<ProtocolEntry>);

impl ProtocolData {
    /// No entries (encoded `01 00`).
    #[must_use]
    pub const fn new() -> Self {
        Self(Vec::new())
    }

    /// Appends an entry.
    pub fn push(&mut self, entry: ProtocolEntry) {
        self.0.push(entry);
    }

    /// The first entry named `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&ProtocolEntry> {
        self.0.iter().find(|e| e.name == name.as_bytes())
    }

    /// The primary entry (the first one).
    #[must_use]
    pub fn primary(&self) -> Option<&ProtocolEntry> {
        self.0.first()
    }

    /// The entries in order.
    #[must_use]
    pub fn entries(&self) -> &[ProtocolEntry] {
        &self.0
    }

    /// The entries in order.
    pub fn iter(&self) -> std::slice::Iter<'_, ProtocolEntry> {
        self.0.iter()
    }

    /// The number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn encoded_len(&self) -> usize {
        let entries: usize = self.0.iter().map(ProtocolEntry::encoded_len).sum();
        oer::var_uint_len(self.0.len() as u64) + entries
    }

    pub(crate) fn write(&self, buf: &mut impl BufMut) {
        oer::put_var_uint(buf, self.0.len() as u64);
        for e in &self.0 {
            oer::put_var_octets(buf, &e.name);
            buf.put_u8(e.content_type.0);
            oer::put_var_octets(buf, &e.data);
        }
    }

    /// Reads ProtocolData from `r`, which reads inside `buf`; the entries are views of `buf`.
    ///
    /// The count is not trusted for allocation: entries are pushed one by one, and each takes at
    /// least 3 input bytes, so memory stays within a constant factor of the input.
    pub(crate) fn read(buf: &Bytes, r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let count = r.read_var_uint("protocolData")?;
        let mut entries = Vec::new();
        for _ in 0..count {
            let name = r.read_var_octets("protocolName")?;
            DecodeError::check_ascii("protocolName", name)?;
            let content_type = ContentType(r.read_u8("contentType")?);
            let data = r.read_var_octets("protocolData.data")?;
            entries.push(ProtocolEntry {
                name: buf.slice_ref(name),
                content_type,
                data: buf.slice_ref(data),
            });
        }
        Ok(Self(entries))
    }
}

impl FromIterator<ProtocolEntry> for ProtocolData {
    fn from_iter<I: IntoIterator<Item = ProtocolEntry>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl From<Vec<ProtocolEntry>> for ProtocolData {
    fn from(entries: Vec<ProtocolEntry>) -> Self {
        Self(entries)
    }
}

impl IntoIterator for ProtocolData {
    type Item = ProtocolEntry;
    type IntoIter = std::vec::IntoIter<ProtocolEntry>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a ProtocolData {
    type Item = &'a ProtocolEntry;
    type IntoIter = std::slice::Iter<'a, ProtocolEntry>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
