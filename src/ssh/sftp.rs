//! The `sftp` subsystem: SFTP (russh-sftp) over the session channel, answered from a
//! [`Transfer`], which decides what this user may see and audits. This module only
//! speaks the protocol: the home directory `/` holds one directory, `exports`, which
//! holds the user's own exports, read-only. Every other request — any other path, a
//! write, remove, rename, mkdir, setstat, symlink — is refused with "permission denied".
//!
//! The channel's bytes go through an in-memory pipe to the protocol task, so the session
//! can cut it off: when the session ends (an operator, a disabled account, idle or
//! maximum time), the pipe is dropped, the client is told why on stderr, and the
//! channel (and so the connection) closes.

use std::collections::HashMap;
use std::sync::Arc;

use russh::server::Msg as SshMsg;
use russh::{ChannelReadHalf, ChannelWriteHalf};
use russh_sftp::protocol::{
    Attrs, Data, File, FileAttributes, Handle, Name, OpenFlags, Status, StatusCode, Version,
};
use russh_sftp::server::{Config, Handler, StatusReply};

use crate::session::exports::{self, ExportFile, Refused, Target, Transfer, CHANGE, DOWNLOAD};

/// Bytes buffered between the channel and the protocol task, each way.
const PIPE: usize = 256 * 1024;
/// The most a read request is answered with (OpenSSH asks 32 KiB to 255 KiB).
const MAX_READ: u32 = 256 * 1024;
/// Files open at once in one session.
const MAX_OPEN: usize = 16;

/// Serve SFTP on a channel whose client asked for the `sftp` subsystem, as `transfer`
/// allows (or tell the client why not), until either side ends it. Returns once the
/// channel is closed.
pub async fn serve(
    mut read: ChannelReadHalf,
    write: ChannelWriteHalf<SshMsg>,
    transfer: Result<Transfer, String>,
) {
    let transfer = match transfer {
        Ok(t) => Arc::new(t),
        Err(why) => {
            let _ = write
                .extended_data_bytes(1, format!("moat: {why}\r\n").into_bytes())
                .await;
            let _ = write.exit_status(1).await;
            let _ = write.eof().await;
            let _ = write.close().await;
            return;
        }
    };
    let (ours, theirs) = tokio::io::duplex(PIPE);
    let handler = Sftp {
        transfer: Arc::clone(&transfer),
        open: HashMap::new(),
        dirs: HashMap::new(),
        next: 0,
    };
    let config = Config {
        max_client_packet_len: 256 * 1024 + 1024,
    };
    russh_sftp::server::run_with_config(theirs, handler, config).await;
    let (mut from_task, mut to_task) = tokio::io::split(ours);
    let ended = {
        let reader = read.make_reader();
        tokio::pin!(reader);
        let writer = write.make_writer();
        tokio::pin!(writer);
        let up = async {
            let _ = tokio::io::copy(&mut reader, &mut to_task).await;
            // The client is done: the protocol task reads the end and stops.
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut to_task).await;
        };
        let down = async {
            let _ = tokio::io::copy(&mut from_task, &mut writer).await;
        };
        tokio::select! {
            _ = async { tokio::join!(up, down) } => None,
            reason = transfer.ended() => Some(reason),
        }
    };
    // Dropping the pipe stops the protocol task (it reads the end), which drops the
    // handler and with it the session.
    drop((from_task, to_task));
    if let Some(reason) = ended {
        tracing::info!(user = %transfer.username(), reason = %reason, "sftp session closed by the server");
        let _ = write
            .extended_data_bytes(1, format!("moat: {reason}\r\n").into_bytes())
            .await;
    }
    let _ = write.exit_status(0).await;
    let _ = write.eof().await;
    let _ = write.close().await;
}

/// The protocol side of one SFTP session.
struct Sftp {
    transfer: Arc<Transfer>,
    /// Open files by handle.
    open: HashMap<String, std::fs::File>,
    /// Open directories by handle: the listing still to send (`None`: sent).
    dirs: HashMap<String, Option<Vec<File>>>,
    next: u64,
}

fn denied() -> StatusReply {
    StatusCode::PermissionDenied.with_message("Permission denied")
}

fn ok(id: u32) -> Status {
    Status {
        id,
        status_code: StatusCode::Ok,
        error_message: "Ok".into(),
        language_tag: "en-US".into(),
    }
}

/// A read-only directory's attributes (`dr-x------`).
fn dir_attrs() -> FileAttributes {
    let mut a = FileAttributes {
        permissions: Some(0o500),
        size: Some(0),
        ..FileAttributes::default()
    };
    a.set_dir(true);
    a
}

