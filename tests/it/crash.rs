//! Crash safety by really dying: failpoints that abort the process at named instants, and a
//! loop that `kill -9`s ingest at random moments. After a final clean run every valid message
//! must be in the lake exactly once and every rejected line in quarantine exactly once.

use std::collections::BTreeMap;

use crate::common::*;

/// Raw files over three days (messages spread over four partitions, late arrivals included),
/// with duplicates (some in another day than the first copy) and rejects, and webhook contact
/// and event records (some retried). Returns the expected msg_ids and the number of rejected
/// lines.
fn fill(env: &TestEnv, per_day: u32) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut rejects = 0;
    for day in 20..=22u32 {
        let mut text = String::new();
        for i in 0..per_day {
            let id = format!("{day}{i:06}");
            // Every 50th message is a late arrival from the previous day.
            let t = if i % 50 == 0 {
                shanghai(2026, 1, day - 1, 23, 59, 59)
            } else {
                shanghai(2026, 1, day, 0, 0, 0) + i64::from(i)
            };
            text += &msg(
                &id,
                t,
                &format!("message {id} {}", "x".repeat((i % 7) as usize * 40)),
            );
            ids.push(id.clone());
            if i % 97 == 0 {
                text += &msg(&id, t, "resent"); // duplicate (conflicting)
            }
            if i % 131 == 0 {
                text += "{\"msg_id\": broken\n";
                rejects += 1;
            }
            if i % 40 == 7 {
                let guid = format!("c{day}-{i}");
                let line = contact_update(&guid, &format!("wxid_{i}"), &format!("名{i}"), None);
                text += &line;
                if i % 80 == 7 {
                    text += &line; // a webhook retry of the same request
                }
            }
            if i % 200 == 11 {
                text += &envelope(&format!("e{day}-{i}"), 1003, serde_json::json!({"i": i}));
            }
            if day == 22 && i % 113 == 5 {
                // A day-20 message re-stamped into day 22: one copy per msg_id in the lake.
                text += &msg(&format!("20{i:06}"), t + 1, "re-stamped");
            }
        }
        env.append_raw(&format!("2026-01-{day}"), &text);
    }
    (ids, rejects)
}

/// Every contact and event guid `fill` wrote for `per_day` is stored exactly once.
#[track_caller]
fn assert_side_tables_exactly_once(env: &TestEnv, per_day: u32, extra_contacts: &[String]) {
    let mut want_contacts: Vec<String> = Vec::new();
    let mut want_events: Vec<String> = Vec::new();
    for day in 20..=22u32 {
        for i in 0..per_day {
            if i % 40 == 7 {
                want_contacts.push(format!("c{day}-{i}"));
            }
            if i % 200 == 11 {
                want_events.push(format!("e{day}-{i}"));
            }
        }
    }
    want_contacts.extend(extra_contacts.iter().cloned());
    want_contacts.sort();
    want_events.sort();
    let mut got = env.side_column("contacts", "record_key");
    got.sort();
    assert_eq!(got, want_contacts, "contact records stored exactly once");
    let mut got = env.side_column("events", "record_key");
    got.sort();
    assert_eq!(got, want_events, "event records stored exactly once");
}

#[track_caller]
fn assert_exactly_once(env: &TestEnv, ids: &[String], rejects: usize) {
    let counts = env.id_counts();
    let missing: Vec<_> = ids
        .iter()
        .filter(|id| !counts.contains_key(*id))
        .take(5)
        .collect();
    assert!(missing.is_empty(), "missing msg_ids: {missing:?}");
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(twice.is_empty(), "msg_ids stored more than once: {twice:?}");
    assert_eq!(counts.len(), ids.len());

    let quarantined = env.rejects();
    let mut seen = BTreeMap::new();
    for r in &quarantined {
        *seen
            .entry((r["raw_file"].to_string(), r["offset"].as_u64().unwrap()))
            .or_insert(0) += 1;
    }
    assert!(
        seen.values().all(|&n| n == 1),
        "a rejected line was quarantined twice"
    );
    assert_eq!(quarantined.len(), rejects);

    let staging = env.data.join("parquet/.staging");
    let leftovers: Vec<_> = std::fs::read_dir(&staging)
        .map(|d| d.count())
        .into_iter()
        .collect();
    assert!(leftovers.iter().all(|&n| n == 0), "staging not cleaned");
    for path in env.snapshot().keys() {
        let name = path.file_name().unwrap().to_string_lossy();
        assert!(
            !name.ends_with(".tmp"),
            "temp file left behind: {}",
            path.display()
        );
    }
}

