//! Just enough Go `encoding/gob` for what Packer reads from a plugin as gob: a command's exit
//! status (`CommandFinished{ExitStatus int}`) and, for Packer 1.6.6's HCL2 path, the
//! builder's `hcldec.ObjectSpec` (see [`crate::hcl_spec`]).
//!
//! There is no maintained gob crate, so the encoder is hand-written from the `encoding/gob`
//! package documentation: a stream is a sequence of messages, each prefixed with its byte
//! count; a message starts with a type id, negative for a type definition (a `wireType`)
//! and positive for a value of that type. Go's own encoder may split a value around type
//! definitions it meets inside interfaces; its decoder equally accepts every definition up
//! front, which is what [`Stream`] writes.

/// gob's unsigned integer: < 128 is one byte, otherwise a negated byte count then big-endian.
pub(crate) fn put_uint(out: &mut Vec<u8>, v: u64) {
    if v < 0x80 {
        out.push(v as u8);
        return;
    }
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let n = bytes.len() - skip;
    out.push((n as u8).wrapping_neg());
    out.extend_from_slice(&bytes[skip..]);
}

/// gob's signed integer: zig-zag-like, sign in the low bit.
pub(crate) fn put_int(out: &mut Vec<u8>, v: i64) {
    let u = if v < 0 {
        ((!v as u64) << 1) | 1
    } else {
        (v as u64) << 1
    };
    put_uint(out, u);
}

/// A string or `[]byte`: byte count, then the bytes.
pub(crate) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_uint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Prefixes a message with its byte count.
fn frame(out: &mut Vec<u8>, msg: &[u8]) {
    put_uint(out, msg.len() as u64);
    out.extend_from_slice(msg);
}

/// The first id gob gives a user-defined type.
pub(crate) const FIRST_TYPE_ID: i64 = 65;
/// gob's predefined type ids (`encoding/gob` type.go).
pub(crate) mod id {
    /// `bool`.
    pub const BOOL: i64 = 1;
    /// `int` (any signed integer).
    pub const INT: i64 = 2;
    /// `uint` (any unsigned integer, `byte` included).
    pub const UINT: i64 = 3;
    /// `string`.
    pub const STRING: i64 = 6;
    /// `interface{}` (any interface type).
    pub const INTERFACE: i64 = 8;
}

/// Field indexes of gob's own `wireType` struct, whose one set field says what a type is.
#[derive(Clone, Copy)]
enum WireKind {
    Struct = 2,
    Map = 3,
    GobEncoder = 4,
}

/// `wireType{<kind>: &xxxType{CommonType{Name, Id}, rest...}}`: the kind's field, then the
/// embedded CommonType, then `rest` (already encoded fields of the kind's own struct, with
/// their deltas), then the two end-of-struct markers.
fn wire_type(kind: WireKind, name: &str, id: i64, rest: &[u8]) -> Vec<u8> {
    let mut w = Vec::new();
    put_uint(&mut w, kind as u64 + 1); // delta from field -1
    w.push(0x01); // CommonType (field 0)
    w.push(0x01); // CommonType.Name
    put_bytes(&mut w, name.as_bytes());
    w.push(0x01); // CommonType.Id
    put_int(&mut w, id);
    w.push(0x00); // end CommonType
    w.extend_from_slice(rest);
    w.push(0x00); // end xxxType
    w.push(0x00); // end wireType
    w
}

/// A gob stream: type definitions first, then values, each a framed message.
pub(crate) struct Stream {
    out: Vec<u8>,
}

impl Stream {
    pub(crate) fn new() -> Self {
        Stream { out: Vec::new() }
    }

    fn define(&mut self, id: i64, wire: &[u8]) {
        let mut msg = Vec::new();
        put_int(&mut msg, -id);
        msg.extend_from_slice(wire);
        frame(&mut self.out, &msg);
    }

