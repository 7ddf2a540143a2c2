use clap::{ColorChoice, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeSet;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use tcpka::{HtmlSink, JsonSink, Judge, NdjsonSink, ReportSink, Selector, TableSink};

const EXIT_CODES: &str = "\
Exit status:
  0  analysis done, no --fail-on verdict seen
  1  a connection ended with a verdict named by --fail-on
  2  usage error, or an input that could not be read (fully): the report
     still covers everything that could be read
  130, 143
     stopped by Ctrl-C (SIGINT) or SIGTERM: reading stops, what was read is
     judged and reported as at the end of the capture, whose error says where
     it stopped; a second Ctrl-C exits at once, leaving the output unfinished";

/// The verdicts `--only` and `--fail-on` take, each with its meaning.
fn verdicts() -> String {
    let width = tcpka::EndReason::ALL.iter().map(|r| r.as_str().len()).max().unwrap_or(0);
    let lines: Vec<String> =
        tcpka::EndReason::ALL.iter().map(|r| format!("  {:<width$}  {}", r.as_str(), r.meaning())).collect();
    format!("Verdicts (end_reason):\n{}", lines.join("\n"))
}

#[derive(Parser)]
#[command(
    name = "tcpka",
    version,
    about = "Explains why long-lived TCP connections ended, and which keepalive settings ended them",
    long_about = "tcpka reads packet captures (pcap or pcapng, as written by tcpdump, Wireshark or \
                  tshark) and tells, for every TCP connection, why it ended: a keepalive timeout, \
                  a reset, an orderly close, or still open. When keepalive probes killed a \
                  connection it names the prober and the settings that did it \
                  (tcp_keepalive_time / _intvl / _probes, or TCP_KEEPIDLE / TCP_KEEPINTVL / \
                  TCP_KEEPCNT), with the frame numbers to check in Wireshark."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse capture files
    #[command(after_help = format!("Examples:\n  tcpka analyze capture.pcap\n  tcpka analyze -f 'tcp port 7777' --all a.pcap b.pcapng\n  tcpka analyze -r capture.pcap tcp port 7777\n  tcpka analyze --format html capture.pcap > report.html\n  tcpdump -r big.pcap -w - 'host 10.0.0.1' | tcpka analyze --format json -\n  tcpka analyze --fail-on keepalive-timeout,reset:middlebox regression.pcap\n  tcpka analyze --only reset --format ndjson big.pcap | jq .reset_cause\n  tcpka analyze ring/    (a directory of ring-buffer files: one capture)\n  tcpka analyze --vantage client=c.pcap --vantage server=s.pcap\n\n{}\n\n{}\n\n{EXIT_CODES}", verdicts(), reset_causes()))]
    #[command(override_usage = "tcpka analyze [OPTIONS] FILE... [EXPR]\n       tcpka analyze [OPTIONS] -r FILE [EXPR]")]
    Analyze(AnalyzeArgs),
    /// Capture from a network interface and stream events as they happen
    #[command(after_help = LIVE_HELP)]
    Live(LiveArgs),
    /// Print a shell completion script (e.g. tcpka completions bash > /etc/bash_completion.d/tcpka)
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): tcpka man > tcpka.1 && man ./tcpka.1
    Man,
}

const LIVE_HELP: &str = "\
Examples:
  sudo tcpka live -i eth0 -f 'tcp port 5432'
  sudo tcpka live --format json --duration 1h --write ka.pcap | jq 'select(.event==\"connection-ended\")'
  sudo tcpka live -i eth0 --format json --report final.json | jq -c .
  tcpka live --list-interfaces

Events (human lines, or with --format json one JSON object per line):
  capture-started, keepalive-train, probe-unanswered, connection-ended,
  capture-stats, and final-report (the same document `tcpka analyze --format json` prints).
  By default only abnormal endings and keepalive trains (--events abnormal,trains);
  --events all shows every connection-ended, --events keepalive-timeout,reset:middlebox
  only those. Each connection event has the connection's number and Community ID.

Ctrl-C, SIGTERM or the end of --duration stops the capture and prints the final report
(or writes it to --report FILE). Events that standard output cannot take in time are
dropped and counted (capture-stats), so the capture never waits for a reader.
Capturing needs root, or once: sudo setcap cap_net_raw,cap_net_admin=eip $(which tcpka)

