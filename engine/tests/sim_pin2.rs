//! SIM PIN2 (manual F-6.10.7) in the sans-IO core: when the configured PIN2 is entered,
//! that a PIN2 the SIM refused is never offered to it again, and the fixed dialling lock
//! applied with it when a line comes up.

use std::net::SocketAddr;
use std::time::Instant;

use cellgate_engine::gateway::LinePolicy;
use cellgate_engine::{Gateway, GatewayConfig, InboundTrust, ModemCommand, Output};
use cellgate_hal::{HalError, LineId, ModemEvent, ModemIdentity, SimState};

struct H {
    gw: Gateway,
    now: Instant,
}

impl H {
    /// Line 1 with `policy`, its SIM ready (ICCID `iccid`), the gateway started.
    fn new(policy: LinePolicy) -> Self {
        let gw_addr: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 5060));
        let mut config = GatewayConfig::new(gw_addr);
        config.trust = InboundTrust::LoopbackOnly;
        config.seed = Some(7);
        config.lines.insert(LineId(1), policy);
        let now = Instant::now();
        let mut gw = Gateway::new(config, [LineId(1)]);
        gw.handle_line_status(LineId(1), true, true);
        let mut h = Self { gw, now };
        h.identity("89860000000000000011");
        h.gw.start(now);
        h
    }

    fn identity(&mut self, iccid: &str) {
        self.gw.handle_line_identity(
            LineId(1),
            ModemIdentity {
                iccid: Some(iccid.into()),
                ..ModemIdentity::default()
            },
        );
    }

    fn sim(&mut self, state: SimState) {
        self.gw
            .handle_modem_event(self.now, LineId(1), ModemEvent::SimChanged(state));
    }

    /// The module commands asked for since the last call.
    fn commands(&mut self) -> Vec<ModemCommand> {
        std::iter::from_fn(|| self.gw.poll_output())
            .filter_map(|o| match o {
                Output::Modem { command, .. } => Some(command),
                _ => None,
            })
            .collect()
    }

    fn result(&mut self, command: ModemCommand, result: Result<Option<u8>, HalError>) {
        self.gw
            .handle_command_result(self.now, LineId(1), None, &command, result);
    }

    fn status(&self) -> String {
        self.gw.line_status(self.now).remove(0).sim
    }
}

fn with_pin2(pin2: &str, fixed_dialing: Option<bool>) -> LinePolicy {
    LinePolicy {
        pin2: Some(pin2.into()),
        fixed_dialing,
        ..LinePolicy::default()
    }
}

#[test]
fn pin2_is_entered_once_per_request_f_6_10_7() {
    let mut h = H::new(with_pin2("5678", None));
    assert_eq!(h.commands(), []);
    h.sim(SimState::Pin2Required);
    assert_eq!(h.status(), "PIN2");
    assert_eq!(h.commands(), [ModemCommand::EnterPin2("5678".into())]);
    // Told again before the result: still one entry.
    h.sim(SimState::Pin2Required);
    assert_eq!(h.commands(), []);
    h.result(ModemCommand::EnterPin2("5678".into()), Ok(None));
    h.sim(SimState::Ready);
    assert_eq!(h.status(), "Y");
    // A later request (another operation needed CHV2) gets the right PIN2 again.
    h.sim(SimState::Pin2Required);
    assert_eq!(h.commands(), [ModemCommand::EnterPin2("5678".into())]);
}

#[test]
fn a_refused_pin2_is_not_offered_again_until_the_sim_changes_f_6_10_7() {
    let mut h = H::new(with_pin2("0000", None));
    h.sim(SimState::Pin2Required);
    assert_eq!(h.commands(), [ModemCommand::EnterPin2("0000".into())]);
    h.result(
        ModemCommand::EnterPin2("0000".into()),
        Err(HalError::Cme { code: 16 }),
    );
    for _ in 0..3 {
        h.sim(SimState::Pin2Required);
        assert_eq!(h.commands(), [], "never retried");
    }
    assert_eq!(h.status(), "PIN2");
    // A module restart does not make it worth another try either.
    h.gw.handle_modem_event(h.now, LineId(1), ModemEvent::ModuleRestarted);
    h.sim(SimState::Ready);
    h.sim(SimState::Pin2Required);
    assert_eq!(h.commands(), []);
    // Another SIM: taken out and a new one put in.
    h.sim(SimState::NotInserted);
    h.identity("89860000000000000029");
    h.sim(SimState::Pin2Required);
    assert_eq!(h.commands(), [ModemCommand::EnterPin2("0000".into())]);
}

