use super::*;

fn days(index: &MsgIndex, hash: u64) -> Vec<i32> {
    let mut out = Vec::new();
    index.days_of(hash, index.stored_filter().may_hold(hash), |d| out.push(d));
    out.sort_unstable();
    out.dedup();
    out
}

fn files(layout: &Layout) -> (usize, usize) {
    let f = list(&layout.msg_index_dir()).unwrap();
    (f.segments.len(), f.logs.len())
}

/// One run: open, add `n` entries from `first`, sync, finish.
fn run(layout: &Layout, name: &str, first: u64, n: u64, day: i32) -> Upkeep {
    let mut index = MsgIndex::open(layout, name).unwrap();
    for h in first..first + n {
        index
            .add(h.wrapping_mul(0x9e37_79b9_7f4a_7c15), day)
            .unwrap();
    }
    index.sync().unwrap();
    index.finish().unwrap()
}

#[test]
fn plan_merge_merges_all_once_the_small_ones_weigh_a_quarter() {
    assert_eq!(plan_merge(&[]), None);
    assert_eq!(plan_merge(&[100]), None);
    assert_eq!(plan_merge(&[100, 10, 10]), None);
    assert_eq!(plan_merge(&[100, 20, 5]), Some(vec![0, 1, 2]));
    assert_eq!(plan_merge(&[0, 0]), Some(vec![0, 1]));
    // Nine small ones beside a large one: only the small ones.
    let mut lens = vec![1000];
    lens.extend([1; 9]);
    assert_eq!(plan_merge(&lens), Some((1..10).collect()));
    lens.pop();
    assert_eq!(plan_merge(&lens), None);
}

#[test]
fn a_new_lake_gets_an_empty_index_and_runs_add_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::new(dir.path());
    let mut index = MsgIndex::open(&layout, "r0").unwrap();
    assert!(days(&index, 1).is_empty());
    assert_eq!(index.finish().unwrap(), Upkeep::default());
    assert_eq!(files(&layout), (1, 0));

    run(&layout, "r1", 1, 10, 700_000);
    assert_eq!(files(&layout), (1, 1), "a small run leaves its log");
    let index = MsgIndex::open(&layout, "r2").unwrap();
    assert_eq!(
        days(&index, 3u64.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        [700_000]
    );
    assert!(days(&index, 3).is_empty());
    let snapshot = Snapshot::load(&layout).unwrap().unwrap();
    assert!(snapshot.contains(Entry {
        hash: 3u64.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        day: 700_000
    }));
    assert!(!snapshot.contains(Entry {
        hash: 3,
        day: 700_000
    }));
}

#[test]
fn logs_fold_into_a_segment_and_segments_merge_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::new(dir.path());
    let mut total = 0;
    let mut folded = 0;
    let mut merged = 0;
    for r in 0..40u64 {
        let n = if r == 5 { 70_000 } else { 1000 };
        // Real days (day 0 is a directly written log's padding, see `log`).
        let upkeep = run(&layout, &format!("r{r:02}"), total, n, 700_000 + r as i32);
        folded += upkeep.logs_folded;
        merged += upkeep.segments_merged;
        total += n;
        let (segments, logs) = files(&layout);
        assert!(logs <= MAX_LOGS, "{logs} logs after run {r}");
        assert!(
            segments <= MAX_SMALL_SEGMENTS + 1,
            "{segments} segments after run {r}"
        );
    }
    assert!(folded > 0 && merged > 0, "folded {folded}, merged {merged}");
    let index = MsgIndex::open(&layout, "check").unwrap();
    let mut first = 0u64;
    for (day, r) in (0..40u64).enumerate() {
        let n = if r == 5 { 70_000 } else { 1000 };
        for h in (first..first + n).step_by(97) {
            assert_eq!(
                days(&index, h.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                [700_000 + day as i32],
                "entry {h} of run {r}"
            );
        }
        first += n;
    }
}

#[test]
fn remembered_entries_are_found_and_a_crowded_memory_spills_to_a_segment() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::new(dir.path());
    let mut index = MsgIndex::open(&layout, "r").unwrap();
    index.add(42, 9).unwrap();
    // Added, not yet remembered: the caller's loaded partition answers for it.
    assert!(days(&index, 42).is_empty());
    index.remember(42, 9).unwrap();
    index.remember(42, 11).unwrap();
    assert_eq!(days(&index, 42), [9, 11]);
    index.recent_max = 1000;
    for h in 1..=998u64 {
        index.add(h << 20, 3).unwrap();
        index.remember(h << 20, 3).unwrap();
    }
    assert_eq!(index.recent.len(), 1000, "full, not spilled yet");
    index.add(7, 3).unwrap();
    index.remember(7, 3).unwrap();
    assert_eq!(index.recent.len(), 1, "spilled before the table grew");
    assert_eq!(files(&layout), (2, 0));
    assert_eq!(days(&index, 42), [9], "now from the segment");
    assert_eq!(days(&index, 5 << 20), [3]);
    assert_eq!(days(&index, 7), [3]);
    index.sync().unwrap();
    assert_eq!(files(&layout), (2, 0));
}

