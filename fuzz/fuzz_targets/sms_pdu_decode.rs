//! Feeds arbitrary bytes to the SMS PDU decoders (raw and as hex text) and to the
//! reassembler. Any panic is a bug: malformed input must come back as a `PduError`.
#![no_main]

use cellgate_sms::{
    decode, decode_mo, decode_mo_bytes, decode_mt, decode_mt_bytes, encode_deliver,
    encode_status_report, Direction, MtPdu, Reassembler,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Raw octets, as if already hex-decoded.
    let _ = decode_mo_bytes(data);
    let mt = decode_mt_bytes(data);

    // The same octets as a hex string (what +CMGR/+CMT deliver), and the input itself read
    // as text (odd lengths, junk characters).
    let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
    let _ = decode_mt(&hex);
    let _ = decode_mo(&hex);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = decode(text, Direction::Mt);
        let _ = decode(text, Direction::Mo);
    }

    // Whatever decodes must re-encode without panicking, and feed the reassembler with
    // times taken from the input.
    if let Ok((smsc, pdu)) = mt {
        match &pdu {
            MtPdu::Deliver(d) => {
                let _ = encode_deliver(d, smsc.as_ref());
                let mut r = Reassembler::new(std::time::Duration::from_secs(60));
                let now = u64::from(data.first().copied().unwrap_or(0));
                let _ = r.push_deliver(d, now);
                let _ = r.push_deliver(d, now.saturating_add(1));
                let _ = r.next_deadline();
                let _ = r.expire(u64::MAX);
            }
            MtPdu::StatusReport(s) => {
                let _ = encode_status_report(s, smsc.as_ref());
            }
            MtPdu::SubmitReport(_) => {}
        }
    }
});
