//! Faults around the daemon: a store file damaged before start, a disk that fills up or turns
//! read-only while it runs, an origin that goes away. A damaged store is refused with a message
//! that says what to do, and left byte for byte as it was; a full or read-only disk fails the
//! polls that would write, while the feeds stored so far are still served, and polling recovers
//! once the disk takes writes again; an origin that is down is polled ever more rarely, and
//! picked up again when it returns.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;

/// Runs the real binary as a daemon on `workspace` and returns its exit code and what it
/// logged, once it has exited.
fn run_daemon(workspace: &Workspace) -> (Option<i32>, String) {
    let mut child = tributary()
        .arg("--config")
        .arg(workspace.config_path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + DEADLINE;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the daemon started on a damaged store");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_damaged_store_is_refused_at_start_and_left_as_it_was() {
    let workspace = Workspace::new();
    workspace.add_shipped_seed();
    workspace.write_config(&[]);
    let once = tributary()
        .arg("once")
        .arg("--config")
        .arg(workspace.config_path())
        .output()
        .unwrap();
    assert!(once.status.success(), "{once:?}");
    let store = workspace.db_path();
    let intact = std::fs::read(&store).unwrap();
    assert!(intact.len() > 8 * 4096, "a store of {} bytes", intact.len());

    // Every page but the first overwritten (a disk that returned garbage), then a file that
    // was never a database at all.
    let mut scrambled = intact.clone();
    let mut state = 0x2545_f491_u32;
    for byte in &mut scrambled[4096..] {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        *byte = state.to_le_bytes()[0];
    }
    let not_a_database = b"these are not the bytes of a database\n".repeat(500);
    for damaged in [scrambled, not_a_database] {
        std::fs::write(&store, &damaged).unwrap();
        let (code, log) = run_daemon(&workspace);
        assert_eq!(code, Some(1), "{log}");
        let expected = format!("the store {} is damaged", store.display());
        assert!(log.contains(&expected), "{log}");
        assert!(log.contains(".recover"), "{log}");
        assert!(
            std::fs::read(&store).unwrap() == damaged,
            "the damaged file was changed"
        );
    }
}

/// A tmpfs of `megabytes` mounted on `dir`, unmounted when dropped.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    /// `None` where this user cannot mount (not root): outside CI the test says so and passes.
    fn mount(dir: &Path, megabytes: u32) -> Option<SmallDisk> {
        std::fs::create_dir_all(dir).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|status| status.success());
        if !mounted {
            return skip_unless_ci("mounting a tmpfs needs root");
        }
        Some(SmallDisk {
            dir: dir.to_path_buf(),
        })
    }

    /// Fills the disk with a file, up to its last byte.
    fn fill(&self) {
        use std::io::Write;
        let mut filler = std::fs::File::create(self.dir.join("filler")).unwrap();
        let block = vec![0u8; 64 * 1024];
        while filler.write_all(&block).is_ok() {}
        let tail = [0u8; 1];
        while filler.write_all(&tail).is_ok() {}
    }

    fn free(&self) {
        std::fs::remove_file(self.dir.join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// `dir` as a FUSE mount of a folder beside it (`tests/common/switchable_fs.py`) that turns
/// read-only while a switch file exists: a filesystem the kernel remounts read-only under a
/// running daemon, which `mount -o remount,ro` refuses to do while files are open for writing.
/// Unmounted when dropped.
struct SwitchableDisk {
    dir: PathBuf,
    switch: PathBuf,
    server: std::process::Child,
}

impl SwitchableDisk {
    /// `None` where it cannot be mounted (not root, or no mfusepy): outside CI the test says so
    /// and passes.
    fn mount(dir: &Path) -> Option<SwitchableDisk> {
        let backing = dir.with_extension("backing");
        std::fs::create_dir_all(&backing).unwrap();
        std::fs::create_dir_all(dir).unwrap();
        let switch = dir.with_extension("read-only");
        let log = dir.with_extension("log");
        let server = Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/common/switchable_fs.py"
            ))
            .arg(&backing)
            .arg(dir)
            .arg(&switch)
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut disk = SwitchableDisk {
            dir: dir.to_path_buf(),
            switch,
            server,
        };
        let deadline = std::time::Instant::now() + DEADLINE;
        while !is_mount_point(dir) {
            if disk.server.try_wait().unwrap().is_some() || std::time::Instant::now() > deadline {
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                return skip_unless_ci(&format!(
                    "the FUSE mount needs root, libfuse 3 and mfusepy: {said}"
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Some(disk)
    }

    fn make_read_only(&self) {
        std::fs::write(&self.switch, "").unwrap();
    }

    fn make_writable(&self) {
        std::fs::remove_file(&self.switch).unwrap();
    }
}

impl Drop for SwitchableDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

fn is_mount_point(dir: &Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    let dir = dir.to_str().unwrap();
    mounts
        .lines()
        .any(|line| line.split(' ').nth(1) == Some(dir))
}

fn news(items: &[(&str, &str)]) -> String {
    let items: Vec<(&str, &str, &str, &str)> = items
        .iter()
        .map(|(guid, body)| (*guid, *guid, *body, "Mon, 01 Jan 2024 00:00:00 GMT"))
        .collect();
    rss_document("News", &items)
}

/// A source polled every second on a store in `workspace`'s data folder: its first entry is
/// stored; then, while `fault` is in force, the poll that would store a second one fails with
/// an error saying each of `says`, the first entry is still served; once `repair` has run, the
/// second entry is stored and the source is well again.
async fn a_store_fault_is_survived(
    workspace: &Workspace,
    fault: impl FnOnce(),
    says: &[&str],
    repair: impl FnOnce(),
) {
    let origin = Origin::start().await;
    origin.serve(
        "/news",
        "application/rss+xml",
        news(&[("first", "<p>One.</p>")]),
    );
    workspace.write_config(&[("news", &origin.url("/news"), "* * * * * *")]);
    let running = start_app(workspace).await;
    let addr = running.addr;
    wait_for_entries(addr, 1).await;

    fault();
    // A body larger than the write-ahead log has grown so far: storing it needs new space.
    let big = format!("<p>{}</p>", "Two. ".repeat(400_000));
    origin.serve(
        "/news",
        "application/rss+xml",
        news(&[("second", &big), ("first", "<p>One.</p>")]),
    );
    let failing = wait_for_status(addr, "news", "a failure", |s| s["state"] == "failing").await;
    let error = failing["last_error"].as_str().unwrap();
    for said in says {
        assert!(error.contains(said), "{failing}");
    }
    let (atom, _) = served_feeds(addr).await;
    assert_eq!(titles(&atom), ["first"]);
    assert_eq!(get(addr, "/healthz").await.status, 200);

    repair();
    let (atom, _) = wait_for_entries(addr, 2).await;
    let mut stored = titles(&atom);
    stored.sort();
    assert_eq!(stored, ["first", "second"]);
    wait_for_status(addr, "news", "recovery", |s| s["state"] == "ok").await;
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_polls_clearly_keeps_serving_and_recovers() {
    let workspace = Workspace::new();
    let Some(disk) = SmallDisk::mount(&workspace.path().join("data"), 16) else {
        return;
    };
    a_store_fault_is_survived(
        &workspace,
        || disk.fill(),
        &["disk is full", "free space on the store's disk"],
        || disk.free(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_turned_read_only_fails_polls_clearly_keeps_serving_and_recovers() {
    let workspace = Workspace::new();
    let Some(disk) = SwitchableDisk::mount(&workspace.path().join("data")) else {
        return;
    };
    a_store_fault_is_survived(
        &workspace,
        || disk.make_read_only(),
        &["disk I/O error", "it may have turned read-only"],
        || disk.make_writable(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_down_is_backed_off_and_picked_up_again_on_its_return() {
    let origin = Origin::start().await;
    let addr_of_origin = origin.addr;
    origin.serve(
        "/news",
        "application/rss+xml",
        news(&[("before", "<p>Up.</p>")]),
    );
    let workspace = Workspace::new();
    workspace.write_config(&[("news", &origin.url("/news"), "* * * * * *")]);
    let running = start_app(&workspace).await;
    let addr = running.addr;
    wait_for_entries(addr, 1).await;

    // Down: every second when healthy; the first failure retried after the period, then after
    // n failures in a row, 2^(n-1) seconds (plus up to 10%).
    origin.stop().await;
    let down = wait_for_status(addr, "news", "three failures", |s| {
        s["consecutive_failures"] == 3
    })
    .await;
    let error = down["last_error"].as_str().unwrap();
    assert!(error.contains("Connection refused"), "{down}");
    let wait = (chrono::DateTime::parse_from_rfc3339(down["next_poll"].as_str().unwrap()).unwrap()
        - chrono::DateTime::parse_from_rfc3339(down["last_attempt"].as_str().unwrap()).unwrap())
    .as_seconds_f64();
    assert!((4.0..=4.9).contains(&wait), "{down}");
    let (atom, _) = served_feeds(addr).await;
    assert_eq!(titles(&atom), ["before"]);

    // Back, on the same address, with a new story.
    let origin = Origin::start_on(addr_of_origin).await;
    origin.serve(
        "/news",
        "application/rss+xml",
        news(&[("after", "<p>Back.</p>"), ("before", "<p>Up.</p>")]),
    );
    wait_for_entries(addr, 2).await;
    let back = wait_for_status(addr, "news", "recovery", |s| s["state"] == "ok").await;
    assert_eq!(back["consecutive_failures"], 0, "{back}");
    running.shutdown().await;
}
