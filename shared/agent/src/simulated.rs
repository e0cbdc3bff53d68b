//! What a simulated appliance reports: its persisted state (firmware, previous
//! firmware, uptime, applications, hostname), the authorizations it is configured
//! with, and plausible, slowly changing load figures.

use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::Serial;
use rampart_domain::report::{ActiveFeatures, AppState, Authorizations, CheckinReport, Interface};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use crate::state::AgentState;

/// The applications of a freshly installed (or factory-reset) appliance.
pub fn default_applications() -> BTreeMap<String, AppState> {
    BTreeMap::from([
        ("http_proxy".to_owned(), AppState::Up),
        ("ips".to_owned(), AppState::Up),
        ("mail_connector".to_owned(), AppState::NotApplicable),
        ("vpn".to_owned(), AppState::Down),
    ])
}

/// The hostname of a freshly installed (or factory-reset) appliance.
pub fn default_hostname(serial: &Serial) -> String {
    format!("utm-{}", serial.as_str().to_ascii_lowercase())
}

/// Every authorization of SPEC 3.3 granted (profile sections: none listed).
pub fn all_authorizations() -> Authorizations {
    Authorizations {
        status: true,
        pin_protected_actions: true,
        one_time_update: true,
        web_session: true,
        security_scan: true,
        utm_profiles: true,
        profile_sections: BTreeMap::new(),
        cloud_backup: true,
        administration: true,
        tif: true,
        data_protection: true,
        fail2ban: true,
        cloud_shield: true,
        vpn_configuration: true,
    }
}

pub struct SimulatedAppliance {
    pub hostname: String,
    pub model: String,
    pub firmware: FirmwareVersion,
    pub previous_firmware: Option<FirmwareVersion>,
    pub booted_at_ms: i64,
    pub applications: BTreeMap<String, AppState>,
    pub authorizations: Authorizations,
    /// The time zone reported at check-in (minutes east of UTC).
    pub utc_offset_minutes: i16,
    /// The generation of the backup password it holds (0: none).
    pub backup_password_generation: u32,
    /// The configuration version held and whether the applied profile sections
    /// turn VPN and Cloud Shield on (SPEC 8).
    pub config_version: u64,
    pub vpn_active: bool,
    pub cloud_shield_active: bool,
    serial: Serial,
    seed: u64,
    tick: u64,
}

impl SimulatedAppliance {
    /// A fresh appliance with every authorization granted.
    pub fn new(serial: &Serial, firmware: FirmwareVersion, booted_at_ms: i64) -> Self {
        let seed = serial
            .as_str()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
            });
        Self {
            hostname: default_hostname(serial),
            model: ["UTM 160", "UTM 320", "UTM 525", "UTM 760"][(seed % 4) as usize].into(),
            firmware,
            previous_firmware: None,
            booted_at_ms,
            applications: default_applications(),
            authorizations: all_authorizations(),
            utc_offset_minutes: 0,
            backup_password_generation: 0,
            config_version: 0,
            vpn_active: false,
            cloud_shield_active: false,
            serial: serial.clone(),
            seed,
            tick: 0,
        }
    }

    /// The appliance as its state file describes it (`firmware` when the file has none).
    pub fn from_state(
        state: &AgentState,
        firmware: FirmwareVersion,
        authorizations: Authorizations,
    ) -> Self {
        let mut a = Self::new(&state.serial, firmware, state.booted_at_ms);
        a.authorizations = authorizations;
        a.sync(state);
        a
    }

    /// Takes over what commands and configuration changes change: firmware, uptime,
    /// applications, hostname, backup password generation, configuration.
    pub fn sync(&mut self, state: &AgentState) {
        self.config_version = state.config.version;
        self.vpn_active = state.config.sections.vpn_active();
        self.cloud_shield_active = state.config.sections.cloud_shield_active();
        self.backup_password_generation = state.backup_password_generation();
        self.hostname = state
            .hostname
            .clone()
            .unwrap_or_else(|| default_hostname(&state.serial));
        if let Some(f) = state.firmware {
            self.firmware = f;
        }
        self.previous_firmware = state.previous_firmware;
        self.booted_at_ms = state.booted_at_ms;
        self.applications = state.applications.clone();
    }

    /// A value wandering around `base` (deterministic per appliance and tick).
    fn wander(&self, base: f64, spread: f64, salt: u64) -> f64 {
        let x = (self.seed ^ salt).wrapping_add(self.tick.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let unit = ((x >> 11) % 10_000) as f64 / 10_000.0;
        (base + (unit - 0.5) * spread).clamp(0.0, 100.0)
    }

    pub fn report(&mut self, now_ms: i64) -> CheckinReport {
        self.tick += 1;
        let octet = (self.seed % 200) as u8 + 10;
        CheckinReport {
            firmware: self.firmware,
            previous_firmware: self.previous_firmware,
            hostname: self.hostname.clone(),
            model: self.model.clone(),
            cpu_percent: (self.wander(20.0, 30.0, 1) * 10.0).round() / 10.0,
            memory_percent: (self.wander(45.0, 10.0, 2) * 10.0).round() / 10.0,
            disk_percent: (self.wander(30.0, 2.0, 3) * 10.0).round() / 10.0,
            uptime_secs: u64::try_from((now_ms - self.booted_at_ms) / 1000).unwrap_or(0),
            interfaces: vec![
                Interface {
                    name: "eth0".into(),
                    // TEST-NET-3 (RFC 5737): a simulated appliance has no real address.
                    addresses: vec![IpAddr::V4(Ipv4Addr::new(203, 0, 113, octet))],
                    public: true,
                },
                Interface {
                    name: "eth1".into(),
                    addresses: vec![IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1))],
                    public: false,
                },
            ],
            applications: self.applications.clone(),
            authorizations: self.authorizations.clone(),
            privacy_accepted: true,
            console_activated: true,
            cluster_sync: None,
            config_version: self.config_version,
            utc_offset_minutes: Some(self.utc_offset_minutes),
            backup_password_generation: self.backup_password_generation,
            // VPN and Cloud Shield come on as profile sections are applied (SPEC 8).
            features: ActiveFeatures {
                report: self.authorizations.status,
                vpn: self.vpn_active,
                cloud_shield: self.cloud_shield_active,
            },
        }
    }

    /// The appliance's configuration as a cloud backup saves it: what the simulation
    /// has of one (identity, firmware, applications, authorizations, time zone).
    pub fn configuration(&self, now_ms: i64) -> serde_json::Value {
        serde_json::json!({
            "format": "rampart-simulated-configuration-v1",
            "serial": self.serial.as_str(),
            "hostname": self.hostname,
            "model": self.model,
            "firmware": self.firmware.to_string(),
            "previous_firmware": self.previous_firmware.map(|f| f.to_string()),
            "applications": self.applications,
            "authorizations": self.authorizations,
            "utc_offset_minutes": self.utc_offset_minutes,
            "saved_at": rampart_domain::Timestamp::from_millis(now_ms).to_rfc3339(),
        })
    }

    /// A seed for deterministic filler, the same for every backup of this appliance.
    pub fn filler_seed(&self) -> u64 {
        self.seed
    }
}
