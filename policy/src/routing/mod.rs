//! Routing decisions: which line takes a call, what number it dials, and who may call at
//! all. Everything here is pure: text in, decisions out; time comes in as
//! [`std::time::Instant`] and randomness through a caller-supplied [`rand::Rng`].
//!
//! | module | manual | job |
//! |---|---|---|
//! | [`dial_rule`] | Appendix G, F-6.6.8/9, F-6.8.9, F-6.8.12 | `cond:action\|…` number rewriting, strict mode |
//! | [`prefix`] | F-6.3.13 to F-6.3.20, F-6.3.25, Appendix F | line prefixes, 603 on no match, "+1 per line" auto-configure |
//! | [`number_list`] | §6.7, §6.9 | outbound / inbound authentication: lists and DTMF password |
//! | [`inbound_map`] | F-6.8.10, F-6.8.11 | inbound forward number: two-stage, fixed target or caller-prefix map |
//! | [`memory`] | F-6.6.2 | callee → line memory for 10 minutes |
//! | [`rest`] | F-6.6.10 | "every N calls rest a–b seconds" |
//! | [`repeat_callers`] | F-6.8.18 | automatic blacklist of repeated callers |
//!
//! The order the engine applies them to an outbound request: authentication
//! ([`CallAuth::check`]), then the line — call memory first ([`CallMemory::recall`]),
//! else prefixes ([`LinePrefixes::route`]) among lines that are not resting
//! ([`RestState::resting`]) — then the chosen line's dial rules ([`DialRules::rewrite`]).
//! The user-facing description of the syntaxes and choices is `docs/routing.md`.

pub mod dial_rule;
pub mod inbound_map;
pub mod memory;
pub mod number_list;
pub mod prefix;
pub mod repeat_callers;
pub mod rest;
mod text;

pub use dial_rule::{DialRuleError, DialRules, MAX_DIAL_RULES_LEN};
pub use inbound_map::{CallerMap, InboundForward, InboundForwardError, InboundRoute};
pub use memory::{CallMemory, DEFAULT_CALL_MEMORY_CAPACITY, DEFAULT_CALL_MEMORY_TTL};
pub use number_list::{
    AuthDecision, AuthMode, CallAuth, CallAuthError, ListTarget, NumberList, NumberListError,
    MAX_NUMBER_LIST_BYTES, MAX_PASSWORD_LEN,
};
pub use prefix::{
    auto_configure, AutoConfigError, LinePrefixError, LinePrefixes, MatchOn, PrefixList,
    PrefixListError, PrefixRoute, MAX_PREFIX_LIST_LEN,
};
pub use repeat_callers::{
    RepeatCallers, RepeatConfig, RepeatConfigError, RepeatVerdict, DEFAULT_BLOCK_FOR,
    DEFAULT_REPEAT_WINDOW,
};
pub use rest::{RestRule, RestRuleError, RestState};
