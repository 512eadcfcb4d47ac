//! URLs in logs and stored errors: a webhook endpoint's URL may carry a credential in its
//! userinfo (`https://user:pass@...`) or query (`?token=...`). Every log line and stored
//! error about an outbound request goes through here.

/// `url` without userinfo, query and fragment: `https://hooks.example.com/rollcall`.
/// Text that is not a URL is replaced whole (it might be a mistyped URL with a token).
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => "<unparseable URL>".to_owned(),
    }
}

/// `text` (an error message) with every secret-bearing part of `url` taken out: the
/// whole URL if it appears, then its userinfo and query and each query value on its own
/// (a receiver's answer may echo them in any form).
pub fn scrub_url(text: &str, url: &str) -> String {
    let mut out = text.replace(url, &redact_url(url));
    let Ok(u) = url::Url::parse(url) else {
        return out;
    };
    let mut secrets: Vec<String> = Vec::new();
    secrets.extend(u.password().map(str::to_owned));
    if !u.username().is_empty() {
        secrets.push(format!("{}@", u.username()));
    }
    if let Some(q) = u.query() {
        secrets.push(q.to_owned());
    }
    for (_, value) in u.query_pairs() {
        secrets.push(value.into_owned());
    }
    if let Some(f) = u.fragment() {
        secrets.push(f.to_owned());
    }
    // Longest first, so a query is replaced whole before its values.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(secret.as_str(), "<redacted>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_userinfo_query_and_fragment() {
        assert_eq!(
            redact_url("https://u:pw@hooks.example.com:8443/in?token=abc123#frag"),
            "https://hooks.example.com:8443/in"
        );
        assert_eq!(redact_url("not a url ?token=abc"), "<unparseable URL>");
    }

    #[test]
    fn errors_lose_every_secret_of_the_url() {
        let url = "http://hook:pa55word@127.0.0.1:9/in?token=s3cr3t-t0ken&x=1";
        let text = format!(
            "error sending request for url ({url}): HTTP 404: no route for /in?token=s3cr3t-t0ken&x=1, \
             user hook:pa55word"
        );
        let out = scrub_url(&text, url);
        assert!(!out.contains("s3cr3t-t0ken"), "{out}");
        assert!(!out.contains("pa55word"), "{out}");
        assert!(out.contains("http://127.0.0.1:9/in"), "{out}");
    }
}
