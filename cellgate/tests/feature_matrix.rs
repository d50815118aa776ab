//! Keeps `docs/features.toml` honest: it must validate, it must match the
//! catalogue one-to-one, and each validation rule must actually fire.

use std::fs;
use std::path::{Path, PathBuf};

use cellgate::features::{
    self, catalogue_ids, FeatureMatrix, MatrixProblem, ProblemKind, CATALOGUE_PATH,
};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the cellgate package sits inside the workspace")
        .to_path_buf()
}

fn load_real_matrix() -> FeatureMatrix {
    match features::load(&workspace_root()) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    }
}

fn list(problems: &[MatrixProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}\n"))
        .collect::<String>()
}

#[test]
fn real_matrix_validates() {
    let matrix = load_real_matrix();
    let problems = matrix.validate(&workspace_root());
    assert!(
        problems.is_empty(),
        "{} has {} problem(s):\n{}",
        matrix.source.display(),
        problems.len(),
        list(&problems)
    );
    assert!(matrix
        .coverage_report()
        .lines()
        .last()
        .is_some_and(|l| l.starts_with("coverage: ")));
}

#[test]
fn real_matrix_matches_catalogue_one_to_one() {
    let spec = workspace_root().join(CATALOGUE_PATH);
    let markdown = match fs::read_to_string(&spec) {
        Ok(text) => text,
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!(
                "CI is set but the catalogue {} is unreadable: {e}",
                spec.display()
            )
        }
        Err(e) => {
            eprintln!(
                "skipping catalogue cross-check: cannot read {}: {e} (set CI to make this fatal)",
                spec.display()
            );
            return;
        }
    };
    let ids = catalogue_ids(&markdown);
    assert!(
        !ids.is_empty(),
        "no feature IDs found in {}; has its format changed?",
        spec.display()
    );
    let matrix = load_real_matrix();
    let problems = matrix.check_against_catalogue(&ids);
    assert!(
        problems.is_empty(),
        "matrix and catalogue ({} IDs) disagree:\n{}",
        ids.len(),
        list(&problems)
    );
}

// ---- each validation rule fires -------------------------------------------

/// A throwaway workspace root holding the given files, under Cargo's
/// per-test scratch directory.
fn scratch_root(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("feature_matrix_{name}"));
    if root.exists() {
        fs::remove_dir_all(&root).expect("clear scratch dir");
    }
    for (path, contents) in files {
        let full = root.join(path);
        fs::create_dir_all(full.parent().expect("file has a parent")).expect("create dirs");
        fs::write(&full, contents).expect("write scratch file");
    }
    fs::create_dir_all(&root).expect("create scratch root");
    root
}

fn parse(toml: &str) -> FeatureMatrix {
    match FeatureMatrix::parse(toml, Path::new("inline.toml")) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    }
}

/// Validates `toml` against `root` and returns only the problems, asserting
/// that each names a feature.
fn problems_in(toml: &str, root: &Path) -> Vec<MatrixProblem> {
    let problems = parse(toml).validate(root);
    for p in &problems {
        assert!(!p.feature.is_empty(), "problem without a feature: {p}");
    }
    problems
}

fn assert_single(problems: &[MatrixProblem], id: &str, kind: ProblemKind, needle: &str) {
    assert_eq!(
        problems.len(),
        1,
        "expected one problem, got:\n{}",
        list(problems)
    );
    let p = &problems[0];
    assert_eq!(p.kind, kind, "{p}");
    assert_eq!(p.feature, id, "{p}");
    assert!(
        p.to_string().starts_with(&format!("{id}: ")),
        "message must lead with the feature id: {p}"
    );
    assert!(p.message.contains(needle), "`{needle}` not in: {p}");
}

const TEST_FILE: &str =
    "#[test]\nfn proves_it() {}\n\n#[tokio::test]\nasync fn proves_it_async() {}\n";

