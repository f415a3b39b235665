//! A small SMTP server as the gateway's upstream: it keeps the exact bytes
//! of every message and can be told to refuse, defer or drop.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// A message the sink accepted.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub mail_from: String,
    pub rcpts: Vec<String>,
    /// Exactly the message content (dot-stuffing removed).
    pub data: Vec<u8>,
}

/// How the sink answers.
#[derive(Debug, Clone, Default)]
pub struct SinkBehaviour {
    /// Recipients answered 550.
    pub reject_rcpts: HashSet<String>,
    /// Every RCPT answered 451.
    pub defer_all: bool,
    /// This share of RCPTs (0.0–1.0) answered 451, at random.
    pub defer_ratio: f64,
    /// Close the connection, without a word, after each message stored
    /// (a server that hangs up on idle clients).
    pub close_after_message: bool,
}

/// An in-test SMTP server used as the upstream.
pub struct Sink {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Delivered>>>,
    pub behaviour: Arc<Mutex<SinkBehaviour>>,
    /// Connections accepted so far.
    pub connections: Arc<std::sync::atomic::AtomicUsize>,
    stop: CancellationToken,
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Sink {
    pub async fn start() -> Sink {
        Self::start_on("127.0.0.1:0").await
    }

    pub async fn start_on(addr: &str) -> Sink {
        let listener = TcpListener::bind(addr).await.expect("bind sink");
        let addr = listener.local_addr().expect("addr");
        let received = Arc::new(Mutex::new(Vec::new()));
        let behaviour = Arc::new(Mutex::new(SinkBehaviour::default()));
        let stop = CancellationToken::new();
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (r, b, s, n) = (
            received.clone(),
            behaviour.clone(),
            stop.clone(),
            connections.clone(),
        );
        tokio::spawn(async move {
            loop {
                let (stream, _) = tokio::select! {
                    _ = s.cancelled() => return,
                    a = listener.accept() => match a { Ok(x) => x, Err(_) => continue },
                };
                n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let (r, b) = (r.clone(), b.clone());
                tokio::spawn(async move {
                    let _ = sink_session(stream, r, b).await;
                });
            }
        });
        Sink {
            addr,
            received,
            behaviour,
            connections,
            stop,
        }
    }

    pub fn messages(&self) -> Vec<Delivered> {
        self.received.lock().expect("lock").clone()
    }

    /// Waits until at least `n` messages arrived.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Delivered> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let m = self.messages();
            if m.len() >= n || tokio::time::Instant::now() > deadline {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn sink_session(
    stream: TcpStream,
    received: Arc<Mutex<Vec<Delivered>>>,
    behaviour: Arc<Mutex<SinkBehaviour>>,
) -> std::io::Result<()> {
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    wr.write_all(b"220 sink ESMTP\r\n").await?;
    let mut from = String::new();
    let mut rcpts = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if rd.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        let arg = |l: &str| {
            l.find('<')
                .and_then(|s| {
                    l[s + 1..]
                        .find('>')
                        .map(|e| l[s + 1..s + 1 + e].to_string())
                })
                .unwrap_or_default()
        };
        if upper.starts_with("EHLO") {
            wr.write_all(b"250-sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 PIPELINING\r\n")
                .await?;
        } else if upper.starts_with("MAIL") {
            from = arg(&line);
            rcpts.clear();
            wr.write_all(b"250 2.1.0 ok\r\n").await?;
        } else if upper.starts_with("RCPT") {
            let to = arg(&line);
            let b = behaviour.lock().expect("lock").clone();
            if b.defer_all || (b.defer_ratio > 0.0 && rand::random::<f64>() < b.defer_ratio) {
                wr.write_all(b"451 4.3.0 try later\r\n").await?;
            } else if b.reject_rcpts.contains(&to) {
                wr.write_all(b"550 5.1.1 no such user here\r\n").await?;
            } else {
                rcpts.push(to);
                wr.write_all(b"250 2.1.5 ok\r\n").await?;
            }
        } else if upper.starts_with("DATA") {
            wr.write_all(b"354 go\r\n").await?;
            let mut data = Vec::new();
            let mut buf = Vec::new();
            loop {
                buf.clear();
                if rd.read_until(b'\n', &mut buf).await? == 0 {
                    return Ok(());
                }
                if buf == b".\r\n" {
                    break;
                }
                if buf.starts_with(b".") {
                    data.extend_from_slice(&buf[1..]);
                } else {
                    data.extend_from_slice(&buf);
                }
            }
            received.lock().expect("lock").push(Delivered {
                mail_from: from.clone(),
                rcpts: rcpts.clone(),
                data,
            });
            wr.write_all(b"250 2.0.0 stored\r\n").await?;
            if behaviour.lock().expect("lock").close_after_message {
                return Ok(());
            }
        } else if upper.starts_with("QUIT") {
            wr.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            wr.write_all(b"250 ok\r\n").await?;
        }
    }
}
