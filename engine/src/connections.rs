//! Which transport the gateway's own requests use (UDP, TCP or TLS; issue #5), and the
//! sans-IO rewriting that makes a request built for UDP fit a stream connection: the
//! top `Via` gets the transport token and `;alias` (RFC 5923: the peer may reuse our
//! connection for requests toward us), a `Contact` without a transport gets one.
//!
//! The core only names the transport ([`crate::gateway::Gateway::transport_for`]); the
//! shell ([`crate::transport::SipTransport::send_on`]) owns the connections.

use bytes::Bytes;

/// The transport of one SIP hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SipTransportKind {
    /// Datagrams (the default).
    #[default]
    Udp,
    /// A TCP connection.
    Tcp,
    /// A TLS connection over TCP.
    Tls,
}

impl SipTransportKind {
    /// The `Via` token: `UDP`, `TCP` or `TLS`.
    pub fn token(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
            Self::Tls => "TLS",
        }
    }

    /// Whether it is a stream (TCP or TLS).
    pub fn is_stream(self) -> bool {
        self != Self::Udp
    }

    /// Parses `udp`, `tcp` or `tls` (any case).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "udp" => Some(Self::Udp),
            "tcp" => Some(Self::Tcp),
            "tls" => Some(Self::Tls),
            _ => None,
        }
    }

    /// The transport a SIP URI asks for: `sips:` means TLS, else its `;transport=`
    /// parameter; `None` when it says nothing.
    pub fn from_uri(uri: &str) -> Option<Self> {
        let uri = uri.trim().trim_start_matches('<');
        if uri.len() >= 5 && uri[..5].eq_ignore_ascii_case("sips:") {
            return Some(Self::Tls);
        }
        let uri = uri.split('>').next().unwrap_or(uri);
        uri.split(';').skip(1).find_map(|param| {
            let (name, value) = param.split_once('=')?;
            if name.trim().eq_ignore_ascii_case("transport") {
                Self::parse(value.split('?').next().unwrap_or(value))
            } else {
                None
            }
        })
    }
}

/// Rewrites a request built for UDP so it fits a stream connection of `kind`: the top
/// `Via` names the transport and carries `;alias`, and the `Contact` URI gets
/// `;transport=` when it has none. Responses, UDP and anything unparsable are returned
/// unchanged.
pub fn stamp_request(payload: &Bytes, kind: SipTransportKind) -> Bytes {
    if !kind.is_stream() || payload.starts_with(b"SIP/2.0") {
        return payload.clone();
    }
    let Ok(text) = std::str::from_utf8(payload) else {
        return payload.clone();
    };
    let Some(head_end) = text.find("\r\n\r\n") else {
        return payload.clone();
    };
    let (head, body) = text.split_at(head_end);
    let mut via_done = false;
    let mut contact_done = false;
    let lines: Vec<String> = head
        .split("\r\n")
        .map(|line| {
            let Some((name, value)) = line.split_once(':') else {
                return line.to_owned();
            };
            let name_l = name.trim().to_ascii_lowercase();
            if !via_done && (name_l == "via" || name_l == "v") {
                via_done = true;
                let value = value.trim_start();
                let Some(rest) = value.strip_prefix("SIP/2.0/UDP ") else {
                    return line.to_owned();
                };
                let mut new = format!("{name}: SIP/2.0/{} {rest}", kind.token());
                if !rest.to_ascii_lowercase().contains(";alias") {
                    new.push_str(";alias");
                }
                return new;
            }
            if !contact_done && (name_l == "contact" || name_l == "m") {
                contact_done = true;
                let lower = value.to_ascii_lowercase();
                if lower.contains("transport=") || lower.contains("sips:") {
                    return line.to_owned();
                }
                if let Some(close) = value.find('>') {
                    let token = kind.token().to_ascii_lowercase();
                    return format!(
                        "{name}:{};transport={token}{}",
                        &value[..close],
                        &value[close..]
                    );
                }
            }
            line.to_owned()
        })
        .collect();
    let mut out = lines.join("\r\n");
    out.push_str(body);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_transport() {
        use SipTransportKind::*;
        assert_eq!(SipTransportKind::from_uri("sips:a@b"), Some(Tls));
        assert_eq!(
            SipTransportKind::from_uri("sip:a@b:5060;transport=TCP"),
            Some(Tcp)
        );
        assert_eq!(
            SipTransportKind::from_uri("<sip:a@b;lr;transport=tls>"),
            Some(Tls)
        );
        assert_eq!(
            SipTransportKind::from_uri("sip:a@b;transport=udp"),
            Some(Udp)
        );
        assert_eq!(SipTransportKind::from_uri("sip:a@b"), None);
        assert_eq!(SipTransportKind::from_uri("sip:a@b;transport=sctp"), None);
    }

    #[test]
    fn stamps_via_and_contact_of_requests_only() {
        let req = Bytes::from_static(
            b"REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport\r\n\
Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK2\r\nContact: <sip:u@10.0.0.1:5060>\r\n\
Content-Length: 0\r\n\r\n",
        );
        let out = stamp_request(&req, SipTransportKind::Tls);
        let text = std::str::from_utf8(&out).unwrap_or_default();
        assert!(text.contains("Via: SIP/2.0/TLS 10.0.0.1:5060;branch=z9hG4bK1;rport;alias\r\n"));
        assert!(text.contains("Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK2\r\n"));
        assert!(text.contains("Contact: <sip:u@10.0.0.1:5060;transport=tls>\r\n"));
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"));
        assert_eq!(stamp_request(&req, SipTransportKind::Udp), req);
        let resp = Bytes::from_static(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a\r\n\r\n");
        assert_eq!(stamp_request(&resp, SipTransportKind::Tcp), resp);
    }
}
