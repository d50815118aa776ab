//! SDP offer/answer (RFC 3264) for the audio stream of a gateway call.
//!
//! Offers are parsed with ezk-sdp-types. The answer is printed here: it is a fixed,
//! five-line shape that is simpler to write than to assemble from the crate's structs.

use std::net::IpAddr;

use bytesstr::BytesStr;
use ezk_sdp_types::SessionDescription;
use thiserror::Error;

/// Codecs the gateway can answer with: the media plane's codec (PCMU, PCMA, G.729).
pub use cellgate_media::codec::Codec as AudioCodec;
use cellgate_media::sdp::{choose, offer_formats, OfferedFormat};

/// The default codec preference (F-6.5.13): G.711 µ-law, A-law, then G.729.
pub const DEFAULT_PREFERENCE: [AudioCodec; 3] =
    [AudioCodec::Pcmu, AudioCodec::Pcma, AudioCodec::G729];

/// What the gateway takes from an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedOffer {
    /// Chosen codec.
    pub codec: AudioCodec,
    /// The payload type the offerer uses for it.
    pub payload_type: u8,
    /// Payload type for `telephone-event` if offered (RFC 4733 DTMF).
    pub telephone_event: Option<u8>,
    /// Where the offerer wants RTP.
    pub remote_rtp: Option<(IpAddr, u16)>,
}

/// Why an offer cannot be answered (maps to 488 Not Acceptable Here).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OfferError {
    /// Not valid SDP.
    #[error("SDP offer does not parse: {0}")]
    Malformed(String),
    /// No audio stream.
    #[error("SDP offer has no audio stream")]
    NoAudio,
    /// Audio offered, but none of our codecs.
    #[error("SDP offer has no codec in common (PCMU/PCMA/G729)")]
    NoCommonCodec,
}

/// Picks the first offered codec we support, in the default preference order.
pub fn accept_offer(body: &[u8]) -> Result<AcceptedOffer, OfferError> {
    accept_offer_with(body, &DEFAULT_PREFERENCE)
}

/// Picks the codec of `preference` (the configured order, F-6.5.13) that comes first
/// and is offered; also used on an answer (which lists the one codec chosen).
pub fn accept_offer_with(
    body: &[u8],
    preference: &[AudioCodec],
) -> Result<AcceptedOffer, OfferError> {
    let text = std::str::from_utf8(body).map_err(|_| OfferError::Malformed("not UTF-8".into()))?;
    let sdp = SessionDescription::parse(&BytesStr::from(text))
        .map_err(|e| OfferError::Malformed(e.to_string()))?;
    let audio = sdp
        .media_descriptions
        .iter()
        .find(|m| m.media.media_type.to_string() == "audio" && m.media.port != 0)
        .ok_or(OfferError::NoAudio)?;
    let formats: Vec<OfferedFormat> = audio
        .media
        .fmts
        .iter()
        .map(|&pt| match audio.rtpmap.iter().find(|r| r.payload == pt) {
            Some(r) => OfferedFormat::mapped(pt, r.encoding.as_str(), r.clock_rate),
            None => OfferedFormat::static_pt(pt),
        })
        .collect();
    let chosen = choose(&formats, preference).ok_or(OfferError::NoCommonCodec)?;
    let (codec, payload_type) = (chosen.codec, chosen.payload_type);
    let telephone_event = audio
        .rtpmap
        .iter()
        .find(|r| r.encoding.eq_ignore_ascii_case("telephone-event") && r.clock_rate == 8000)
        .map(|r| r.payload);
    let connection = audio.connection.as_ref().or(sdp.connection.as_ref());
    let remote_rtp = connection
        .and_then(|c| {
            c.address
                .to_string()
                .rsplit(' ')
                .next()?
                .parse::<IpAddr>()
                .ok()
        })
        .map(|ip| (ip, audio.media.port));
    Ok(AcceptedOffer {
        codec,
        payload_type,
        telephone_event,
        remote_rtp,
    })
}

/// Prints the answer for an accepted offer.
pub fn answer(offer: &AcceptedOffer, local_ip: IpAddr, rtp_port: u16, session_id: u32) -> String {
    let family = if local_ip.is_ipv4() { "IP4" } else { "IP6" };
    let pt = offer.payload_type;
    let mut fmts = pt.to_string();
    let mut attrs = format!("a=rtpmap:{pt} {}/8000\r\n", offer.codec.rtpmap_name());
    if offer.codec == AudioCodec::G729 {
        attrs.push_str(&format!("a=fmtp:{pt} annexb=no\r\n"));
    }
    if let Some(te) = offer.telephone_event {
        fmts.push_str(&format!(" {te}"));
        attrs.push_str(&format!(
            "a=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} 0-15\r\n"
        ));
    }
    format!(
        "v=0\r\no=cellgate {session_id} {session_id} IN {family} {local_ip}\r\ns=cellgate\r\n\
c=IN {family} {local_ip}\r\nt=0 0\r\nm=audio {rtp_port} RTP/AVP {fmts}\r\n{attrs}a=ptime:20\r\na=sendrecv\r\n"
    )
}

