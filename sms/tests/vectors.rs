//! Known PDUs, written by hand from the 23.040 / 23.038 field definitions (and the classic
//! published "hellohello" example), decoded field by field and re-encoded byte for byte.

use cellgate_sms::*;

fn ts(year: u8, month: u8, day: u8, hour: u8, minute: u8, second: u8, tz: i8) -> SmscTimestamp {
    SmscTimestamp {
        year,
        month,
        day,
        hour,
        minute,
        second,
        tz_quarters: tz,
    }
}

fn mt_deliver(hex: &str) -> (Option<Address>, Deliver) {
    match decode_mt(hex).unwrap() {
        (smsc, MtPdu::Deliver(d)) => (smsc, d),
        other => panic!("not a DELIVER: {other:?}"),
    }
}

#[test]
fn classic_hellohello_submit() {
    let hex = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37";
    let (smsc, s) = decode_mo(hex).unwrap();
    assert_eq!(smsc, None);
    assert_eq!(s.reference, 0);
    assert_eq!(s.destination, Address::international("46708251358"));
    assert_eq!(s.destination.to_string(), "+46708251358");
    assert_eq!(s.pid, 0);
    assert_eq!(s.dcs, Dcs::GSM7);
    assert_eq!(s.validity, Some(Validity::Relative(0xAA)));
    assert_eq!(
        Validity::relative_duration(0xAA),
        std::time::Duration::from_secs(4 * 86_400)
    );
    assert!(!s.status_report_request && !s.reject_duplicates && !s.reply_path);
    assert_eq!(s.udh, None);
    assert_eq!(s.text(), Some("hellohello"));

    let enc = encode_submit(&s, None).unwrap();
    assert_eq!(enc.hex, hex);
    assert_eq!(enc.tpdu_len, 23);
}

#[test]
fn classic_hellohello_deliver() {
    let hex = "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37";
    let (smsc, d) = mt_deliver(hex);
    let smsc = smsc.unwrap();
    assert_eq!(smsc.to_string(), "+27381000015");
    assert_eq!(d.originator.ton, TypeOfNumber::Subscriber);
    assert_eq!(d.originator.npi, NumberingPlan::National);
    assert_eq!(d.originator.value, "27838890001");
    assert_eq!(d.timestamp, ts(99, 3, 29, 15, 16, 59, 8));
    assert!(!d.more_messages);
    assert_eq!(d.text(), Some("hellohello"));

    let enc = encode_deliver(&d, Some(&smsc)).unwrap();
    assert_eq!(enc.hex, hex);
    assert_eq!(enc.tpdu_len, hex.len() / 2 - 8);
}

#[test]
fn ucs2_chinese_deliver() {
    let hex = "0891683108200805F0040D91683119325476F8000842501021035423044F60597D";
    let (smsc, d) = mt_deliver(hex);
    assert_eq!(smsc.clone().unwrap().to_string(), "+8613800280500");
    assert_eq!(d.originator.to_string(), "+8613912345678");
    assert_eq!(d.dcs.alphabet(), Alphabet::Ucs2);
    assert_eq!(d.timestamp, ts(24, 5, 1, 12, 30, 45, 32));
    assert_eq!(d.text(), Some("你好"));
    assert_eq!(encode_deliver(&d, smsc.as_ref()).unwrap().hex, hex);

    // Building the same message from scratch gives the same octets.
    let mut built = Deliver::new(
        Address::international("+8613912345678"),
        ts(24, 5, 1, 12, 30, 45, 32),
        "你好",
    );
    built.more_messages = false;
    assert_eq!(
        encode_deliver(&built, Some(&Address::international("8613800280500")))
            .unwrap()
            .hex,
        hex
    );
}

#[test]
fn alphanumeric_sender() {
    let hex = "00040BD0C7F7FBCC2E03000042501021035423 05E8329BFD06".replace(' ', "");
    let (smsc, d) = mt_deliver(&hex);
    assert_eq!(smsc, None);
    assert!(d.originator.is_alphanumeric());
    assert_eq!(d.originator.value, "Google");
    assert_eq!(d.text(), Some("hello"));
    assert_eq!(encode_deliver(&d, None).unwrap().hex, hex);
}

