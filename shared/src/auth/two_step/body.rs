//! The bodies of a two-step request and answer: the catalog's `token_params` rendered into a
//! form, JSON (nested objects kept, numbers and booleans as they are) or XML document; answers
//! read as JSON, a form, XML (elements become nested objects) or a bare token in plain text.

use serde_json::{Map, Value};

use crate::providers::schema::BodyFormat;
use crate::providers::template::TemplateError;

/// Renders each string of `params` (recursively) with `render`; a parameter whose template
/// needs a value the end user left out (an optional field) is dropped.
pub fn render_params(
    params: &Map<String, Value>,
    render: &dyn Fn(&str) -> Result<Option<String>, TemplateError>,
) -> Result<Map<String, Value>, TemplateError> {
    let mut out = Map::new();
    for (k, v) in params {
        let rendered = match v {
            Value::String(t) => match render(t)? {
                Some(text) => Value::String(text),
                None => continue,
            },
            Value::Object(inner) => Value::Object(render_params(inner, render)?),
            other => other.clone(),
        };
        out.insert(k.clone(), rendered);
    }
    Ok(out)
}

/// The text of a scalar parameter (form and query bodies carry only text).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Top-level parameters as pairs, for a form or a query string.
pub fn pairs(params: &Map<String, Value>) -> Vec<(String, String)> {
    params.iter().map(|(k, v)| (k.clone(), text(v))).collect()
}

fn xml_element(name: &str, value: &Value, out: &mut String) {
    out.push('<');
    out.push_str(name);
    if let Value::Object(children) = value {
        // `$name` keys are the element's attributes.
        for (k, v) in children.iter().filter(|(k, _)| k.starts_with('$')) {
            out.push_str(&format!(" {}=\"{}\"", &k[1..], crate::markup::escape(&text(v))));
        }
        out.push('>');
        for (k, v) in children.iter().filter(|(k, _)| !k.starts_with('$')) {
            xml_element(k, v, out);
        }
    } else {
        out.push('>');
        out.push_str(&crate::markup::escape(&text(value)));
    }
    out.push_str(&format!("</{name}>"));
}

/// An XML document of `params` (one root element), values escaped.
pub fn xml(params: &Map<String, Value>) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    for (k, v) in params {
        xml_element(k, v, &mut out);
    }
    out
}

/// The body format of a step: the catalog's, else what its `content-type` header says, else JSON.
pub fn format_of(declared: Option<BodyFormat>, content_type: Option<&str>) -> BodyFormat {
    declared.unwrap_or(match content_type {
        Some(ct) if ct.contains("x-www-form-urlencoded") => BodyFormat::Form,
        Some(ct) if ct.contains("xml") => BodyFormat::Xml,
        _ => BodyFormat::Json,
    })
}

/// XML elements as nested objects: `<a><b>1</b></a>` → `{"a": {"b": "1"}}`, repeated
/// children as arrays, attributes dropped.
fn parse_xml(text: &str) -> Option<Map<String, Value>> {
    use xmlparser::{ElementEnd, Token, Tokenizer};
    let mut stack: Vec<(String, Map<String, Value>, String)> = vec![(String::new(), Map::new(), String::new())];
    for token in Tokenizer::from(text) {
        match token.ok()? {
            Token::ElementStart { local, .. } => stack.push((local.to_string(), Map::new(), String::new())),
            Token::Text { text } | Token::Cdata { text, .. } => {
                stack.last_mut()?.2.push_str(text.as_str());
            }
            Token::ElementEnd { end, .. } => match end {
                ElementEnd::Open => {}
                ElementEnd::Close(..) | ElementEnd::Empty => {
                    let (name, children, body) = stack.pop()?;
                    let value = if children.is_empty() {
                        Value::String(unescape(body.trim()))
                    } else {
                        Value::Object(children)
                    };
                    let parent = &mut stack.last_mut()?.1;
                    match parent.get_mut(&name) {
                        Some(Value::Array(items)) => items.push(value),
                        Some(existing) => *existing = Value::Array(vec![existing.take(), value]),
                        None => {
                            parent.insert(name, value);
                        }
                    }
                }
            },
            _ => {}
        }
    }
    (stack.len() == 1).then(|| stack.pop().map(|s| s.1)).flatten()
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// An answer's body as fields, when it has any: a JSON object, XML, or a form.
pub fn parse_answer(body: &[u8]) -> Option<Map<String, Value>> {
    let text = std::str::from_utf8(body).ok()?.trim();
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) {
        return Some(map);
    }
    if text.starts_with('<') {
        return parse_xml(text);
    }
    (text.contains('=') && !text.contains(' ')).then(|| {
        form_urlencoded::parse(text.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect()
    })
}

/// The whole answer as a token (`token_response.token` is empty): plain text, or a JSON string.
pub fn bare_token(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?.trim();
    let token = match serde_json::from_str::<Value>(text) {
        Ok(Value::String(s)) => s,
        Ok(_) => return None,
        Err(_) => text.to_owned(),
    };
    (!token.is_empty() && !token.chars().any(char::is_control) && token.len() <= 8192).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn params_render_into_each_body_format() {
        let params = json!({"request": {"control": {"senderid": "${s}", "uniqueid": false},
            "operation": {"content": {"function": {"$controlid": "c<1>", "getAPISession": ""}}}},
            "optional": "${missing}"});
        let rendered = render_params(params.as_object().unwrap(), &|t| {
            Ok(match t {
                "${s}" => Some("a&b".into()),
                "${missing}" => None,
                other => Some(other.into()),
            })
        })
        .unwrap();
        assert!(
            !rendered.contains_key("optional"),
            "an optional value left out drops its parameter"
        );
        assert_eq!(
            xml(&rendered),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><request><control><senderid>a&amp;b</senderid><uniqueid>false</uniqueid></control><operation><content><function controlid=\"c&lt;1&gt;\"><getAPISession></getAPISession></function></content></operation></request>"
        );
        assert_eq!(
            pairs(json!({"a": 1, "b": true, "c": "x"}).as_object().unwrap()),
            [
                ("a".into(), "1".into()),
                ("b".into(), "true".into()),
                ("c".into(), "x".into())
            ]
        );
    }

    #[test]
    fn answers_are_read_as_json_xml_form_or_a_bare_token() {
        let xml_answer = b"<?xml version=\"1.0\"?><response><operation><result><data><api><sessionid>s&amp;1</sessionid></api></data></result><authentication><sessiontimeout>2030-01-01T00:00:00Z</sessiontimeout></authentication></operation></response>";
        let fields = parse_answer(xml_answer).unwrap();
        assert_eq!(
            fields["response"]["operation"]["result"]["data"]["api"]["sessionid"],
            "s&1"
        );
        assert_eq!(parse_answer(b"{\"jwt\":\"t\"}").unwrap()["jwt"], "t");
        assert_eq!(parse_answer(b"token=t&x=1").unwrap()["token"], "t");
        assert_eq!(parse_answer(b"just-a-token"), None);
        assert_eq!(bare_token(b" \"abc\" ").as_deref(), Some("abc"));
        assert_eq!(bare_token(b"abc\n").as_deref(), Some("abc"));
        assert_eq!(bare_token(b"{\"a\":1}"), None);
        assert_eq!(bare_token(b""), None);
        assert_eq!(
            parse_answer(b"<a><b>1</b><b>2</b></a>").unwrap()["a"]["b"],
            json!(["1", "2"])
        );
    }
}
