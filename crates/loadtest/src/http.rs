//! A lean HTTP/1.1 client for the measured loops: one keep-alive TCP
//! connection, a request written as prepared bytes, the answer parsed with
//! `httparse` and its body read by `Content-Length` (or chunks).
//!
//! It does what `wrk` does and no more, so that the load generator, which
//! shares the two cores with the server it measures, takes as little of
//! them as it can: a `reqwest` request cost the generator ~40 µs of CPU,
//! this one a few. Setup calls (seeding, tokens) still use `reqwest`.

use base64::Engine as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// The largest answer read (a proof or a token answer is ~1 KiB).
const MAX_ANSWER: usize = 1 << 20;

/// A request ready to send on any connection to one server.
#[derive(Clone, Debug)]
pub struct Request(pub Vec<u8>);

/// Builds one request.
pub struct Builder {
    head: String,
    body: Vec<u8>,
}

impl Builder {
    fn new(method: &str, authority: &str, path: &str) -> Builder {
        Builder {
            head: format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\n"),
            body: Vec::new(),
        }
    }

    /// `GET path`.
    pub fn get(authority: &str, path: &str) -> Builder {
        Builder::new("GET", authority, path)
    }

    /// `POST path`.
    pub fn post(authority: &str, path: &str) -> Builder {
        Builder::new("POST", authority, path)
    }

    /// `Authorization: Basic` with form-encoded id and secret (RFC 6749 §2.3.1).
    pub fn basic(mut self, id: &str, secret: &str) -> Builder {
        let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let pair = format!("{}:{}", encode(id), encode(secret));
        let b64 = base64::engine::general_purpose::STANDARD.encode(pair);
        self.head
            .push_str(&format!("Authorization: Basic {b64}\r\n"));
        self
    }

    /// `Authorization: Bearer`.
    pub fn bearer(mut self, token: &str) -> Builder {
        self.head
            .push_str(&format!("Authorization: Bearer {token}\r\n"));
        self
    }

    /// An `application/x-www-form-urlencoded` body.
    pub fn form(mut self, pairs: &[(&str, &str)]) -> Builder {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.head
            .push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        self.body = body.into_bytes();
        self
    }

    /// A JSON body.
    pub fn json(mut self, value: &serde_json::Value) -> Builder {
        self.head.push_str("Content-Type: application/json\r\n");
        self.body = value.to_string().into_bytes();
        self
    }

    /// The bytes to send.
    pub fn build(self) -> Request {
        let mut bytes = self.head.into_bytes();
        if !self.body.is_empty() {
            bytes.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(&self.body);
        Request(bytes)
    }
}

/// One keep-alive connection (reopened after an error).
pub struct Connection {
    address: String,
    stream: Option<TcpStream>,
    buffer: Vec<u8>,
}

/// An answer: status and body.
pub struct Answer<'a> {
    /// The HTTP status code.
    pub status: u16,
    /// The body, de-chunked.
    pub body: &'a [u8],
}

impl Connection {
    /// A connection to `address` (`host:port`), opened on first use.
    pub fn new(address: &str) -> Connection {
        Connection {
            address: address.to_owned(),
            stream: None,
            buffer: Vec::with_capacity(16 * 1024),
        }
    }

