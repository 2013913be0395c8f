//! Fuzzes the Vault key rules and the URL builder the store sends requests with.
//!
//! Input: UTF-8 text, a key; or `mount U+001F key` (U+001F is a control character, so
//! never part of an accepted key or mount). Whatever the input:
//!
//! - the checks never panic, and a refusal's message is under 1 KiB with no control
//!   character;
//! - `segment_is_dot` agrees with the URL library's own parser about which segments
//!   resolve as `.` or `..`;
//! - when the key (and mount) pass the checks, the URL built for `data/` and
//!   `metadata/` parses back to itself, its path is `[/prefix]/v1/<mount>/<area>/`
//!   followed by exactly the key's segments (decoded), no segment of it is empty or
//!   reads `.` or `..`, and it has no query or fragment;
//! - a URL built for a refused key (the builder is the second line of defence) stays
//!   under the mount's area all the same.
#![no_main]

use eso_example_vault::{api_url, check_key, check_key_prefix, check_spec_path, key_problem, kv_path, segment_is_dot};
use libfuzzer_sys::fuzz_target;
use url::Url;

const SERVERS: [(&str, &[&str]); 2] = [
    ("https://vault.example:8200", &[]),
    ("http://127.0.0.1:8200/prefix/", &["prefix"]),
];

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .map(|text| text.into_owned())
        .unwrap_or_else(|_| panic!("segment {segment:?} does not decode to UTF-8"))
}

fn check_message(result: Result<(), String>) {
    if let Err(message) = result {
        assert!(message.len() < 1024, "a {}-byte message", message.len());
        assert!(
            !message.chars().any(char::is_control),
            "a control character in {message:?}"
        );
    }
}

/// The built URL's path must be the base's, `v1`, the mount's segments, `area`, and
/// then `key_segments` (when given; else anything under the area), with no empty or
/// dot segment.
fn check_url(url: &Url, base: &[&str], mount: &str, area: &str, key_segments: Option<&[&str]>) {
    let sent = Url::parse(url.as_str()).unwrap_or_else(|e| panic!("{url} does not parse back: {e}"));
    assert_eq!(&sent, url, "the URL changes when parsed back");
    assert_eq!(sent.query(), None, "{url}");
    assert_eq!(sent.fragment(), None, "{url}");
    assert!(
        sent.host_str() == Some("vault.example") || sent.host_str() == Some("127.0.0.1"),
        "{url}"
    );
    let raw: Vec<&str> = sent.path_segments().map(Iterator::collect).unwrap_or_default();
    for segment in &raw {
        assert!(!segment.is_empty(), "an empty segment in {url}");
        assert!(!segment_is_dot(segment), "a dot segment {segment:?} in {url}");
        assert!(
            !segment_is_dot(&decode(segment)),
            "a decoded dot segment {segment:?} in {url}"
        );
    }
    let decoded: Vec<String> = raw.iter().map(|s| decode(s)).collect();
    let mut expected: Vec<&str> = base.to_vec();
    expected.push("v1");
    expected.extend(mount.split('/'));
    expected.push(area);
    assert!(decoded.len() >= expected.len(), "{url} is shorter than its prefix");
    assert_eq!(&decoded[..expected.len()], expected.as_slice(), "{url} left its prefix");
    if mount == "secret" {
        let prefix = if base.is_empty() { "" } else { "/prefix" };
        let area_path = format!("{prefix}/v1/secret/{area}");
        // A key's URL is under the area; only the area itself (the root listing) is not.
        let under = sent.path().starts_with(&format!("{area_path}/"));
        assert!(under || (key_segments.is_none() && sent.path() == area_path), "{url}");
    }
    if let Some(key) = key_segments {
        assert_eq!(
            &decoded[expected.len()..],
            key,
            "{url} does not hold the key's segments"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The checks never panic, and what they say is bounded and escaped.
    check_message(check_key("remote_ref.key", text).map_err(|e| e.to_string()));
    check_message(check_key_prefix("find.path", text).map_err(|e| e.to_string()));
    check_message(check_spec_path("spec.mount", text).map_err(|e| e.to_string()));

    // The dot rule agrees with the URL library's parser, for every segment it can parse
    // as one segment.
    for segment in text.split('/') {
        if segment.contains(['\\', '?', '#']) {
            continue;
        }
        if let Ok(url) = Url::parse(&format!("http://h/x/{segment}/y")) {
            let resolved = url.path_segments().map_or(0, Iterator::count) < 3;
            assert_eq!(segment_is_dot(segment), resolved, "{segment:?} parses as {url}");
        }
    }

    let (mount, key) = match text.split_once('\u{1f}') {
        Some((mount, key)) => (mount.trim_matches('/'), key),
        None => ("secret", text),
    };
    if key_problem(mount).is_some() {
        // The spec check refuses the object: nothing is ever built with this mount.
        assert!(check_spec_path("spec.mount", mount).is_err());
        return;
    }
    let accepted = check_key("remote_ref.key", key).is_ok();
    assert_eq!(accepted, key_problem(key).is_none());
    let key_segments: Vec<&str> = key.split('/').collect();
    for (server, base_segments) in SERVERS {
        let base = Url::parse(server).unwrap_or_else(|e| panic!("{server}: {e}"));
        for area in ["data", "metadata"] {
            let built = api_url(&base, &kv_path(mount, area, key), &[]);
            if accepted {
                let url = built.unwrap_or_else(|e| panic!("accepted key {key:?} builds no URL: {e}"));
                check_url(&url, base_segments, mount, area, Some(&key_segments));
                let listed = api_url(&base, &kv_path(mount, area, key), &[("list", "true")])
                    .unwrap_or_else(|e| panic!("accepted key {key:?} builds no listing URL: {e}"));
                assert_eq!(listed.query(), Some("list=true"), "{listed}");
            } else if let Ok(url) = built {
                // Only empty segments (dropped) can get a refused key this far.
                check_url(&url, base_segments, mount, area, None);
            }
        }
    }
});
