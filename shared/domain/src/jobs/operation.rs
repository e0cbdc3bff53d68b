//! The operations a job can run on an appliance (SPEC 4.4), the checks the console
//! makes before queueing one (SPEC 3.3, 3.4), and the reasons a command is refused.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

use crate::Timestamp;
use crate::firmware::{self, FirmwareVersion};
use crate::ids::BackupId;
use crate::report::Authorizations;
use crate::validation::{self, Invalid};

/// How far ahead a firmware update may be planned.
pub const MAX_PLAN_AHEAD: Duration = Duration::from_secs(365 * 24 * 3600);

/// The longest application name, as in the check-in report.
pub const MAX_APPLICATION_NAME_CHARS: usize = 64;

/// What to do with an application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppAction {
    Start,
    Stop,
    Restart,
}

/// One operation, as a job carries it and as it is delivered to each appliance.
///
/// The PIN of PIN-protected operations is deliberately not part of it: an operation
/// is stored in the job record and the PIN must never be (SPEC 3.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Operation {
    Reboot,
    Shutdown,
    FactoryReset,
    /// Back to the firmware the appliance reports as its previous one.
    Rollback,
    /// A one-time update to `version`, to run no earlier than `not_before`.
    FirmwareUpdate {
        version: FirmwareVersion,
        not_before: Timestamp,
    },
    Application {
        name: String,
        action: AppAction,
    },
    /// Make a cloud backup now: the appliance encrypts its configuration with its
    /// backup password and uploads it (SPEC 6.3).
    Backup,
    /// Set a new backup password. The password itself travels sealed to the appliance
    /// beside the command, never in the operation; `generation` is the number the new
    /// password will have (each backup records the generation that made it). The
    /// console assigns it (one more than the highest the targets report), so a portal
    /// request may leave it out.
    SetBackupPassword {
        #[serde(default)]
        generation: u32,
    },
    /// Load backup `backup`, taken (accepted by the console) at `taken_at`, into the
    /// appliance's configuration manager as `backup-YYYY-DD-MM_HH:ii:ss`. The console
    /// fills `taken_at` from its index, so a portal request may leave it out.
    RestoreBackup {
        backup: BackupId,
        #[serde(default = "Timestamp::epoch")]
        taken_at: Timestamp,
    },
}

/// One authorization of SPEC 3.3, named as in [`Authorizations`]' fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Authorization {
    Status,
    PinProtectedActions,
    OneTimeUpdate,
    WebSession,
    SecurityScan,
    UtmProfiles,
    CloudBackup,
    Administration,
    Tif,
    DataProtection,
    Fail2ban,
    CloudShield,
    VpnConfiguration,
}

impl Authorization {
    /// Whether the appliance's last reported authorizations grant this one.
    pub fn granted(self, a: &Authorizations) -> bool {
        match self {
            Self::Status => a.status,
            Self::PinProtectedActions => a.pin_protected_actions,
            Self::OneTimeUpdate => a.one_time_update,
            Self::WebSession => a.web_session,
            Self::SecurityScan => a.security_scan,
            Self::UtmProfiles => a.utm_profiles,
            Self::CloudBackup => a.cloud_backup,
            Self::Administration => a.administration,
            Self::Tif => a.tif,
            Self::DataProtection => a.data_protection,
            Self::Fail2ban => a.fail2ban,
            Self::CloudShield => a.cloud_shield,
            Self::VpnConfiguration => a.vpn_configuration,
        }
    }

    /// The snake_case name, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::PinProtectedActions => "pin_protected_actions",
            Self::OneTimeUpdate => "one_time_update",
            Self::WebSession => "web_session",
            Self::SecurityScan => "security_scan",
            Self::UtmProfiles => "utm_profiles",
            Self::CloudBackup => "cloud_backup",
            Self::Administration => "administration",
            Self::Tif => "tif",
            Self::DataProtection => "data_protection",
            Self::Fail2ban => "fail2ban",
            Self::CloudShield => "cloud_shield",
            Self::VpnConfiguration => "vpn_configuration",
        }
    }
}

