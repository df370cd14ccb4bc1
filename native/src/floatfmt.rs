//! Floats written exactly as msgspec writes them: shortest round-trip digits, plain decimal for
//! decimal exponents -5..=15, otherwise `d.ddde<exp>` (so rows are byte-identical to Python's).

pub fn write_f64(out: &mut Vec<u8>, x: f64) {
    // ryu's pretty printer makes the same choices as msgspec: decimal when the first digit's
    // exponent is in -5..=15, else `d.ddde<exp>`; zero is "0.0" / "-0.0". The cases below and
    // tests/test_native_path.py check it against msgspec itself.
    if !x.is_finite() {
        out.extend_from_slice(b"null"); // as msgspec writes inf and nan
        return;
    }
    let mut buf = ryu::Buffer::new();
    out.extend_from_slice(buf.format_finite(x).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::write_f64;

    fn f(x: f64) -> String {
        let mut v = Vec::new();
        write_f64(&mut v, x);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn matches_msgspec() {
        let cases = [
            (1e-4, "0.0001"),
            (1.5e-5, "0.000015"),
            (1e-5, "0.00001"),
            (9.99e-6, "9.99e-6"),
            (1e-6, "1e-6"),
            (1.234e-7, "1.234e-7"),
            (1e15, "1000000000000000.0"),
            (9.999e15, "9999000000000000.0"),
            (1e16, "1e16"),
            (1.5e16, "1.5e16"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1.0, "1.0"),
            (-2.5e-9, "-2.5e-9"),
            (123.0, "123.0"),
            (1e100, "1e100"),
            (48.8566, "48.8566"),
            (-122.4194, "-122.4194"),
            (5e-324, "5e-324"),
        ];
        for (x, want) in cases {
            assert_eq!(f(x), want, "{x:e}");
        }
    }
}
