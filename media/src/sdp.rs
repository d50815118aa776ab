//! Codec choice for SDP offer/answer (RFC 3264) in the configured preference order
//! (F-6.5.13), as pure functions over what the offer lists. Parsing the SDP text is the
//! engine's job; it passes the payload types and rtpmap names here.

use crate::codec::Codec;

/// One payload format of an offered `m=audio` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedFormat {
    /// Payload type as listed on the m-line.
    pub payload_type: u8,
    /// Encoding name from `a=rtpmap`, if there is one (static types may omit it).
    pub encoding: Option<String>,
    /// Clock rate from `a=rtpmap`, if given.
    pub clock_rate: Option<u32>,
}

impl OfferedFormat {
    /// A format with only a (static) payload type.
    pub fn static_pt(payload_type: u8) -> Self {
        OfferedFormat {
            payload_type,
            encoding: None,
            clock_rate: None,
        }
    }

    /// A format with an rtpmap.
    pub fn mapped(payload_type: u8, encoding: &str, clock_rate: u32) -> Self {
        OfferedFormat {
            payload_type,
            encoding: Some(encoding.to_string()),
            clock_rate: Some(clock_rate),
        }
    }

    fn codec(&self) -> Option<Codec> {
        if self.clock_rate.is_some_and(|r| r != 8_000) {
            return None;
        }
        match &self.encoding {
            Some(name) => Codec::from_rtpmap_name(name),
            None => Codec::from_static_payload_type(self.payload_type),
        }
    }

    fn is_named(&self, name: &str) -> bool {
        self.encoding
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(name))
            && self.clock_rate.unwrap_or(8_000) == 8_000
    }
}

/// What the gateway takes from an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The chosen voice codec.
    pub codec: Codec,
    /// The payload type the offerer uses for it.
    pub payload_type: u8,
    /// `telephone-event/8000` payload type, if offered (RFC 4733 DTMF).
    pub telephone_event: Option<u8>,
    /// Comfort noise (`CN/8000`, RFC 3389) payload type, if offered.
    pub comfort_noise: Option<u8>,
}

/// Picks the voice codec: the first codec of `preference` (the gateway's configured
/// order, F-6.5.13) that the offer lists. `None` when nothing matches (488).
pub fn choose(offered: &[OfferedFormat], preference: &[Codec]) -> Option<Negotiated> {
    let (codec, payload_type) = preference.iter().find_map(|&want| {
        offered
            .iter()
            .find(|f| f.codec() == Some(want))
            .map(|f| (want, f.payload_type))
    })?;
    let telephone_event = offered
        .iter()
        .find(|f| f.is_named("telephone-event"))
        .map(|f| f.payload_type);
    let comfort_noise = offered
        .iter()
        .find(|f| f.is_named("CN") || (f.encoding.is_none() && f.payload_type == 13))
        .map(|f| f.payload_type);
    Some(Negotiated {
        codec,
        payload_type,
        telephone_event,
        comfort_noise,
    })
}

/// The payload types and attribute lines of our own offer, in preference order:
/// `(fmt list for the m-line, a= lines)`. DTMF uses `telephone_event_pt` (usually 101).
pub fn offer_formats(
    preference: &[Codec],
    telephone_event_pt: Option<u8>,
    ptime_ms: u32,
) -> (Vec<u8>, Vec<String>) {
    let mut fmts = Vec::new();
    let mut attrs = Vec::new();
    for codec in preference {
        fmts.push(codec.payload_type());
        attrs.push(format!(
            "a=rtpmap:{} {}/{}",
            codec.payload_type(),
            codec.rtpmap_name(),
            codec.clock_rate()
        ));
        if *codec == Codec::G729 {
            // Our silence suppression is codec-independent; no Annex B frames are sent.
            attrs.push(format!("a=fmtp:{} annexb=no", codec.payload_type()));
        }
    }
    if let Some(pt) = telephone_event_pt {
        fmts.push(pt);
        attrs.push(format!("a=rtpmap:{pt} telephone-event/8000"));
        attrs.push(format!("a=fmtp:{pt} 0-15"));
    }
    attrs.push(format!("a=ptime:{ptime_ms}"));
    (fmts, attrs)
}

/// The packetisation period to use: the configured one, raised to the codec minimum and
/// rounded to a whole number of 10 ms (F-6.5.2).
pub fn effective_ptime_ms(configured: u32, codec: Codec) -> u32 {
    let p = configured.max(codec.min_ptime_ms());
    (p / 10 * 10).clamp(10, 120)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preference_order_wins_over_offer_order() {
        let offer = [
            OfferedFormat::static_pt(0),
            OfferedFormat::static_pt(8),
            OfferedFormat::mapped(18, "G729", 8_000),
            OfferedFormat::mapped(101, "telephone-event", 8_000),
        ];
        let n = choose(&offer, &[Codec::G729, Codec::Pcma]).unwrap_or_else(|| panic!("none"));
        assert_eq!(n.codec, Codec::G729);
        assert_eq!(n.payload_type, 18);
        assert_eq!(n.telephone_event, Some(101));
        assert_eq!(n.comfort_noise, None);
        let n = choose(&offer, &[Codec::Pcma, Codec::Pcmu]).unwrap_or_else(|| panic!("none"));
        assert_eq!(n.codec, Codec::Pcma);
    }

    #[test]
    fn dynamic_payload_types_by_name_and_rate() {
        let offer = [
            OfferedFormat::mapped(96, "opus", 48_000),
            OfferedFormat::mapped(97, "pcmu", 8_000),
            OfferedFormat::mapped(100, "telephone-event", 48_000),
            OfferedFormat::mapped(13, "CN", 8_000),
        ];
        let n = choose(&offer, &Codec::ALL).unwrap_or_else(|| panic!("none"));
        assert_eq!((n.codec, n.payload_type), (Codec::Pcmu, 97));
        assert_eq!(n.telephone_event, None);
        assert_eq!(n.comfort_noise, Some(13));
        assert_eq!(choose(&offer[..1], &Codec::ALL), None);
        assert_eq!(choose(&offer, &[]), None);
    }

    #[test]
    fn offer_lines_and_ptime() {
        let (fmts, attrs) = offer_formats(&[Codec::Pcma, Codec::G729], Some(101), 20);
        assert_eq!(fmts, vec![8, 18, 101]);
        assert!(attrs.contains(&"a=fmtp:18 annexb=no".to_string()));
        assert_eq!(attrs.last().map(String::as_str), Some("a=ptime:20"));
        assert_eq!(effective_ptime_ms(5, Codec::Pcmu), 10);
        assert_eq!(effective_ptime_ms(25, Codec::G729), 20);
        assert_eq!(effective_ptime_ms(1_000, Codec::Pcma), 120);
    }
}
