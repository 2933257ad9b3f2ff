//! A module's interface follows from its declarations alone.
//!
//! Incremental checking settles every module's interface from its
//! declarations first, in import order, and only then checks all bodies at
//! once (`lks::incremental`). That is right only if the declared interfaces
//! are exactly the interfaces a full check produces: each case below is a
//! program, checked both ways, module by module in import order the way
//! incremental checking does it. Broken programs must not get an interface
//! from their declarations either when the declarations themselves are wrong.

use std::collections::BTreeMap;
use std::path::Path;

use lockstep_core::diagnostic::DiagnosticStyle;
use lockstep_core::lks::check::{declared_interfaces, ModuleInterface};
use lockstep_core::lks::modules::{
    parse_project, ModuleGraph, ParsedModule, ParsedProject, ProjectSources, SourceFile,
};
use lockstep_core::source::SourceMap;

fn sources(files: &[(&str, &str)]) -> ProjectSources {
    let mut files: Vec<SourceFile> =
        files.iter().map(|(module, text)| SourceFile::new(*module, format!("{module}.lks"), *text)).collect();
    files.sort_by(|a, b| a.module.cmp(&b.module));
    ProjectSources { files, stamps: None }
}

/// Each module's declared interface, worked out alone against its imports'
/// declared interfaces, in import order; `Err` names the first module whose
/// declarations were refused.
fn declared_one_by_one(files: &[(&str, &str)]) -> Result<BTreeMap<String, ModuleInterface>, String> {
    let sources = sources(files);
    let (project, diagnostics) = parse_project(Path::new("."), &sources);
    assert!(diagnostics.is_empty(), "the cases parse");
    let (graph, errors) = ModuleGraph::build(&project);
    assert!(errors.is_empty(), "the cases have a sound import graph");
    let mut interfaces: BTreeMap<String, ModuleInterface> = BTreeMap::new();
    for name in graph.init_order() {
        let module = project.module(&name).expect("a module of the graph");
        let file = sources.files.iter().find(|f| f.module == name).expect("its source");
        let mut map = SourceMap::new();
        let id = map.add(file.display_path.clone(), file.text.clone());
        let (ast, _) = lockstep_core::lks::parser::parse_module(id, &file.text);
        let alone = ParsedProject { sources: map, modules: vec![ParsedModule { name: name.clone(), file: id, ast }] };
        assert_eq!(alone.modules[0].ast.items.len(), module.ast.items.len());
        let known = graph.imports[&name].iter().filter_map(|i| interfaces.get_key_value(i));
        let mut declared = declared_interfaces(&alone, known, &graph).map_err(|_| name.clone())?;
        let interface = declared.remove(&name).expect("the module's own interface");
        interfaces.insert(name, interface);
    }
    Ok(interfaces)
}

/// A program: `(module, text)` pairs.
type Program<'a> = &'a [(&'a str, &'a str)];

enum Expect {
    /// Checks; the declared interfaces are the checked ones.
    Same,
    /// The body of this module has an error the declarations cannot see;
    /// the declared interfaces exist all the same.
    BodyError,
    /// The declarations of this module are refused.
    Refused(&'static str),
}

fn check(name: &str, files: &[(&str, &str)], expect: &Expect) {
    let declared = declared_one_by_one(files);
    let checked = lockstep_core::lks::check_sources(Path::new("."), &sources(files), DiagnosticStyle::Short);
    match expect {
        Expect::Same => {
            let checked = checked.unwrap_or_else(|e| panic!("{name}: does not check: {e}"));
            let declared = declared.unwrap_or_else(|m| panic!("{name}: declarations of `{m}` refused"));
            assert_eq!(declared, checked.interfaces, "{name}: declared interfaces differ from checked ones");
        }
        Expect::BodyError => {
            assert!(checked.is_err(), "{name}: the case should not check");
            assert!(declared.is_ok(), "{name}: declarations alone should be accepted");
        }
        Expect::Refused(module) => {
            assert!(checked.is_err(), "{name}: the case should not check");
            assert_eq!(declared.err().as_deref(), Some(*module), "{name}: which module's declarations are refused");
        }
    }
}

#[test]
fn declared_interfaces_are_the_checked_interfaces() {
    let tour: Vec<(String, String)> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/tour"))
        .expect("examples/tour")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "lks"))
        .map(|p| {
            let module = p.file_stem().expect("a stem").to_string_lossy().into_owned();
            (module, std::fs::read_to_string(&p).expect("readable"))
        })
        .collect();
    let tour: Vec<(&str, &str)> = tour.iter().map(|(m, t)| (m.as_str(), t.as_str())).collect();
    check("examples/tour", &tour, &Expect::Same);

    let cases: &[(&str, Program, Expect)] = &[
        (
            "constants through a chain of imports",
            &[
                ("a", "pub const BASE: i64 = 7;\nconst HIDDEN: i64 = 1;"),
                ("b", "import a;\npub const TWICE: i64 = a::BASE * 2;\npub const ON: bool = TWICE > 10;"),
                ("main", "import b;\nfn main() -> i64 { if b::ON { b::TWICE } else { 0 } }"),
            ],
            Expect::Same,
        ),
        (
            "constants used before they are defined, private and public items",
            &[
                ("m", "pub const L: i64 = S * S;\nconst S: i64 = 3;\npub global g: bool = true;\nglobal h: i64 = f(1);\nfn f(x: i64) -> i64 { x }\npub fn p(a: i64, b: bool) { }"),
                ("main", "import m;\nfn main() -> i64 { m::p(m::L, m::g); m::L }"),
            ],
            Expect::Same,
        ),
        (
            "a body error is not a declaration error",
            &[
                ("m", "pub fn f(x: i64) -> i64 { x + true }"),
                ("main", "import m;\nfn main() -> i64 { m::f(1) }"),
            ],
            Expect::BodyError,
        ),
        (
            "an unknown type in a signature is refused",
            &[("m", "pub fn f(x: u8) -> i64 { 0 }"), ("main", "import m;\nfn main() -> i64 { m::f(1) }")],
            Expect::Refused("m"),
        ),
        (
            "a constant that cannot be evaluated is refused",
            &[("m", "pub const C: i64 = 1 / 0;"), ("main", "import m;\nfn main() -> i64 { m::C }")],
            Expect::Refused("m"),
        ),
        (
            "a name defined twice is refused",
            &[("m", "pub fn f() {}\npub const f: i64 = 1;"), ("main", "import m;\nfn main() -> i64 { 0 }")],
            Expect::Refused("m"),
        ),
    ];
    for (name, files, expect) in cases {
        check(name, files, expect);
    }
}
