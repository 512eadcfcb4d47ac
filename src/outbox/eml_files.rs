//! The `.eml` file transport's writes: each message durably in `<dir>/<outbox id>.eml`,
//! written atomically (a reader never sees half a message; sending a row again replaces
//! its file rather than adding a second one).
//!
//! One thread writes every file, taking the messages that wait for it as one group: the
//! files are written under temporary names, synced together, renamed into place, and one
//! directory sync makes the whole group's renames durable. A worker's round hands over
//! several messages at once; written concurrently from the blocking pool, they queued on
//! the directory's lock and each paid its own directory sync (about a third of the
//! server's CPU time while users were being created).

use std::fs::File;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use tokio::sync::oneshot;

/// Files written per group at most: bounds how long the first of them waits.
const MAX_GROUP: usize = 64;

/// Hands messages to the writing thread. Cheap to clone; the thread ends when the last
/// clone is dropped.
#[derive(Clone)]
pub(super) struct EmlFiles {
    jobs: mpsc::Sender<Job>,
}

struct Job {
    name: String,
    bytes: Vec<u8>,
    done: oneshot::Sender<io::Result<()>>,
}

impl EmlFiles {
    /// Starts the thread that writes into `dir`.
    pub(super) fn start(dir: PathBuf) -> io::Result<EmlFiles> {
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("rollcall-eml".into())
            .spawn(move || run(&dir, &queue))?;
        Ok(EmlFiles { jobs })
    }

    /// Writes `<outbox_id>.eml`; answers once the file is durably in place.
    pub(super) async fn write(&self, outbox_id: &str, bytes: Vec<u8>) -> io::Result<()> {
        let (done, written) = oneshot::channel();
        let job = Job {
            name: format!("{outbox_id}.eml"),
            bytes,
            done,
        };
        self.jobs.send(job).map_err(|_| stopped())?;
        written.await.map_err(|_| stopped())?
    }
}

fn stopped() -> io::Error {
    io::Error::other("the .eml writing thread stopped")
}

fn run(dir: &Path, queue: &mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP
            && let Ok(more) = queue.try_recv()
        {
            group.push(more);
        }
        write_group(dir, group);
    }
}

fn write_group(dir: &Path, group: Vec<Job>) {
    // Recreated if someone removed it while the server ran.
    let ready = crate::private_files::private_dir(dir);
    let mut written: Vec<(Job, io::Result<File>)> = Vec::with_capacity(group.len());
    for job in group {
        let file = match &ready {
            Ok(()) => write_tmp(dir, &job.name, &job.bytes),
            Err(e) => Err(copy(e)),
        };
        written.push((job, file));
    }
    // Contents durable before any rename, so a file never appears under its name empty;
    // the renames durable once the directory is synced.
    let synced = sync_contents(dir, written.iter().filter_map(|(_, f)| f.as_ref().ok()));
    let mut renamed: Vec<(Job, io::Result<()>)> = Vec::with_capacity(written.len());
    for (job, file) in written {
        let outcome = file.and_then(|file| {
            drop(file);
            synced.as_ref().map_err(copy)?;
            std::fs::rename(tmp_path(dir, &job.name), dir.join(&job.name))
        });
        renamed.push((job, outcome));
    }
    let dir_synced = File::open(dir).and_then(|d| d.sync_all());
    for (job, outcome) in renamed {
        let outcome = outcome.and_then(|()| dir_synced.as_ref().map_err(copy).copied());
        // A send that timed out no longer listens.
        let _ = job.done.send(outcome);
    }
}

fn tmp_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".{name}.tmp"))
}

fn write_tmp(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<File> {
    // 0600: the message may carry a sign-in code or an invitation link.
    let mut file = crate::private_files::create_private(&tmp_path(dir, name))?;
    file.write_all(bytes)?;
    Ok(file)
}

/// Makes the written files' contents durable: one `syncfs` for the group on Linux (an
/// `fsync` per file waited for the disk once per file), an `fsync` per file elsewhere.
#[cfg(target_os = "linux")]
fn sync_contents<'a>(dir: &Path, _files: impl Iterator<Item = &'a File>) -> io::Result<()> {
    let dir = File::open(dir)?;
    rustix::fs::syncfs(&dir).map_err(io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn sync_contents<'a>(_dir: &Path, files: impl Iterator<Item = &'a File>) -> io::Result<()> {
    for file in files {
        file.sync_all()?;
    }
    Ok(())
}

/// `io::Error` is not `Clone`: one failure answered to several messages.
fn copy(e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages handed over together are all written, whole, under their own names, and
    /// a message sent again replaces its file.
    #[tokio::test]
    async fn writes_each_message_whole_and_replaces_a_resent_one() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("outbox");
        let files = EmlFiles::start(out.clone()).unwrap();
        let writes = (0..20).map(|i| {
            let files = files.clone();
            async move {
                files
                    .write(&format!("id{i}"), format!("body {i}").into_bytes())
                    .await
            }
        });
        for outcome in futures::future::join_all(writes).await {
            outcome.unwrap();
        }
        files.write("id3", b"again".to_vec()).await.unwrap();
        let mut names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        let mut expected: Vec<String> = (0..20).map(|i| format!("id{i}.eml")).collect();
        expected.sort();
        assert_eq!(names, expected, "no temporary file is left behind");
        assert_eq!(
            std::fs::read_to_string(out.join("id7.eml")).unwrap(),
            "body 7"
        );
        assert_eq!(
            std::fs::read_to_string(out.join("id3.eml")).unwrap(),
            "again"
        );
    }

    /// A directory that cannot be created fails the message, with the reason, rather
    /// than reporting it written.
    #[tokio::test]
    async fn a_directory_that_cannot_be_made_fails_the_message() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"not a directory").unwrap();
        let files = EmlFiles::start(blocker.join("outbox")).unwrap();
        let err = files.write("id1", b"x".to_vec()).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotADirectory, "{err}");
    }
}
