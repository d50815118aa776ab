//! Property tests: round trips, splitting invariants, reassembly of shuffled parts, and
//! decoding arbitrary input without panicking.

use cellgate_sms::*;
use proptest::prelude::*;

/// Characters of the default alphabet and extension table (no ESC).
fn gsm_char() -> impl Strategy<Value = char> {
    let pool: Vec<char> = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
         ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà\u{0C}^{}\\[~]|€"
        .chars()
        .collect();
    prop::sample::select(pool)
}

/// A mix that stresses boundaries: plain, escaped, BMP non-GSM, astral.
fn mixed_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::sample::select(vec!['a', 'b', ' ', '@', '€', '{', '}', '[', ']', '\\']),
        1 => prop::sample::select(vec!['中', 'ж', 'é', 'ç', '😀', '🎉', '𝄞']),
        1 => any::<char>(),
    ]
}

fn gsm_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(gsm_char(), 0..max).prop_map(|v| v.into_iter().collect())
}

fn any_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..max).prop_map(|v| v.into_iter().collect())
}

fn mixed_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(mixed_char(), 0..max).prop_map(|v| v.into_iter().collect())
}

fn numeric_address() -> impl Strategy<Value = Address> {
    (
        prop::collection::vec(
            prop::sample::select("0123456789*#abc".chars().collect::<Vec<_>>()),
            0..=20,
        ),
        prop::sample::select(vec![0u8, 1, 2, 3, 4, 6, 7]),
        0u8..16,
    )
        .prop_map(|(digits, ton, npi)| Address {
            ton: TypeOfNumber::from_bits(ton),
            npi: NumberingPlan::from_bits(npi),
            value: digits.into_iter().collect(),
        })
}

fn alphanumeric_address() -> impl Strategy<Value = Address> {
    prop::collection::vec(gsm_char(), 0..=11)
        .prop_map(|v| v.into_iter().collect::<String>())
        .prop_filter("at most 11 septets", |s| {
            Gsm7Tables::DEFAULT.septet_len(s).unwrap_or(99) <= 11
        })
        .prop_map(|s| Address::alphanumeric(&s))
}

fn address() -> impl Strategy<Value = Address> {
    prop_oneof![3 => numeric_address(), 1 => alphanumeric_address()]
}

fn timestamp() -> impl Strategy<Value = SmscTimestamp> {
    (
        0u8..100,
        1u8..13,
        1u8..32,
        0u8..24,
        0u8..60,
        0u8..60,
        -79i8..80,
    )
        .prop_map(
            |(year, month, day, hour, minute, second, tz_quarters)| SmscTimestamp {
                year,
                month,
                day,
                hour,
                minute,
                second,
                tz_quarters,
            },
        )
}

fn validity() -> impl Strategy<Value = Option<Validity>> {
    prop_oneof![
        Just(None),
        any::<u8>().prop_map(|v| Some(Validity::Relative(v))),
        timestamp().prop_map(|t| Some(Validity::Absolute(t))),
        any::<[u8; 7]>().prop_map(|b| Some(Validity::Enhanced(b))),
    ]
}

fn units(part: &MessagePart) -> usize {
    match (part.dcs.alphabet(), &part.user_data) {
        (Alphabet::Gsm7, UserData::Text(t)) => part
            .udh
            .as_ref()
            .map(Udh::gsm7_tables)
            .unwrap_or_default()
            .septet_len(t)
            .unwrap(),
        (Alphabet::Ucs2, UserData::Text(t)) => ucs2::ucs2_len(t),
        (_, UserData::Binary(b)) => b.len(),
        _ => unreachable!(),
    }
}

