//! A JSON tree that keeps what FHIR needs and `serde_json::Value` (without
//! `arbitrary_precision`) loses: the written text of every number
//! (`1.50` stays `1.50`) and the order of keys.
//!
//! The tokenizer here only finds the boundaries of values; string escapes
//! are decoded by `serde_json` itself (each quoted string slice is handed
//! to it), so string handling is exactly serde_json's.

use std::borrow::Cow;

use super::XmlError;

/// One JSON value, numbers as written; `S` is its text type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonOf<S> {
    Null,
    Bool(bool),
    /// The number's text, exactly as written.
    Number(S),
    String(S),
    Array(Vec<JsonOf<S>>),
    /// Members in the order written.
    Object(Vec<(S, JsonOf<S>)>),
}

/// A JSON tree that owns its text.
pub type Json = JsonOf<String>;

/// A JSON tree borrowing its text from the parsed input where it can (a
/// string without escapes, every number): what the XML writer reads.
/// Owned, each of a care record's few hundred keys and strings was an
/// allocation, a copy and a free per answer: parsing and dropping the
/// XML care record's tree took 138 k instructions owned, 118 k borrowed
/// (callgrind).
pub type JsonRef<'t> = JsonOf<Cow<'t, str>>;

/// The text types a tree is parsed into.
pub trait Text<'t>: Sized {
    fn from_text(text: Cow<'t, str>) -> Self;
}

impl<'t> Text<'t> for String {
    fn from_text(text: Cow<'t, str>) -> Self {
        text.into_owned()
    }
}

impl<'t> Text<'t> for Cow<'t, str> {
    fn from_text(text: Cow<'t, str>) -> Self {
        text
    }
}

impl<'t, S: Text<'t>> JsonOf<S> {
    /// Parses JSON text; the error names line and column.
    pub fn parse(text: &'t str) -> Result<Self, XmlError> {
        let mut parser = Parser {
            text,
            bytes: text.as_bytes(),
            at: 0,
            depth: 0,
        };
        parser.skip_space();
        let value = parser.value()?;
        parser.skip_space();
        if parser.at != parser.bytes.len() {
            return Err(parser.error("trailing characters after the JSON value"));
        }
        Ok(value)
    }
}

impl<S: AsRef<str>> JsonOf<S> {
    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&JsonOf<S>> {
        match self {
            JsonOf::Object(members) => members
                .iter()
                .find(|(k, _)| k.as_ref() == key)
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            JsonOf::String(text) => Some(text.as_ref()),
            _ => None,
        }
    }
}

impl Json {
    /// Compact JSON text (numbers as written).
    pub fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(true) => out.push_str("true"),
            Json::Bool(false) => out.push_str("false"),
            Json::Number(text) => out.push_str(text),
            Json::String(text) => write_string(text, out),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(key, out);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }
}

fn write_string(text: &str, out: &mut String) {
    // serde_json's escaping, so texts are written as the JSON path writes them.
    match serde_json::to_string(text) {
        Ok(quoted) => out.push_str(&quoted),
        Err(_) => out.push_str("\"\""),
    }
}

/// Nesting deeper than this is refused (no stack overflow on hostile input).
const MAX_DEPTH: usize = 256;

struct Parser<'t> {
    text: &'t str,
    bytes: &'t [u8],
    at: usize,
    depth: usize,
}

impl<'t> Parser<'t> {
    fn error(&self, message: &str) -> XmlError {
        let before = &self.text[..self.at.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        XmlError::Json {
            line,
            column,
            message: message.to_string(),
        }
    }

    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn value<S: Text<'t>>(&mut self) -> Result<JsonOf<S>, XmlError> {
        match self.bytes.get(self.at) {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => self.string().map(|text| JsonOf::String(S::from_text(text))),
            Some(b't') => self.literal("true", JsonOf::Bool(true)),
            Some(b'f') => self.literal("false", JsonOf::Bool(false)),
            Some(b'n') => self.literal("null", JsonOf::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("expected a JSON value")),
            None => Err(self.error("unexpected end of the JSON text")),
        }
    }

