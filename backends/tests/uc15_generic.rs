//! What differs on UC15 and generic modules: call progress by `AT+CLCC` polling, UC15
//! cell information, operations a generic module does not have.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cellgate_hal::{AccessTech, GprsStatus, HalError, ModemEvent, ModemHal, ReleaseCause};
use common::*;
use tokio::time::Instant;

/// A call whose `+CLCC` row the test changes over time.
fn clcc_script(row: Arc<Mutex<Option<&'static str>>>) -> Script {
    Box::new(move |l| {
        Some(match l {
            "AT+CLCC" => match *row.lock().unwrap_or_else(|e| e.into_inner()) {
                Some(r) => ok_with(&[r]),
                None => ok_with(&[]),
            },
            "AT+CEER" => ok_with(&["+CEER: 17,\"User busy\""]),
            _ => return None,
        })
    })
}

fn set(row: &Arc<Mutex<Option<&'static str>>>, v: Option<&'static str>) {
    *row.lock().unwrap_or_else(|e| e.into_inner()) = v;
}

async fn progress_by_polling(opts: FakeOptions) {
    let row = Arc::new(Mutex::new(Some("+CLCC: 3,0,2,0,0,\"5551234\",129")));
    let (modem, fake, mut ev) = start(opts, clcc_script(row.clone())).await;
    let t0 = Instant::now();
    assert_eq!(modem.dial("5551234").await, Ok(3));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    set(&row, Some("+CLCC: 3,0,3,0,0,\"5551234\",129"));
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::CallAlerting { index: 3 }
    );
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
    set(&row, Some("+CLCC: 3,0,0,0,0,\"5551234\",129"));
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::CallConnected { index: 3 }
    );
    assert_eq!(t0.elapsed(), Duration::from_secs(4));
    tokio::time::sleep(Duration::from_millis(3500)).await;
    set(&row, None);
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::CallReleased {
            index: 3,
            cause: ReleaseCause::USER_BUSY
        }
    );
    assert_eq!(t0.elapsed(), Duration::from_secs(8));
    // Polling stops with the call.
    let polls = fake.count("AT+CLCC");
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(fake.count("AT+CLCC"), polls);
    assert_eq!(polls, 9, "one AT+CLCC after dial, then one per second");
}

#[tokio::test(start_paused = true)]
async fn uc15_call_progress_by_clcc_polling() {
    progress_by_polling(UC15).await;
}

#[tokio::test(start_paused = true)]
async fn generic_call_progress_by_clcc_polling() {
    progress_by_polling(GENERIC).await;
}

