//! Boundaries where SMS implementations commonly break: escapes and surrogate pairs at part
//! boundaries, the CR padding rule, 16-bit references, multi-part UCS2, timeouts.

use cellgate_sms::*;

fn ts() -> SmscTimestamp {
    SmscTimestamp::from_unix(1_700_000_000, 4)
}

fn sender() -> Address {
    Address::international("4917012345678")
}

/// Encodes every part as a DELIVER, decodes it back and returns the decoded DELIVERs.
fn over_the_air(parts: &[MessagePart]) -> Vec<Deliver> {
    parts
        .iter()
        .map(|p| {
            let enc = encode_deliver(&p.clone().into_deliver(sender(), ts()), None).unwrap();
            match decode_mt(&enc.hex).unwrap().1 {
                MtPdu::Deliver(d) => d,
                other => panic!("{other:?}"),
            }
        })
        .collect()
}

fn septets(text: &str) -> usize {
    Gsm7Tables::DEFAULT.septet_len(text).unwrap()
}

#[test]
fn single_part_limits() {
    let o = SplitOptions::default();
    assert_eq!(split_text(&"a".repeat(160), &o).unwrap().len(), 1);
    assert_eq!(split_text(&"a".repeat(161), &o).unwrap().len(), 2);
    assert_eq!(
        split_text(&format!("{}€", "a".repeat(158)), &o)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        split_text(&format!("{}€", "a".repeat(159)), &o)
            .unwrap()
            .len(),
        2
    );
    assert_eq!(split_text(&"ж".repeat(70), &o).unwrap().len(), 1);
    assert_eq!(split_text(&"ж".repeat(71), &o).unwrap().len(), 2);
    assert_eq!(
        split_text(&format!("{}😀", "ж".repeat(68)), &o)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        split_text(&format!("{}😀", "ж".repeat(69)), &o)
            .unwrap()
            .len(),
        2
    );
    assert_eq!(split_binary(&[7; 140], &o).unwrap().len(), 1);
    let parts = split_binary(&[7; 141], &o).unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].user_data.as_bytes().unwrap().len(), 134);
}

#[test]
fn euro_at_septet_153_154_boundary() {
    // 152 'a' + '€': the escape pair would take septets 153 and 154, so '€' moves on.
    let text = format!("{}€{}", "a".repeat(152), "b".repeat(20));
    let parts = split_text(&text, &SplitOptions::default()).unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].text().unwrap(), "a".repeat(152));
    assert!(parts[1].text().unwrap().starts_with('€'));
    // 151 'a' + '€' fills part 1 exactly (153 septets).
    let text = format!("{}€{}", "a".repeat(151), "b".repeat(20));
    let parts = split_text(&text, &SplitOptions::default()).unwrap();
    assert_eq!(septets(parts[0].text().unwrap()), 153);
    assert!(parts[0].text().unwrap().ends_with('€'));
    let decoded = over_the_air(&parts);
    let joined: String = decoded.iter().map(|d| d.text().unwrap()).collect();
    assert_eq!(joined, text);
}

#[test]
fn escapes_and_surrogates_at_every_offset_near_the_boundary() {
    for k in 140..=160 {
        for special in ["€", "{}", "[~]", "\u{0C}"] {
            let text = format!("{}{}{}", "x".repeat(k), special.repeat(3), "y".repeat(170));
            let parts = split_text(&text, &SplitOptions::default()).unwrap();
            for p in &parts {
                assert!(septets(p.text().unwrap()) <= 153, "k={k}");
            }
            let joined: String = over_the_air(&parts)
                .iter()
                .map(|d| d.text().unwrap().to_string())
                .collect();
            assert_eq!(joined, text, "k={k} {special:?}");
        }
    }
    for k in 60..=70 {
        let text = format!("{}😀😀{}", "中".repeat(k), "文".repeat(80));
        let parts = split_text(&text, &SplitOptions::default()).unwrap();
        for p in &parts {
            assert!(ucs2::ucs2_len(p.text().unwrap()) <= 67, "k={k}");
        }
        let joined: String = over_the_air(&parts)
            .iter()
            .map(|d| d.text().unwrap().to_string())
            .collect();
        assert_eq!(joined, text, "k={k}");
    }
}