/// An export's attributes: a read-only regular file (`-r--------`), its time the
/// export's.
fn file_attrs(f: &ExportFile) -> FileAttributes {
    let time = u32::try_from(f.created).unwrap_or(0);
    let mut a = FileAttributes {
        size: Some(f.size),
        permissions: Some(0o400),
        atime: Some(time),
        mtime: Some(time),
        ..FileAttributes::default()
    };
    a.set_regular(true);
    a
}

impl Sftp {
    fn handle(&mut self) -> String {
        self.next += 1;
        format!("h{}", self.next)
    }

    /// Refuse a request on `path` (audited): `action` says whether it reads or changes.
    async fn refuse(&self, action: &str, path: &str, why: &str) -> StatusReply {
        self.transfer.refuse(action, path, why).await;
        denied()
    }

    /// The attributes of `path`, if it is one served to this user.
    async fn attrs_of(&self, path: &str) -> Result<FileAttributes, StatusReply> {
        self.transfer.touch();
        match exports::target(path) {
            Some(Target::Home | Target::Exports) => Ok(dir_attrs()),
            Some(Target::File(name)) => match self.transfer.find(name).await {
                Some(f) => Ok(file_attrs(&f)),
                None => Err(self.refuse(DOWNLOAD, path, "not one of your exports").await),
            },
            None => Err(self.refuse(DOWNLOAD, path, "outside exports/").await),
        }
    }
}

impl Handler for Sftp {
    type Error = StatusReply;

    fn unimplemented(&self) -> Self::Error {
        denied()
    }

    async fn init(
        &mut self,
        _version: u32,
        _extensions: HashMap<String, String>,
    ) -> Result<Version, Self::Error> {
        Ok(Version::new())
    }

    async fn realpath(&mut self, id: u32, path: String) -> Result<Name, Self::Error> {
        self.transfer.touch();
        match exports::target(&path) {
            Some(t) => Ok(Name {
                id,
                files: vec![File::dummy(exports::absolute(t))],
            }),
            None => Err(self.refuse(DOWNLOAD, &path, "outside exports/").await),
        }
    }

