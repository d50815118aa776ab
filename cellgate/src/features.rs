//! The feature matrix: `docs/features.toml` parsed into typed records,
//! checked for consistency, and summarised as a coverage report.
//!
//! The matrix has one entry per feature ID of the catalogue
//! (`../shared/spec/FEATURES.md`). Each entry carries a status and the tests
//! that prove it. [`FeatureMatrix::validate`] keeps the file honest: CI runs
//! it, so a `done` feature without a test, or a reference to a test that was
//! renamed or deleted, fails the build.
//!
//! A test reference has the form `<path from the workspace root>::<fn name>`,
//! for example `conformance/tests/sip_call.rs::invite_reaches_simulated_phone`.
//! It resolves when the file exists and contains `fn <name>(` (also as
//! `async fn`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

/// Where the matrix lives, relative to the workspace root, so that every
/// caller (CLI, tests) reads the same file.
pub const MATRIX_PATH: &str = "docs/features.toml";

/// Where the feature catalogue lives, relative to the workspace root; the
/// matrix is cross-checked against the IDs it defines.
pub const CATALOGUE_PATH: &str = "../shared/spec/FEATURES.md";

/// Tags a feature may carry, copied from the catalogue's own tags so that
/// hardware and vendor-service items can be filtered without re-reading it.
pub const KNOWN_TAGS: [&str; 2] = ["hardware", "vendor-service"];

/// How far a feature has got. Parsed leniently so that a misspelt status is
/// reported by [`FeatureMatrix::validate`] with the feature's ID, rather than
/// aborting the whole parse.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(from = "String")]
pub enum Status {
    /// Not started.
    Todo,
    /// Some of the behaviour exists, not all of it.
    Partial,
    /// Implemented and covered by at least one named test.
    Done,
    /// Out of scope for software (needs a `reason`).
    NotApplicable,
    /// Anything else found in the file; always a validation problem.
    Invalid(String),
}

impl Status {
    /// The spelling used in the TOML file, so reports match what people edit.
    pub fn as_str(&self) -> &str {
        match self {
            Status::Todo => "todo",
            Status::Partial => "partial",
            Status::Done => "done",
            Status::NotApplicable => "n/a",
            Status::Invalid(s) => s,
        }
    }
}

impl From<String> for Status {
    fn from(s: String) -> Self {
        match s.as_str() {
            "todo" => Status::Todo,
            "partial" => Status::Partial,
            "done" => Status::Done,
            "n/a" => Status::NotApplicable,
            _ => Status::Invalid(s),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `[[feature]]` entry: the unit the team tracks and CI checks.
#[derive(Debug, Clone, Deserialize)]
pub struct Feature {
    /// Catalogue ID such as `F-6.3.2` or `F-A.1`; stable, never renumbered.
    pub id: String,
    /// Short summary in the project's own words.
    pub title: String,
    /// Catalogue section of the ID (`5.2` for `F-5.2.0.n`, `A` for `F-A.n`).
    pub section: String,
    /// Progress of the feature.
    pub status: Status,
    /// Test references proving the feature (`<path>::<fn name>`).
    #[serde(default)]
    pub tests: Vec<String>,
    /// Why the feature is out of scope; required for `n/a`.
    #[serde(default)]
    pub reason: Option<String>,
    /// Catalogue tags, see [`KNOWN_TAGS`].
    #[serde(default)]
    pub tags: Vec<String>,
    /// Keys we do not know (typos such as `test = [...]`); kept so they can
    /// be reported against the feature instead of silently ignored.
    #[serde(flatten)]
    pub unknown_fields: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatrix {
    #[serde(default)]
    feature: Vec<Feature>,
}

/// The parsed matrix, in file order, plus where it came from (for messages).
#[derive(Debug, Clone)]
pub struct FeatureMatrix {
    /// Entries in file order.
    pub features: Vec<Feature>,
    /// File the matrix was read from (or a label for inline text).
    pub source: PathBuf,
}

/// Why the matrix could not be read at all. Problems inside a readable
/// matrix are [`MatrixProblem`]s instead.
#[derive(Debug)]
pub enum MatrixError {
    /// The file could not be read.
    Io {
        /// File that failed.
        path: PathBuf,
        /// Underlying error.
        source: io::Error,
    },
    /// The file is not valid TOML or lacks a required field.
    Parse {
        /// File that failed.
        path: PathBuf,
        /// Parser message, including line and column.
        message: String,
    },
}

impl fmt::Display for MatrixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MatrixError::Io { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            MatrixError::Parse { path, message } => {
                write!(f, "cannot parse {}: {message}", path.display())
            }
        }
    }
}

impl std::error::Error for MatrixError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MatrixError::Io { source, .. } => Some(source),
            MatrixError::Parse { .. } => None,
        }
    }
}

