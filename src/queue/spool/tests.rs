//! The spool's unit tests: restart, torn and damaged records, the old
//! layout, group commit, rolling and deleting, copying forward, the lock.

use super::*;

fn entry(id: &str) -> SpoolEntry {
    SpoolEntry {
        id: id.into(),
        mail_from: "a@b.org".into(),
        recipients: vec![Recipient {
            address: "c@d.org".into(),
            state: RecipientState::Pending,
            last_error: None,
        }],
        created: 0,
        attempts: 0,
        next_attempt: 0,
        message_id: None,
        received: None,
        detail: None,
    }
}

fn bytes(s: &[u8]) -> Arc<Vec<u8>> {
    Arc::new(s.to_vec())
}

#[tokio::test]
async fn store_list_update_remove() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open(dir.path()).expect("open");
    let id = new_id();
    spool
        .store(entry(&id), bytes(b"hello\r\n"))
        .await
        .expect("store");
    let (list, problems) = spool.list().expect("list");
    assert_eq!(list.len(), 1);
    assert!(problems.is_empty());
    let mut e = list[0].clone();
    e.attempts = 3;
    spool.update(e).await.expect("update");
    assert_eq!(spool.entry(&id).expect("entry").attempts, 3);
    assert_eq!(spool.message(&id).expect("msg"), b"hello\r\n");
    spool.remove(&id).expect("remove");
    assert!(spool.list().expect("list").0.is_empty());
}

#[tokio::test]
async fn a_restart_finds_what_was_stored_with_its_last_state_and_not_what_was_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (kept, gone) = (new_id(), new_id());
    {
        let spool = Spool::open(dir.path()).expect("open");
        spool
            .store(entry(&kept), bytes(b"kept\r\n"))
            .await
            .expect("store");
        spool
            .store(entry(&gone), bytes(b"gone\r\n"))
            .await
            .expect("store");
        let mut e = entry(&kept);
        e.attempts = 2;
        spool.update(e).await.expect("update");
        spool.remove(&gone).expect("remove");
        // A later durable write carries the removal with it.
        spool
            .store(entry(&new_id()), bytes(b"x\r\n"))
            .await
            .expect("store");
    }
    // The writer thread ends when the last handle is dropped; the lock
    // goes with the handle.
    let spool = reopen(dir.path());
    assert_eq!(spool.entry(&kept).expect("kept").attempts, 2);
    assert_eq!(spool.message(&kept).expect("msg"), b"kept\r\n");
    assert!(spool.entry(&gone).is_err(), "removed stays removed");
    let reader = Spool::open_shared(dir.path()).expect("shared");
    assert_eq!(reader.list().expect("list").0.len(), 2);
    assert_eq!(reader.message(&kept).expect("msg"), b"kept\r\n");
}

/// The number of segments once the writer has tidied up (it does so
/// after answering), waiting up to a second for it to reach `want`.
async fn segments_settle_at(dir: &Path, want: usize) -> usize {
    let mut n = usize::MAX;
    for _ in 0..100 {
        n = segments(dir).expect("segments").len();
        if n <= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    n
}

/// Opening right after a drop can race the writer thread's exit only
/// for the lock, which is released with the last handle.
fn reopen(dir: &Path) -> Spool {
    for _ in 0..100 {
        match Spool::open(dir) {
            Ok(s) => return s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => panic!("reopen: {e}"),
        }
    }
    panic!("spool still locked")
}

#[tokio::test]
async fn a_torn_or_damaged_record_is_skipped_and_the_rest_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ids: Vec<String> = (0..3).map(|_| new_id()).collect();
    {
        let spool = Spool::open(dir.path()).expect("open");
        for id in &ids {
            spool
                .store(entry(id), bytes(b"body\r\n"))
                .await
                .expect("store");
        }
    }
    let (_, path) = segments(dir.path())
        .expect("segments")
        .into_iter()
        .rev()
        .find(|(_, p)| fs::metadata(p).map(|m| m.len() > 0).unwrap_or(false))
        .expect("a segment with records");
    let mut data = fs::read(&path).expect("read");
    // Damage the first record's state and tear the last one's end.
    data[HEADER_LEN + 2] ^= 0xff;
    data.truncate(data.len() - 3);
    fs::write(&path, &data).expect("write");
    let reader = Spool::open_shared(dir.path()).expect("shared");
    let (list, problems) = reader.list().expect("list");
    assert_eq!(list.len(), 1, "only the whole, undamaged record");
    assert_eq!(list[0].id, ids[1]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("damaged"), "{problems:?}");
}

