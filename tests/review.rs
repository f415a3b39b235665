//! The clerk's review at speed, over HTTP against a running gateway: the
//! notice's link survives signing in, the decision page leads with the rule
//! that held the message, releases to some recipients, decisions on many at
//! once, undoing a deletion, the thread and the sender's pattern, and the
//! Proper Officer as the "you" of a message.

mod common;

use std::time::Duration;

use common::pages::*;
use common::*;
use reqwest::StatusCode;

const WAIT: Duration = Duration::from_secs(15);

async fn send(addr: std::net::SocketAddr, from: &str, rcpts: &[&str], message: &str) -> String {
    let mut c = Client::greeted(addr).await;
    c.cmd(&format!("MAIL FROM:<{from}>")).await;
    for r in rcpts {
        c.cmd(&format!("RCPT TO:<{r}>")).await;
    }
    c.cmd("DATA").await;
    let body = message.replace("\r\n", "\n").replace('\n', "\r\n");
    c.send(format!("{body}\r\n.\r\n").as_bytes()).await;
    c.reply().await
}

/// Holds a councillor's instruction to a junior officer (and to `also`);
/// returns its id.
async fn hold(gw: &Gateway, subject: &str, also: &[&str], body_extra: &str) -> String {
    let mut rcpts = vec!["alex.green@example-tc.gov.uk"];
    rcpts.extend_from_slice(also);
    let to = rcpts.join(", ");
    let message = format!(
        "From: Mark Patel <cllr.patel@example-tc.gov.uk>\nTo: {to}\nSubject: {subject}\n\nAlex,\n\nI need you to repaint the pavilion doors before the fete on Saturday.\n\nMark\n{body_extra}"
    );
    let before = gw.held().await.len();
    let r = send(
        gw.submission,
        "cllr.patel@example-tc.gov.uk",
        &rcpts,
        &message,
    )
    .await;
    assert!(r.starts_with("250 2.6.0"), "{r}");
    let held = gw.held().await;
    assert_eq!(held.len(), before + 1);
    held.iter()
        .find(|h| h.subject == subject)
        .expect("held")
        .id
        .clone()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Signs in through the login form with a `next` page; returns where the
/// gateway sends the reader.
async fn sign_in_to(c: &reqwest::Client, base: &str, next: &str) -> String {
    let form = page(c, format!("{base}/login?next={next}")).await;
    let token = csrf_of(&form);
    let r = c
        .post(format!("{base}/login"))
        .form(&[
            ("csrf", token.as_str()),
            ("name", "clerk@example-tc.gov.uk"),
            ("password", PASSWORD),
            ("next", next),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    location(&r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_link_opened_before_signing_in_lands_on_its_message_after() {
    let (_sink, _cfg, gw) = gateway_with_sink().await;
    add_user(&gw, "clerk@example-tc.gov.uk", "clerk").await;
    let id = hold(&gw, "Pavilion doors", &[], "").await;
    let base = format!("http://{}", gw.web);
    let c = browser();
    let r = c
        .get(format!("{base}/held/{id}"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("/login?next=/held/{id}"));
    let form = page(&c, format!("{base}/login?next=/held/{id}")).await;
    assert!(
        form.contains(&format!("name=\"next\" value=\"/held/{id}\"")),
        "{form}"
    );
    assert_eq!(
        sign_in_to(&c, &base, &format!("/held/{id}")).await,
        format!("/held/{id}")
    );
    // Another site is never where signing in leads.
    for evil in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let c = browser();
        assert_eq!(sign_in_to(&c, &base, evil).await, "/", "{evil}");
    }
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_decision_page_leads_with_the_holding_rule_its_sentence_and_release() {
    let (_sink, _cfg, gw) = gateway_with_sink().await;
    add_user(&gw, "clerk@example-tc.gov.uk", "clerk").await;
    let id = hold(
        &gw,
        "Pavilion doors",
        &[],
        "\nOn Tue, 1 Dec 2026 at 09:00, Alex Green <alex.green@example-tc.gov.uk> wrote:\n> Could a councillor tell me which colour the doors should be?\n> Alex\n",
    )
    .await;
    let base = format!("http://{}", gw.web);
    let c = browser();
    login(&c, &base, "clerk@example-tc.gov.uk").await;
    let p = page(&c, format!("{base}/held/{id}")).await;
    let at = |needle: &str| {
        p.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not on the page: {p}"))
    };
    // The holding rule, one line of the protocol, the sentence, then the
    // buttons; the full rules and the metadata after the message.
    let title = at("Held: Councillors do not give instructions to junior staff");
    let sentence = at("<mark>I need you to repaint the pavilion doors");
    let release = at("value=\"release\"");
    let body = at("<h2>The message</h2>");
    let rules = at("Every rule that applied");
    assert!(title < sentence && sentence < release && release < body && body < rules);
    // The rule that held it is the default reason.
    let reason = at("<option value=\"instruction-to-staff:");
    assert!(reason < at(NOT_A_BREACH_OPTION));
    // The quoted thread: collapsed, one tap away.
    let thread = at("Quoted thread and forwarded originals");
    assert!(thread > body);
    assert!(p[thread..].contains("Could a councillor tell me which colour the doors should be?"));
    gw.stop().await;
}

const NOT_A_BREACH_OPTION: &str = "<option value=\"In order — not a breach\"";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_to_some_recipients_delivers_to_exactly_the_chosen_and_tells_the_sender_who_not() {
    let (sink, _cfg, gw) = gateway_with_sink().await;
    add_user(&gw, "clerk@example-tc.gov.uk", "clerk").await;
    let id = hold(
        &gw,
        "Doors and the contractor",
        &["builder@example.org"],
        "",
    )
    .await;
    let held = gw.app.store.get(&id).await.expect("get");
    assert!(
        held.recipients.contains(&"builder@example.org".to_string()),
        "{:?}",
        held.recipients
    );
    let base = format!("http://{}", gw.web);
    let c = browser();
    let csrf = login(&c, &base, "clerk@example-tc.gov.uk").await;
    let p = page(&c, format!("{base}/held/{id}")).await;
    assert!(p.contains("Release to some recipients only"), "{p}");
    assert!(p.contains("name=\"deliver\" value=\"builder@example.org\" checked"));
    let before = sink.messages().len();
    // Nobody ticked: refused, nothing delivered.
    let r = c
        .post(format!("{base}/held/{id}/decide"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("action", "release"),
            ("choose", "yes"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(gw.app.store.get(&id).await.expect("get").state, "held");
    // Someone who is not a recipient: refused.
    let r = c
        .post(format!("{base}/held/{id}/decide"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("action", "release"),
            ("choose", "yes"),
            ("deliver", "attacker@example.net"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let keep: Vec<&String> = held
        .recipients
        .iter()
        .filter(|r| r.as_str() != "builder@example.org")
        .collect();
    let mut form = vec![
        ("csrf", csrf.clone()),
        ("action", "release".into()),
        (
            "reason",
            "instruction-to-staff: Instruction to junior staff".into(),
        ),
        (
            "note",
            "The contractor is instructed by the Clerk, not by councillors.".into(),
        ),
        ("choose", "yes".into()),
    ];
    form.extend(keep.iter().map(|r| ("deliver", (*r).clone())));
    let r = c
        .post(format!("{base}/held/{id}/decide"))
        .form(&form)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // The release, and the sender's notice.
    let got = sink.wait_for(before + 2, WAIT).await;
    let new = &got[before..];
    let released = new
        .iter()
        .find(|d| d.mail_from == "cllr.patel@example-tc.gov.uk")
        .expect("released");
    let mut rcpts = released.rcpts.clone();
    rcpts.sort();
    let mut want: Vec<String> = keep.iter().map(|r| (*r).clone()).collect();
    want.sort();
    assert_eq!(rcpts, want, "exactly the chosen recipients");
    let notice = new
        .iter()
        .find(|d| d.rcpts == ["cllr.patel@example-tc.gov.uk"])
        .expect("the sender is told");
    let text = String::from_utf8_lossy(&notice.data);
    assert!(
        text.contains("It was not delivered to:") && text.contains("builder@example.org"),
        "{text}"
    );
    assert!(text.contains("instructed by the Clerk"), "the note: {text}");
    let held = gw.app.store.get(&id).await.expect("get");
    assert_eq!(held.withheld, vec!["builder@example.org"]);
    let audit = gw.app.store.audit_for(&id).await.expect("audit");
    assert!(
        audit.iter().any(|e| e.action == "released"
            && e.detail.contains("not delivered to: builder@example.org")),
        "{audit:?}"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_release_of_twenty_messages_is_confirmed_by_count_and_each_audited() {
    let (sink, _cfg, gw) = gateway_with_sink().await;
    add_user(&gw, "clerk@example-tc.gov.uk", "clerk").await;
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(hold(&gw, &format!("Doors {n}"), &[], "").await);
    }
    let base = format!("http://{}", gw.web);
    let c = browser();
    let csrf = login(&c, &base, "clerk@example-tc.gov.uk").await;
    let q = page(&c, format!("{base}/")).await;
    assert!(
        q.contains("Councillors do not give instructions to junior staff"),
        "holding rule shown: {q}"
    );
    assert!(
        q.contains("I need you to repaint the pavilion doors"),
        "evidence snippet shown"
    );
    let mut form = vec![("csrf", csrf.clone()), ("action", "release".to_string())];
    form.extend(ids.iter().map(|i| ("id", i.clone())));
    // First: a confirmation naming the count; nothing decided.
    let r = c
        .post(format!("{base}/held/decide"))
        .form(&form)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    let confirm = r.text().await.expect("text");
    assert!(confirm.contains("Release 20 messages?"), "{confirm}");
    assert_eq!(gw.held().await.len(), 20, "nothing decided yet");
    let before = sink.messages().len();
    form.push(("confirm", "yes".into()));
    let r = c
        .post(format!("{base}/held/decide"))
        .form(&form)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).contains("count=20"), "{}", location(&r));
    assert!(gw.held().await.is_empty(), "all decided");
    for id in &ids {
        let h = gw.app.store.get(id).await.expect("get");
        assert_eq!(h.state, "released");
        let audit = gw.app.store.audit_for(id).await.expect("audit");
        assert!(
            audit.iter().any(|e| e.action == "released"
                && e.actor == "clerk@example-tc.gov.uk"
                && e.detail.contains("instruction-to-staff")),
            "{audit:?}"
        );
    }
    let got = sink.wait_for(before + 20, WAIT).await;
    let released = got[before..]
        .iter()
        .filter(|d| d.mail_from == "cllr.patel@example-tc.gov.uk")
        .count();
    assert_eq!(released, 20);
    let q = page(&c, format!("{base}{}", location(&r))).await;
    assert!(q.contains("20 messages are now released."), "{q}");
    // Returning many needs a note for the senders.
    let r = c
        .post(format!("{base}/held/decide"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("action", "return"),
            ("id", ids[0].as_str()),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_message_can_be_restored_and_decided_again() {
    let (_sink, _cfg, gw) = gateway_with_sink().await;
    add_user(&gw, "clerk@example-tc.gov.uk", "clerk").await;
    let id = hold(&gw, "Pavilion doors", &[], "").await;
    let base = format!("http://{}", gw.web);
    let c = browser();
    let csrf = login(&c, &base, "clerk@example-tc.gov.uk").await;
    let r = c
        .post(format!("{base}/held/{id}/decide"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("action", "delete"),
            ("confirm", "yes"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let q = page(&c, format!("{base}{}", location(&r))).await;
    assert!(
        q.contains(&format!("<a href=\"/held/{id}\">Undo</a>")),
        "{q}"
    );
    let p = page(&c, format!("{base}/held/{id}")).await;
    assert!(p.contains("Undo delete"), "{p}");
    // Without the session's token: refused.
    let r = c
        .post(format!("{base}/held/{id}/restore"))
        .form(&[("csrf", "0".repeat(64).as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c
        .post(format!("{base}/held/{id}/restore"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(gw.app.store.get(&id).await.expect("get").state, "held");
    let audit = gw.app.store.audit_for(&id).await.expect("audit");
    assert!(
        audit
            .iter()
            .any(|e| e.action == "restored" && e.actor == "clerk@example-tc.gov.uk")
    );
    // Once the records policy has removed its text, it stays deleted.
    let r = c
        .post(format!("{base}/held/{id}/decide"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("action", "delete"),
            ("confirm", "yes"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let purged = gw
        .app
        .store
        .purge_decided(chrono::Utc::now().timestamp() + 10)
        .await
        .expect("purge");
    assert_eq!(purged, 1);
    let r = c
        .post(format!("{base}/held/{id}/restore"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        r.text().await.expect("text").contains("records policy"),
        "says why"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_with_two_other_held_messages_in_thirty_days_is_a_pattern() {
    let (_sink, _cfg, gw) = gateway_with_sink().await;
    add_user(&gw, "clerk@example-tc.gov.uk", "clerk").await;
    let first = hold(&gw, "Doors one", &[], "").await;
    let base = format!("http://{}", gw.web);
    let c = browser();
    login(&c, &base, "clerk@example-tc.gov.uk").await;
    let p = page(&c, format!("{base}/held/{first}")).await;
    assert!(!p.contains("Pattern:"), "one message is no pattern");
    hold(&gw, "Doors two", &[], "").await;
    let third = hold(&gw, "Doors three", &[], "").await;
    let p = page(&c, format!("{base}/held/{third}")).await;
    assert!(p.contains("Pattern:"), "{p}");
    assert!(p.contains("Doors one") && p.contains("Doors two"), "{p}");
    assert!(p.contains(&format!("href=\"/held/{first}\"")));
    // Previous and next in the queue, with keyboard access keys.
    assert!(p.contains("accesskey=\"p\""), "{p}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pressure_written_to_the_proper_officer_as_you_goes_to_the_deputy_and_the_sender_is_told() {
    let (sink, _cfg, gw) = gateway_with_sink().await;
    let message = "From: Mark Patel <cllr.patel@example-tc.gov.uk>\nTo: Clara Hughes <clerk@example-tc.gov.uk>\nSubject: My motion\n\nClara,\n\nIf you do not put my motion on the agenda, I will make sure your contract is not renewed.\n\nMark";
    let r = send(
        gw.submission,
        "cllr.patel@example-tc.gov.uk",
        &["clerk@example-tc.gov.uk"],
        message,
    )
    .await;
    assert!(
        r.starts_with("250 2.6.0") && r.contains("undue-pressure"),
        "{r}"
    );
    let held = gw.held().await;
    assert_eq!(held[0].reviewers, vec!["deputy.clerk@example-tc.gov.uk"]);
    assert!(
        held[0]
            .barred
            .contains(&"clerk@example-tc.gov.uk".to_string())
    );
    let got = sink.wait_for(2, WAIT).await;
    let notice = got
        .iter()
        .find(|d| d.rcpts == ["cllr.patel@example-tc.gov.uk"])
        .expect("the sender is told");
    let text = String::from_utf8_lossy(&notice.data);
    assert!(
        text.contains("deputy Proper Officer")
            && !text.contains("held for review by the Proper Officer"),
        "names who reviews it: {text}"
    );
    gw.stop().await;
}

/// The one-tap links of the notice sent to `reviewer` about `subject`:
/// (release path, return path), as paths on the review site.
fn links_in_notice(sink: &sink::Sink, reviewer: &str, subject: &str) -> (String, String) {
    let notice = sink
        .messages()
        .into_iter()
        .find(|d| {
            d.rcpts == [reviewer]
                && String::from_utf8_lossy(&d.data)
                    .contains(&format!("Held for your review: {subject}"))
        })
        .expect("the reviewer's notice");
    let parsed = mail_parser::MessageParser::default()
        .parse(&notice.data)
        .expect("notice parses");
    let text = parsed.body_text(0).expect("text").to_string();
    let path = |label: &str| {
        let line = text
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("{label} in {text}"));
        let url = line.split_whitespace().last().expect("url");
        let i = url.find("/act/").expect("an action link");
        url[i..].to_string()
    };
    (
        path("Release it:"),
        path("Return it to the sender with the standard note:"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_link_releases_after_one_confirmation_and_works_once() {
    let (sink, _cfg, gw) = gateway_with_sink().await;
    add_user(&gw, "clerk@example-tc.gov.uk", "clerk").await;
    let id = hold(&gw, "Pavilion doors", &[], "").await;
    sink.wait_for(3, WAIT).await;
    let (release, _) = links_in_notice(&sink, "clerk@example-tc.gov.uk", "Pavilion doors");
    let base = format!("http://{}", gw.web);
    let c = browser();
    // Not signed in: sent to sign in, and back to the link after.
    let r = c.get(format!("{base}{release}")).send().await.expect("get");
    assert_eq!(location(&r), format!("/login?next={release}"));
    assert_eq!(sign_in_to(&c, &base, &release).await, release);
    // Following it changes nothing: it asks.
    let r = c.get(format!("{base}{release}")).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    let p = r.text().await.expect("text");
    assert!(
        p.contains("Release this message?") && p.contains("Pavilion doors"),
        "{p}"
    );
    assert_eq!(gw.app.store.get(&id).await.expect("get").state, "held");
    // The one button: released, audited as this reviewer.
    let csrf = csrf_of(&p);
    let r = c
        .post(format!("{base}{release}"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let held = gw.app.store.get(&id).await.expect("get");
    assert_eq!(held.state, "released");
    assert_eq!(held.decided_by.as_deref(), Some("clerk@example-tc.gov.uk"));
    // Used twice: refused, and says so.
    for r in [
        c.get(format!("{base}{release}")).send().await.expect("get"),
        c.post(format!("{base}{release}"))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .expect("post"),
    ] {
        assert_eq!(r.status(), StatusCode::GONE);
        assert!(
            r.text()
                .await
                .expect("text")
                .contains("This link has been used")
        );
    }
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notice_links_that_are_tampered_expired_or_for_another_reviewer_are_refused() {
    let (sink, _cfg, gw) = gateway_with_sink().await;
    add_user(&gw, "clerk@example-tc.gov.uk", "clerk").await;
    add_user(&gw, "deputy.clerk@example-tc.gov.uk", "clerk").await;
    let id = hold(&gw, "Pavilion doors", &[], "").await;
    sink.wait_for(3, WAIT).await;
    let (release, give_back) = links_in_notice(&sink, "clerk@example-tc.gov.uk", "Pavilion doors");
    let base = format!("http://{}", gw.web);
    // The deputy follows the clerk's link.
    let deputy = browser();
    login(&deputy, &base, "deputy.clerk@example-tc.gov.uk").await;
    let r = deputy
        .get(format!("{base}{release}"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        r.text()
            .await
            .expect("text")
            .contains("sent to another reviewer")
    );
    // Tampered: the return link's signature on the release link's content.
    let c = browser();
    login(&c, &base, "clerk@example-tc.gov.uk").await;
    let (content, _) = release
        .trim_start_matches("/act/")
        .split_once('.')
        .expect("token");
    let (_, sig) = give_back
        .trim_start_matches("/act/")
        .split_once('.')
        .expect("token");
    let r = c
        .get(format!("{base}/act/{content}.{sig}"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .expect("text")
            .contains("This link does not work")
    );
    // Expired: made with the gateway's own key, ended an hour ago.
    let key = gw.app.store.secret("action-links").await.expect("key");
    let links = councilgate::review::links::ActionLinks::new(&key, &base);
    let now = chrono::Utc::now().timestamp();
    let old = links.make(
        &id,
        councilgate::review::links::LinkAction::Release,
        "clerk@example-tc.gov.uk",
        now,
        now - 3600,
    );
    let r = c
        .get(format!("{base}/act/{}", links.token(&old)))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::GONE);
    assert!(
        r.text()
            .await
            .expect("text")
            .contains("This link has expired")
    );
    assert_eq!(gw.app.store.get(&id).await.expect("get").state, "held");
    // The return link: the sender gets the rule's standard note.
    let p = page(&c, format!("{base}{give_back}")).await;
    assert!(
        p.contains("Return this message?") && p.contains("The note the sender will get"),
        "{p}"
    );
    let before = sink.messages().len();
    let r = c
        .post(format!("{base}{give_back}"))
        .form(&[("csrf", csrf_of(&p).as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(gw.app.store.get(&id).await.expect("get").state, "returned");
    let got = sink.wait_for(before + 1, WAIT).await;
    let notice = got[before..]
        .iter()
        .find(|d| d.rcpts == ["cllr.patel@example-tc.gov.uk"])
        .expect("the sender is told");
    let text = String::from_utf8_lossy(&notice.data);
    assert!(
        text.contains("Councillors do not give instructions to junior staff"),
        "{text}"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_reviewer_gets_one_daily_digest_of_what_waits_with_one_tap_links() {
    let (sink, _cfg, gw) = gateway_with_sink().await;
    add_user(&gw, "clerk@example-tc.gov.uk", "clerk").await;
    hold(&gw, "Pavilion doors", &[], "").await;
    hold(&gw, "Bins", &[], "").await;
    sink.wait_for(6, WAIT).await; // the hold notices
    let before = sink.messages().len();
    // Tomorrow, past the digest time (08:00 by default): sent once.
    let snapshot = gw.app.policy.load();
    let tomorrow = chrono::Utc::now().timestamp() + 86_400;
    let noon = tomorrow - tomorrow % 86_400 + 12 * 3600;
    gw.app.review.digest(&snapshot, noon).await.expect("digest");
    gw.app
        .review
        .digest(&snapshot, noon + 60)
        .await
        .expect("digest");
    let got = sink.wait_for(before + 2, WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let digests: Vec<_> = sink.messages()[before..]
        .iter()
        .filter(|d| String::from_utf8_lossy(&d.data).contains("Held mail waiting for you"))
        .cloned()
        .collect();
    assert!(got.len() >= before + 2);
    let to_clerk: Vec<_> = digests
        .iter()
        .filter(|d| d.rcpts == ["clerk@example-tc.gov.uk"])
        .collect();
    assert_eq!(to_clerk.len(), 1, "one digest a day: {digests:?}");
    let parsed = mail_parser::MessageParser::default()
        .parse(&to_clerk[0].data)
        .expect("parses");
    let text = parsed.body_text(0).expect("text").to_string();
    assert!(
        text.contains("2 held messages wait for your review")
            && text.contains("Pavilion doors")
            && text.contains("Bins"),
        "{text}"
    );
    assert!(text.contains("Held by: instruction-to-staff"), "{text}");
    assert_eq!(text.matches("Release it: ").count(), 2, "{text}");
    // The digest's link works like the notice's.
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("Release it:"))
        .expect("link");
    let path = &line[line.find("/act/").expect("action link")..];
    let base = format!("http://{}", gw.web);
    let c = browser();
    login(&c, &base, "clerk@example-tc.gov.uk").await;
    let p = page(&c, format!("{base}{path}")).await;
    assert!(p.contains("Release this message?"), "{p}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quoted_thread_of_an_html_reply_is_one_tap_away_too() {
    let (_sink, _cfg, gw) = gateway_with_sink().await;
    add_user(&gw, "clerk@example-tc.gov.uk", "clerk").await;
    let message = "From: Mark Patel <cllr.patel@example-tc.gov.uk>\nTo: Alex Green <alex.green@example-tc.gov.uk>\nSubject: Re: Doors\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n<html><body><p>Alex,</p><p>I need you to repaint the pavilion doors before the fete on Saturday.</p><p>Mark</p><div><hr><p><b>From:</b> Alex Green<br><b>Sent:</b> Tuesday, 1 December 2026 09:00<br><b>To:</b> Mark Patel<br><b>Subject:</b> Doors</p><p>Which colour would the council like the pavilion doors to be?</p></div></body></html>";
    let r = send(
        gw.submission,
        "cllr.patel@example-tc.gov.uk",
        &["alex.green@example-tc.gov.uk"],
        message,
    )
    .await;
    assert!(r.starts_with("250 2.6.0"), "{r}");
    let id = gw.held().await[0].id.clone();
    let base = format!("http://{}", gw.web);
    let c = browser();
    login(&c, &base, "clerk@example-tc.gov.uk").await;
    let p = page(&c, format!("{base}/held/{id}")).await;
    let thread = p
        .find("Quoted thread and forwarded originals")
        .unwrap_or_else(|| panic!("the thread: {p}"));
    assert!(
        p[thread..].contains("Which colour would the council like the pavilion doors to be?"),
        "{p}"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_that_is_not_a_reviewer_of_a_message_cannot_decide_it_but_an_admin_can() {
    let (_sink, _cfg, gw) = gateway_with_sink().await;
    add_user(&gw, "helper@example.org", "clerk").await;
    add_user(&gw, "it@example-tc.gov.uk", "admin").await;
    let id = hold(&gw, "Pavilion doors", &[], "").await;
    let base = format!("http://{}", gw.web);
    let helper = browser();
    let csrf = login(&helper, &base, "helper@example.org").await;
    let p = page(&helper, format!("{base}/held/{id}")).await;
    assert!(
        p.contains("This message is for clerk@example-tc.gov.uk"),
        "{p}"
    );
    assert!(!p.contains("value=\"release\""), "no buttons: {p}");
    let r = helper
        .post(format!("{base}/held/{id}/decide"))
        .form(&[("csrf", csrf.as_str()), ("action", "release")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = helper
        .post(format!("{base}/held/decide"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("action", "release"),
            ("id", id.as_str()),
            ("confirm", "yes"),
        ])
        .send()
        .await
        .expect("post");
    assert!(
        location(&r).contains("count=0&skipped=1"),
        "{}",
        location(&r)
    );
    assert_eq!(gw.app.store.get(&id).await.expect("get").state, "held");
    let admin = browser();
    let csrf = login(&admin, &base, "it@example-tc.gov.uk").await;
    let r = admin
        .post(format!("{base}/held/{id}/decide"))
        .form(&[("csrf", csrf.as_str()), ("action", "release")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(gw.app.store.get(&id).await.expect("get").state, "released");
    gw.stop().await;
}

/// A clerk's "not a breach" teaches the detector: the sentence that held
/// the message is proposed as a negative example; an administrator sees
/// what accepting it would change, accepts it, and the same sentence is no
/// longer held — while a different instruction still is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_a_breach_proposes_an_example_that_once_accepted_stops_the_same_hold() {
    let (_sink, cfg, gw) = gateway_with_sink().await;
    let id = hold(&gw, "Pavilion doors", &[], "").await;
    let base = format!("http://{}", gw.web);
    add_user(&gw, "clerk@example-tc.gov.uk", "clerk").await;
    add_user(&gw, "it@example-tc.gov.uk", "admin").await;
    let clerk = browser();
    let csrf = login(&clerk, &base, "clerk@example-tc.gov.uk").await;
    let r = clerk
        .post(format!("{base}/held/{id}/decide"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("action", "release"),
            ("reason", "In order — not a breach"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let sentence = "I need you to repaint the pavilion doors before the fete on Saturday.";
    // The hold's audit record carries its evidence and the policy.
    let audit = gw.app.store.audit_for(&id).await.expect("audit");
    let held_entry = audit
        .iter()
        .find(|e| e.action == "held")
        .expect("held entry");
    assert!(
        held_entry
            .detail
            .contains(&format!("instruction-to-staff: {sentence}"))
            && held_entry.detail.contains("policy "),
        "{}",
        held_entry.detail
    );
    let waiting = gw
        .app
        .store
        .proposals(councilgate::store::proposals::ProposalState::Proposed)
        .await
        .expect("proposals");
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(
        (waiting[0].detector.as_str(), waiting[0].sentence.as_str()),
        ("instruction", sentence)
    );
    assert_eq!(
        waiting[0].label,
        councilgate::policy::semantic::Label::Negative
    );

    // A clerk cannot see the page; an administrator can.
    let r = clerk
        .get(format!("{base}/admin/examples"))
        .send()
        .await
        .expect("get");
    assert_ne!(r.status(), StatusCode::OK);
    let admin = browser();
    login(&admin, &base, "it@example-tc.gov.uk").await;
    let list = page(&admin, format!("{base}/admin/examples")).await;
    assert!(
        list.contains(sentence) && list.contains("not a breach"),
        "{list}"
    );
    let what_if = page(&admin, format!("{base}/admin/examples/{}", waiting[0].id)).await;
    assert!(
        what_if.contains("would be decided differently") && what_if.contains(&format!("held {id}")),
        "the released message itself would now be delivered: {what_if}"
    );
    let csrf = csrf_of(&list);
    let r = admin
        .post(format!("{base}/admin/examples/{}", waiting[0].id))
        .form(&[("csrf", csrf.as_str()), ("action", "accept")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let written = std::fs::read_to_string(cfg.path().join("examples.toml")).expect("examples.toml");
    assert!(written.contains(sentence), "written to the examples file");
    let history = gw.app.store.config_history(1).await.expect("history");
    assert!(
        history[0]
            .trigger
            .contains("example accepted by it@example-tc.gov.uk")
    );
    assert!(history[0].diff.contains(sentence), "{}", history[0].diff);

    // The same sentence is no longer held; another instruction still is.
    let held_before = gw.held().await.len();
    let reply = send(
        gw.submission,
        "cllr.patel@example-tc.gov.uk",
        &["alex.green@example-tc.gov.uk", "clerk@example-tc.gov.uk"],
        &format!("From: Mark Patel <cllr.patel@example-tc.gov.uk>\nTo: alex.green@example-tc.gov.uk\nCc: clerk@example-tc.gov.uk\nSubject: Pavilion doors again\n\nAlex,\n\n{sentence}\n\nMark\n"),
    )
    .await;
    assert!(
        reply.starts_with("250 2.0.0"),
        "delivered, not held: {reply}"
    );
    let reply = send(
        gw.submission,
        "cllr.patel@example-tc.gov.uk",
        &["alex.green@example-tc.gov.uk"],
        "From: Mark Patel <cllr.patel@example-tc.gov.uk>\nTo: alex.green@example-tc.gov.uk\nSubject: Hedges\n\nAlex,\n\nI need you to cut back the hedges along Church Lane by Friday.\n\nMark\n",
    )
    .await;
    assert!(
        reply.starts_with("250 2.6.0"),
        "another instruction is still held: {reply}"
    );
    assert_eq!(gw.held().await.len(), held_before + 1);
}
