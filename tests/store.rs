//! The review store on SQLite and on PostgreSQL: the same tests on both.

mod common;

use std::sync::Arc;

use councilgate::store::{Action, Held, HeldState, ReviewDecision, Store, StoreError};

fn held(id: &str) -> Held {
    let envelope = councilgate::tuning::check::envelope(
        "cllr.smith@example-tc.gov.uk",
        &["alex.green@example-tc.gov.uk".into()],
    );
    let mut verdict = councilgate::policy::Verdict::deliver_unchanged(&envelope, "test", None);
    verdict.decision = councilgate::policy::Decision::Hold;
    Held {
        id: id.into(),
        created: 1_000,
        expires: 1_000 + 5 * 86_400,
        mail_from: "cllr.smith@example-tc.gov.uk".into(),
        recipients: vec![
            "alex.green@example-tc.gov.uk".into(),
            "clerk@example-tc.gov.uk".into(),
        ],
        envelope,
        subject: "Bins".into(),
        rules: vec!["instruction-to-staff".into()],
        verdict,
        message: b"Subject: Bins\r\n\r\nPlease empty the bins.\r\n".to_vec(),
        original: b"Subject: Bins\r\n\r\nPlease empty the bins.\r\n".to_vec(),
        state: HeldState::Held,
        reviewers: vec![],
        barred: vec![],
        decided_by: None,
        decided_at: None,
        reason: None,
        note: None,
        effect_done: true,
        withheld: vec![],
    }
}

