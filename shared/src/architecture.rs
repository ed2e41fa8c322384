//! Checks of the crate's shape, run with the unit tests: the top-level modules of `src/` form
//! no circle (from their `crate::<module>` and `super::` paths), no module outside `api/`
//! (and the Lambda adapter, `lambda.rs`) names an HTTP status or response type, and no module
//! outside `outbound/` names the HTTP client crate (`reqwest`): every outgoing request goes
//! through the one guarded client. Sources are read as text, comments and string literals left
//! out, test modules skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What only `api/` (and the Lambda adapter) may name: the server framework, the `http` crate,
/// status codes and response types.
const HTTP_ONLY: &[&str] = &["axum", "http", "StatusCode", "IntoResponse", "Response"];
const HTTP_ALLOWED: &[&str] = &["api", "lambda"];

/// The HTTP client crate, and the one module that may name it.
const CLIENT_CRATE: &str = "reqwest";
const CLIENT_ALLOWED: &str = "outbound";

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `src/auth/oauth2/mod.rs` → `[auth, oauth2]`, `src/lib.rs` → `[]`.
fn module_path(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).unwrap();
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib") {
        parts.push(stem.to_owned());
    }
    parts
}

/// The source without comments, string and character literals (each replaced by a space).
fn code_only(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < c.len() {
        let next = c.get(i + 1).copied();
        if c[i] == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if c[i] == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c[i] == 'r' && (next == Some('"') || next == Some('#')) && !ident_char(c.get(i.wrapping_sub(1))) {
            // A raw string: r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if c.get(j) != Some(&'"') {
                out.push(c[i]);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= c.len() {
                    break;
                }
                if c[j] == '"' && (0..hashes).all(|h| c.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push(' ');
            i = j;
        } else if c[i] == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push(' ');
        } else if c[i] == '\'' {
            // A character literal ('x', '\n', '\u{2028}'), or a lifetime ('a), kept as is.
            if next == Some('\\') {
                let mut j = i + 2;
                while j < c.len() && c[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
                out.push(' ');
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push(' ');
            } else {
                out.push(c[i]);
                i += 1;
            }
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

fn ident_char(c: Option<&char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || *c == '_')
}

/// The code outside `#[cfg(test)]` items: test modules may use what production code may not.
fn without_tests(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        // Skip the item: up to its `;` (a `mod x;` declaration) or its balanced `{…}`.
        let mut depth = 0usize;
        let mut end = after.len();
        for (i, ch) in after.char_indices() {
            match ch {
                ';' if depth == 0 => {
                    end = i + 1;
                    break;
                }
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Identifiers and `::`, in order, with the inline modules (`mod x {`) that enclose them.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Path,
    Open,
    Close,
    Other,
}

fn tokens(code: &str) -> Vec<Token> {
    let c: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Token::Ident(c[start..i].iter().collect()));
            continue;
        }
        match ch {
            ':' if c.get(i + 1) == Some(&':') => {
                out.push(Token::Path);
                i += 2;
                continue;
            }
            '{' => out.push(Token::Open),
            '}' => out.push(Token::Close),
            c if c.is_whitespace() => {}
            _ => out.push(Token::Other),
        }
        i += 1;
    }
    out
}

/// The top-level modules a file's code refers to: `crate::x…`, `crate::{x, y…}`, `super::…`
/// resolved from where it stands, and (in `lib.rs`) bare `x::…` of its own modules.
fn references(file: &Path, code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let toks = tokens(code);
    let base = module_path(file);
    let is_root = base.is_empty();
    // (inline module name, brace depth when it opened)
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut found = BTreeSet::new();
    let top_of = |path: &[String], next: Option<&Token>| -> Option<String> {
        match path.first() {
            Some(top) => Some(top.clone()),
            None => match next {
                Some(Token::Ident(name)) if modules.contains(name) => Some(name.clone()),
                _ => Some("crate".to_owned()),
            },
        }
    };
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Token::Open => depth += 1,
            Token::Close => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
            }
            Token::Ident(kw) if kw == "mod" => {
                if let (Some(Token::Ident(name)), Some(Token::Open)) = (toks.get(i + 1), toks.get(i + 2)) {
                    inline.push((name.clone(), depth));
                    depth += 1;
                    i += 3;
                    continue;
                }
            }
            Token::Ident(kw) if kw == "crate" && toks.get(i + 1) == Some(&Token::Path) => {
                match toks.get(i + 2) {
                    Some(Token::Open) => {
                        // `crate::{a, b::c, …}`: the first name of each item at the group's top level.
                        let mut j = i + 3;
                        let mut level = 1;
                        let mut at_item = true;
                        while j < toks.len() && level > 0 {
                            match &toks[j] {
                                Token::Open => level += 1,
                                Token::Close => level -= 1,
                                Token::Ident(name) if level == 1 && at_item => {
                                    found.insert(if modules.contains(name) {
                                        name.clone()
                                    } else {
                                        "crate".to_owned()
                                    });
                                    at_item = false;
                                }
                                Token::Other if level == 1 => at_item = true,
                                _ => {}
                            }
                            j += 1;
                        }
                    }
                    next => {
                        found.extend(top_of(&[], next));
                    }
                }
            }
            Token::Ident(kw) if kw == "super" && toks.get(i + 1) == Some(&Token::Path) => {
                let mut path: Vec<String> = base.clone();
                path.extend(inline.iter().map(|(n, _)| n.clone()));
                let mut j = i;
                while matches!(&toks.get(j), Some(Token::Ident(k)) if k == "super")
                    && toks.get(j + 1) == Some(&Token::Path)
                {
                    path.pop();
                    j += 2;
                }
                found.extend(top_of(&path, toks.get(j)));
                i = j;
                continue;
            }
            Token::Ident(name)
                if is_root
                    && modules.contains(name)
                    && toks.get(i + 1) == Some(&Token::Path)
                    && !matches!(i.checked_sub(1).and_then(|p| toks.get(p)), Some(Token::Path)) =>
            {
                found.insert(name.clone());
            }
            _ => {}
        }
        i += 1;
    }
    found
}

