//! The manual: one page for `wxlake` with a section per command (printed), or one page per
//! command (`man wxlake-ingest`, written into a directory), each with the exit statuses. Generated
//! from the same clap definitions as `--help`, so they never disagree.

use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;

/// The EXIT STATUS section (roff), the same on every page.
const EXIT_STATUS: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
success
.TP
\fB64\fR
usage: a bad argument or option (the message names it)
.TP
\fB65\fR
bad data: an unreadable lake file, metadata or checkpoint, or a lake that verify finds not whole
.TP
\fB74\fR
I/O: a file or directory could not be read or written
.TP
\fB75\fR
the lake is locked by another writer (retry later, or pass \-\-wait)
"#;

/// Commands without a page of their own.
fn documented(name: &str) -> bool {
    !matches!(name, "completions" | "man" | "help")
}

/// Print the single page, or write a page per command into `out_dir`.
pub fn run(out_dir: Option<&Path>) -> wxlake::Result<()> {
    let Some(dir) = out_dir else {
        let mut out = page(Cli::command(), None);
        for sub in Cli::command().get_subcommands() {
            let name = sub.get_name();
            if !documented(name) {
                continue;
            }
            // One section per command, with its options.
            let page = clap_mangen::Man::new(sub.clone());
            out.extend_from_slice(format!(".SH \"WXLAKE {}\"\n", name.to_uppercase()).as_bytes());
            page.render_description_section(&mut out)
                .expect("in memory");
            page.render_options_section(&mut out).expect("in memory");
        }
        crate::print_stdout(&String::from_utf8_lossy(&out));
        return Ok(());
    };
    std::fs::create_dir_all(dir).map_err(|e| wxlake::Error::io("create", dir, e))?;
    let subs: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .filter(|n| documented(n))
        .collect();
    let mut pages = vec![("wxlake.1".to_string(), page(Cli::command(), Some(&subs)))];
    for sub in Cli::command().get_subcommands() {
        let name = sub.get_name();
        if !documented(name) {
            continue;
        }
        // clap names are 'static (its "string" feature is off); a one-shot command may leak them.
        let full: &'static str = Box::leak(format!("wxlake-{name}").into_boxed_str());
        let cmd = sub.clone().name(full).bin_name(format!("wxlake {name}"));
        pages.push((format!("{full}.1"), page(cmd, None)));
    }
    for (file, bytes) in pages {
        let path = dir.join(&file);
        std::fs::write(&path, bytes).map_err(|e| wxlake::Error::io("write", &path, e))?;
    }
    Ok(())
}

/// A page for `cmd` with the exit statuses and, for the main page, the commands' pages.
fn page(cmd: clap::Command, see_also: Option<&[String]>) -> Vec<u8> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .expect("rendering to memory cannot fail");
    out.extend_from_slice(EXIT_STATUS.as_bytes());
    if let Some(subs) = see_also {
        out.extend_from_slice(b".SH \"SEE ALSO\"\n");
        let refs: Vec<String> = subs
            .iter()
            .map(|s| format!("\\fBwxlake-{s}\\fR(1)"))
            .collect();
        out.extend_from_slice(refs.join(", ").as_bytes());
        out.push(b'\n');
    }
    out
}
