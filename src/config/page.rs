//! What a source says about how it is requested and read: `headers:` and `user_agent:` for its
//! requests, and an `html:` or `json:` recipe for a page that has no feed. Selectors and
//! JSONPaths are parsed here, so `tributary check` and a reload refuse one that cannot work at
//! its line and column rather than at the next poll.

use std::collections::BTreeMap;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use super::ConfigError;
use super::env::Expanded;
use crate::parse::page::{HtmlRecipe, JsonPick, JsonRecipe, Pick, Recipe};

/// An `html:` block: CSS selectors, `item` for the entries, the others inside an item.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHtml {
    item: Spanned<Expanded>,
    title: Spanned<Expanded>,
    link: Spanned<Expanded>,
    date: Option<Spanned<Expanded>>,
    summary: Option<Spanned<Expanded>>,
    content: Option<Spanned<Expanded>>,
    author: Option<Spanned<Expanded>>,
    image: Option<Spanned<Expanded>>,
}

/// A `json:` block: JSONPaths, `items` in the document, the others in an item.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJson {
    items: Spanned<Expanded>,
    title: Spanned<Expanded>,
    link: Spanned<Expanded>,
    date: Option<Spanned<Expanded>>,
    summary: Option<Spanned<Expanded>>,
    content: Option<Spanned<Expanded>>,
    author: Option<Spanned<Expanded>>,
    image: Option<Spanned<Expanded>>,
}

/// A source's `html:`, `json:` (at most one of them) and request settings, as written.
pub(super) struct RawReading {
    pub html: Option<Spanned<RawHtml>>,
    pub json: Option<Spanned<RawJson>>,
    pub headers: BTreeMap<String, Spanned<Expanded>>,
    pub user_agent: Option<Spanned<Expanded>>,
}

type ErrorAt<'a> = &'a dyn Fn(Location, String) -> ConfigError;

/// The recipe of a source (`key` is `sources[N]`), if it has one.
pub(super) fn validate_recipe(
    raw: &RawReading,
    key: &str,
    error: ErrorAt,
) -> Result<Option<Recipe>, ConfigError> {
    match (&raw.html, &raw.json) {
        (Some(_), Some(json)) => Err(error(
            json.referenced,
            format!("{key}: html and json are both set: a source is read one way; keep one"),
        )),
        (Some(html), None) => Ok(Some(Recipe::Html(validate_html(
            &html.value,
            &format!("{key}.html"),
            error,
        )?))),
        (None, Some(json)) => Ok(Some(Recipe::Json(validate_json(
            &json.value,
            &format!("{key}.json"),
            error,
        )?))),
        (None, None) => Ok(None),
    }
}

/// Parses a recipe's fields with `parse`, each error at its value's line and column under
/// `key.field`.
struct Fields<'a, P> {
    key: &'a str,
    error: ErrorAt<'a>,
    parse: fn(&str) -> Result<P, String>,
}

impl<P> Fields<'_, P> {
    fn required(&self, field: &str, written: &Spanned<Expanded>) -> Result<P, ConfigError> {
        (self.parse)(&written.value)
            .map_err(|why| (self.error)(written.referenced, format!("{}.{field}: {why}", self.key)))
    }

    fn optional(
        &self,
        field: &str,
        written: &Option<Spanned<Expanded>>,
    ) -> Result<Option<P>, ConfigError> {
        written
            .as_ref()
            .map(|written| self.required(field, written))
            .transpose()
    }
}

fn validate_html(raw: &RawHtml, key: &str, error: ErrorAt) -> Result<HtmlRecipe, ConfigError> {
    let fields = Fields {
        key,
        error,
        parse: Pick::parse,
    };
    let item = fields.required("item", &raw.item)?;
    if !item.is_plain_css() {
        return Err(error(
            raw.item.referenced,
            format!(
                "{key}.item: {:?} must be a CSS selector without @attribute: it finds the elements that are entries",
                raw.item.value
            ),
        ));
    }
    Ok(HtmlRecipe {
        item,
        title: fields.required("title", &raw.title)?,
        link: fields.required("link", &raw.link)?,
        date: fields.optional("date", &raw.date)?,
        summary: fields.optional("summary", &raw.summary)?,
        content: fields.optional("content", &raw.content)?,
        author: fields.optional("author", &raw.author)?,
        image: fields.optional("image", &raw.image)?,
    })
}

fn validate_json(raw: &RawJson, key: &str, error: ErrorAt) -> Result<JsonRecipe, ConfigError> {
    let fields = Fields {
        key,
        error,
        parse: JsonPick::parse,
    };
    Ok(JsonRecipe {
        items: fields.required("items", &raw.items)?,
        title: fields.required("title", &raw.title)?,
        link: fields.required("link", &raw.link)?,
        date: fields.optional("date", &raw.date)?,
        summary: fields.optional("summary", &raw.summary)?,
        content: fields.optional("content", &raw.content)?,
        author: fields.optional("author", &raw.author)?,
        image: fields.optional("image", &raw.image)?,
    })
}

/// The headers sent with every request of a source: `headers:`, and `user_agent:` in place of
/// ours.
pub(super) fn validate_headers(
    raw: &RawReading,
    key: &str,
    error: ErrorAt,
) -> Result<HeaderMap, ConfigError> {
    let mut headers = HeaderMap::new();
    let value = |written: &Spanned<Expanded>, field: &str| {
        HeaderValue::from_str(&written.value).map_err(|_| {
            error(
                written.referenced,
                format!(
                    "{key}.{field}: a header value cannot hold line breaks or control characters"
                ),
            )
        })
    };
    for (name, written) in &raw.headers {
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            error(
                written.referenced,
                format!("{key}.headers: {name:?} is not an HTTP header name"),
            )
        })?;
        headers.insert(header, value(written, &format!("headers.{name}"))?);
    }
    if let Some(user_agent) = &raw.user_agent {
        headers.insert(USER_AGENT, value(user_agent, "user_agent")?);
    }
    Ok(headers)
}
