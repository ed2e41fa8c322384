//! Properties of the template parser and renderer over generated inputs (a seeded generator,
//! so a failure reproduces): parsing never panics; a template built from known parts parses
//! back to exactly its variables; whatever an end user's value holds, a URL's host is the
//! template's (or the value fills exactly its host label); nested helpers equal their
//! composition.

use super::*;

/// xorshift64*: small, seeded, good enough to spread cases.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    /// A string of `len` characters drawn from hostile and ordinary ones.
    fn text(&mut self, max: usize) -> String {
        const PARTS: &[&str] = &[
            "a", "Z", "0", "-", "_", ".", "~", "/", "?", "#", "@", ":", "%", "%2F", "\\", " ", "\r\n", "\0", "${", "}",
            "(", ")", ", ", "||", "$", "{", "а", "\u{ff0e}", "evil.com", "..", "&", "=", "+",
        ];
        (0..self.below(max + 1)).map(|_| self.pick(PARTS)).collect()
    }
}

const CASES: usize = 4000;

#[test]
fn parsing_any_text_never_panics_and_variables_agree_with_rendering() {
    let mut g = Gen(0x5eed_0001);
    for _ in 0..CASES {
        let template = g.text(24);
        let names = variables(&template);
        let vars = Vars::default();
        // Rendering may fail, but only with a template error, and never on a name it did not read.
        if let Err(TemplateError::Missing(name)) = render_text(&template, &vars, Slot::Param) {
            assert!(names.contains(&name), "{template:?}: {name:?} not in {names:?}");
        }
    }
}

#[test]
fn a_template_built_from_parts_parses_back_to_its_variables() {
    let mut g = Gen(0x5eed_0002);
    const NAMES: &[&str] = &[
        "connectionConfig.a",
        "credentials.b",
        "apiKey",
        "step1.x.y",
        "now:YYYY",
        "random",
    ];
    const LITS: &[&str] = &["https://", "api.", "/v1/", "?q=", ":", "-", "Basic ", ", "];
    for _ in 0..CASES {
        let mut template = String::new();
        let mut expected = Vec::new();
        for _ in 0..g.below(6) {
            match g.below(3) {
                0 => template.push_str(g.pick(LITS)),
                1 => {
                    let n = g.pick(NAMES);
                    template.push_str(&format!("${{{n}}}"));
                    expected.push(n.to_owned());
                }
                _ => {
                    let n = g.pick(NAMES);
                    let f = g.pick(helpers::NAMES);
                    template.push_str(&format!("${{{f}(x${{{n}}}y)}}"));
                    expected.push(n.to_owned());
                }
            }
        }
        assert_eq!(variables(&template), expected, "{template:?}");
    }
}

#[test]
fn no_end_user_value_changes_a_urls_host() {
    let mut g = Gen(0x5eed_0003);
    let cases: &[(&str, Option<&str>)] = &[
        (
            "https://${connectionConfig.v}.zendesk.com/oauth/tokens",
            Some(".zendesk.com"),
        ),
        (
            "https://login.microsoftonline.com/${connectionConfig.v}/oauth2/token",
            None,
        ),
        ("https://api.example.com/x?key=${connectionConfig.v}&b=1", None),
        ("https://api.example.com/${sha256Hex(${connectionConfig.v})}", None),
        ("https://api.example.com/x?sig=${base64(${connectionConfig.v})}", None),
        ("https://api.example.com/${now:YYYY}/${connectionConfig.v}", None),
    ];
    for _ in 0..CASES {
        let value = g.text(10);
        for (template, label_of) in cases {
            let config: Map<String, Value> = [("v".to_owned(), Value::String(value.clone()))].into_iter().collect();
            let vars = Vars::config(&config, None);
            let Ok(url) = render_url(template, &vars) else { continue };
            let host = url.host_str().unwrap_or_default();
            match label_of {
                Some(suffix) => assert_eq!(host, format!("{value}{suffix}").to_ascii_lowercase(), "{value:?}"),
                None => {
                    let fixed = Url::parse(&template.replace("${connectionConfig.v}", "v")).ok();
                    let fixed_host = fixed.as_ref().and_then(|u| u.host_str()).unwrap_or("api.example.com");
                    assert_eq!(host, fixed_host, "{template} with {value:?}");
                }
            }
            assert!(url.username().is_empty() && url.fragment().is_none(), "{value:?}");
        }
    }
}

#[test]
fn nested_helpers_equal_their_composition() {
    use base64::Engine;
    use sha2::Digest;
    let mut g = Gen(0x5eed_0004);
    for _ in 0..CASES / 4 {
        let value: String = g.text(8).chars().filter(|c| !c.is_control()).collect();
        let mut vars = Vars::default();
        vars.credentials.insert("v".into(), value.clone());
        let mut template = "${credentials.v}".to_owned();
        let mut expected = value.clone();
        if value.is_empty() {
            continue;
        }
        for _ in 0..1 + g.below(4) {
            if g.below(2) == 0 {
                template = format!("${{base64({template})}}");
                expected = base64::engine::general_purpose::STANDARD.encode(&expected);
            } else {
                template = format!("${{sha256Hex(<{template}>)}}");
                expected = hex::encode(sha2::Sha256::digest(format!("<{expected}>")));
            }
        }
        assert_eq!(
            render_text(&template, &vars, Slot::Header).unwrap(),
            expected,
            "{template}"
        );
    }
}
