//! GSM group (hunt) mode (Appendix D, F-6.8.4, F-6.8.17): one published access line takes
//! several calls at once by having its SIM forward calls to idle member lines.
//!
//! The manual shows the mechanism only in screenshots (Ambiguities, item 15). Chosen here:
//! the access line's SIM gets **busy** forwarding (`ForwardReason::Busy`, CFB) to the SIM
//! number of the first idle member, in line order; as lines become busy or idle the
//! target is moved, and busy forwarding is switched off when no member is idle. Lines of
//! other devices (F-D.6, [`super::group_peer`]) come after every local member: the first
//! idle remote number is used only when no local member is idle.

use cellgate_hal::{CallForwarding, ForwardReason, LineId};

use super::forwarding::is_phone_number;

/// Why a group plan is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    /// A group without members forwards nowhere.
    #[error("group of {0} has no member line")]
    NoMembers(LineId),
    /// The access line cannot forward to itself.
    #[error("group of {0}: the access line cannot be a member too")]
    AccessIsMember(LineId),
    /// The same line listed twice.
    #[error("group: {0} is listed twice")]
    DuplicateMember(LineId),
    /// F-D.5: without the member's SIM number the access line cannot forward to it.
    #[error("group: {0} has no SIM number; set it (F-6.10.4) or learn it (§7.10)")]
    MissingNumber(LineId),
    /// A SIM number that is not `+` and digits.
    #[error("group: {line} SIM number `{number}` is not a phone number")]
    BadNumber {
        /// The member line.
        line: LineId,
        /// The number as given.
        number: String,
    },
    /// Two members with the same number: one would never be reached.
    #[error("group: {0} and {1} have the same SIM number")]
    DuplicateNumber(LineId, LineId),
}

/// A validated group: the access line and its members with their SIM numbers (F-D.3 to
/// F-D.5), members kept in line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPlan {
    access: LineId,
    members: Vec<(LineId, String)>,
}

impl GroupPlan {
    /// Builds a plan. Every member needs a SIM number (F-D.5); the access line may not be
    /// a member; lines and numbers must be distinct. Members are sorted by line number.
    pub fn new(access: LineId, members: Vec<(LineId, String)>) -> Result<Self, GroupError> {
        Self::build(access, members, false)
    }

    /// Like [`GroupPlan::new`] for a group server (F-D.6): the members may all be on
    /// other devices, so an empty local member list is allowed.
    pub fn server(access: LineId, members: Vec<(LineId, String)>) -> Result<Self, GroupError> {
        Self::build(access, members, true)
    }

    fn build(
        access: LineId,
        members: Vec<(LineId, String)>,
        allow_empty: bool,
    ) -> Result<Self, GroupError> {
        if members.is_empty() && !allow_empty {
            return Err(GroupError::NoMembers(access));
        }
        let mut members: Vec<(LineId, String)> = members
            .into_iter()
            .map(|(line, number)| (line, number.trim().to_string()))
            .collect();
        members.sort_by_key(|(line, _)| *line);
        for (i, (line, number)) in members.iter().enumerate() {
            if *line == access {
                return Err(GroupError::AccessIsMember(access));
            }
            if number.is_empty() {
                return Err(GroupError::MissingNumber(*line));
            }
            if !is_phone_number(number) {
                return Err(GroupError::BadNumber {
                    line: *line,
                    number: number.clone(),
                });
            }
            if let Some((other, _)) = members[..i].iter().find(|(l, _)| l == line) {
                return Err(GroupError::DuplicateMember(*other));
            }
            if let Some((other, _)) = members[..i].iter().find(|(_, n)| n == number) {
                return Err(GroupError::DuplicateNumber(*other, *line));
            }
        }
        Ok(Self { access, members })
    }

    /// The published line whose SIM forwards (F-D.3).
    pub fn access(&self) -> LineId {
        self.access
    }

    /// The member lines and their SIM numbers, in line order (F-D.4, F-D.5).
    pub fn members(&self) -> &[(LineId, String)] {
        &self.members
    }
}

/// A forwarding change to apply to the access line's SIM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupChange {
    /// The access line.
    pub line: LineId,
    /// Busy forwarding to set: on to a member's number, or off.
    pub forwarding: CallForwarding,
}

