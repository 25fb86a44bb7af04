//! The README's Rust snippets, compiled by `cargo test --doc -p readme-snippets` with this
//! crate's dependencies, which are the ones the README tells a user to add (the test below
//! holds the two lists together). The snippets are `no_run`: they are Lambda functions, which
//! need a Runtime API to talk to.
#![cfg_attr(doctest, doc = include_str!("../../../README.md"))]

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    const README: &str = include_str!("../../../README.md");
    const MANIFEST: &str = include_str!("../Cargo.toml");

    /// `name = spec` lines of a `[dependencies]` table, up to the next table.
    fn dependency_lines(toml: &str) -> BTreeSet<String> {
        toml.lines()
            .skip_while(|line| line.trim() != "[dependencies]")
            .skip(1)
            .take_while(|line| !line.starts_with('['))
            .filter(|line| line.contains(" = ") && !line.starts_with('#'))
            .map(str::to_owned)
            .collect()
    }

    /// What the README asks a user to add: the quick start's `[dependencies]` block, the
    /// `lambda_http` section's line and every snippet's `// Cargo.toml:` comment.
    fn readme_dependencies() -> BTreeSet<String> {
        let quick_start = README
            .split("```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("the quick start's toml block");
        let mut lines = dependency_lines(quick_start);
        if README.contains("With `lambda_http = \"1\"` added to the dependencies") {
            lines.insert("lambda_http = \"1\"".to_owned());
        }
        for comment in README
            .lines()
            .filter_map(|line| line.strip_prefix("// Cargo.toml: "))
        {
            // `a = "1", b = { version = "1", features = ["x"] }`: split at `, ` outside braces.
            let (mut depth, mut start) = (0, 0);
            for (i, c) in comment.char_indices() {
                match c {
                    '{' | '[' => depth += 1,
                    '}' | ']' => depth -= 1,
                    ',' if depth == 0 => {
                        lines.insert(comment[start..i].trim().to_owned());
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            lines.insert(comment[start..].trim().to_owned());
        }
        lines
    }

    #[test]
    fn the_snippets_build_with_exactly_the_dependencies_the_readme_lists() {
        let ours: BTreeSet<String> = dependency_lines(MANIFEST)
            .into_iter()
            // The README's path is the user's clone; this crate's is inside the repository.
            .map(|line| {
                if line.starts_with("lambda-otel = ") {
                    "lambda-otel = { path = \"../lambda-otel\" }".to_owned()
                } else {
                    line
                }
            })
            .collect();
        assert_eq!(readme_dependencies(), ours);
    }

    #[test]
    fn every_rust_snippet_is_a_doctest() {
        // A ```rust block with a flag rustdoc does not know, or in another language's fence,
        // would be skipped silently; `ignore` would not compile it.
        for fence in README
            .lines()
            .filter(|l| l.trim_start().starts_with("```rust"))
        {
            let flags = fence.trim_start().trim_start_matches("```rust");
            assert!(
                flags.is_empty() || flags == ",no_run",
                "snippet fence {fence:?} is not compiled"
            );
        }
    }

    /// The targets of `text`'s Markdown links (`[text](target)`, `[name]: target`) and HTML
    /// `href`/`src` attributes that are neither absolute URLs nor anchors, with their lines.
    fn relative_links(text: &str) -> Vec<(usize, String)> {
        let absolute = |target: &str| {
            let target = target.trim_start_matches(['<', ' ']);
            ["http://", "https://", "#"]
                .iter()
                .any(|prefix| target.starts_with(prefix))
        };
        let mut found = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let inline = line.match_indices("](").map(|(at, _)| &line[at + 2..]);
            let reference = line
                .trim_start()
                .strip_prefix('[')
                .and_then(|rest| rest.split_once("]: "))
                .map(|(_, target)| target);
            let html = ["href=\"", "src=\""]
                .iter()
                .flat_map(|attribute| line.match_indices(attribute))
                .map(|(at, attribute)| &line[at + attribute.len()..]);
            for target in inline.chain(reference).chain(html) {
                if !absolute(target) {
                    let end = target.find([')', '"', ' ']).unwrap_or(target.len());
                    found.push((index + 1, target[..end].to_owned()));
                }
            }
        }
        found
    }

    #[test]
    fn the_readme_has_no_relative_links() {
        // The README ships in the crate package and is what crates.io and docs.rs show, where
        // a path of this repository (`[x](layer/README.md)`) leads nowhere.
        assert_eq!(relative_links(README), [], "(line, target)");
        let sample = "[a](#quick-start) [b](https://example.com) [c](layer/README.md)\n\
                      [d]: ./LICENSE\n<img src=\"docs/x.png\"> <a href=\"http://x\">";
        assert_eq!(
            relative_links(sample),
            [
                (1, "layer/README.md".to_owned()),
                (2, "./LICENSE".to_owned()),
                (3, "docs/x.png".to_owned())
            ]
        );
    }
}
