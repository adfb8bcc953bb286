//! Requests too large to hold as one JSON value: a `kv_sync`/`sync` of a million keys is a
//! 30 MB message that becomes about 700 MB as a [`serde_json::Value`]. [`LargeRequest::read`]
//! parses the envelope as a stream and keeps its `request.kvs` object in [`SortedPairs`]:
//! sorted in runs of at most [`RUN_BYTES`] in memory, spilled to a temporary file and merged
//! back, so memory does not grow with the key count. A handler answers it through
//! [`RequestHandler::handle_large`](crate::RequestHandler::handle_large) and may answer with a
//! [`SpooledResponse`] (in a [`crate::Answer`]) (memory up to [`SPOOL_BYTES`], then a temporary file).
//!
//! The JSON is read as [`crate::wire::loads`] reads it (orjson's nesting limit of
//! [`MAX_JSON_DEPTH`], the last of duplicate keys wins); each e_tag as [`WireInt`] reads it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::os::unix::fs::FileExt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::wire::{MAX_JSON_DEPTH, RequestEnvelope, WireInt, lax_int};

/// Bytes of pairs sorted in memory before they are spilled as one run (4 MiB; a pair costs
/// its key's length plus 56 bytes).
pub const RUN_BYTES: usize = 2 << 20;
/// What one pair costs in memory beyond its key's bytes (the `String`, the e_tag, the vector
/// slot).
const PAIR_OVERHEAD: usize = 56;
/// Bytes read ahead from each spilled run while merging.
const RUN_READ_AHEAD: usize = 64 << 10;
/// Bytes of a [`SpooledResponse`] kept in memory before it moves to a temporary file (4 MiB).
pub const SPOOL_BYTES: usize = 1 << 20;

/// One key of a sync and its e_tag (`None`: `null`).
pub type Pair = (String, Option<WireInt>);

/// A reader that refuses JSON nested deeper than [`MAX_JSON_DEPTH`] (orjson's limit) as it
/// passes the bytes on, so a streamed parse needs no pass of its own over the text.
struct DepthLimited<R> {
    inner: R,
    depth: usize,
    in_string: bool,
    escaped: bool,
}

impl<R: Read> Read for DepthLimited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'[' | b'{' => {
                    self.depth += 1;
                    if self.depth > MAX_JSON_DEPTH {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!(
                                "depth limit exceeded: more than {MAX_JSON_DEPTH} nested arrays or objects"
                            ),
                        ));
                    }
                }
                b']' | b'}' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
        }
        Ok(n)
    }
}

/// Collects pairs in any order and gives them back sorted by key (byte order), the last of
/// equal keys winning, in bounded memory.
/// What a key of `kvs` holds: `null`, an e_tag, or a value that is no e_tag (its JSON text,
/// so the request can be put back together; refused only if it is the key's last value).
#[derive(Clone, Debug, PartialEq)]
enum Tag {
    Null,
    Int(WireInt),
    Invalid(String),
}

#[derive(Default)]
struct PairSorter {
    buffer: Vec<(String, Tag)>,
    buffered_bytes: usize,
    saw_invalid: bool,
    spill: Option<Spill>,
}

/// Runs written to one temporary file: each run's start and end offsets.
struct Spill {
    file: BufWriter<std::fs::File>,
    runs: Vec<(u64, u64)>,
    written: u64,
}

impl PairSorter {
    fn push(&mut self, key: String, tag: Tag) -> io::Result<()> {
        self.buffered_bytes += key.len() + PAIR_OVERHEAD;
        if let Tag::Invalid(text) = &tag {
            self.buffered_bytes += text.len();
            self.saw_invalid = true;
        }
        self.buffer.push((key, tag));
        if self.buffered_bytes >= RUN_BYTES {
            self.spill_run()?;
        }
        Ok(())
    }