/// Where busy forwarding points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupTarget {
    /// A member line of this device.
    Local(LineId),
    /// The SIM number of a line of another device (F-D.6).
    Remote(String),
}

/// What the group last asked the access line's SIM to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupState {
    /// `None`: nothing applied yet; `Some(None)`: forwarding off; `Some(Some(t))`: to `t`.
    applied: Option<Option<GroupTarget>>,
}

impl GroupState {
    /// A state that has applied nothing: the first [`GroupState::update`] always gives a
    /// change, since the SIM's forwarding is unknown.
    pub fn new() -> Self {
        Self::default()
    }

    /// Works out the busy-forwarding target: the first idle member in line order, or off
    /// when none is idle. Returns the change to apply, or `None` when the target is the
    /// one already applied. Call it whenever a line becomes busy or idle.
    pub fn update(
        &mut self,
        plan: &GroupPlan,
        idle: impl Fn(LineId) -> bool,
    ) -> Option<GroupChange> {
        self.update_with_remote(plan, idle, &[])
    }

    /// [`GroupState::update`] with the idle numbers of other devices' lines (F-D.6), in
    /// their stable order: the first idle local member in line order, else the first
    /// idle remote number, else off.
    pub fn update_with_remote(
        &mut self,
        plan: &GroupPlan,
        idle: impl Fn(LineId) -> bool,
        remote_idle: &[String],
    ) -> Option<GroupChange> {
        let local = plan.members.iter().find(|(line, _)| idle(*line));
        let target = match local {
            Some((line, number)) => Some((GroupTarget::Local(*line), number.clone())),
            None => remote_idle
                .iter()
                .find(|n| plan.members.iter().all(|(_, own)| own != *n))
                .map(|n| (GroupTarget::Remote(n.clone()), n.clone())),
        };
        let applied = target.as_ref().map(|(t, _)| t.clone());
        if self.applied.as_ref() == Some(&applied) {
            return None;
        }
        self.applied = Some(applied);
        Some(GroupChange {
            line: plan.access,
            forwarding: CallForwarding {
                reason: ForwardReason::Busy,
                enabled: target.is_some(),
                number: target.map(|(_, number)| number),
                no_reply_seconds: None,
            },
        })
    }

    /// The local member busy forwarding points at, as last applied (`None` when off,
    /// unknown or on another device).
    pub fn target(&self) -> Option<LineId> {
        match &self.applied {
            Some(Some(GroupTarget::Local(line))) => Some(*line),
            _ => None,
        }
    }

    /// Where busy forwarding points, as last applied (`None` when off or unknown).
    pub fn applied_target(&self) -> Option<&GroupTarget> {
        self.applied.as_ref().and_then(Option::as_ref)
    }

