//! `rampart`: see `rampart --help`.

use clap::{Parser, Subcommand};
use rampart::admin_cmd::{self, LicenseArgs, Role};
use rampart::agent_cmd::{AgentAction, ApplianceArgs};
use rampart::backend::{self, StoreKind};
use rampart::backup_cmd::{self, BackupCommand};
use rampart::jobs_cmd::{self, JobsCommand};
use rampart::log_cmd::{self, LogArgs};
use rampart::portal_cmd::{
    self, AppliancesCommand, EXIT_CODES_HELP, LoginArgs, PortalOpts, TenantsCommand, UsersCommand,
};
use rampart::profile_cmd::{self, ProfilesCommand};
use rampart::scan_cmd::{self, ScanCommand};
use rampart::serve::{self, ServeConfig};
use rampart::{agent_cmd, demo, logging};
use rampart_app::admin::AdminService;
use rampart_ports::SystemClock;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "rampart",
    version,
    about = "Cloud console for fleets of firewall appliances",
    after_help = EXIT_CODES_HELP
)]
struct Cli {
    /// Log as JSON lines.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct StoreArgs {
    /// Where the embedded store keeps its files.
    #[arg(long, default_value = "./data", env = "RAMPART_DATA_DIR")]
    data_dir: PathBuf,
    /// Which adapter set to use.
    #[arg(long, value_enum, default_value = "embedded", env = "RAMPART_STORE")]
    store: StoreKind,
}