    fn literal<S>(&mut self, word: &str, value: JsonOf<S>) -> Result<JsonOf<S>, XmlError> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.error("expected a JSON value"))
        }
    }

    fn number<S: Text<'t>>(&mut self) -> Result<JsonOf<S>, XmlError> {
        let start = self.at;
        while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = self.bytes.get(self.at) {
            self.at += 1;
        }
        let text = &self.text[start..self.at];
        // serde_json judges the grammar; the text is kept as written.
        match serde_json::from_str::<serde_json::Number>(text) {
            Ok(_) => Ok(JsonOf::Number(S::from_text(Cow::Borrowed(text)))),
            Err(_) => {
                self.at = start;
                Err(self.error("invalid number"))
            }
        }
    }

    fn string(&mut self) -> Result<Cow<'t, str>, XmlError> {
        let start = self.at;
        self.at += 1;
        let mut escaped = false;
        loop {
            // Narratives make strings of kilobytes: jump to the next quote
            // or backslash rather than stepping byte by byte.
            let rest = self.bytes.get(self.at..).unwrap_or_default();
            match memchr::memchr2(b'"', b'\\', rest).map(|at| (at, rest[at])) {
                Some((at, b'"')) => {
                    self.at += at;
                    break;
                }
                Some((at, _)) => {
                    escaped = true;
                    self.at += at + 2;
                }
                None => {
                    self.at = start;
                    return Err(self.error("unterminated string"));
                }
            }
        }
        self.at += 1;
        if !escaped {
            // No escapes: the text between the quotes is the string (the
            // input is a `str`, so it is UTF-8; control characters are
            // judged by serde_json on the escaped path only, as before).
            if let Some(plain) = self.text.get(start + 1..self.at - 1) {
                if !plain.bytes().any(|byte| byte < 0x20) {
                    return Ok(Cow::Borrowed(plain));
                }
            }
        }
        let quoted = self.text.get(start..self.at).unwrap_or("");
        serde_json::from_str::<String>(quoted)
            .map(Cow::Owned)
            .map_err(|e| {
                self.at = start;
                self.error(&format!("invalid string: {e}"))
            })
    }

    fn enter(&mut self) -> Result<(), XmlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        self.at += 1;
        self.skip_space();
        Ok(())
    }

    fn array<S: Text<'t>>(&mut self) -> Result<JsonOf<S>, XmlError> {
        self.enter()?;
        let mut items = Vec::new();
        if self.bytes.get(self.at) == Some(&b']') {
            self.at += 1;
            self.depth -= 1;
            return Ok(JsonOf::Array(items));
        }
        loop {
            self.skip_space();
            items.push(self.value()?);
            self.skip_space();
            match self.bytes.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    self.depth -= 1;
                    return Ok(JsonOf::Array(items));
                }
                _ => return Err(self.error("expected `,` or `]`")),
            }
        }
    }

    fn object<S: Text<'t>>(&mut self) -> Result<JsonOf<S>, XmlError> {
        self.enter()?;
        let mut members = Vec::new();
        if self.bytes.get(self.at) == Some(&b'}') {
            self.at += 1;
            self.depth -= 1;
            return Ok(JsonOf::Object(members));
        }
        loop {
            self.skip_space();
            if self.bytes.get(self.at) != Some(&b'"') {
                return Err(self.error("expected a member name"));
            }
            let key = S::from_text(self.string()?);
            self.skip_space();
            if self.bytes.get(self.at) != Some(&b':') {
                return Err(self.error("expected `:`"));
            }
            self.at += 1;
            self.skip_space();
            let value = self.value()?;
            members.push((key, value));
            self.skip_space();
            match self.bytes.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    self.depth -= 1;
                    return Ok(JsonOf::Object(members));
                }
                _ => return Err(self.error("expected `,` or `}`")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_text_and_keys_their_order() {
        let text = r#"{"z":1.50,"a":[1e3,-0.0,2],"s":"a\"\u00e9\n","t":true,"n":null}"#;
        let json = Json::parse(text).unwrap();
        assert_eq!(json.get("z"), Some(&Json::Number("1.50".into())));
        assert_eq!(json.get("s"), Some(&Json::String("a\"é\n".into())));
        let back = json.to_text();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&back).unwrap(),
            serde_json::from_str::<serde_json::Value>(text).unwrap()
        );
        assert!(back.starts_with(r#"{"z":1.50,"a":[1e3,-0.0,2]"#), "{back}");
    }

    #[test]
    fn errors_name_line_and_column() {
        let error = Json::parse("{\n  \"a\": tru\n}").unwrap_err().to_string();
        assert!(error.contains("line 2 column 8"), "{error}");
        assert!(Json::parse("[1,]").is_err());
        assert!(Json::parse("01").is_err());
        assert!(Json::parse("\"abc").is_err());
        assert!(Json::parse("{} x").is_err());
    }
}
