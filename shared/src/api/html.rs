//! Server-rendered HTML for the result page, the Connect page and the console. Every value that
//! did not come from this crate's own markup goes through `escape` (the one escaping rule,
//! `crate::markup`, which the XML request bodies share), and every value put in a `<script>`
//! element through `script_json`.

pub use crate::markup::escape;

/// JSON that is safe inside a `<script>` element.
pub fn script_json(value: &serde_json::Value) -> String {
    serde_json::to_string(value)
        .expect("JSON serializes")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// A query-string value (`?q=…`) for a link.
pub fn query_value(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// What a path segment keeps as is: letters, digits and `- . _ ~`.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A path segment (an integration key or a connection id, whose alphabet includes `|`, `+`,
/// `@` and `:`) for a link.
pub fn path_segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_quotes_are_escaped() {
        assert_eq!(
            escape(r#"<a href="x" onclick='y'>&"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;"
        );
        assert_eq!(query_value("a b&c=d"), "a+b%26c%3Dd");
        assert_eq!(path_segment("u:1@x|y+z/a-b_c.d"), "u%3A1%40x%7Cy%2Bz%2Fa-b_c.d");
    }
}
