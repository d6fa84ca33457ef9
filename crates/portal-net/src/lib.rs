//! # portal-net: many UDP datagrams per system call
//!
//! RTP is small datagrams, 50 a second per call each way. A thread that serves thousands of calls (the
//! portal's media thread, the harness's receiving thread) spends most of its time in the kernel, and a large
//! part of that is the per-call cost of `recvfrom`: one call per datagram, and one more to learn that the
//! socket is empty. [`DatagramBatch`] reads up to its capacity in one `recvmmsg` (Linux), with each
//! datagram's source address, into buffers set up once and reused (no allocation per read).

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;

/// The largest datagram kept whole; RTP of 20 ms G.711 is 172 bytes, longer datagrams are cut to this.
pub const MAX_DATAGRAM: usize = 2048;

/// Buffers for up to `capacity` datagrams with their source addresses, and the headers `recvmmsg` fills,
/// set up once and reused from read to read.
pub struct DatagramBatch {
    buffers: Vec<[u8; MAX_DATAGRAM]>,
    sources: Vec<libc::sockaddr_storage>,
    /// One per buffer, pointing at it.
    iovecs: Vec<libc::iovec>,
    /// One per iovec and source, pointing at them.
    headers: Vec<libc::mmsghdr>,
    /// Of the last read: (length, source) of each datagram.
    received: Vec<(usize, Option<SocketAddr>)>,
}

// SAFETY: the raw pointers in `iovecs` and `headers` point only into this value's own heap buffers, which move
// with it; nothing else holds them. Moving the whole value to another thread is as safe as moving the Vecs.
#[allow(unsafe_code)]
unsafe impl Send for DatagramBatch {}

impl DatagramBatch {
    /// Room for `capacity` datagrams per read (at least one).
    #[allow(unsafe_code)]
    pub fn new(capacity: usize) -> DatagramBatch {
        let capacity = capacity.max(1);
        // The vectors are never resized after this, so the pointers between them stay valid.
        let mut buffers = vec![[0u8; MAX_DATAGRAM]; capacity];
        // SAFETY: sockaddr_storage is plain data for which all zeroes is a valid value.
        let mut sources = vec![unsafe { std::mem::zeroed::<libc::sockaddr_storage>() }; capacity];
        let mut iovecs: Vec<libc::iovec> = buffers
            .iter_mut()
            .map(|buffer| libc::iovec {
                iov_base: buffer.as_mut_ptr().cast(),
                iov_len: MAX_DATAGRAM,
            })
            .collect();
        let headers = iovecs
            .iter_mut()
            .zip(sources.iter_mut())
            .map(|(iovec, source)| {
                // SAFETY: msghdr is plain data for which all zeroes is a valid value (no control data).
                let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
                header.msg_name = (source as *mut libc::sockaddr_storage).cast();
                header.msg_namelen = SOCKADDR_STORAGE_LEN;
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
            sources,
            iovecs,
            headers,
            received: Vec::with_capacity(capacity),
        }
    }

    /// How many datagrams one read can take.
    pub fn capacity(&self) -> usize {
        self.buffers.len()
    }

    /// Reads what `socket` holds, up to [`DatagramBatch::capacity`] datagrams, without blocking. `Ok(n)`
    /// with `n` below the capacity means the socket was empty when the read ended (on an edge-triggered
    /// epoll, the next datagram raises a new event); nothing to read is `ErrorKind::WouldBlock`.
    #[allow(unsafe_code)]
    pub fn receive(&mut self, socket: &impl AsRawFd) -> io::Result<usize> {
        self.received.clear();
        debug_assert_eq!(self.iovecs.len(), self.headers.len());
        for header in &mut self.headers {
            // The kernel wrote the last source's length here; give every header the whole room again.
            header.msg_hdr.msg_namelen = SOCKADDR_STORAGE_LEN;
        }
        // SAFETY: every header points at one iovec of `self.iovecs` (each at a buffer of MAX_DATAGRAM bytes of
        // `self.buffers`) and at one sockaddr_storage of `self.sources`, all set up in `new` and never
        // resized; `&mut self` keeps them alive and untouched for the call.
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
        for (header, source) in self.headers[..read].iter().zip(&self.sources) {
            let length = (header.msg_len as usize).min(MAX_DATAGRAM);
            self.received
                .push((length, socket_address(source, header.msg_hdr.msg_namelen)));
        }
        Ok(read)
    }

    /// The datagrams of the last read, in the order they arrived, with their sources (`None` for a source
    /// that is not IPv4 or IPv6).
    pub fn datagrams(&self) -> impl Iterator<Item = (Option<SocketAddr>, &[u8])> {
        self.received
            .iter()
            .zip(&self.buffers)
            .map(|(&(length, source), buffer)| (source, &buffer[..length]))
    }
}

const SOCKADDR_STORAGE_LEN: libc::socklen_t =
    std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;

/// The address the kernel wrote into `storage` (`length` bytes of it).
#[allow(unsafe_code)]
fn socket_address(storage: &libc::sockaddr_storage, length: libc::socklen_t) -> Option<SocketAddr> {
    let length = length as usize;
    match i32::from(storage.ss_family) {
        libc::AF_INET if length >= std::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a sockaddr_in, which it is large and aligned enough for.
            let v4 =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(v4.sin_port),
            )))
        }
        libc::AF_INET6 if length >= std::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            let v6 = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            let ip = Ipv6Addr::from(v6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(v6.sin6_port),
                v6.sin6_flowinfo,
                v6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn reads_what_is_queued_in_batches_with_sources_then_would_block() {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        let first = UdpSocket::bind("127.0.0.1:0").unwrap();
        let second = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = receiver.local_addr().unwrap();
        let mut batch = DatagramBatch::new(2);
        let error = batch.receive(&receiver).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
        first.send_to(b"one", to).unwrap();
        second.send_to(b"two", to).unwrap();
        first.send_to(b"three", to).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(batch.receive(&receiver).unwrap(), 2);
        let got: Vec<_> = batch.datagrams().collect();
        let (a, b) = (first.local_addr().ok(), second.local_addr().ok());
        assert_eq!(got, [(a, b"one".as_slice()), (b, b"two".as_slice())]);
        assert_eq!(batch.receive(&receiver).unwrap(), 1);
        assert_eq!(
            batch.datagrams().collect::<Vec<_>>(),
            [(a, b"three".as_slice())]
        );
        let error = batch.receive(&receiver).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn reads_ipv6_sources() {
        let Ok(receiver) = UdpSocket::bind("[::1]:0") else {
            return; // no IPv6 loopback on this machine: nothing to read from
        };
        let sender = UdpSocket::bind("[::1]:0").unwrap();
        sender
            .send_to(b"six", receiver.local_addr().unwrap())
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let mut batch = DatagramBatch::new(4);
        assert_eq!(batch.receive(&receiver).unwrap(), 1);
        let got: Vec<_> = batch.datagrams().collect();
        assert_eq!(got, [(sender.local_addr().ok(), b"six".as_slice())]);
    }
}
