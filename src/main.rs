//! The `wxlake` binary: parse the command line, set up logging, dispatch to the library, and turn
//! an error into one message and a sysexits-style exit code (after tuning the allocator, which is
//! the process's business, not the library's). Nothing else lives here.

mod allocator;
mod cli;
mod man;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use tracing_subscriber::filter::LevelFilter;

use cli::{Cli, Command, Global, LogFormat};

fn main() -> ExitCode {
    allocator::tune();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    ExitCode::from(wxlake::ExitCode::Usage as u8)
                }
                _ => ExitCode::from(wxlake::ExitCode::Usage as u8),
            };
        }
    };
    init_logging(&cli);
    let global = Global {
        data_dir: cli.data_dir.clone(),
        timezone: cli.timezone.clone(),
        progress: progress_for(&cli),
    };
    let result = run(cli.command, &global);
    report_peak_memory();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let mut msg = format!("error: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                // One line per cause: most errors already say what caused them.
                let text = cause.to_string();
                if !msg.contains(&text) {
                    msg.push_str(&format!("\n  caused by: {text}"));
                }
                source = cause.source();
            }
            if let Some(hint) = err.hint() {
                msg.push_str(&format!("\nhint: {hint}"));
            }
            eprintln!("{msg}");
            ExitCode::from(err.exit_code() as u8)
        }
    }
}

fn run(command: Command, global: &Global) -> wxlake::Result<()> {
    match command {
        Command::Ingest(args) => {
            let (opts, json) = args.into_options(global);
            let summary = wxlake::commands::ingest::run(&opts)?;
            print_summary(json, &summary, |s| s.render());
            Ok(())
        }
        Command::Compact(args) => {
            let (opts, json) = args.into_options(global);
            let summary = wxlake::commands::compact::run(&opts)?;
            print_summary(json, &summary, |s| s.render());
            Ok(())
        }
        Command::Migrate(args) => {
            let (opts, json) = args.into_options(global);
            let summary = wxlake::commands::migrate::run(&opts)?;
            print_summary(json, &summary, |s| s.render());
            Ok(())
        }
        Command::Archive(args) => {
            let (opts, json) = args.into_options(global);
            let summary = wxlake::commands::archive::run(&opts)?;
            print_summary(json, &summary, |s| s.render());
            Ok(())
        }
        Command::Contacts(args) => {
            let stdout = std::io::stdout();
            let terminal = stdout.is_terminal();
            let opts = args.into_options(global, terminal, terminal_width());
            let mut out = stdout;
            wxlake::commands::contacts::run(&opts, &mut out)?;
            Ok(())
        }
        Command::Status(args) => {
            let (opts, json) = args.into_options(global);
            let report = wxlake::commands::status::run(&opts)?;
            print_summary(json, &report, |r| r.render());
            Ok(())
        }
        Command::Verify(args) => {
            let (opts, json) = args.into_options(global);
            let report = wxlake::commands::verify::run(&opts)?;
            print_summary(json, &report, |r| r.render());
            if report.ok {
                Ok(())
            } else {
                Err(wxlake::Error::NotWhole {
                    problems: report.problems.len(),
                })
            }
        }
        Command::Completions { shell } => {
            let shell = match shell {
                cli::Shell::Bash => clap_complete::Shell::Bash,
                cli::Shell::Zsh => clap_complete::Shell::Zsh,
                cli::Shell::Fish => clap_complete::Shell::Fish,
            };
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "wxlake", &mut out);
            print_stdout(&String::from_utf8_lossy(&out));
            Ok(())
        }
        Command::Man { out_dir } => man::run(out_dir.as_deref()),
        Command::Query(args) => {
            let stdout = std::io::stdout();
            let terminal = stdout.is_terminal();
            let opts = args.into_options(global, terminal, terminal_width())?;
            let mut out = stdout;
            let report = wxlake::commands::query::run(&opts, &mut out)?;
            if report.pipe_closed {
                tracing::debug!("stdout closed by the reader; stopped early");
            }
            Ok(())
        }
    }
}

/// With `WXLAKE_REPORT_PEAK_MEMORY` set (tests and benchmarks), print the process's peak
/// resident memory (`VmHWM` of /proc/self/status) to stderr as `peak_rss_kb=N`.
fn report_peak_memory() {
    if std::env::var_os("WXLAKE_REPORT_PEAK_MEMORY").is_none() {
        return;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(kb) = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
    {
        eprintln!("peak_rss_kb={}", kb.trim());
    }
}

/// The terminal's width, else `$COLUMNS`, else 120.
fn terminal_width() -> usize {
    terminal_size::terminal_size()
        .map(|(w, _)| usize::from(w.0))
        .or_else(|| std::env::var("COLUMNS").ok()?.parse().ok())
        .unwrap_or(120)
}

/// Print a command's summary: one JSON object with `--json`, else the text for people.
fn print_summary<T: serde::Serialize>(json: bool, summary: &T, render: impl FnOnce(&T) -> String) {
    let text = if json {
        serde_json::to_string(summary).expect("summaries serialize") + "\n"
    } else {
        render(summary)
    };
    print_stdout(&text);
}

/// Write to stdout; a closed pipe (`| head`) is not an error.
fn print_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("error: cannot write to stdout: {e}");
    }
}

/// A progress bar on stderr when a person watches it (a terminal, text logs, not `-q`); else
/// nothing, so systemd's journal and pipes only ever get log lines.
fn progress_for(cli: &Cli) -> wxlake::progress::Progress {
    if std::io::stderr().is_terminal() && cli.log_format == LogFormat::Text && cli.quiet == 0 {
        wxlake::progress::Progress::new(std::sync::Arc::new(Bar))
    } else {
        wxlake::progress::Progress::default()
    }
}

/// The progress bar on screen, if any. Log lines are written with it suspended (cleared, the
/// line printed, the bar drawn again), so that no frozen copy of it stays in the scrollback.
static ACTIVE_BAR: std::sync::Mutex<Option<indicatif::ProgressBar>> = std::sync::Mutex::new(None);

/// An indicatif bar drawn on stderr.
#[derive(Default)]
struct Bar;

impl wxlake::progress::Reporter for Bar {
    fn begin(&self, what: &str, total: u64) {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {msg} [{bar:30}] {pos}/{len} ({elapsed}, {eta} left)",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar.set_message(what.to_string());
        *ACTIVE_BAR.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar);
    }

    fn advance(&self, n: u64) {
        if let Some(bar) = &*ACTIVE_BAR.lock().unwrap_or_else(|e| e.into_inner()) {
            bar.inc(n);
        }
    }

    fn end(&self) {
        if let Some(bar) = ACTIVE_BAR.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

/// Where log lines go: stderr, above the progress bar when one is drawn.
struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf).map(|()| buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        let bar = ACTIVE_BAR.lock().unwrap_or_else(|e| e.into_inner());
        match &*bar {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(buf)),
            None => std::io::stderr().write_all(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

fn init_logging(cli: &Cli) {
    let level = match (cli.verbose, cli.quiet) {
        (0, 0) => LevelFilter::INFO,
        (1, _) => LevelFilter::DEBUG,
        (v, _) if v > 1 => LevelFilter::TRACE,
        // -q: errors and the summary only; -qq: not even logged errors (the final error message
        // is printed either way).
        (_, 1) => LevelFilter::ERROR,
        _ => LevelFilter::OFF,
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(|| LogWriter)
        .with_target(false);
    match cli.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}