/// Which rule a [`MatrixProblem`] broke, so tests and tools can match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemKind {
    /// The ID is not of the form `F-<n>.<n>…` or `F-<letter>.<n>…`.
    MalformedId,
    /// The same ID appears more than once.
    DuplicateId,
    /// `section` does not match the section implied by the ID.
    SectionMismatch,
    /// The title is empty.
    EmptyTitle,
    /// The status is not one of `todo`, `partial`, `done`, `n/a`.
    InvalidStatus,
    /// `n/a` without a non-empty `reason`.
    MissingReason,
    /// `done` without any test reference.
    DoneWithoutTests,
    /// A test reference is not `<relative path>.rs::<identifier>`.
    MalformedTestRef,
    /// The same test reference is listed twice for one feature.
    DuplicateTestRef,
    /// The file named by a test reference does not exist or is unreadable.
    MissingTestFile,
    /// The file exists but has no `fn <name>(`.
    MissingTestFn,
    /// A tag outside [`KNOWN_TAGS`].
    UnknownTag,
    /// A `hardware` feature whose status is not `n/a`.
    HardwareNotNa,
    /// A key the matrix format does not define.
    UnknownField,
    /// A catalogue ID with no matrix entry.
    MissingFromMatrix,
    /// A matrix ID the catalogue does not define.
    NotInCatalogue,
    /// The catalogue itself defines an ID more than once.
    DuplicateInCatalogue,
}

/// One thing wrong with the matrix, always naming the feature it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixProblem {
    /// Feature ID, or `#<n>` (1-based entry index) when the ID is unusable.
    pub feature: String,
    /// Rule that was broken.
    pub kind: ProblemKind,
    /// Human-readable explanation.
    pub message: String,
}

impl fmt::Display for MatrixProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.feature, self.message)
    }
}

/// A parsed test reference `<path>::<fn name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRef {
    /// Path relative to the workspace root.
    pub path: PathBuf,
    /// Name of the test function.
    pub name: String,
}

impl TestRef {
    /// Splits and checks a reference, explaining what is wrong when it is
    /// not usable.
    pub fn parse(reference: &str) -> Result<TestRef, String> {
        let Some((path, name)) = reference.rsplit_once("::") else {
            return Err(format!(
                "test reference `{reference}` lacks `::<fn name>` (expected `<path>::<fn name>`)"
            ));
        };
        if !is_identifier(name) {
            return Err(format!(
                "test reference `{reference}`: `{name}` is not a function name"
            ));
        }
        if !path.ends_with(".rs") {
            return Err(format!(
                "test reference `{reference}`: `{path}` is not a .rs file"
            ));
        }
        let path = PathBuf::from(path);
        let inside_workspace = path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if !inside_workspace {
            return Err(format!(
                "test reference `{reference}`: path must be relative to the workspace root, without `..`"
            ));
        }
        Ok(TestRef {
            path,
            name: name.to_string(),
        })
    }
}

/// Status counts, the raw material of the coverage figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounts {
    /// All entries.
    pub total: usize,
    /// Entries with status `todo`.
    pub todo: usize,
    /// Entries with status `partial`.
    pub partial: usize,
    /// Entries with status `done`.
    pub done: usize,
    /// Entries with status `n/a`.
    pub not_applicable: usize,
    /// Entries with an unrecognised status.
    pub invalid: usize,
}

impl StatusCounts {
    fn add(&mut self, status: &Status) {
        self.total += 1;
        match status {
            Status::Todo => self.todo += 1,
            Status::Partial => self.partial += 1,
            Status::Done => self.done += 1,
            Status::NotApplicable => self.not_applicable += 1,
            Status::Invalid(_) => self.invalid += 1,
        }
    }

    /// Features that software is expected to implement (total minus `n/a`).
    pub fn in_scope(&self) -> usize {
        self.total - self.not_applicable
    }

