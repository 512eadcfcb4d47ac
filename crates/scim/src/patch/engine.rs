//! Applies one operation to a document.

use super::{MemberChange, PatchOp};
use crate::ScimError;
use crate::schema::{Registry, ResourceTypeDef};
use serde_json::{Map, Value};

pub(super) struct Engine<'r> {
    #[allow(dead_code)]
    registry: &'r Registry,
    #[allow(dead_code)]
    rt: &'r ResourceTypeDef,
    members: Vec<MemberChange>,
}

impl<'r> Engine<'r> {
    pub(super) fn new(registry: &'r Registry, rt: &'r ResourceTypeDef) -> Self {
        Engine { registry, rt, members: Vec::new() }
    }

    pub(super) fn apply(&mut self, _doc: &mut Map<String, Value>, _op: &PatchOp) -> Result<(), ScimError> {
        Err(ScimError::InvalidSyntax("PATCH is not implemented yet".into()))
    }

    pub(super) fn into_member_changes(self) -> Vec<MemberChange> {
        self.members
    }
}
