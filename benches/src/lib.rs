//! Criterion benchmarks of cellgate's hot paths; see `benches/`. Run with
//! `cargo bench -p cellgate-benches`. Figures are reported in issue notes, never asserted
//! in tests.

/// A typical INVITE as softphones and SIPp send it, for parsing benchmarks.
pub const TYPICAL_INVITE: &str = "INVITE sip:5551234@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-3947-1-0\r\n\
From: sipp <sip:sipp@127.0.0.1:5070>;tag=3947SIPpTag001\r\n\
To: <sip:5551234@127.0.0.1:5060>\r\n\
Call-ID: 1-3947@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Contact: sip:sipp@127.0.0.1:5070\r\n\
Max-Forwards: 70\r\n\
Subject: Performance Test\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 129\r\n\r\n\
v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