struct Crate {
    /// Top-level module (or `crate` for `lib.rs`) → the code of its files, tests left out.
    code: BTreeMap<String, Vec<(PathBuf, String)>>,
    modules: BTreeSet<String>,
}

/// Files declared as `#[cfg(test)] mod name;`: test code, like inline test modules.
fn test_files(files: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for file in files {
        let code = code_only(&std::fs::read_to_string(file).unwrap());
        let dir = match file.file_name().and_then(|n| n.to_str()) {
            Some("mod.rs" | "lib.rs") => file.parent().unwrap().to_owned(),
            _ => file.with_extension(""),
        };
        let mut rest = code.as_str();
        while let Some(at) = rest.find("#[cfg(test)]") {
            rest = &rest[at + "#[cfg(test)]".len()..];
            // `mod name;`, `pub mod name;`, `pub(crate) mod name;`
            let decl: Vec<&str> = rest.split_whitespace().take(3).collect();
            let Some(at) = decl.iter().position(|w| *w == "mod") else {
                continue;
            };
            let Some(name) = decl.get(at + 1).map(|n| n.trim_end_matches(';')) else {
                continue;
            };
            out.insert(dir.join(format!("{name}.rs")));
            out.insert(dir.join(name).join("mod.rs"));
        }
    }
    out
}

fn read_crate() -> Crate {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    let tests = test_files(&files);
    files.retain(|f| !tests.iter().any(|t| f.starts_with(t.with_extension("")) || f == t));
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|f| module_path(f).first().cloned())
        .filter(|m| m != "architecture")
        .collect();
    let mut code: BTreeMap<String, Vec<(PathBuf, String)>> = BTreeMap::new();
    for file in files {
        let top = module_path(&file)
            .first()
            .cloned()
            .unwrap_or_else(|| "crate".to_owned());
        if top == "architecture" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        code.entry(top)
            .or_default()
            .push((file, without_tests(&code_only(&text))));
    }
    Crate { code, modules }
}

/// Every circle of the graph, each as the path that closes it.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        found: &mut Vec<Vec<String>>,
    ) {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut circle = stack[at..].to_vec();
            circle.push(node.to_owned());
            found.push(circle);
            return;
        }
        if done.contains(node) {
            return;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, stack, done, found);
        }
        stack.pop();
        done.insert(node.to_owned());
    }
    let mut found = Vec::new();
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, graph, &mut Vec::new(), &mut done, &mut found);
    }
    found
}

fn module_graph(krate: &Crate) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, files) in &krate.code {
        let edges = graph.entry(module.clone()).or_default();
        for (file, code) in files {
            edges.extend(references(file, code, &krate.modules));
        }
        edges.remove(module);
    }
    graph
}

#[test]
fn the_top_level_modules_form_no_circle() {
    let graph = module_graph(&read_crate());
    assert!(graph.len() > 10, "the crate was read: {graph:?}");
    assert!(graph["api"].contains("flows") || graph["api"].contains("connections"));
    let circles = cycles(&graph);
    assert!(
        circles.is_empty(),
        "module circles: {}",
        circles.iter().map(|c| c.join(" → ")).collect::<Vec<_>>().join("; ")
    );
}