#[test]
fn status_report_delivered_and_failed() {
    let hex = "00060D0B916407281553F899309251619580993092517105 8000".replace(' ', "");
    let (_, pdu) = decode_mt(&hex).unwrap();
    let MtPdu::StatusReport(sr) = pdu else {
        panic!("not a status report")
    };
    assert_eq!(sr.reference, 0x0D);
    assert_eq!(sr.recipient.to_string(), "+46708251358");
    assert_eq!(sr.scts, ts(99, 3, 29, 15, 16, 59, 8));
    assert_eq!(sr.discharge_time, ts(99, 3, 29, 15, 17, 50, 8));
    assert_eq!(sr.status, 0);
    assert_eq!(sr.outcome(), DeliveryOutcome::Delivered);
    assert!(!sr.for_command);
    assert_eq!(encode_status_report(&sr, None).unwrap().hex, hex);

    let mut failed = sr.clone();
    failed.status = 0x46;
    assert_eq!(failed.outcome(), DeliveryOutcome::Failed);
    let enc = encode_status_report(&failed, None).unwrap();
    assert!(enc.hex.ends_with("46"));
}

#[test]
fn status_report_with_parameter_indicator() {
    // TP-PI 0x07: PID, DCS and 7-bit user data "hi".
    let hex = "00060D0B916407281553F89930925161958099309251710580000700000 2E834".replace(' ', "");
    let (_, pdu) = decode_mt(&hex).unwrap();
    let MtPdu::StatusReport(sr) = pdu else {
        panic!("not a status report")
    };
    assert_eq!(sr.pid, Some(0));
    assert_eq!(sr.dcs, Some(Dcs::GSM7));
    assert_eq!(sr.user_data, Some(UserData::Text("hi".into())));
    assert_eq!(encode_status_report(&sr, None).unwrap().hex, hex);
}

#[test]
fn concatenated_7bit_part_with_fill_bit() {
    // UDH 05 00 03 CC 02 01, one fill bit, then "hi": UDL = 7 + 2 septets.
    let hex = "00440B916407281553F800009930925161958009050003CC0201D069";
    let (_, d) = mt_deliver(hex);
    assert_eq!(
        d.concat(),
        Some(Concat {
            reference: ConcatRef::Eight(0xCC),
            total: 2,
            sequence: 1
        })
    );
    assert_eq!(d.text(), Some("hi"));
    assert_eq!(encode_deliver(&d, None).unwrap().hex, hex);
}

#[test]
fn concatenated_ucs2_part_with_16bit_reference() {
    let hex = "00440B916407281553F8000899309251619580 09 060804ABCD0301 0041".replace(' ', "");
    let (_, d) = mt_deliver(&hex);
    assert_eq!(
        d.concat(),
        Some(Concat {
            reference: ConcatRef::Sixteen(0xABCD),
            total: 3,
            sequence: 1
        })
    );
    assert_eq!(d.text(), Some("A"));
    assert_eq!(encode_deliver(&d, None).unwrap().hex, hex);
}

#[test]
fn submit_with_srr_and_absolute_validity() {
    let mut s = Submit::new(Address::national("0701234567"), "Hi");
    s.status_report_request = true;
    s.reference = 0x42;
    s.validity = Some(Validity::Absolute(ts(25, 12, 31, 23, 59, 0, -20)));
    let enc = encode_submit(&s, Some(&Address::international("46707010000"))).unwrap();
    // 0x39 = SUBMIT | VPF absolute (11) | SRR
    assert_eq!(
        enc.hex,
        "07916407070100F0 39 42 0AA1 7010325476 00 00 52211332950 00A 02 C834".replace(' ', "")
    );
    let (smsc, back) = decode_mo(&enc.hex).unwrap();
    assert_eq!(smsc.unwrap().to_string(), "+46707010000");
    assert_eq!(back, s);
}

