//! The seeds folder: local documents turned into feed entries as good as any publisher's.
//!
//! Every `.txt` (see `text`), `.md` (`markdown`) and `.html` (`html`) file below the folder is an
//! entry; sub-folder names become tags. Its identity is its path relative to the folder, so it
//! is the same on every machine and after restarts: editing a file updates its entry, renaming
//! makes a new one, deleting removes it. A file that cannot be used is skipped with a warning
//! naming it and what was done; the others are unaffected. This module reads files; it never
//! does HTTP. `watch` notices changes without waiting for the schedule.

mod html;
mod markdown;
mod prose;
mod text;
pub mod watch;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chrono::{DateTime, Utc};

use crate::config::SeedsSettings;
use crate::dedup;
use crate::model::{Entry, EntryId, Person, SEEDS_SOURCE};
use crate::normalize::{strip_forbidden_xml_chars, truncate_at_word};

#[derive(Debug, thiserror::Error)]
pub enum SeedsError {
    #[error(
        "seeds folder {dir}: cannot list it: {source} (create it, or fix seeds.dir in the config)"
    )]
    ListFolder {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// What a seed file says, whatever its format.
#[derive(Debug, Default)]
struct SeedDocument {
    title: Option<String>,
    date: Option<DateTime<Utc>>,
    updated: Option<DateTime<Utc>>,
    link: Option<String>,
    author: Option<String>,
    tags: Vec<String>,
    /// Replaces the path as the entry's identity.
    id: Option<String>,
    draft: bool,
    /// Sanitized HTML.
    content_html: String,
    /// Plain text of the first paragraph: the title and summary are made from it.
    first_paragraph: Option<String>,
    /// What was left out of the file, and why.
    warnings: Vec<String>,
}

/// The formats we read, by file extension.
#[derive(Debug, Clone, Copy)]
enum Format {
    Text,
    Markdown,
    Html,
}

fn format_of(path: &Path) -> Option<Format> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    match extension.as_str() {
        "txt" => Some(Format::Text),
        "md" | "markdown" => Some(Format::Markdown),
        "html" | "htm" => Some(Format::Html),
        _ => None,
    }
}

/// Hidden files and what editors leave behind while saving.
fn is_ignored(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with(".tmp")
        || name == "4913"
}

/// Reads every seed file below the folder, in path order.
pub fn read_folder(settings: &SeedsSettings) -> Result<Vec<Entry>, SeedsError> {
    let mut paths = Vec::new();
    collect_files(&settings.dir, &mut paths)?;
    paths.sort();
    Ok(paths
        .iter()
        .filter_map(|path| read_file(settings, path))
        .collect())
}

/// Every seed file's path, size and modification time: what a rescan depends on. Reading files
/// makes inotify report access events (our own rescans among them); comparing this tells those
/// from changes.
pub(crate) fn fingerprint(dir: &Path) -> Vec<(PathBuf, Option<(u64, SystemTime)>)> {
    let mut paths = Vec::new();
    if collect_files(dir, &mut paths).is_err() {
        return Vec::new();
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let metadata = std::fs::metadata(&path)
                .ok()
                .and_then(|metadata| Some((metadata.len(), metadata.modified().ok()?)));
            (path, metadata)
        })
        .collect()
}

fn collect_files(dir: &Path, paths: &mut Vec<PathBuf>) -> Result<(), SeedsError> {
    let list_error = |source| SeedsError::ListFolder {
        dir: dir.to_path_buf(),
        source,
    };
    for item in std::fs::read_dir(dir).map_err(list_error)? {
        let item = item.map_err(list_error)?;
        let name = item.file_name();
        if name.to_str().is_none_or(is_ignored) {
            continue;
        }
        let path = item.path();
        // file_type does not follow symbolic links, so a link cannot make us walk in circles.
        match item.file_type() {
            Ok(kind) if kind.is_dir() => {
                if let Err(error) = collect_files(&path, paths) {
                    tracing::warn!("seed folder skipped: {error}");
                }
            }
            Ok(_) if format_of(&path).is_some() => paths.push(path),
            _ => {}
        }
    }
    Ok(())
}

