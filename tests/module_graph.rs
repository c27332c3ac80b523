//! No crate of the workspace has an import cycle between its files: each config lives beside
//! what it configures and lower layers (in search: genome, journal, task, executors,
//! strategies; in model: the kind types, the field reader, the operators) never reach up to
//! what assembles them (the campaign, the store, the kind registry, the Arch JSON). This reads
//! every crate's sources and fails on the first cycle it finds in each, naming it.
//!
//! What counts as an import: every `crate::…` path (in `use` lines, `pub use` re-exports and
//! inline paths, grouped imports included) and every `super::…` path, in non-test code
//! (comments, string literals and `#[cfg(test)]` items are skipped). A path resolves to the file
//! that defines what it names, through `pub use` re-exports (`crate::spec::LayerKind` →
//! `kind`). A parent naming its own child module by a bare path (`space::Genome` in `genome`)
//! and the crate root (`lib.rs`, `main.rs`: declarations and re-exports) are not edges.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The workspace's crates by folder (`.` is the `flashnas` CLI), checked below one by one.
const CRATES: [&str; 5] = [".", "model", "training", "latency", "search"];

fn crate_src(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(dir).join("src")
}

/// Module path of every source file of the crate whose sources are under `root`
/// (`executor::local`, `genome`, …), with its code as [`strip`] leaves it. The crate root is
/// `""`.
fn sources(root: &Path) -> BTreeMap<String, String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, root, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(root).unwrap().with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if parts.last().is_some_and(|l| l == "mod") {
                    parts.pop();
                }
                let mut module = parts.join("::");
                if module == "lib" || module == "main" {
                    module = String::new();
                } else if module.ends_with("tests") {
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap();
                out.insert(module, without_tests(&strip(&text)));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// The code without comments and with string and char literals emptied (their quotes kept), so
/// that neither a `crate::` in prose nor a `{` in a format string is read as code.
fn strip(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
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
        } else if c[i] == 'r'
            && (i == 0 || !ident(c[i - 1]) || c[i - 1] == 'b')
            && matches!(next, Some('"') | Some('#'))
            && c[i + 1..].iter().find(|&&x| x != '#') == Some(&'"')
        {
            // A raw string: r"…", r#"…"#, …
            let hashes = c[i + 1..].iter().take_while(|&&x| x == '#').count();
            i += 2 + hashes;
            let close: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            while i < c.len() && !c[i..].starts_with(&close) {
                i += 1;
            }
            i += close.len();
            out.push_str("\"\"");
        } else if c[i] == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c[i] == '\'' && next == Some('\\') {
            i += 3;
            while i < c.len() && c[i] != '\'' {
                i += 1;
            }
            i += 1;
            out.push_str("' '");
        } else if c[i] == '\'' && c.get(i + 2) == Some(&'\'') {
            i += 3;
            out.push_str("' '");
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// The code without its `#[cfg(test)]` items (test modules, test-only functions and imports).
fn without_tests(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        rest = &rest[at + "#[cfg(test)]".len()..];
        // The item ends at its first `;` outside braces, or at the brace closing its body.
        let mut depth = 0usize;
        let mut end = rest.len();
        for (i, ch) in rest.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                ';' if depth == 0 => {
                    end = i + 1;
                    break;
                }
                _ => {}
            }
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The paths a use tree starting at `s` names (`a::{b, c::{d, e}}` → `a::b`, `a::c::d`,
/// `a::c::e`), each with the name it binds (its last segment, or what follows `as`).
fn use_tree(s: &str) -> Vec<(String, String)> {
    fn parse(s: &str, prefix: &str, out: &mut Vec<(String, String)>) -> usize {
        let s_trim = s.trim_start();
        let mut i = s.len() - s_trim.len();
        let path_len = s_trim
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(s_trim.len());
        let path = &s_trim[..path_len];
        i += path_len;
        let full = match (prefix.is_empty(), path.trim_end_matches(':')) {
            (_, "") => prefix.to_string(),
            (true, p) => p.to_string(),
            (false, p) => format!("{prefix}::{p}"),
        };
        let after = &s[i..];
        if path.ends_with("::") && after.starts_with('{') {
            i += 1;
            loop {
                i += parse(&s[i..], &full, out);
                let t = s[i..].trim_start();
                i += s[i..].len() - t.len();
                if t.starts_with(',') {
                    i += 1;
                } else {
                    if t.starts_with('}') {
                        i += 1;
                    }
                    return i;
                }
                if s[i..].trim_start().starts_with('}') {
                    i += s[i..].len() - s[i..].trim_start().len() + 1;
                    return i;
                }
            }
        }
        if path.ends_with("::") && after.starts_with('*') {
            out.push((full.clone(), "*".into()));
            return i + 1;
        }
        let t = after.trim_start();
        let name = match t.strip_prefix("as ") {
            Some(alias) => {
                let alias = alias.trim_start();
                let n = alias
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(alias.len());
                i += after.len() - alias.len() + n;
                alias[..n].to_string()
            }
            None => full.rsplit("::").next().unwrap_or("").to_string(),
        };
        if !full.is_empty() {
            out.push((full, name));
        }
        i
    }
    let mut out = Vec::new();
    parse(s, "", &mut out);
    out
}

/// `child` of `module` (`""` is the crate root).
fn join(module: &str, child: &str) -> String {
    match (module.is_empty(), child.is_empty()) {
        (true, _) => child.to_string(),
        (_, true) => module.to_string(),
        _ => format!("{module}::{child}"),
    }
}

fn parent(module: &str) -> &str {
    module.rsplit_once("::").map(|p| p.0).unwrap_or("")
}

/// A path as written in `module` (`crate::a::B`, `super::B`, `self::a::B`, `child::B`) from
/// the crate root, or `None` for another crate's path.
fn absolute(path: &str, module: &str, modules: &BTreeMap<String, String>) -> Option<String> {
    let mut segments = path.split("::").filter(|s| !s.is_empty()).peekable();
    let mut base = module.to_string();
    let mut relative = false;
    if segments.peek() == Some(&"crate") {
        segments.next();
        base.clear();
        relative = true;
    }
    while let Some(&s) = segments.peek() {
        match s {
            "super" => base = parent(&base).to_string(),
            "self" => {}
            _ => break,
        }
        segments.next();
        relative = true;
    }
    let rest: Vec<&str> = segments.collect();
    let first = rest.first().copied().unwrap_or("");
    (relative || modules.contains_key(&join(&base, first))).then(|| join(&base, &rest.join("::")))
}

/// Names a module re-exports (`pub use space::{SpaceConfig, …}` in `genome`,
/// `pub use crate::kind::LayerKind` in `spec`): `(module, name)` → the path it re-exports,
/// from the crate root.
type Reexports = BTreeMap<(String, String), String>;

fn reexports(modules: &BTreeMap<String, String>) -> Reexports {
    let mut out = Reexports::new();
    for (m, code) in modules {
        for (at, _) in code.match_indices("use ") {
            // `pub use`, `pub(crate) use`, `pub(in crate::x) use`.
            let before = code[..at].trim_end();
            let public = before.ends_with("pub")
                || before
                    .strip_suffix(')')
                    .and_then(|b| b.rsplit_once("pub("))
                    .is_some_and(|(_, scope)| {
                        scope
                            .chars()
                            .all(|c| c.is_alphanumeric() || c == '_' || c == ':' || c == ' ')
                    });
            if !public || code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                continue;
            }
            for (path, name) in use_tree(&code[at + 4..]) {
                if name == "*" || name == "self" {
                    continue;
                }
                if let Some(full) = absolute(&path, m, modules) {
                    out.insert((m.clone(), name), full);
                }
            }
        }
    }
    out
}

/// The file that defines what an absolute path names (`genome::SpaceConfig` → `genome::space`,
/// through `genome`'s re-export); `None` for the crate root.
fn resolve(
    path: &str,
    modules: &BTreeMap<String, String>,
    reexports: &Reexports,
) -> Option<String> {
    let mut path = path.trim_end_matches(':').to_string();
    for _ in 0..32 {
        let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
        let n = (0..=parts.len())
            .rev()
            .find(|&n| modules.contains_key(&parts[..n].join("::")))
            .unwrap_or(0);
        let module = parts[..n].join("::");
        match parts
            .get(n)
            .and_then(|item| reexports.get(&(module.clone(), item.to_string())))
        {
            // A re-exported module keeps the rest of the path (`audit::config::X` through the
            // root's `pub use studies::audit` is `studies::audit::config::X`).
            Some(target) => {
                let rest = &parts[(n + 1).min(parts.len())..];
                let next = std::iter::once(target.as_str())
                    .chain(rest.iter().copied())
                    .collect::<Vec<_>>()
                    .join("::");
                if next == path {
                    return Some(module).filter(|m| !m.is_empty());
                }
                path = next;
            }
            None => return Some(module).filter(|m| !m.is_empty()),
        }
    }
    panic!("re-exports of {path} go round in a loop");
}

/// Modules each file names through `crate::…` or `super::…` paths.
fn edges(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let reexported = reexports(modules);
    let mut out = BTreeMap::new();
    for (m, code) in modules.iter().filter(|(m, _)| !m.is_empty()) {
        let mut to = BTreeSet::new();
        for prefix in ["crate::", "super::"] {
            for (i, _) in code.match_indices(prefix) {
                let before = code[..i].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                    continue; // `my_crate::`, or the second `super::` of `super::super::`
                }
                for (path, _) in use_tree(&code[i..]) {
                    let Some(full) = absolute(&path, m, modules) else {
                        continue;
                    };
                    if let Some(r) = resolve(&full, modules, &reexported).filter(|r| r != m) {
                        to.insert(r);
                    }
                }
            }
        }
        out.insert(m.clone(), to);
    }
    out
}

/// The first import cycle (`a → b → a`), if any.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    // Depth-first search for a back edge; report the cycle it closes.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|s| s == m) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(m.to_string());
            return Some(cycle);
        }
        if done.contains(m) {
            return None;
        }
        stack.push(m.to_string());
        for next in graph.get(m).into_iter().flatten() {
            if let Some(c) = visit(next, graph, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|m| visit(m, graph, &mut Vec::new(), &mut done))
}