#[test]
fn sound_inline_matrix_has_no_problems() {
    let root = scratch_root("sound", &[("conformance/tests/t.rs", TEST_FILE)]);
    let toml = r#"
        [[feature]]
        id = "F-6.3.2"
        title = "SIP modes"
        section = "6.3"
        status = "done"
        tests = ["conformance/tests/t.rs::proves_it", "conformance/tests/t.rs::proves_it_async"]

        [[feature]]
        id = "F-5.2.0.1"
        title = "Serial number"
        section = "5.2"
        status = "partial"

        [[feature]]
        id = "F-3.6.1"
        title = "Power LED"
        section = "3.6"
        status = "n/a"
        reason = "hardware: physical LED"
        tags = ["hardware"]
    "#;
    let problems = problems_in(toml, &root);
    assert!(problems.is_empty(), "{}", list(&problems));
    let cov = parse(toml).coverage();
    assert_eq!(cov.overall.total, 3);
    assert_eq!(cov.overall.done, 1);
    assert_eq!(cov.overall.partial, 1);
    assert_eq!(cov.overall.not_applicable, 1);
    let report = parse(toml).coverage_report();
    assert!(
        report.ends_with("coverage: 1/2 done (50.0%), 1 n/a\n"),
        "{report}"
    );
    assert!(
        report.contains("done of all features: 1/3 (33.3%)"),
        "{report}"
    );
}

#[test]
fn done_without_tests_is_reported() {
    let root = scratch_root("done_without_tests", &[]);
    let toml = r#"
        [[feature]]
        id = "F-6.6.3"
        title = "Dial timeout"
        section = "6.6"
        status = "done"
        tests = []
    "#;
    assert_single(
        &problems_in(toml, &root),
        "F-6.6.3",
        ProblemKind::DoneWithoutTests,
        "done",
    );
}

#[test]
fn reference_to_missing_file_is_reported() {
    let root = scratch_root("missing_file", &[]);
    let toml = r#"
        [[feature]]
        id = "F-6.6.3"
        title = "Dial timeout"
        section = "6.6"
        status = "done"
        tests = ["conformance/tests/nowhere.rs::proves_it"]
    "#;
    assert_single(
        &problems_in(toml, &root),
        "F-6.6.3",
        ProblemKind::MissingTestFile,
        "conformance/tests/nowhere.rs",
    );
}

#[test]
fn reference_to_missing_fn_is_reported() {
    let root = scratch_root("missing_fn", &[("conformance/tests/t.rs", TEST_FILE)]);
    // `proves` is a prefix of real names; word boundaries must reject it.
    let toml = r#"
        [[feature]]
        id = "F-6.6.3"
        title = "Dial timeout"
        section = "6.6"
        status = "partial"
        tests = ["conformance/tests/t.rs::proves"]
    "#;
    assert_single(
        &problems_in(toml, &root),
        "F-6.6.3",
        ProblemKind::MissingTestFn,
        "fn proves(",
    );
}

#[test]
fn malformed_test_reference_is_reported() {
    let root = scratch_root("malformed_ref", &[]);
    let toml = r#"
        [[feature]]
        id = "F-6.6.3"
        title = "Dial timeout"
        section = "6.6"
        status = "partial"
        tests = ["proves_it"]
    "#;
    assert_single(
        &problems_in(toml, &root),
        "F-6.6.3",
        ProblemKind::MalformedTestRef,
        "proves_it",
    );
}

#[test]
fn na_without_reason_is_reported() {
    let root = scratch_root("na_without_reason", &[]);
    for reason_line in ["", "reason = \"   \""] {
        let toml = format!(
            r#"
            [[feature]]
            id = "F-3.6.1"
            title = "Power LED"
            section = "3.6"
            status = "n/a"
            {reason_line}
            "#
        );
        assert_single(
            &problems_in(&toml, &root),
            "F-3.6.1",
            ProblemKind::MissingReason,
            "reason",
        );
    }
}

#[test]
fn duplicate_id_is_reported() {
    let root = scratch_root("duplicate_id", &[]);
    let toml = r#"
        [[feature]]
        id = "F-A.1"
        title = "INFO command"
        section = "A"
        status = "todo"

        [[feature]]
        id = "F-A.1"
        title = "INFO command again"
        section = "A"
        status = "todo"
    "#;
    assert_single(
        &problems_in(toml, &root),
        "F-A.1",
        ProblemKind::DuplicateId,
        "entry #2 repeats entry #1",
    );
}