#[derive(Subcommand)]
enum Command {
    /// Run the self-hosted console: both APIs, queue consumers and schedules.
    Serve {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long, default_value = "127.0.0.1:8080", env = "RAMPART_LISTEN")]
        listen: SocketAddr,
        /// The URL appliances reach this server at (default: http://LISTEN).
        #[arg(long, env = "RAMPART_PUBLIC_URL")]
        public_url: Option<String>,
        /// Check-in interval handed to appliances, in seconds.
        #[arg(long, default_value_t = 60)]
        poll_interval: u64,
        /// Also create a demo tenant and run simulated appliances in-process.
        #[arg(long)]
        demo: bool,
        /// How many simulated appliances the demo runs.
        #[arg(long, default_value_t = 6)]
        demo_appliances: usize,
        /// Seconds between maintenance sweeps (command time-outs); for tests.
        #[arg(
            long,
            hide = true,
            env = "RAMPART_MAINTENANCE_EVERY_SECS",
            default_value_t = rampart_app::jobs::maintenance::SWEEP_EVERY.as_secs()
        )]
        maintenance_every_secs: u64,
        /// Special-purpose ranges the security scan may target anyway, as CIDRs
        /// separated by commas (test set-ups only; default: none).
        #[arg(long, env = "RAMPART_SCAN_ALLOW", default_value = "")]
        scan_allow: String,
    },
    /// Act as an appliance (the reference agent), or as a fleet of them; or log in
    /// locally on one (`rampart agent unblock-pin`).
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Agent {
        #[command(subcommand)]
        action: Option<AgentAction>,
        /// The console's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        server: String,
        /// The license serial (single appliance).
        #[arg(long, required_unless_present = "fleet")]
        serial: Option<String>,
        /// File holding the license secret (or set RAMPART_LICENSE_SECRET).
        #[arg(long)]
        secret_file: Option<PathBuf>,
        /// Where the appliance keeps its key and identity.
        #[arg(long)]
        state_file: Option<PathBuf>,
        /// Run this many simulated appliances, licenses from --licenses.
        #[arg(long, requires = "licenses")]
        fleet: Option<usize>,
        /// `SERIAL SECRET` lines, as `rampart admin license add` prints them.
        #[arg(long)]
        licenses: Option<PathBuf>,
        #[arg(long, default_value = "./fleet-state")]
        state_dir: PathBuf,
        #[arg(long, default_value = "14.0.2")]
        firmware: String,
        /// Authorizations, PIN and wrong-PIN limit (the same for every appliance of a
        /// fleet).
        #[command(flatten)]
        appliance: ApplianceArgs,
    },
    /// Operator commands.
    Admin {
        #[command(flatten)]
        store: StoreArgs,
        /// Print JSON instead of tables.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Sign in to a console's portal (password, then TOTP; enrolls TOTP when the
    /// account has none) and keep the session in a file only you can read.
    #[command(after_help = EXIT_CODES_HELP)]
    Login {
        #[command(flatten)]
        opts: PortalOpts,
        #[command(flatten)]
        args: LoginArgs,
    },
    /// End the portal session and remove the session file.
    #[command(after_help = EXIT_CODES_HELP)]
    Logout {
        #[command(flatten)]
        opts: PortalOpts,
    },
    /// Who is signed in.
    #[command(after_help = EXIT_CODES_HELP)]
    Me {
        #[command(flatten)]
        opts: PortalOpts,
    },
    /// The appliances of a tenant, through the portal API.
    #[command(after_help = EXIT_CODES_HELP)]
    Appliances {
        #[command(flatten)]
        opts: PortalOpts,
        #[command(subcommand)]
        command: AppliancesCommand,
    },
    /// A tenant's portal users, through the portal API.
    #[command(after_help = EXIT_CODES_HELP)]
    Users {
        #[command(flatten)]
        opts: PortalOpts,
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Tenants (a reseller's customers), through the portal API.
    #[command(after_help = EXIT_CODES_HELP)]
    Tenants {
        #[command(flatten)]
        opts: PortalOpts,
        #[command(subcommand)]
        command: TenantsCommand,
    },
    /// Operations on appliances (reboot, shutdown, factory reset, rollback, firmware
    /// update, application start/stop/restart) as jobs, through the portal API.
    #[command(after_help = EXIT_CODES_HELP)]
    Jobs {
        #[command(flatten)]
        opts: PortalOpts,
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Cloud backups: a license's backups (list, download, delete), making, restoring
    /// and the backup password as jobs, the regular-backup schedule; and, without a
    /// server, a rotation preview and offline decrypt/encrypt of backup files.
    #[command(after_help = EXIT_CODES_HELP)]
    Backup {
        #[command(flatten)]
        opts: PortalOpts,
        #[command(subcommand)]
        command: BackupCommand,
    },
    /// Security scans: start a TOP 100 (TCP) scan of an appliance's observed public
    /// addresses, show one, list an appliance's scans, show the profile.
    #[command(after_help = EXIT_CODES_HELP)]
    Scan {
        #[command(flatten)]
        opts: PortalOpts,
        #[command(subcommand)]
        command: ScanCommand,
    },
    /// Configuration profiles: list, show, save from a JSON/YAML file, delete,
    /// assign to appliances or tags, and an appliance's configuration status.
    #[command(after_help = EXIT_CODES_HELP)]
    Profiles {
        #[command(flatten)]
        opts: PortalOpts,
        #[command(subcommand)]
        command: ProfilesCommand,
    },
    /// An appliance's communication log, newest first (`rampart log APPLIANCE`), or a
    /// check of its hash chain (`rampart log verify APPLIANCE`).
    #[command(after_help = EXIT_CODES_HELP)]
    Log {
        #[command(flatten)]
        opts: PortalOpts,
        #[command(flatten)]
        args: LogArgs,
    },
}

impl Command {
    /// Whether the command prints JSON (errors then go to stderr as JSON too).
    fn portal_json(&self) -> Option<bool> {
        match self {
            Command::Login { opts, .. }
            | Command::Logout { opts }
            | Command::Me { opts }
            | Command::Appliances { opts, .. }
            | Command::Users { opts, .. }
            | Command::Tenants { opts, .. }
            | Command::Jobs { opts, .. }
            | Command::Backup { opts, .. }
            | Command::Scan { opts, .. }
            | Command::Profiles { opts, .. }
            | Command::Log { opts, .. } => Some(opts.json),
            Command::Serve { .. } | Command::Agent { .. } | Command::Admin { .. } => None,
        }
    }
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Licenses (the stand-in for the reseller portal import).
    License {
        #[command(subcommand)]
        command: LicenseCommand,
    },
    /// Every appliance with Connected/Disconnected.
    Appliances,
    /// The firmware catalog: known versions with release date and security flag.
    Firmware {
        #[command(subcommand)]
        command: admin_cmd::FirmwareCommand,
    },
    /// Remove now the appliances whose license expired more than 40 days ago (the
    /// maintenance schedule does it daily), keeping those a VPN configuration
    /// references; with --dry-run only list what would go and what stays.
    Expire {
        #[arg(long)]
        dry_run: bool,
    },
    /// Appliances removed because their license expired (every tenant).
    Removed,
    /// Create the first reseller tenant and its administrator on a fresh install
    /// (once). Prints the administrator's one-time password.
    Bootstrap {
        /// The reseller's tenant id, e.g. 100000.sms.
        #[arg(long)]
        tenant: String,
        /// The reseller's company name.
        #[arg(long)]
        name: String,
        /// The administrator's e-mail (the sign-in name).
        #[arg(long)]
        email: String,
        /// The console's URL, for the printed sign-in command.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        server: String,
    },
}

#[derive(Subcommand)]
enum LicenseCommand {
    /// Register a license (or --count of them, numbered from --serial); prints each
    /// serial with its license secret, which is shown only here.
    Add {
        #[arg(long)]
        serial: String,
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value = "UTM")]
        product: String,
        /// Last valid day, YYYY-MM-DD.
        #[arg(long)]
        expires: String,
        #[arg(long)]
        cluster_id: Option<String>,
        #[arg(long, value_enum)]
        role: Option<Role>,
        /// Register this many licenses: SERIAL followed by a 6-digit number.
        #[arg(long, default_value_t = 1)]
        count: usize,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_json);
    let portal_json = cli.command.portal_json();
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match portal_json {
            Some(json) => ExitCode::from(portal_cmd::report_error(&e, json)),
            None => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve {
            store,
            listen,
            public_url,
            poll_interval,
            demo,
            demo_appliances,
            maintenance_every_secs,
            scan_allow,
        } => {
            let scan_allow = rampart_scanner::AllowList::parse(&scan_allow)
                .map_err(|e| anyhow::anyhow!("--scan-allow: {e}"))?;
            let config = ServeConfig {
                listen,
                data_dir: store.data_dir.clone(),
                store: store.store,
                public_url,
                poll_interval: Duration::from_secs(poll_interval.max(1)),
                maintenance_every: Duration::from_secs(maintenance_every_secs.max(1)),
            };
            let mut server = serve::start_with(config, Arc::new(SystemClock), scan_allow).await?;
            if demo {
                demo::start(&mut server, &store.data_dir, demo_appliances).await?;
            }
            tokio::signal::ctrl_c().await?;
            tracing::info!("shutting down");
            server.shutdown().await;
            Ok(())
        }
        Command::Agent {
            action: Some(action),
            ..
        } => agent_cmd::action(action, &mut std::io::stdout().lock()),
        Command::Agent {
            action: None,
            server,
            serial,
            secret_file,
            state_file,
            fleet,
            licenses,
            state_dir,
            firmware,
            appliance,
        } => match (fleet, licenses, serial) {
            (Some(n), Some(file), _) => {
                let options = appliance.options()?;
                agent_cmd::run_fleet(&server, n, &file, &state_dir, &firmware, options).await
            }
            (_, _, Some(serial)) => {
                let secret = agent_cmd::read_secret(secret_file.as_deref())?;
                let options = appliance.options()?;
                agent_cmd::run_one(&server, &serial, secret, state_file, &firmware, options).await
            }
            _ => anyhow::bail!("give --serial, or --fleet N with --licenses FILE"),
        },
        Command::Admin {
            store,
            json,
            command,
        } => {
            let clock = Arc::new(SystemClock);
            let stores = backend::open(
                &store.store,
                &store.data_dir,
                "http://127.0.0.1:8080",
                clock.clone(),
            )
            .await?;
            let stores_table = stores.table.clone();
            let admin = AdminService::new(stores.table, clock);
            let mut out = std::io::stdout().lock();
            match command {
                AdminCommand::License {
                    command:
                        LicenseCommand::Add {
                            serial,
                            tenant,
                            product,
                            expires,
                            cluster_id,
                            role,
                            count,
                        },
                } => {
                    let serials: Vec<String> = if count <= 1 {
                        vec![serial]
                    } else {
                        (1..=count).map(|i| format!("{serial}{i:06}")).collect()
                    };
                    let mut licenses = Vec::new();
                    for s in serials {
                        licenses.push(admin_cmd::parse_new_license(&LicenseArgs {
                            serial: s,
                            tenant: tenant.clone(),
                            product: product.clone(),
                            expires: expires.clone(),
                            cluster_id: cluster_id.clone(),
                            role: role.clone(),
                        })?);
                    }
                    admin_cmd::add_licenses(&admin, licenses, json, &mut out).await
                }
                AdminCommand::Firmware { command } => {
                    admin_cmd::firmware(&admin, command, json, &mut out).await
                }
                AdminCommand::Expire { dry_run } => {
                    admin_cmd::expire(&admin, dry_run, json, &mut out).await
                }
                AdminCommand::Removed => admin_cmd::removed(&admin, json, &mut out).await,
                AdminCommand::Appliances => {
                    let rows = admin.fleet().await.map_err(|e| anyhow::anyhow!("{e}"))?;
                    admin_cmd::print_appliances(&rows, json, &mut out)
                }
                AdminCommand::Bootstrap {
                    tenant,
                    name,
                    email,
                    server,
                } => {
                    admin_cmd::bootstrap(
                        stores_table.as_ref(),
                        &tenant,
                        &name,
                        &email,
                        &server,
                        json,
                        &mut out,
                    )
                    .await
                }
            }
        }
        Command::Login { opts, args } => {
            portal_cmd::login(&opts, args, &mut std::io::stdout().lock()).await
        }
        Command::Logout { opts } => portal_cmd::logout(&opts, &mut std::io::stdout().lock()).await,
        Command::Me { opts } => portal_cmd::me(&opts, &mut std::io::stdout().lock()).await,
        Command::Appliances { opts, command } => {
            portal_cmd::appliances(&opts, command, &mut std::io::stdout().lock()).await
        }
        Command::Users { opts, command } => {
            portal_cmd::users(&opts, command, &mut std::io::stdout().lock()).await
        }
        Command::Tenants { opts, command } => {
            portal_cmd::tenants(&opts, command, &mut std::io::stdout().lock()).await
        }
        Command::Jobs { opts, command } => {
            jobs_cmd::jobs(&opts, command, &mut std::io::stdout().lock()).await
        }
        Command::Backup { opts, command } => {
            backup_cmd::backup(&opts, command, &mut std::io::stdout().lock()).await
        }
        Command::Scan { opts, command } => {
            scan_cmd::scan(&opts, command, &mut std::io::stdout().lock()).await
        }
        Command::Profiles { opts, command } => {
            profile_cmd::profiles(&opts, command, &mut std::io::stdout().lock()).await
        }
        Command::Log { opts, args } => {
            log_cmd::log(&opts, args, &mut std::io::stdout().lock()).await
        }
    }
}