impl fmt::Display for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a command is refused: by the console before queueing it, or by the appliance
/// (then it arrives as the reason of a `rejected` result). On the wire it is an object
/// whose `code` is [`Refusal::code`]. No variant ever carries a PIN.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Refusal {
    #[error("the appliance does not allow this: authorization {authorization} is off")]
    NotAuthorized { authorization: Authorization },
    #[error("this needs firmware {required} or later")]
    FirmwareTooOld { required: FirmwareVersion },
    #[error("the appliance reports no previous firmware to roll back to")]
    NothingToRollBack,
    /// Only the count is kept, never the PIN that was tried.
    #[error("wrong PIN, {attempts_left} attempts left")]
    WrongPin { attempts_left: u32 },
    #[error("the PIN is blocked until someone logs in on the appliance")]
    PinBlocked,
    #[error("the appliance does not support this operation")]
    Unsupported,
    /// The appliance was removed before the command could be queued for it.
    #[error("the appliance no longer exists")]
    ApplianceGone,
    /// A firmware update to a version not newer than the installed one: it would change
    /// nothing, and the next check-in would "confirm" it at once (rollback is the way
    /// back to an older version).
    #[error("firmware {installed} is installed; the update must be to a newer version")]
    NotAnUpdate { installed: FirmwareVersion },
    /// An application the appliance does not report, or reports as N/A (not
    /// running on it at all): there is nothing to start, stop or restart.
    #[error("the appliance reports no application {name:?} it could start or stop")]
    UnknownApplication { name: String },
}

impl Refusal {
    /// The stable machine-readable code (also the `code` field on the wire).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAuthorized { .. } => "not_authorized",
            Self::FirmwareTooOld { .. } => "firmware_too_old",
            Self::NothingToRollBack => "nothing_to_roll_back",
            Self::WrongPin { .. } => "wrong_pin",
            Self::PinBlocked => "pin_blocked",
            Self::Unsupported => "unsupported",
            Self::ApplianceGone => "appliance_gone",
            Self::NotAnUpdate { .. } => "not_an_update",
            Self::UnknownApplication { .. } => "unknown_application",
        }
    }
}

