//! JSON text written into a reused buffer, so that a line per window costs no allocation.

use std::fmt::Write;

/// `s` as a JSON string literal (with quotes), appended to `out`.
pub fn push_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A number with `decimals` digits after the point; `null` when not finite (JSON has no NaN).
pub fn push_f64(out: &mut String, value: f64, decimals: usize) {
    if value.is_finite() {
        let _ = write!(out, "{value:.decimals$}");
    } else {
        out.push_str("null");
    }
}

/// `x` rounded to `digits` decimals, for the numbers of a JSON payload built as a value.
pub fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_numbers_parse_back() {
        let mut line = String::from("{\"k\":");
        push_str(&mut line, "a\"b\\c\nd\u{1}é");
        line.push_str(",\"x\":");
        push_f64(&mut line, 0.123456, 3);
        line.push_str(",\"n\":");
        push_f64(&mut line, f64::NAN, 3);
        line.push('}');
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["k"], "a\"b\\c\nd\u{1}é");
        assert_eq!(v["x"], 0.123);
        assert!(v["n"].is_null());
    }
}
