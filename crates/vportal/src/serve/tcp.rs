//! SIP over TCP: one task per connection that reads into the signalling task and writes what it is given, and
//! the file-descriptor budget that caps connections before calls could fail for want of a descriptor.

use std::net::SocketAddr;

use portal_sip::endpoint::ConnectionId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// What a connection task reports.
pub(crate) enum TcpEvent {
    Data(ConnectionId, SocketAddr, Vec<u8>),
    Closed(ConnectionId),
}

/// Serves one connection until the peer closes it, a read or write fails, or the signalling task drops the
/// sending half of `writes` (after queuing what it still had to say): then the socket is closed.
pub(crate) async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    id: ConnectionId,
    events: mpsc::UnboundedSender<TcpEvent>,
    mut writes: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    let (mut reader, mut writer) = stream.into_split();
    let mut buffer = vec![0u8; 16_384];
    loop {
        tokio::select! {
            read = reader.read(&mut buffer) => match read {
                Ok(0) | Err(_) => break,
                Ok(len) => {
                    if events.send(TcpEvent::Data(id, peer, buffer[..len].to_vec())).is_err() {
                        break;
                    }
                }
            },
            write = writes.recv() => match write {
                Some(bytes) => {
                    if writer.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                // Closed by the portal (idle, refused, unframeable): what was queued is written.
                None => {
                    let _ = writer.shutdown().await;
                    break;
                }
            },
        }
    }
    let _ = events.send(TcpEvent::Closed(id));
}

/// Descriptors kept free for RTP sockets, the store and log files, whatever TCP does: a quarter of the limit,
/// and at least this many.
const MIN_RESERVED_DESCRIPTORS: u64 = 64;

/// Raises this process's open-file limit to its hard limit (what an operator allowed) and returns how many
/// stream connections fit beside the reserve; `None` when the limit cannot be read.
pub(crate) fn connection_budget() -> Option<usize> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed, which lives on this stack.
    #[allow(unsafe_code)]
    let soft = unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = limit.rlim_max;
            }
        }
        limit.rlim_cur
    };
    let reserve = (soft / 4).max(MIN_RESERVED_DESCRIPTORS);
    Some(usize::try_from(soft.saturating_sub(reserve)).unwrap_or(usize::MAX))
}