impl Operation {
    /// The snake_case name of the operation (the `type` field on the wire).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Reboot => "reboot",
            Self::Shutdown => "shutdown",
            Self::FactoryReset => "factory_reset",
            Self::Rollback => "rollback",
            Self::FirmwareUpdate { .. } => "firmware_update",
            Self::Application { .. } => "application",
            Self::Backup => "backup",
            Self::SetBackupPassword { .. } => "set_backup_password",
            Self::RestoreBackup { .. } => "restore_backup",
        }
    }

    /// Whether the appliance asks for its PIN (SPEC 3.4: reboot, shut down, factory
    /// reset, rollback and restore).
    pub fn needs_pin(&self) -> bool {
        matches!(
            self,
            Self::Reboot
                | Self::Shutdown
                | Self::FactoryReset
                | Self::Rollback
                | Self::RestoreBackup { .. }
        )
    }

    /// Whether a secret other than the PIN travels sealed with the command (the new
    /// backup password).
    pub fn carries_sealed_password(&self) -> bool {
        matches!(self, Self::SetBackupPassword { .. })
    }

    /// The oldest firmware the operation runs on, beyond the general minimum every
    /// enrolled appliance already meets.
    pub fn min_firmware(&self) -> Option<FirmwareVersion> {
        match self {
            Self::Rollback => Some(firmware::MIN_ROLLBACK),
            _ => None,
        }
    }

    /// The not-before time of a planned operation.
    pub fn not_before(&self) -> Option<Timestamp> {
        match self {
            Self::FirmwareUpdate { not_before, .. } => Some(*not_before),
            _ => None,
        }
    }

    /// Whether success is established only by a later check-in (the expected firmware,
    /// or an uptime younger than the command), not by the appliance's own report: the
    /// appliance goes down in the middle of these, so "done" from it proves nothing.
    /// See [`super::confirmed_by_checkin`].
    pub fn success_needs_checkin(&self) -> bool {
        matches!(
            self,
            Self::Reboot | Self::Rollback | Self::FirmwareUpdate { .. }
        )
    }

    /// The authorization (SPEC 3.3) the appliance must hold for this operation.
    pub fn required_authorization(&self) -> Authorization {
        match self {
            Self::Reboot | Self::Shutdown | Self::FactoryReset | Self::Rollback => {
                Authorization::PinProtectedActions
            }
            Self::FirmwareUpdate { .. } => Authorization::OneTimeUpdate,
            // The authorization list of SPEC 3.3 has no switch of its own for
            // starting or stopping applications. `status` is the one that lets the
            // console see the applications and their states at all, so it is the one
            // that gates acting on them; the appliance has the last word anyway and
            // may still reject the command.
            Self::Application { .. } => Authorization::Status,
            Self::Backup | Self::SetBackupPassword { .. } | Self::RestoreBackup { .. } => {
                Authorization::CloudBackup
            }
        }
    }

    /// Whether the console may queue this operation for an appliance, given what the
    /// appliance last reported: its authorizations, its firmware and its previous
    /// firmware. Checked in this order: authorization, firmware minimum, then what the
    /// operation itself needs (something to roll back to, a newer version to update to).
    pub fn check_allowed(
        &self,
        authorizations: &Authorizations,
        current_firmware: FirmwareVersion,
        previous_firmware: Option<FirmwareVersion>,
    ) -> Result<(), Refusal> {
        let authorization = self.required_authorization();
        if !authorization.granted(authorizations) {
            return Err(Refusal::NotAuthorized { authorization });
        }
        if let Some(required) = self.min_firmware()
            && current_firmware < required
        {
            return Err(Refusal::FirmwareTooOld { required });
        }
        match self {
            Self::Rollback if previous_firmware.is_none() => Err(Refusal::NothingToRollBack),
            Self::FirmwareUpdate { version, .. } if *version <= current_firmware => {
                Err(Refusal::NotAnUpdate {
                    installed: current_firmware,
                })
            }
            _ => Ok(()),
        }
    }

    /// For an application operation: the appliance must report the application as
    /// UP or DOWN (N/A means it does not run there). Other operations pass.
    pub fn check_application(
        &self,
        reported: &std::collections::BTreeMap<String, crate::report::AppState>,
    ) -> Result<(), Refusal> {
        use crate::report::AppState;
        match self {
            Self::Application { name, .. } => match reported.get(name) {
                Some(AppState::Up | AppState::Down) => Ok(()),
                Some(AppState::NotApplicable) | None => {
                    Err(Refusal::UnknownApplication { name: name.clone() })
                }
            },
            _ => Ok(()),
        }
    }

    /// Checks the operation's own fields: an application name of 1 to 64 characters
    /// without control characters; a firmware update to a supported version, planned at
    /// most [`MAX_PLAN_AHEAD`] after `now` (a time in the past means "now").
    pub fn validate(&self, now: Timestamp) -> Result<(), Invalid> {
        match self {
            Self::Application { name, .. } => {
                validation::text("application", name, MAX_APPLICATION_NAME_CHARS)
            }
            Self::FirmwareUpdate {
                version,
                not_before,
            } => {
                if !version.is_supported() {
                    return Err(Invalid::new(
                        "version",
                        format!("at least {}", firmware::MIN_SUPPORTED),
                    ));
                }
                if *not_before > now.plus(MAX_PLAN_AHEAD) {
                    return Err(Invalid::new("not_before", "at most one year ahead"));
                }
                Ok(())
            }
            Self::SetBackupPassword { generation } if *generation == 0 => {
                Err(Invalid::new("generation", "generations count from 1"))
            }
            Self::Reboot
            | Self::Shutdown
            | Self::FactoryReset
            | Self::Rollback
            | Self::Backup
            | Self::SetBackupPassword { .. }
            | Self::RestoreBackup { .. } => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_operations_need_a_reported_running_or_stopped_application() {
        use crate::report::AppState;
        let reported: std::collections::BTreeMap<String, AppState> = [
            ("ips".to_owned(), AppState::Down),
            ("mail".to_owned(), AppState::NotApplicable),
        ]
        .into_iter()
        .collect();
        let app = |name: &str| Operation::Application {
            name: name.into(),
            action: AppAction::Start,
        };
        assert_eq!(app("ips").check_application(&reported), Ok(()));
        for missing in ["mail", "nope"] {
            assert_eq!(
                app(missing).check_application(&reported),
                Err(Refusal::UnknownApplication {
                    name: missing.into()
                })
            );
        }
        assert_eq!(Operation::Reboot.check_application(&reported), Ok(()));
    }

    fn v(s: &str) -> FirmwareVersion {
        FirmwareVersion::parse(s).unwrap()
    }

    fn all_granted() -> Authorizations {
        Authorizations {
            status: true,
            pin_protected_actions: true,
            one_time_update: true,
            ..Authorizations::default()
        }
    }

    fn update(version: &str) -> Operation {
        Operation::FirmwareUpdate {
            version: v(version),
            not_before: Timestamp::from_secs(1_700_000_000),
        }
    }

    fn app(name: &str) -> Operation {
        Operation::Application {
            name: name.into(),
            action: AppAction::Restart,
        }
    }

    #[test]
    fn pin_protected_operations() {
        for (op, pin) in [
            (Operation::Reboot, true),
            (Operation::Shutdown, true),
            (Operation::FactoryReset, true),
            (Operation::Rollback, true),
            (update("14.2"), false),
            (app("ips"), false),
        ] {
            assert_eq!(op.needs_pin(), pin, "{op:?}");
            let expected = if pin {
                Authorization::PinProtectedActions
            } else if matches!(op, Operation::FirmwareUpdate { .. }) {
                Authorization::OneTimeUpdate
            } else {
                Authorization::Status
            };
            assert_eq!(op.required_authorization(), expected, "{op:?}");
        }
    }

    #[test]
    fn backup_operations_need_cloud_backup_and_restore_the_pin() {
        let restore = Operation::RestoreBackup {
            backup: BackupId::new(1_700_000_000_000, [1; 4]),
            taken_at: Timestamp::from_secs(1_700_000_000),
        };
        for (op, pin, password) in [
            (Operation::Backup, false, false),
            (Operation::SetBackupPassword { generation: 2 }, false, true),
            (restore, true, false),
        ] {
            assert_eq!(op.needs_pin(), pin, "{op:?}");
            assert_eq!(op.carries_sealed_password(), password, "{op:?}");
            assert_eq!(op.required_authorization(), Authorization::CloudBackup);
            assert!(!op.success_needs_checkin());
            let refused = op
                .check_allowed(&all_granted(), v("14.1"), None)
                .unwrap_err();
            assert_eq!(
                refused,
                Refusal::NotAuthorized {
                    authorization: Authorization::CloudBackup
                }
            );
            let granted = Authorizations {
                cloud_backup: true,
                ..Authorizations::default()
            };
            assert_eq!(op.check_allowed(&granted, v("12.2"), None), Ok(()));
        }
        let now = Timestamp::from_secs(1_700_000_000);
        assert_eq!(
            Operation::SetBackupPassword { generation: 0 }
                .validate(now)
                .unwrap_err()
                .field,
            "generation"
        );
    }

    #[test]
    fn missing_authorizations_are_named() {
        let cases = [
            (Operation::Reboot, "pin_protected_actions"),
            (Operation::FactoryReset, "pin_protected_actions"),
            (Operation::Rollback, "pin_protected_actions"),
            (update("14.2"), "one_time_update"),
            (app("ips"), "status"),
        ];
        for (op, missing) in cases {
            let err = op
                .check_allowed(&Authorizations::default(), v("14.1"), Some(v("14.0")))
                .unwrap_err();
            assert_eq!(err.code(), "not_authorized");
            let Refusal::NotAuthorized { authorization } = err else {
                unreachable!()
            };
            assert_eq!(authorization.as_str(), missing);
            assert!(
                op.check_allowed(&all_granted(), v("14.1"), Some(v("14.0")))
                    .is_ok()
            );
        }
    }

    #[test]
    fn rollback_needs_new_enough_firmware_and_a_previous_one() {
        let a = all_granted();
        assert_eq!(
            Operation::Rollback.check_allowed(&a, v("14.0.9"), Some(v("14.0"))),
            Err(Refusal::FirmwareTooOld {
                required: firmware::MIN_ROLLBACK
            })
        );
        assert_eq!(
            Operation::Rollback.check_allowed(&a, v("14.1.0"), None),
            Err(Refusal::NothingToRollBack)
        );
        assert_eq!(
            Operation::Rollback.check_allowed(&a, v("14.1.0"), Some(v("14.0.3"))),
            Ok(())
        );
        // Authorization is checked before firmware.
        assert_eq!(
            Operation::Rollback
                .check_allowed(&Authorizations::default(), v("12.2"), None)
                .unwrap_err()
                .code(),
            "not_authorized"
        );
    }

    #[test]
    fn firmware_updates_go_forward_only() {
        let a = all_granted();
        assert_eq!(update("14.2").check_allowed(&a, v("14.1"), None), Ok(()));
        for same_or_older in ["14.1", "14.0.9"] {
            assert_eq!(
                update(same_or_older).check_allowed(&a, v("14.1"), None),
                Err(Refusal::NotAnUpdate {
                    installed: v("14.1")
                })
            );
        }
    }

    #[test]
    fn validation_of_fields() {
        let now = Timestamp::from_secs(1_700_000_000);
        assert!(app("http_proxy").validate(now).is_ok());
        assert!(app(&"a".repeat(64)).validate(now).is_ok());
        for bad in ["", "bad\nname", &"a".repeat(65)] {
            assert_eq!(app(bad).validate(now).unwrap_err().field, "application");
        }
        let plan = |version: &str, at: Timestamp| Operation::FirmwareUpdate {
            version: v(version),
            not_before: at,
        };
        assert!(plan("14.2", now).validate(now).is_ok());
        assert!(
            plan("14.2", now.minus(Duration::from_secs(60)))
                .validate(now)
                .is_ok()
        );
        assert!(plan("14.2", now.plus(MAX_PLAN_AHEAD)).validate(now).is_ok());
        assert_eq!(
            plan(
                "14.2",
                now.plus(MAX_PLAN_AHEAD).plus(Duration::from_millis(1))
            )
            .validate(now)
            .unwrap_err()
            .field,
            "not_before"
        );
        assert_eq!(
            plan("12.1", now).validate(now).unwrap_err().field,
            "version"
        );
        assert!(Operation::FactoryReset.validate(now).is_ok());
    }

    #[test]
    fn operations_on_the_wire() {
        let cases = [
            (Operation::Reboot, serde_json::json!({"type": "reboot"})),
            (Operation::Shutdown, serde_json::json!({"type": "shutdown"})),
            (
                Operation::FactoryReset,
                serde_json::json!({"type": "factory_reset"}),
            ),
            (Operation::Rollback, serde_json::json!({"type": "rollback"})),
            (
                update("14.2"),
                serde_json::json!({"type": "firmware_update", "version": "14.2.0",
                    "not_before": 1_700_000_000_000_i64}),
            ),
            (
                app("ips"),
                serde_json::json!({"type": "application", "name": "ips", "action": "restart"}),
            ),
        ];
        for (op, json) in cases {
            assert_eq!(serde_json::to_value(&op).unwrap(), json);
            assert_eq!(json["type"], op.name());
            assert_eq!(serde_json::from_value::<Operation>(json).unwrap(), op);
        }
        assert!(
            serde_json::from_value::<Operation>(serde_json::json!({"type": "explode"})).is_err()
        );
    }

    #[test]
    fn refusals_on_the_wire_carry_their_code() {
        let all = [
            Refusal::NotAuthorized {
                authorization: Authorization::OneTimeUpdate,
            },
            Refusal::FirmwareTooOld {
                required: firmware::MIN_ROLLBACK,
            },
            Refusal::NothingToRollBack,
            Refusal::WrongPin { attempts_left: 3 },
            Refusal::PinBlocked,
            Refusal::Unsupported,
            Refusal::ApplianceGone,
            Refusal::NotAnUpdate {
                installed: v("14.1"),
            },
        ];
        for r in all {
            let json = serde_json::to_value(&r).unwrap();
            assert_eq!(json["code"], r.code(), "{json}");
            assert_eq!(serde_json::from_value::<Refusal>(json).unwrap(), r);
            assert!(!r.to_string().is_empty());
        }
        assert_eq!(
            serde_json::to_value(Refusal::WrongPin { attempts_left: 2 }).unwrap(),
            serde_json::json!({"code": "wrong_pin", "attempts_left": 2})
        );
    }

    #[test]
    fn authorization_names_match_the_report_fields() {
        let all = [
            Authorization::Status,
            Authorization::PinProtectedActions,
            Authorization::OneTimeUpdate,
            Authorization::WebSession,
            Authorization::SecurityScan,
            Authorization::UtmProfiles,
            Authorization::CloudBackup,
            Authorization::Administration,
            Authorization::Tif,
            Authorization::DataProtection,
            Authorization::Fail2ban,
            Authorization::CloudShield,
            Authorization::VpnConfiguration,
        ];
        for a in all {
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
            // Granting exactly the field of that name grants exactly this authorization.
            let mut json = serde_json::to_value(Authorizations::default()).unwrap();
            json[a.as_str()] = serde_json::json!(true);
            let granted: Authorizations = serde_json::from_value(json).unwrap();
            for b in all {
                assert_eq!(b.granted(&granted), a == b, "{a} vs {b}");
            }
        }
    }
}