#[test]
fn binary_8bit_and_class0() {
    let mut s = Submit::binary(Address::international("123"), vec![0, 1, 0xFE, 0xFF]);
    s.dcs = Dcs::new(Alphabet::Data8, Some(MessageClass::Class0));
    let enc = encode_submit(&s, None).unwrap();
    assert_eq!(
        enc.hex,
        "0001000391 21F3 00 14 04 0001FEFF".replace(' ', "")
    );
    assert_eq!(decode_mo(&enc.hex).unwrap().1, s);
}

#[test]
fn errors_name_field_and_offset() {
    // 8-bit DELIVER claiming 200 octets of user data.
    let hex = "00040B916407281553F8000499309251619580C8";
    let e = decode_mt(hex).unwrap_err();
    assert_eq!(e.to_string(), "TP-UDL 200 exceeds 140 octets at offset 19");

    let e = decode_mt("00040B916407281553F80000993092516195800AE832").unwrap_err();
    assert_eq!(
        e.to_string(),
        "TP-UD needs 9 octets but only 2 remain at offset 20"
    );

    // compressed: TP-DCS 0x20
    let e = decode_mo("0001000B916407281553F80020".replace(' ', "").as_str()).unwrap_err();
    assert_eq!(e.kind, PduErrorKind::Compressed { dcs: 0x20 });
    assert_eq!(e.offset, 12);

    let e = decode_mo("07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37")
        .unwrap_err();
    assert!(matches!(
        e.kind,
        PduErrorKind::UnexpectedType { mti: 0, .. }
    ));

    let e = decode_mt("0004").unwrap_err();
    assert_eq!(e.offset, 2);

    let e = decode_mt("0G").unwrap_err();
    assert_eq!(e.to_string(), "invalid hex character 'G' at offset 1");

    let e = decode_mo(&format!(
        "{}FF",
        "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"
    ))
    .unwrap_err();
    assert_eq!(e.kind, PduErrorKind::TrailingData { count: 1 });
}

#[test]
fn reserved_mti_reads_as_deliver() {
    let hex = "00070BC87238880900F10000993092516195800AE8329BFD4697D9EC37";
    let (_, d) = mt_deliver(hex);
    assert_eq!(d.text(), Some("hellohello"));
}

#[test]
fn submit_report_ack_and_error() {
    // RP-ACK form: first octet, TP-PI 0, SCTS.
    let (_, pdu) = decode_mt("00010099309251619580").unwrap();
    let MtPdu::SubmitReport(r) = pdu else {
        panic!()
    };
    assert_eq!(r.failure_cause, None);
    assert_eq!(r.scts, ts(99, 3, 29, 15, 16, 59, 8));
    // RP-ERROR form with TP-FCS 0xC0 (SC busy).
    let (_, pdu) = decode_mt("0001C00099309251619580").unwrap();
    let MtPdu::SubmitReport(r) = pdu else {
        panic!()
    };
    assert_eq!(r.failure_cause, Some(0xC0));
}

#[test]
fn turkish_national_language_round_trip() {
    let opts = SplitOptions {
        national_language: Some(NationalLanguage::Turkish),
        ..SplitOptions::default()
    };
    let parts = split_text("Günaydın, İstanbul! Şöyle çok ğüzel", &opts).unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].dcs, Dcs::GSM7);
    let udh = parts[0].udh.clone().unwrap();
    assert!(udh.elements.contains(&InformationElement::SingleShift(1)));
    let d = parts[0].clone().into_deliver(
        Address::international("905551112233"),
        ts(24, 1, 1, 0, 0, 0, 12),
    );
    let enc = encode_deliver(&d, None).unwrap();
    let (_, back) = mt_deliver(&enc.hex);
    assert_eq!(back.text(), Some("Günaydın, İstanbul! Şöyle çok ğüzel"));
}
