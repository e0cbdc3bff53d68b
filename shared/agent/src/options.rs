//! How an appliance is configured beyond its identity: the authorizations it holds
//! (SPEC 3.3), the PIN set on it and how many wrong PINs block it (SPEC 3.4).

use rampart_domain::jobs::Authorization;
use rampart_domain::report::Authorizations;
use rampart_identity::pin::{DEFAULT_MAX_RETRY, Pin, max_retry_from_env};

use crate::simulated::all_authorizations;

/// The environment variable that sets how many wrong PINs block the PIN.
pub const MAX_RETRY_ENV: &str = "SESSIONAUTH_MAXRETRY";

#[derive(Clone)]
pub struct AgentOptions {
    /// What the appliance allows; it refuses any other command with `not_authorized`.
    pub authorizations: Authorizations,
    /// The PIN to set on the appliance at start; `None` keeps the one in its state
    /// file (if any).
    pub pin: Option<Pin>,
    /// Wrong PINs in a row that block the PIN.
    pub pin_max_retries: u32,
}

impl Default for AgentOptions {
    /// Everything allowed, no PIN given, [`DEFAULT_MAX_RETRY`].
    fn default() -> Self {
        Self {
            authorizations: all_authorizations(),
            pin: None,
            pin_max_retries: DEFAULT_MAX_RETRY,
        }
    }
}

impl std::fmt::Debug for AgentOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentOptions")
            .field("authorizations", &self.authorizations)
            .field("pin_set", &self.pin.is_some())
            .field("pin_max_retries", &self.pin_max_retries)
            .finish()
    }
}

impl AgentOptions {
    /// The defaults, with the retry limit from `SESSIONAUTH_MAXRETRY` (default 5).
    pub fn from_env() -> Self {
        Self {
            pin_max_retries: max_retry_from_env(std::env::var(MAX_RETRY_ENV).ok().as_deref()),
            ..Self::default()
        }
    }

    /// Turns one authorization off.
    pub fn deny(mut self, authorization: Authorization) -> Self {
        set_authorization(&mut self.authorizations, authorization, false);
        self
    }

    /// Sets this PIN on the appliance at start.
    pub fn with_pin(mut self, pin: Pin) -> Self {
        self.pin = Some(pin);
        self
    }

    pub fn with_pin_max_retries(mut self, n: u32) -> Self {
        self.pin_max_retries = n.max(1);
        self
    }
}

/// Switches one authorization in `a`.
pub fn set_authorization(a: &mut Authorizations, which: Authorization, on: bool) {
    let field = match which {
        Authorization::Status => &mut a.status,
        Authorization::PinProtectedActions => &mut a.pin_protected_actions,
        Authorization::OneTimeUpdate => &mut a.one_time_update,
        Authorization::WebSession => &mut a.web_session,
        Authorization::SecurityScan => &mut a.security_scan,
        Authorization::UtmProfiles => &mut a.utm_profiles,
        Authorization::CloudBackup => &mut a.cloud_backup,
        Authorization::Administration => &mut a.administration,
        Authorization::Tif => &mut a.tif,
        Authorization::DataProtection => &mut a.data_protection,
        Authorization::Fail2ban => &mut a.fail2ban,
        Authorization::CloudShield => &mut a.cloud_shield,
        Authorization::VpnConfiguration => &mut a.vpn_configuration,
    };
    *field = on;
}

/// An authorization by its wire name (`Authorization::as_str`, e.g. `one_time_update`).
pub fn parse_authorization(name: &str) -> anyhow::Result<Authorization> {
    serde_json::from_value(serde_json::Value::String(name.trim().to_owned())).map_err(|_| {
        anyhow::anyhow!(
            "unknown authorization {name:?}: one of status, pin_protected_actions, \
             one_time_update, web_session, security_scan, utm_profiles, cloud_backup, \
             administration, tif, data_protection, fail2ban, cloud_shield, vpn_configuration"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denying_turns_exactly_that_authorization_off() {
        for name in [
            "status",
            "pin_protected_actions",
            "one_time_update",
            "fail2ban",
        ] {
            let which = parse_authorization(name).unwrap();
            assert_eq!(which.as_str(), name);
            let o = AgentOptions::default().deny(which);
            assert!(!which.granted(&o.authorizations));
            assert!(
                [Authorization::Status, Authorization::OneTimeUpdate]
                    .into_iter()
                    .filter(|a| *a != which)
                    .all(|a| a.granted(&o.authorizations))
            );
        }
        assert!(parse_authorization("reboot").is_err());
    }

    #[test]
    fn debug_hides_the_pin() {
        let o = AgentOptions::default().with_pin(Pin::parse("246813").unwrap());
        assert!(!format!("{o:?}").contains("246813"));
    }
}
