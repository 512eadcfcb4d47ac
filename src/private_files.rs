//! Files only the server's own user may read (issue 16 point 7): the data directory is
//! 0700; the SQLite database and its WAL, the master key file and the `.eml` files are
//! 0600, whatever the umask. The modes are set explicitly, never left to the umask.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

#[cfg(unix)]
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};

/// Creates `dir` (and its parents) if missing and makes it 0700.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(())
}

/// Opens `path` for writing, created 0600 (`create_new`: fails if it exists).
pub fn create_new_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path)
}

/// Opens `path` for writing, truncated, 0600 even if it existed with another mode.
pub fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let file = options.open(path)?;
    #[cfg(unix)]
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Makes `path` 0600 if it exists.
pub fn restrict_existing(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    Ok(())
}

/// Creates the SQLite database file 0600 if missing, and makes it and its `-wal` and
/// `-shm` files 0600 if they exist: SQLite creates the latter with the database file's
/// mode, so a private database file keeps them private too.
pub fn private_sqlite_files(db: &Path) -> io::Result<()> {
    let name = db.as_os_str();
    if name.is_empty() || name == ":memory:" {
        return Ok(());
    }
    match create_new_private(db) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut path: PathBuf = db.to_owned();
        path.as_mut_os_string().push(suffix);
        restrict_existing(&path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn directories_and_files_are_private_even_when_they_existed() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("a/data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        let db = data.join("r.db");
        std::fs::write(&db, b"").unwrap();
        std::fs::write(data.join("r.db-wal"), b"").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        private_sqlite_files(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&data.join("r.db-wal")), 0o600);
        let fresh = data.join("fresh.db");
        private_sqlite_files(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o600);
        let eml = data.join("x.eml");
        std::fs::write(&eml, b"old").unwrap();
        drop(create_private(&eml).unwrap());
        assert_eq!(mode(&eml), 0o600);
        assert!(create_new_private(&eml).is_err());
    }
}
