//! `rampart appliances status` against a real self-hosted console whose demo
//! appliances check in every second: the table, `--json`, the PNG chart, the
//! appliance found by name or by id, and the exit codes of a wrong name and of a
//! range the console refuses.

use rampart::portal_cmd::{EXIT_REFUSED, EXIT_USAGE};
use rampart::status_chart;
use rampart_domain::status_history::StatusHistoryView;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

mod support;

async fn rampart(session: &Path, args: &[&str]) -> Output {
    let session = session.to_owned();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_rampart"))
            .env("RAMPART_SESSION_FILE", session)
            .args(args)
            .output()
            .expect("rampart runs")
    })
    .await
    .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_prints_a_table_json_and_a_png_chart() {
    let dir = tempfile::tempdir().unwrap();
    let server = support::demo_console(dir.path(), 2).await;
    let session = dir.path().join("session.json");
    support::sign_in_demo_admin(&server, dir.path(), &session).await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let list = rampart(
        &session,
        &["appliances", "list", "--tenant", "100001.sms", "--json"],
    )
    .await;
    assert!(list.status.success(), "{}", stderr(&list));
    let page: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let name = page["items"][0]["name"].as_str().unwrap().to_owned();
    let id = page["items"][0]["id"].as_str().unwrap().to_owned();

    // By name, as a table: a header line, the column names, at least one row.
    let table = rampart(
        &session,
        &[
            "appliances",
            "status",
            &name,
            "--tenant",
            "100001.sms",
            "--since",
            "1h",
        ],
    )
    .await;
    assert!(table.status.success(), "{}", stderr(&table));
    let text = stdout(&table);
    assert!(text.starts_with(&format!("{name}: ")), "{text}");
    assert!(
        text.contains("FROM") && text.contains("CPU") && text.contains("DISK"),
        "{text}"
    );
    assert!(text.lines().count() >= 3, "{text}");

    // By id, as JSON: the samples the demo appliance reported.
    let json = rampart(
        &session,
        &[
            "appliances",
            "status",
            &id,
            "--tenant",
            "100001.sms",
            "--since",
            "2h",
            "--points",
            "10",
            "--json",
        ],
    )
    .await;
    assert!(json.status.success(), "{}", stderr(&json));
    let view: StatusHistoryView = serde_json::from_slice(&json.stdout).unwrap();
    assert!(!view.points.is_empty() && view.points.len() <= 10);
    // Two hours (and the moment the request took) in 10 whole-minute buckets.
    assert!(
        view.bucket_secs.is_multiple_of(60) && (12 * 60..=13 * 60).contains(&view.bucket_secs),
        "{}",
        view.bucket_secs
    );
    for p in &view.points {
        assert!(p.samples >= 1);
        assert!((0.0..=100.0).contains(&p.cpu.avg) && p.cpu.max >= p.cpu.avg);
    }

    // The chart: a PNG of the documented size, and what it shows on stdout.
    let png = dir.path().join("fw.png");
    let chart = rampart(
        &session,
        &[
            "appliances",
            "status",
            &name,
            "--tenant",
            "100001.sms",
            "--since",
            "7d",
            "--png",
            png.to_str().unwrap(),
        ],
    )
    .await;
    assert!(chart.status.success(), "{}", stderr(&chart));
    assert!(stdout(&chart).contains("red CPU"), "{}", stdout(&chart));
    let decoder = png::Decoder::new(std::fs::File::open(&png).unwrap());
    let reader = decoder.read_info().unwrap();
    assert_eq!(
        (reader.info().width, reader.info().height),
        (status_chart::WIDTH, status_chart::HEIGHT)
    );

    // No such name: a usage error. Further back than the history: refused.
    let missing = rampart(
        &session,
        &[
            "appliances",
            "status",
            "no-such-fw",
            "--tenant",
            "100001.sms",
        ],
    )
    .await;
    assert_eq!(
        missing.status.code(),
        Some(i32::from(EXIT_USAGE)),
        "{}",
        stderr(&missing)
    );
    assert!(
        stderr(&missing).contains("no appliance named"),
        "{}",
        stderr(&missing)
    );
    let old = rampart(
        &session,
        &[
            "appliances",
            "status",
            &id,
            "--tenant",
            "100001.sms",
            "--since",
            "40d",
        ],
    )
    .await;
    assert_eq!(
        old.status.code(),
        Some(i32::from(EXIT_REFUSED)),
        "{}",
        stderr(&old)
    );
    assert!(stderr(&old).contains("30 days"), "{}", stderr(&old));
    server.shutdown().await;
}
