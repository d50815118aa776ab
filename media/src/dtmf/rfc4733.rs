//! RFC 4733 telephone-event payloads: a sender that produces the start / continuation /
//! end packets (three end retransmissions, RFC 4733 §2.5.1.4) and a receiver that turns
//! a stream of such packets into one start and one end per key press.

use super::Digit;

/// Bytes of one event payload.
pub const PAYLOAD_LEN: usize = 4;
/// Default volume: -10 dBm0 (RFC 4733 §2.3.4 gives the field as -dBm0).
pub const DEFAULT_VOLUME: u8 = 10;
/// How many times the final (E bit) packet is sent.
const END_REPEATS: u8 = 3;

/// One decoded event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPayload {
    /// Event code (0-15 are DTMF; others are tones we ignore).
    pub event: u8,
    /// End bit.
    pub end: bool,
    /// Volume in -dBm0.
    pub volume: u8,
    /// Duration so far, in timestamp units.
    pub duration: u16,
}

impl EventPayload {
    /// Parses the first event of a payload (RFC 4733 §2.3).
    pub fn parse(payload: &[u8]) -> Option<EventPayload> {
        let b = payload.get(..PAYLOAD_LEN)?;
        Some(EventPayload {
            event: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3F,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }

    /// The 4 payload bytes.
    pub fn to_bytes(self) -> [u8; PAYLOAD_LEN] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            (u8::from(self.end) << 7) | (self.volume & 0x3F),
            d[0],
            d[1],
        ]
    }
}

/// One packet the sender wants sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    /// Marker bit (first packet of the event).
    pub marker: bool,
    /// RTP timestamp: the event's start, the same for all its packets.
    pub timestamp: u32,
    /// The payload.
    pub payload: [u8; PAYLOAD_LEN],
    /// True for the end packets.
    pub end: bool,
}

/// Sends one key press as RFC 4733 packets, one per packetisation period.
#[derive(Debug, Clone)]
pub struct EventSender {
    digit: Digit,
    timestamp: u32,
    total: u16,
    sent: u16,
    step: u16,
    ends_sent: u8,
    volume: u8,
}

impl EventSender {
    /// A press of `digit` lasting `duration_ms`, starting at RTP `timestamp`, with one
    /// packet per `step_samples` (160 for 20 ms).
    pub fn new(digit: Digit, duration_ms: u32, timestamp: u32, step_samples: u16) -> Self {
        let total = (duration_ms.saturating_mul(8)).clamp(u32::from(step_samples.max(1)), 0xFFFF);
        EventSender {
            digit,
            timestamp,
            total: total as u16,
            sent: 0,
            step: step_samples.max(1),
            ends_sent: 0,
            volume: DEFAULT_VOLUME,
        }
    }

    /// The digit.
    pub fn digit(&self) -> Digit {
        self.digit
    }

    /// True once all end packets are out.
    pub fn finished(&self) -> bool {
        self.ends_sent >= END_REPEATS
    }

    /// The packet for the next period, or `None` when finished.
    pub fn next_packet(&mut self) -> Option<EventPacket> {
        if self.finished() {
            return None;
        }
        let marker = self.sent == 0;
        self.sent = self.sent.saturating_add(self.step).min(self.total);
        let end = self.sent >= self.total;
        if end {
            self.ends_sent += 1;
        }
        Some(EventPacket {
            marker,
            timestamp: self.timestamp,
            payload: EventPayload {
                event: self.digit.event(),
                end,
                volume: self.volume,
                duration: self.sent,
            }
            .to_bytes(),
            end,
        })
    }
}

/// A key press seen by the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceivedEvent {
    /// The first packet of a press.
    Started(Digit),
    /// The press ended, with its duration in ms.
    Ended(Digit, u32),
}

/// Turns received telephone-event packets into one start and one end per press,
/// ignoring retransmissions (same RTP timestamp).
#[derive(Debug, Clone, Default)]
pub struct EventReceiver {
    current: Option<(u32, Digit, u16)>,
    ended: Option<u32>,
}

