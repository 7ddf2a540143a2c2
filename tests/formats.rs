//! The report formats: what each promises (ids, schemas, filters, widths),
//! checked on the real-kernel fixtures.
// Tests may print: clippy.toml forbids it in tcpka itself (see src/diag.rs).
#![allow(clippy::disallowed_macros)]
mod common;

use common::{analyze_json, fixture_captures, have_tool};
use std::collections::BTreeMap;
use std::process::Command;

/// tshark's Community ID of every TCP packet, by frame number.
fn tshark_community_ids(capture: &std::path::Path) -> BTreeMap<u64, String> {
    let out = Command::new("tshark")
        .args(["-n", "--enable-protocol", "communityid", "-r"])
        .arg(capture)
        .args(["-Y", "tcp", "-T", "fields", "-e", "frame.number", "-e", "communityid"])
        .output()
        .expect("run tshark");
    assert!(out.status.success(), "tshark: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .map(|line| {
            let (frame, id) = line.split_once('\t').expect("two fields");
            (frame.parse().unwrap(), id.to_string())
        })
        .collect()
}

#[test]
fn community_ids_are_wiresharks() {
    if !have_tool("community_ids_are_wiresharks", "tshark", "--version") {
        return;
    }
    let mut compared = 0;
    for capture in fixture_captures() {
        let (doc, _) = analyze_json(&[capture.to_str().unwrap()]);
        let theirs = tshark_community_ids(&capture);
        for conn in doc["connections"].as_array().unwrap() {
            let first = conn["first_frame"].as_u64().unwrap();
            let ours = conn["community_id"].as_str().unwrap();
            // The connection's first packet carries its Community ID.
            assert_eq!(theirs.get(&first).map(String::as_str), Some(ours), "{} frame {first}", capture.display());
            assert_eq!(conn["id"], format!("1-{first}"));
            compared += 1;
        }
    }
    assert!(compared >= 13, "only {compared} connections compared");
}