Exit status:
  0  capture stopped (Ctrl-C, SIGTERM, --duration)
  2  usage error; no permission to capture; no such interface; bad filter;
     the capture failed: the interface went away, or the --write file could not
     be written (the report still covers what was captured); standard output
     not read for 1 s after the stop (the final report was not delivered)";

#[derive(clap::Args)]
struct LiveArgs {
    /// Interface to capture on (default: the one libpcap picks, as tcpdump does; "any" for all)
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    interface: Option<String>,

    /// BPF filter, as in `tcpdump EXPR`
    #[arg(short = 'f', long = "filter", value_name = "EXPR")]
    filter: Option<String>,

    /// Stop after this long: 30s, 5m, 1h30m, 250ms, or plain seconds
    #[arg(long, value_name = "D", value_parser = tcpka::parse_duration)]
    duration: Option<std::time::Duration>,

    /// Save every captured packet to this pcap file (`tcpka analyze FILE` gives the same verdicts)
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    write: Option<std::path::PathBuf>,

    /// Write the final report to FILE instead of standard output (which then carries only events)
    #[arg(long, value_name = "FILE")]
    report: Option<std::path::PathBuf>,

    /// Bytes kept of each packet (tcpka reads headers only)
    #[arg(short = 's', long, value_name = "BYTES", default_value_t = tcpka::DEFAULT_SNAPLEN,
          value_parser = clap::value_parser!(u32).range(64..=262_144))]
    snaplen: u32,

    /// Connection events to stream: all, none, abnormal, trains, a verdict, reset:CAUSE (comma-separated)
    #[arg(long, value_name = "LIST", default_value = tcpka::DEFAULT_EVENTS, value_parser = parse_events)]
    events: tcpka::EventSelection,

    /// Serve Prometheus metrics at http://ADDR:PORT/metrics (e.g. 0.0.0.0:9857)
    #[arg(long, value_name = "ADDR:PORT")]
    metrics: Option<String>,

    /// Size of the kernel's capture buffer, in MiB (as tcpdump -B, which takes KiB)
    #[arg(short = 'B', long, value_name = "MIB", default_value_t = tcpka::DEFAULT_BUFFER_MIB,
          value_parser = clap::value_parser!(u32).range(1..=2047))]
    buffer_size: u32,

    /// Output format: human lines and a final table, or NDJSON events
    #[arg(long, value_enum, default_value_t = LiveFormat::Table)]
    format: LiveFormat,

    /// Final table: list every connection, not only the abnormal ones
    #[arg(long)]
    all: bool,

    /// The final report lists only connections with these verdicts
    /// (reset:CAUSE for one cause of reset), as tcpka analyze --only; its
    /// totals still count every connection (the events: --events)
    #[arg(long, value_name = "VERDICT[:CAUSE],…", value_delimiter = ',', value_parser = parse_selector)]
    only: Vec<Selector>,

    /// Do not put the interface into promiscuous mode
    #[arg(short = 'p', long = "no-promiscuous-mode")]
    no_promiscuous: bool,

    /// List the interfaces tcpka can capture on (name, flags, addresses) and exit
    #[arg(long, conflicts_with_all = ["interface", "filter", "duration", "write", "report", "metrics", "events", "all", "only", "no_promiscuous"])]
    list_interfaces: bool,
}

#[derive(clap::Args)]
struct AnalyzeArgs {
    /// Capture files (pcap or pcapng, also compressed, recognised by content) or
    /// directories of them (a ring buffer); "-" reads standard input. A filter
    /// expression may follow the files, as tcpdump takes it: tcpka analyze
    /// x.pcap tcp port 80
    #[arg(required_unless_present_any = ["read", "vantage"], value_name = "FILE")]
    files: Vec<std::ffi::OsString>,

    /// A capture file, as tcpdump -r takes it (may be repeated); the other
    /// arguments are then the filter expression
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    read: Vec<std::ffi::OsString>,