    /// Sorts the buffer (stably: equal keys keep their order) and appends it as a run.
    fn spill_run(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.buffer.sort_by(|a, b| a.0.cmp(&b.0));
        let spill = match &mut self.spill {
            Some(s) => s,
            None => self.spill.insert(Spill {
                file: BufWriter::new(tempfile::tempfile()?),
                runs: Vec::new(),
                written: 0,
            }),
        };
        let start = spill.written;
        for (key, tag) in self.buffer.drain(..) {
            let len = u32::try_from(key.len())
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "a key above 4 GiB"))?;
            spill.file.write_all(&len.to_le_bytes())?;
            spill.file.write_all(key.as_bytes())?;
            spill.written += 4 + key.len() as u64;
            match tag {
                Tag::Int(t) => {
                    spill.file.write_all(&[1])?;
                    spill.file.write_all(&t.0.to_le_bytes())?;
                    spill.written += 17;
                }
                Tag::Null => {
                    spill.file.write_all(&[0])?;
                    spill.written += 1;
                }
                Tag::Invalid(text) => {
                    let len = u32::try_from(text.len()).map_err(|_| {
                        io::Error::new(io::ErrorKind::InvalidData, "a value above 4 GiB")
                    })?;
                    spill.file.write_all(&[2])?;
                    spill.file.write_all(&len.to_le_bytes())?;
                    spill.file.write_all(text.as_bytes())?;
                    spill.written += 5 + text.len() as u64;
                }
            }
        }
        spill.runs.push((start, spill.written));
        self.buffered_bytes = 0;
        Ok(())
    }

    fn finish(mut self) -> io::Result<SortedPairs> {
        let source = if self.spill.is_none() {
            self.buffer.sort_by(|a, b| a.0.cmp(&b.0));
            Source::Memory {
                items: std::mem::take(&mut self.buffer),
                at: 0,
            }
        } else {
            self.spill_run()?;
            let Some(spill) = self.spill.take() else {
                unreachable!("spilled above")
            };
            let file = spill
                .file
                .into_inner()
                .map_err(io::IntoInnerError::into_error)?;
            Source::runs(std::sync::Arc::new(file), spill.runs)?
        };
        Ok(SortedPairs {
            source,
            pending: None,
            saw_invalid: self.saw_invalid,
        })
    }
}

/// A run's next pair in the merge; ordered by key, then by run (earlier runs first, so the
/// last of equal keys is the one from the latest run).
struct Head {
    pair: (String, Tag),
    run: usize,
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.pair
            .0
            .cmp(&other.pair.0)
            .then(self.run.cmp(&other.run))
    }
}

/// Reads one spilled run back with positional reads (runs share the file, not a cursor).
struct RunReader {
    file: std::sync::Arc<std::fs::File>,
    next: u64,
    end: u64,
    buffer: Vec<u8>,
    at: usize,
}

impl RunReader {
    /// At least `n` bytes buffered from `at` (fewer only at the run's end).
    fn fill(&mut self, n: usize) -> io::Result<()> {
        if self.buffer.len() - self.at >= n {
            return Ok(());
        }
        self.buffer.drain(..self.at);
        self.at = 0;
        let want = n.max(RUN_READ_AHEAD);
        while self.buffer.len() < want && self.next < self.end {
            let remaining = usize::try_from(self.end - self.next).unwrap_or(usize::MAX);
            let take = (want - self.buffer.len()).min(remaining);
            let old = self.buffer.len();
            self.buffer.resize(old + take, 0);
            self.file
                .read_exact_at(&mut self.buffer[old..], self.next)?;
            self.next += take as u64;
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> io::Result<&[u8]> {
        self.fill(n)?;
        if self.buffer.len() - self.at < n {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "a spilled run ends early",
            ));
        }
        let slice = &self.buffer[self.at..self.at + n];
        self.at += n;
        Ok(slice)
    }

    fn next_pair(&mut self) -> io::Result<Option<(String, Tag)>> {
        self.fill(4)?;
        if self.at == self.buffer.len() {
            return Ok(None);
        }
        let mut len = [0; 4];
        len.copy_from_slice(self.take(4)?);
        let len = u32::from_le_bytes(len) as usize;
        let key = String::from_utf8(self.take(len)?.to_vec())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let tag = match self.take(1)?[0] {
            0 => Tag::Null,
            1 => {
                let mut bytes = [0; 16];
                bytes.copy_from_slice(self.take(16)?);
                Tag::Int(WireInt(i128::from_le_bytes(bytes)))
            }
            _ => {
                let mut len = [0; 4];
                len.copy_from_slice(self.take(4)?);
                let len = u32::from_le_bytes(len) as usize;
                Tag::Invalid(
                    String::from_utf8(self.take(len)?.to_vec())
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?,
                )
            }
        };
        Ok(Some((key, tag)))
    }
}

