//! Static members of a KIP-848 group (`group.instance.id`), as Kafka's `GroupMetadataManager`
//! handles them (`getOrMaybeSubscribeStaticConsumerGroupMember`, `throwIfStaticMemberIsUnknown`,
//! `throwIfInstanceIdIsFenced`, `throwIfInstanceIdIsUnreleased`, `replaceMember`):
//!
//! * a heartbeat naming an instance id nobody holds is `UNKNOWN_MEMBER_ID`; one whose member
//!   id is not the holder's is `FENCED_INSTANCE_ID`;
//! * a join (epoch 0) with an instance id held by a member that did not leave with epoch −2
//!   is `UNRELEASED_INSTANCE_ID`; one held by a member away (−2) replaces it: the new member
//!   id takes over its subscription, target assignment and partitions, with epoch 0 and no
//!   group epoch bump.

use super::validate::LEAVE_STATIC_EPOCH;
use super::ConsumerGroup;
use crate::coordinator::Output;
use crate::history::{Event, StaticReplacement};
use crate::protocol::ErrorCode;
use crate::types::MemberId;
use std::sync::Arc;

impl ConsumerGroup {
    /// The member holding `instance`, if it is `id`.
    pub(super) fn static_holder(&self, instance: &str, id: &MemberId) -> Result<MemberId, ErrorCode> {
        match self.static_members.get(instance) {
            None => Err(ErrorCode::UnknownMemberId),
            Some(holder) if holder != id => Err(ErrorCode::FencedInstanceId),
            Some(holder) => Ok(holder.clone()),
        }
    }

    /// Static member `id` joins with `instance` (epoch 0). Returns whether the group epoch
    /// must move: only for a member new to the group, not for one taking a place back.
    pub(super) fn join_static(
        &mut self,
        instance: &Arc<str>,
        id: &MemberId,
        out: &mut Vec<Output>,
    ) -> Result<bool, ErrorCode> {
        let Some(holder) = self.static_members.get(instance).cloned() else {
            self.static_members.insert(instance.clone(), id.clone());
            return Ok(!self.members.contains_key(id));
        };
        if self.members[&holder].epoch != LEAVE_STATIC_EPOCH {
            return Err(ErrorCode::UnreleasedInstanceId);
        }
        let mut member = self.members.remove(&holder).expect("the holder is a member");
        member.epoch = 0;
        let target = self.target.remove(&holder);
        self.members.insert(id.clone(), member);
        if let Some(target) = target {
            self.target.insert(id.clone(), target);
        }
        self.static_members.insert(instance.clone(), id.clone());
        if holder != *id {
            out.push(Output::Event(Event::StaticReplaced(Box::new(
                StaticReplacement {
                    group: self.name.clone(),
                    instance_id: instance.clone(),
                    old: holder,
                    new: id.clone(),
                },
            ))));
        }
        Ok(false)
    }
}