    /// `done / total` as a percentage (0 when empty).
    pub fn done_of_total_pct(&self) -> f64 {
        percent(self.done, self.total)
    }

    /// `done / (total - n/a)` as a percentage (0 when nothing is in scope):
    /// the headline figure, since hardware items can never be done.
    pub fn done_of_in_scope_pct(&self) -> f64 {
        percent(self.done, self.in_scope())
    }
}

/// Coverage overall and per top-level section (`1`..`7`, `A`..`H`).
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    /// Counts over the whole matrix.
    pub overall: StatusCounts,
    /// Counts per top-level section, in catalogue order.
    pub by_section: Vec<(String, StatusCounts)>,
}

/// Reads and parses `<workspace_root>/docs/features.toml`.
pub fn load(workspace_root: &Path) -> Result<FeatureMatrix, MatrixError> {
    load_file(&workspace_root.join(MATRIX_PATH))
}

/// Reads and parses a matrix file at an arbitrary path.
pub fn load_file(path: &Path) -> Result<FeatureMatrix, MatrixError> {
    let text = fs::read_to_string(path).map_err(|source| MatrixError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    FeatureMatrix::parse(&text, path)
}

impl FeatureMatrix {
    /// Parses matrix text; `source` is only used in messages. Lets tests and
    /// tools check inline TOML without touching the filesystem.
    pub fn parse(text: &str, source: &Path) -> Result<FeatureMatrix, MatrixError> {
        let raw: RawMatrix = toml::from_str(text).map_err(|e| MatrixError::Parse {
            path: source.to_path_buf(),
            message: e.to_string(),
        })?;
        Ok(FeatureMatrix {
            features: raw.feature,
            source: source.to_path_buf(),
        })
    }

    /// Looks a feature up by ID.
    pub fn get(&self, id: &str) -> Option<&Feature> {
        self.features.iter().find(|f| f.id == id)
    }

    /// Checks every rule of the matrix format and resolves test references
    /// against `workspace_root`. An empty result means the matrix is sound.
    pub fn validate(&self, workspace_root: &Path) -> Vec<MatrixProblem> {
        let mut problems = Vec::new();
        let mut first_seen: HashMap<&str, usize> = HashMap::new();
        let mut files: HashMap<PathBuf, Result<String, String>> = HashMap::new();

        for (index, feature) in self.features.iter().enumerate() {
            let label = if feature.id.trim().is_empty() {
                format!("#{}", index + 1)
            } else {
                feature.id.clone()
            };
            let mut report = |kind: ProblemKind, message: String| {
                problems.push(MatrixProblem {
                    feature: label.clone(),
                    kind,
                    message,
                });
            };

            match parse_id(&feature.id) {
                Err(why) => report(
                    ProblemKind::MalformedId,
                    format!("malformed id `{}`: {why}", feature.id),
                ),
                Ok(parts) => {
                    let expected = section_of(&parts);
                    if feature.section != expected {
                        report(
                            ProblemKind::SectionMismatch,
                            format!(
                                "section is `{}` but the id belongs to section `{expected}`",
                                feature.section
                            ),
                        );
                    }
                }
            }
            if let Some(first) = first_seen.get(feature.id.as_str()) {
                report(
                    ProblemKind::DuplicateId,
                    format!(
                        "duplicate id: entry #{} repeats entry #{}",
                        index + 1,
                        first + 1
                    ),
                );
            } else {
                first_seen.insert(&feature.id, index);
            }
            if feature.title.trim().is_empty() {
                report(ProblemKind::EmptyTitle, "title is empty".to_string());
            }
            if let Status::Invalid(s) = &feature.status {
                report(
                    ProblemKind::InvalidStatus,
                    format!("status `{s}` is not one of todo, partial, done, n/a"),
                );
            }
            let has_reason = feature
                .reason
                .as_deref()
                .is_some_and(|r| !r.trim().is_empty());
            if feature.status == Status::NotApplicable && !has_reason {
                report(
                    ProblemKind::MissingReason,
                    "status is n/a but `reason` is missing or empty".to_string(),
                );
            }
            if feature.status == Status::Done && feature.tests.is_empty() {
                report(
                    ProblemKind::DoneWithoutTests,
                    "status is done but `tests` names no test".to_string(),
                );
            }
            for tag in &feature.tags {
                if !KNOWN_TAGS.contains(&tag.as_str()) {
                    report(
                        ProblemKind::UnknownTag,
                        format!("unknown tag `{tag}` (known: {})", KNOWN_TAGS.join(", ")),
                    );
                }
            }
            if feature.tags.iter().any(|t| t == "hardware")
                && feature.status != Status::NotApplicable
            {
                report(
                    ProblemKind::HardwareNotNa,
                    format!(
                        "tagged hardware but status is `{}` (expected n/a)",
                        feature.status
                    ),
                );
            }
            for key in feature.unknown_fields.keys() {
                report(
                    ProblemKind::UnknownField,
                    format!(
                        "unknown field `{key}` (known: id, title, section, status, tests, reason, tags)"
                    ),
                );
            }

            for (n, reference) in feature.tests.iter().enumerate() {
                if feature.tests[..n].contains(reference) {
                    report(
                        ProblemKind::DuplicateTestRef,
                        format!("test `{reference}` is listed twice"),
                    );
                    continue;
                }
                let test = match TestRef::parse(reference) {
                    Ok(t) => t,
                    Err(why) => {
                        report(ProblemKind::MalformedTestRef, why);
                        continue;
                    }
                };
                let full = workspace_root.join(&test.path);
                let contents = files
                    .entry(full.clone())
                    .or_insert_with(|| fs::read_to_string(&full).map_err(|e| e.to_string()));
                match contents {
                    Err(why) => report(
                        ProblemKind::MissingTestFile,
                        format!("test `{reference}`: cannot read {}: {why}", full.display()),
                    ),
                    Ok(text) => {
                        if !defines_fn(text, &test.name) {
                            report(
                                ProblemKind::MissingTestFn,
                                format!(
                                    "test `{reference}`: {} has no `fn {}(`",
                                    test.path.display(),
                                    test.name
                                ),
                            );
                        }
                    }
                }
            }
        }
        problems
    }

    /// Compares the matrix with the IDs the catalogue defines (as returned by
    /// [`catalogue_ids`]): every catalogue ID must appear exactly once, and
    /// the matrix must not invent IDs.
    pub fn check_against_catalogue(&self, catalogue: &[String]) -> Vec<MatrixProblem> {
        let mut problems = Vec::new();
        let mut in_catalogue: BTreeMap<&str, usize> = BTreeMap::new();
        for id in catalogue {
            *in_catalogue.entry(id).or_default() += 1;
        }
        let mut in_matrix: BTreeMap<&str, usize> = BTreeMap::new();
        for f in &self.features {
            *in_matrix.entry(&f.id).or_default() += 1;
        }
        for (id, n) in &in_catalogue {
            if *n > 1 {
                problems.push(MatrixProblem {
                    feature: id.to_string(),
                    kind: ProblemKind::DuplicateInCatalogue,
                    message: format!("the catalogue defines this id {n} times"),
                });
            }
            match in_matrix.get(id) {
                None => problems.push(MatrixProblem {
                    feature: id.to_string(),
                    kind: ProblemKind::MissingFromMatrix,
                    message: format!(
                        "defined in the catalogue but missing from {}",
                        self.source.display()
                    ),
                }),
                Some(m) if *m > 1 => problems.push(MatrixProblem {
                    feature: id.to_string(),
                    kind: ProblemKind::DuplicateId,
                    message: format!("appears {m} times in {}", self.source.display()),
                }),
                Some(_) => {}
            }
        }
        for id in in_matrix.keys() {
            if !in_catalogue.contains_key(id) {
                problems.push(MatrixProblem {
                    feature: id.to_string(),
                    kind: ProblemKind::NotInCatalogue,
                    message: "in the matrix but not defined in the catalogue".to_string(),
                });
            }
        }
        problems
    }

    /// Counts statuses overall and per top-level section.
    pub fn coverage(&self) -> Coverage {
        let mut overall = StatusCounts::default();
        let mut by_section: Vec<(String, StatusCounts)> = Vec::new();
        for f in &self.features {
            overall.add(&f.status);
            let top = f.section.split('.').next().unwrap_or_default().to_string();
            match by_section.iter_mut().find(|(s, _)| *s == top) {
                Some((_, counts)) => counts.add(&f.status),
                None => {
                    let mut counts = StatusCounts::default();
                    counts.add(&f.status);
                    by_section.push((top, counts));
                }
            }
        }
        by_section.sort_by_key(|(a, _)| section_sort_key(a));
        Coverage {
            overall,
            by_section,
        }
    }

    /// A plain-text table of [`FeatureMatrix::coverage`] for `cellgate
    /// features`, ending with the headline `coverage: …` line.
    pub fn coverage_report(&self) -> String {
        let cov = self.coverage();
        let mut out = String::new();
        out.push_str(&format!(
            "{:<8} {:>5} {:>5} {:>7} {:>5} {:>5} {:>8}\n",
            "section", "total", "todo", "partial", "done", "n/a", "done%"
        ));
        let row = |name: &str, c: &StatusCounts| {
            // A section that is entirely n/a has no meaningful percentage.
            let pct = if c.in_scope() == 0 {
                "-".to_string()
            } else {
                format!("{:.1}%", c.done_of_in_scope_pct())
            };
            format!(
                "{:<8} {:>5} {:>5} {:>7} {:>5} {:>5} {:>8}\n",
                name, c.total, c.todo, c.partial, c.done, c.not_applicable, pct
            )
        };
        for (section, counts) in &cov.by_section {
            out.push_str(&row(section, counts));
        }
        out.push_str(&row("all", &cov.overall));
        let o = &cov.overall;
        if o.invalid > 0 {
            out.push_str(&format!(
                "{} feature(s) have an invalid status; run validation\n",
                o.invalid
            ));
        }
        out.push_str(&format!(
            "done of all features: {}/{} ({:.1}%)\n",
            o.done,
            o.total,
            o.done_of_total_pct()
        ));
        out.push_str(&format!(
            "coverage: {}/{} done ({:.1}%), {} n/a\n",
            o.done,
            o.in_scope(),
            o.done_of_in_scope_pct(),
            o.not_applicable
        ));
        out
    }
}

/// Extracts the feature IDs the catalogue defines, in order and with
/// repeats, so the matrix can be cross-checked. A definition is a bullet
/// starting `- **F-…` or a table row whose first cell is exactly an ID;
/// mentions elsewhere (cross-references, fenced code) are ignored.
pub fn catalogue_ids(markdown: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut in_fence = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        let candidate = if let Some(rest) = line.strip_prefix("- **") {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
                .unwrap_or(rest.len());
            Some(rest[..end].trim_end_matches('.'))
        } else if let Some(rest) = line.strip_prefix('|') {
            rest.split('|').next().map(str::trim)
        } else {
            None
        };
        if let Some(id) = candidate {
            if id.starts_with("F-") && parse_id(id).is_ok() {
                ids.push(id.to_string());
            }
        }
    }
    ids
}

