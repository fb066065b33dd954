//! Webhook deliveries judged by clerk-guard and by Clerk's own
//! `verifyWebhook` (the pinned `@clerk/backend`): one corpus, the same
//! bytes and the same clock on both sides, the same verdict required.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use std::collections::BTreeMap;
use std::path::Path;

use axum::routing::post;
use axum::{Extension, Json, Router};
use base64::Engine;
use clerk_guard::testing::{webhook_event, WebhookBuilder, TEST_WEBHOOK_SECRET};
use clerk_guard::webhooks::{ClerkWebhook, WebhookVerifier};
use clerk_guard_tests::serve;
use serde_json::{json, Value};

/// A delivery, as bytes on the wire.
struct Built {
    /// `whsec` (the secret as Clerk shows it) or `bare` (without `whsec_`).
    route: &'static str,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Vec<u8>,
}

type Build = Box<dyn Fn(i64) -> Built>;

/// Each case, and whether clerk-guard is knowingly stricter on it.
struct Corpus(Vec<(String, Build, bool)>);

impl Corpus {
    fn add(&mut self, name: impl Into<String>, build: impl Fn(i64) -> Built + 'static) {
        self.0.push((name.into(), Box::new(build), false));
    }
    fn stricter(&mut self, name: impl Into<String>, build: impl Fn(i64) -> Built + 'static) {
        self.0.push((name.into(), Box::new(build), true));
    }
}

const OTHER_SECRET: &str = "whsec_b3RoZXIgZW5kcG9pbnQgc2VjcmV0";

/// `v1,<base64>` for `id`, `ts` and `body` with `secret`.
fn sign(secret: &str, id: &str, ts: i64, body: &str) -> String {
    WebhookBuilder::new(body)
        .id(id)
        .signed_at(ts)
        .secret(secret)
        .sign()
        .signature
}

/// The three headers, as given.
fn three(id: &[u8], ts: &[u8], signature: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("svix-id", id.to_vec()),
        ("svix-timestamp", ts.to_vec()),
        ("svix-signature", signature.to_vec()),
    ]
}

/// A delivery to the `whsec` route: these headers, this body.
fn built(id: &[u8], ts: &str, signature: String, body: impl Into<Vec<u8>>) -> Built {
    Built {
        route: "whsec",
        headers: three(id, ts.as_bytes(), signature.as_bytes()),
        body: body.into(),
    }
}

fn event_body(id: &str) -> String {
    webhook_event("user.created", json!({"id": id, "first_name": "Ada"})).to_string()
}

