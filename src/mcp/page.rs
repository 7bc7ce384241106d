//! A one-time page on 127.0.0.1 where the human types a secret the login needs, so that it
//! never passes through the MCP client or the model (the spec's URL-mode elicitation).
//!
//! A random port, a random 256-bit token in the path, served only to loopback peers whose
//! `Host` (and `Origin`, when sent) name the page itself (no DNS rebinding, no cross-site
//! post); it accepts one POST, then closes, and expires after a few minutes.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use zeroize::Zeroizing;

use crate::secret::Secret;

/// Longest request head and body read.
const MAX_HEAD: usize = 8 * 1024;
const MAX_BODY: usize = 4 * 1024;
/// Time one connection gets to send its request.
const REQUEST_TIME: Duration = Duration::from_secs(10);

/// A page waiting for its one answer.
pub struct OneTimePage {
    url: String,
    answer: oneshot::Receiver<Secret>,
    server: tokio::task::JoinHandle<()>,
    ttl: Duration,
}

impl OneTimePage {
    /// Starts serving. `title` and `prompt` are shown on the page (no secrets in them).
    pub async fn start(title: &str, prompt: &str, ttl: Duration) -> std::io::Result<OneTimePage> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let url = format!("http://127.0.0.1:{port}/{token}");
        let (tx, answer) = oneshot::channel();
        let page = Page {
            host: format!("127.0.0.1:{port}"),
            path: format!("/{token}"),
            title: html_escape(title),
            prompt: html_escape(prompt),
        };
        let server = tokio::spawn(async move {
            let _ = tokio::time::timeout(ttl, page.serve(listener, tx)).await;
        });
        Ok(OneTimePage {
            url,
            answer,
            server,
            ttl,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Waits for the human's answer, or the page's expiry.
    pub async fn answer(mut self) -> Result<Secret, String> {
        let ttl = self.ttl;
        let r = (&mut self.answer).await;
        self.server.abort();
        r.map_err(|_| {
            format!(
                "nothing was entered on the page within {} minutes",
                ttl.as_secs().div_ceil(60)
            )
        })
    }
}

impl Drop for OneTimePage {
    fn drop(&mut self) {
        self.server.abort();
    }
}

struct Page {
    host: String,
    path: String,
    title: String,
    prompt: String,
}

impl Page {
    async fn serve(&self, listener: TcpListener, tx: oneshot::Sender<Secret>) {
        let mut tx = Some(tx);
        while tx.is_some() {
            let Ok((mut stream, peer)) = listener.accept().await else {
                continue;
            };
            if !peer.ip().is_loopback() {
                continue;
            }
            let answer = tokio::time::timeout(REQUEST_TIME, self.handle(&mut stream)).await;
            if let Ok(Some(secret)) = answer
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(secret);
            }
        }
    }

    /// One request; `Some` when it carried the answer.
    async fn handle(&self, stream: &mut TcpStream) -> Option<Secret> {
        let mut buf = Zeroizing::new(Vec::with_capacity(1024));
        let head_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > MAX_HEAD {
                respond(stream, 431, "Request too large.").await;
                return None;
            }
            let mut chunk = [0u8; 1024];
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
            zeroize::Zeroize::zeroize(&mut chunk);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let mut request = lines.next()?.split(' ');
        let (method, path) = (request.next()?, request.next()?);
        let header = |name: &str| {
            head.split("\r\n").skip(1).find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
        };
        // DNS rebinding: a browser sends the name it resolved; ours is an address.
        if header("host").as_deref() != Some(self.host.as_str()) {
            respond(stream, 403, "Forbidden.").await;
            return None;
        }
        if !same(path.as_bytes(), self.path.as_bytes()) {
            respond(
                stream,
                404,
                "This page does not exist, or it was already used.",
            )
            .await;
            return None;
        }
        match method {
            "GET" => {
                let body = format!(
                    "<!doctype html><html><head><meta charset=utf-8><meta name=referrer content=no-referrer><title>{t}</title>\
<style>body{{font-family:sans-serif;max-width:36em;margin:3em auto}}input{{font-size:1.2em;width:100%}}</style></head>\
<body><h1>{t}</h1><p>{p}</p><form method=post autocomplete=off><input type=password name=secret autofocus>\
<p><button type=submit>Send</button></p></form><p>This page works once and expires in a few minutes. What you type goes only to the mcp-ssh-session server on this computer, which types it at the waiting prompt.</p></body></html>",
                    t = self.title,
                    p = self.prompt
                );
                respond_html(stream, 200, &body).await;
                None
            }
            "POST" => {
                let origin = header("origin");
                if origin.is_some_and(|o| o != format!("http://{}", self.host)) {
                    respond(stream, 403, "Forbidden.").await;
                    return None;
                }
                let len: usize = header("content-length")?.parse().ok()?;
                if len > MAX_BODY {
                    respond(stream, 413, "Too long.").await;
                    return None;
                }
                while buf.len() < head_end + len {
                    let mut chunk = Zeroizing::new([0u8; 1024]);
                    let n = stream.read(&mut chunk[..]).await.ok()?;
                    if n == 0 {
                        return None;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let body = &buf[head_end..head_end + len];
                let value = form_value(body, b"secret")?;
                let text = match String::from_utf8(value.to_vec()) {
                    Ok(t) => Zeroizing::new(t),
                    Err(_) => {
                        respond(stream, 400, "Not valid text.").await;
                        return None;
                    }
                };
                match Secret::parse(text.as_str()) {
                    Ok(Some(secret)) => {
                        respond(stream, 200, "Received. You can close this page.").await;
                        Some(secret)
                    }
                    Ok(None) => {
                        respond(stream, 400, "Nothing was entered; go back and try again.").await;
                        None
                    }
                    Err(why) => {
                        respond(stream, 400, why).await;
                        None
                    }
                }
            }
            _ => {
                respond(stream, 405, "Method not allowed.").await;
                None
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Compares without an early exit that depends on the content (the token).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The decoded value of `name` in an `application/x-www-form-urlencoded` body.
fn form_value(body: &[u8], name: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    for pair in body.split(|b| *b == b'&') {
        let mut kv = pair.splitn(2, |b| *b == b'=');
        if kv.next()? != name {
            continue;
        }
        let raw = kv.next().unwrap_or_default();
        let mut out = Zeroizing::new(Vec::with_capacity(raw.len()));
        let mut i = 0;
        while i < raw.len() {
            match raw[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = std::str::from_utf8(raw.get(i + 1..i + 3)?).ok()?;
                    out.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        return Some(out);
    }
    None
}

fn html_escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '&' => "&amp;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

async fn respond(stream: &mut TcpStream, code: u16, text: &str) {
    respond_html(
        stream,
        code,
        &format!("<!doctype html><p>{}</p>", html_escape(text)),
    )
    .await;
}

async fn respond_html(stream: &mut TcpStream, code: u16, body: &str) {
    let reason = match code {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        _ => "Request Header Fields Too Large",
    };
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nX-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\nContent-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; form-action 'self'\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn send(url_host: &str, raw: String) -> String {
        let mut s = TcpStream::connect(url_host).await.unwrap();
        s.write_all(raw.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    fn post(host: &str, path: &str, body: &str, origin: Option<&str>) -> String {
        format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\n{}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            origin
                .map(|o| format!("Origin: {o}\r\n"))
                .unwrap_or_default(),
            body.len()
        )
    }

    #[tokio::test]
    async fn one_answer_from_the_right_page_only() {
        let page = OneTimePage::start(
            "web asks for a password",
            "Password: <x>",
            Duration::from_secs(30),
        )
        .await
        .unwrap();
        let url = page.url().to_string();
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_at(rest.find('/').unwrap());
        assert_eq!(path.len(), 65, "{path}");
        let get = send(host, format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n")).await;
        assert!(
            get.starts_with("HTTP/1.1 200") && get.contains("type=password"),
            "{get}"
        );
        assert!(get.contains("Password: &lt;x&gt;"), "{get}");
        // A wrong token, a foreign Host (DNS rebinding), a foreign Origin, a line break.
        let r = send(host, post(host, "/x", "secret=a", None)).await;
        assert!(r.starts_with("HTTP/1.1 404"), "{r}");
        let r = send(host, post("evil.example:80", path, "secret=a", None)).await;
        assert!(r.starts_with("HTTP/1.1 403"), "{r}");
        let r = send(
            host,
            post(host, path, "secret=a", Some("http://evil.example")),
        )
        .await;
        assert!(r.starts_with("HTTP/1.1 403"), "{r}");
        let r = send(host, post(host, path, "secret=a%0Ab", None)).await;
        assert!(
            r.starts_with("HTTP/1.1 400") && r.contains("line break"),
            "{r}"
        );
        let origin = format!("http://{host}");
        let r = send(
            host,
            post(host, path, "x=1&secret=p%40ss+w%C3%B6rd", Some(&origin)),
        )
        .await;
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        let secret = page.answer().await.unwrap();
        assert_eq!(secret.expose(), "p@ss wörd");
        // Used once: the page is gone.
        assert!(TcpStream::connect(host).await.is_err());
    }

    #[tokio::test]
    async fn the_page_expires() {
        let page = OneTimePage::start("t", "p", Duration::from_millis(200))
            .await
            .unwrap();
        let e = page.answer().await.unwrap_err();
        assert!(e.contains("nothing was entered"), "{e}");
    }

    #[test]
    fn form_values_are_decoded() {
        assert_eq!(
            &form_value(b"secret=a%2Bb+c", b"secret").unwrap()[..],
            b"a+b c"
        );
        assert!(form_value(b"other=1", b"secret").is_none());
        assert!(form_value(b"secret=%4", b"secret").is_none());
    }
}