#[tokio::test(start_paused = true)]
async fn polling_and_no_carrier_release_once() {
    let row = Arc::new(Mutex::new(Some("+CLCC: 1,0,0,0,0,\"5551234\",129")));
    let (modem, fake, mut ev) = start(UC15, clcc_script(row.clone())).await;
    assert_eq!(modem.dial("5551234").await, Ok(1));
    set(&row, None);
    fake.send("\r\nNO CARRIER\r\n");
    assert_eq!(
        wait_for(&mut ev, |e| matches!(e, ModemEvent::CallReleased { .. })).await,
        ModemEvent::CallReleased {
            index: 1,
            cause: ReleaseCause::USER_BUSY
        }
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut rest = Vec::new();
    while let Ok(e) = ev.try_recv() {
        rest.push(e);
    }
    assert!(
        !rest
            .iter()
            .any(|e| matches!(e, ModemEvent::CallReleased { .. })),
        "{rest:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn uc15_incoming_call_released_by_caller_is_seen_by_polling() {
    let row = Arc::new(Mutex::new(Some("+CLCC: 2,1,4,0,0,\"0301234\",129")));
    let (_modem, _fake, mut ev) = start(UC15, clcc_script(row.clone())).await;
    _fake.send("\r\nRING\r\n\r\n+CLIP: \"0301234\",129\r\n");
    assert!(matches!(
        next_event(&mut ev).await,
        ModemEvent::IncomingCall { .. }
    ));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    set(&row, None);
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::CallReleased {
            index: 2,
            cause: ReleaseCause::USER_BUSY
        }
    );
}

#[tokio::test(start_paused = true)]
async fn uc15_cell_info_wcdma_with_neighbours() {
    let (modem, fake, _ev) = start(
        UC15,
        Box::new(|l| {
            Some(match l {
                "AT+QENG=\"servingcell\"" => ok_with(&[
                    "+QENG: \"servingcell\",\"NOCONN\",\"WCDMA\",262,02,A5E0,1C5B7D8,10663,357,1,-67,-5,-,-,-,-,-",
                ]),
                "AT+QENG=\"neighbourcell\"" => ok_with(&[
                    "+QENG: \"neighbourcell\",\"WCDMA\",10663,300,-90,-12",
                    "+QENG: \"neighbourcell\",\"GSM\",262,02,1A2B,00C4,41,554,-80",
                ]),
                _ => return None,
            })
        }),
    )
    .await;
    let cells = modem.cell_info().await.unwrap_or_default();
    assert_eq!(
        fake.log(),
        ["AT+QENG=\"servingcell\"", "AT+QENG=\"neighbourcell\""]
    );
    assert_eq!(cells.len(), 3);
    assert_eq!(
        (
            cells[0].cell_id,
            cells[0].arfcn,
            cells[0].tech,
            cells[0].level_dbm
        ),
        (0x1c5b7d8, 10663, AccessTech::Utran, Some(-67))
    );
    assert_eq!(
        (cells[1].bsic_or_psc, cells[1].tech),
        (Some(300), AccessTech::Utran)
    );
    assert_eq!((cells[2].cell_id, cells[2].tech), (0xc4, AccessTech::Gsm));
}

#[tokio::test(start_paused = true)]
async fn uc15_cell_info_gsm_and_searching() {
    let searching = Arc::new(Mutex::new(false));
    let s2 = searching.clone();
    let (modem, _fake, _ev) = start(
        UC15,
        Box::new(move |l| {
            Some(match l {
                "AT+QENG=\"servingcell\"" if *s2.lock().unwrap_or_else(|e| e.into_inner()) => {
                    ok_with(&["+QENG: \"servingcell\",\"SEARCH\""])
                }
                "AT+QENG=\"servingcell\"" => ok_with(&[
                    "+QENG: \"servingcell\",\"NOCONN\",\"GSM\",262,02,1A2B,00C4,41,554,0,-80,0,-,-,-,-",
                ]),
                "AT+QENG=\"neighbourcell\"" => "\r\nERROR\r\n".into(),
                _ => return None,
            })
        }),
    )
    .await;
    let cells = modem.cell_info().await.unwrap_or_default();
    assert_eq!(cells.len(), 1);
    assert_eq!((cells[0].arfcn, cells[0].bsic_or_psc), (554, Some(41)));
    *searching.lock().unwrap_or_else(|e| e.into_inner()) = true;
    assert_eq!(modem.cell_info().await, Ok(vec![]));
}

#[tokio::test(start_paused = true)]
async fn uc15_imei_write() {
    let (modem, fake, _ev) = start(UC15, defaults()).await;
    assert_eq!(modem.write_imei("490154203237518").await, Ok(()));
    assert_eq!(fake.log(), ["AT+EGMR=1,7,\"490154203237518\""]);
}

#[tokio::test(start_paused = true)]
async fn generic_unsupported_operations_send_nothing() {
    let (modem, fake, _ev) = start(GENERIC, defaults()).await;
    assert_eq!(modem.kind(), cellgate_hal::ModuleKind::Generic);
    assert_eq!(
        modem.cell_info().await,
        Err(HalError::Unsupported("cell_info"))
    );
    assert_eq!(
        modem.write_imei("490154203237518").await,
        Err(HalError::Unsupported("write_imei"))
    );
    assert!(fake.log().is_empty());
}

#[tokio::test(start_paused = true)]
async fn generic_iccid_falls_back_to_iccid_command() {
    let (modem, fake, _ev) = start(
        GENERIC,
        Box::new(|l| {
            Some(match l {
                "AT+CCID" => "\r\nERROR\r\n".into(),
                "AT+ICCID" => ok_with(&["+ICCID: 89490200001234567890"]),
                _ => return None,
            })
        }),
    )
    .await;
    let id = modem.identity().await;
    assert_eq!(id.map(|i| i.iccid), Ok(Some("89490200001234567890".into())));
    assert!(fake.log().ends_with(&["AT+CCID".into(), "AT+ICCID".into()]));
}

#[tokio::test(start_paused = true)]
async fn forced_dialect_skips_detection() {
    let (stream, fake) = spawn_fake(GENERIC, defaults());
    let config = cellgate_backends::AtModemConfig {
        dialect: Some(&cellgate_backends::uc15::UC15),
        ..test_config()
    };
    let modem = cellgate_backends::open_modem(stream, config).await;
    assert_eq!(modem.map(|m| m.kind()), Ok(cellgate_hal::ModuleKind::Uc15));
    assert!(!fake.log().contains(&"AT+CGMM".to_string()));
}

/// A fake whose `+CLCC` rows the test sets; `AT+CHLD=<n>` applies `chld` to them.
fn calls_script(rows: Arc<Mutex<Vec<&'static str>>>, chld: fn(u8) -> Vec<&'static str>) -> Script {
    Box::new(move |l| {
        let mut rows = rows.lock().unwrap_or_else(|e| e.into_inner());
        Some(match l {
            "AT+CLCC" => ok_with(&rows),
            "AT+CEER" => ok_with(&["+CEER: 16,\"Normal call clearing\""]),
            _ => match l.strip_prefix("AT+CHLD=").and_then(|n| n.parse().ok()) {
                Some(n) => {
                    *rows = chld(n);
                    ok_with(&[])
                }
                None => return None,
            },
        })
    })
}

/// Generic 27.007 module: `+CCWA` becomes `CallWaiting` with the index from `AT+CLCC`,
/// `AT+CHLD=2` connects the waiting call, `AT+CHLD=0` releases the held one (cause 16:
/// it was connected), `AT+CCWA=1,0` / `=1,1` switch the service.
#[tokio::test(start_paused = true)]
async fn generic_call_waiting_and_hold() {
    let rows = Arc::new(Mutex::new(vec!["+CLCC: 1,0,0,0,0,\"5551234\",129"]));
    let chld = |n| match n {
        2 => vec![
            "+CLCC: 1,0,1,0,0,\"5551234\",129",
            "+CLCC: 2,1,0,0,0,\"0301234\",129",
        ],
        _ => vec!["+CLCC: 2,1,0,0,0,\"0301234\",129"],
    };
    let (modem, fake, mut ev) = start(GENERIC, calls_script(rows.clone(), chld)).await;
    assert_eq!(modem.dial("5551234").await, Ok(1));
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::CallConnected { index: 1 }
    );
    rows.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push("+CLCC: 2,1,5,0,0,\"0301234\",129");
    fake.send("\r\n+CCWA: \"0301234\",129,1\r\n");
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::CallWaiting {
            index: Some(2),
            caller: Some("0301234".into())
        }
    );
    assert_eq!(modem.hold_and_accept().await, Ok(()));
    assert_eq!(fake.count("AT+CHLD=2"), 1);
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::CallConnected { index: 2 }
    );
    assert_eq!(modem.reject_waiting().await, Ok(()));
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::CallReleased {
            index: 1,
            cause: ReleaseCause::NORMAL_CLEARING
        }
    );
    // Polling goes on with the remaining call and sees nothing new.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(ev.try_recv().is_err());
    assert_eq!(modem.set_call_waiting(false).await, Ok(()));
    assert_eq!(modem.set_call_waiting(true).await, Ok(()));
    assert_eq!(fake.count("AT+CCWA=1,0"), 1);
    assert_eq!(fake.count("AT+CCWA=1,1"), 1);
    // The last call ends: released with its own index.
    rows.lock().unwrap_or_else(|e| e.into_inner()).clear();
    fake.send("\r\nNO CARRIER\r\n");
    assert_eq!(
        next_event(&mut ev).await,
        ModemEvent::CallReleased {
            index: 2,
            cause: ReleaseCause::NORMAL_CLEARING
        }
    );
}

