//! The README's newcomer check, automated: run the quickstart example with no
//! Clerk settings, "paste" every `curl` line it prints, and compare each
//! status with the expectation printed above it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use clerk_guard_tests::{example_binary, KillOnDrop};

/// `/me 200, /maybe 200 {"sub":null}, /admin 403` → route → status.
fn expectations(comment: &str) -> HashMap<String, u16> {
    let list = comment.split_once(": ").map_or(comment, |(_, rest)| rest);
    list.split(", ")
        .filter_map(|item| {
            let mut words = item.split_whitespace();
            let route = words.next()?.strip_prefix('/')?.to_owned();
            let status = words.next()?.parse().ok()?;
            Some((route, status))
        })
        .collect()
}

/// The words of a shell line that quotes with `'…'` (and `'\''` for a quote).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let (mut quoted, mut escaped) = (false, false);
    for c in line.chars() {
        match (c, quoted, escaped) {
            (c, _, true) => {
                word.get_or_insert_with(String::new).push(c);
                escaped = false;
            }
            ('\'', _, _) => {
                quoted = !quoted;
                word.get_or_insert_with(String::new);
            }
            ('\\', false, _) => escaped = true,
            (' ', false, _) => words.extend(word.take()),
            (c, _, _) => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

/// A printed `curl -X POST` line: its URL, headers and body.
struct Post {
    url: String,
    headers: Vec<(String, String)>,
    body: String,
}

fn post_line(line: &str) -> Post {
    let words = shell_words(line);
    let after = |flag: &str| {
        words
            .iter()
            .enumerate()
            .filter(|(_, w)| *w == flag)
            .map(|(i, _)| words[i + 1].clone())
            .collect::<Vec<_>>()
    };
    Post {
        url: after("POST").remove(0),
        headers: after("-H")
            .into_iter()
            .map(|h| {
                let (name, value) = h.split_once(": ").unwrap();
                (name.to_owned(), value.to_owned())
            })
            .collect(),
        body: after("--data-raw").remove(0),
    }
}

#[test]
fn shell_words_read_quotes_as_a_shell_does() {
    assert_eq!(
        shell_words(r#"curl -H 'a: b' --data-raw '{"x":"it'\''s"}'"#),
        ["curl", "-H", "a: b", "--data-raw", r#"{"x":"it's"}"#]
    );
}

#[tokio::test]
async fn every_printed_curl_line_answers_as_printed() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = Command::new(example_binary("quickstart"));
    command
        .env("PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped());
    for var in [
        "CLERK_JWT_KEY",
        "CLERK_JWKS_URL",
        "CLERK_PUBLISHABLE_KEY",
        "CLERK_SECRET_KEY",
    ] {
        command.env_remove(var);
    }
    let mut child = KillOnDrop(command.spawn().unwrap());
    let stdout = BufReader::new(child.0.stdout.take().unwrap());

    let mut expected = HashMap::new();
    let mut checks = Vec::new();
    let mut posts = Vec::new();
    let mut listening = false;
    for line in stdout.lines() {
        let line = line.unwrap();
        if let Some(comment) = line.strip_prefix("# ") {
            expected = expectations(comment);
        } else if line.starts_with("curl -i -X POST") {
            let status = *expected
                .get("webhooks/clerk")
                .expect("a webhook expectation");
            posts.push((post_line(&line), status));
        } else if line.starts_with("curl ") {
            let url = line.rsplit(' ').next().unwrap().to_owned();
            let token = line
                .split_once("Bearer ")
                .map(|(_, rest)| rest.split('"').next().unwrap().to_owned());
            let route = url.rsplit('/').next().unwrap().to_owned();
            let status = *expected
                .get(&route)
                .unwrap_or_else(|| panic!("no expectation for {line}"));
            checks.push((url, token, status));
        } else if line.starts_with("listening on") {
            listening = true;
            break;
        }
    }
    assert!(listening, "the quickstart did not print its address");
    assert_eq!(
        checks.len(),
        35,
        "5 anonymous lines, 4 routes for each of 3 users, 3 billing and step-up routes for each of \
         2 users, 3 machine routes for each of 4 callers"
    );

    let client = reqwest::Client::new();
    // The webhook lines: a signed delivery (200, twice: the second is the
    // replay guard's), then the tampered one (400).
    assert_eq!(
        posts.iter().map(|(_, s)| *s).collect::<Vec<_>>(),
        [200, 400]
    );
    for (post, status) in posts.iter().take(1).chain(&posts) {
        let mut request = client.post(&post.url).body(post.body.clone());
        for (name, value) in &post.headers {
            request = request.header(name, value);
        }
        let reply = request.send().await.unwrap();
        assert_eq!(reply.status().as_u16(), *status, "{}", post.body);
    }
    for (url, token, status) in checks {
        let mut request = client.get(&url);
        if let Some(token) = &token {
            request = request.bearer_auth(token);
        }
        let reply = request.send().await.unwrap();
        assert_eq!(
            reply.status().as_u16(),
            status,
            "{url} with token: {}",
            token.is_some()
        );
        // The machine route answers with the machine's id as `sub`.
        if url.ends_with("/machine") && status == 200 {
            let body: serde_json::Value = reply.json().await.unwrap();
            assert_eq!(body["sub"], "mch_worker", "{url}");
        }
    }
}