fn schema() -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/tcpka-ndjson.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Runs `tcpka analyze --format ndjson ARGS` and parses each line.
fn analyze_ndjson(args: &[&str]) -> Vec<serde_json::Value> {
    let mut full = vec!["analyze", "--format", "ndjson"];
    full.extend_from_slice(args);
    let out = common::tcpka(&full);
    assert!(out.status.code().is_some_and(|c| c < 2), "{}", common::stderr(&out));
    let text = common::stdout(&out);
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

#[test]
fn ndjson_lines_follow_the_schema_and_tell_what_the_json_tells() {
    let validator = jsonschema::options().should_validate_formats(true).build(&schema()).expect("a valid schema");
    let captures = fixture_captures();
    let args: Vec<&str> = captures.iter().map(|p| p.to_str().unwrap()).collect();
    let lines = analyze_ndjson(&args);
    for line in &lines {
        let errors: Vec<String> =
            validator.iter_errors(line).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{errors:#?}\n{line}");
    }
    let (summary, connections) = lines.split_last().unwrap();
    assert_eq!(summary["type"], "summary");
    // The schema is strict: a wrong value, an address that is none, an
    // undocumented field all fail it.
    for (field, value) in [("verdict", "meltdown"), ("start", "yesterday"), ("surprise", "1")] {
        let mut bad = connections[0].clone();
        bad[field] = value.into();
        assert!(!validator.is_valid(&bad), "{field}: {value} passed");
    }
    let mut bad = connections[0].clone();
    bad["client"]["ip"] = "10.0.0.300".into();
    assert!(!validator.is_valid(&bad), "a bad address passed");
    assert!(connections.iter().all(|c| c["type"] == "connection"));
    assert_eq!(summary["totals"]["connections"].as_u64(), Some(connections.len() as u64));
    assert_eq!(summary["connections_written"].as_u64(), Some(connections.len() as u64));
    assert_eq!(summary["captures"].as_array().unwrap().len(), captures.len());

    // The same connections, in the same order, as the JSON document says.
    let (doc, _) = analyze_json(&args);
    let json = doc["connections"].as_array().unwrap();
    assert_eq!(json.len(), connections.len());
    let mut ids = std::collections::BTreeSet::new();
    for (line, conn) in connections.iter().zip(json) {
        assert!(ids.insert(line["id"].as_str().unwrap().to_string()), "id {} twice", line["id"]);
        for (ours, theirs) in [
            ("id", "id"),
            ("community_id", "community_id"),
            ("verdict", "end_reason"),
            ("reset_cause", "reset_cause"),
            ("first_frame", "first_frame"),
            ("start", "start"),
            ("diagnosis", "diagnosis"),
            ("evidence", "evidence"),
        ] {
            assert_eq!(line[ours], conn[theirs], "{ours} of {}", line["id"]);
        }
        // Endpoints are objects; who did what is a role.
        let address = |e: &serde_json::Value| {
            let ip = e["ip"].as_str().unwrap();
            if ip.contains(':') { format!("[{ip}]:{}", e["port"]) } else { format!("{ip}:{}", e["port"]) }
        };
        assert_eq!(address(&line["client"]), conn["client"]);
        assert_eq!(address(&line["server"]), conn["server"]);
        let addr_of = |role: &serde_json::Value| match role.as_str() {
            Some(r) => serde_json::Value::from(address(&line[r])),
            None => serde_json::Value::Null,
        };
        assert_eq!(addr_of(&line["ended_by"]), conn["ended_by"]);
        for (k, j) in line["keepalive"].as_array().unwrap().iter().zip(conn["keepalive"].as_array().unwrap()) {
            assert_eq!(addr_of(&k["by"]), j["prober"]);
            assert_eq!(k["idle_s"], j["idle_s"]);
        }
        for (part, who) in
            [("reset", "sender"), ("retransmission", "sender"), ("half_closed", "fin_by"), ("heartbeat", "from")]
        {
            assert_eq!(line[part].is_null(), conn[part].is_null(), "{part}");
            if !line[part].is_null() {
                assert_eq!(addr_of(&line[part]["by"]), conn[part][who], "{part}");
            }
        }
    }
    let totals = &summary["totals"];
    assert_eq!(totals["by_verdict"], doc["summary"]["by_end_reason"]);
    assert_eq!(totals["by_reset_cause"], doc["summary"]["by_reset_cause"]);
    let causes: u64 = totals["by_reset_cause"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(Some(causes), totals["by_verdict"]["reset"].as_u64());
    assert!(causes >= 2, "the fixtures have resets: {totals}");
    assert_eq!(summary["probers"].as_array().unwrap().len(), doc["hosts"].as_array().unwrap().len());
}

#[test]
fn the_schema_names_every_verdict() {
    let schema = schema();
    let names: Vec<&str> =
        schema["$defs"]["verdict"]["enum"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for verdict in tcpka::EndReason::ALL {
        assert!(names.contains(&verdict.as_str()), "{verdict} missing from docs/tcpka-ndjson.schema.json");
    }
}

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name);
    path.to_str().unwrap().to_string()
}

#[test]
fn only_picks_by_verdict_and_cause_in_every_format() {
    let captures = fixture_captures();
    let mut args: Vec<&str> = vec!["--only", "reset:middlebox,half-closed"];
    args.extend(captures.iter().map(|p| p.to_str().unwrap()));

    let (doc, out) = analyze_json(&args);
    assert_eq!(out.status.code(), Some(0));
    let picked: Vec<(String, String)> = doc["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["end_reason"].as_str().unwrap().into(), c["reset_cause"].as_str().unwrap_or("").into()))
        .collect();
    let expected = doc["summary"]["by_reset_cause"]["middlebox"].as_u64().unwrap()
        + doc["summary"]["by_end_reason"]["half-closed"].as_u64().unwrap();
    assert_eq!(picked.len() as u64, expected, "{picked:?}");
    assert!(picked.contains(&("reset".into(), "middlebox".into())), "{picked:?}");
    assert!(picked.contains(&("half-closed".into(), "".into())), "{picked:?}");
    assert!(picked.iter().all(|(v, c)| (v == "reset" && c == "middlebox") || v == "half-closed"), "{picked:?}");
    // The totals still count every connection.
    let all: Vec<&str> = captures.iter().map(|p| p.to_str().unwrap()).collect();
    assert_eq!(doc["summary"]["connections"], analyze_json(&all).0["summary"]["connections"]);

    let lines = analyze_ndjson(&args);
    let (summary, connections) = lines.split_last().unwrap();
    assert_eq!(connections.len() as u64, expected);
    assert_eq!(summary["connections_written"].as_u64(), Some(expected));
    assert_eq!(summary["totals"]["connections"], doc["summary"]["connections"]);
    for c in connections {
        assert!(c["verdict"] == "half-closed" || (c["verdict"] == "reset" && c["reset_cause"] == "middlebox"), "{c}");
    }

    let mut table_args = vec!["analyze"];
    table_args.extend(&args);
    let text = common::stdout(&common::tcpka(&table_args));
    let headings: Vec<&str> = text.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(headings.len() as u64, expected, "{text}");
    assert!(
        headings.iter().all(|h| h.contains("] reset:middlebox: ") || h.contains("] half-closed: ")),
        "{headings:#?}"
    );
    // The summary line names the causes of the resets.
    let resets = doc["summary"]["by_end_reason"]["reset"].as_u64().unwrap();
    // The summary line (wrapped to the width: folded back).
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let line = folded.split(" connections: ").nth(1).expect("the summary line");
    let causes = line.split(&format!("reset {resets} (")).nth(1).expect("reset counts with causes");
    let causes = causes.split(')').next().unwrap();
    for (cause, n) in doc["summary"]["by_reset_cause"].as_object().unwrap() {
        assert!(causes.split(", ").any(|c| c == format!("{cause} {n}")), "{cause} {n} missing in: {line}");
    }
}

#[test]
fn fail_on_takes_a_reset_cause() {
    let middlebox = fixture("rst-middlebox.pcap");
    let status = |args: &[&str]| common::tcpka(&[&["analyze"], args].concat()).status.code();
    assert_eq!(status(&["--fail-on", "reset:middlebox", &middlebox]), Some(1));
    assert_eq!(status(&["--fail-on", "reset", &middlebox]), Some(1));
    assert_eq!(status(&["--fail-on", "reset:refused,reset:peer-lost-state", &middlebox]), Some(0));
    assert_eq!(status(&["--fail-on", "keepalive-timeout", &middlebox]), Some(0));
    // --only does not hide a connection from --fail-on.
    assert_eq!(status(&["--fail-on", "reset:middlebox", "--only", "closed", &middlebox]), Some(1));
    for bad in ["closed:middlebox", "reset:gremlins"] {
        let out = common::tcpka(&["analyze", "--fail-on", bad, &middlebox]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            common::stderr(&out).contains("reset:middlebox") || common::stderr(&out).contains("middlebox"),
            "{bad}"
        );
    }
}

#[test]
fn the_table_draws_a_ladder_for_each_abnormal_connection() {
    let path = fixture("ka-sysctl-sll2.pcap");
    let text = common::stdout(&common::tcpka(&["analyze", &path]));
    // The CTO's picture: 21.7 s after the last exchange, two probes 2 s
    // apart from the server, unanswered, then its RST (frames 10 to 13 in tshark).
    let ladder: Vec<&str> = text.lines().skip_while(|l| !l.contains("client 10.0.1.2:40002")).take(12).collect();
    let want = [
        ("10 │─", "last packet before idle", "─▶│ t+0.303"),
        ("", "⋮ 21.7 s idle ⋮", ""),
        ("11 │◀─", "keepalive probe 1", "─│ t+21.996"),
        ("12 │◀─", "keepalive probe 2 (+2.016 s)", "─│ t+24.012"),
        ("13 │◀─", " RST ", "─│ t+26.028"),
    ];
    let mut rows = ladder.iter();
    for (start, middle, end) in want {
        assert!(
            rows.any(|l| l.trim_start().starts_with(start) && l.contains(middle) && l.ends_with(end)),
            "no row {start}…{middle}…{end} in:\n{}",
            ladder.join("\n")
        );
    }
    // Plain ASCII when asked, everywhere in the report.
    let ascii = common::stdout(&common::tcpka(&["analyze", "--ascii", &path]));
    assert!(ascii.is_ascii(), "{ascii}");
    assert!(ascii.lines().any(|l| l.trim_start().starts_with("12 |<-") && l.contains("keepalive probe 2")), "{ascii}");
    // An orderly close gets no ladder, even when listed.
    let all = common::stdout(&common::tcpka(&["analyze", "--all", &fixture("ka-answered-close.pcap")]));
    assert!(all.contains("] closed: ") && !all.contains(" │─"), "{all}");
}

#[test]
fn every_fixture_fits_80_columns_without_breaking_a_word() {
    for capture in fixture_captures() {
        let path = capture.to_str().unwrap();
        for extra in [&[][..], &["--all"][..]] {
            let out = Command::new(env!("CARGO_BIN_EXE_tcpka"))
                .arg("analyze")
                .args(extra)
                .arg(path)
                .env("COLUMNS", "80")
                .output()
                .unwrap();
            let text = common::stdout(&out);
            for line in text.lines() {
                assert!(line.chars().count() <= 80, "{path} {extra:?}: over 80 columns:\n{line}");
            }
            // Every diagnosis, evidence and filter told is whole in the
            // text, but for the line breaks between words: nothing was
            // broken mid-token (a break inside a word would not match).
            let fold = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
            let folded = fold(&text);
            let (doc, _) = analyze_json(&[path]);
            // The connections a story lists after its first: told by the
            // first (their diagnosis may read the same, their evidence is not shown).
            let mut listed_after_first = std::collections::HashSet::new();
            let mut in_list = None;
            for line in text.lines() {
                if line.contains(" connections of this story (") {
                    in_list = Some(0);
                    continue;
                }
                let id = line.strip_prefix("      ").and_then(|l| l.split_whitespace().next());
                match (in_list, id) {
                    (Some(n), Some(id)) if id.contains('-') && id.chars().next().unwrap().is_ascii_digit() => {
                        if n > 0 {
                            listed_after_first.insert(id.to_string());
                        }
                        in_list = Some(n + 1);
                    }
                    (Some(_), _) if !line.starts_with("        ") => in_list = None,
                    _ => {}
                }
            }
            let mut told = 0;
            for conn in doc["connections"].as_array().unwrap() {
                if !folded.contains(&fold(conn["diagnosis"].as_str().unwrap())) {
                    continue; // not told: a normal ending without --all, or a story told by its first connection
                }
                if listed_after_first.contains(conn["id"].as_str().unwrap()) {
                    continue; // its story's first connection is told
                }
                told += 1;
                for e in conn["evidence"].as_array().unwrap() {
                    let what = fold(e["what"].as_str().unwrap());
                    assert!(folded.contains(&what), "{path} {extra:?}: '{what}' broken or missing in:\n{text}");
                }
                let filter = conn["wireshark_filter"].as_str().unwrap();
                assert!(folded.contains(filter), "{path} {extra:?}: '{filter}' broken or missing in:\n{text}");
            }
            let stories = text.lines().filter(|l| l.starts_with('[')).count();
            assert_eq!(told, stories, "{path} {extra:?}: a story's diagnosis is broken:\n{text}");
        }
    }
}

#[test]
fn both_human_formats_tell_ring_buffers_duplicates_and_vantage_points() {
    let root = env!("CARGO_MANIFEST_DIR");
    let fold = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    // The HTML's text, tags taken out (the words may sit in several elements).
    let html_text = |args: &[&str]| -> String {
        let mut full = vec!["analyze", "--format", "html"];
        full.extend_from_slice(args);
        let page = common::stdout(&common::tcpka(&full));
        let mut text = String::new();
        let mut in_tag = false;
        for c in page.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => text.push(c),
                _ => {}
            }
        }
        fold(&text.replace("&amp;", "&"))
    };
    let table = |args: &[&str]| -> String {
        let mut full = vec!["analyze"];
        full.extend_from_slice(args);
        fold(&common::stdout(&common::tcpka(&full)))
    };

    // A ring buffer read as one capture: its files, and each evidence's file and frame there.
    let ring = format!("{root}/fixtures/inputs/ring-buffer");
    for (format, text) in [("table", table(&[&ring])), ("html", html_text(&[&ring]))] {
        assert!(text.contains("(3 files, one capture)"), "{format}: {text}");
        assert!(text.contains("[ring-buffer-20261121-110617.pcap frame 1]"), "{format}: {text}");
    }
    // Frames captured four times: dropped as copies, said under the capture.
    let dups = format!("{root}/fixtures/public/zeek/ssh-dups.pcap");
    assert!(table(&[&dups]).contains("duplicates: 280 frames repeated a packet"));
    assert!(html_text(&[&dups]).contains("Duplicates: 280 frames repeated a packet"));
    // Two vantage points: the comparison follows the stories.
    let client = format!("client={root}/fixtures/inputs/vantage-inject-client.pcap");
    let server = format!("server={root}/fixtures/vantage-inject.pcap");
    let args = ["--vantage", client.as_str(), "--vantage", server.as_str()];
    for (format, text) in [("table", table(&args)), ("html", html_text(&args))] {
        let at = text.find("Vantage points").unwrap_or_else(|| panic!("{format}: {text}"));
        assert!(text[at..].contains("injected between the two points"), "{format}: {text}");
        assert!(text[at..].contains("Connections seen at one point only:"), "{format}: {text}");
    }
}