/// The direction attribute of the audio stream in an SDP body (`sendrecv` if absent).
pub fn direction(body: &[u8]) -> &'static str {
    let text = String::from_utf8_lossy(body);
    for line in text.lines() {
        match line.trim() {
            "a=sendonly" => return "sendonly",
            "a=recvonly" => return "recvonly",
            "a=inactive" => return "inactive",
            _ => {}
        }
    }
    "sendrecv"
}

/// The answering direction for an offered one (RFC 3264 §6.1): hold offers
/// (`sendonly`) are answered `recvonly`, and so on.
pub fn answer_direction(offered: &str) -> &'static str {
    match offered {
        "sendonly" => "recvonly",
        "recvonly" => "sendonly",
        "inactive" => "inactive",
        _ => "sendrecv",
    }
}

/// An answer with an explicit direction and SDP version (re-INVITE answers).
pub fn answer_with_direction(
    offer: &AcceptedOffer,
    local_ip: IpAddr,
    rtp_port: u16,
    session_id: u32,
    version: u32,
    direction: &str,
) -> String {
    answer(offer, local_ip, rtp_port, session_id)
        .replacen(
            &format!("o=cellgate {session_id} {session_id}"),
            &format!("o=cellgate {session_id} {version}"),
            1,
        )
        .replace("a=sendrecv", &format!("a={direction}"))
}

/// The gateway's offer for a GSM -> SIP call: the codecs of `preference` in order and
/// telephone-event 101.
pub fn offer(
    local_ip: IpAddr,
    rtp_port: u16,
    session_id: u32,
    preference: &[AudioCodec],
) -> String {
    let family = if local_ip.is_ipv4() { "IP4" } else { "IP6" };
    let (fmts, attrs) = offer_formats(preference, Some(101), 20);
    let fmts: Vec<String> = fmts.iter().map(u8::to_string).collect();
    let mut text = format!(
        "v=0\r\no=cellgate {session_id} {session_id} IN {family} {local_ip}\r\ns=cellgate\r\n\
c=IN {family} {local_ip}\r\nt=0 0\r\nm=audio {rtp_port} RTP/AVP {}\r\n",
        fmts.join(" ")
    );
    for a in attrs {
        text.push_str(&a);
        text.push_str("\r\n");
    }
    text.push_str("a=sendrecv\r\n");
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn hold_offers_get_the_inverse_direction_and_our_offer_parses() {
        assert_eq!(
            answer_direction(direction(b"v=0\r\na=sendonly\r\n")),
            "recvonly"
        );
        assert_eq!(answer_direction(direction(b"v=0\r\n")), "sendrecv");
        assert_eq!(answer_direction("inactive"), "inactive");
        let o = offer("127.0.0.1".parse().unwrap(), 16384, 5, &DEFAULT_PREFERENCE);
        let accepted = accept_offer(o.as_bytes()).unwrap();
        assert_eq!(accepted.codec, AudioCodec::Pcmu);
        let a = answer_with_direction(
            &accepted,
            "127.0.0.1".parse().unwrap(),
            16384,
            5,
            6,
            "recvonly",
        );
        assert!(
            a.contains("o=cellgate 5 6 ") && a.contains("a=recvonly") && !a.contains("sendrecv"),
            "{a}"
        );
    }

    use super::*;

    const OFFER: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n\
c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 18 8 0 101\r\n\
a=rtpmap:18 G729/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";

    #[test]
    fn picks_the_preferred_codec_among_those_offered() {
        let accepted = accept_offer(OFFER.as_bytes()).unwrap();
        assert_eq!(accepted.codec, AudioCodec::Pcmu);
        let g729 = accept_offer_with(OFFER.as_bytes(), &[AudioCodec::G729]).unwrap();
        assert_eq!((g729.codec, g729.payload_type), (AudioCodec::G729, 18));
        let a = answer(&g729, "127.0.0.1".parse().unwrap(), 16386, 1);
        assert!(
            a.contains("RTP/AVP 18 101") && a.contains("a=fmtp:18 annexb=no"),
            "{a}"
        );
        let accepted = accept_offer_with(OFFER.as_bytes(), &[AudioCodec::Pcma]).unwrap();
        assert_eq!(accepted.codec, AudioCodec::Pcma);
        assert_eq!(accepted.telephone_event, Some(101));
        assert_eq!(
            accepted.remote_rtp,
            Some(("127.0.0.1".parse().unwrap(), 6000))
        );
    }

    #[test]
    fn answer_is_valid_sdp_with_the_chosen_codec() {
        let accepted = accept_offer(OFFER.as_bytes()).unwrap();
        let text = answer(&accepted, "127.0.0.1".parse().unwrap(), 16384, 42);
        let parsed = SessionDescription::parse(&BytesStr::from(text.as_str())).unwrap();
        let m = &parsed.media_descriptions[0];
        assert_eq!(m.media.port, 16384);
        assert_eq!(m.media.fmts, vec![0, 101]);
    }

    #[test]
    fn rejects_offers_without_common_codec_or_audio() {
        let g723_only = OFFER.replace("RTP/AVP 18 8 0 101", "RTP/AVP 4");
        assert_eq!(
            accept_offer(g723_only.as_bytes()),
            Err(OfferError::NoCommonCodec)
        );
        assert!(matches!(
            accept_offer(b"nonsense"),
            Err(OfferError::Malformed(_))
        ));
    }
}
