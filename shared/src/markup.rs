//! The one escaping rule for markup Latchkey writes: its HTML pages (`api::html`) and the XML
//! bodies of catalog token requests (`auth::two_step::body`).

/// `text` safe inside an element or a quoted attribute, of HTML or XML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