    async fn stat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        let attrs = self.attrs_of(&path).await?;
        Ok(Attrs { id, attrs })
    }

    async fn lstat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        let attrs = self.attrs_of(&path).await?;
        Ok(Attrs { id, attrs })
    }

    async fn opendir(&mut self, id: u32, path: String) -> Result<Handle, Self::Error> {
        self.transfer.touch();
        let files = match exports::target(&path) {
            Some(Target::Home) => vec![File::new(exports::DIR, dir_attrs())],
            Some(Target::Exports) => self
                .transfer
                .list()
                .await
                .iter()
                .map(|f| File::new(f.name.clone(), file_attrs(f)))
                .collect(),
            Some(Target::File(_)) | None => {
                return Err(self.refuse(DOWNLOAD, &path, "not a directory served").await)
            }
        };
        if self.dirs.len() >= MAX_OPEN {
            return Err(StatusCode::Failure.with_message("too many open directories"));
        }
        let handle = self.handle();
        self.dirs.insert(handle.clone(), Some(files));
        Ok(Handle { id, handle })
    }

    async fn readdir(&mut self, id: u32, handle: String) -> Result<Name, Self::Error> {
        self.transfer.touch();
        match self.dirs.get_mut(&handle) {
            Some(listing) => match listing.take() {
                Some(files) if !files.is_empty() => Ok(Name { id, files }),
                _ => Err(StatusCode::Eof.into()),
            },
            None => Err(StatusCode::Failure.with_message("no such handle")),
        }
    }

    async fn open(
        &mut self,
        id: u32,
        filename: String,
        pflags: OpenFlags,
        _attrs: FileAttributes,
    ) -> Result<Handle, Self::Error> {
        self.transfer.touch();
        let writes = OpenFlags::WRITE
            | OpenFlags::APPEND
            | OpenFlags::CREATE
            | OpenFlags::TRUNCATE
            | OpenFlags::EXCLUDE;
        if pflags.intersects(writes) || !pflags.contains(OpenFlags::READ) {
            return Err(self
                .refuse(CHANGE, &filename, "exports are read-only")
                .await);
        }
        let name = match exports::target(&filename) {
            Some(Target::File(name)) => name,
            _ => return Err(self.refuse(DOWNLOAD, &filename, "outside exports/").await),
        };
        if self.open.len() >= MAX_OPEN {
            return Err(StatusCode::Failure.with_message("too many open files"));
        }
        match self.transfer.open(name, &filename).await {
            Ok((file, _)) => {
                let handle = self.handle();
                self.open.insert(handle.clone(), file);
                Ok(Handle { id, handle })
            }
            Err(Refused::Denied) => Err(denied()),
            Err(Refused::Failed) => Err(StatusCode::Failure.with_message("cannot read the file")),
        }
    }

    async fn read(
        &mut self,
        id: u32,
        handle: String,
        offset: u64,
        len: u32,
    ) -> Result<Data, Self::Error> {
        self.transfer.touch();
        let Some(file) = self.open.get(&handle) else {
            return Err(StatusCode::Failure.with_message("no such handle"));
        };
        let file = file
            .try_clone()
            .map_err(|_| StatusReply::from(StatusCode::Failure))?;
        let len = len.min(MAX_READ) as usize;
        let read = tokio::task::spawn_blocking(move || {
            use std::os::unix::fs::FileExt;
            let mut buf = vec![0u8; len];
            let mut filled = 0;
            while filled < len {
                match file.read_at(&mut buf[filled..], offset + filled as u64) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            buf.truncate(filled);
            Ok(buf)
        })
        .await;
        match read {
            Ok(Ok(data)) if data.is_empty() => Err(StatusCode::Eof.into()),
            Ok(Ok(data)) => Ok(Data { id, data }),
            _ => Err(StatusCode::Failure.with_message("cannot read the file")),
        }
    }

    async fn fstat(&mut self, id: u32, handle: String) -> Result<Attrs, Self::Error> {
        self.transfer.touch();
        match self.open.get(&handle).map(std::fs::File::metadata) {
            Some(Ok(m)) => {
                let mut attrs = FileAttributes {
                    size: Some(m.len()),
                    permissions: Some(0o400),
                    ..FileAttributes::default()
                };
                attrs.set_regular(true);
                Ok(Attrs { id, attrs })
            }
            _ => Err(StatusCode::Failure.with_message("no such handle")),
        }
    }

    async fn close(&mut self, id: u32, handle: String) -> Result<Status, Self::Error> {
        self.transfer.touch();
        if self.open.remove(&handle).is_some() || self.dirs.remove(&handle).is_some() {
            Ok(ok(id))
        } else {
            Err(StatusCode::Failure.with_message("no such handle"))
        }
    }

    async fn write(
        &mut self,
        _id: u32,
        handle: String,
        _offset: u64,
        _data: Vec<u8>,
    ) -> Result<Status, Self::Error> {
        Err(self
            .refuse(CHANGE, &handle, "write: exports are read-only")
            .await)
    }

    async fn setstat(
        &mut self,
        _id: u32,
        path: String,
        _attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        Err(self
            .refuse(CHANGE, &path, "setstat: exports are read-only")
            .await)
    }

    async fn fsetstat(
        &mut self,
        _id: u32,
        handle: String,
        _attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        Err(self
            .refuse(CHANGE, &handle, "setstat: exports are read-only")
            .await)
    }

    async fn remove(&mut self, _id: u32, filename: String) -> Result<Status, Self::Error> {
        Err(self
            .refuse(CHANGE, &filename, "remove: exports are read-only over SFTP")
            .await)
    }

    async fn mkdir(
        &mut self,
        _id: u32,
        path: String,
        _attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        Err(self
            .refuse(CHANGE, &path, "mkdir: exports are read-only")
            .await)
    }

    async fn rmdir(&mut self, _id: u32, path: String) -> Result<Status, Self::Error> {
        Err(self
            .refuse(CHANGE, &path, "rmdir: exports are read-only")
            .await)
    }

    async fn rename(
        &mut self,
        _id: u32,
        oldpath: String,
        _newpath: String,
    ) -> Result<Status, Self::Error> {
        Err(self
            .refuse(CHANGE, &oldpath, "rename: exports are read-only")
            .await)
    }

    async fn symlink(
        &mut self,
        _id: u32,
        linkpath: String,
        _targetpath: String,
    ) -> Result<Status, Self::Error> {
        Err(self
            .refuse(CHANGE, &linkpath, "symlink: exports are read-only")
            .await)
    }

    async fn readlink(&mut self, _id: u32, path: String) -> Result<Name, Self::Error> {
        Err(self
            .refuse(DOWNLOAD, &path, "readlink: no links here")
            .await)
    }

    async fn extended(
        &mut self,
        _id: u32,
        request: String,
        _data: Vec<u8>,
    ) -> Result<russh_sftp::protocol::Packet, Self::Error> {
        self.transfer.touch();
        // No extension is offered; an unknown one is refused as the protocol asks.
        Err(StatusCode::OpUnsupported.with_message(format!(
            "{} is not supported",
            request.chars().take(64).collect::<String>()
        )))
    }
}
