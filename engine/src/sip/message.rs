//! SIP messages as the engine sees them: parsed from one datagram, printed back to bytes.
//!
//! Parsing and printing of start lines, headers and URIs is ezk-sip-types' job (see
//! `docs/decisions/0001-sip-stack.md`); this module frames a datagram into a request or a
//! response, checks the headers every message must carry, and reports a clear error
//! instead of panicking on anything malformed.

use std::fmt::Write as _;

use bytes::{Bytes, BytesMut};
use bytesstr::BytesStr;
use ezk_sip_types::header::typed::{CSeq, CallID, ContentLength, FromTo, Via};
use ezk_sip_types::msg::{Line, MessageLine, PullParser};
use ezk_sip_types::parse::Parse;
use ezk_sip_types::print::{AppendCtx, PrintCtx};
use ezk_sip_types::uri::{SipUri, SipUriUserPart};
use ezk_sip_types::{Headers, Method, Name, StatusCode};
use thiserror::Error;

/// Largest datagram the engine accepts; anything bigger is not a sane SIP message over UDP.
pub const MAX_DATAGRAM: usize = 65_507;

/// Why a datagram is not a usable SIP message. The text names what and where.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MessageError {
    /// Bigger than [`MAX_DATAGRAM`].
    #[error("message of {0} bytes exceeds the {MAX_DATAGRAM}-byte limit")]
    Oversized(usize),
    /// No blank line ends the header section.
    #[error("message head is incomplete (no empty line after the headers)")]
    Incomplete,
    /// A header line is not UTF-8.
    #[error("line {line} is not valid UTF-8")]
    NotUtf8 {
        /// 1-based line number.
        line: usize,
    },
    /// The first line is neither a request line nor a status line.
    #[error("invalid start line: {0:?}")]
    StartLine(String),
    /// A header line has no `name: value` form.
    #[error("malformed header on line {line}: {text:?}")]
    HeaderLine {
        /// 1-based line number.
        line: usize,
        /// The offending text (truncated).
        text: String,
    },
    /// A header every SIP message must carry is absent or unparsable.
    #[error("missing or malformed {0} header")]
    MissingHeader(&'static str),
    /// Content-Length promises more body than the datagram holds.
    #[error("Content-Length {declared} exceeds the {available} body bytes received")]
    TruncatedBody {
        /// Declared length.
        declared: usize,
        /// Bytes actually present.
        available: usize,
    },
}

/// A parsed SIP request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Request method.
    pub method: Method,
    /// Request-URI.
    pub uri: SipUri,
    /// All headers, raw values kept for faithful copying into responses.
    pub headers: Headers,
    /// Message body.
    pub body: Bytes,
}

/// A parsed SIP response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub code: StatusCode,
    /// Reason phrase.
    pub reason: Option<BytesStr>,
    /// All headers.
    pub headers: Headers,
    /// Message body.
    pub body: Bytes,
}

/// Either kind of SIP message.
#[derive(Debug, Clone)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

/// The headers that identify a message's transaction and dialog, decoded once.
#[derive(Debug, Clone)]
pub struct CoreHeaders {
    /// Top Via (the sender of this hop).
    pub via: Via,
    /// From header.
    pub from: FromTo,
    /// To header.
    pub to: FromTo,
    /// Call-ID.
    pub call_id: CallID,
    /// CSeq.
    pub cseq: CSeq,
}

impl CoreHeaders {
    /// Decodes the core headers, naming the first one that is missing or broken.
    pub fn decode(headers: &Headers) -> Result<Self, MessageError> {
        let via = headers
            .get_named::<Vec<Via>>()
            .ok()
            .and_then(|v| v.into_iter().next())
            .ok_or(MessageError::MissingHeader("Via"))?;
        let from = headers
            .get::<FromTo>(Name::FROM)
            .map_err(|_| MessageError::MissingHeader("From"))?;
        let to = headers
            .get::<FromTo>(Name::TO)
            .map_err(|_| MessageError::MissingHeader("To"))?;
        let call_id = headers
            .get_named::<CallID>()
            .map_err(|_| MessageError::MissingHeader("Call-ID"))?;
        let cseq = headers
            .get_named::<CSeq>()
            .map_err(|_| MessageError::MissingHeader("CSeq"))?;
        Ok(Self {
            via,
            from,
            to,
            call_id,
            cseq,
        })
    }