    /// Two captures of the same connections taken at once at two points of
    /// their path (e.g. either side of a NAT or firewall), each named:
    /// `--vantage client=c.pcap --vantage server=s.pcap`. Besides each
    /// capture's report: which connection is which, and the packets that
    /// were lost or injected between the two points
    #[arg(long, value_name = "NAME=FILE", value_parser = parse_vantage, conflicts_with_all = ["files", "read", "concat", "separate"])]
    vantage: Vec<(String, std::ffi::OsString)>,

    /// Only packets matching this BPF filter, as in `tcpdump -r FILE EXPR` (frame numbers stay those of the file)
    #[arg(short = 'f', long = "filter", value_name = "EXPR")]
    filter: Option<String>,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,

    /// List every connection, not only the abnormal ones (table format)
    #[arg(long)]
    all: bool,

    /// Draw tables and ladder diagrams with plain ASCII instead of box-drawing characters
    #[arg(long)]
    ascii: bool,

    /// Colour the table: auto (on a terminal, unless NO_COLOR is set), always or never
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    color: ColorChoice,

    /// Also print every TCP packet to standard error in Wireshark's words: its
    /// class as Wireshark's analysis names it ([TCP Keep-Alive], [TCP
    /// Keep-Alive ACK], [TCP ZeroWindowProbe], [TCP Retransmission]), its flags
    /// as the Info column shows them ([SYN, ACK]) and its length
    #[arg(long)]
    trace: bool,

    /// Read all files as one capture, in the order of their first packets
    /// (default: files that continue one another — a ring buffer's, a
    /// directory's — are joined, others read apart)
    #[arg(long, conflicts_with = "separate")]
    concat: bool,

    /// Read every file as a capture of its own, even a ring buffer's
    #[arg(long)]
    separate: bool,

    /// Exit with status 1 when any connection ends with one of these verdicts
    /// (a reset's cause as reset:CAUSE, e.g. reset:middlebox)
    #[arg(long, value_name = "VERDICT[:CAUSE],…", value_delimiter = ',', value_parser = parse_selector)]
    fail_on: Vec<Selector>,

    /// Report only connections with these verdicts (reset:CAUSE for one
    /// cause of reset), in every format; the totals still count every connection
    #[arg(long, value_name = "VERDICT[:CAUSE],…", value_delimiter = ',', value_parser = parse_selector)]
    only: Vec<Selector>,

    /// NDJSON: write each line as soon as it is complete, also when reading
    /// capture files into a pipe or a file (where lines are otherwise
    /// written 64 KiB at a time; on a terminal, or reading standard input
    /// or a FIFO, each line goes out at once anyway)
    #[arg(long)]
    line_buffered: bool,
}

/// Whether every input is a file (or a directory of them, a ring
/// buffer): read as fast as the disk gives it, never waiting for a writer,
/// so NDJSON lines held back for a block are held for milliseconds.
/// Standard input, a FIFO or process substitution may trickle: a line
/// held back there could wait for minutes.
fn inputs_are_files<'a>(files: impl IntoIterator<Item = &'a std::ffi::OsString>) -> bool {
    files.into_iter().all(|f| f != "-" && std::fs::metadata(f).is_ok_and(|m| m.is_file() || m.is_dir()))
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Summary, probers, then the abnormal connections with their diagnosis
    Table,
    /// One JSON document (the shape the README shows)
    Json,
    /// One JSON object per line: each connection as it is judged, then a
    /// summary (docs/schema.md)
    Ndjson,
    /// One self-contained HTML page (no network, prints well), ladders as SVG
    Html,
}

/// Live output: the events are one JSON object per line already.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LiveFormat {
    /// Human lines, then the final table
    Table,
    /// One JSON object per event (docs/live.md)
    Json,
}

/// `NAME=FILE`; a FILE alone is named after its file name.
fn parse_vantage(s: &str) -> Result<(String, std::ffi::OsString), String> {
    match s.split_once('=') {
        Some((name, file)) if !name.is_empty() && !file.is_empty() => Ok((name.to_string(), file.into())),
        Some(_) => Err("expected NAME=FILE, e.g. client=client.pcap".into()),
        None => {
            let name = std::path::Path::new(s).file_stem().map_or(s.into(), |n| n.to_string_lossy().into_owned());
            Ok((name, s.into()))
        }
    }
}