#[tokio::test]
async fn the_earlier_layout_is_taken_into_the_log_and_interrupted_writes_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let id = new_id();
    fs::write(
        dir.path().join(format!("{id}.json")),
        serde_json::to_vec(&entry(&id)).expect("json"),
    )
    .expect("write");
    fs::write(dir.path().join(format!("{id}.eml")), b"old\r\n").expect("write");
    fs::write(dir.path().join("abc.eml"), b"half").expect("write");
    fs::write(dir.path().join("abc.json.tmp"), b"{").expect("write");
    let spool = Spool::open(dir.path()).expect("open");
    assert_eq!(spool.message(&id).expect("migrated"), b"old\r\n");
    for name in [
        format!("{id}.json"),
        format!("{id}.eml"),
        "abc.eml".into(),
        "abc.json.tmp".into(),
    ] {
        assert!(!dir.path().join(&name).exists(), "{name} removed");
    }
    assert_eq!(spool.len().expect("len"), 1);
}

#[test]
fn a_second_owner_is_refused_but_readers_are_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _owner = Spool::open(dir.path()).expect("open");
    let e = Spool::open(dir.path()).expect_err("second owner");
    assert!(e.to_string().contains("in use"), "{e}");
    let reader = Spool::open_shared(dir.path()).expect("shared");
    assert!(reader.list().expect("list").0.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_stores_share_fsyncs_and_all_complete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open(dir.path()).expect("open");
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = spool.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                s.store(entry(&new_id()), bytes(b"x\r\n"))
                    .await
                    .expect("store");
            }
        }));
    }
    for t in tasks {
        t.await.expect("join");
    }
    assert_eq!(spool.list().expect("list").0.len(), 160);
    let reader = Spool::open_shared(dir.path()).expect("shared");
    assert_eq!(reader.len().expect("len"), 160, "all on disk");
}

#[tokio::test]
async fn segments_roll_and_dead_ones_are_deleted_oldest_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tuning = Tuning {
        segment_bytes: 1024,
        ..Tuning::default()
    };
    let spool = Spool::open_with(dir.path(), tuning).expect("open");
    // Each store fills a segment, so each begins a new one.
    let body = bytes(&[b'a'; 1100]);
    let ids: Vec<String> = (0..6).map(|_| new_id()).collect();
    for id in &ids {
        spool.store(entry(id), body.clone()).await.expect("store");
    }
    let before = segments(dir.path()).expect("segments").len();
    assert_eq!(before, 6, "rolled");
    // Keep the first message; the rest are delivered.
    for id in &ids[1..] {
        spool.remove(id).expect("remove");
    }
    spool
        .store(entry(&new_id()), bytes(b"y\r\n"))
        .await
        .expect("store");
    // The oldest still holds a live message, so nothing after it may go.
    assert_eq!(segments(dir.path()).expect("segments").len(), before + 1);
    spool.remove(&ids[0]).expect("remove");
    spool
        .store(entry(&new_id()), bytes(b"z\r\n"))
        .await
        .expect("store");
    let after = segments_settle_at(dir.path(), 1).await;
    assert_eq!(after, 1, "dead segments deleted, the active one kept");
    assert_eq!(spool.len().expect("len"), 2);
    drop(spool);
    let spool = reopen(dir.path());
    assert_eq!(spool.len().expect("len"), 2, "the same after a restart");
}

#[tokio::test]
async fn a_long_deferred_message_is_copied_forward_so_old_segments_can_go() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tuning = Tuning {
        segment_bytes: 1024,
        relocate_after: Duration::ZERO,
    };
    let spool = Spool::open_with(dir.path(), tuning).expect("open");
    let deferred = new_id();
    let mut e = entry(&deferred);
    e.attempts = 4;
    spool.store(e, bytes(b"deferred\r\n")).await.expect("store");
    // Enough delivered mail behind it to fill several segments.
    for _ in 0..6 {
        let id = new_id();
        spool
            .store(entry(&id), bytes(&[b'a'; 1100]))
            .await
            .expect("store");
        spool.remove(&id).expect("remove");
    }
    spool
        .store(entry(&new_id()), bytes(b"last\r\n"))
        .await
        .expect("store");
    let left = segments_settle_at(dir.path(), 2).await;
    assert!(left <= 2, "old segments deleted: {left} left");
    assert_eq!(spool.message(&deferred).expect("moved"), b"deferred\r\n");
    assert_eq!(spool.entry(&deferred).expect("entry").attempts, 4);
    drop(spool);
    let spool = reopen(dir.path());
    assert_eq!(
        spool.message(&deferred).expect("after restart"),
        b"deferred\r\n"
    );
    assert_eq!(
        spool.entry(&deferred).expect("entry").attempts,
        4,
        "its state moved too"
    );
    assert_eq!(spool.len().expect("len"), 2);
}

#[test]
fn path_traversal_ids_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open(dir.path()).expect("open");
    assert!(spool.message("../etc/passwd").is_err());
    assert!(spool.remove("../x").is_err());
}