enum Source {
    Memory {
        items: Vec<(String, Tag)>,
        at: usize,
    },
    Runs {
        file: std::sync::Arc<std::fs::File>,
        bounds: Vec<(u64, u64)>,
        runs: Vec<RunReader>,
        heap: BinaryHeap<Reverse<Head>>,
    },
}

impl Source {
    /// A merge of the runs `bounds` of `file`, from their starts.
    fn runs(file: std::sync::Arc<std::fs::File>, bounds: Vec<(u64, u64)>) -> io::Result<Self> {
        let mut runs: Vec<RunReader> = bounds
            .iter()
            .map(|&(start, end)| RunReader {
                file: file.clone(),
                next: start,
                end,
                buffer: Vec::new(),
                at: 0,
            })
            .collect();
        let mut heap = BinaryHeap::new();
        for (i, run) in runs.iter_mut().enumerate() {
            if let Some(pair) = run.next_pair()? {
                heap.push(Reverse(Head { pair, run: i }));
            }
        }
        Ok(Self::Runs {
            file,
            bounds,
            runs,
            heap,
        })
    }

    fn rewind(&mut self) -> io::Result<()> {
        match self {
            Self::Memory { at, .. } => *at = 0,
            Self::Runs { file, bounds, .. } => {
                *self = Self::runs(file.clone(), std::mem::take(bounds))?;
            }
        }
        Ok(())
    }

    fn next_raw(&mut self) -> io::Result<Option<(String, Tag)>> {
        match self {
            Self::Memory { items, at } => {
                let item = items.get(*at).cloned();
                *at += 1;
                Ok(item)
            }
            Self::Runs { runs, heap, .. } => {
                let Some(Reverse(head)) = heap.pop() else {
                    return Ok(None);
                };
                if let Some(pair) = runs[head.run].next_pair()? {
                    heap.push(Reverse(Head {
                        pair,
                        run: head.run,
                    }));
                }
                Ok(Some(head.pair))
            }
        }
    }
}

/// The pairs of a sync's `kvs` object, sorted by key in byte order, each key once (the last
/// given wins, as in a JSON object read by orjson). An iterator of `io::Result`s: reading a
/// spilled run back can fail, and a key whose value is no e_tag is an error of kind
/// [`io::ErrorKind::InvalidInput`] carrying pydantic's reason (the request is then a
/// `validation_error`).
pub struct SortedPairs {
    source: Source,
    pending: Option<(String, Tag)>,
    saw_invalid: bool,
}

impl fmt::Debug for SortedPairs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let spilled = match &self.source {
            Source::Memory { .. } => 0,
            Source::Runs { runs, .. } => runs.len(),
        };
        f.debug_struct("SortedPairs")
            .field("spilled_runs", &spilled)
            .field("saw_invalid", &self.saw_invalid)
            .finish_non_exhaustive()
    }
}

impl SortedPairs {
    /// Sorts `pairs` (for tests and callers that hold them already).
    ///
    /// # Errors
    /// A temporary file that cannot be written.
    pub fn sort(pairs: impl IntoIterator<Item = Pair>) -> io::Result<Self> {
        let mut sorter = PairSorter::default();
        for (k, t) in pairs {
            sorter.push(k, t.map_or(Tag::Null, Tag::Int))?;
        }
        sorter.finish()
    }