    /// Forgets what was applied (the forwarding command failed, or the SIM was changed),
    /// so the next [`GroupState::update`] applies the target again.
    pub fn invalidate(&mut self) {
        self.applied = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn plan() -> GroupPlan {
        GroupPlan::new(
            LineId(1),
            vec![
                (LineId(3), "13800000003".into()),
                (LineId(2), "+8613800000002".into()),
                (LineId(4), " 13800000004 ".into()),
            ],
        )
        .unwrap()
    }

    #[test]
    fn f_d_5_plan_validation() {
        let p = plan();
        assert_eq!(p.access(), LineId(1));
        assert_eq!(
            p.members().iter().map(|m| m.0).collect::<Vec<_>>(),
            vec![LineId(2), LineId(3), LineId(4)],
            "members in line order"
        );
        assert_eq!(p.members()[2].1, "13800000004");
        assert_eq!(
            GroupPlan::new(LineId(1), vec![]),
            Err(GroupError::NoMembers(LineId(1)))
        );
        assert_eq!(
            GroupPlan::new(LineId(1), vec![(LineId(2), "".into())]),
            Err(GroupError::MissingNumber(LineId(2)))
        );
        assert_eq!(
            GroupPlan::new(LineId(1), vec![(LineId(1), "1001".into())]),
            Err(GroupError::AccessIsMember(LineId(1)))
        );
        assert_eq!(
            GroupPlan::new(
                LineId(1),
                vec![(LineId(2), "1001".into()), (LineId(2), "1002".into())]
            ),
            Err(GroupError::DuplicateMember(LineId(2)))
        );
        assert_eq!(
            GroupPlan::new(
                LineId(1),
                vec![(LineId(3), "1001".into()), (LineId(2), "1001".into())]
            ),
            Err(GroupError::DuplicateNumber(LineId(2), LineId(3)))
        );
        let e = GroupPlan::new(LineId(1), vec![(LineId(2), "10x1".into())]).unwrap_err();
        assert!(e.to_string().contains("`10x1`"), "{e}");
    }

    #[test]
    fn f_d_1_busy_forwarding_follows_the_first_idle_member() {
        let p = plan();
        let mut s = GroupState::new();
        let mut busy: HashSet<LineId> = HashSet::new();

        // All idle: forward to line 2.
        let c = s.update(&p, |l| !busy.contains(&l)).unwrap();
        assert_eq!(c.line, LineId(1));
        assert_eq!(c.forwarding.reason, ForwardReason::Busy);
        assert!(c.forwarding.enabled);
        assert_eq!(c.forwarding.number.as_deref(), Some("+8613800000002"));
        assert_eq!(s.target(), Some(LineId(2)));
        // No change while the target stays.
        busy.insert(LineId(1));
        busy.insert(LineId(4));
        assert_eq!(s.update(&p, |l| !busy.contains(&l)), None);
        // Line 2 takes a forwarded call: move to line 3.
        busy.insert(LineId(2));
        let c = s.update(&p, |l| !busy.contains(&l)).unwrap();
        assert_eq!(c.forwarding.number.as_deref(), Some("13800000003"));
        // Everyone busy: forwarding off.
        busy.insert(LineId(3));
        let c = s.update(&p, |l| !busy.contains(&l)).unwrap();
        assert!(!c.forwarding.enabled);
        assert_eq!(c.forwarding.number, None);
        assert_eq!(s.target(), None);
        assert_eq!(s.update(&p, |l| !busy.contains(&l)), None);
        // Line 4 frees up.
        busy.remove(&LineId(4));
        let c = s.update(&p, |l| !busy.contains(&l)).unwrap();
        assert_eq!(c.forwarding.number.as_deref(), Some("13800000004"));
        // Line 2 frees up: back to the first in line order.
        busy.remove(&LineId(2));
        let c = s.update(&p, |l| !busy.contains(&l)).unwrap();
        assert_eq!(c.forwarding.number.as_deref(), Some("+8613800000002"));
    }

    #[test]
    fn f_d_1_first_update_always_applies_even_when_off() {
        let p = plan();
        let mut s = GroupState::new();
        let c = s.update(&p, |_| false).unwrap();
        assert!(
            !c.forwarding.enabled,
            "unknown SIM state: switch off explicitly"
        );
        assert_eq!(s.update(&p, |_| false), None);
        s.invalidate();
        assert!(
            s.update(&p, |_| false).is_some(),
            "re-applied after invalidate"
        );
    }

    #[test]
    fn f_d_6_remote_numbers_come_after_local_members() {
        let p = plan();
        let mut s = GroupState::new();
        let remote = vec!["+8613800000009".to_string(), "+8613800000008".to_string()];
        let c = s
            .update_with_remote(&p, |l| l == LineId(3), &remote)
            .unwrap();
        assert_eq!(c.forwarding.number.as_deref(), Some("13800000003"));
        let c = s.update_with_remote(&p, |_| false, &remote).unwrap();
        assert_eq!(c.forwarding.number.as_deref(), Some("+8613800000009"));
        assert_eq!(s.target(), None);
        assert_eq!(
            s.applied_target(),
            Some(&GroupTarget::Remote("+8613800000009".into()))
        );
        assert_eq!(s.update_with_remote(&p, |_| false, &remote), None);
        let c = s.update_with_remote(&p, |_| false, &remote[1..]).unwrap();
        assert_eq!(c.forwarding.number.as_deref(), Some("+8613800000008"));
        let c = s.update_with_remote(&p, |_| false, &[]).unwrap();
        assert!(!c.forwarding.enabled);
        // A server without local members.
        let server = GroupPlan::server(LineId(1), vec![]).unwrap();
        let c = s.update_with_remote(&server, |_| true, &remote).unwrap();
        assert_eq!(c.forwarding.number.as_deref(), Some("+8613800000009"));
    }
}