/// One component of an ID after `F-`: a number or an appendix letter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum IdPart {
    Num(u32),
    Letter(String),
}

/// Parses `F-<chapter or letter>.<n>[.<n>…]`. The chapter is a positive
/// number or one uppercase letter; the rest are numbers; the last (the
/// running number) is at least 1. `0` is allowed in the middle, as in
/// `F-5.2.0.1`.
fn parse_id(id: &str) -> Result<Vec<IdPart>, String> {
    let Some(body) = id.strip_prefix("F-") else {
        return Err("must start with `F-`".to_string());
    };
    let pieces: Vec<&str> = body.split('.').collect();
    if pieces.len() < 2 {
        return Err("needs a section and a running number, e.g. `F-6.3.2`".to_string());
    }
    let mut parts = Vec::with_capacity(pieces.len());
    for (i, piece) in pieces.iter().enumerate() {
        let is_letter = piece.len() == 1 && piece.chars().all(|c| c.is_ascii_uppercase());
        if i == 0 && is_letter {
            parts.push(IdPart::Letter(piece.to_string()));
            continue;
        }
        let digits = !piece.is_empty() && piece.chars().all(|c| c.is_ascii_digit());
        if !digits || (piece.len() > 1 && piece.starts_with('0')) {
            return Err(format!("`{piece}` is not a number"));
        }
        let n: u32 = piece
            .parse()
            .map_err(|_| format!("`{piece}` is too large"))?;
        if n == 0 && (i == 0 || i == pieces.len() - 1) {
            return Err("the chapter and the running number start at 1".to_string());
        }
        parts.push(IdPart::Num(n));
    }
    Ok(parts)
}