/// Generic 27.007 module: `set_clir` is `AT+CLIR=1|0`, `set_gprs_attached` is
/// `AT+CGATT=1|0`, `gprs_status` reads `AT+CGREG?` and `AT+CGATT?`.
#[tokio::test(start_paused = true)]
async fn generic_clir_and_gprs() {
    let attached = Arc::new(Mutex::new(false));
    let state = attached.clone();
    let (modem, fake, _ev) = start(
        GENERIC,
        Box::new(move |l| {
            let mut on = state.lock().unwrap_or_else(|e| e.into_inner());
            Some(match l {
                "AT+CGATT=1" | "AT+CGATT=0" => {
                    *on = l.ends_with('1');
                    ok_with(&[])
                }
                "AT+CGATT?" => ok_with(&[if *on { "+CGATT: 1" } else { "+CGATT: 0" }]),
                "AT+CGREG?" => ok_with(&[if *on { "+CGREG: 0,5" } else { "+CGREG: 0,0" }]),
                _ => return None,
            })
        }),
    )
    .await;
    assert_eq!(modem.set_clir(true).await, Ok(()));
    assert_eq!(modem.set_clir(false).await, Ok(()));
    let off = GprsStatus {
        registered: false,
        attached: false,
    };
    assert_eq!(modem.gprs_status().await, Ok(off));
    assert_eq!(modem.set_gprs_attached(true).await, Ok(()));
    assert_eq!(
        modem.gprs_status().await,
        Ok(GprsStatus {
            registered: true,
            attached: true
        })
    );
    assert_eq!(modem.set_gprs_attached(false).await, Ok(()));
    assert_eq!(modem.gprs_status().await, Ok(off));
    assert_eq!(
        fake.log(),
        [
            "AT+CLIR=1",
            "AT+CLIR=0",
            "AT+CGREG?",
            "AT+CGATT?",
            "AT+CGATT=1",
            "AT+CGREG?",
            "AT+CGATT?",
            "AT+CGATT=0",
            "AT+CGREG?",
            "AT+CGATT?",
        ]
    );
}

/// A refused attach comes back typed; an unreadable status is a protocol error, not a
/// panic; a slow attach (60 s) is waited for.
#[tokio::test(start_paused = true)]
async fn gprs_refusals_and_slow_attach() {
    let (modem, fake, _ev) = start(
        UC15,
        Box::new(|l| {
            Some(match l {
                "AT+CGATT=1" => "\r\n+CME ERROR: 30\r\n".into(),
                // Answered later by the test.
                "AT+CGATT=0" => String::new(),
                "AT+CGREG?" => ok_with(&["+CGREG: ?"]),
                "AT+CGATT?" => ok_with(&["+CGATT: 0"]),
                _ => return None,
            })
        }),
    )
    .await;
    assert_eq!(
        modem.set_gprs_attached(true).await,
        Err(HalError::Cme { code: 30 })
    );
    assert!(matches!(
        modem.gprs_status().await,
        Err(HalError::Protocol(_))
    ));
    let started = Instant::now();
    let (result, ()) = tokio::join!(modem.set_gprs_attached(false), async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        fake.send("\r\nOK\r\n");
    });
    assert_eq!(result, Ok(()));
    assert!(started.elapsed() >= Duration::from_secs(60));
}
