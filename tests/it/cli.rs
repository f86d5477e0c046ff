//! The command line as a whole: version, help, environment variables, completions, the man
//! page, exit codes, and no colour or progress output when nobody is watching.

use std::process::Command;

use crate::common::*;

#[test]
fn version_and_help_name_every_command_and_its_environment_variables() {
    let env = TestEnv::new();
    let v = env.run(&["--version"]);
    v.assert_code(0);
    assert_eq!(
        v.stdout.trim(),
        format!("wxlake {}", env!("CARGO_PKG_VERSION"))
    );
    let help = env.run(&["--help"]).stdout;
    for cmd in [
        "ingest",
        "query",
        "contacts",
        "compact",
        "archive",
        "status",
        "verify",
        "completions",
        "man",
    ] {
        assert!(help.contains(cmd), "{cmd} missing from --help");
    }
    // Every option of every command names its WXLAKE_ variable in --help (one line per option,
    // or the option's line and its indented description in the long form).
    for cmd in [
        "ingest", "query", "contacts", "compact", "archive", "status", "verify",
    ] {
        let text = env.run(&[cmd, "--help"]).stdout;
        let mut blocks: Vec<(String, String)> = Vec::new();
        for line in text.lines() {
            let t = line.trim_start();
            let indent = line.len() - t.len();
            if t.starts_with('-') && indent <= 6 {
                let option = t
                    .split_whitespace()
                    .find(|w| w.starts_with("--"))
                    .unwrap_or(t);
                blocks.push((option.trim_end_matches("...").to_string(), line.to_string()));
            } else if let Some(last) = blocks.last_mut() {
                last.1.push_str(line);
            }
        }
        assert!(blocks.len() >= 6, "{cmd}: {text}");
        for (option, block) in blocks {
            if option == "--help" || option == "--version" {
                continue;
            }
            assert!(
                block.contains("[env: WXLAKE_"),
                "{cmd} {option} has no environment variable"
            );
        }
    }
}

#[test]
fn environment_variables_stand_in_for_options() {
    let env = one_message_env();
    let run = env
        .command()
        .env("WXLAKE_INGEST_JSON", "1")
        .env("WXLAKE_LOG_FORMAT", "json")
        .arg("ingest")
        .output()
        .unwrap();
    let run = Run::from(run);
    run.assert_code(0);
    assert_eq!(run.json()["written"], 1, "WXLAKE_INGEST_JSON=1 gives JSON");
    let log_line = run.stderr.lines().next().unwrap();
    assert!(
        serde_json::from_str::<serde_json::Value>(log_line).is_ok(),
        "json logs: {log_line}"
    );

    let q = Command::new(env!("CARGO_BIN_EXE_wxlake"))
        .env("WXLAKE_DATA_DIR", &env.data)
        .env("WXLAKE_QUERY_START", "2026-01-20")
        .env("WXLAKE_QUERY_COUNT", "yes")
        .arg("query")
        .output()
        .unwrap();
    let q = Run::from(q);
    q.assert_code(0);
    assert_eq!(q.stdout, "1\n");
}