/// A delivery signed right, then changed by `change`.
fn delivered(
    id: &'static str,
    body: String,
    change: impl Fn(&mut Vec<(&'static str, Vec<u8>)>, i64) + 'static,
) -> impl Fn(i64) -> Built {
    move |now| {
        let mut headers = three(
            id.as_bytes(),
            now.to_string().as_bytes(),
            sign(TEST_WEBHOOK_SECRET, id, now, &body).as_bytes(),
        );
        change(&mut headers, now);
        Built {
            route: "whsec",
            headers,
            body: body.clone().into_bytes(),
        }
    }
}

fn corpus() -> Corpus {
    let mut c = Corpus(Vec::new());
    let body = event_body("user_1");
    c.add("valid", delivered("msg_valid", body.clone(), |_, _| {}));
    for kind in [
        "user.deleted",
        "session.revoked",
        "organization.deleted",
        "organizationMembership.updated",
        "organizationInvitation.accepted",
        "subscriptionItem.freeTrialEnding",
        "paymentAttempt.updated",
        "a.type.clerk.adds.later",
    ] {
        let event = webhook_event(kind, json!({"id": format!("id_{kind}")})).to_string();
        c.add(
            format!("valid {kind}"),
            delivered("msg_kind", event, |_, _| {}),
        );
    }
    for (i, name) in ["svix-id", "svix-timestamp", "svix-signature"]
        .into_iter()
        .enumerate()
    {
        c.add(
            format!("missing {name}"),
            delivered("msg_m", body.clone(), move |h, _| {
                h.remove(i);
            }),
        );
        c.add(
            format!("empty {name}"),
            delivered("msg_e", body.clone(), move |h, _| {
                h[i].1.clear();
            }),
        );
        c.add(
            format!("padded {name}"),
            delivered("msg_p", body.clone(), move |h, _| {
                let padded = [b"   ".as_slice(), &h[i].1, b"  "].concat();
                h[i].1 = padded;
            }),
        );
        c.add(
            format!("tab-padded {name}"),
            delivered("msg_t", body.clone(), move |h, _| {
                let padded = [b"\t".as_slice(), &h[i].1, b"\t "].concat();
                h[i].1 = padded;
            }),
        );
    }
    // Signatures of something else.
    let other = event_body("user_2");
    c.add("signature of another body", {
        let body = body.clone();
        move |now| {
            built(
                b"msg_b",
                &now.to_string(),
                sign(TEST_WEBHOOK_SECRET, "msg_b", now, &other),
                body.clone(),
            )
        }
    });
    c.add(
        "signature of another id",
        delivered("msg_i", body.clone(), |h, _| h[0].1 = b"msg_j".to_vec()),
    );
    c.add(
        "signature of another timestamp",
        delivered("msg_ts", body.clone(), |h, now| {
            h[1].1 = (now - 1).to_string().into_bytes();
        }),
    );
    c.add("signature with another secret", {
        let body = body.clone();
        move |now| {
            built(
                b"msg_s",
                &now.to_string(),
                sign(OTHER_SECRET, "msg_s", now, &body),
                body.clone(),
            )
        }
    });
    // The signature list.
    let wrong = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    for (name, list) in [
        ("several v1, the right one first", "{right} {wrong} {wrong}"),
        (
            "several v1, the right one in the middle",
            "{wrong} {right} {wrong}",
        ),
        ("several v1, the right one last", "{wrong} {wrong} {right}"),
        ("v2 only", "{v2}"),
        ("v2 and the right v1", "{v2} {right}"),
        ("V1 in capitals", "V1,{sig}"),
        ("v1 with an extra part", "{right},extra"),
        ("v1 without a signature", "v1"),
        ("v1 with an empty signature", "v1,"),
        ("the signature alone", "{sig}"),
        ("the signature without padding", "v1,{unpadded}"),
        ("the signature in base64url", "v1,{url}"),
        ("two spaces between entries", "{wrong}  {right}"),
        ("a tab between entries", "{wrong}\t{right}"),
        ("a comma between entries", "{wrong},{right}"),
        ("a non-ASCII byte after the signature", "{right}\u{e9}"),
    ] {
        c.add(
            name,
            delivered("msg_list", body.clone(), move |h, _| {
                let right = String::from_utf8(h[2].1.clone()).unwrap();
                let sig = right[3..].to_owned();
                let text = list
                    .replace("{right}", &right)
                    .replace("{wrong}", wrong)
                    .replace("{v2}", &format!("v2,{sig}"))
                    .replace("{unpadded}", sig.trim_end_matches('='))
                    .replace("{url}", &sig.replace('+', "-").replace('/', "_"))
                    .replace("{sig}", &sig);
                // Latin-1 on the wire, as a header's bytes are read.
                h[2].1 = text.chars().map(|c| c as u8).collect();
            }),
        );
    }
    c.add(
        "two svix-signature headers, the second right",
        delivered("msg_two", body.clone(), move |h, _| {
            let right = h[2].1.clone();
            h[2].1 = wrong.as_bytes().to_vec();
            h.push(("svix-signature", right));
        }),
    );
    for (name, signed_id) in [
        ("two svix-id headers, signed joined", "msg_a, msg_b"),
        ("two svix-id headers, signed first", "msg_a"),
    ] {
        let body = body.clone();
        c.add(name, move |now| {
            let mut two = built(
                b"msg_a",
                &now.to_string(),
                sign(TEST_WEBHOOK_SECRET, signed_id, now, &body),
                body.clone(),
            );
            two.headers.insert(1, ("svix-id", b"msg_b".to_vec()));
            two
        });
    }
    // Ids beyond ASCII: bytes read as Latin-1, signed as UTF-8.
    c.add("an id with a Latin-1 byte", {
        let body = body.clone();
        move |now| {
            built(
                b"msg_\xe9t\xe9",
                &now.to_string(),
                sign(TEST_WEBHOOK_SECRET, "msg_\u{e9}t\u{e9}", now, &body),
                body.clone(),
            )
        }
    });
    c.add("an id in UTF-8 bytes signed as text", {
        let body = body.clone();
        move |now| {
            built(
                "msg_été".as_bytes(),
                &now.to_string(),
                sign(TEST_WEBHOOK_SECRET, "msg_été", now, &body),
                body.clone(),
            )
        }
    });
    c.add(
        "an id with spaces inside",
        delivered("msg 1 2", body.clone(), |_, _| {}),
    );
    // Timestamps.
    for offset in [-301_i64, -300, -299, 299, 300, 301] {
        let body = body.clone();
        c.add(format!("signed {offset:+} s from now"), move |now| {
            let ts = now + offset;
            built(
                b"msg_edge",
                &ts.to_string(),
                sign(TEST_WEBHOOK_SECRET, "msg_edge", ts, &body),
                body.clone(),
            )
        });
    }
    for (name, spelling) in [
        ("a timestamp that is not a number", "soon"),
        ("a timestamp with trailing letters", "{now}abc"),
        ("a timestamp with a plus sign", "+{now}"),
        ("a timestamp with leading zeros", "0000000000{now}"),
        ("a timestamp with a fraction", "{now}.9"),
        ("a timestamp in exponent form", "{now}e0"),
        ("a timestamp in hexadecimal", "0x{now}"),
        ("a negative timestamp", "-{now}"),
        ("a timestamp of 30 digits", "999999999999999999999999999999"),
        ("a timestamp with a space inside", "{head} {tail}"),
    ] {
        let body = body.clone();
        c.add(name, move |now| {
            let text = now.to_string();
            let spelled = spelling
                .replace("{now}", &text)
                .replace("{head}", &text[..5])
                .replace("{tail}", &text[5..]);
            built(
                b"msg_ts",
                &spelled,
                sign(TEST_WEBHOOK_SECRET, "msg_ts", now, &body),
                body.clone(),
            )
        });
    }
    // The secret with and without its prefix.
    c.add("the secret without whsec_", {
        let built = delivered("msg_bare", body.clone(), |_, _| {});
        move |now| Built {
            route: "bare",
            ..built(now)
        }
    });
    // Bodies.
    for (name, text) in [
        (
            "a body with unicode",
            webhook_event(
                "user.created",
                json!({"id": "user_zoë", "first_name": "Zoë 😀 日本"}),
            )
            .to_string(),
        ),
        (
            "a body with escapes",
            r#"{"type":"user.created","data":{"id":"user_\u00e9\n\"\\\/","x":"\ud83d\ude00"}}"#
                .to_owned(),
        ),
        (
            "a body with CRLF and indentation",
            "{\r\n  \"type\": \"user.created\",\r\n  \"data\": {\"id\": \"user_1\"}\r\n}\r\n"
                .to_owned(),
        ),
        (
            "a body with a lone surrogate escape",
            r#"{"type":"user.created","data":{"id":"user_\ud800"}}"#.to_owned(),
        ),
        (
            "a body with duplicate keys",
            r#"{"type":"user.deleted","type":"user.created","data":{"id":"user_1"}}"#.to_owned(),
        ),
        (
            "a body with a number past f64",
            r#"{"type":"user.created","data":{"id":"user_1","n":1e400}}"#.to_owned(),
        ),
    ] {
        let (name, text) = (name.to_owned(), text.clone());
        if name.contains("surrogate") || name.contains("past f64") || name.contains("duplicate") {
            c.stricter(name, delivered("msg_body", text, |_, _| {}));
        } else {
            c.add(name, delivered("msg_body", text, |_, _| {}));
        }
    }
    // Bodies beside their text: the signature over what `Request.text()`
    // reads, or over the raw bytes.
    let bom_body = [b"\xEF\xBB\xBF".as_slice(), body.as_bytes()].concat();
    let invalid = [
        br#"{"type":"user.created","data":{"id":"user_"#.as_slice(),
        b"\xff\xfe",
        br#""}}"#,
    ]
    .concat();
    for (name, bytes, signed) in [
        (
            "a body after a byte-order mark, signed without it",
            bom_body.clone(),
            body.clone(),
        ),
        (
            "a body after a byte-order mark, signed with it",
            bom_body.clone(),
            String::from_utf8(bom_body).unwrap(),
        ),
        (
            "a body with invalid UTF-8, signed as read",
            invalid.clone(),
            String::from_utf8_lossy(&invalid).into_owned(),
        ),
    ] {
        c.add(name, move |now| {
            built(
                b"msg_bytes",
                &now.to_string(),
                sign(TEST_WEBHOOK_SECRET, "msg_bytes", now, &signed),
                bytes.clone(),
            )
        });
    }
    // Signed, but not an event.
    for (name, text, stricter) in [
        ("the body 1", "1", true),
        ("the body []", "[]", true),
        ("the body {}", "{}", true),
        ("an event without data", r#"{"type":"user.created"}"#, true),
        (
            "an event without a type",
            r#"{"data":{"id":"user_1"}}"#,
            true,
        ),
        (
            "an event whose type is a number",
            r#"{"type":5,"data":{}}"#,
            true,
        ),
        (
            "an event whose data is a string",
            r#"{"type":"user.created","data":"user_1"}"#,
            true,
        ),
        ("the body null", "null", false),
        ("an empty body", "", false),
        ("a body that is not JSON", "type=user.created", false),
        (
            "JSON with a trailing comma",
            r#"{"type":"user.created","data":{},}"#,
            false,
        ),
    ] {
        let build = delivered("msg_shape", text.to_owned(), |_, _| {});
        if stricter {
            c.stricter(name, build);
        } else {
            c.add(name, build);
        }
    }
    c
}

/// The verdict class of a Clerk error message.
fn clerk_reason(message: &str) -> &'static str {
    if message.contains("Missing required webhook headers") {
        "webhook-missing-headers"
    } else if message.contains("timestamp too") {
        "webhook-timestamp-out-of-range"
    } else if message.contains("No matching signature")
        || message.contains("Invalid Signature Headers")
    {
        "webhook-invalid-signature"
    } else {
        "webhook-invalid-payload"
    }
}

async fn echo(event: ClerkWebhook) -> Json<Value> {
    Json(json!({ "type": event.kind(), "dataId": event.data()["id"] }))
}

fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_get_the_same_verdict_as_from_clerks_own_verifier() {
    let Some(dir) = clerk_guard_tests::differential::clerk_backend_or_skip(
        Path::new(env!("CARGO_TARGET_TMPDIR")),
        "webhook",
    ) else {
        return;
    };
    let bare_secret = TEST_WEBHOOK_SECRET.strip_prefix("whsec_").unwrap();
    let mut bases = BTreeMap::new();
    for (route, secret) in [("whsec", TEST_WEBHOOK_SECRET), ("bare", bare_secret)] {
        let app = Router::new()
            .route("/webhooks/clerk", post(echo))
            .layer(Extension(WebhookVerifier::new(secret).unwrap()));
        bases.insert(route, serve(app).await);
    }
    let corpus = corpus();
    let client = reqwest::Client::new();
    let b64 = base64::engine::general_purpose::STANDARD;

    // clerk-guard's verdicts, each judged within the second it was built in
    // (rebuilt if the clock ticked over), so Clerk is asked at that second.
    let mut ours = BTreeMap::new();
    let mut inputs = Vec::new();
    for (name, build, _) in &corpus.0 {
        let (now, built, verdict) = loop {
            let now = now_seconds();
            let built = build(now);
            let mut request = client.post(format!("{}/webhooks/clerk", bases[built.route]));
            for (header, value) in &built.headers {
                request = request.header(
                    *header,
                    reqwest::header::HeaderValue::from_bytes(value).unwrap(),
                );
            }
            let response = request.body(built.body.clone()).send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or_default();
            if now_seconds() == now {
                let verdict = match status {
                    200 => format!("accepted {} {}", body["type"], body["dataId"]),
                    _ => format!("{status} {}", body["reason"].as_str().unwrap_or("?")),
                };
                break (now, built, verdict);
            }
        };
        ours.insert(name.clone(), verdict);
        let secret = if built.route == "bare" {
            bare_secret
        } else {
            TEST_WEBHOOK_SECRET
        };
        inputs.push(json!({
            "id": name,
            "nowMs": now * 1000 + 500,
            "secret": secret,
            "headers": built.headers.iter().map(|(n, v)| json!([n, v.iter().map(|&b| char::from(b)).collect::<String>()])).collect::<Vec<_>>(),
            "body": b64.encode(&built.body),
        }));
    }

    let clerk: BTreeMap<String, Value> = clerk_guard_tests::differential::run_script(
        &dir,
        "clerk_webhooks.mjs",
        &json!({ "cases": inputs }),
    )
    .into_iter()
    .map(|v| (v["id"].as_str().unwrap().to_owned(), v))
    .collect();

    let mut differences = Vec::new();
    let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, _, stricter) in &corpus.0 {
        let theirs = &clerk[name];
        let expected = match theirs["ok"].as_bool() {
            Some(true) => format!("accepted {} {}", theirs["type"], theirs["dataId"]),
            _ => format!(
                "400 {}",
                clerk_reason(theirs["message"].as_str().unwrap_or(""))
            ),
        };
        let mine = &ours[name];
        if *stricter {
            // Clerk takes it; clerk-guard refuses it as not an event.
            *tally.entry("stricter").or_default() += 1;
            if !(expected.starts_with("accepted") && mine == "400 webhook-invalid-payload") {
                differences.push(format!(
                    "{name} (listed as stricter): clerk-guard {mine}, Clerk {expected} ({})",
                    theirs["message"]
                ));
            }
        } else {
            *tally
                .entry(if expected.starts_with("accepted") {
                    "accepted"
                } else {
                    "refused"
                })
                .or_default() += 1;
            if *mine != expected {
                differences.push(format!(
                    "{name}: clerk-guard {mine}, Clerk {expected} ({})",
                    theirs["message"]
                ));
            }
        }
    }
    println!(
        "webhook differential: {} deliveries {tally:?}",
        corpus.0.len()
    );
    assert!(
        differences.is_empty(),
        "{} differences:\n{}",
        differences.len(),
        differences.join("\n")
    );
    assert!(
        corpus.0.len() >= 80,
        "the corpus is {} deliveries",
        corpus.0.len()
    );
}
