//! The portal-api function: the same router the self-hosted console serves, over
//! the AWS adapters, SES for mail and the TOTP key from SSM. Built once per cold
//! start.

use anyhow::Context;
use rampart_app::portal::{PortalConfig, PortalService};
use rampart_aws::{AwsClients, AwsResources, SesMailer, load_key_parameter};
use rampart_ports::Clock;
use std::sync::Arc;

/// Name of the SSM SecureString parameter holding the base64 TOTP key.
pub const TOTP_KEY_PARAMETER_ENV: &str = "RAMPART_TOTP_KEY_PARAMETER";
/// Sender address of portal mails (a verified SES identity).
pub const MAIL_FROM_ENV: &str = "RAMPART_MAIL_FROM";
/// Base URL of the portal, for the links in mails.
pub const PUBLIC_URL_ENV: &str = "RAMPART_PUBLIC_URL";

/// What the function reads from its environment besides [`AwsResources`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortalSettings {
    pub totp_key_parameter: String,
    pub mail_from: String,
    pub public_url: String,
}

impl PortalSettings {
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let required = |k: &str| {
            lookup(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .with_context(|| format!("environment variable {k} is not set"))
        };
        let settings = Self {
            totp_key_parameter: required(TOTP_KEY_PARAMETER_ENV)?,
            mail_from: required(MAIL_FROM_ENV)?,
            public_url: required(PUBLIC_URL_ENV)?,
        };
        anyhow::ensure!(
            settings.public_url.starts_with("https://")
                || settings.public_url.starts_with("http://"),
            "{PUBLIC_URL_ENV} must be an http(s) URL"
        );
        anyhow::ensure!(
            settings.mail_from.contains('@'),
            "{MAIL_FROM_ENV} must be an email address"
        );
        Ok(settings)
    }

    /// The service configuration: these links, default session lifetimes.
    pub fn portal_config(&self) -> PortalConfig {
        PortalConfig {
            public_url: self.public_url.trim_end_matches('/').to_owned(),
            ..PortalConfig::default()
        }
    }
}

/// The portal router on the AWS adapters; reads the TOTP key from SSM.
pub async fn router(
    resources: &AwsResources,
    clients: &AwsClients,
    clock: Arc<dyn Clock>,
    settings: &PortalSettings,
) -> anyhow::Result<axum::Router> {
    let totp_key = load_key_parameter(&clients.ssm, &settings.totp_key_parameter).await?;
    router_with_key(resources, clients, clock, settings, totp_key)
}

/// The portal router with the TOTP key already loaded.
pub fn router_with_key(
    resources: &AwsResources,
    clients: &AwsClients,
    clock: Arc<dyn Clock>,
    settings: &PortalSettings,
    totp_key: [u8; 32],
) -> anyhow::Result<axum::Router> {
    let table = resources.table(clients, clock.clone());
    let jobs_queue = resources.queue(clients, "jobs")?;
    let mailer = Arc::new(SesMailer::new(
        clients.ses.clone(),
        settings.mail_from.clone(),
    ));
    let portal = PortalService::new(
        table,
        clock,
        mailer,
        jobs_queue,
        totp_key,
        settings.portal_config(),
    );
    // Security scans go through the scan queue (RAMPART_QUEUE_URL_SCAN); without
    // it, starting a scan answers 503.
    let portal = match resources.queue(clients, "scan") {
        Ok(q) => portal.with_scan_queue(q),
        Err(_) => portal,
    };
    Ok(rampart_app::http::portal_api(Arc::new(portal)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn settings_come_from_the_environment() {
        let env = HashMap::from([
            (TOTP_KEY_PARAMETER_ENV, "/rampart/totp-key"),
            (MAIL_FROM_ENV, "no-reply@example.com"),
            (PUBLIC_URL_ENV, "https://console.example.com/"),
        ]);
        let s = PortalSettings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(s.totp_key_parameter, "/rampart/totp-key");
        let config = s.portal_config();
        assert_eq!(config.public_url, "https://console.example.com");
        assert_eq!(config.session_idle, PortalConfig::default().session_idle);

        for missing in [TOTP_KEY_PARAMETER_ENV, MAIL_FROM_ENV, PUBLIC_URL_ENV] {
            let err = PortalSettings::from_lookup(|k| {
                (k != missing)
                    .then(|| env.get(k).map(|v| v.to_string()))
                    .flatten()
            })
            .unwrap_err();
            assert!(err.to_string().contains(missing), "{err}");
        }
        let err = PortalSettings::from_lookup(|k| {
            if k == PUBLIC_URL_ENV {
                Some("console.example.com".into())
            } else {
                env.get(k).map(|v| v.to_string())
            }
        })
        .unwrap_err();
        assert!(err.to_string().contains(PUBLIC_URL_ENV), "{err}");
    }
}