/// The reset causes `--only` and `--fail-on` take, from the verdict vocabulary.
fn reset_causes() -> String {
    let causes: Vec<&str> = tcpka::ResetCause::ALL.iter().map(|c| c.as_str()).collect();
    let words =
        textwrap::fill(&causes.join(", "), textwrap::Options::new(76).initial_indent("  ").subsequent_indent("  "));
    format!("Reset causes (--only / --fail-on reset:CAUSE):\n{words}")
}

fn parse_selector(s: &str) -> Result<Selector, String> {
    s.parse()
}

/// The command line's definition, with the libpcap tcpka runs with in `--version`.
fn command() -> clap::Command {
    let version = format!("{} ({})", env!("CARGO_PKG_VERSION"), tcpka::libpcap_version());
    Cli::command().version(version)
}

fn parse_events(s: &str) -> Result<tcpka::EventSelection, String> {
    s.parse()
}

fn main() -> ExitCode {
    let cli = match Cli::from_arg_matches(&command().get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Command::Analyze(args) => analyze(args),
        Command::Live(args) => live(args),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut command(), "tcpka", &mut io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            clap_mangen::Man::new(command()).render(&mut io::stdout()).map(|()| ExitCode::SUCCESS).map_err(Into::into)
        }
    };
    match result {
        Ok(code) => code,
        // Standard output was closed (`| head`): a quiet success, as ripgrep does.
        Err(e) if tcpka::is_broken_pipe(e.as_ref()) => ExitCode::SUCCESS,
        Err(e) => {
            tcpka::diag!("tcpka: {e}");
            ExitCode::from(2)
        }
    }
}

type Failure = Box<dyn std::error::Error>;

fn live(args: LiveArgs) -> Result<ExitCode, Failure> {
    let json = args.format == LiveFormat::Json;
    if args.list_interfaces {
        tcpka::list_interfaces(&mut io::stdout().lock(), json)?;
        return Ok(ExitCode::SUCCESS);
    }
    let stop = tcpka::stop_on_signals().map_err(|e| format!("cannot handle SIGINT/SIGTERM: {e}"))?;
    let opts = tcpka::LiveOptions {
        interface: args.interface,
        filter: args.filter,
        duration: args.duration,
        write: args.write,
        report: args.report,
        json,
        all: args.all,
        promiscuous: !args.no_promiscuous,
        snaplen: args.snaplen,
        buffer_mib: args.buffer_size,
        metrics: args.metrics,
        events: args.events,
        only: args.only,
    };
    let outcome = tcpka::run_live(&opts, &stop)?;
    Ok(match outcome.capture_error {
        Some(e) => {
            tcpka::diag!("tcpka: the capture failed: {e}");
            ExitCode::from(2)
        }
        None => ExitCode::SUCCESS,
    })
}

