//! The layering rule of docs/ARCHITECTURE.md: the engine sees modules only through `hal`,
//! and `hal` depends on no other cellgate crate.

use std::path::PathBuf;

fn dependencies(crate_dir: &str) -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(crate_dir)
        .join("Cargo.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let manifest: toml::Table = text
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ["dependencies", "dev-dependencies", "build-dependencies"]
        .iter()
        .filter_map(|section| manifest.get(*section)?.as_table())
        .flat_map(|table| table.keys().cloned())
        .collect()
}

#[test]
fn engine_depends_on_hal_not_on_backends_or_simulator() {
    let deps = dependencies("engine");
    assert!(deps.iter().any(|d| d == "cellgate-hal"), "{deps:?}");
    for forbidden in ["cellgate-backends", "cellgate-simulator", "cellgate"] {
        assert!(
            !deps.iter().any(|d| d == forbidden),
            "engine depends on {forbidden}"
        );
    }
}

#[test]
fn hal_depends_on_no_other_cellgate_crate() {
    let deps = dependencies("hal");
    let ours: Vec<_> = deps
        .iter()
        .filter(|d| d.starts_with("cellgate") && *d != "cellgate-hal")
        .collect();
    assert!(ours.is_empty(), "{ours:?}");
}

#[test]
fn backends_and_simulator_do_not_depend_on_the_engine() {
    for crate_dir in ["backends", "simulator"] {
        let deps = dependencies(crate_dir);
        assert!(
            !deps.iter().any(|d| d == "cellgate-engine"),
            "{crate_dir} depends on the engine"
        );
    }
}

#[test]
fn policy_depends_only_on_hal() {
    let deps = dependencies("policy");
    let ours: Vec<_> = deps
        .iter()
        .filter(|d| d.starts_with("cellgate") && *d != "cellgate-hal" && *d != "cellgate-policy")
        .collect();
    assert!(ours.is_empty(), "{ours:?}");
}
