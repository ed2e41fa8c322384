//! The catalog a new integration starts from: searched and filtered on the server (the
//! script re-runs the search as the person types), and what a provider asks of each
//! connection.

use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;

use super::page::{self, Page, Tab};
use super::{base, Signed};
use crate::api::extract::ApiQuery;
use crate::api::html::{escape, path_segment, query_value};
use crate::domain::AuthMode;
use crate::providers::{catalog, schema::Provider, CUSTOM_OAUTH2};
use crate::AppState;

const CATALOG_PAGE: usize = 48;

pub(super) fn mode_label(mode: AuthMode) -> &'static str {
    match mode {
        AuthMode::OAuth2 => "OAuth 2.0",
        AuthMode::OAuth2Cc => "OAuth 2.0 client credentials",
        AuthMode::ApiKey => "API key",
        AuthMode::Basic => "Basic (user name and password)",
        other => other.as_str(),
    }
}

#[derive(Deserialize)]
pub struct CatalogQuery {
    q: Option<String>,
    category: Option<String>,
    page: Option<usize>,
}

fn matches(p: &Provider, needle: &str, category: &str) -> bool {
    (needle.is_empty() || p.name.to_lowercase().contains(needle) || p.display_name.to_lowercase().contains(needle))
        && (category.is_empty() || p.categories.iter().any(|c| c == category))
}

/// `GET /console/catalog`: the catalog, searched and filtered on the server (the
/// script re-runs the same search as the person types).
pub async fn page(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    ApiQuery(q): ApiQuery<CatalogQuery>,
) -> Response {
    let b = base(&state);
    let needle = q.q.clone().unwrap_or_default().trim().to_lowercase();
    let category = q.category.clone().unwrap_or_default();
    let found: Vec<&Provider> = catalog()
        .providers()
        .filter(|p| matches(p, &needle, &category))
        .collect();
    let page_no = q.page.unwrap_or(0);
    let shown = found.iter().skip(page_no * CATALOG_PAGE).take(CATALOG_PAGE);
    let cards: String = shown
        .map(|p| {
            let supported = crate::auth::scheme(p.auth_mode).is_some();
            let action = if supported {
                format!(r#"<a href="{b}/catalog/{}">Configure<span class="sr-only"> {}</span></a>"#, path_segment(&p.name), escape(&p.display_name))
            } else {
                r#"<span class="muted">Not supported yet</span>"#.to_owned()
            };
            format!(
                r#"<li class="card"><h2 class="h3">{}</h2><p class="muted"><code>{}</code> · {}</p><p class="muted">{}</p>{action}</li>"#,
                escape(&p.display_name),
                escape(&p.name),
                mode_label(p.auth_mode),
                escape(&p.categories.join(", ")),
            )
        })
        .collect();
    let mut categories: Vec<&str> = catalog()
        .providers()
        .flat_map(|p| p.categories.iter().map(String::as_str))
        .collect();
    categories.sort_unstable();
    categories.dedup();
    let options: String = std::iter::once(r#"<option value="">All categories</option>"#.to_owned())
        .chain(categories.iter().map(|c| {
            let sel = if *c == category { " selected" } else { "" };
            format!(r#"<option value="{0}"{sel}>{0}</option>"#, escape(c))
        }))
        .collect();
    let pages = found.len().div_ceil(CATALOG_PAGE);
    let link = |n: usize| {
        format!(
            "{b}/catalog?q={}&category={}&page={n}",
            query_value(&needle),
            query_value(&category)
        )
    };
    let mut pager = String::new();
    if page_no > 0 {
        pager += &format!(r#"<a href="{}" rel="prev">Previous</a> "#, link(page_no - 1));
    }
    if page_no + 1 < pages {
        pager += &format!(r#"<a href="{}" rel="next">Next</a>"#, link(page_no + 1));
    }
    let body = format!(
        r#"<h1>Add an integration</h1>
<form method="get" action="{b}/catalog" class="filters" role="search" data-live-search="catalog-results">
<div class="field"><label for="q">Search the catalog</label><input id="q" name="q" type="search" value="{}" autocomplete="off"></div>
<div class="field"><label for="category">Category</label><select id="category" name="category">{options}</select></div>
<button type="submit">Search</button>
</form>
<p><a href="{b}/catalog/{CUSTOM_OAUTH2}">Your own OAuth 2.0 server</a> (<code>{CUSTOM_OAUTH2}</code>: you give its authorization and token URLs).</p>
<div id="catalog-results" aria-live="polite"><p class="muted">{} of {} APIs{}</p><ul class="cards">{cards}</ul><nav class="pager" aria-label="Catalog pages">{pager}</nav></div>"#,
        escape(&needle),
        found.len(),
        catalog().len(),
        if pages > 1 {
            format!(", page {} of {pages}", page_no + 1)
        } else {
            String::new()
        },
    );
    page::render(
        &state,
        Some(&signed),
        Page::new("Add an integration", Tab::Integrations, body),
    )
}

/// What the provider asks of each connection: the connection config fields (with the rules
/// the server checks) and the credential fields of its mode.
pub fn needs(provider: Option<&Provider>) -> String {
    let Some(p) = provider else {
        return "<p>Each connection needs only the OAuth authorization.</p>".to_owned();
    };
    let describe = |name: &str, spec: &crate::providers::schema::FieldSpec| {
        let mut rules = Vec::new();
        if let Some(pattern) = &spec.pattern {
            rules.push(format!("pattern <code>{}</code>", escape(pattern)));
        }
        if let Some(format) = spec.format {
            rules.push(format!("format {}", escape(&format!("{format:?}").to_lowercase())));
        }
        if let Some(values) = &spec.allowed {
            rules.push(format!("one of {}", escape(&values.join(", "))));
        }
        if let Some(example) = &spec.example {
            rules.push(format!("e.g. <code>{}</code>", escape(example)));
        }
        let required = if spec.required() { "required" } else { "optional" };
        format!(
            "<li><code>{}</code> ({required}){}{}</li>",
            escape(name),
            if rules.is_empty() { "" } else { ": " },
            rules.join("; ")
        )
    };
    let list = |fields: Option<&crate::providers::schema::Fields>, automated: bool| -> String {
        fields
            .into_iter()
            .flatten()
            .filter(|(_, s)| s.automated.unwrap_or(false) == automated)
            .map(|(n, s)| describe(n, s))
            .collect()
    };
    let config = list(p.connection_config.as_ref(), false);
    let creds = list(p.credentials.as_ref(), false);
    let mut out = String::new();
    out += &if config.is_empty() {
        "<p>No connection config: every connection uses the same URLs.</p>".to_owned()
    } else {
        format!("<p>Connection config each end user gives (checked before anything is stored or redirected):</p><ul>{config}</ul>")
    };
    if !creds.is_empty() {
        out += &format!("<p>Credential fields:</p><ul>{creds}</ul>");
    }
    out
}