#[test]
fn completions_and_the_man_page_are_generated_from_the_definitions() {
    let env = TestEnv::new();
    let bash = env.run(&["completions", "bash"]);
    bash.assert_code(0);
    assert!(bash.stdout.contains("_wxlake()") && bash.stdout.contains("--chatroom"));
    let check = Command::new("bash")
        .arg("-n")
        .arg("-c")
        .arg(&bash.stdout)
        .output();
    if let Ok(out) = check {
        assert!(
            out.status.success(),
            "bash -n: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        env.run(&["completions", "zsh"])
            .stdout
            .starts_with("#compdef wxlake")
    );
    assert!(
        env.run(&["completions", "fish"])
            .stdout
            .contains("complete -c wxlake")
    );
    env.run(&["completions", "tcsh"]).assert_code(64);

    let man = env.run(&["man"]);
    man.assert_code(0);
    assert!(
        man.stdout.contains(".TH wxlake 1"),
        "{}",
        &man.stdout[..200]
    );
    for section in [
        "WXLAKE INGEST",
        "WXLAKE QUERY",
        "WXLAKE COMPACT",
        "WXLAKE ARCHIVE",
        "WXLAKE VERIFY",
    ] {
        assert!(man.stdout.contains(section), "{section}");
    }
    assert!(man.stdout.contains("WXLAKE_DATA_DIR"));
    assert!(man.stdout.contains("EXIT STATUS"));

    // A page per command, for `man wxlake-ingest`.
    let dir = tempfile::tempdir().unwrap();
    env.run(&["man", "--out-dir", dir.path().to_str().unwrap()])
        .assert_code(0);
    for cmd in [
        "ingest", "query", "compact", "archive", "migrate", "status", "verify", "contacts",
    ] {
        let page = std::fs::read_to_string(dir.path().join(format!("wxlake-{cmd}.1"))).unwrap();
        assert!(page.contains(&format!(".TH wxlake-{cmd} 1")), "{cmd}");
        assert!(page.contains("EXIT STATUS") && page.contains("75"), "{cmd}");
    }
    let main_page = std::fs::read_to_string(dir.path().join("wxlake.1")).unwrap();
    assert!(main_page.contains("wxlake\\-ingest") || main_page.contains("wxlake-ingest"));
}

#[test]
fn a_query_says_when_its_days_have_raw_bytes_not_yet_ingested() {
    let env = one_message_env();
    env.ingest(&[]);
    let query = ["query", "--start", "2026-01-20", "--count"];
    let run = env.run(&query);
    run.assert_code(0);
    assert!(!run.stderr.contains("not yet ingested"), "{}", run.stderr);
    env.append_raw(
        "2026-01-21",
        &msg("2", shanghai(2026, 1, 21, 9, 0, 0), "later"),
    );
    let run = env.run(&query);
    run.assert_code(0);
    assert_eq!(run.stdout.trim(), "1");
    assert!(
        run.stderr.contains("2026-01-21.jsonl has") && run.stderr.contains("not yet ingested"),
        "{}",
        run.stderr
    );
}

#[test]
fn exit_codes_follow_sysexits() {
    let env = one_message_env();
    // 64: usage.
    env.run(&["ingest", "--date", "2026-13-01"]).assert_code(64);
    env.run(&["frobnicate"]).assert_code(64);
    env.run(&[]).assert_code(64);
    // 0, and a quarantined line is still 0.
    env.append_raw("2026-01-20", "not json\n");
    let ok = env.run(&["ingest"]);
    ok.assert_code(0);
    assert!(ok.stdout.contains("quarantined"), "{}", ok.stdout);
    // 65: data.
    let part = env.data.join("parquet/messages/year=2026/month=01/day=20");
    std::fs::write(part.join("zz.parquet"), b"garbage").unwrap();
    let corrupt = env.run(&["query", "--start", "2026-01-20"]);
    corrupt.assert_code(65);
    assert!(
        corrupt.stderr.contains("zz.parquet") && corrupt.stderr.contains("hint: `wxlake verify`"),
        "{}",
        corrupt.stderr
    );
    env.run(&["verify"]).assert_code(65);
    std::fs::remove_file(part.join("zz.parquet")).unwrap();
    // 74: I/O.
    let run = env.run(&[
        "query",
        "--start",
        "2026-01-20",
        "--output",
        "/nonexistent-dir/x.csv",
    ]);
    run.assert_code(74);
    assert!(run.stderr.contains("/nonexistent-dir"), "{}", run.stderr);
    // 75: lock busy.
    let _held = wxlake::lock::LakeLock::acquire(&env.layout().lock_path(), "test", None).unwrap();
    let busy = env.run(&["ingest"]);
    busy.assert_code(75);
    assert!(busy.stderr.contains("--wait"), "{}", busy.stderr);
}

#[test]
fn no_colour_or_progress_output_when_not_a_terminal() {
    let env = one_message_env();
    for args in [
        vec!["-v", "ingest"],
        vec!["compact"],
        vec!["archive", "--raw-retention", "9999d"],
        vec!["status"],
        vec!["verify"],
    ] {
        let run = env.run(&args);
        run.assert_code(0);
        for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
            assert!(
                !text.contains('\x1b'),
                "{args:?}: ANSI escape on {name}: {text:?}"
            );
            assert!(
                !text.contains('\r'),
                "{args:?}: carriage return (a progress bar) on {name}"
            );
        }
    }
}

#[test]
fn a_person_at_a_terminal_sees_progress() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux `script` (to run under a pseudo-terminal) is missing");
        return;
    }
    let env = TestEnv::new();
    for day in 1..=25u32 {
        env.append_raw(
            &format!("2026-01-{day:02}"),
            &msg(&format!("m{day}"), shanghai(2026, 1, day, 9, 0, 0), "x"),
        );
    }
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\\\''"));
    let cmd = format!(
        "{} --data-dir {} ingest",
        quote(env!("CARGO_BIN_EXE_wxlake")),
        quote(env.data.to_str().unwrap())
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("raw files ["),
        "no progress bar on a terminal: {text}"
    );
    assert!(
        text.contains("25 raw files") || text.contains("ingested 25"),
        "{text}"
    );
}
