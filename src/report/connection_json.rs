//! One connection's JSON object, written straight into the output buffer
//! from the connection and its verdict, in `--format json`'s naming or in
//! NDJSON's (docs/schema.md): byte for byte what serde_json writes of the
//! report model ([`ConnectionReport`](super::ConnectionReport), and its
//! NDJSON view [`ConnectionRecord`](super::ndjson::ConnectionRecord)),
//! which the tests below check, without building the report first. Its
//! strings (addresses, times, the Wireshark filter, the evidence, the
//! diagnosis), built, copied and then escaped, were most of the cost of a
//! JSON run. Values (numbers, enums, the findings' facts) still go through
//! serde_json, one at a time, so they are written as it writes them.

use super::diagnosis::describe_into;
use super::ndjson::SCHEMA_VERSION;
use super::prose::{Prose, needs_escaping};
use super::{EvidenceList, HalfClosedFacts, HandshakeReport, Judged, KeepaliveFacts, push_wireshark_filter, round6};
use crate::community::{TCP, push_community_id};
use crate::flow::Side;
use crate::time::Rfc3339Writer;
use serde::Serialize;
use std::io;

/// A member's key (tcpka's own: nothing in it to escape) as it is written
/// after another member, `,"name":`, made by `key!` at compile time; the
/// first member of an object leaves out the comma.
#[derive(Clone, Copy)]
struct Key(&'static str);

/// The [`Key`] of a member named `$name`.
macro_rules! key {
    ($name:literal) => {
        Key(concat!(",\"", $name, "\":"))
    };
}

/// Whose names the object uses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// `--format json`: endpoints as "ip:port" strings, who did something
    /// named by address under a key of its own (`sender`, `fin_by`, ...).
    Json,
    /// NDJSON's `connection` line: `type` and `schema_version` first,
    /// endpoints as `{"ip", "port"}`, who did something as its role under `by`.
    Ndjson,
}

/// What the writer keeps from connection to connection: its buffers, and
/// the capture's path as a JSON string (escaped once per capture, not once
/// per connection).
#[derive(Default)]
pub struct ConnectionWriter {
    /// The connection's words: the diagnosis, then the evidence, then the
    /// Wireshark filter (its endpoints worded once for all of them).
    words: Prose,
    evidence: EvidenceList,
    text: String,
    times: Rfc3339Writer,
    /// The connection's client and server as JSON strings, worded once.
    names: [String; 2],
    capture: String,
    capture_json: Vec<u8>,
}