    /// Why the request is invalid: the reason of the first key (in key order) whose last value
    /// is no e_tag, found by a pass over the pairs when any such value was seen; the pairs are
    /// then read again from the start. Validation comes before the service filter, as under
    /// pydantic.
    ///
    /// # Errors
    /// A spilled run that cannot be read.
    pub fn first_invalid(&mut self) -> io::Result<Option<String>> {
        if !self.saw_invalid {
            return Ok(None);
        }
        let mut found = None;
        for next in self.by_ref() {
            match next {
                Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                    found = Some(e.to_string());
                    break;
                }
                Err(e) => return Err(e),
                Ok(_) => {}
            }
        }
        self.source.rewind()?;
        self.pending = None;
        if found.is_none() {
            self.saw_invalid = false;
        }
        Ok(found)
    }

    /// The next key and what it holds, each key once.
    fn next_entry(&mut self) -> io::Result<Option<(String, Tag)>> {
        loop {
            match (self.source.next_raw()?, self.pending.take()) {
                (None, pending) => return Ok(pending),
                (Some(pair), None) => self.pending = Some(pair),
                (Some(pair), Some(previous)) if pair.0 == previous.0 => self.pending = Some(pair),
                (Some(pair), Some(previous)) => {
                    self.pending = Some(pair);
                    return Ok(Some(previous));
                }
            }
        }
    }
}

impl Iterator for SortedPairs {
    type Item = io::Result<Pair>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_entry() {
            Err(e) => Some(Err(e)),
            Ok(None) => None,
            Ok(Some((key, Tag::Null))) => Some(Ok((key, None))),
            Ok(Some((key, Tag::Int(t)))) => Some(Ok((key, Some(t)))),
            Ok(Some((_, Tag::Invalid(text)))) => {
                let reason = serde_json::from_str::<Value>(&text)
                    .map_err(|e| e.to_string())
                    .and_then(|v| lax_int(&v).map(drop))
                    .err()
                    .unwrap_or_else(|| "Input should be a valid integer".to_owned());
                Some(Err(io::Error::new(io::ErrorKind::InvalidInput, reason)))
            }
        }
    }
}

/// A request envelope read as a stream: its fields, with `request.kvs` (when an object) kept
/// aside as [`SortedPairs`].
#[derive(Debug)]
pub struct LargeRequest {
    /// The envelope; its `request` lacks `kvs` when [`LargeRequest::pairs`] holds it.
    pub envelope: RequestEnvelope,
    /// `request.kvs`, when it was a JSON object.
    pub pairs: Option<SortedPairs>,
}

impl LargeRequest {
    /// Reads an envelope from `reader` (blocking: run it off the async threads), holding at
    /// most [`RUN_BYTES`] of pairs in memory.
    ///
    /// # Errors
    /// Why the bytes are no request envelope (not JSON, nested too deep, not an object, a
    /// field of the wrong type), or a temporary file that cannot be written.
    pub fn read(reader: impl Read) -> Result<Self, String> {
        let limited = DepthLimited {
            inner: reader,
            depth: 0,
            in_string: false,
            escaped: false,
        };
        let mut de =
            serde_json::Deserializer::from_reader(BufReader::with_capacity(64 << 10, limited));
        de.disable_recursion_limit();
        let mut state = State::default();
        let fields = EnvelopeSeed { state: &mut state }
            .deserialize(serde_stacker::Deserializer::new(&mut de))
            .map_err(|e| e.to_string())?;
        de.end().map_err(|e| e.to_string())?;
        let envelope: RequestEnvelope =
            serde_json::from_value(Value::Object(fields)).map_err(|e| e.to_string())?;
        let pairs = match state.sorter {
            Some(sorter) => Some(sorter.finish().map_err(|e| e.to_string())?),
            None => None,
        };
        Ok(Self { envelope, pairs })
    }

    /// The envelope with its request as one value again, `kvs` put back (for handlers without
    /// a streamed path, through [`crate::IncomingRequest::from_large`]; costs the memory the
    /// stream saved).
    ///
    /// # Errors
    /// A spilled run that cannot be read back.
    pub fn into_envelope(mut self) -> io::Result<RequestEnvelope> {
        let mut request = self.envelope.request.take().unwrap_or(Value::Null);
        if let (Some(mut pairs), Value::Object(map)) = (self.pairs, &mut request) {
            let mut kvs = Map::new();
            while let Some((key, tag)) = pairs.next_entry()? {
                let tag = match tag {
                    // Beyond 64 bits serde_json reads the integer as a float too.
                    Tag::Int(t) => {
                        serde_json::to_value(t).unwrap_or_else(|_| Value::from(t.0 as f64))
                    }
                    Tag::Null => Value::Null,
                    Tag::Invalid(text) => serde_json::from_str(&text).map_err(io::Error::other)?,
                };
                kvs.insert(key, tag);
            }
            map.insert("kvs".to_owned(), Value::Object(kvs));
        }
        self.envelope.request = Some(request);
        Ok(self.envelope)
    }
}

