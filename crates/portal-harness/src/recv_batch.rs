//! Reading several datagrams from a UDP socket in one system call (Linux `recvmmsg`), for the receiving
//! thread that serves every phone of a load: at 2,000 callers it takes in 100,000 packets a second, and one
//! call per packet plus one more to learn that the socket is empty was most of its time.

use std::io;
use std::os::fd::AsRawFd;

/// The largest datagram kept whole; RTP of 20 ms G.711 is 172 bytes, longer datagrams are cut to this.
pub(crate) const MAX_DATAGRAM: usize = 2048;

/// Buffers for up to `capacity` datagrams, and the headers `recvmmsg` fills, set up once and reused from
/// read to read (no allocation per read). It holds pointers into its own heap buffers, so it stays on the
/// thread that made it (it is neither `Send` nor `Sync`).
pub(crate) struct DatagramBatch {
    buffers: Vec<[u8; MAX_DATAGRAM]>,
    /// One per buffer, pointing at it.
    iovecs: Vec<libc::iovec>,
    /// One per iovec, pointing at it.
    headers: Vec<libc::mmsghdr>,
    lengths: Vec<usize>,
}

impl DatagramBatch {
    #[allow(unsafe_code)]
    pub(crate) fn new(capacity: usize) -> DatagramBatch {
        let capacity = capacity.max(1);
        // The vectors are never resized after this, so the pointers between them stay valid.
        let mut buffers = vec![[0u8; MAX_DATAGRAM]; capacity];
        let mut iovecs: Vec<libc::iovec> = buffers
            .iter_mut()
            .map(|buffer| libc::iovec {
                iov_base: buffer.as_mut_ptr().cast(),
                iov_len: MAX_DATAGRAM,
            })
            .collect();
        let headers = iovecs
            .iter_mut()
            .map(|iovec| {
                // SAFETY: msghdr is plain data for which all zeroes is a valid value (no name, no control).
                let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
                header.msg_iov = iovec;
                header.msg_iovlen = 1;
                libc::mmsghdr {
                    msg_hdr: header,
                    msg_len: 0,
                }
            })
            .collect();
        DatagramBatch {
            buffers,
            iovecs,
            headers,
            lengths: Vec::with_capacity(capacity),
        }
    }

    /// How many datagrams one read can take.
    pub(crate) fn capacity(&self) -> usize {
        self.buffers.len()
    }

    /// Reads what `socket` holds, up to [`DatagramBatch::capacity`] datagrams, without blocking. `Ok(n)`
    /// with `n` below the capacity means the socket was empty when the read ended; nothing to read is
    /// `ErrorKind::WouldBlock`.
    #[allow(unsafe_code)]
    pub(crate) fn receive(&mut self, socket: &impl AsRawFd) -> io::Result<usize> {
        self.lengths.clear();
        debug_assert_eq!(self.iovecs.len(), self.headers.len());
        // SAFETY: every header points at one iovec of `self.iovecs`, each at a buffer of MAX_DATAGRAM bytes
        // of `self.buffers` (set up in `new`, never resized); `&mut self` keeps them alive and untouched
        // for the call.
        let read = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                self.headers.as_mut_ptr(),
                self.headers.len() as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if read < 0 {
            return Err(io::Error::last_os_error());
        }
        let read = read as usize;
        self.lengths.extend(
            self.headers[..read]
                .iter()
                .map(|header| (header.msg_len as usize).min(MAX_DATAGRAM)),
        );
        Ok(read)
    }

    /// The datagrams of the last read, in the order they arrived.
    pub(crate) fn datagrams(&self) -> impl Iterator<Item = &[u8]> {
        self.lengths
            .iter()
            .zip(&self.buffers)
            .map(|(&length, buffer)| &buffer[..length])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn reads_what_is_queued_in_batches_then_would_block() {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut batch = DatagramBatch::new(2);
        let error = batch.receive(&receiver).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
        for text in ["one", "two", "three"] {
            sender
                .send_to(text.as_bytes(), receiver.local_addr().unwrap())
                .unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(batch.receive(&receiver).unwrap(), 2);
        let got: Vec<&[u8]> = batch.datagrams().collect();
        assert_eq!(got, [b"one".as_slice(), b"two"]);
        assert_eq!(batch.receive(&receiver).unwrap(), 1);
        assert_eq!(batch.datagrams().collect::<Vec<_>>(), [b"three".as_slice()]);
        let error = batch.receive(&receiver).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
    }
}
