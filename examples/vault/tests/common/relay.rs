//! A tiny HTTP/1.1 server on a loopback port that records the request line of every
//! request it gets, and either forwards each request to an upstream server (OpenBao)
//! or answers every one with a fixed response. What it records is exactly what the
//! provider sent on the wire, before any server-side routing or path cleaning.

use super::TestResult;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The most a request may send before its head ends (a 1 MiB key fits).
const MAX_HEAD: usize = 8 << 20;

enum Behaviour {
    /// Forward each request to this address (one request per connection).
    Forward(SocketAddr),
    /// Answer each request with these bytes.
    Answer(Vec<u8>),
}

/// A recording server; stops when dropped.
pub struct Relay {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// `127.0.0.1:PORT`.
    pub authority: String,
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Relay {
    /// Forwards to `upstream` (`http://127.0.0.1:PORT`), recording each request.
    pub async fn forward(upstream: &str) -> TestResult<Relay> {
        let authority = upstream
            .strip_prefix("http://")
            .ok_or_else(|| format!("{upstream}: only http:// upstreams"))?;
        let address: SocketAddr = authority.parse().map_err(|e| format!("{upstream}: {e}"))?;
        Self::start(Behaviour::Forward(address)).await
    }

    /// Answers every request with `response` (a whole HTTP/1.1 response; it should
    /// say `Connection: close`), recording each request.
    pub async fn answer(response: &str) -> TestResult<Relay> {
        Self::start(Behaviour::Answer(response.as_bytes().to_vec())).await
    }

    async fn start(behaviour: Behaviour) -> TestResult<Relay> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("binding: {e}"))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        let behaviour = Arc::new(behaviour);
        let task = tokio::spawn(async move {
            while let Ok((connection, _)) = listener.accept().await {
                let behaviour = Arc::clone(&behaviour);
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    let _ = handle(connection, &behaviour, &log).await;
                });
            }
        });
        Ok(Relay {
            address: format!("http://{local}"),
            authority: local.to_string(),
            requests,
            task,
        })
    }

    /// The requests so far, as `METHOD target` (the request line's target as sent).
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

async fn handle(mut client: TcpStream, behaviour: &Behaviour, log: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let head_end = loop {
        if let Some(end) = find(&buffer, b"\r\n\r\n") {
            break end + 4;
        }
        if buffer.len() > MAX_HEAD {
            if let Ok(mut log) = log.lock() {
                log.push(format!("<a request head over {MAX_HEAD} bytes>"));
            }
            return Ok(());
        }
        let read = client.read(&mut chunk).await?;
        if read == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let headers: Vec<&str> = lines.filter(|line| !line.is_empty()).collect();
    {
        let mut parts = request_line.split(' ');
        let method = parts.next().unwrap_or_default();
        let target = parts.next().unwrap_or_default();
        if let Ok(mut log) = log.lock() {
            log.push(format!("{method} {target}"));
        }
    }
    let length = headers
        .iter()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let read = client.read(&mut chunk).await?;
        if read == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let body = &buffer[head_end..head_end + length];
    match behaviour {
        Behaviour::Answer(response) => client.write_all(response).await?,
        Behaviour::Forward(upstream) => {
            // One request per connection: the upstream closes after answering, so its
            // answer ends at EOF, and the client does not reuse the connection.
            let mut forwarded = format!("{request_line}\r\n");
            for line in headers
                .iter()
                .filter(|line| !line.to_ascii_lowercase().starts_with("connection:"))
            {
                forwarded.push_str(line);
                forwarded.push_str("\r\n");
            }
            forwarded.push_str("Connection: close\r\n\r\n");
            let mut server = TcpStream::connect(upstream).await?;
            server.write_all(forwarded.as_bytes()).await?;
            server.write_all(body).await?;
            let mut answer = Vec::new();
            server.read_to_end(&mut answer).await?;
            client.write_all(&answer).await?;
        }
    }
    client.shutdown().await
}
