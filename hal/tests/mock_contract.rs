//! The generated mocks are usable the way the engine uses the traits: as trait objects.

use std::sync::Arc;

use cellgate_hal::{HalError, MockModemHal, ModemHal};

#[tokio::test]
async fn unsupported_operation_is_a_typed_error_through_a_trait_object() {
    let mut mock = MockModemHal::new();
    mock.expect_write_imei()
        .returning(|_| Err(HalError::Unsupported("imei write")));
    let modem: Arc<dyn ModemHal> = Arc::new(mock);
    let err = modem.write_imei("356938035643809").await.unwrap_err();
    assert_eq!(err, HalError::Unsupported("imei write"));
    assert!(!err.is_transient());
}

#[test]
fn transient_busy_errors_are_recognised() {
    assert!(HalError::Cme { code: 515 }.is_transient());
    assert!(HalError::Cms { code: 314 }.is_transient());
    assert!(!HalError::Cms { code: 322 }.is_transient());
}