impl ConnectionWriter {
    /// Appends the connection's object to `out` (no separator, no newline).
    pub fn write(&mut self, out: &mut Vec<u8>, naming: Naming, judged: &Judged<'_>) -> io::Result<()> {
        let Judged { conn, verdict, capture, capture_number, files } = *judged;
        if self.capture_json.is_empty() || self.capture != capture {
            capture.clone_into(&mut self.capture);
            self.capture_json.clear();
            string(&mut self.capture_json, capture)?;
        }
        self.words.clear();
        for (name, side) in self.names.iter_mut().zip([Side::Client, Side::Server]) {
            name.clear();
            name.push('"');
            name.push_str(self.words.endpoint(conn.side(side).addr()));
            name.push('"');
        }
        let names = &self.names;
        let name = |out: &mut Vec<u8>, side: Side| -> io::Result<()> {
            out.extend_from_slice(names[side as usize].as_bytes());
            Ok(())
        };
        let mut o = Members::open(out);
        if naming == Naming::Ndjson {
            o.value(key!("type"), "connection")?;
            o.value(key!("schema_version"), &SCHEMA_VERSION)?;
        }
        let mut digits = itoa::Buffer::new();
        let id = o.key(key!("id"));
        id.push(b'"');
        id.extend_from_slice(digits.format(capture_number).as_bytes());
        id.push(b'-');
        id.extend_from_slice(digits.format(conn.first.frame).as_bytes());
        id.push(b'"');
        self.text.clear();
        push_community_id(&mut self.text, conn.client(), conn.server(), TCP, 0);
        o.plain(key!("community_id"), &self.text);
        o.key(key!("capture")).extend_from_slice(&self.capture_json);
        for (key, side) in [(key!("client"), Side::Client), (key!("server"), Side::Server)] {
            match naming {
                Naming::Json => name(o.key(key), side)?,
                Naming::Ndjson => {
                    endpoint_object(o.key(key), self.words.ip(conn.side(side).addr()), conn.side(side).addr().port())
                }
            }
        }
        o.value(key!("roles_from"), &conn.roles)?;
        o.value(key!("vlan"), &conn.vlan.ids())?;
        o.value(key!("first_frame"), &conn.first.frame)?;
        o.value(key!("last_frame"), &conn.last.frame)?;
        o.plain(key!("start"), self.times.format(conn.first.ts));
        o.plain(key!("end"), self.times.format(conn.last.ts));
        o.value(key!("duration_s"), &round6(conn.last.ts.secs_since(conn.first.ts)))?;
        o.value(key!("packets"), &conn.packets())?;
        let reset_cause = verdict.reset().map(|r| r.cause);
        match naming {
            Naming::Json => {
                o.value(key!("end_reason"), &verdict.reason())?;
                match verdict.ended_by() {
                    Some(side) => name(o.key(key!("ended_by")), side)?,
                    None => o.value(key!("ended_by"), &())?,
                }
                o.value(key!("reset_cause"), &reset_cause)?;
            }
            Naming::Ndjson => {
                o.value(key!("verdict"), &verdict.reason())?;
                o.value(key!("reset_cause"), &reset_cause)?;
                o.value(key!("ended_by"), &verdict.ended_by())?;
            }
        }
        describe_into(&mut self.words, conn, verdict);
        o.words(key!("diagnosis"), &self.words, 0)?;

        // The findings: each one's facts after who it is about.
        let who = |o: &mut Members<'_>, json_key: Key, side: Side| -> io::Result<()> {
            match naming {
                Naming::Json => name(o.key(json_key), side),
                Naming::Ndjson => o.value(key!("by"), &side),
            }
        };
        o.objects(key!("keepalive"), verdict.keepalive(), |ka, k| {
            if naming == Naming::Json {
                name(ka.key(key!("prober")), k.prober)?;
                ka.value(key!("prober_role"), &k.prober)?;
            } else {
                ka.value(key!("by"), &k.prober)?;
            }
            keepalive_facts(ka, &KeepaliveFacts::from(k))
        })?;
        o.optional(key!("reset"), verdict.reset(), |f, r| {
            who(f, key!("sender"), r.sender)?;
            f.flattened(&super::ResetFacts::from(r))
        })?;
        o.objects(key!("injected_resets"), &verdict.injected, |f, i| {
            who(f, key!("sender"), i.sender)?;
            f.flattened(&super::InjectedResetFacts::from(i))
        })?;
        o.optional(key!("retransmission"), verdict.retransmission(), |f, r| {
            who(f, key!("sender"), r.sender)?;
            f.flattened(&super::RetransmissionFacts::from(r))
        })?;
        o.optional(key!("zero_window"), verdict.zero_window(), |f, z| {
            who(f, key!("receiver"), z.receiver)?;
            f.flattened(&super::ZeroWindowFacts::from(z))
        })?;
        o.optional(key!("half_closed"), super::half_closed(verdict), |f, (fin_by, facts): (Side, HalfClosedFacts)| {
            who(f, key!("fin_by"), fin_by)?;
            f.flattened(&facts)
        })?;
        o.value(key!("handshake"), &verdict.handshake().map(HandshakeReport::from))?;
        o.optional(key!("heartbeat"), verdict.heartbeat.as_ref(), |f, h| {
            who(f, key!("from"), h.from)?;
            f.flattened(&super::HeartbeatFacts::from(h))
        })?;

        o.value(key!("idle_at_end_s"), &verdict.idle_at_end_s().map(round6))?;
        o.value(key!("longest_idle_s"), &conn.longest_gap().map(|(g, _)| round6(g)))?;
        o.value(key!("retransmissions"), &conn.sides.iter().map(|h| h.counts.retransmissions).sum::<u32>())?;
        o.value(key!("zero_window_probes"), &conn.sides.iter().map(|h| h.counts.zero_window_probes).sum::<u32>())?;
        let evidence = self.words.len();
        self.evidence.build(&mut self.words, conn, verdict);
        let evidence_plain = self.words.is_plain_from(evidence);
        o.objects(key!("evidence"), self.evidence.iter(&self.words), |e, (p, what)| {
            e.value(key!("frame"), &p.frame)?;
            e.plain(key!("time"), self.times.format(p.ts));
            if evidence_plain {
                e.plain(key!("what"), what);
            } else {
                e.str(key!("what"), what)?;
            }
            if let Some((file, frame)) = files.locate(p.frame) {
                e.str(key!("file"), file)?;
                e.value(key!("file_frame"), &frame)?;
            }
            Ok(())
        })?;
        let filter = self.words.len();
        push_wireshark_filter(&mut self.words, conn);
        o.words(key!("wireshark_filter"), &self.words, filter)?;
        o.close();
        Ok(())
    }
}

