//! The TCP listener, with one addition: errors the HTTP parser answers on
//! its own, before any handler sees the request (a request line longer than
//! 64 KiB: 414; a head too large to buffer: 431), get the JSON error shape
//! of SPEC §10 like every other error, instead of an empty body.
//!
//! The parser writes such a reply as the only response of a connection it
//! then closes; the connection's writer recognises it by its status line
//! and sends the shaped reply in its place. The application itself never
//! answers 414 or 431, so no reply of its own is touched.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A TCP listener whose connections shape the parser's own error replies.
pub struct ShapedListener(pub TcpListener);

impl axum::serve::Listener for ShapedListener {
    type Io = ShapedIo<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = axum::serve::Listener::accept(&mut self.0).await;
        (ShapedIo::new(io), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// The reply sent for a parser error, in the error shape.
fn shaped_reply(status: u16) -> Option<Vec<u8>> {
    let (reason, code, message) = match status {
        414 => (
            "URI Too Long",
            "uri_too_long",
            "the request line is longer than 64 KiB; send long input in a request body",
        ),
        431 => (
            "Request Header Fields Too Large",
            "headers_too_large",
            "the request headers are too large",
        ),
        _ => return None,
    };
    let body = serde_json::to_string(&storecheck_shared::ErrorBody {
        error: storecheck_shared::ErrorInfo {
            code: code.to_owned(),
            message: message.to_owned(),
            details: Vec::new(),
        },
    })
    .ok()?;
    Some(
        format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

/// The status of a parser error reply starting this write, if it is one.
fn parser_error_status(buf: &[u8]) -> Option<u16> {
    for (prefix, status) in [(&b"HTTP/1.1 414 "[..], 414), (&b"HTTP/1.1 431 "[..], 431)] {
        if buf.starts_with(prefix) {
            return Some(status);
        }
    }
    None
}

pub struct ShapedIo<T> {
    inner: T,
    /// A shaped reply being written, and how much of it is out.
    replacing: Option<(Vec<u8>, usize)>,
    /// The shaped reply is out: what the parser still writes is dropped.
    replaced: bool,
}

impl<T> ShapedIo<T> {
    pub fn new(inner: T) -> Self {
        ShapedIo {
            inner,
            replacing: None,
            replaced: false,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ShapedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ShapedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replaced {
            return Poll::Ready(Ok(buf.len()));
        }
        if this.replacing.is_none() {
            match parser_error_status(buf).and_then(shaped_reply) {
                Some(reply) => this.replacing = Some((reply, 0)),
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        while let Some((reply, sent)) = this.replacing.as_mut() {
            if *sent == reply.len() {
                this.replacing = None;
                this.replaced = true;
                break;
            }
            match Pin::new(&mut this.inner).poll_write(cx, &reply[*sent..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *sent += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    // Writes stay whole buffers, so a reply's status line starts a write.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_parser_errors_are_recognised() {
        assert_eq!(
            parser_error_status(b"HTTP/1.1 414 URI Too Long\r\n"),
            Some(414)
        );
        assert_eq!(parser_error_status(b"HTTP/1.1 431 x\r\n"), Some(431));
        assert_eq!(parser_error_status(b"HTTP/1.1 400 Bad Request\r\n"), None);
        assert_eq!(parser_error_status(b"{\"HTTP/1.1 414 \"}"), None);
        let reply = String::from_utf8(shaped_reply(414).expect("reply")).expect("utf8");
        let (head, body) = reply.split_once("\r\n\r\n").expect("head and body");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(v["error"]["code"], "uri_too_long");
    }
}