impl EventReceiver {
    /// A receiver.
    pub fn new() -> Self {
        EventReceiver::default()
    }

    /// Feeds one packet; calls `emit` for every resulting event (at most two).
    pub fn on_packet(
        &mut self,
        timestamp: u32,
        payload: &[u8],
        mut emit: impl FnMut(ReceivedEvent),
    ) {
        let Some(p) = EventPayload::parse(payload) else {
            return;
        };
        let Some(digit) = Digit::from_event(p.event) else {
            return;
        };
        if self.ended == Some(timestamp) {
            return; // retransmitted end
        }
        match self.current {
            Some((ts, _, _)) if ts == timestamp => {}
            previous => {
                // A new press; close one whose end packets were all lost.
                if let Some((_, d, dur)) = previous {
                    emit(ReceivedEvent::Ended(d, u32::from(dur) / 8));
                }
                emit(ReceivedEvent::Started(digit));
            }
        }
        self.current = Some((timestamp, digit, p.duration));
        if p.end {
            emit(ReceivedEvent::Ended(digit, u32::from(p.duration) / 8));
            self.current = None;
            self.ended = Some(timestamp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digit(c: char) -> Digit {
        Digit::from_char(c).unwrap_or_else(|| panic!("{c}"))
    }

    #[test]
    fn payload_layout() {
        let p = EventPayload {
            event: 11,
            end: true,
            volume: 10,
            duration: 800,
        };
        assert_eq!(p.to_bytes(), [11, 0x8A, 0x03, 0x20]);
        assert_eq!(EventPayload::parse(&p.to_bytes()), Some(p));
        assert_eq!(EventPayload::parse(&[1, 2]), None);
    }

    #[test]
    fn sender_sequence() {
        let mut s = EventSender::new(digit('5'), 100, 1_000, 160);
        let packets: Vec<_> = std::iter::from_fn(|| s.next_packet()).collect();
        // 100 ms = 800 samples: 160, 320, 480, 640, 800(E) x3.
        assert_eq!(packets.len(), 7);
        assert!(packets[0].marker && !packets[1].marker);
        assert!(packets.iter().all(|p| p.timestamp == 1_000));
        let durs: Vec<u16> = packets
            .iter()
            .filter_map(|p| EventPayload::parse(&p.payload).map(|e| e.duration))
            .collect();
        assert_eq!(durs, vec![160, 320, 480, 640, 800, 800, 800]);
        assert_eq!(packets.iter().filter(|p| p.end).count(), 3);
        assert!(s.finished());
    }

    #[test]
    fn receiver_dedups_and_survives_lost_ends() {
        let mut r = EventReceiver::new();
        let mut events = Vec::new();
        let mut s = EventSender::new(digit('#'), 60, 5_000, 160);
        while let Some(p) = s.next_packet() {
            r.on_packet(p.timestamp, &p.payload, |e| events.push(e));
        }
        assert_eq!(
            events,
            vec![
                ReceivedEvent::Started(digit('#')),
                ReceivedEvent::Ended(digit('#'), 60)
            ]
        );
        events.clear();
        // A press whose end packets are lost, then the next press.
        let mut s = EventSender::new(digit('1'), 100, 9_000, 160);
        for _ in 0..3 {
            if let Some(p) = s.next_packet() {
                r.on_packet(p.timestamp, &p.payload, |e| events.push(e));
            }
        }
        let mut s = EventSender::new(digit('2'), 40, 12_000, 160);
        if let Some(p) = s.next_packet() {
            r.on_packet(p.timestamp, &p.payload, |e| events.push(e));
        }
        assert_eq!(
            events,
            vec![
                ReceivedEvent::Started(digit('1')),
                ReceivedEvent::Ended(digit('1'), 60),
                ReceivedEvent::Started(digit('2')),
            ]
        );
        r.on_packet(1, &[200, 0x80, 0, 0], |e| events.push(e));
        assert_eq!(events.len(), 3, "non-DTMF events are ignored");
    }
}
