//! One writer, many readers: a second writable open — in this process or
//! another — is `HvError::Locked` naming the file; read-only opens are never
//! blocked.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zc_hv16::{HV16, HvError, HvStore, ItemMemory};

const CHILD_ENV: &str = "ZC_HV16_LOCK_CHILD_STORE";

fn assert_locked<T: std::fmt::Debug>(r: Result<T, HvError>, path: &Path) {
    match r {
        Err(HvError::Locked { path: p }) => assert_eq!(p, path),
        other => panic!("expected Locked for {}: {other:?}", path.display()),
    }
}

#[test]
fn second_store_writer_in_this_process_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.hv16");
    let mut a = HvStore::create(&p).unwrap();
    assert_locked(HvStore::open_rw(&p), &p);
    assert_locked(HvStore::create(&p), &p);
    a.push(&HV16::random(0)).unwrap();
    // readers are not blocked, and see the committed count
    let r = HvStore::open(&p).unwrap();
    assert_eq!(r.len(), 1);
    a.push(&HV16::random(1)).unwrap();
    drop(a);
    // the refused create left the file alone; the lock went with the handle
    let mut b = HvStore::open_rw(&p).unwrap();
    assert_eq!(b.len(), 2);
    b.push(&HV16::random(2)).unwrap();
    drop(b);
    assert_eq!(HvStore::open(&p).unwrap().vectors(), &[0, 1, 2].map(HV16::random)[..]);
    // a writer that is gone no longer blocks create
    drop(HvStore::create(&p).unwrap());
    assert_eq!(HvStore::open_rw(&p).unwrap().len(), 0);
}

/// The scenario from the issue: two `ItemMemory::open` handles both got index
/// 1 and one name was lost silently. The second open is now an error.
#[test]
fn second_item_memory_writer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("im.hv16");
    let mut im = ItemMemory::create(&p).unwrap();
    im.intern("a").unwrap();
    drop(im);
    let mut first = ItemMemory::open_rw(&p).unwrap();
    assert_locked(ItemMemory::open_rw(&p), &p);
    assert_locked(ItemMemory::create(&p), &p);
    assert_eq!(first.intern("b").unwrap(), 1);
    let reader = ItemMemory::open(&p).unwrap();
    assert_eq!(reader.index_of("b"), Some(1));
    drop(first);
    let mut second = ItemMemory::open_rw(&p).unwrap();
    assert_eq!(second.intern("c").unwrap(), 2);
    drop(second);
    let im = ItemMemory::open(&p).unwrap();
    assert_eq!((im.len(), im.index_of("b"), im.index_of("c")), (3, Some(1), Some(2)));
    let e = ItemMemory::open_rw(&p)
        .and_then(|_a| ItemMemory::open_rw(&p))
        .unwrap_err()
        .to_string();
    assert!(e.contains("im.hv16") && e.contains("open for writing"), "{e}");
}

/// The child half of `writer_in_another_process_is_refused`: does nothing
/// unless started by it.
#[test]
fn lock_holder_child() {
    let Ok(store) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut st = HvStore::open_rw(&store).unwrap();
    st.push(&HV16::random(7)).unwrap();
    std::fs::write(format!("{store}.ready"), b"").unwrap();
    // hold the lock until the parent closes our stdin
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
}

#[test]
fn writer_in_another_process_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.hv16");
    drop(HvStore::create(&p).unwrap());
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "lock_holder_child", "--test-threads", "1"])
        .env(CHILD_ENV, &p)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let ready = dir.path().join("x.hv16.ready");
    let t = Instant::now();
    while !ready.exists() {
        assert!(t.elapsed() < Duration::from_secs(60), "child never took the lock");
        if let Some(status) = child.try_wait().unwrap() {
            panic!("child exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_locked(HvStore::open_rw(&p), &p);
    assert_locked(HvStore::create(&p), &p);
    let r = HvStore::open(&p).unwrap();
    assert_eq!(r.len(), 1);
    let mut stdin = child.stdin.take().unwrap();
    stdin.flush().unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success());
    let mut w = HvStore::open_rw(&p).unwrap();
    assert_eq!(w.push(&HV16::random(8)).unwrap(), 1);
}