    /// The top Via's branch parameter, the RFC 3261 transaction identifier.
    pub fn branch(&self) -> Option<&str> {
        self.via.params.get_val("branch").map(|b| b.as_str())
    }
}

impl Message {
    /// Parses one datagram. Keep-alive CRLFs are reported as [`MessageError::Incomplete`]
    /// by design: the caller drops them silently.
    pub fn parse(datagram: &[u8]) -> Result<Self, MessageError> {
        if datagram.len() > MAX_DATAGRAM {
            return Err(MessageError::Oversized(datagram.len()));
        }
        let buffer = Bytes::copy_from_slice(datagram);
        let mut parser = PullParser::new(&buffer, 0);
        let mut start: Option<MessageLine> = None;
        let mut headers = Headers::new();
        for (index, item) in (&mut parser).enumerate() {
            let line_no = index + 1;
            let raw = item.map_err(|_| MessageError::Incomplete)?;
            let text =
                std::str::from_utf8(raw).map_err(|_| MessageError::NotUtf8 { line: line_no })?;
            if start.is_none() {
                let parsed = MessageLine::parse(&buffer)(text)
                    .map_err(|_| MessageError::StartLine(truncate(text)))?;
                start = Some(parsed.1);
            } else {
                let (_, header) =
                    Line::parse(&buffer, text).map_err(|_| MessageError::HeaderLine {
                        line: line_no,
                        text: truncate(text),
                    })?;
                headers.insert(header.name, header.value);
            }
        }
        let start = start.ok_or(MessageError::Incomplete)?;
        let head_end = parser.head_end();
        let available = buffer.len().saturating_sub(head_end);
        let body = match headers.get_named::<ContentLength>() {
            Ok(ContentLength(declared)) if declared > available => {
                return Err(MessageError::TruncatedBody {
                    declared,
                    available,
                })
            }
            Ok(ContentLength(declared)) => buffer.slice(head_end..head_end + declared),
            Err(_) => buffer.slice(head_end.min(buffer.len())..),
        };
        Ok(match start {
            MessageLine::Request(line) => Message::Request(Request {
                method: line.method,
                uri: line.uri,
                headers,
                body,
            }),
            MessageLine::Response(line) => Message::Response(Response {
                code: line.code,
                reason: line.reason,
                headers,
                body,
            }),
        })
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(80).collect()
}

impl Request {
    /// A new request with no headers.
    pub fn new(method: Method, uri: SipUri) -> Self {
        Self {
            method,
            uri,
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    /// The user part of the Request-URI: for an INVITE to the gateway, the number to dial.
    pub fn uri_user(&self) -> Option<&str> {
        match &self.uri.user_part {
            SipUriUserPart::User(user) => Some(user.as_str()),
            SipUriUserPart::UserPw(pw) => Some(pw.user.as_str()),
            SipUriUserPart::Empty => None,
        }
    }

    /// Prints the request with a correct Content-Length.
    pub fn to_bytes(&self) -> Bytes {
        let mut headers = self.headers.clone();
        headers.insert(Name::CONTENT_LENGTH, self.body.len().to_string());
        let ctx = PrintCtx {
            method: Some(&self.method),
            uri: None,
        };
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = write!(
            out,
            "{} {} SIP/2.0\r\n{}\r\n",
            self.method,
            self.uri.print_ctx(ctx),
            headers
        );
        join(out, &self.body)
    }
}

impl Response {
    /// Starts a response to `request`: copies Via, From, To, Call-ID and CSeq verbatim
    /// (RFC 3261 §8.2.6.2), adding `to_tag` to To when the request's To has none.
    pub fn to_request(request: &Request, code: StatusCode, to_tag: Option<&str>) -> Self {
        let mut headers = Headers::with_capacity(8);
        for name in [Name::VIA, Name::FROM, Name::TO, Name::CALL_ID, Name::CSEQ] {
            let _ = request.headers.clone_into(&mut headers, name);
        }
        if let Some(tag) = to_tag {
            if let Ok(mut to) = request.headers.get::<FromTo>(Name::TO) {
                if to.tag.is_none() {
                    to.tag = Some(BytesStr::from(tag));
                    headers.remove(&Name::TO);
                    headers.insert_type(Name::TO, &to);
                }
            }
        }
        Self {
            code,
            reason: code.text().map(BytesStr::from_static),
            headers,
            body: Bytes::new(),
        }
    }

    /// Prints the response with a correct Content-Length.
    pub fn to_bytes(&self) -> Bytes {
        let mut headers = self.headers.clone();
        headers.insert(Name::CONTENT_LENGTH, self.body.len().to_string());
        let reason = self.reason.as_ref().map(|r| r.as_str()).unwrap_or("");
        let mut out = String::new();
        let _ = write!(
            out,
            "SIP/2.0 {} {}\r\n{}\r\n",
            self.code.into_u16(),
            reason,
            headers
        );
        join(out, &self.body)
    }
}

fn join(head: String, body: &Bytes) -> Bytes {
    let mut buf = BytesMut::with_capacity(head.len() + body.len());
    buf.extend_from_slice(head.as_bytes());
    buf.extend_from_slice(body);
    buf.freeze()
}

/// Types of the message layer's dependencies that callers outside the engine (benches,
/// fuzz targets) need to build messages, without depending on the crates themselves.
pub mod re_export {
    pub use bytes;
    pub use ezk_sip_types::{Name, StatusCode};
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:5551234@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1-0\r\n\
From: sipp <sip:sipp@127.0.0.1:5070>;tag=abc\r\n\
To: <sip:5551234@127.0.0.1:5060>\r\n\
Call-ID: 1-42@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:sipp@127.0.0.1:5070>\r\n\
Max-Forwards: 70\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\r\nv=0\n";

    #[test]
    fn parses_an_invite_and_its_core_headers() {
        let Message::Request(req) = Message::parse(INVITE.as_bytes()).unwrap() else {
            panic!("not a request")
        };
        assert_eq!(req.method, Method::INVITE);
        assert_eq!(req.uri_user(), Some("5551234"));
        assert_eq!(&req.body[..], b"v=0\n");
        let core = CoreHeaders::decode(&req.headers).unwrap();
        assert_eq!(core.branch(), Some("z9hG4bK-1-0"));
        assert_eq!(core.cseq.cseq, 1);
        assert_eq!(core.from.tag.as_deref(), Some("abc"));
        assert!(core.to.tag.is_none());
    }

    #[test]
    fn response_copies_dialog_headers_and_adds_to_tag() {
        let Message::Request(req) = Message::parse(INVITE.as_bytes()).unwrap() else {
            panic!("not a request")
        };
        let resp = Response::to_request(&req, StatusCode::RINGING, Some("gw1"));
        let text = String::from_utf8(resp.to_bytes().to_vec()).unwrap();
        assert!(text.starts_with("SIP/2.0 180 Ringing\r\n"), "{text}");
        assert!(text.contains("branch=z9hG4bK-1-0"));
        assert!(text.contains("tag=gw1"), "{text}");
        assert!(text.contains("Call-ID: 1-42@127.0.0.1"));
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"), "{text}");
        // And it parses back.
        let Message::Response(back) = Message::parse(text.as_bytes()).unwrap() else {
            panic!("not a response")
        };
        assert_eq!(back.code, StatusCode::RINGING);
        assert_eq!(
            CoreHeaders::decode(&back.headers)
                .unwrap()
                .to
                .tag
                .as_deref(),
            Some("gw1")
        );
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let cases: &[&[u8]] = &[
            b"",
            b"\r\n\r\n",
            b"garbage",
            b"INVITE\r\n\r\n",
            b"INVITE sip:1@x SIP/2.0\r\nVia\r\n\r\n",
            b"\xff\xfe\x00\x01\r\n\r\n",
            b"SIP/2.0 abc OK\r\n\r\n",
        ];
        for case in cases {
            assert!(Message::parse(case).is_err(), "{case:?} parsed");
        }
    }

    #[test]
    fn truncated_body_is_reported_with_both_lengths() {
        let text = INVITE.replace("Content-Length: 4", "Content-Length: 400");
        assert_eq!(
            Message::parse(text.as_bytes()).unwrap_err(),
            MessageError::TruncatedBody {
                declared: 400,
                available: 4
            }
        );
    }

    #[test]
    fn missing_call_id_is_named() {
        let text = INVITE.replace("Call-ID: 1-42@127.0.0.1\r\n", "");
        let Message::Request(req) = Message::parse(text.as_bytes()).unwrap() else {
            panic!("not a request")
        };
        assert_eq!(
            CoreHeaders::decode(&req.headers).unwrap_err(),
            MessageError::MissingHeader("Call-ID")
        );
    }
}