#[test]
fn a_removed_or_damaged_index_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::new(dir.path());
    run(&layout, "r1", 0, 10, 1);
    std::fs::write(layout.msg_index_dir().join("seg-bad.seg"), b"garbage").unwrap();
    // Unreadable: rebuilt from the lake (empty here), so the log of r1 goes too.
    let index = MsgIndex::open(&layout, "r2").unwrap();
    assert!(days(&index, 0).is_empty());
    drop(index);
    assert_eq!(files(&layout), (1, 0));
    std::fs::remove_dir_all(layout.msg_index_dir()).unwrap();
    assert!(Snapshot::load(&layout).unwrap().is_none());
    MsgIndex::open(&layout, "r3").unwrap();
    assert_eq!(files(&layout), (1, 0));
}

#[test]
fn sort_dedup_sorts_like_a_comparison_sort() {
    for n in [0usize, 5, 4095, 4096, 100_000] {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut v: Vec<Entry> = (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Repeats, and one hash in several days.
                Entry {
                    hash: if i % 10 == 0 { 12345 } else { x },
                    day: (i % 3) as i32,
                }
            })
            .collect();
        v.extend_from_slice(&v.clone()[..n / 7]);
        let mut want = v.clone();
        want.sort_unstable();
        want.dedup();
        sort_dedup(&mut v);
        assert_eq!(v, want, "n={n}");
    }
}

#[test]
fn sorting_from_a_source_that_changes_between_its_passes_fails_instead_of_losing_entries() {
    let mut pass = 0;
    let result = upkeep::sort_dedup_from(10_000, |f| {
        pass += 1;
        // The second pass yields one entry more (a log that grew): it has no place.
        for h in 0..5_000 + pass {
            f(Entry {
                hash: h << 40,
                day: 1,
            });
        }
        Ok(())
    });
    assert!(result.is_err());
    let sorted = upkeep::sort_dedup_from(10_000, |f| {
        (0..5_000u64).rev().for_each(|h| {
            f(Entry {
                hash: h << 40,
                day: 1,
            })
        });
        Ok(())
    })
    .unwrap();
    assert_eq!(sorted.len(), 5_000);
    assert!(sorted.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn a_sort_from_counts_kept_while_writing_reads_its_source_once_and_sorts_the_same() {
    for n in [5_000u64, 70_000, 300_000] {
        let entries: Vec<Entry> = (0..n)
            .map(|i| Entry {
                hash: (i / 2).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                day: 700_000 + (i % 2) as i32 * (i % 5) as i32,
            })
            .collect();
        let mut counts = upkeep::HashCounts::default();
        entries.iter().for_each(|e| counts.add(e.hash));
        let mut passes = 0;
        let mut out = vec![Entry { hash: 0, day: 0 }; entries.len()];
        let len = upkeep::sort_dedup_with(
            entries.len(),
            Some(&counts),
            |f| {
                passes += 1;
                entries.iter().copied().for_each(f);
                Ok(())
            },
            |len| Some(&mut out[..len]),
        )
        .unwrap();
        let mut want = entries.clone();
        sort_dedup(&mut want);
        assert_eq!(&out[..len], want, "n={n}");
        assert_eq!(passes, 1, "n={n}");
        // Counts of other entries than the source's: an error, not a wrong index.
        let mut wrong = upkeep::HashCounts::default();
        entries[1..].iter().for_each(|e| wrong.add(e.hash));
        let mut out = vec![Entry { hash: 0, day: 0 }; entries.len()];
        let result = upkeep::sort_dedup_with(
            entries.len(),
            Some(&wrong),
            |f| {
                entries.iter().copied().for_each(f);
                Ok(())
            },
            |len| Some(&mut out[..len]),
        );
        assert!(result.is_err(), "n={n}");
    }
}

/// Regression: `add` writes its entries to the log once PENDING_MAX of them are pending, without
/// a sync; a `sync` right after found nothing pending and returned, so those entries could be
/// lost in a crash after their rows were published.
#[test]
fn regression_entries_appended_by_add_are_synced_when_nothing_is_pending() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::new(dir.path());
    let mut index = MsgIndex::open(&layout, "r").unwrap();
    for h in 0..PENDING_MAX as u64 {
        index.add(h, 1).unwrap();
    }
    assert!(index.pending.is_empty(), "written to the log by add");
    assert!(index.log.as_ref().unwrap().is_unsynced());
    index.sync().unwrap();
    assert!(!index.log.as_ref().unwrap().is_unsynced(), "synced");
}