    /// Where it connects.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Sends `request` and reads the whole answer.
    pub async fn send(&mut self, request: &Request) -> Result<Answer<'_>, String> {
        match self.exchange(request).await {
            Ok((status, start, end)) => Ok(Answer {
                status,
                body: &self.buffer[start..end],
            }),
            Err(why) => {
                self.stream = None;
                Err(why)
            }
        }
    }

    async fn exchange(&mut self, request: &Request) -> Result<(u16, usize, usize), String> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.address)
                .await
                .map_err(|e| format!("connecting to {}: {e}", self.address))?;
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            self.stream = Some(stream);
        }
        let stream = self.stream.as_mut().ok_or("no connection")?;
        stream
            .write_all(&request.0)
            .await
            .map_err(|e| format!("sending: {e}"))?;
        self.buffer.clear();
        // The head.
        let (status, head_len, length, chunked, close) = loop {
            read_more(stream, &mut self.buffer).await?;
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.buffer) {
                Ok(httparse::Status::Complete(head_len)) => {
                    let status = response.code.ok_or("no status code")?;
                    let mut length = None;
                    let mut chunked = false;
                    let mut close = false;
                    for header in response.headers.iter() {
                        let value = std::str::from_utf8(header.value).unwrap_or("");
                        if header.name.eq_ignore_ascii_case("content-length") {
                            length = value.trim().parse::<usize>().ok();
                        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                            chunked = value.to_ascii_lowercase().contains("chunked");
                        } else if header.name.eq_ignore_ascii_case("connection") {
                            close = value.eq_ignore_ascii_case("close");
                        }
                    }
                    break (status, head_len, length, chunked, close);
                }
                Ok(httparse::Status::Partial) => {}
                Err(e) => return Err(format!("a malformed answer: {e}")),
            }
        };
        let (start, end) = if chunked {
            read_chunked(stream, &mut self.buffer, head_len).await?
        } else {
            let length = length.ok_or("an answer with neither length nor chunks")?;
            while self.buffer.len() < head_len + length {
                read_more(stream, &mut self.buffer).await?;
            }
            (head_len, head_len + length)
        };
        if close {
            self.stream = None;
        }
        Ok((status, start, end))
    }
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<(), String> {
    if buffer.len() >= MAX_ANSWER {
        return Err("the answer is too large".into());
    }
    buffer.reserve(8 * 1024);
    let read = stream
        .read_buf(buffer)
        .await
        .map_err(|e| format!("reading: {e}"))?;
    if read == 0 {
        return Err("the server closed the connection".into());
    }
    Ok(())
}

/// Decodes a chunked body in place after `head_len`; returns its span.
async fn read_chunked(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
    head_len: usize,
) -> Result<(usize, usize), String> {
    let mut body = Vec::new();
    let mut at = head_len;
    loop {
        let line_end = loop {
            if let Some(i) = buffer[at..].windows(2).position(|w| w == b"\r\n") {
                break at + i;
            }
            read_more(stream, buffer).await?;
        };
        let size_text = std::str::from_utf8(&buffer[at..line_end]).map_err(|e| e.to_string())?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("a bad chunk size {size_text:?}"))?;
        let data = line_end + 2;
        while buffer.len() < data + size + 2 {
            read_more(stream, buffer).await?;
        }
        if size == 0 {
            break;
        }
        body.extend_from_slice(&buffer[data..data + size]);
        at = data + size + 2;
    }
    buffer.truncate(head_len);
    buffer.extend_from_slice(&body);
    Ok((head_len, buffer.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A server that answers each request with the next canned answer.
    async fn canned(answers: Vec<&'static [u8]>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            for answer in answers {
                let mut request = vec![0; 4096];
                let _ = socket.read(&mut request).await.unwrap();
                socket.write_all(answer).await.unwrap();
            }
        });
        address
    }

    #[tokio::test]
    async fn reads_length_and_chunked_answers_on_one_connection() {
        let address = canned(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n",
        ])
        .await;
        let mut connection = Connection::new(&address);
        let request = Builder::get(&address, "/").build();
        let a = connection.send(&request).await.unwrap();
        assert_eq!((a.status, a.body), (200, &b"hello"[..]));
        let a = connection.send(&request).await.unwrap();
        assert_eq!((a.status, a.body), (201, &b"abcde"[..]));
        let a = connection.send(&request).await.unwrap();
        assert_eq!((a.status, a.body), (401, &b""[..]));
        assert!(
            connection.send(&request).await.is_err(),
            "closed by the server"
        );
    }

    #[test]
    fn requests_are_well_formed() {
        let request = Builder::post("h:1", "/oauth/token")
            .basic("c_a", "s+/")
            .form(&[("grant_type", "client_credentials")])
            .build();
        let text = String::from_utf8(request.0).unwrap();
        assert_eq!(
            text,
            "POST /oauth/token HTTP/1.1\r\nHost: h:1\r\nAuthorization: Basic Y19hOnMlMkIlMkY=\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 29\r\n\r\n\
             grant_type=client_credentials"
        );
    }
}
