//! Images on web servers and object stores: `http://`, `https://` and `s3://` URLs read with
//! HTTP range requests, only the bytes a read needs (the `remote` feature).
//!
//! * [`RemoteLocation`] — what a URL names: the HTTP(S) address to ask, from an `s3://` URL
//!   too (the `location` module says how), presigned when there are credentials (`aws`:
//!   where credentials and region come from; `credentials`: fetching and refreshing
//!   temporary ones, from a `credential_process`, a container endpoint, STS or the EC2
//!   instance metadata service; `sigv4`: the signatures).
//! * [`RemoteObject`] — one object on a server: its size and fingerprint (ETag,
//!   Last-Modified) from the first request, ranged GETs with timeouts and retries, and the
//!   errors a user can act on (404 is `NotFound`, 403 `PermissionDenied`, a changed object
//!   `Stale`).
//! * [`RemoteSource`] — a [`Source`](crate::io::Source) over a remote object: a block cache
//!   with a size cap, missing blocks fetched in coalesced ranges, several ranges of one read
//!   fetched at once, blocks in flight waited for rather than asked twice, prefetches
//!   ([`Source::prefetch`](crate::io::Source::prefetch), announced by read plans and gzip
//!   member reads) fetched in the background, and read-ahead windows for reads that follow
//!   one another (a gzip first pass).
//!
//! * `RemoteSession` — the objects one load reads (a pair's two files, a sidecar), each
//!   opened once and shared by the header readers and the proxy.
//!
//! A `.nii.gz` at a URL is a [`GzipSource`](crate::io::GzipSource) over a `RemoteSource`,
//! made at the first read of data: the header streams from the first request's bytes, and
//! the object's last 16 KiB (trailer and member index) are asked for beside it, so a
//! header-only load is one round trip (two requests, 64 KiB); a file written by neurovox then
//! reads only the members a read needs, a volume in one more round trip; another tool's file
//! uses a
//! persisted index (`URL.nvgzidx` next to it, or the local index cache) or one sequential
//! pass that builds the index as it goes.
//!
//! # Why `ureq`
//!
//! The reads of a [`Source`](crate::io::Source) are synchronous calls on any thread. `ureq` is
//! a small synchronous HTTP/1.1 client (rustls for TLS, no async runtime), so a read is a call
//! on the reading thread and several ranges of one read are fetched on scoped threads.
//! `object_store` speaks S3, GCS and Azure with signing, but brings tokio and reqwest, and
//! every read would block on a runtime; S3 here is its HTTPS API, which for public buckets
//! (OpenNeuro's) needs no signature, and for private ones takes presigned GETs (SigV4, the
//! `sigv4` module), with the credentials and region the AWS CLI would use (the `aws`
//! module).

mod aws;
mod credentials;
mod location;
mod object;
mod session;
mod sigv4;
mod source;

pub use crate::io::fingerprint::RemoteFingerprint;
pub use location::RemoteLocation;
pub use object::{RemoteObject, RemoteOptions};
pub(crate) use session::RemoteSession;
pub use source::RemoteSource;