fn limit(part: &MessagePart, parts: usize, wide: bool) -> usize {
    let multi = parts > 1;
    match part.dcs.alphabet() {
        Alphabet::Gsm7 if !multi => 160,
        Alphabet::Gsm7 => {
            if wide {
                152
            } else {
                153
            }
        }
        Alphabet::Ucs2 if !multi => 70,
        Alphabet::Ucs2 => {
            if wide {
                66
            } else {
                67
            }
        }
        Alphabet::Data8 if !multi => 140,
        Alphabet::Data8 => {
            if wide {
                133
            } else {
                134
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn gsm7_submit_round_trip(text in gsm_text(161), dest in address(), mr in any::<u8>(),
                              validity in validity(), srr in any::<bool>()) {
        prop_assume!(Gsm7Tables::DEFAULT.septet_len(&text).unwrap() <= 160);
        let mut s = Submit::new(dest, &text);
        prop_assert_eq!(s.dcs, Dcs::GSM7);
        s.reference = mr;
        s.validity = validity;
        s.status_report_request = srr;
        let enc = encode_submit(&s, None).unwrap();
        prop_assert_eq!(enc.tpdu_len, enc.hex.len() / 2 - 1);
        let (smsc, back) = decode_mo(&enc.hex).unwrap();
        prop_assert_eq!(smsc, None);
        prop_assert_eq!(back, s);
    }

    #[test]
    fn unicode_deliver_round_trip(text in any_text(36), orig in address(), t in timestamp(),
                                  smsc in numeric_address()) {
        prop_assume!(ucs2::ucs2_len(&text) <= 70);
        let d = Deliver::new(orig, t, &text);
        let smsc = Address { ton: TypeOfNumber::International, ..smsc };
        let enc = encode_deliver(&d, Some(&smsc)).unwrap();
        let (s2, back) = decode_mt(&enc.hex).unwrap();
        prop_assert_eq!(s2, Some(smsc));
        prop_assert_eq!(back, MtPdu::Deliver(d));
    }

    #[test]
    fn status_report_round_trip(reference in any::<u8>(), rcpt in address(), a in timestamp(),
                                b in timestamp(), status in any::<u8>(), pid in any::<Option<u8>>(),
                                text in prop::option::of(gsm_text(40))) {
        let mut sr = StatusReport::new(reference, rcpt, a, b, status);
        sr.pid = pid;
        if let Some(t) = text {
            sr.dcs = Some(Dcs::GSM7);
            sr.user_data = Some(UserData::Text(t));
        }
        let enc = encode_status_report(&sr, None).unwrap();
        prop_assert_eq!(decode_mt(&enc.hex).unwrap().1, MtPdu::StatusReport(sr));
    }

    #[test]
    fn unix_time_round_trip(secs in 946_684_800i64..4_102_444_800, tz in -79i8..80) {
        let t = SmscTimestamp::from_unix(secs, tz);
        prop_assert_eq!(t.to_unix(), Some(secs));
    }

    #[test]
    fn split_invariants(text in mixed_text(700), wide in any::<bool>(), r in any::<u16>()) {
        let opts = SplitOptions {
            reference: if wide { ConcatRef::Sixteen(r) } else { ConcatRef::Eight(r as u8) },
            ..SplitOptions::default()
        };
        let parts = split_text(&text, &opts).unwrap();
        let n = parts.len();
        let joined: String = parts.iter().map(|p| p.text().unwrap()).collect();
        prop_assert_eq!(&joined, &text);
        let alphabet = parts[0].dcs.alphabet();
        prop_assert_eq!(alphabet == Alphabet::Gsm7, is_gsm7(&text));
        for (i, p) in parts.iter().enumerate() {
            prop_assert_eq!(p.dcs.alphabet(), alphabet);
            prop_assert!(units(p) <= limit(p, n, wide));
            // parts are as full as possible: the next character would not have fitted
            if i + 1 < n {
                let next = parts[i + 1].text().unwrap().chars().next().unwrap();
                let grown = MessagePart {
                    user_data: UserData::Text(format!("{}{}", p.text().unwrap(), next)),
                    ..p.clone()
                };
                prop_assert!(units(&grown) > limit(p, n, wide));
            }
            if n > 1 {
                let c = p.concat().unwrap();
                prop_assert_eq!(usize::from(c.sequence), i + 1);
                prop_assert_eq!(usize::from(c.total), n);
            } else {
                prop_assert_eq!(p.concat(), None);
            }
            // each part survives a real encode/decode: no escape or surrogate pair was cut
            let s = p.clone().into_submit(Address::international("1"));
            let back = decode_mo(&encode_submit(&s, None).unwrap().hex).unwrap().1;
            prop_assert_eq!(back.text(), p.text());
        }
    }

    #[test]
    fn shuffled_parts_reassemble(
        (text, order) in mixed_text(600).prop_flat_map(|t| {
            let n = split_text(&t, &SplitOptions::default()).unwrap().len();
            (Just(t), Just((0..n).collect::<Vec<_>>()).prop_shuffle())
        }),
        dup in any::<bool>(),
    ) {
        let parts = split_text(&text, &SplitOptions::default()).unwrap();
        let from = Address::alphanumeric("Bank");
        let mut r = Reassembler::new(std::time::Duration::from_secs(30));
        let mut done = None;
        for (k, &i) in order.iter().enumerate() {
            let d = parts[i].clone().into_deliver(from.clone(), SmscTimestamp::from_unix(0, 0));
            let hex = encode_deliver(&d, None).unwrap().hex;
            let MtPdu::Deliver(d) = decode_mt(&hex).unwrap().1 else { unreachable!() };
            if dup && k > 0 {
                // a duplicate of an earlier part changes nothing
                let earlier = parts[order[0]].clone().into_deliver(from.clone(), SmscTimestamp::from_unix(0, 0));
                prop_assert!(r.push_deliver(&earlier, k as u64).is_none() || parts.len() == 1);
            }
            if let Some(m) = r.push_deliver(&d, k as u64) {
                prop_assert!(done.is_none());
                done = Some(m);
            }
        }
        let m = done.unwrap();
        prop_assert_eq!(m.content, UserData::Text(text));
        prop_assert_eq!(usize::from(m.parts), parts.len());
        prop_assert_eq!(r.pending(), 0);
    }

    #[test]
    fn binary_split_round_trip(data in prop::collection::vec(any::<u8>(), 0..2000)) {
        let parts = split_binary(&data, &SplitOptions::default()).unwrap();
        let mut r = Reassembler::new(std::time::Duration::from_secs(30));
        let mut out = None;
        for p in parts.iter().rev() {
            prop_assert!(units(p) <= limit(p, parts.len(), false));
            let d = p.clone().into_deliver(Address::international("1"), SmscTimestamp::from_unix(0, 0));
            let MtPdu::Deliver(d) = decode_mt(&encode_deliver(&d, None).unwrap().hex).unwrap().1
                else { unreachable!() };
            out = out.or(r.push_deliver(&d, 0));
        }
        prop_assert_eq!(out.unwrap().content, UserData::Binary(data));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_mt_bytes(&bytes);
        let _ = decode_mo_bytes(&bytes);
        let _ = decode_mt_tpdu_bytes(&bytes);
        let _ = decode_mo_tpdu_bytes(&bytes);
        let _ = gsm7::unpack_septets_octet_counted(&bytes);
        let _ = ucs2::decode_ucs2(&bytes);
    }

    #[test]
    fn arbitrary_strings_never_panic(s in ".{0,80}") {
        let _ = decode_mt(&s);
        let _ = decode_mo(&s);
        let _ = decode(&s, Direction::Mt);
        let _ = split_text(&s, &SplitOptions::default());
        let _ = Address::parse(&s);
    }

    /// Mutating valid PDUs reaches deep into the decoders; whatever decodes must re-encode
    /// to something that decodes to the same value (decode is a fixpoint after one pass).
    #[test]
    fn mutated_pdus_decode_stably(text in mixed_text(60), orig in address(),
                                  mutations in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
                                  truncate in prop::option::of(any::<prop::sample::Index>())) {
        let parts = split_text(&text, &SplitOptions { reference: ConcatRef::Sixteen(7), ..SplitOptions::default() }).unwrap();
        let d = parts[0].clone().into_deliver(orig, SmscTimestamp::from_unix(0, -8));
        let mut bytes = decode_hex(&encode_deliver(&d, None).unwrap().hex).unwrap();
        for (i, v) in mutations {
            let i = i.index(bytes.len());
            bytes[i] = v;
        }
        if let Some(t) = truncate {
            bytes.truncate(t.index(bytes.len() + 1));
        }
        let _ = decode_mo_bytes(&bytes);
        if let Ok((smsc, pdu)) = decode_mt_bytes(&bytes) {
            let again = match &pdu {
                MtPdu::Deliver(d) => encode_deliver(d, smsc.as_ref()).ok(),
                MtPdu::StatusReport(s) => encode_status_report(s, smsc.as_ref()).ok(),
                MtPdu::SubmitReport(_) => None,
            };
            if let Some(enc) = again {
                let (_, pdu2) = decode_mt(&enc.hex).unwrap();
                let enc2 = match &pdu2 {
                    MtPdu::Deliver(d) => encode_deliver(d, smsc.as_ref()).unwrap(),
                    MtPdu::StatusReport(s) => encode_status_report(s, smsc.as_ref()).unwrap(),
                    MtPdu::SubmitReport(_) => unreachable!(),
                };
                prop_assert_eq!(enc2, enc);
            }
        }
    }
}
