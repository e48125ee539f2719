//! JSON-string escaping: the registry's escape function, so `{{x}}` writes
//! text that is safe inside a JSON string literal (quote, backslash and
//! control characters escaped, never HTML entities). Echoing request input
//! into a template therefore always gives valid JSON. The flat renderer
//! (`flat.rs`) appends with the same function, so both paths agree byte for
//! byte.

/// Escapes text for the inside of a JSON string literal.
pub fn escape_json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    escape_json_into(&mut out, text);
    out
}

/// [`escape_json_string`], appending to `out`.
pub(super) fn escape_json_into(out: &mut String, text: &str) {
    let needs_escape = |c: char| c == '"' || c == '\\' || (c as u32) < 0x20;
    if !text.contains(needs_escape) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                use std::fmt::Write;
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_backslashes_and_control_characters_are_escaped() {
        assert_eq!(
            escape_json_string("a\"b\\c\nd\r\t\u{1}<e>&f é"),
            "a\\\"b\\\\c\\nd\\r\\t\\u0001<e>&f é"
        );
        let mut out = String::from("x");
        escape_json_into(&mut out, "plain");
        assert_eq!(out, "xplain");
    }
}