/// A keepalive report's facts after who probed, as `#[serde(flatten)]`
/// writes them: in a JSON run most connections have one, so their keys are
/// written as they are, not escaped through serde_json (the test of every
/// fixture's connections keeps this list in step with the struct's).
fn keepalive_facts(o: &mut Members<'_>, f: &KeepaliveFacts) -> io::Result<()> {
    o.value(key!("probes_sent"), &f.probes_sent)?;
    o.value(key!("probes_answered"), &f.probes_answered)?;
    o.value(key!("unanswered_at_end"), &f.unanswered_at_end)?;
    o.value(key!("idle_observed_s"), &f.idle_observed_s)?;
    o.value(key!("last_train_idle_s"), &f.last_train_idle_s)?;
    o.value(key!("idle_s"), &f.idle_s)?;
    o.value(key!("idle_range_s"), &f.idle_range_s)?;
    o.value(key!("interval_observed_s"), &f.interval_observed_s)?;
    o.value(key!("interval_s"), &f.interval_s)?;
    o.value(key!("interval_range_s"), &f.interval_range_s)?;
    o.value(key!("probes"), &f.probes)?;
    o.value(key!("probes_bound"), &f.probes_bound)?;
    o.value(key!("user_timeout_between_s"), &f.user_timeout_between_s)?;
    o.value(key!("gave_up"), &f.gave_up)?;
    o.value(key!("probe_payload_bytes"), &f.probe_payload_bytes)?;
    o.value(key!("os_family"), &f.os_family)?;
    o.value(key!("settings_origin"), &f.settings_origin)?;
    o.value(key!("first_probe_frame"), &f.first_probe_frame)
}

/// `{"ip":"…","port":…}`, as serde_json writes NDJSON's
/// [`Endpoint`](super::ndjson::Endpoint) of a connection's end.
fn endpoint_object(out: &mut Vec<u8>, ip: &str, port: u16) {
    out.extend_from_slice(b"{\"ip\":\"");
    out.extend_from_slice(ip.as_bytes());
    out.extend_from_slice(b"\",\"port\":");
    out.extend_from_slice(itoa::Buffer::new().format(port).as_bytes());
    out.push(b'}');
}

/// A JSON string, as serde_json writes it: text that needs no escaping
/// copied as it is, the rest (a capture's path can hold anything) through
/// serde_json.
fn string(out: &mut Vec<u8>, s: &str) -> io::Result<()> {
    if needs_escaping(s.as_bytes()) {
        serde_json::to_writer(out, s)?;
    } else {
        plain_string(out, s);
    }
    Ok(())
}

/// A JSON string of text known to need no escaping.
fn plain_string(out: &mut Vec<u8>, s: &str) {
    debug_assert!(!needs_escaping(s.as_bytes()), "{s:?} needs escaping");
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// One JSON object being written, its members in order, as serde_json's
/// compact formatter writes a struct.
struct Members<'o> {
    out: &'o mut Vec<u8>,
    empty: bool,
}

