//! The systemd units in deploy/: the schedule, the command lines (run for real against a temp
//! data directory), the hardening, and the example environment file naming only variables
//! wxlake reads. `.ci/run` also checks the units with `systemd-analyze verify`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::*;

/// `key → values` of a unit file (a key may repeat).
fn unit(name: &str) -> BTreeMap<String, Vec<String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('[') {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{name}: {line}"));
        keys.entry(k.to_string()).or_default().push(v.to_string());
    }
    keys
}

fn one<'a>(u: &'a BTreeMap<String, Vec<String>>, key: &str) -> &'a str {
    let v = &u[key];
    assert_eq!(v.len(), 1, "{key} set {} times", v.len());
    &v[0]
}

/// Run an `ExecStart=` command line's arguments against `env`'s data directory.
fn run_exec(env: &TestEnv, exec: &str) -> Run {
    let mut words = exec.split_whitespace();
    assert_eq!(words.next(), Some("/usr/local/bin/wxlake"));
    let args: Vec<&str> = words.collect();
    env.run(&args)
}

#[test]
fn the_ingest_timer_runs_daily_at_two_and_catches_up() {
    let timer = unit("wxlake-ingest.timer");
    assert_eq!(one(&timer, "OnCalendar"), "*-*-* 02:00:00");
    assert_eq!(one(&timer, "Persistent"), "true");
    assert_eq!(one(&timer, "WantedBy"), "timers.target");
    let service = unit("wxlake-ingest.service");
    let exec = one(&service, "ExecStart");
    assert!(
        exec.starts_with("/usr/local/bin/wxlake ingest --date today"),
        "{exec}"
    );
    let env = TestEnv::new();
    env.append_raw(
        &today_shanghai().to_string(),
        &msg("1", chrono::Utc::now().timestamp() - 60, "hi"),
    );
    let run = run_exec(&env, exec);
    run.assert_code(0);
    assert!(run.stdout.contains("1 written"), "{}", run.stdout);
}

#[test]
fn the_maintenance_timer_compacts_then_archives_weekly() {
    let timer = unit("wxlake-maintenance.timer");
    assert!(one(&timer, "OnCalendar").starts_with("Sun "), "weekly");
    assert_eq!(one(&timer, "Persistent"), "true");
    let service = unit("wxlake-maintenance.service");
    let execs = &service["ExecStart"];
    assert_eq!(execs.len(), 2);
    assert!(execs[0].contains(" compact"), "{execs:?}");
    assert!(execs[1].contains(" archive"), "{execs:?}");
    let env = TestEnv::new();
    env.append_raw(
        "2026-01-20",
        &msg("1", shanghai(2026, 1, 20, 9, 0, 0), "hi"),
    );
    env.ingest(&[]);
    for exec in execs {
        run_exec(&env, exec).assert_code(0);
    }
}

#[test]
fn both_services_are_hardened_batch_jobs() {
    for name in ["wxlake-ingest.service", "wxlake-maintenance.service"] {
        let s = unit(name);
        for (key, value) in [
            ("Type", "oneshot"),
            ("User", "wxlake"),
            ("EnvironmentFile", "-/etc/default/wxlake"),
            ("NoNewPrivileges", "yes"),
            ("ProtectSystem", "strict"),
            ("ReadWritePaths", "/var/lib/wxlake"),
            ("ProtectHome", "yes"),
            ("PrivateTmp", "yes"),
            ("PrivateNetwork", "yes"),
            ("RestrictAddressFamilies", "AF_UNIX"),
            ("Nice", "10"),
            ("IOSchedulingClass", "idle"),
        ] {
            assert_eq!(one(&s, key), value, "{name}: {key}");
        }
        assert!(s.contains_key("TimeoutStartSec"), "{name}");
    }
}

#[test]
fn the_example_environment_file_names_only_variables_wxlake_reads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/wxlake.env.example");
    let text = std::fs::read_to_string(path).unwrap();
    let env = TestEnv::new();
    let mut help = String::new();
    for cmd in [
        vec!["--help"],
        vec!["ingest", "--help"],
        vec!["compact", "--help"],
        vec!["archive", "--help"],
    ] {
        help += &env.run(&cmd).stdout;
    }
    let mut names = 0;
    for line in text.lines() {
        let line = line.trim_start_matches('#');
        if let Some((name, _)) = line.split_once('=')
            && name.starts_with("WXLAKE_")
        {
            names += 1;
            assert!(
                help.contains(&format!("env: {name}=")),
                "{name} is not read by wxlake"
            );
        }
    }
    assert!(names >= 5);
}