fn read_file(settings: &SeedsSettings, path: &Path) -> Option<Entry> {
    let warn = |what: &str| tracing::warn!(file = %path.display(), "seed file: {what}");
    let skip = |why: &str| {
        warn(&format!("{why}; skipped"));
        None
    };
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) => return skip(&format!("cannot read it ({error})")),
    };
    if metadata.len() > settings.max_bytes {
        return skip(&format!(
            "it is {} bytes, over seeds.max_bytes ({})",
            metadata.len(),
            settings.max_bytes
        ));
    }
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) => return skip(&format!("cannot read it ({error})")),
    };
    if bytes.contains(&0) {
        return skip("it is binary, not text");
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            warn("not valid UTF-8; read as Windows-1252");
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(error.as_bytes());
            text.into_owned()
        }
    };
    if text.trim().is_empty() {
        return skip("it is empty");
    }
    let relative = path.strip_prefix(&settings.dir).unwrap_or(path);
    let key = relative
        .iter()
        .map(|part| part.to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    let folders: Vec<String> = relative
        .parent()
        .into_iter()
        .flat_map(Path::iter)
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    let document = match format_of(path)? {
        Format::Text => text::parse(&strip_forbidden_xml_chars(&text), &settings.drop_lines),
        Format::Markdown => markdown::parse(&strip_forbidden_xml_chars(&text)),
        Format::Html => html::parse(&strip_forbidden_xml_chars(&text)),
    };
    for warning in &document.warnings {
        warn(warning);
    }
    if document.draft {
        tracing::debug!(file = %path.display(), "seed file is a draft; skipped");
        return None;
    }
    if document.first_paragraph.is_none() && document.title.is_none() {
        return skip("it has no text");
    }
    if document.date.is_none() {
        warn("it has no date; using its modification time");
    }
    let modified: DateTime<Utc> = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH).into();
    Some(to_entry(&key, document, folders, modified))
}

/// Builds the entry for one seed: `key` is its path relative to the folder, `folders` the
/// sub-folders it is in (they become tags), `modified` stands in for a missing date.
fn to_entry(
    key: &str,
    document: SeedDocument,
    folders: Vec<String>,
    modified: DateTime<Utc>,
) -> Entry {
    let first = document.first_paragraph.as_deref().unwrap_or_default();
    let title = document
        .title
        .filter(|title| !title.trim().is_empty())
        .map(|title| truncate_at_word(title.trim(), prose::MAX_TITLE_CHARS))
        .unwrap_or_else(|| prose::title_from(first));
    let summary = (!first.is_empty())
        .then(|| html_escape::encode_text(&prose::summary_from(first)).into_owned());
    let content_hash = dedup::content_hash(
        Some(&document.content_html),
        None,
        &title,
        document.link.as_deref(),
    );
    let mut categories = folders;
    for tag in document.tags {
        if !categories.contains(&tag) {
            categories.push(tag);
        }
    }
    let key = document.id.unwrap_or_else(|| key.to_string());
    Entry {
        id: EntryId::derive(SEEDS_SOURCE, &key),
        source: SEEDS_SOURCE.to_string(),
        key,
        title,
        link: document
            .link
            .and_then(|link| crate::normalize::absolute_url(&link, None)),
        authors: document
            .author
            .map(|name| Person {
                name,
                email: None,
                uri: None,
            })
            .into_iter()
            .collect(),
        published: Some(document.date.unwrap_or(modified)),
        updated: document.updated,
        summary,
        content: Some(document.content_html),
        categories,
        enclosures: Vec::new(),
        image: None,
        content_hash,
        also_in: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn modified() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap()
    }

    fn text_entry(key: &str, text: &str) -> Entry {
        let noise = crate::config::default_noise_lines();
        to_entry(key, text::parse(text, &noise), Vec::new(), modified())
    }

    #[test]
    fn without_a_date_the_modification_time_is_used() {
        let entry = text_entry("a.txt", "date night ideas.\nSecond line.");
        assert_eq!(entry.published, Some(modified()));
        assert_eq!(entry.title, "date night ideas.");
    }

    #[test]
    fn ids_come_from_the_path_and_the_body_is_the_hash() {
        let a = text_entry("a.txt", "Text.");
        let b = text_entry("a.txt", "Other text.");
        let c = text_entry("b.txt", "Text.");
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert_eq!(a.content_hash, c.content_hash);
    }

    #[test]
    fn folders_and_tags_become_categories_and_the_summary_is_the_first_paragraph() {
        let noise: Vec<String> = Vec::new();
        let entry = to_entry(
            "news/a.txt",
            text::parse("tags: local, news\n\nFirst para. More.\n\nSecond.", &noise),
            vec!["news".to_string()],
            modified(),
        );
        assert_eq!(entry.categories, ["news", "local"]);
        assert_eq!(entry.summary.as_deref(), Some("First para. More."));
        assert_eq!(entry.title, "First para.");
    }

    #[test]
    fn editor_leftovers_and_hidden_files_are_ignored() {
        for name in [
            ".hidden.txt",
            "a.txt~",
            ".a.txt.swp",
            "a.swx",
            ".#a.txt",
            "4913",
        ] {
            assert!(is_ignored(name), "{name}");
        }
        assert!(!is_ignored("a.txt"));
    }

    #[test]
    fn characters_xml_forbids_are_dropped() {
        let noise: Vec<String> = Vec::new();
        let text = strip_forbidden_xml_chars("Bell\u{7} and form\u{C}feed.");
        let entry = to_entry("a.txt", text::parse(&text, &noise), Vec::new(), modified());
        assert_eq!(entry.title, "Bell and formfeed.");
    }
}