#[test]
fn at_sign_at_end_with_seven_spare_bits() {
    // Single part: 7 septets, the last octet has 7 spare bits -> CR padding, '@' kept.
    let s = Submit::new(sender(), "Hello!@");
    let tpdu = encode_submit_tpdu(&s).unwrap();
    let last = *tpdu.last().unwrap();
    assert_eq!(last >> 1, 0x0D, "padding is CR");
    assert_eq!(last & 1, 0x00);
    let back = decode_mo_tpdu_bytes(&tpdu).unwrap();
    assert_eq!(back.text(), Some("Hello!@"));

    // With a concatenation header: 6 octets + 1 fill bit, then 8 septets ending in '@' also
    // leave 7 spare bits.
    let mut s = Submit::new(sender(), "1234567@");
    s.udh = Some(Udh::concat(Concat {
        reference: ConcatRef::Eight(9),
        total: 2,
        sequence: 2,
    }));
    let tpdu = encode_submit_tpdu(&s).unwrap();
    assert_eq!(tpdu.last().unwrap() >> 1, 0x0D);
    let back = decode_mo_tpdu_bytes(&tpdu).unwrap();
    assert_eq!(back.text(), Some("1234567@"));
    assert_eq!(back, s);

    // '@' alone (1 septet, 7 spare bits) and "@@@@@@@@" (octet aligned) too.
    for text in ["@", "@@@@@@@", "@@@@@@@@", "abc\r"] {
        let tpdu = encode_submit_tpdu(&Submit::new(sender(), text)).unwrap();
        assert_eq!(decode_mo_tpdu_bytes(&tpdu).unwrap().text(), Some(text));
    }
}

#[test]
fn sixteen_bit_reference_parts() {
    let opts = SplitOptions {
        reference: ConcatRef::Sixteen(0x1234),
        ..SplitOptions::default()
    };
    let text = "z".repeat(400);
    let parts = split_text(&text, &opts).unwrap();
    assert_eq!(parts.len(), 3); // 152 + 152 + 96
    assert_eq!(parts[0].text().unwrap().len(), 152);
    let decoded = over_the_air(&parts);
    let mut r = Reassembler::new(std::time::Duration::from_secs(60));
    assert_eq!(r.push_deliver(&decoded[2], 0), None);
    assert_eq!(r.push_deliver(&decoded[0], 1), None);
    let done = r.push_deliver(&decoded[1], 2).unwrap();
    assert_eq!(done.reference, Some(ConcatRef::Sixteen(0x1234)));
    assert_eq!(done.parts, 3);
    assert_eq!(done.content, UserData::Text(text));
}

#[test]
fn three_part_ucs2() {
    let text: String = "电".repeat(150);
    let parts = split_text(&text, &SplitOptions::default()).unwrap();
    assert_eq!(parts.len(), 3);
    let lens: Vec<usize> = parts
        .iter()
        .map(|p| p.text().unwrap().chars().count())
        .collect();
    assert_eq!(lens, vec![67, 67, 16]);
    for p in &parts {
        assert_eq!(p.dcs, Dcs::UCS2);
    }
    let decoded = over_the_air(&parts);
    let mut r = Reassembler::new(std::time::Duration::from_secs(60));
    assert!(r.push_deliver(&decoded[1], 0).is_none());
    assert!(r.push_deliver(&decoded[1], 0).is_none()); // duplicate
    assert!(r.push_deliver(&decoded[2], 0).is_none());
    let done = r.push_deliver(&decoded[0], 0).unwrap();
    assert_eq!(done.content.as_text(), Some(text.as_str()));
    assert_eq!(r.pending(), 0);
}

#[test]
fn missing_part_times_out_with_what_is_known() {
    let parts = split_text(&"m".repeat(400), &SplitOptions::default()).unwrap();
    let decoded = over_the_air(&parts);
    let mut r = Reassembler::new(std::time::Duration::from_secs(60));
    assert!(r.push_deliver(&decoded[0], 100).is_none());
    assert!(r.push_deliver(&decoded[2], 130).is_none());
    assert_eq!(r.next_deadline(), Some(160));
    assert!(r.expire(159).is_empty());
    let gone = r.expire(160);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].missing, vec![2]);
    assert_eq!(gone[0].received, vec![1, 3]);
    assert_eq!(gone[0].total, 3);
    assert_eq!(
        gone[0].content.as_text().unwrap(),
        format!("{}{}", "m".repeat(153), "m".repeat(94))
    );
    assert_eq!(r.pending(), 0);
    // the late part starts a new group rather than resurrecting the old one
    assert!(r.push_deliver(&decoded[1], 200).is_none());
}

