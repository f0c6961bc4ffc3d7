//! A lean HTTP/1.1 client: one TCP connection, requests written as bytes,
//! responses parsed with `httparse`, bodies by `Content-Length` or chunked.
//! Enough for 10 000 open event streams in one process (a few KB each).

use std::{io, net::SocketAddr};

use bytes::{Buf, BytesMut};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

pub struct Conn {
    stream: TcpStream,
    buf: BytesMut,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    Length(usize),
    Chunked,
    UntilClose,
}

#[derive(Debug)]
pub struct Head {
    pub status: u16,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: BodyKind,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `name=value` of a `Set-Cookie` for `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .filter_map(|(_, v)| v.split(';').next())
            .find(|pair| pair.split_once('=').is_some_and(|(k, _)| k.trim() == name))
            .map(|pair| pair.trim().to_owned())
    }
}

pub struct Response {
    pub head: Head,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: BytesMut::with_capacity(2048),
        })
    }

    pub async fn send(&mut self, request: &[u8]) -> io::Result<()> {
        self.stream.write_all(request).await
    }

    /// Sends `request` and reads the whole response.
    pub async fn request(&mut self, request: &[u8]) -> io::Result<Response> {
        self.send(request).await?;
        let head = self.head().await?;
        let body = self.body(&head).await?;
        Ok(Response { head, body })
    }

    async fn fill(&mut self) -> io::Result<()> {
        if self.buf.capacity() - self.buf.len() < 1024 {
            self.buf.reserve(4096);
        }
        let n = self.stream.read_buf(&mut self.buf).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        Ok(())
    }

    pub async fn head(&mut self) -> io::Result<Head> {
        loop {
            if let Some((head, len)) = parse_head(&self.buf)? {
                self.buf.advance(len);
                return Ok(head);
            }
            self.fill().await?;
        }
    }

    pub async fn body(&mut self, head: &Head) -> io::Result<Vec<u8>> {
        match head.body {
            BodyKind::Length(n) => {
                while self.buf.len() < n {
                    self.fill().await?;
                }
                Ok(self.buf.split_to(n).to_vec())
            }
            BodyKind::Chunked => {
                let mut body = Vec::new();
                while let Some(chunk) = self.chunk().await? {
                    body.extend_from_slice(&chunk);
                }
                Ok(body)
            }
            BodyKind::UntilClose => {
                loop {
                    match self.fill().await {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                        Err(e) => return Err(e),
                    }
                }
                Ok(self.buf.split().to_vec())
            }
        }
    }

    /// The next chunk of a chunked body; `None` after the last one.
    pub async fn chunk(&mut self) -> io::Result<Option<BytesMut>> {
        loop {
            match parse_chunk(&mut self.buf)? {
                Chunk::Data(data) => return Ok(Some(data)),
                Chunk::End => return Ok(None),
                Chunk::Incomplete => self.fill().await?,
            }
        }
    }
}

fn parse_head(buf: &[u8]) -> io::Result<Option<(Head, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; 48];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(err) => return Err(invalid(format!("bad response head: {err}"))),
    };
    let status = response.code.unwrap_or(0);
    let headers: Vec<(String, String)> = response
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let find = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let body = if status == 204 || status == 304 || (100..200).contains(&status) {
        BodyKind::Length(0)
    } else if find("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        BodyKind::Chunked
    } else if let Some(length) = find("content-length") {
        BodyKind::Length(
            length
                .trim()
                .parse()
                .map_err(|_| invalid("bad content-length"))?,
        )
    } else {
        BodyKind::UntilClose
    };
    Ok(Some((
        Head {
            status,
            headers,
            body,
        },
        len,
    )))
}

enum Chunk {
    Data(BytesMut),
    End,
    Incomplete,
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

/// Takes one chunk off the front of `buf` when it is all there.
fn parse_chunk(buf: &mut BytesMut) -> io::Result<Chunk> {
    let Some(line_end) = find_crlf(buf) else {
        return Ok(Chunk::Incomplete);
    };
    let line = std::str::from_utf8(&buf[..line_end]).map_err(|_| invalid("bad chunk size"))?;
    let hex = line.split(';').next().unwrap_or_default().trim();
    let size = usize::from_str_radix(hex, 16).map_err(|_| invalid("bad chunk size"))?;
    if size == 0 {
        // Trailers, then an empty line.
        let mut at = line_end + 2;
        loop {
            let Some(end) = find_crlf(&buf[at..]) else {
                return Ok(Chunk::Incomplete);
            };
            if end == 0 {
                buf.advance(at + 2);
                return Ok(Chunk::End);
            }
            at += end + 2;
        }
    }
    let start = line_end + 2;
    if buf.len() < start + size + 2 {
        return Ok(Chunk::Incomplete);
    }
    if &buf[start + size..start + size + 2] != b"\r\n" {
        return Err(invalid("chunk not followed by CRLF"));
    }
    buf.advance(start);
    let data = buf.split_to(size);
    buf.advance(2);
    Ok(Chunk::Data(data))
}

/// A GET request; `extra` is more header lines, each ending in `\r\n`.
pub fn get(host: &str, path: &str, extra: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nhost: {host}\r\n{extra}\r\n").into_bytes()
}

pub fn post(host: &str, path: &str, content_type: &str, body: &[u8], extra: &str) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n{extra}\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// Events of a `text/event-stream`, fed with whatever bytes arrive.
#[derive(Default)]
pub struct EventStream {
    pending: String,
}

impl EventStream {
    /// The `data` of every event completed by `bytes`.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        self.pending.push_str(&String::from_utf8_lossy(bytes));
        let mut events = Vec::new();
        while let Some(end) = self.pending.find("\n\n") {
            let block: String = self.pending.drain(..end + 2).collect();
            let data: Vec<&str> = block
                .lines()
                .filter_map(|line| {
                    line.strip_prefix("data:")
                        .map(|d| d.strip_prefix(' ').unwrap_or(d))
                })
                .collect();
            if !data.is_empty() {
                events.push(data.join("\n"));
            }
        }
        events
    }
}

/// The `status` of a login status JSON (`{"status":"pending"}`).
pub fn status_of(json: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    value.get("status")?.as_str().map(str::to_owned)
}

/// Percent-encodes a query value (everything but unreserved characters).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_head_with_cookies() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nSet-Cookie: login_binding=abc; Path=/api/login; HttpOnly\r\n\r\nhello";
        let (head, len) = parse_head(raw).unwrap().unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.body, BodyKind::Length(5));
        assert_eq!(&raw[len..], b"hello");
        assert_eq!(
            head.cookie("login_binding").as_deref(),
            Some("login_binding=abc")
        );
        assert_eq!(head.cookie("session"), None);
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Le")
            .unwrap()
            .is_none());
    }

    #[test]
    fn decodes_chunks_arriving_in_pieces() {
        let wire = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n";
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut ended = false;
        for byte in wire {
            buf.extend_from_slice(&[*byte]);
            loop {
                match parse_chunk(&mut buf).unwrap() {
                    Chunk::Data(d) => out.extend_from_slice(&d),
                    Chunk::End => {
                        ended = true;
                        break;
                    }
                    Chunk::Incomplete => break,
                }
            }
        }
        assert!(ended);
        assert_eq!(out, b"hello world");
        assert!(buf.is_empty());
    }

    #[test]
    fn splits_server_sent_events() {
        let mut stream = EventStream::default();
        assert!(stream.feed(b"retry: 500\ndata: {\"status\":").is_empty());
        let events =
            stream.feed(b"\"pending\"}\n\n: keep-alive\n\ndata: {\"status\":\"confirmed\"}\n\n");
        assert_eq!(
            events,
            vec![
                "{\"status\":\"pending\"}".to_owned(),
                "{\"status\":\"confirmed\"}".to_owned()
            ]
        );
        assert_eq!(status_of(&events[1]).as_deref(), Some("confirmed"));
    }

    #[test]
    fn encodes_query_values() {
        assert_eq!(encode("a+b/c=="), "a%2Bb%2Fc%3D%3D");
        assert_eq!(encode("abc-_.~"), "abc-_.~");
    }
}