impl<'o> Members<'o> {
    fn open(out: &'o mut Vec<u8>) -> Members<'o> {
        out.push(b'{');
        Members { out, empty: true }
    }

    /// Writes the member's key and returns the buffer, for its value: one
    /// copy of a constant, inlined (four pushes and a call to `memcpy` were
    /// 2.4% of a JSON run's samples).
    #[inline(always)]
    fn key(&mut self, key: Key) -> &mut Vec<u8> {
        let written = key.0.as_bytes();
        let written = if self.empty { &written[1..] } else { written };
        self.empty = false;
        self.out.extend_from_slice(written);
        self.out
    }

    fn value<T: Serialize + ?Sized>(&mut self, key: Key, value: &T) -> io::Result<()> {
        serde_json::to_writer(self.key(key), value)?;
        Ok(())
    }

    fn str(&mut self, key: Key, value: &str) -> io::Result<()> {
        string(self.key(key), value)
    }

    /// A string that never holds a character JSON escapes (times, the
    /// Community ID: the tests below say so), not looked at again.
    fn plain(&mut self, key: Key, value: &str) {
        plain_string(self.key(key), value);
    }

    /// What `words` holds from `start` on: looked at only if something
    /// put in it since might need escaping.
    fn words(&mut self, key: Key, words: &Prose, start: usize) -> io::Result<()> {
        let text = &words.as_str()[start..];
        if words.is_plain_from(start) {
            self.plain(key, text);
            Ok(())
        } else {
            self.str(key, text)
        }
    }

    /// An object, or null: `members` writes what is in it.
    fn optional<T>(
        &mut self,
        key: Key,
        value: Option<T>,
        members: impl FnOnce(&mut Members<'_>, T) -> io::Result<()>,
    ) -> io::Result<()> {
        let out = self.key(key);
        match value {
            None => out.extend_from_slice(b"null"),
            Some(v) => {
                let mut object = Members::open(out);
                members(&mut object, v)?;
                object.close();
            }
        }
        Ok(())
    }

    /// An array of objects, one for each of `items`: `members` writes what
    /// is in each.
    fn objects<T>(
        &mut self,
        key: Key,
        items: impl IntoIterator<Item = T>,
        mut members: impl FnMut(&mut Members<'_>, T) -> io::Result<()>,
    ) -> io::Result<()> {
        let out = self.key(key);
        out.push(b'[');
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let mut object = Members::open(out);
            members(&mut object, item)?;
            object.close();
        }
        out.push(b']');
        Ok(())
    }

    /// The members of `facts` after those written so far, as
    /// `#[serde(flatten)]` writes them. serde_json writes a struct as `{`,
    /// its members, `}`: its `{` becomes the comma after the members before
    /// it, and its `}` is taken off for [`close`](Members::close) to put back.
    fn flattened<T: Serialize>(&mut self, facts: &T) -> io::Result<()> {
        let at = self.out.len();
        serde_json::to_writer(&mut *self.out, facts)?;
        debug_assert!(!self.empty && self.out[at] == b'{' && self.out.len() > at + 2, "flattened after a member");
        self.out[at] = b',';
        self.out.pop();
        Ok(())
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

/// The connection's report in `naming`, as the report model writes it
/// through serde_json: what [`ConnectionWriter::write`] must match.
#[cfg(test)]
pub fn through_the_model(judged: &Judged<'_>, naming: Naming) -> String {
    let report = judged.report();
    match naming {
        Naming::Json => serde_json::to_string(&report).unwrap(),
        Naming::Ndjson => serde_json::to_string(&super::ndjson::ConnectionRecord::new(&report)).unwrap(),
    }
}

#[cfg(test)]
fn written(writer: &mut ConnectionWriter, judged: &Judged<'_>, naming: Naming) -> String {
    let mut out = Vec::new();
    writer.write(&mut out, naming, judged).unwrap();
    String::from_utf8(out).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::wire::*;
    use crate::neighbours::NeighbourLog;
    use crate::pipeline::Judge;
    use crate::report::{ConnectionReport, FileFrames, ReportSink, RunReport};
    use crate::source::series::Joining;
    use crate::time::Timestamp;
    use crate::verdict::{EndReason, judge};
    use std::ffi::OsString;
    use std::path::PathBuf;

    /// Writes every connection it is handed both ways, in both namings, and
    /// says where they differ.
    #[derive(Default)]
    struct BothWays {
        writer: ConnectionWriter,
        compared: usize,
        differences: Vec<String>,
    }

    impl BothWays {
        fn compare(&mut self, judged: &Judged<'_>) {
            for naming in [Naming::Json, Naming::Ndjson] {
                let (direct, model) = (written(&mut self.writer, judged, naming), through_the_model(judged, naming));
                if direct != model {
                    self.differences.push(format!("{}\n  written: {direct}\n  model:   {model}", judged.capture));
                }
            }
            self.compared += 1;
        }
    }

    impl ReportSink for BothWays {
        fn wants(&mut self, _: EndReason) -> bool {
            true
        }
        fn judged(&mut self, judged: &Judged<'_>) -> io::Result<()> {
            self.compare(judged);
            Ok(())
        }
        fn connection(&mut self, _: &ConnectionReport) -> io::Result<()> {
            panic!("no live event stream here: every connection comes through `judged`")
        }
        fn finish(&mut self, _: &RunReport<'_>) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_fixture_and_public_capture_is_written_as_the_model_writes_it() {
        // Every verdict, reset cause and finding the fixtures hold (IPv6,
        // VLAN tags, a ring buffer's evidence located in its files), in
        // both namings.
        let files = crate::testkit::every_fixture_capture();
        let ring: Vec<PathBuf> =
            files.iter().filter(|f| f.to_string_lossy().contains("inputs/ring-buffer/")).cloned().collect();
        assert!(files.len() >= 60 && ring.len() == 3, "{files:?}");
        let mut sink = BothWays::default();
        let mut judge = Judge::new(&mut sink, Default::default());
        let mut groups: Vec<Vec<PathBuf>> =
            files.iter().filter(|f| !ring.contains(f)).map(|f| vec![f.clone()]).collect();
        groups.push(ring);
        for group in groups {
            let group: Vec<OsString> = group.into_iter().map(PathBuf::into_os_string).collect();
            crate::analyze::analyze_files(
                &mut judge,
                &group,
                None,
                Joining::Auto,
                |_, _, _| {},
                None,
                &Default::default(),
            )
            .unwrap();
        }
        judge.finish().unwrap();
        assert!(sink.compared > 1000, "{} connections", sink.compared);
        assert!(
            sink.differences.is_empty(),
            "{} differ:\n{}",
            sink.differences.len(),
            sink.differences[..3.min(sink.differences.len())].join("\n")
        );
    }

    #[test]
    fn capture_paths_are_escaped_as_serde_json_escapes_them() {
        // Quotes, backslashes, control characters, and what a path that is
        // not UTF-8 becomes (its bytes lossily decoded, as the capture's
        // name is made): each written as serde_json writes it, also when
        // the path changes from one connection to the next.
        let not_utf8 = String::from_utf8_lossy(b"/tmp/caf\xe9 \xff.pcap").into_owned();
        let paths = [
            "plain.pcap",
            "a \"quoted\" path",
            "C:\\captures\\x.pcap",
            "tab\tnew\nline\r\u{1}\u{1f}\u{7f}",
            &not_utf8,
            "plain.pcap",
        ];
        let mut w = Wire::established(1000, 5000);
        w.send(21.405, seg(S, ACK, 5100, 1011, 0));
        w.send(23.421, seg(S, ACK, 5100, 1011, 0));
        w.send(25.437, seg(S, RST | ACK, 5101, 1011, 0));
        let conns = w.finish();
        let verdict = judge(&conns[0], Timestamp::from_secs_f64(25.437), &NeighbourLog::default());
        let mut sink = BothWays::default();
        for path in paths {
            // A ring buffer's files are named in the evidence, escaped the same way.
            let mut files = FileFrames::default();
            files.add(0, path);
            files.add(8, &format!("{path}.1"));
            let judged = Judged { conn: &conns[0], verdict: &verdict, capture: path, capture_number: 3, files: &files };
            sink.compare(&judged);
        }
        assert_eq!(sink.compared, paths.len());
        assert!(sink.differences.is_empty(), "{}", sink.differences.join("\n"));
    }

    #[test]
    fn keepalive_facts_are_written_as_serde_json_writes_them() {
        use crate::findings::{OsFamily, SettingsOrigin};
        use crate::verdict::Bound;
        let none = KeepaliveFacts {
            probes_sent: 0,
            probes_answered: 0,
            unanswered_at_end: 0,
            idle_observed_s: None,
            last_train_idle_s: None,
            idle_s: None,
            idle_range_s: None,
            interval_observed_s: None,
            interval_s: None,
            interval_range_s: None,
            probes: None,
            probes_bound: None,
            user_timeout_between_s: None,
            gave_up: false,
            probe_payload_bytes: 0,
            os_family: OsFamily::Unknown,
            settings_origin: SettingsOrigin::Unknown,
            first_probe_frame: None,
        };
        let all = KeepaliveFacts {
            probes_sent: 12,
            probes_answered: 3,
            unanswered_at_end: 9,
            idle_observed_s: Some(7200.25),
            last_train_idle_s: Some(7201.000001),
            idle_s: Some(7200),
            idle_range_s: Some([7199, 7200]),
            interval_observed_s: Some(75.5),
            interval_s: Some(75),
            interval_range_s: Some([75, 76]),
            probes: Some(9),
            probes_bound: Some(Bound::AtLeast),
            user_timeout_between_s: Some([0.0, 1e-7]),
            gave_up: true,
            probe_payload_bytes: 1,
            os_family: OsFamily::Windows,
            settings_origin: SettingsOrigin::Tuned,
            first_probe_frame: Some(u64::MAX),
        };
        for facts in [none, all] {
            let mut out = Vec::new();
            let mut o = Members::open(&mut out);
            keepalive_facts(&mut o, &facts).unwrap();
            o.close();
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&facts).unwrap());
        }
    }

    proptest::proptest! {
        #[test]
        fn times_never_need_escaping(start in proptest::prelude::any::<i64>(), step in proptest::prelude::any::<i64>()) {
            // Any time, also those chrono cannot word (seconds instead),
            // and one worded from a second kept before.
            let mut times = Rfc3339Writer::default();
            for t in [start, start.wrapping_add(step % 1_000_000_000)] {
                let text = times.format(Timestamp(t));
                proptest::prop_assert!(!needs_escaping(text.as_bytes()), "{}", text);
            }
        }

        #[test]
        fn community_ids_never_need_escaping(
            a in proptest::prelude::any::<u128>(), b in proptest::prelude::any::<u128>(),
            ports in proptest::prelude::any::<(u16, u16)>(), seed in proptest::prelude::any::<u16>(),
        ) {
            // "1:" and base64: letters, digits, '+', '/', '='.
            use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
            let v4 = |x: u128| SocketAddr::from((Ipv4Addr::from(x as u32), ports.0));
            let v6 = |x: u128| SocketAddr::from((Ipv6Addr::from(x), ports.1));
            for (x, y) in [(v4(a), v4(b)), (v6(a), v6(b))] {
                let mut id = String::new();
                push_community_id(&mut id, x, y, TCP, seed);
                proptest::prop_assert!(!needs_escaping(id.as_bytes()), "{}", id);
            }
        }
    }

    #[test]
    fn a_diagnosis_with_a_backslash_is_escaped() {
        // A Windows prober's advice names a registry key, Tcpip\Parameters:
        // the diagnosis is looked at, and its backslash escaped.
        let mut w = Wire::new();
        w.send(0.0, seg(C, SYN, 1000, 0, 0).ttl(128));
        w.send(0.001, seg(S, SYN | ACK, 5000, 1001, 0));
        w.send(0.002, seg(C, ACK, 1001, 5001, 10).ttl(128));
        w.send(0.004, seg(S, ACK, 5001, 1011, 100));
        w.send(0.005, seg(C, ACK, 1011, 5101, 0).ttl(128));
        for i in 0..10 {
            w.send(30.005 + f64::from(i), seg(C, ACK, 1010, 5101, 1).ttl(128));
        }
        w.send(40.005, seg(C, RST | ACK, 1011, 5101, 0).ttl(128));
        let conns = w.finish();
        let verdict = judge(&conns[0], Timestamp::from_secs_f64(40.005), &NeighbourLog::default());
        let files = FileFrames::default();
        let judged = Judged { conn: &conns[0], verdict: &verdict, capture: "w.pcap", capture_number: 1, files: &files };
        let mut sink = BothWays::default();
        sink.compare(&judged);
        assert!(sink.differences.is_empty(), "{}", sink.differences.join("\n"));
        let json = written(&mut sink.writer, &judged, Naming::Json);
        assert!(json.contains("(Tcpip\\\\Parameters)"), "{json}");
        assert!(!sink.writer.words.is_plain_from(0));
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        for s in ["", "plain words", "a \"quoted\" path", "back\\slash", "tab\tnew\nline\r\u{1}\u{1f}\u{7f}", "é→×"]
        {
            let mut out = Vec::new();
            string(&mut out, s).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }
}
