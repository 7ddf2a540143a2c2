//! The README's terminal picture is real: the ladder it shows is the one
//! tcpka draws now for the bundled fixture (scripts/readme-images.sh makes
//! it, and the HTML screenshot, docs/html-report.png).
mod common;

use std::path::Path;
use std::process::Command;

#[test]
fn the_readme_shows_the_ladder_tcpka_draws() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_tcpka"))
        .current_dir(root)
        .args(["analyze", "fixtures/ka-sysctl-sll2.pcap", "--color", "never"])
        .env("COLUMNS", "80")
        .output()
        .unwrap();
    let text = common::stdout(&out);
    let ladder: Vec<&str> =
        text.lines().skip_while(|l| !l.contains("client 10.0.1.2:40002")).take_while(|l| !l.is_empty()).collect();
    assert!(ladder.len() >= 10, "{text}");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let block = readme
        .split("<!-- readme-images:table -->")
        .nth(1)
        .and_then(|r| r.split("<!-- readme-images:table end -->").next())
        .expect("the README's table block");
    assert!(
        block.contains(&ladder.join("\n")),
        "the README's ladder is not tcpka's: run scripts/readme-images.sh\n{}",
        ladder.join("\n")
    );
    assert!(root.join("docs/html-report.png").exists(), "docs/html-report.png: run scripts/readme-images.sh");
}