#[test]
fn a_pin2_that_could_not_be_checked_is_not_held_against_the_sim() {
    let mut h = H::new(with_pin2("5678", Some(true)));
    assert_eq!(h.commands(), [ModemCommand::ReadFixedDialing]);
    h.result(ModemCommand::ReadFixedDialing, Ok(Some(0)));
    let set = ModemCommand::SetFixedDialing {
        enabled: true,
        pin2: "5678".into(),
    };
    assert_eq!(h.commands(), std::slice::from_ref(&set));
    // The SIM has no FDN service: no PIN2 try was used.
    h.result(set, Err(HalError::Cme { code: 3 }));
    h.sim(SimState::Pin2Required);
    assert_eq!(h.commands(), [ModemCommand::EnterPin2("5678".into())]);
}

#[test]
fn puk2_is_reported_not_entered_f_6_10_7() {
    let mut h = H::new(with_pin2("5678", None));
    h.sim(SimState::Puk2Required);
    assert_eq!(h.commands(), []);
    assert_eq!(h.status(), "PUK2");
}

#[test]
fn fixed_dialing_is_read_then_set_only_when_it_differs_f_6_10_7() {
    // Already on: no PIN2 used.
    let mut h = H::new(with_pin2("5678", Some(true)));
    assert_eq!(h.commands(), [ModemCommand::ReadFixedDialing]);
    h.result(ModemCommand::ReadFixedDialing, Ok(Some(1)));
    assert_eq!(h.commands(), []);

    // Off, wanted off: nothing; wanted on: set with PIN2.
    let mut h = H::new(with_pin2("5678", Some(false)));
    assert_eq!(h.commands(), [ModemCommand::ReadFixedDialing]);
    h.result(ModemCommand::ReadFixedDialing, Ok(Some(0)));
    assert_eq!(h.commands(), []);
    h.result(ModemCommand::ReadFixedDialing, Ok(Some(1)));
    let off = ModemCommand::SetFixedDialing {
        enabled: false,
        pin2: "5678".into(),
    };
    assert_eq!(h.commands(), std::slice::from_ref(&off));
    // A wrong PIN2: never again on this SIM, not even after a module restart.
    h.result(off, Err(HalError::Cme { code: 16 }));
    h.gw.handle_modem_event(h.now, LineId(1), ModemEvent::ModuleRestarted);
    h.sim(SimState::Ready);
    assert_eq!(h.commands(), [], "no read, no set: the PIN2 failed");
    h.sim(SimState::Pin2Required);
    assert_eq!(h.commands(), []);
}

#[test]
fn fixed_dialing_waits_for_a_pin2_entry_under_way_f_6_10_7() {
    let mut h = H::new(with_pin2("5678", Some(true)));
    assert_eq!(h.commands(), [ModemCommand::ReadFixedDialing]);
    h.sim(SimState::Pin2Required);
    assert_eq!(h.commands(), [ModemCommand::EnterPin2("5678".into())]);
    h.result(ModemCommand::ReadFixedDialing, Ok(Some(0)));
    assert_eq!(h.commands(), [], "not while the entry is under way");
    h.result(ModemCommand::EnterPin2("5678".into()), Ok(None));
    assert_eq!(
        h.commands(),
        [ModemCommand::SetFixedDialing {
            enabled: true,
            pin2: "5678".into()
        }]
    );
}

#[test]
fn fixed_dialing_without_pin2_sends_nothing() {
    let policy = LinePolicy {
        fixed_dialing: Some(true),
        ..LinePolicy::default()
    };
    let mut h = H::new(policy);
    assert_eq!(h.commands(), []);
}
