//! Every real-kernel capture in fixtures/ against its ground truth
//! (fixtures/NAME.truth.json, written by fixtures/generate.sh from what was
//! configured and checked on the wire).
// Tests may print: clippy.toml forbids it in tcpka itself (see src/diag.rs).
#![allow(clippy::disallowed_macros)]
mod common;

use common::analyze_json;
use serde_json::Value;
use std::path::Path;

/// The fixtures that must be there: a missing one fails the test rather than
/// silently shrinking it.
const REQUIRED: &[&str] = &[
    "ka-setsockopt",
    "ka-sysctl-sll2",
    "ka-ipv6-client",
    "ka-answered-close",
    "ka-multi",
    "ka-vlan",
    "rst-middlebox",
    "drop-silent",
    "peer-reboot",
    "retrans-retries2",
    "half-closed",
    "heartbeat",
    "reconnect-storm",
    "syn-unanswered",
    "ka-router-sll",
    "ka-router-sll2",
    "ring-buffer",
    "vantage-drop",
    "vantage-inject",
    "ka-both-cut",
    "ka-user-timeout",
    "heartbeat-fractional",
    "retrans-stalled",
    "reconnect-abandon",
    "zero-window-stall",
    "rst-injected",
    "close-wait-abort",
];

fn check_fixture(truth_path: &Path) -> Vec<String> {
    let truth: Value = serde_json::from_str(&std::fs::read_to_string(truth_path).unwrap()).unwrap();
    let capture = truth_path.with_file_name(truth["capture"].as_str().unwrap());
    let (doc, out) = analyze_json(&[capture.to_str().unwrap()]);
    let name = capture.file_name().unwrap().to_string_lossy().into_owned();
    let mut errors = Vec::new();
    let expect = |errors: &mut Vec<String>, what: String, got: &Value, want: &Value| {
        if got != want {
            errors.push(format!("{name}: {what}: tcpka says {got}, truth says {want}"));
        }
    };
    expect(&mut errors, "exit status".into(), &Value::from(out.status.code()), &Value::from(Some(0)));
    expect(&mut errors, "link type".into(), &doc["captures"][0]["link_types"][0], &truth["link_type"]);
    // Copies of forwarded packets (`tcpdump -i any` on a router), counted on
    // the wire by their cooked header's packet type.
    if let Some(copies) = truth.get("duplicate_frames") {
        expect(&mut errors, "duplicate frames".into(), &doc["captures"][0]["duplicates"]["dropped"], copies);
    }
    let got_conns = doc["connections"].as_array().unwrap();
    let want_conns = truth["connections"].as_array().unwrap();
    expect(&mut errors, "connections".into(), &Value::from(got_conns.len()), &Value::from(want_conns.len()));
    for want in want_conns {
        let id = format!("{} → {}", want["client"], want["server"]);
        let vlan = want.get("vlan").cloned().unwrap_or(Value::Array(vec![]));
        let Some(got) = got_conns
            .iter()
            .find(|c| c["client"] == want["client"] && c["server"] == want["server"] && c["vlan"] == vlan)
        else {
            errors.push(format!("{name}: no connection {id} vlan {vlan}"));
            continue;
        };
        expect(&mut errors, format!("{id} end_reason"), &got["end_reason"], &want["end_reason"]);
        if let Some(cause) = want.get("reset_cause").filter(|c| !c.is_null()) {
            expect(&mut errors, format!("{id} reset_cause"), &got["reset_cause"], cause);
        }
        // A handshake nobody answered: the SYNs counted on the wire, and the
        // tcp_syn_retries that was configured.
        for (field, json) in [("syns", "syns"), ("tcp_syn_retries", "tcp_syn_retries")] {
            if let Some(w) = want.get(field) {
                expect(&mut errors, format!("{id} handshake {json}"), &got["handshake"][json], w);
            }
        }
        // A RST the router forged (and the client ignored): listed, not the end.
        if let Some(n) = want.get("injected_resets") {
            let got_n = got["injected_resets"].as_array().map_or(0, |a| a.len());
            expect(&mut errors, format!("{id} injected resets"), &Value::from(got_n), n);
        }
        if let Some(hb) = want.get("heartbeat") {
            expect(&mut errors, format!("{id} heartbeat from"), &got["heartbeat"]["from"], &hb["from"]);
            // The period as observed, to 0.1 s: compared as numbers (3 and 3.0 are the same period).
            let period = |v: &Value| v.as_f64().map(|p| (p * 10.0).round() as i64).map_or(Value::Null, Value::from);
            let (got_period, want_period) = (period(&got["heartbeat"]["period_s"]), period(&hb["period_s"]));
            expect(&mut errors, format!("{id} heartbeat period"), &got_period, &want_period);
        }
        let got_ka = got["keepalive"].as_array().unwrap();
        let want_ka = want["keepalive"].as_array().unwrap();
        expect(&mut errors, format!("{id} probing sides"), &Value::from(got_ka.len()), &Value::from(want_ka.len()));
        for wk in want_ka {
            let Some(gk) = got_ka.iter().find(|k| k["prober"] == wk["prober"]) else {
                errors.push(format!("{name}: {id}: no keepalive finding for prober {}", wk["prober"]));
                continue;
            };
            for field in ["probes_sent", "probes_answered", "idle_s", "interval_s", "probes"] {
                if !wk[field].is_null() {
                    expect(&mut errors, format!("{id} prober {} {field}", wk["prober"]), &gk[field], &wk[field]);
                }
            }
            // A configured TCP_USER_TIMEOUT lies in the range tcpka says would give the same reset.
            if let Some(ut) = wk["user_timeout_s"].as_f64() {
                let range = gk["user_timeout_between_s"]
                    .as_array()
                    .and_then(|r| Some((r.first()?.as_f64()?, r.get(1)?.as_f64()?)));
                if !range.is_some_and(|(lo, hi)| lo < ut && ut <= hi) {
                    errors.push(format!("{name}: {id}: user timeout {ut} s not in {}", gk["user_timeout_between_s"]));
                }
            }
        }
    }
    // Reconnect storms, where the truth names them: client, server and how many were left behind.
    if let Some(want) = truth.get("reconnect_storms").and_then(Value::as_array) {
        let key = |v: &Value| (v["client"].clone(), v["server"].clone(), v["abandoned"].clone());
        let got: Vec<_> = doc["reconnect_storms"].as_array().map_or(Vec::new(), |a| a.iter().map(key).collect());
        let want: Vec<_> = want.iter().map(key).collect();
        if got != want {
            errors.push(format!("{name}: reconnect storms: tcpka says {got:?}, truth says {want:?}"));
        }
    }
    errors
}

#[test]
fn real_kernel_fixtures_match_their_ground_truth() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    for name in REQUIRED {
        assert!(dir.join(format!("{name}.truth.json")).exists(), "fixture {name} is missing");
    }
    let mut truths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".truth.json"))
        .collect();
    truths.sort();
    let mut errors = Vec::new();
    for t in &truths {
        errors.extend(check_fixture(t));
    }
    assert!(errors.is_empty(), "{} mismatches:\n{}", errors.len(), errors.join("\n"));
    eprintln!("{} fixtures checked", truths.len());
}