#[test]
fn every_failpoint_followed_by_a_rerun_leaves_each_message_exactly_once() {
    let failpoints = [
        "ingest.staged",
        "ingest.between_publishes",
        "ingest.published",
        "ingest.before_checkpoint",
        "checkpoint.before_rename",
        "checkpoint.after_rename",
        "ingest.after_checkpoint",
        "lake_meta.before_rename",
        "msg_index.segment.before_rename",
        "msg_index.segment.after_rename",
        "msg_index.synced",
    ];
    for fp in failpoints {
        let env = TestEnv::new();
        let (ids, rejects) = fill(&env, 400);
        let run: Run = env
            .command()
            .args(["ingest"])
            .env("WXLAKE_FAILPOINTS", fp)
            .output()
            .unwrap()
            .into();
        assert_eq!(
            run.code, None,
            "{fp}: the process must die at the failpoint: {run:?}"
        );
        assert!(run.stderr.contains(fp), "{fp}: {}", run.stderr);
        let v = env.ingest(&[]);
        assert_exactly_once(&env, &ids, rejects);
        assert_side_tables_exactly_once(&env, 400, &[]);
        // A second clean run finds nothing to do.
        assert_eq!(env.ingest(&[])["written"], 0, "{fp}: {v}");
    }
}

#[test]
fn kill_9_at_random_instants_then_rerun_is_exactly_once() {
    let env = TestEnv::new();
    let (mut ids, mut rejects) = fill(&env, 3000);
    // How long does one undisturbed run take? Kill within that window.
    let probe = TestEnv::new();
    fill(&probe, 3000);
    let full = window_ms(20, || {
        probe.ingest(&[]);
    });
    let mut rng = TestRng::from_env(0x5eed);
    let mut killed = 0;
    let mut appended_contacts = Vec::new();
    for round in 0..12u32 {
        killed += u32::from(kill_at_random(
            env.command().args(["ingest", "-q"]),
            &mut rng,
            full,
        ));
        // The collector keeps appending, so every round has work to be killed in.
        let mut text = String::new();
        for i in 0..1000 {
            let id = format!("r{round}-{i}");
            text += &msg(
                &id,
                shanghai(2026, 1, 22, 12, 0, 0) + i64::from(i),
                "appended",
            );
            ids.push(id);
        }
        text += "{\"msg_id\": broken again\n";
        rejects += 1;
        let guid = format!("r{round}-contact");
        text += &contact_update(&guid, "wxid_round", &format!("第{round}轮"), Some("备注"));
        appended_contacts.push(guid);
        env.append_raw("2026-01-22", &text);
    }
    assert!(
        killed > 0,
        "no run was interrupted; the test proved nothing"
    );
    env.ingest(&[]);
    assert_exactly_once(&env, &ids, rejects);
    assert_side_tables_exactly_once(&env, 3000, &appended_contacts);
}

/// The msg_id index's upkeep (logs folded into a segment, segments merged) killed at each step:
/// no entry is lost, so every later copy of a stored id in another day is still caught.
#[test]
fn msg_index_upkeep_killed_at_every_step_loses_no_entry() {
    for fp in [
        "msg_index.segment.before_rename",
        "msg_index.segment.after_rename",
        "msg_index.merge.before_rename",
        "msg_index.merge.after_rename",
    ] {
        let env = TestEnv::new();
        let mut ids = Vec::new();
        // Each run leaves a log; the 9th and the 18th fold them, the 18th also merges.
        for day in 1..=18u32 {
            let mut text = String::new();
            for i in 0..3 {
                let id = format!("{day}{i:03}");
                text += &msg(&id, shanghai(2026, 1, day, 9, 0, i), "m");
                ids.push(id);
            }
            env.append_raw(&format!("2026-01-{day:02}"), &text);
            if day < 18 {
                env.ingest(&[]);
                continue;
            }
            let run: Run = env
                .command()
                .arg("ingest")
                .env("WXLAKE_FAILPOINTS", fp)
                .output()
                .unwrap()
                .into();
            assert_eq!(run.code, None, "{fp}: must die there: {run:?}");
        }
        env.ingest(&[]);
        // Every id again, re-stamped into one later day.
        let text: String = ids
            .iter()
            .map(|id| msg(id, shanghai(2026, 1, 25, 9, 0, 0), "later copy"))
            .collect();
        env.append_raw("2026-01-25", &text);
        let v = env.ingest(&[]);
        assert_eq!(
            (v["written"].as_u64(), v["duplicates"].as_u64()),
            (Some(0), Some(ids.len() as u64)),
            "{fp}: {v}"
        );
        env.run(&["verify"]).assert_code(0);
        let leftovers: Vec<_> = std::fs::read_dir(env.data.join("metadata/msg_index"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{fp}: {leftovers:?}");
    }
}
