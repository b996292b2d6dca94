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
}