/// Each backend available here: SQLite always, PostgreSQL when it answers.
async fn backends() -> Vec<(&'static str, Store, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().expect("tmp");
    let sqlite = Store::open(&Store::default_url(dir.path()))
        .await
        .expect("sqlite");
    let mut out = vec![("sqlite", sqlite, Some(dir))];
    if let Some(url) = common::pg_store_url().await {
        out.push(("postgres", Store::open(&url).await.expect("postgres"), None));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_list_decide_and_audit() {
    for (name, store, _dir) in backends().await {
        store.hold(&held("m1")).await.expect("hold");
        let list = store
            .list(councilgate::store::HeldState::Held)
            .await
            .expect("list");
        assert_eq!(list.len(), 1, "{name}");
        assert_eq!(list[0].recipients.len(), 2);
        assert_eq!(
            list[0].message,
            held("m1").message,
            "{name}: raw message kept byte for byte"
        );
        let decided = store
            .decide(
                "m1",
                &ReviewDecision::new(
                    Action::Release,
                    "clerk@example-tc.gov.uk",
                    "instruction was routine",
                    "ok",
                ),
                2_000,
            )
            .await
            .expect("decide");
        assert_eq!(decided.state, "released");
        assert!(!decided.effect_done, "{name}: the effect is still to do");
        assert_eq!(store.pending_effects().await.expect("pending").len(), 1);
        store.effect_done("m1").await.expect("done");
        assert!(store.pending_effects().await.expect("pending").is_empty());
        match store
            .decide(
                "m1",
                &ReviewDecision::new(Action::Delete, "deputy.clerk@example-tc.gov.uk", "", ""),
                3_000,
            )
            .await
        {
            Err(StoreError::AlreadyDecided { state, by, .. }) => {
                assert_eq!(state, "released");
                assert_eq!(
                    by, "clerk@example-tc.gov.uk",
                    "{name}: told who acted first"
                );
            }
            other => panic!("{name}: {other:?}"),
        }
        let trail = store.audit_for("m1").await.expect("audit");
        let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, vec!["held", "released"], "{name}");
        assert!(trail[1].detail.contains("instruction was routine"));
        let report = store.verify_audit().await.expect("verify");
        assert!(report.broken.is_none(), "{name}: {report:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_decisions_have_exactly_one_winner() {
    for (name, store, _dir) in backends().await {
        for round in 0..5 {
            let id = format!("race{round}");
            store.hold(&held(&id)).await.expect("hold");
            let store = Arc::new(store.clone());
            let mut tasks = Vec::new();
            for (who, action) in [
                ("clerk@example-tc.gov.uk", Action::Release),
                ("deputy.clerk@example-tc.gov.uk", Action::Return),
            ] {
                let (s, id) = (store.clone(), id.clone());
                tasks.push(tokio::spawn(async move {
                    s.decide(&id, &ReviewDecision::new(action, who, "", ""), 5)
                        .await
                }));
            }
            let mut wins = 0;
            let mut losses = 0;
            for t in tasks {
                match t.await.expect("join") {
                    Ok(_) => wins += 1,
                    Err(StoreError::AlreadyDecided { .. }) => losses += 1,
                    Err(e) => panic!("{name}: {e}"),
                }
            }
            assert_eq!((wins, losses), (1, 1), "{name}: round {round}");
        }
        let report = store.verify_audit().await.expect("verify");
        assert!(
            report.broken.is_none(),
            "{name}: concurrent appends kept the chain whole: {report:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampering_with_the_audit_log_is_detected() {
    for (name, store, _dir) in backends().await {
        for i in 0..3 {
            store.hold(&held(&format!("t{i}"))).await.expect("hold");
        }
        assert!(store.verify_audit().await.expect("verify").broken.is_none());
        sqlx::query("UPDATE audit SET detail = 'nothing to see' WHERE seq = 2")
            .execute(store.pool())
            .await
            .expect("tamper");
        let report = store.verify_audit().await.expect("verify");
        assert_eq!(
            report.broken.as_ref().map(|b| b.0),
            Some(2),
            "{name}: {report:?}"
        );
        sqlx::query("DELETE FROM audit WHERE seq = 2")
            .execute(store.pool())
            .await
            .expect("delete");
        let report = store.verify_audit().await.expect("verify");
        assert_eq!(
            report.broken.as_ref().map(|b| b.0),
            Some(3),
            "{name}: a removed entry shows: {report:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_sessions_expiry_and_reminders() {
    for (name, store, _dir) in backends().await {
        store
            .add_user(
                "clerk@example-tc.gov.uk",
                councilgate::store::UserRole::Clerk,
                "$argon2id$fake",
                "test",
            )
            .await
            .expect("user");
        let u = store
            .user("clerk@example-tc.gov.uk")
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(u.role, "clerk");
        store
            .create_session(&councilgate::store::NewSession {
                token_hash: "h1",
                user: "clerk@example-tc.gov.uk",
                csrf: "csrf1",
                expires: 100,
                stage: councilgate::store::SessionStage::Full,
                created: 0,
                ip: "127.0.0.1",
            })
            .await
            .expect("session");
        assert!(
            store.session("h1", 50).await.expect("s").is_some(),
            "{name}"
        );
        assert!(
            store.session("h1", 150).await.expect("s").is_none(),
            "{name}: expired sessions do not count"
        );
        store.end_session("h1").await.expect("end");
        assert!(store.session("h1", 50).await.expect("s").is_none());

        let mut h = held("e1");
        h.expires = 500;
        store.hold(&h).await.expect("hold");
        let due = store.take_due_reminders(600).await.expect("reminders");
        assert_eq!(due.len(), 1, "{name}");
        assert!(
            store
                .take_due_reminders(600)
                .await
                .expect("again")
                .is_empty(),
            "{name}: reminded once"
        );
        assert_eq!(store.expired(400).await.expect("exp").len(), 0);
        assert_eq!(store.expired(500).await.expect("exp").len(), 1);
    }
}

/// Logins can be listed, disabled (their sessions end, they cannot sign in
/// or send), enabled and removed; each change is audited with who did it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_are_listed_disabled_enabled_and_removed_with_the_actor_audited() {
    use councilgate::store::UserRole;
    for (name, store, _dir) in backends().await {
        store
            .add_user(
                "clerk@example-tc.gov.uk",
                UserRole::Clerk,
                "$argon2id$a",
                "cli:alice",
            )
            .await
            .expect("user");
        store
            .set_smtp_password("clerk@example-tc.gov.uk", "$argon2id$b", "cli:alice")
            .await
            .expect("smtp");
        store
            .set_smtp_password("office@example-tc.gov.uk", "$argon2id$c", "cli:alice")
            .await
            .expect("smtp");
        store
            .record_sign_in("clerk@example-tc.gov.uk", 1234)
            .await
            .expect("signed in");
        store
            .create_session(&councilgate::store::NewSession {
                token_hash: "h1",
                user: "clerk@example-tc.gov.uk",
                csrf: "csrf",
                expires: i64::MAX,
                stage: councilgate::store::SessionStage::Full,
                created: 0,
                ip: "127.0.0.1",
            })
            .await
            .expect("session");
        let logins = store.logins().await.expect("list");
        assert_eq!(logins.len(), 2, "{name}: {logins:?}");
        assert_eq!(logins[0].name, "clerk@example-tc.gov.uk");
        assert_eq!(logins[0].role, Some(UserRole::Clerk));
        assert!(logins[0].smtp && !logins[0].disabled);
        assert_eq!(logins[0].last_sign_in, 1234);
        assert_eq!(logins[1].role, None, "{name}: an SMTP login only");

        assert!(
            store
                .set_login_disabled("Clerk@Example-TC.gov.uk", true, "cli:alice")
                .await
                .expect("disable")
        );
        assert!(
            store
                .user("clerk@example-tc.gov.uk")
                .await
                .expect("get")
                .is_none(),
            "{name}: cannot sign in"
        );
        assert!(
            store
                .smtp_password_hash("clerk@example-tc.gov.uk")
                .await
                .expect("get")
                .is_none(),
            "{name}: cannot send"
        );
        assert!(
            store.session("h1", 0).await.expect("s").is_none(),
            "{name}: sessions ended"
        );
        assert!(store.logins().await.expect("list")[0].disabled);
        assert!(
            store
                .set_login_disabled("clerk@example-tc.gov.uk", false, "cli:bob")
                .await
                .expect("enable")
        );
        assert!(
            store
                .user("clerk@example-tc.gov.uk")
                .await
                .expect("get")
                .is_some()
        );

        assert!(
            store
                .remove_login("office@example-tc.gov.uk", "admin@example-tc.gov.uk")
                .await
                .expect("remove")
        );
        assert!(
            !store
                .remove_login("office@example-tc.gov.uk", "x")
                .await
                .expect("again"),
            "{name}: gone"
        );
        assert!(
            !store
                .set_login_disabled("nobody@example.org", true, "x")
                .await
                .expect("none")
        );
        assert_eq!(store.logins().await.expect("list").len(), 1);

        let audit = store.audit_for("-").await.expect("audit");
        let actors: Vec<(&str, &str)> = audit
            .iter()
            .map(|e| (e.actor.as_str(), e.action.as_str()))
            .collect();
        for want in [
            ("cli:alice", "user-saved"),
            ("cli:alice", "user-disabled"),
            ("cli:bob", "user-enabled"),
            ("admin@example-tc.gov.uk", "user-removed"),
        ] {
            assert!(actors.contains(&want), "{name}: {want:?} in {actors:?}");
        }
    }
}

/// What the review keeps in the store, on both backends: the shared link
/// key, used links (once each), the day's digest claim (once), a release
/// to some recipients, undoing a deletion, the sender's other messages, the
/// second factor (a step and a recovery code each once) and the user's
/// sessions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_digests_partial_release_restore_second_factor_and_sessions() {
    use councilgate::store::{NewSession, SessionStage};
    const CLERK: &str = "clerk@example-tc.gov.uk";
    for (name, store, _dir) in backends().await {
        let key = store.secret("action-links").await.expect("secret");
        assert_eq!(key.len(), 32, "{name}");
        assert_eq!(
            store.secret("action-links").await.expect("again"),
            key,
            "{name}: the same key for every gateway"
        );
        assert!(store.use_link("n1", "m1", 10).await.expect("use"), "{name}");
        assert!(
            !store.use_link("n1", "m1", 11).await.expect("reuse"),
            "{name}: a link works once"
        );
        assert!(store.link_used("n1").await.expect("used"), "{name}");
        assert_eq!(
            store.purge_used_links(11).await.expect("purge"),
            1,
            "{name}"
        );
        assert!(
            store.claim_digest("2026-12-02", 10).await.expect("claim"),
            "{name}"
        );
        assert!(
            !store.claim_digest("2026-12-02", 11).await.expect("claim"),
            "{name}: one digest a day"
        );
        // A release to some recipients.
        store.hold(&held("w1")).await.expect("hold");
        let d = ReviewDecision::new(Action::Release, CLERK, "r", "")
            .withholding(vec![CLERK.to_string()]);
        let h = store.decide("w1", &d, 2000).await.expect("decide");
        assert_eq!(h.withheld, vec![CLERK], "{name}");
        assert_eq!(
            h.delivered_to(),
            vec!["alex.green@example-tc.gov.uk"],
            "{name}"
        );
        // A deletion undone, once.
        store.hold(&held("d1")).await.expect("hold");
        store
            .decide(
                "d1",
                &ReviewDecision::new(Action::Delete, CLERK, "", ""),
                2000,
            )
            .await
            .expect("delete");
        let r = store.restore("d1", CLERK).await.expect("restore");
        assert_eq!(r.state, HeldState::Held, "{name}");
        assert!(
            matches!(
                store.restore("d1", CLERK).await,
                Err(StoreError::Refused(_))
            ),
            "{name}: not deleted now"
        );
        // The sender's other messages (any case of the address).
        let earlier = store
            .earlier_from("CLLR.SMITH@example-tc.gov.uk", 0, "d1", 10)
            .await
            .expect("earlier");
        assert_eq!(
            earlier.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            vec!["w1"],
            "{name}"
        );
        assert_eq!(
            store.waiting_ids().await.expect("ids"),
            vec!["d1"],
            "{name}"
        );
        // The second factor.
        store
            .add_user(
                CLERK,
                councilgate::store::UserRole::Clerk,
                "$argon2id$fake",
                "test",
            )
            .await
            .expect("user");
        store
            .set_totp_pending(CLERK, "SECRETBASE32")
            .await
            .expect("pending");
        store
            .enrol_totp(CLERK, 5, &["h1".into(), "h2".into()])
            .await
            .expect("enrol");
        assert!(
            !store.accept_totp_step(CLERK, 5).await.expect("step"),
            "{name}: used"
        );
        assert!(
            store.accept_totp_step(CLERK, 6).await.expect("step"),
            "{name}"
        );
        assert!(
            store.use_recovery_code(CLERK, "h1").await.expect("code"),
            "{name}"
        );
        assert!(
            !store.use_recovery_code(CLERK, "h1").await.expect("code"),
            "{name}: once"
        );
        let f = store.second_factor(CLERK).await.expect("factor");
        assert_eq!(
            (f.secret.as_str(), f.recovery),
            ("SECRETBASE32", vec!["h2".to_string()])
        );
        // Sessions: listed, one ended by its id, wrong codes counted.
        for (hash, created) in [("aaaaaaaaaaaaaaaa11", 1), ("bbbbbbbbbbbbbbbb22", 2)] {
            store
                .create_session(&NewSession {
                    token_hash: hash,
                    user: CLERK,
                    csrf: "c",
                    expires: i64::MAX,
                    stage: SessionStage::Full,
                    created,
                    ip: "192.0.2.1",
                })
                .await
                .expect("session");
        }
        let list = store.sessions_of(CLERK, 0).await.expect("sessions");
        assert_eq!(list.len(), 2, "{name}");
        assert_eq!(list[0].id, "bbbbbbbbbbbbbbbb", "{name}: newest first");
        assert!(
            store
                .end_session_of(CLERK, "bbbbbbbbbbbbbbbb")
                .await
                .expect("end")
        );
        assert!(
            !store
                .end_session_of("someone@else", "aaaaaaaaaaaaaaaa")
                .await
                .expect("end")
        );
        assert_eq!(
            store.sessions_of(CLERK, 0).await.expect("sessions").len(),
            1
        );
        assert_eq!(
            store
                .session_failure("aaaaaaaaaaaaaaaa11")
                .await
                .expect("f"),
            1
        );
        assert!(
            store
                .reset_second_factor(CLERK, "cli:test")
                .await
                .expect("reset")
        );
        assert!(
            store
                .second_factor(CLERK)
                .await
                .expect("f")
                .secret
                .is_empty()
        );
        assert!(
            store.sessions_of(CLERK, 0).await.expect("s").is_empty(),
            "{name}: sessions end"
        );
    }
}

/// Proposed examples and the analysis archive, on both backends: a
/// proposal is not proposed twice while waiting, is decided once (audited
/// with the admin), and archived analyses are listed newest first and
/// purged by age.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposed_examples_and_the_analysis_archive() {
    use councilgate::policy::semantic::Label;
    use councilgate::store::archive::Archived;
    use councilgate::store::proposals::{NewProposal, ProposalState};
    for (name, store, _dir) in backends().await {
        let p = NewProposal {
            detector: "instruction",
            label: Label::Negative,
            sentence: "Could you put the agenda on the noticeboard?",
            held_id: "m1",
            subject: "Agenda",
            rule: "instruction-to-staff",
            proposed_by: "clerk@example-tc.gov.uk",
        };
        assert_eq!(
            store.propose_examples(&[p], 10).await.expect("propose"),
            1,
            "{name}"
        );
        let p = NewProposal {
            detector: "instruction",
            label: Label::Negative,
            sentence: "Could you put the agenda on the noticeboard?",
            held_id: "m2",
            subject: "Agenda again",
            rule: "instruction-to-staff",
            proposed_by: "clerk@example-tc.gov.uk",
        };
        assert_eq!(
            store.propose_examples(&[p], 11).await.expect("propose"),
            0,
            "{name}: once"
        );
        let waiting = store
            .proposals(ProposalState::Proposed)
            .await
            .expect("list");
        assert_eq!(waiting.len(), 1, "{name}");
        assert_eq!(waiting[0].label, Label::Negative);
        let id = waiting[0].id.clone();
        assert!(
            store
                .decide_proposal(&id, ProposalState::Rejected, "it@example-tc.gov.uk", 12)
                .await
                .expect("decide")
        );
        assert!(
            !store
                .decide_proposal(&id, ProposalState::Accepted, "it@example-tc.gov.uk", 13)
                .await
                .expect("decide"),
            "{name}: decided once"
        );
        assert_eq!(
            store.proposal(&id).await.expect("get").state,
            ProposalState::Rejected
        );
        let audit = store.audit_for("m1").await.expect("audit");
        assert!(
            audit
                .iter()
                .any(|e| e.action == "example-rejected" && e.actor == "it@example-tc.gov.uk"),
            "{name}"
        );

        for (i, at) in [(1, 100), (2, 200)] {
            let envelope = councilgate::tuning::check::envelope(
                "cllr.smith@example-tc.gov.uk",
                &["alex.green@example-tc.gov.uk".into()],
            );
            store
                .archive_analysis(&Archived {
                    id: format!("a{i}"),
                    at,
                    envelope,
                    message: b"Subject: Hall\r\n\r\nIs the hall free?\r\n".to_vec(),
                    subject: "Hall".into(),
                    decision: "deliver".into(),
                    rules: vec!["route-via-proper-officer".into()],
                    policy: "v1".into(),
                })
                .await
                .expect("archive");
        }
        let got = store.analysis_archive(10).await.expect("list");
        assert_eq!(
            got.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            ["a2", "a1"],
            "{name}"
        );
        assert_eq!(got[0].envelope.mail_from, "cllr.smith@example-tc.gov.uk");
        assert_eq!(store.purge_analysis(150).await.expect("purge"), 1, "{name}");
        assert_eq!(store.analysis_archive(10).await.expect("list").len(), 1);
    }
}