/// The import graph of the crate in folder `dir`, after checking it has no cycle.
fn acyclic(dir: &str) -> BTreeMap<String, BTreeSet<String>> {
    let graph = edges(&sources(&crate_src(dir)));
    if let Some(c) = cycle(&graph) {
        panic!("import cycle in {dir}/src: {}", c.join(" → "));
    }
    graph
}

#[test]
fn every_workspace_crate_is_checked() {
    let manifest = std::fs::read_to_string(crate_src(".").with_file_name("Cargo.toml")).unwrap();
    let members = manifest
        .split("members = [")
        .nth(1)
        .and_then(|m| m.split(']').next())
        .expect("a [workspace] members list");
    let mut members: BTreeSet<&str> = members
        .split(',')
        .map(|m| m.trim().trim_matches('"'))
        .filter(|m| !m.is_empty())
        .collect();
    members.insert(".");
    assert_eq!(members, CRATES.into_iter().collect());
}

#[test]
fn the_scan_reads_paths_as_rust_does() {
    let src: BTreeMap<String, String> = [
        ("", "pub use a::{A, B as Bee};"),
        ("a", "pub use crate::b::{self, B}; pub struct A;"),
        ("a::inner", "use super::super::c::{C, d::{self, D}};"),
        ("b", "pub struct B;"),
        (
            "c",
            "pub struct C; // crate::b\nfn f() { g(\"crate::b::B\"); }",
        ),
        ("c::d", "use crate::Bee;\nuse super::*;\npub struct D;"),
        ("e", "pub(crate) use crate::c::d::D as E;"),
        (
            "f",
            "fn f() -> crate::e::E { crate::A }\n#[cfg(test)]\nmod tests { use crate::b; }",
        ),
    ]
    .into_iter()
    .map(|(m, c)| (m.to_string(), without_tests(&strip(c))))
    .collect();
    let graph = edges(&src);
    let to = |m: &str| graph[m].iter().map(String::as_str).collect::<Vec<_>>();
    assert_eq!(to("a"), ["b"]);
    assert_eq!(to("a::inner"), ["c", "c::d"]);
    assert!(to("c").is_empty(), "comments and strings are not code");
    assert_eq!(
        to("c::d"),
        ["b", "c"],
        "through the root's re-export and a's"
    );
    assert_eq!(to("e"), ["c::d"]);
    assert_eq!(to("f"), ["a", "c::d"], "tests are not code; E is c::d's D");
    let mut cyclic = graph.clone();
    cyclic.get_mut("b").unwrap().insert("c::d".into());
    assert_eq!(cycle(&cyclic).unwrap(), ["b", "c::d", "b"]);
}

#[test]
fn cli_modules_import_each_other_without_cycles() {
    let graph = acyclic(".");
    assert!(graph.contains_key("commands::bench"));
}

#[test]
fn model_modules_import_each_other_without_cycles() {
    let graph = acyclic("model");
    assert!(
        graph["attention"].contains("kind") && graph["lm"].contains("spec"),
        "the scan must see imports"
    );
}

#[test]
fn training_modules_import_each_other_without_cycles() {
    let graph = acyclic("training");
    assert!(!graph.is_empty());
}

#[test]
fn latency_modules_import_each_other_without_cycles() {
    let graph = acyclic("latency");
    assert!(graph.contains_key("predictor::build"));
}

#[test]
fn search_modules_import_each_other_without_cycles() {
    let graph = acyclic("search");
    assert!(graph.contains_key("driver::campaign") && graph.contains_key("driver::genome::space"));
    assert!(
        graph["driver::campaign"].contains("driver::strategy"),
        "the scan must see imports (through the root's re-exports)"
    );
}
