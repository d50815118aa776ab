//! Modules are found by IMEI / ICCID among candidate ports, whatever their device path.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cellgate_backends::discovery::{locate, ModuleSelector};
use cellgate_hal::{HalError, ModemHal};
use common::{ok_with, spawn_fake, test_config, M35, UC15};
use tokio::io::DuplexStream;

/// Three "ports": one dead, two modules with different IMEIs and ICCIDs.
fn ports() -> HashMap<String, Option<(common::FakeOptions, &'static str, &'static str)>> {
    HashMap::from([
        ("/dev/ttyUSB0".to_owned(), None),
        (
            "/dev/ttyUSB1".to_owned(),
            Some((M35, "861111111111111", "89860000000000000011")),
        ),
        (
            "/dev/ttyUSB2".to_owned(),
            Some((UC15, "862222222222222", "89860000000000000022")),
        ),
    ])
}

/// The fake modules stop when their handles are dropped: the test keeps them in `alive`.
fn opener(
    alive: Arc<Mutex<Vec<common::Fake>>>,
) -> impl FnMut(String) -> std::future::Ready<Result<DuplexStream, HalError>> {
    let ports = ports();
    move |path: String| {
        std::future::ready(match ports.get(&path) {
            Some(Some((opts, imei, iccid))) => {
                let (imei, iccid) = (imei.to_string(), iccid.to_string());
                let (stream, fake) = spawn_fake(
                    *opts,
                    Box::new(move |line| match line {
                        "AT+CGSN" => Some(ok_with(&[&imei])),
                        "AT+QCCID" => Some(ok_with(&[&format!("+QCCID: {iccid}")])),
                        "AT+CCID" => Some(ok_with(&[&iccid])),
                        _ => None,
                    }),
                );
                if let Ok(mut alive) = alive.lock() {
                    alive.push(fake);
                }
                Ok(stream)
            }
            _ => Err(HalError::LinkDown(format!("cannot open {path}"))),
        })
    }
}

fn candidates() -> Vec<String> {
    let mut c: Vec<String> = ports().into_keys().collect();
    c.sort();
    c
}

#[tokio::test(start_paused = true)]
async fn finds_the_module_by_imei_whatever_its_port() {
    let alive: Arc<Mutex<Vec<common::Fake>>> = Arc::default();
    let (path, modem) = locate(
        &candidates(),
        &ModuleSelector::Imei("862222222222222".into()),
        &test_config(),
        opener(alive.clone()),
    )
    .await
    .unwrap();
    assert_eq!(path, "/dev/ttyUSB2");
    assert_eq!(modem.identity().await.unwrap().imei, "862222222222222");
}

#[tokio::test(start_paused = true)]
async fn finds_the_module_by_the_iccid_of_its_sim() {
    let alive: Arc<Mutex<Vec<common::Fake>>> = Arc::default();
    let (path, _) = locate(
        &candidates(),
        &ModuleSelector::Iccid("89860000000000000011".into()),
        &test_config(),
        opener(alive.clone()),
    )
    .await
    .unwrap();
    assert_eq!(path, "/dev/ttyUSB1");
}

#[tokio::test(start_paused = true)]
async fn an_absent_module_is_a_clear_error() {
    let alive: Arc<Mutex<Vec<common::Fake>>> = Arc::default();
    let err = locate(
        &candidates(),
        &ModuleSelector::Imei("869999999999999".into()),
        &test_config(),
        opener(alive.clone()),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("no module matching"), "{err}");
}
