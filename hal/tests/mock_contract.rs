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

#[tokio::test]
async fn pin2_operations_are_mockable_and_default_to_unsupported() {
    let mut mock = MockModemHal::new();
    mock.expect_set_fixed_dialing()
        .withf(|on, pin2| *on && pin2 == "5678")
        .returning(|_, _| Ok(()));
    mock.expect_enter_pin2()
        .returning(|_| Err(HalError::Cme { code: 16 }));
    let modem: Arc<dyn ModemHal> = Arc::new(mock);
    assert_eq!(modem.set_fixed_dialing(true, "5678").await, Ok(()));
    assert_eq!(
        modem.enter_pin2("0000").await,
        Err(HalError::Cme { code: 16 })
    );
}

#[test]
fn pin2_states_leave_the_sim_usable() {
    use cellgate_hal::SimState;
    assert!(SimState::Ready.is_usable());
    assert!(SimState::Pin2Required.is_usable());
    assert!(SimState::Puk2Required.is_usable());
    assert!(!SimState::PinRequired.is_usable());
    assert!(!SimState::PukRequired.is_usable());
    assert!(!SimState::NotInserted.is_usable());
}
