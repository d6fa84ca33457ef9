//! The organization's voicemail policy: its passcode rules, its modes for new users and resets, and the sealed
//! default passcode; and, beside it in the same row, the voice message policy (default quota, expiry). The two
//! are read and changed apart, so a passcode change never rewrites the message settings and the other way round.

use std::time::Duration;

use portal_core::Passcode;
use portal_core::rules::PasscodeRules;
use rusqlite::{Connection, params};

use super::audit::{Subject, audit};
use super::{SqliteStore, immediate};
use crate::error::{Result, StoreError};
use crate::messages::{MessageDeletion, MessagePolicy, MessageQuota};
use crate::model::{AuditKind, InitialMode, Moment, Policy, ResetMode, Source, duration_seconds};

impl SqliteStore {
    pub(super) fn policy(&self) -> Result<Policy> {
        Ok(read_policy(&*self.connection()?)?.0)
    }

    pub(super) fn set_policy(
        &self,
        policy: &Policy,
        default_passcode: Option<&Passcode>,
        at: Moment,
        source: &Source,
    ) -> Result<()> {
        policy.rules.validate().map_err(StoreError::InvalidRules)?;
        if policy.temporary_lifetime.as_secs() == 0 {
            return Err(StoreError::Corrupt(
                "the temporary passcode lifetime must be at least a second".into(),
            ));
        }
        let sealed = match default_passcode {
            Some(passcode) => {
                policy
                    .rules
                    .check(passcode, &[])
                    .map_err(StoreError::Rejected)?;
                Some(self.config.sealing_key.seal(passcode)?)
            }
            None => None,
        };
        let needs_default =
            policy.initial == InitialMode::Default || policy.reset == ResetMode::Default;
        let mut conn = self.connection()?;
        immediate(&mut conn, |tx| {
            let (_, stored) = read_policy(tx)?;
            let sealed = sealed.or(stored);
            if needs_default && sealed.is_none() {
                return Err(StoreError::MissingDefaultPasscode);
            }
            tx.execute(
                "UPDATE policy SET initial_mode = ?1, reset_mode = ?2, sealed_default_passcode = ?3, rules_json = ?4,
                     temporary_lifetime_secs = ?5 WHERE id = 1",
                params![
                    initial_mode_name(policy.initial),
                    reset_mode_name(policy.reset),
                    sealed,
                    rules_json(&policy.rules)?,
                    duration_seconds(policy.temporary_lifetime),
                ],
            )?;
            let detail = format!(
                "initial {}, reset {}{}",
                initial_mode_name(policy.initial),
                reset_mode_name(policy.reset),
                if default_passcode.is_some() {
                    ", new default passcode"
                } else {
                    ""
                }
            );
            audit(
                tx,
                at,
                AuditKind::PolicyChanged,
                &Subject::organization(),
                source,
                Some(&detail),
            )
        })
    }

    pub(super) fn message_policy(&self) -> Result<MessagePolicy> {
        read_message_policy(&*self.connection()?)
    }

    pub(super) fn set_message_policy(
        &self,
        policy: &MessagePolicy,
        at: Moment,
        source: &Source,
    ) -> Result<()> {
        policy.validate()?;
        let mut conn = self.connection()?;
        immediate(&mut conn, |tx| {
            tx.execute(
                "UPDATE policy SET message_deletion = ?1, message_expiry_days = ?2, mailbox_quota_messages = ?3,
                     mailbox_quota_minutes = ?4 WHERE id = 1",
                params![
                    policy.deletion.as_str(),
                    policy.expiry_days,
                    policy.quota.max_messages,
                    policy.quota.max_minutes,
                ],
            )?;
            let detail = format!(
                "messages: quota {} messages, {} minutes; deletion {}, after {} days",
                policy.quota.max_messages,
                policy.quota.max_minutes,
                policy.deletion.as_str(),
                policy.expiry_days
            );
            audit(
                tx,
                at,
                AuditKind::PolicyChanged,
                &Subject::organization(),
                source,
                Some(&detail),
            )
        })
    }

    pub(super) fn default_passcode(&self) -> Result<Option<Passcode>> {
        self.unseal_default(&*self.connection()?)
    }

    pub(super) fn rules(&self, conn: &Connection) -> Result<PasscodeRules> {
        Ok(read_policy(conn)?.0.rules)
    }

    pub(super) fn unseal_default(&self, conn: &Connection) -> Result<Option<Passcode>> {
        let (_, sealed) = read_policy(conn)?;
        sealed
            .map(|sealed| self.config.sealing_key.open(&sealed))
            .transpose()
    }
}

pub(super) fn read_policy(conn: &Connection) -> Result<(Policy, Option<Vec<u8>>)> {
    let (initial, reset, sealed, rules, lifetime) = conn.query_row(
        "SELECT initial_mode, reset_mode, sealed_default_passcode, rules_json, temporary_lifetime_secs
         FROM policy WHERE id = 1",
        [],
        |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<Vec<u8>>>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, i64>(4)?,
            ))
        },
    )?;
    let initial = match initial.as_str() {
        "default" => InitialMode::Default,
        "generated" => InitialMode::Generated,
        "none" => InitialMode::None,
        other => return Err(StoreError::Corrupt(format!("initial mode {other}"))),
    };
    let reset = match reset.as_str() {
        "default" => ResetMode::Default,
        "generated" => ResetMode::Generated,
        other => return Err(StoreError::Corrupt(format!("reset mode {other}"))),
    };
    let rules: PasscodeRules = serde_json::from_str(&rules)
        .map_err(|e| StoreError::Corrupt(format!("passcode rules: {e}")))?;
    let policy = Policy {
        initial,
        reset,
        rules,
        temporary_lifetime: Duration::from_secs(u64::try_from(lifetime).unwrap_or(1)),
    };
    Ok((policy, sealed))
}

pub(super) fn read_message_policy(conn: &Connection) -> Result<MessagePolicy> {
    let (deletion, expiry_days, max_messages, max_minutes) = conn.query_row(
        "SELECT message_deletion, message_expiry_days, mailbox_quota_messages, mailbox_quota_minutes
         FROM policy WHERE id = 1",
        [],
        |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, u16>(1)?,
                row.get::<_, u32>(2)?,
                row.get::<_, u32>(3)?,
            ))
        },
    )?;
    let deletion = MessageDeletion::from_name(&deletion)
        .ok_or_else(|| StoreError::Corrupt(format!("message deletion {deletion}")))?;
    Ok(MessagePolicy {
        quota: MessageQuota {
            max_messages,
            max_minutes,
        },
        deletion,
        expiry_days,
    })
}

pub(super) fn rules_json(rules: &PasscodeRules) -> Result<String> {
    serde_json::to_string(rules).map_err(|e| StoreError::Corrupt(format!("passcode rules: {e}")))
}

pub(super) fn initial_mode_name(mode: InitialMode) -> &'static str {
    match mode {
        InitialMode::Default => "default",
        InitialMode::Generated => "generated",
        InitialMode::None => "none",
    }
}

pub(super) fn reset_mode_name(mode: ResetMode) -> &'static str {
    match mode {
        ResetMode::Default => "default",
        ResetMode::Generated => "generated",
    }
}
