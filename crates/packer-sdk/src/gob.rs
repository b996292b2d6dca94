//! Just enough Go `encoding/gob` to send `CommandFinished{ExitStatus int}`.
//!
//! Packer's Communicator client reads a command's exit status as one gob value from a
//! brokered stream. There is no maintained gob crate, and the message is tiny, so the
//! encoder is hand-written here: a type definition for a struct of `int` fields followed
//! by the value, exactly as a fresh `gob.Encoder` emits them (format from the
//! `encoding/gob` package documentation).

/// gob's unsigned integer: < 128 is one byte, otherwise a negated byte count then big-endian.
fn put_uint(out: &mut Vec<u8>, v: u64) {
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
fn put_int(out: &mut Vec<u8>, v: i64) {
    let u = if v < 0 {
        ((!v as u64) << 1) | 1
    } else {
        (v as u64) << 1
    };
    put_uint(out, u);
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    put_uint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Prefixes a message with its byte count.
fn frame(out: &mut Vec<u8>, msg: &[u8]) {
    put_uint(out, msg.len() as u64);
    out.extend_from_slice(msg);
}

/// The first user-defined gob type id.
const FIRST_TYPE_ID: i64 = 65;
/// gob's predefined id for `int`.
const INT_TYPE_ID: i64 = 2;

/// Encodes one value of a Go struct whose fields are all `int`, as the first thing sent on a
/// fresh gob stream: the type definition (id 65), then the value. Zero fields are omitted, as
/// gob does.
pub fn encode_int_struct(type_name: &str, fields: &[(&str, i64)]) -> Vec<u8> {
    let mut def = Vec::new();
    put_int(&mut def, -FIRST_TYPE_ID);
    // wireType: field 2 (StructT) => delta 3
    def.push(0x03);
    // structType.CommonType (field 0, delta 1) { Name (delta 1), Id (delta 1) }
    def.push(0x01);
    def.push(0x01);
    put_string(&mut def, type_name);
    def.push(0x01);
    put_int(&mut def, FIRST_TYPE_ID);
    def.push(0x00);
    // structType.Field (field 1, delta 1): slice of fieldType { Name, Id }
    def.push(0x01);
    put_uint(&mut def, fields.len() as u64);
    for (name, _) in fields {
        def.push(0x01);
        put_string(&mut def, name);
        def.push(0x01);
        put_int(&mut def, INT_TYPE_ID);
        def.push(0x00);
    }
    def.push(0x00); // end structType
    def.push(0x00); // end wireType

    let mut val = Vec::new();
    put_int(&mut val, FIRST_TYPE_ID);
    let mut last: i64 = -1;
    for (i, (_, v)) in fields.iter().enumerate() {
        if *v == 0 {
            continue;
        }
        let i = i as i64;
        put_uint(&mut val, (i - last) as u64);
        put_int(&mut val, *v);
        last = i;
    }
    val.push(0x00);

    let mut out = Vec::new();
    frame(&mut out, &def);
    frame(&mut out, &val);
    out
}

/// The bytes Packer's Communicator client decodes as `CommandFinished{ExitStatus}`.
pub fn command_finished(exit_status: i32) -> Vec<u8> {
    encode_int_struct("CommandFinished", &[("ExitStatus", i64::from(exit_status))])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `Point{X: 22, Y: 33}` example from the `encoding/gob` package documentation.
    #[test]
    fn matches_the_gob_documentation_example() {
        let got = encode_int_struct("Point", &[("X", 22), ("Y", 33)]);
        let want: Vec<u8> = [
            "1f ff 81 03 01 01 05 50 6f 69 6e 74 01 ff 82 00 01 02 01 01 58 01 04 00 01 01 59 01",
            "04 00 00 00 07 ff 82 01 2c 01 42 00",
        ]
        .join(" ")
        .split_whitespace()
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect();
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
}