fn analyze(mut args: AnalyzeArgs) -> Result<ExitCode, Failure> {
    // Two vantage points name their files with --vantage (clap keeps files and -r away).
    let (files, filter) = if args.vantage.is_empty() {
        tcpka::files_and_filter(std::mem::take(&mut args.files), std::mem::take(&mut args.read), args.filter.take())
            .map_err(Failure::from)?
    } else {
        (Vec::new(), args.filter.take())
    };
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        // anstream's rule: a terminal, and neither NO_COLOR nor TERM=dumb.
        ColorChoice::Auto => anstream::AutoStream::choice(&io::stdout()) != anstream::ColorChoice::Never,
    };
    // NDJSON in blocks only where that delays no line anyone waits for:
    // not to a terminal, not from a stream that may trickle, not when asked
    // for each line (`--line-buffered`, as grep and ripgrep name it). Asked
    // for NDJSON only: it looks at every input.
    let ndjson_in_blocks = || {
        !args.line_buffered
            && !io::stdout().is_terminal()
            && inputs_are_files(files.iter().chain(args.vantage.iter().map(|(_, f)| f)))
    };
    let out = || io::BufWriter::new(io::stdout().lock());
    // JSON's connections, and NDJSON's lines in blocks, are written on a
    // thread of their own (the reader leaves most of a core idle), which
    // takes standard output unlocked: a lock stays with its thread.
    let unlocked = || io::BufWriter::new(io::stdout());
    let mut sink: Box<dyn ReportSink> = match args.format {
        // With --only, the table lists what was asked for, abnormal or not.
        Format::Table => {
            Box::new(TableSink::new(out(), args.all || !args.only.is_empty()).ascii(args.ascii).color(color))
        }
        Format::Json => Box::new(JsonSink::on_thread(unlocked())?),
        Format::Ndjson if ndjson_in_blocks() => Box::new(NdjsonSink::in_blocks_on_thread(unlocked())?),
        Format::Ndjson => Box::new(NdjsonSink::new(out())),
        Format::Html => Box::new(HtmlSink::new(out(), args.all || !args.only.is_empty())),
    };
    let fail_on: BTreeSet<Selector> = args.fail_on.iter().copied().collect();
    // Ctrl-C or SIGTERM stops the reading; what was read is judged and
    // written as at the end of the capture (a second one exits at once).
    let signals = tcpka::catch_stop_signals().map_err(|e| format!("cannot handle SIGINT/SIGTERM: {e}"))?;
    let mut judge = Judge::new(sink.as_mut(), fail_on).only(args.only.clone());
    let show_progress = io::stderr().is_terminal() && !args.trace;
    let mut stderr = io::BufWriter::new(io::stderr());
    let mut print_trace = |at: tcpka::PacketRef, seg: &tcpka::Segment, class: tcpka::PacketClass| {
        writeln!(stderr, "{}", tcpka::trace_line(at, seg, class))
    };
    let trace: Option<&mut tcpka::Tracer<'_>> = if args.trace { Some(&mut print_trace) } else { None };
    // A bar of bytes read against the file size, on standard error, only
    // when that is a terminal (indicatif draws nothing otherwise).
    let bar = if show_progress { ProgressBar::new(0) } else { ProgressBar::hidden() };
    // Standard input or a FIFO has no size: a spinner with the bytes read and the rate.
    let bar_style =
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}")
            .expect("valid template")
            .progress_chars("=> ");
    let spinner_style =
        ProgressStyle::with_template("{msg} {spinner} {bytes} read, {binary_bytes_per_sec}").expect("valid template");
    bar.set_style(bar_style.clone());
    let mut current = String::new();
    let progress = |path: &str, done, total: Option<u64>| {
        if current != path {
            current = path.to_string();
            bar.set_message(current.clone());
            match total {
                Some(total) => {
                    bar.set_style(bar_style.clone());
                    bar.set_length(total);
                }
                None => {
                    bar.set_style(spinner_style.clone());
                    bar.enable_steady_tick(std::time::Duration::from_millis(120));
                }
            }
        }
        bar.set_position(done);
    };
    let outcome = if args.vantage.is_empty() {
        let joining = match (args.concat, args.separate) {
            (true, _) => tcpka::Joining::Concat,
            (_, true) => tcpka::Joining::Separate,
            _ => tcpka::Joining::Auto,
        };
        tcpka::analyze_files(&mut judge, &files, filter.as_deref(), joining, progress, trace, &signals.stop)?
    } else if args.vantage.len() != 2 {
        return Err(format!("--vantage names two captures (one per point), not {}", args.vantage.len()).into());
    } else {
        tcpka::analyze_vantage(&mut judge, &args.vantage, filter.as_deref(), progress, trace, &signals.stop)?
    };
    bar.finish_and_clear();
    // The trace is buffered: its last lines failing to reach standard
    // error is an error too, not something the drop of the buffer hides.
    stderr.flush()?;
    // Nothing could be read: the messages say why; an empty report would not.
    let failed = if outcome.captures_read > 0 { judge.finish()? } else { false };
    for e in &outcome.input_errors {
        tcpka::diag!("tcpka: {e}");
    }
    if let Some(where_) = &outcome.interrupted {
        tcpka::diag!("tcpka: {where_}");
    }
    match outcome.files_not_read {
        0 => {}
        1 => tcpka::diag!("tcpka: interrupted: 1 more file was not read"),
        n => tcpka::diag!("tcpka: interrupted: {n} more files were not read"),
    }
    // Stopped by a signal: the status says so, as a shell's would for a
    // process it killed, also when the signal came after the last packet.
    Ok(if let Some(signal) = signals.caught() {
        ExitCode::from(tcpka::StopSignals::exit_status(signal))
    } else if !outcome.input_errors.is_empty() {
        ExitCode::from(2)
    } else if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