    /// Defines a struct type whose fields are `(name, type id)` in declaration order.
    pub(crate) fn define_struct(&mut self, id: i64, name: &str, fields: &[(&str, i64)]) {
        let mut rest = vec![0x01]; // structType.Field
        put_uint(&mut rest, fields.len() as u64);
        for (field, ty) in fields {
            rest.push(0x01);
            put_bytes(&mut rest, field.as_bytes());
            rest.push(0x01);
            put_int(&mut rest, *ty);
            rest.push(0x00);
        }
        self.define(id, &wire_type(WireKind::Struct, name, id, &rest));
    }

    /// Defines a map type.
    pub(crate) fn define_map(&mut self, id: i64, name: &str, key: i64, elem: i64) {
        let mut rest = vec![0x01];
        put_int(&mut rest, key);
        rest.push(0x01);
        put_int(&mut rest, elem);
        self.define(id, &wire_type(WireKind::Map, name, id, &rest));
    }

    /// Defines a type that encodes itself (Go's `GobEncoder`): its values travel as bytes.
    pub(crate) fn define_gob_encoder(&mut self, id: i64, name: &str) {
        self.define(id, &wire_type(WireKind::GobEncoder, name, id, &[]));
    }

    /// Sends one value of type `id`; `body` is its encoding (see [`Struct`], [`single`]).
    pub(crate) fn value(&mut self, id: i64, body: &[u8]) {
        let mut msg = Vec::new();
        put_int(&mut msg, id);
        msg.extend_from_slice(body);
        frame(&mut self.out, &msg);
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.out
    }
}

/// A struct value being encoded: fields by index, zero values left out as gob does.
pub(crate) struct Struct {
    buf: Vec<u8>,
    last: i64,
}

impl Struct {
    pub(crate) fn new() -> Self {
        Struct {
            buf: Vec::new(),
            last: -1,
        }
    }

    fn field(&mut self, index: i64) -> &mut Vec<u8> {
        put_uint(&mut self.buf, (index - self.last) as u64);
        self.last = index;
        &mut self.buf
    }

    pub(crate) fn int(&mut self, index: i64, v: i64) -> &mut Self {
        if v != 0 {
            put_int(self.field(index), v);
        }
        self
    }

    pub(crate) fn uint(&mut self, index: i64, v: u64) -> &mut Self {
        if v != 0 {
            put_uint(self.field(index), v);
        }
        self
    }

    pub(crate) fn bool(&mut self, index: i64, v: bool) -> &mut Self {
        if v {
            put_uint(self.field(index), 1);
        }
        self
    }

    /// A string, `[]byte` or `GobEncoder` field (all are counted bytes).
    pub(crate) fn bytes(&mut self, index: i64, v: &[u8]) -> &mut Self {
        if !v.is_empty() {
            put_bytes(self.field(index), v);
        }
        self
    }

    /// An interface field holding a registered concrete type (see [`interface`]).
    pub(crate) fn interface(&mut self, index: i64, encoded: &[u8]) -> &mut Self {
        self.field(index).extend_from_slice(encoded);
        self
    }

    pub(crate) fn end(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        out.push(0x00);
        out
    }
}

/// A non-struct value sent on its own (top level or in an interface): gob frames it as a
/// struct's field 0 with no end marker.
pub(crate) fn single(body: &[u8]) -> Vec<u8> {
    let mut out = vec![0x00];
    out.extend_from_slice(body);
    out
}

/// An interface value: the concrete type's registered name (`gob.Register`), its type id
/// and its counted encoding.
pub(crate) fn interface(name: &str, type_id: i64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_bytes(&mut out, name.as_bytes());
    put_int(&mut out, type_id);
    put_bytes(&mut out, value);
    out
}

/// Encodes one value of a Go struct whose fields are all `int`, as the first thing sent on a
/// fresh gob stream: the type definition (id 65), then the value.
pub fn encode_int_struct(type_name: &str, fields: &[(&str, i64)]) -> Vec<u8> {
    let mut stream = Stream::new();
    let defs: Vec<(&str, i64)> = fields.iter().map(|(n, _)| (*n, id::INT)).collect();
    stream.define_struct(FIRST_TYPE_ID, type_name, &defs);
    let mut value = Struct::new();
    for (i, (_, v)) in fields.iter().enumerate() {
        value.int(i as i64, *v);
    }
    stream.value(FIRST_TYPE_ID, &value.end());
    stream.finish()
}

