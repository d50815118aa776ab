//! What the gateway decides about its lines, as pure state machines with no I/O:
//! which line takes a call and what number it dials (routing), whether the SIM may still
//! call (limits), the call statistics (CDR), when a line is switched off (run policy) and
//! how the modules are managed (IMEI, cells, forwarding, operator). Time comes in as
//! arguments (`std::time::Instant` for durations, [`time::PrimitiveDateTime`] for the
//! network's local time), so the engine and the simulator drive it on a virtual clock.
//!
//! | module | job |
//! |---|---|
//! | [`routing`] | dial rules (Appendix G), line prefixes (F-6.3.13 to 18), auth lists (§6.7, §6.9), inbound caller map, call memory, rest rule |
//! | [`limits`] | SIM limits: minutes, calls, SMS, billing unit (§6.10) |
//! | [`cdr`] | ACD, ASR, totals and call records (§5.2.1) |
//! | [`schedule`] | daily `HH:MM` and every-`M`-minutes schedules (F-6.1.10, F-6.1.11) |
//! | [`run_policy`] | conditions and actions of §6.16 |
//! | [`gsm`] | IMEI, BCCH selection, call forwarding, operator (§6.11 to §6.15) |
//! | [`store`] | counters and CDR that survive restarts (SQLite) |

pub mod cdr;
pub mod gsm;
pub mod limits;
pub mod routing;
pub mod run_policy;
pub mod schedule;
pub mod store;