/// A visitor's methods for every JSON value but an object: each becomes a [`Value`], passed
/// through `$wrap` to give the visitor's value.
macro_rules! visit_values_but_objects {
    ($de:lifetime, $wrap:expr) => {
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok($wrap(Value::Bool(v)))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok($wrap(Value::from(v)))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok($wrap(Value::from(v)))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok($wrap(Value::from(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok($wrap(Value::from(v)))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok($wrap(Value::from(v)))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($wrap(Value::Null))
        }
        fn visit_seq<A: SeqAccess<$de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element::<Value>()? {
                items.push(item);
            }
            Ok($wrap(Value::Array(items)))
        }
    };
}

#[derive(Default)]
struct State {
    sorter: Option<PairSorter>,
}

struct EnvelopeSeed<'a> {
    state: &'a mut State,
}

impl<'de> DeserializeSeed<'de> for EnvelopeSeed<'_> {
    type Value = Map<String, Value>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed<'_> {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the message is not a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = if key == "request" {
                map.next_value_seed(RequestSeed {
                    state: &mut *self.state,
                })?
            } else {
                map.next_value::<Value>()?
            };
            fields.insert(key, value);
        }
        Ok(fields)
    }
}

/// `request`: any JSON value; when an object, its `kvs` object goes to the sorter.
struct RequestSeed<'a> {
    state: &'a mut State,
}

impl<'de> DeserializeSeed<'de> for RequestSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        // A later `request` replaces an earlier one, pairs and all.
        self.state.sorter = None;
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RequestSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    visit_values_but_objects!('de, std::convert::identity);

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == "kvs" {
                let kvs = map.next_value_seed(KvsSeed {
                    state: &mut *self.state,
                })?;
                match kvs {
                    // Streamed into the sorter.
                    None => {
                        fields.remove("kvs");
                    }
                    Some(value) => {
                        fields.insert(key, value);
                    }
                }
            } else {
                fields.insert(key, map.next_value::<Value>()?);
            }
        }
        Ok(Value::Object(fields))
    }
}

/// `kvs`: an object goes to the sorter (`None` returned); anything else is kept as a value.
struct KvsSeed<'a> {
    state: &'a mut State,
}

impl<'de> DeserializeSeed<'de> for KvsSeed<'_> {
    type Value = Option<Value>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.state.sorter = None;
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KvsSeed<'_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    visit_values_but_objects!('de, Some);

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut sorter = PairSorter::default();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<Value>()?;
            let tag = match value {
                Value::Null => Tag::Null,
                other => match lax_int(&other) {
                    Ok(v) => Tag::Int(WireInt(v)),
                    Err(_) => Tag::Invalid(other.to_string()),
                },
            };
            sorter.push(key, tag).map_err(de::Error::custom)?;
        }
        self.state.sorter = Some(sorter);
        Ok(None)
    }
}

/// A reply's `response` object written to a spool (memory up to [`SPOOL_BYTES`], then a
/// temporary file), for replies too large to hold as a [`Value`].
pub struct SpooledResponse {
    file: tempfile::SpooledTempFile,
    len: u64,
}

impl fmt::Debug for SpooledResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpooledResponse")
            .field("len", &self.len)
            .field("on_disk", &self.file.is_rolled())
            .finish()
    }
}

impl SpooledResponse {
    /// The length of the `response` object's JSON text, in bytes.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the text is empty (never, for a finished response).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The JSON text: in memory, or the temporary file it rolled over to, from its start.
    ///
    /// # Errors
    /// The file cannot be rewound.
    pub fn into_data(mut self) -> io::Result<tempfile::SpooledData> {
        self.file.rewind()?;
        Ok(self.file.into_inner())
    }

    /// The JSON text, read back from the start.
    ///
    /// # Errors
    /// The spool cannot be read.
    pub fn into_reader(mut self) -> io::Result<impl Read + Send> {
        self.file.rewind()?;
        Ok(self.file)
    }