#[test]
fn eight_and_sixteen_bit_references_do_not_collide() {
    let mk = |reference, sequence, text: &str| Fragment {
        sender: sender(),
        concat: Some(Concat {
            reference,
            total: 2,
            sequence,
        }),
        content: UserData::Text(text.into()),
    };
    let mut r = Reassembler::new(std::time::Duration::from_secs(60));
    assert!(r.push(mk(ConcatRef::Eight(5), 1, "a"), 0).is_none());
    assert!(r.push(mk(ConcatRef::Sixteen(5), 2, "B"), 0).is_none());
    assert_eq!(r.pending(), 2);
    let done = r.push(mk(ConcatRef::Sixteen(5), 1, "A"), 0).unwrap();
    assert_eq!(done.content.as_text(), Some("AB"));
    // different senders with the same reference do not collide either
    let mut other = mk(ConcatRef::Eight(5), 2, "x");
    other.sender = Address::international("1");
    assert!(r.push(other, 0).is_none());
    let done = r.push(mk(ConcatRef::Eight(5), 2, "b"), 0).unwrap();
    assert_eq!(done.content.as_text(), Some("ab"));
}

#[test]
fn group_limit_evicts_oldest() {
    let mut r = Reassembler::new(std::time::Duration::from_secs(60)).with_max_groups(2);
    for reference in 0..3u8 {
        let f = Fragment {
            sender: sender(),
            concat: Some(Concat {
                reference: ConcatRef::Eight(reference),
                total: 2,
                sequence: 1,
            }),
            content: UserData::Text("p".into()),
        };
        assert!(r.push(f, 0).is_none());
    }
    assert_eq!(r.pending(), 2);
    let gone = r.expire(1);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].reference, ConcatRef::Eight(0));
}

#[test]
fn too_many_parts_is_a_clear_error() {
    let o = SplitOptions::default();
    assert_eq!(split_text(&"a".repeat(255 * 153), &o).unwrap().len(), 255);
    let e = split_text(&"a".repeat(255 * 153 + 1), &o).unwrap_err();
    assert_eq!(
        e,
        SplitError::TooManyParts {
            needed: 256,
            max: 255
        }
    );
    assert_eq!(
        e.to_string(),
        "message needs 256 parts, more than the limit of 255"
    );
    let o = SplitOptions { max_parts: 3, ..o };
    assert!(split_text(&"a".repeat(153 * 3), &o).is_ok());
    assert!(matches!(
        split_text(&"a".repeat(153 * 3 + 1), &o),
        Err(SplitError::TooManyParts { needed: 4, max: 3 })
    ));
}

#[test]
fn forced_gsm7_rejects_unrepresentable() {
    let o = SplitOptions {
        encoding: Encoding::Gsm7,
        ..SplitOptions::default()
    };
    assert_eq!(
        split_text("ok ж", &o).unwrap_err(),
        SplitError::Unrepresentable { ch: 'ж', index: 3 }
    );
    let o = SplitOptions {
        encoding: Encoding::Ucs2,
        ..SplitOptions::default()
    };
    assert_eq!(split_text("plain", &o).unwrap()[0].dcs, Dcs::UCS2);
}

#[test]
fn submit_too_long_for_one_pdu_fails_to_encode() {
    let e = encode_submit(&Submit::new(sender(), &"a".repeat(161)), None).unwrap_err();
    assert_eq!(
        e,
        EncodeError::UserDataTooLong {
            length: 161,
            max: 160,
            unit: "septets"
        }
    );
    let e = encode_submit(&Submit::new(sender(), &"ж".repeat(71)), None).unwrap_err();
    assert!(matches!(
        e,
        EncodeError::UserDataTooLong { length: 142, .. }
    ));
}

#[test]
fn broken_sender_split_surrogate_is_replaced_not_panicking() {
    // A part ending in a lone high surrogate (a sender that cut a pair) decodes with U+FFFD.
    let hex = "00040B916407281553F8000899309251619580 04 0041D83D".replace(' ', "");
    let (_, MtPdu::Deliver(d)) = decode_mt(&hex).unwrap() else {
        panic!()
    };
    assert_eq!(d.text(), Some("A\u{FFFD}"));
}

#[test]
fn invalid_sequence_numbers_are_standalone_messages() {
    let mut r = Reassembler::new(std::time::Duration::from_secs(60));
    for (total, sequence) in [(3u8, 0u8), (3, 4), (0, 1), (1, 1)] {
        let f = Fragment {
            sender: sender(),
            concat: Some(Concat {
                reference: ConcatRef::Eight(1),
                total,
                sequence,
            }),
            content: UserData::Text("solo".into()),
        };
        let m = r.push(f, 0).unwrap();
        assert_eq!(m.parts, 1);
        assert_eq!(m.content.as_text(), Some("solo"));
    }
    assert_eq!(r.pending(), 0);
}
