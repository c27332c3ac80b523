//! The search crate's files import each other without cycles: each config lives beside what it
//! configures and lower layers (genome, journal, task, executors, strategies) never reach up
//! to the campaign, the store or the config that assembles them. This reads the sources and
//! fails on the first cycle it finds, naming it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path of every source file (`executor::local`, `genome`, …), with its non-test code.
fn sources() -> BTreeMap<String, String> {
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
                let module = parts.join("::");
                if module == "lib" || module.ends_with("tests") {
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap().to_string();
                out.insert(module, code);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    walk(&root, &root, &mut out);
    out
}

/// Items a module re-exports from its own submodules (`pub use space::{SpaceConfig, …}` in
/// `genome`): `(module, item)` → the submodule that defines it.
type Reexports = BTreeMap<(String, String), String>;

fn reexports(modules: &BTreeMap<String, String>) -> Reexports {
    let mut out = Reexports::new();
    for (m, code) in modules {
        for line in code.lines() {
            let Some(rest) = line.trim().strip_prefix("pub use ") else {
                continue;
            };
            let Some((child, items)) = rest.split_once("::") else {
                continue;
            };
            let child_module = format!("{m}::{child}");
            if !modules.contains_key(&child_module) {
                continue;
            }
            let items = items
                .trim_end_matches(';')
                .trim_matches(|c| c == '{' || c == '}');
            for item in items.split(',') {
                let name = item.split(" as ").last().unwrap_or("").trim();
                if !name.is_empty() {
                    out.insert((m.clone(), name.to_string()), child_module.clone());
                }
            }
        }
    }
    out
}

/// The file that defines what a path names (`crate::genome::SpaceConfig` → `genome::space`,
/// through `genome`'s re-export).
fn resolve(path: &str, modules: &BTreeSet<String>, reexports: &Reexports) -> Option<String> {
    let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
    let n = (1..=parts.len())
        .rev()
        .find(|&n| modules.contains(&parts[..n].join("::")))?;
    let mut module = parts[..n].join("::");
    if let Some(item) = parts.get(n) {
        while let Some(child) = reexports.get(&(module.clone(), item.to_string())) {
            module = child.clone();
        }
    }
    Some(module)
}

/// Modules each file names through `crate::…` (in `use` lines and inline paths, grouped
/// imports included) or `super::…`; comments are skipped.
fn edges(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    let reexported = reexports(modules);
    let mut out = BTreeMap::new();
    for (m, code) in modules {
        let mut to = BTreeSet::new();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (prefix, base) in [
                ("crate::", String::new()),
                (
                    "super::",
                    m.rsplit_once("::").map(|p| p.0).unwrap_or("").to_string(),
                ),
            ] {
                for (i, _) in line.match_indices(prefix) {
                    let rest = &line[i + prefix.len()..];
                    let path: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                        .collect();
                    let full = if base.is_empty() {
                        path.clone()
                    } else {
                        format!("{base}::{path}")
                    };
                    let mut targets = vec![full.clone()];
                    // `crate::x::{a, b::C}`: each item may name a submodule.
                    if let Some(group) = rest[path.len()..].strip_prefix('{') {
                        let group = group.split('}').next().unwrap_or("");
                        targets.extend(group.split(',').map(|item| {
                            format!("{}::{}", full.trim_end_matches(':'), item.trim())
                        }));
                    }
                    for t in targets {
                        if let Some(r) = resolve(&t, &names, &reexported).filter(|r| r != m) {
                            to.insert(r);
                        }
                    }
                }
            }
        }
        out.insert(m.clone(), to);
    }
    out
}

#[test]
fn search_modules_import_each_other_without_cycles() {
    let graph = edges(&sources());
    assert!(graph.contains_key("campaign") && graph.contains_key("genome::space"));
    assert!(
        graph["campaign"].contains("strategy"),
        "the scan must see imports"
    );
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
        for next in &graph[m] {
            if let Some(c) = visit(next, graph, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        if let Some(cycle) = visit(m, &graph, &mut Vec::new(), &mut done) {
            panic!("import cycle: {}", cycle.join(" → "));
        }
    }
}