    /// The response parsed (for tests and small replies).
    ///
    /// # Errors
    /// The spool cannot be read or holds no JSON.
    pub fn to_value(self) -> io::Result<Value> {
        let reader = self.into_reader()?;
        serde_json::from_reader(BufReader::new(reader)).map_err(io::Error::other)
    }
}

/// Writes `{"status": "ok", "a": {…}, "b": {…}, …}` with maps of key → e_tag given one pair at
/// a time, each map spooled on its own until [`OkMapsWriter::finish`] joins them.
pub struct OkMapsWriter {
    maps: Vec<(&'static str, MapWriter)>,
}

impl fmt::Debug for OkMapsWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.maps.iter().map(|(n, _)| n))
            .finish()
    }
}

struct MapWriter {
    out: BufWriter<tempfile::SpooledTempFile>,
    first: bool,
}

impl OkMapsWriter {
    /// An `ok` reply with the maps `names`, in this order.
    #[must_use]
    pub fn new(names: &[&'static str]) -> Self {
        Self {
            maps: names
                .iter()
                .map(|&n| {
                    (
                        n,
                        MapWriter {
                            out: BufWriter::new(tempfile::SpooledTempFile::new(SPOOL_BYTES)),
                            first: true,
                        },
                    )
                })
                .collect(),
        }
    }

    /// Adds `key: tag` to the map at `index` (of the names given to [`OkMapsWriter::new`]).
    ///
    /// # Errors
    /// An e_tag beyond 64 bits (orjson cannot write it either, so the reply is not sent), or a
    /// spool that cannot be written.
    pub fn push(&mut self, index: usize, key: &str, tag: Option<WireInt>) -> io::Result<()> {
        let map = &mut self.maps[index].1;
        map.out.write_all(if map.first { b"{" } else { b"," })?;
        map.first = false;
        serde_json::to_writer(&mut map.out, key).map_err(io::Error::other)?;
        map.out.write_all(b":")?;
        // The only serialisation error: an e_tag beyond 64 bits.
        serde_json::to_writer(&mut map.out, &tag)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok(())
    }

    /// The whole `response` object.
    ///
    /// # Errors
    /// A spool that cannot be written or read.
    pub fn finish(self) -> io::Result<SpooledResponse> {
        let mut file = tempfile::SpooledTempFile::new(SPOOL_BYTES);
        {
            let mut out = BufWriter::new(&mut file);
            out.write_all(br#"{"status":"ok""#)?;
            for (name, map) in self.maps {
                out.write_all(b",")?;
                serde_json::to_writer(&mut out, name).map_err(io::Error::other)?;
                out.write_all(b":")?;
                if map.first {
                    out.write_all(b"{}")?;
                    continue;
                }
                let mut spool = map
                    .out
                    .into_inner()
                    .map_err(io::IntoInnerError::into_error)?;
                spool.rewind()?;
                io::copy(&mut spool, &mut out)?;
                out.write_all(b"}")?;
            }
            out.write_all(b"}")?;
            out.flush()?;
        }
        let len = file.seek(io::SeekFrom::End(0))?;
        Ok(SpooledResponse { file, len })
    }
}

/// The envelope around a spooled response: the bytes before and after the `response` object.
#[must_use]
pub fn response_frame(
    timestamp: f64,
    name: &str,
    kind: &str,
    rpc_id: uuid::Uuid,
) -> (Vec<u8>, Vec<u8>) {
    #[derive(Serialize)]
    struct Head<'a> {
        timestamp: f64,
        name: &'a str,
        #[serde(rename = "type")]
        kind: &'a str,
        rpc_id: uuid::Uuid,
    }
    let mut head = serde_json::to_vec(&Head {
        timestamp,
        name,
        kind,
        rpc_id,
    })
    .unwrap_or_else(|_| b"{}".to_vec());
    head.pop(); // the closing brace
    head.extend_from_slice(br#","response":"#);
    (head, b"}".to_vec())
}

/// Only the service of a request body, read as the full request's model reads it first.
#[derive(Deserialize)]
pub(crate) struct ServiceOnly {
    pub(crate) service: String,
}