/// The bytes Packer's Communicator client decodes as `CommandFinished{ExitStatus}`.
pub fn command_finished(exit_status: i32) -> Vec<u8> {
    encode_int_struct("CommandFinished", &[("ExitStatus", i64::from(exit_status))])
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect()
    }

    /// The `Point{X: 22, Y: 33}` example from the `encoding/gob` package documentation.
    #[test]
    fn matches_the_gob_documentation_example() {
        let got = encode_int_struct("Point", &[("X", 22), ("Y", 33)]);
        let want = hex(&[
            "1f ff 81 03 01 01 05 50 6f 69 6e 74 01 ff 82 00 01 02 01 01 58 01 04 00 01 01 59 01",
            "04 00 00 00 07 ff 82 01 2c 01 42 00",
        ]
        .join(" "));
        assert_eq!(got, want);
    }

    #[test]
    fn exit_status_values() {
        let zero = command_finished(0);
        // Zero fields are omitted: the value message is just type id 65 and the end marker.
        assert_eq!(&zero[zero.len() - 4..], &[0x03, 0xff, 0x82, 0x00]);
        let one = command_finished(1);
        assert_eq!(&one[one.len() - 6..], &[0x05, 0xff, 0x82, 0x01, 0x02, 0x00]);
        let neg = command_finished(-1);
        assert_eq!(&neg[neg.len() - 3..], &[0x01, 0x01, 0x00]);
        let big = command_finished(2_300_218);
        // 2300218 << 1 = 0x46327 4 -> three bytes after a 0xfd count
        assert_eq!(&big[big.len() - 6..], &[0x01, 0xfd, 0x46, 0x32, 0x74, 0x00]);
    }

    /// A reader of exactly the subset written above, following the `encoding/gob` package
    /// documentation independently of the encoder's code.
    mod decode {
        pub(super) struct Reader<'a>(pub(super) &'a [u8]);

        impl Reader<'_> {
            pub(super) fn byte(&mut self) -> Option<u8> {
                let (b, rest) = self.0.split_first()?;
                self.0 = rest;
                Some(*b)
            }
            pub(super) fn uint(&mut self) -> Option<u64> {
                let b = self.byte()?;
                if b < 0x80 {
                    return Some(u64::from(b));
                }
                let n = usize::from(b.wrapping_neg());
                if n == 0 || n > 8 || self.0.len() < n {
                    return None;
                }
                let (bytes, rest) = self.0.split_at(n);
                self.0 = rest;
                Some(bytes.iter().fold(0, |acc, b| (acc << 8) | u64::from(*b)))
            }
            pub(super) fn int(&mut self) -> Option<i64> {
                let u = self.uint()?;
                Some(if u & 1 == 1 {
                    !(u >> 1) as i64
                } else {
                    (u >> 1) as i64
                })
            }
            pub(super) fn string(&mut self) -> Option<String> {
                let n = usize::try_from(self.uint()?).ok()?;
                if self.0.len() < n {
                    return None;
                }
                let (bytes, rest) = self.0.split_at(n);
                self.0 = rest;
                String::from_utf8(bytes.to_vec()).ok()
            }
            pub(super) fn frame(&mut self) -> Option<Reader<'_>> {
                let n = usize::try_from(self.uint()?).ok()?;
                if self.0.len() < n {
                    return None;
                }
                let (msg, rest) = self.0.split_at(n);
                self.0 = rest;
                Some(Reader(msg))
            }
        }

        /// The struct's name, field names and field values (absent = zero).
        pub(super) fn int_struct(bytes: &[u8]) -> Option<(String, Vec<(String, i64)>)> {
            let mut stream = Reader(bytes);
            let mut def = stream.frame()?;
            (def.int()? == -65).then_some(())?;
            (def.byte()? == 3 && def.byte()? == 1 && def.byte()? == 1).then_some(())?;
            let name = def.string()?;
            (def.byte()? == 1 && def.int()? == 65 && def.byte()? == 0).then_some(())?;
            (def.byte()? == 1).then_some(())?;
            let count = def.uint()?;
            let mut fields = Vec::new();
            for _ in 0..count {
                (def.byte()? == 1).then_some(())?;
                let field = def.string()?;
                (def.byte()? == 1 && def.int()? == 2 && def.byte()? == 0).then_some(())?;
                fields.push((field, 0));
            }
            (def.byte()? == 0 && def.byte()? == 0 && def.0.is_empty()).then_some(())?;
            let mut val = stream.frame()?;
            (val.int()? == 65).then_some(())?;
            let mut index: i64 = -1;
            loop {
                let delta = val.uint()?;
                if delta == 0 {
                    break;
                }
                index += i64::try_from(delta).ok()?;
                let slot = fields.get_mut(usize::try_from(index).ok()?)?;
                slot.1 = val.int()?;
            }
            (val.0.is_empty() && stream.0.is_empty()).then_some((name, fields))
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;
        use super::decode::int_struct;

        proptest! {
            /// What we write is what a gob reader reads: name, fields in order, every value
            /// (zeros omitted on the wire, read back as zero).
            #[test]
            fn int_structs_round_trip(
                name in "[A-Z][A-Za-z]{0,20}",
                fields in prop::collection::btree_map("[A-Z][A-Za-z]{0,10}", any::<i64>(), 0..6),
            ) {
                let fields: Vec<(String, i64)> = fields.into_iter().collect();
                let borrowed: Vec<(&str, i64)> = fields.iter().map(|(n, v)| (n.as_str(), *v)).collect();
                let bytes = encode_int_struct(&name, &borrowed);
                prop_assert_eq!(int_struct(&bytes), Some((name, fields)));
            }

            /// Every exit status Packer can be told, including negative ones.
            #[test]
            fn exit_statuses_round_trip(status in any::<i32>()) {
                let (name, fields) = int_struct(&command_finished(status)).expect("decodes");
                prop_assert_eq!(name, "CommandFinished");
                prop_assert_eq!(fields, vec![("ExitStatus".to_string(), i64::from(status))]);
            }

            /// The reader rejects any truncation of a valid stream.
            #[test]
            fn truncations_are_rejected(status in any::<i32>(), cut in any::<prop::sample::Index>()) {
                let bytes = command_finished(status);
                let cut = cut.index(bytes.len());
                prop_assert_eq!(int_struct(&bytes[..cut]), None);
            }
        }
    }

    #[test]
    fn map_and_gob_encoder_definitions() {
        let mut s = Stream::new();
        s.define_map(65, "M", id::STRING, id::INTERFACE);
        // len 0x11: -65, MapT delta 4, CommonType{Name "M", Id 65}, Key 6, Elem 8, ends.
        let want = hex("11 ff 81 04 01 01 01 4d 01 ff 82 00 01 0c 01 10 00 00");
        assert_eq!(s.finish(), want);
        let mut s = Stream::new();
        s.define_gob_encoder(66, "T");
        let want = hex("0d ff 83 05 01 01 01 54 01 ff 84 00 00 00");
        assert_eq!(s.finish(), want);
    }

    #[test]
    fn interfaces_and_singletons() {
        assert_eq!(interface("a", 65, &[0x07]), hex("01 61 ff 82 01 07"));
        assert_eq!(single(&[0x05]), hex("00 05"));
        let mut st = Struct::new();
        let v = st.bytes(0, b"x").bool(1, false).bool(2, true).end();
        // field 0 "x", field 1 omitted, field 2 true (delta 2).
        assert_eq!(v, hex("01 01 78 02 01 00"));
    }
}