/// The names of `HTTP_ONLY` a file's code uses: a bare name, or the first segment of a path
/// (`http::…`, not `crate::http::…`).
fn http_names(code: &str) -> BTreeSet<String> {
    let toks = tokens(code);
    let mut found = BTreeSet::new();
    for (i, tok) in toks.iter().enumerate() {
        let Token::Ident(name) = tok else { continue };
        let in_path = i > 0 && toks[i - 1] == Token::Path;
        let starts_path = toks.get(i + 1) == Some(&Token::Path);
        let named = match name.as_str() {
            // A crate, not a field or a module of ours (`state.http`, `crate::http::…`).
            "axum" | "http" => starts_path && !in_path,
            other => HTTP_ONLY.contains(&other),
        };
        if named {
            found.insert(name.clone());
        }
    }
    found
}

#[test]
fn only_api_and_the_lambda_adapter_know_http_statuses_and_responses() {
    let krate = read_crate();
    let mut offences = Vec::new();
    for (module, files) in &krate.code {
        if HTTP_ALLOWED.contains(&module.as_str()) {
            continue;
        }
        for (file, code) in files {
            let names = http_names(code);
            if !names.is_empty() {
                offences.push(format!("{}: {names:?}", file.display()));
            }
        }
    }
    assert!(offences.is_empty(), "HTTP outside api/:\n{}", offences.join("\n"));
}

/// Whether a file's code names `crate_name` as the first segment of a path (`reqwest::Client`,
/// `use reqwest::{…}`), not as a field or a module of ours.
fn names_crate(code: &str, crate_name: &str) -> bool {
    let toks = tokens(code);
    toks.iter().enumerate().any(|(i, tok)| {
        matches!(tok, Token::Ident(name) if name == crate_name)
            && toks.get(i + 1) == Some(&Token::Path)
            && !(i > 0 && toks[i - 1] == Token::Path)
    })
}

#[test]
fn only_the_outbound_module_names_the_http_client() {
    let krate = read_crate();
    assert!(
        krate.code[CLIENT_ALLOWED]
            .iter()
            .any(|(_, code)| names_crate(code, CLIENT_CRATE)),
        "the scan finds the client where it is"
    );
    let offences: Vec<String> = krate
        .code
        .iter()
        .filter(|(module, _)| module.as_str() != CLIENT_ALLOWED)
        .flat_map(|(_, files)| files)
        .filter(|(_, code)| names_crate(code, CLIENT_CRATE))
        .map(|(file, _)| file.display().to_string())
        .collect();
    assert!(
        offences.is_empty(),
        "{CLIENT_CRATE} outside {CLIENT_ALLOWED}/ (send through `state.outbound` instead):\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_scanner_resolves_paths_and_ignores_comments_strings_and_tests() {
    let modules: BTreeSet<String> = ["api", "store", "domain"].iter().map(|s| s.to_string()).collect();
    let code = code_only(
        "use crate::{store::X, AppState};\n// crate::api::x\nlet s = \"crate::api\"; let c = '{';\nfn f<'a>() { super::domain::Y }\n#[cfg(test)]\nmod tests { use crate::api::Z; }",
    );
    let code = without_tests(&code);
    let found = references(&src().join("error.rs"), &code, &modules);
    let expected: BTreeSet<String> = ["store", "crate", "domain"].iter().map(|s| s.to_string()).collect();
    assert_eq!(found, expected);
    let inline = code_only("mod inner { use super::store::S; }");
    assert_eq!(
        references(&src().join("api/mod.rs"), &inline, &modules),
        BTreeSet::from(["api".to_owned()])
    );
    let graph = BTreeMap::from([
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["a".to_owned()])),
    ]);
    assert_eq!(cycles(&graph), vec![vec!["a", "b", "a"]]);
    assert_eq!(
        http_names(
            "use axum::http::StatusCode; let u = crate::http::Client; state.http.get(); reqwest::header::ACCEPT"
        ),
        BTreeSet::from(["axum".to_owned(), "StatusCode".to_owned()])
    );
    let client = |text: &str| names_crate(&without_tests(&code_only(text)), CLIENT_CRATE);
    assert!(client("let c = reqwest::Client::new();"));
    assert!(client("use reqwest::{header, Method};"));
    assert!(!client(
        "let r = state.reqwest; // reqwest::Client\nlet s = \"reqwest::get\";"
    ));
    assert!(!client("let m = crate::outbound::reqwest::Method::GET;"));
    assert!(!client(
        "#[cfg(test)]\nmod tests { fn t() { reqwest::Client::new(); } }"
    ));
}