/// The section an ID belongs to: all parts but the running number, with a
/// trailing `0` dropped (`F-5.2.0.3` belongs to `5.2`).
fn section_of(parts: &[IdPart]) -> String {
    let mut head = &parts[..parts.len().saturating_sub(1)];
    if head.len() > 1 && head.last() == Some(&IdPart::Num(0)) {
        head = &head[..head.len() - 1];
    }
    head.iter()
        .map(|p| match p {
            IdPart::Num(n) => n.to_string(),
            IdPart::Letter(l) => l.clone(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Orders numbered chapters before appendices, numerically.
fn section_sort_key(section: &str) -> (u8, u32, String) {
    match section.parse::<u32>() {
        Ok(n) => (0, n, String::new()),
        Err(_) => (1, 0, section.to_string()),
    }
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_alphabetic() || c == '_' => chars.all(is_ident_char),
        _ => false,
    }
}

/// True when `source` contains `fn <name>(` with `fn` and `<name>` as whole
/// words (so `async fn`, `pub fn` and extra spaces match, while `fn name2(`
/// and `my_fn name(` do not).
fn defines_fn(source: &str, name: &str) -> bool {
    let mut from = 0;
    while let Some(pos) = source[from..].find("fn") {
        let start = from + pos;
        from = start + 2;
        let before_ok = source[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !is_ident_char(c));
        if !before_ok {
            continue;
        }
        let after_fn = &source[start + 2..];
        let rest = after_fn.trim_start();
        if rest.len() == after_fn.len() {
            continue; // `fn` must be followed by whitespace
        }
        let Some(after_name) = rest.strip_prefix(name) else {
            continue;
        };
        if after_name.trim_start().starts_with('(') {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_and_map_to_sections() {
        let sec = |id: &str| parse_id(id).map(|p| section_of(&p));
        assert_eq!(sec("F-6.3.2"), Ok("6.3".to_string()));
        assert_eq!(sec("F-5.2.0.1"), Ok("5.2".to_string()));
        assert_eq!(sec("F-5.2.1.14"), Ok("5.2.1".to_string()));
        assert_eq!(sec("F-A.1"), Ok("A".to_string()));
        assert_eq!(sec("F-1.2"), Ok("1".to_string()));
        for bad in [
            "6.3.2", "F-6", "F-6.", "F-6..1", "F-6.3.0", "F-a.1", "F-AB.1", "F-6.03", "F-6.3.x",
        ] {
            assert!(parse_id(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn fn_matching_respects_word_boundaries() {
        let src = "async fn alpha() {}\npub fn  beta (x: u8) {}\nfn gamma2() {}\nfn my_fn delta() {}\nlet x = \"fn epsilon\";";
        assert!(defines_fn(src, "alpha"));
        assert!(defines_fn(src, "beta"));
        assert!(!defines_fn(src, "gamma"));
        assert!(!defines_fn(src, "delta"));
        assert!(!defines_fn(src, "epsilon"));
        assert!(!defines_fn("fnalpha() {}", "alpha"));
    }

    #[test]
    fn test_refs_must_be_relative_rust_paths() {
        assert!(TestRef::parse("conformance/tests/a.rs::b_c").is_ok());
        assert!(TestRef::parse("conformance/tests/a.rs").is_err());
        assert!(TestRef::parse("conformance/tests/a.rs::").is_err());
        assert!(TestRef::parse("conformance/tests/a.rs::1x").is_err());
        assert!(TestRef::parse("conformance/tests/a.txt::b").is_err());
        assert!(TestRef::parse("/abs/a.rs::b").is_err());
        assert!(TestRef::parse("../x/a.rs::b").is_err());
    }

    #[test]
    fn catalogue_definitions_are_bullets_and_first_table_cells() {
        let md = "- **F-1.1 — One.** text F-9.9\n| F-A.1 | `x` | y |\n| F-3.2.13 relay; F-6.4.11 | a |\n  - **F-2.2 — nested, ignored**\n```\n- **F-7.7.7 — fenced**\n```\n- **F-1.2 — Two [hardware].**\n";
        assert_eq!(catalogue_ids(md), vec!["F-1.1", "F-A.1", "F-1.2"]);
    }
}