#[test]
fn bad_status_is_reported() {
    let root = scratch_root("bad_status", &[]);
    let toml = r#"
        [[feature]]
        id = "F-7.8.1"
        title = "Ping"
        section = "7.8"
        status = "finished"
    "#;
    assert_single(
        &problems_in(toml, &root),
        "F-7.8.1",
        ProblemKind::InvalidStatus,
        "`finished`",
    );
}

#[test]
fn malformed_id_is_reported() {
    let root = scratch_root("malformed_id", &[]);
    let toml = r#"
        [[feature]]
        id = "F6.3.2"
        title = "SIP modes"
        section = "6.3"
        status = "todo"
    "#;
    assert_single(
        &problems_in(toml, &root),
        "F6.3.2",
        ProblemKind::MalformedId,
        "F-",
    );
}

#[test]
fn section_mismatch_is_reported() {
    let root = scratch_root("section_mismatch", &[]);
    let toml = r#"
        [[feature]]
        id = "F-5.2.0.4"
        title = "Uptime"
        section = "5.2.0"
        status = "todo"
    "#;
    assert_single(
        &problems_in(toml, &root),
        "F-5.2.0.4",
        ProblemKind::SectionMismatch,
        "`5.2`",
    );
}

#[test]
fn unknown_field_and_tag_are_reported() {
    let root = scratch_root("unknown_field", &[]);
    let toml = r#"
        [[feature]]
        id = "F-7.8.1"
        title = "Ping"
        section = "7.8"
        status = "todo"
        test = ["x.rs::y"]
    "#;
    assert_single(
        &problems_in(toml, &root),
        "F-7.8.1",
        ProblemKind::UnknownField,
        "`test`",
    );
    let toml = r#"
        [[feature]]
        id = "F-7.8.1"
        title = "Ping"
        section = "7.8"
        status = "todo"
        tags = ["vendor"]
    "#;
    assert_single(
        &problems_in(toml, &root),
        "F-7.8.1",
        ProblemKind::UnknownTag,
        "`vendor`",
    );
}

#[test]
fn hardware_feature_must_be_na() {
    let root = scratch_root("hardware_not_na", &[]);
    let toml = r#"
        [[feature]]
        id = "F-3.6.1"
        title = "Power LED"
        section = "3.6"
        status = "todo"
        tags = ["hardware"]
    "#;
    assert_single(
        &problems_in(toml, &root),
        "F-3.6.1",
        ProblemKind::HardwareNotNa,
        "hardware",
    );
}

#[test]
fn unparsable_matrix_names_the_source() {
    let err = match FeatureMatrix::parse("[[feature]]\nid = 3\n", Path::new("inline.toml")) {
        Ok(_) => panic!("an integer id must not parse"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("inline.toml"), "{err}");
}

#[test]
fn catalogue_cross_check_reports_missing_extra_and_duplicates() {
    let matrix = parse(
        r#"
        [[feature]]
        id = "F-1.1"
        title = "Lines"
        section = "1"
        status = "todo"

        [[feature]]
        id = "F-9.1"
        title = "Invented"
        section = "9"
        status = "todo"
    "#,
    );
    let catalogue: Vec<String> = ["F-1.1", "F-1.2", "F-1.2"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let problems = matrix.check_against_catalogue(&catalogue);
    let kinds: Vec<(String, ProblemKind)> = problems
        .iter()
        .map(|p| (p.feature.clone(), p.kind))
        .collect();
    assert!(kinds.contains(&("F-1.2".into(), ProblemKind::MissingFromMatrix)));
    assert!(kinds.contains(&("F-1.2".into(), ProblemKind::DuplicateInCatalogue)));
    assert!(kinds.contains(&("F-9.1".into(), ProblemKind::NotInCatalogue)));
    assert_eq!(problems.len(), 3, "{}", list(&problems));
}
